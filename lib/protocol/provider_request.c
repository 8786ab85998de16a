/* ACME requests: the nonce pool, signed POST / POST-as-GET, unsigned GET,
 * bounded retries (badNonce, 429 and 5xx with Retry-After), and turning
 * error replies into problem documents. A request with its retries ends
 * within the provider's timeout: a retry gets what is left of it, and one
 * whose wait would pass it is not made. */
#include "protocol/provider.h"

#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "base/clock.h"
#include "crypto/jws.h"
#include "net/json.h"
#include "base/mem.h"
#include "net/problem_json.h"

/* Backoff for 5xx replies without Retry-After: short, since a CA's
 * hiccup is usually brief and the retry count is bounded anyway. */
#define FIRST_BACKOFF_MS 250

/* ---- nonce pool ---------------------------------------------------- */

static void nonce_put(acme_provider *p, const char *nonce)
{
    /* RFC 8555 6.5.1: a nonce is base64url; anything else is ignored. */
    if (!acme__b64url_valid(nonce))
        return;
    char *copy = acme__strdup(nonce);
    if (!copy)
        return;
    pthread_mutex_lock(&p->nonce_lock);
    if (p->nnonces == ACME__NONCE_POOL) {
        free(p->nonces[0]);
        memmove(p->nonces, p->nonces + 1, (ACME__NONCE_POOL - 1) * sizeof(p->nonces[0]));
        p->nnonces--;
    }
    p->nonces[p->nnonces++] = copy;
    pthread_mutex_unlock(&p->nonce_lock);
}

/* The newest pooled nonce (most likely still valid), or NULL. */
static char *nonce_take_pooled(acme_provider *p)
{
    char *n = NULL;
    pthread_mutex_lock(&p->nonce_lock);
    if (p->nnonces > 0)
        n = p->nonces[--p->nnonces];
    pthread_mutex_unlock(&p->nonce_lock);
    return n;
}

static int nonce_take(acme_provider *p, char **out, acme__err *err)
{
    if ((*out = nonce_take_pooled(p)))
        return ACME_OK;
    const char *url = acme_provider_endpoint(p, "newNonce");
    acme__response res;
    int rc = acme__provider_get(p, url, 1, &res, err);
    if (rc == ACME_OK) {
        /* acme__provider_get pooled the reply's nonce. */
        if (!(*out = nonce_take_pooled(p)))
            rc = acme__fail(err, ACME_ERR_PROTOCOL, "%s: no valid Replay-Nonce in the reply",
                            url);
    }
    acme__response_free(&res);
    return rc;
}

/* ---- replies --------------------------------------------------------- */

static int is_json_type(const char *ct, const char *want)
{
    return ct && strcmp(ct, want) == 0;
}

int acme__provider_json(const acme__response *res, const char *what, yajl_val *out,
                        acme__err *err)
{
    *out = NULL;
    if (!is_json_type(res->content_type, "application/json"))
        return acme__fail(err, ACME_ERR_PROTOCOL,
                          "%s: expected application/json, got %s", what,
                          res->content_type ? res->content_type : "no Content-Type");
    return acme__json_parse_object(res->body.data, res->body.len, what, out, err);
}

/* Turn a non-2xx reply into an error; attaches the problem document when
 * there is one. Returns the error code. */
static int reply_error(const char *method, const char *url, acme__response *res,
                       acme_problem **problem_out, acme__err *err)
{
    *problem_out = NULL;
    yajl_val v = NULL;
    acme__err ignore = ACME__ERR_QUIET;
    if ((is_json_type(res->content_type, "application/problem+json") ||
         is_json_type(res->content_type, "application/json")) &&
        acme__json_parse_object(res->body.data, res->body.len, "problem", &v, &ignore) ==
            ACME_OK)
        *problem_out = acme__problem_from_json(v, (int)res->status);
    acme__json_free(v);
    /* A rate limit's Retry-After is remembered across runs (lifecycle). */
    int64_t delay_s;
    if (*problem_out && res->retry_after &&
        acme__http_parse_retry_after(res->retry_after, acme__now(), &delay_s) == ACME_OK)
        acme__problem_set_retry_after(*problem_out, delay_s);
    acme__err_clear(&ignore);
    if (!*problem_out)
        return acme__fail(err, ACME_ERR_HTTP, "%s %s: HTTP %ld without a problem document",
                          method, url, res->status);
    char desc[ACME__PROBLEM_DESC_LEN];
    acme__problem_describe(*problem_out, desc, sizeof(desc));
    return acme__fail_problem(err, ACME_ERR_PROBLEM, *problem_out, "%s %s: HTTP %ld: %s",
                              method, url, res->status, desc);
}

/* The wait before retrying a failed reply, or -1 for "do not retry";
 * attempt counts from 0. */
static int64_t base_delay_ms(const acme_provider *p, const acme__response *res,
                             unsigned int attempt)
{
    if (attempt >= p->max_retries)
        return -1;
    int transient = res->status == 429 || res->status == 500 || res->status == 502 ||
                    res->status == 503 || res->status == 504;
    if (!transient)
        return -1;
    int64_t delay_s;
    if (res->retry_after &&
        acme__http_parse_retry_after(res->retry_after, acme__now(), &delay_s) == ACME_OK) {
        if (delay_s > (int64_t)p->max_retry_after_s)
            return -1;
        return delay_s * 1000;
    }
    /* A rate limit without a date to retry at is not retried blindly. */
    if (res->status == 429)
        return -1;
    return (int64_t)FIRST_BACKOFF_MS << attempt;
}

/* How long to wait before retrying a failed reply, or -1 for "do not
 * retry". attempt counts from 0; the wait must end before deadline_ms. */
static int64_t retry_delay_ms(const acme_provider *p, const acme__response *res,
                              unsigned int attempt, int64_t deadline_ms)
{
    int64_t delay = base_delay_ms(p, res, attempt);
    return delay >= 0 && acme__mono_ms() + delay < deadline_ms ? delay : -1;
}


/* Every resource of a CA lives on its directory's origin: a reply that
 * points elsewhere (another host, port or scheme) would have the library
 * send signed requests to a third party, so it is refused. */
static int check_origin(const acme_provider *p, const char *url, acme__err *err)
{
    if (url && acme__http_same_origin(p->directory_url, url))
        return ACME_OK;
    return acme__fail(err, ACME_ERR_PROTOCOL,
                      "refusing %s: not on the CA's origin (%s)", url ? url : "a missing URL",
                      p->directory_url);
}

int acme__provider_get(acme_provider *p, const char *url, int head, acme__response *res,
                       acme__err *err)
{
    const char *method = head ? "HEAD" : "GET";
    memset(res, 0, sizeof(*res));
    if (check_origin(p, url, err) != ACME_OK)
        return ACME_ERR_PROTOCOL;
    int64_t deadline = acme__mono_ms() + acme__http_timeout_ms(p->http);
    for (unsigned int attempt = 0;; attempt++) {
        int rc = acme__http_request(p->http, method, url, NULL, 0, NULL, NULL,
                                    attempt ? deadline : 0, res, err);
        if (rc != ACME_OK)
            return rc;
        acme__log(p, ACME_LOG_DEBUG, "%s %s -> %ld", method, url, res->status);
        if (res->nonce)
            nonce_put(p, res->nonce);
        if (res->status >= 200 && res->status < 300)
            return ACME_OK;
        int64_t delay = retry_delay_ms(p, res, attempt, deadline);
        if (delay < 0) {
            acme_problem *problem;
            rc = reply_error(method, url, res, &problem, err);
            acme__problem_unref(problem);
            return rc;
        }
        acme__log(p, ACME_LOG_WARN, "%s %s: HTTP %ld, retrying in %lld ms", method, url,
                  res->status, (long long)delay);
        acme__response_free(res);
        acme__sleep_ms(delay);
    }
}

int acme__provider_post(acme_provider *p, acme_key *key, const char *kid, const char *url,
                        const char *payload, const char *accept, acme__response *res,
                        acme__err *err)
{
    memset(res, 0, sizeof(*res));
    if (check_origin(p, url, err) != ACME_OK)
        return ACME_ERR_PROTOCOL;
    unsigned int bad_nonces = 0, retries = 0;
    int64_t deadline = acme__mono_ms() + acme__http_timeout_ms(p->http);
    for (int first = 1;; first = 0) {
        char *nonce = NULL;
        int rc = nonce_take(p, &nonce, err);
        if (rc != ACME_OK)
            return rc;
        acme__buf jws = ACME__BUF_INIT;
        rc = acme__jws_sign(key, kid, nonce, url, payload, &jws, err);
        free(nonce);
        if (rc == ACME_OK)
            rc = acme__http_request(p->http, "POST", url, jws.data, jws.len,
                                    "application/jose+json", accept, first ? 0 : deadline, res,
                                    err);
        acme__buf_free(&jws);
        if (rc != ACME_OK)
            return rc;
        acme__log(p, ACME_LOG_DEBUG, "POST %s%s -> %ld", url, payload ? "" : " (as GET)",
                  res->status);
        if (res->nonce)
            nonce_put(p, res->nonce);
        if (res->status >= 200 && res->status < 300) {
            /* A Location (new account, new order) becomes a request target
             * and the account's kid: it must be on the origin too. */
            if (res->location && check_origin(p, res->location, err) != ACME_OK) {
                acme__response_free(res);
                return ACME_ERR_PROTOCOL;
            }
            return ACME_OK;
        }

        acme_problem *problem;
        rc = reply_error("POST", url, res, &problem, err);
        int retry = 0;
        int64_t delay = 0;
        if (acme_problem_is(problem, "badNonce") && bad_nonces < p->max_bad_nonce_retries) {
            bad_nonces++;
            retry = 1;
        } else if ((delay = retry_delay_ms(p, res, retries, deadline)) >= 0) {
            retries++;
            retry = 1;
        }
        acme__problem_unref(problem);
        if (!retry)
            return rc;
        acme__log(p, ACME_LOG_DEBUG, "POST %s: %s, retrying", url, acme__err_msg(err));
        acme__response_free(res);
        acme__sleep_ms(delay);
    }
}
