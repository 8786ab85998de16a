/* Authorizations (RFC 8555 7.5): reading them, letting the host's solvers
 * present one challenge each, telling the CA to validate, and polling until
 * each is valid or not. */
#include "protocol/authz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/mem.h"
#include "net/problem_json.h"
#include "net/json.h"
#include "protocol/order_internal.h"
#include "protocol/order_parse.h"
#include "protocol/poll.h"
#include "solvers/solver.h"

/* The CA's VA tends to answer within milliseconds of the challenge POST,
 * so the first look comes soon; the backoff takes over from there. */
#define AUTHZ_FIRST_POLL_MS 15

/* Room for the list of offered challenge types in an error message. */
#define OFFERED_TYPES_LEN 256

/* A challenge that a solver presented: cleaned up whatever happens. */
typedef struct presented {
    acme_challenge *ch;
    const acme__solver *solver;
    acme__authz *az;
} presented;

void acme__authz_clear(acme__authz *a)
{
    free(a->url);
    free(a->status);
    free(a->ident_type);
    free(a->ident_value);
    free(a->solved_by);
    acme__json_free(a->json);
}

int acme__authz_parse(yajl_val v, const char *url, char **status_slot, char **ident_type,
                      char **ident_value, int *wildcard, acme__err *err)
{
    yajl_val id = acme__json_object(v, "identifier");
    const char *status = acme__json_string(v, "status");
    const char *type = acme__json_string(id, "type");
    const char *value = acme__json_string(id, "value");
    if (!status || !type || !value)
        return acme__fail(err, ACME_ERR_PROTOCOL,
                          "authorization %s: status or identifier missing", url);
    if (acme__order_set_str(status_slot, status) || acme__order_set_str(ident_type, type) ||
        acme__order_set_str(ident_value, value))
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    *wildcard = acme__json_bool(v, "wildcard", 0);
    return ACME_OK;
}

static int authz_parse(acme_order *o, acme__authz *a, yajl_val v)
{
    int rc = acme__authz_parse(v, a->url, &a->status, &a->ident_type, &a->ident_value,
                               &a->wildcard, &o->err);
    if (rc != ACME_OK)
        return rc;
    acme__json_free(a->json);
    a->json = v;
    return ACME_OK;
}

int acme__authz_fetch(acme_order *o, acme__authz *a, acme__response *res_out)
{
    yajl_val v;
    int rc = acme__order_post_json(o, a->url, NULL, "authorization", &v, res_out);
    if (rc != ACME_OK)
        return rc;
    rc = authz_parse(o, a, v);
    if (rc != ACME_OK) {
        acme__json_free(v);
        if (res_out)
            acme__response_free(res_out);
    }
    return rc;
}

/* The CA's problem for an invalid authorization: the error of the
 * challenge that failed (RFC 8555 7.1.4), if any. */
static acme_problem *authz_problem(const acme__authz *a, const char **type_out)
{
    yajl_val list = acme__json_array(a->json, "challenges");
    for (size_t i = 0; i < acme__json_len(list); i++) {
        yajl_val ch = acme__json_at(list, i);
        yajl_val err = acme__json_object(ch, "error");
        if (err) {
            *type_out = acme__json_string(ch, "type");
            return acme__problem_from_json(err, 0);
        }
    }
    *type_out = NULL;
    return NULL;
}

static int authz_failed(acme_order *o, const acme__authz *a)
{
    const char *type;
    acme_problem *problem = authz_problem(a, &type);
    /* An authorization that is not valid makes the order invalid (RFC 8555
     * 7.1.6): nothing later can succeed on it. */
    acme__order_advance(o, ACME__ORDER_FAILED);
    char desc[ACME__PROBLEM_DESC_LEN] = "no reason given";
    if (problem)
        acme__problem_describe(problem, desc, sizeof(desc));
    int rc = acme__fail_problem(&o->err, ACME_ERR_VALIDATION, problem,
                                "authorization for %s%s is %s: %s%s%s", a->wildcard ? "*." : "",
                                a->ident_value, a->status, type ? type : "", type ? ": " : "",
                                desc);
    acme__problem_unref(problem);
    return rc;
}

static const char *offered_types(const acme__authz *a, char *out, size_t size)
{
    acme__buf b = ACME__BUF_INIT;
    yajl_val list = acme__json_array(a->json, "challenges");
    for (size_t i = 0; i < acme__json_len(list); i++) {
        const char *t = acme__json_string(acme__json_at(list, i), "type");
        acme__buf_printf(&b, "%s%s", i ? ", " : "", t ? t : "?");
    }
    snprintf(out, size, "%s", b.len ? acme__buf_str(&b) : "none");
    acme__buf_free(&b);
    return out;
}

/* Let the solvers, in the host's order of preference, present one of the
 * authorization's challenges. */
static int authz_present(acme_order *o, acme__authz *a, const acme_solvers *solvers,
                         presented *out)
{
    yajl_val list = acme__json_array(a->json, "challenges");
    for (size_t s = 0; s < solvers->n; s++) {
        const acme__solver *solver = &solvers->v[s];
        for (size_t i = 0; i < acme__json_len(list); i++) {
            yajl_val cj = acme__json_at(list, i);
            const char *type = acme__json_string(cj, "type");
            if (!type || strcmp(type, solver->type) != 0)
                continue;
            /* Refused before a solver acts on it, not only when POSTed. */
            const char *curl = acme__json_string(cj, "url");
            if (curl && !acme__http_same_origin(acme_provider_directory_url(o->provider), curl))
                return acme__fail(&o->err, ACME_ERR_PROTOCOL,
                                  "authorization %s: challenge URL %s is not on the CA's origin",
                                  a->url, curl);
            acme_challenge *ch;
            int rc = acme__challenge_new(&ch, cj, a->url, a->ident_type, a->ident_value,
                                         a->wildcard, o->thumbprint, o->kid, &o->err);
            if (rc != ACME_OK)
                return rc;
            acme__err why = ACME__ERR_QUIET;
            rc = acme__solver_present(solver, ch, &why);
            if (rc == ACME_ERR_DECLINED) {
                acme__log(o->provider, ACME_LOG_INFO, "%s: solver for %s declined",
                          a->ident_value, type);
                acme__challenge_free(ch);
                acme__err_clear(&why);
                break; /* next solver */
            }
            if (rc != ACME_OK) {
                acme__challenge_free(ch);
                /* A built-in solver says why; a host's gives its code. */
                rc = acme__fail(&o->err, ACME_ERR_CALLBACK,
                                "%s: the %s solver failed to present the challenge (%s)",
                                a->ident_value, type,
                                why.code ? acme__err_msg(&why) : acme_strerror(rc));
                acme__err_clear(&why);
                return rc;
            }
            acme__log(o->provider, ACME_LOG_INFO, "authorization %s%s: presented %s",
                      a->wildcard ? "*." : "", a->ident_value, type);
            *out = (presented){ ch, solver, a };
            return ACME_OK;
        }
    }
    char types[OFFERED_TYPES_LEN];
    return acme__fail(&o->err, ACME_ERR_NO_SOLVER,
                      "authorization for %s%s: no solver accepted any offered challenge (%s)",
                      a->wildcard ? "*." : "", a->ident_value, offered_types(a, types, sizeof(types)));
}

/* Still with the CA: neither valid nor failed yet. */
static int in_progress(const acme__authz *a)
{
    return strcmp(a->status, "pending") == 0 || strcmp(a->status, "processing") == 0;
}

/* Poll the presented authorizations until none is pending, the first time
 * after first_ms. */
static int authz_wait_all(acme_order *o, presented *p, size_t n, int64_t first_ms,
                          int64_t deadline)
{
    size_t waiting = 0;
    for (size_t i = 0; i < n; i++)
        waiting += in_progress(p[i].az);
    if (!waiting)
        return ACME_OK; /* the challenge replies said valid */
    int64_t backoff = AUTHZ_FIRST_POLL_MS;
    int64_t delay = first_ms;
    /* The last reply of a round, for its Retry-After; freeing it is safe
     * whether or not a fetch filled it. */
    acme__response last;
    memset(&last, 0, sizeof(last));
    for (;;) {
        acme__sleep_ms(delay);
        size_t pending = 0;
        int rc = ACME_OK;
        for (size_t i = 0; rc == ACME_OK && i < n; i++) {
            acme__authz *a = p[i].az;
            if (!in_progress(a))
                continue;
            acme__response_free(&last);
            rc = acme__authz_fetch(o, a, &last);
            if (rc != ACME_OK)
                break;
            if (strcmp(a->status, "valid") == 0)
                acme__log(o->provider, ACME_LOG_INFO, "authorization %s%s: valid",
                          a->wildcard ? "*." : "", a->ident_value);
            else if (!in_progress(a))
                rc = authz_failed(o, a);
            else
                pending++;
        }
        if (rc == ACME_OK && pending && acme__mono_ms() >= deadline)
            rc = acme__fail(&o->err, ACME_ERR_TIMEOUT,
                            "validation: %zu authorization%s still pending after %u s", pending,
                            pending == 1 ? "" : "s", o->timeout_s);
        if (rc != ACME_OK || !pending) {
            acme__response_free(&last);
            return rc;
        }
        backoff = acme__poll_backoff(backoff);
        delay = acme__poll_delay(&last, backoff, deadline);
    }
}

static void deactivate_pending(acme_order *o)
{
    for (size_t i = 0; i < o->nauthz; i++) {
        acme__authz *a = &o->authz[i];
        if (!a->status || strcmp(a->status, "pending") != 0)
            continue;
        yajl_val v;
        acme__err ignore = ACME__ERR_QUIET;
        acme__response res;
        if (acme__provider_post(o->provider, o->account_key, o->kid, a->url,
                                "{\"status\":\"deactivated\"}", NULL, &res, &ignore) == ACME_OK &&
            acme__provider_json(&res, "authorization", &v, &ignore) == ACME_OK) {
            acme__order_set_str(&a->status, acme__json_string(v, "status"));
            acme__json_free(v);
        }
        acme__response_free(&res);
        acme__err_clear(&ignore);
        acme__log(o->provider, ACME_LOG_INFO, "authorization %s: deactivated", a->url);
    }
}

int acme_order_authorize(acme_order *o, const acme_solvers *solvers)
{
    if (!o || !solvers)
        return acme__fail(o ? &o->err : NULL, ACME_ERR_INVALID,
                          "authorize: order and solvers are required");
    int rc = acme__order_check_state(o, ACME__ORDER_SUBMITTED, "authorize");
    if (rc != ACME_OK)
        return rc;
    if (strcmp(o->status, "pending") != 0) {
        /* ready, processing or valid: nothing to authorize */
        acme__order_advance(o, ACME__ORDER_AUTHORIZED);
        return ACME_OK;
    }

    int64_t deadline = acme__order_deadline(o);
    presented *pres = calloc(o->nauthz, sizeof(*pres));
    if (!pres)
        return acme__fail(&o->err, ACME_ERR_NOMEM, "out of memory");
    size_t npres = 0;
    for (size_t i = 0; rc == ACME_OK && i < o->nauthz; i++) {
        acme__authz *a = &o->authz[i];
        if (strcmp(a->status, "valid") == 0) {
            acme__order_set_str(&a->solved_by, "");
            continue; /* reused authorization */
        }
        if (strcmp(a->status, "pending") != 0) {
            rc = authz_failed(o, a);
            break;
        }
        rc = authz_present(o, a, solvers, &pres[npres]);
        if (rc == ACME_OK)
            npres++;
    }
    /* The host's chance to wait for its answers to be visible (DNS). */
    for (size_t i = 0; rc == ACME_OK && i < npres; i++) {
        if (acme__solver_waits(pres[i].solver))
            rc = acme__solver_wait(pres[i].solver, pres[i].ch, &o->err);
    }
    /* Tell the CA to validate: the payload is {} (RFC 8555 7.5.1) unless a
     * solver set its own for a type that wants one.
     * The reply may settle it: "valid" (a CA that validated at once) needs
     * no poll, "invalid" has the authorization fetched at once for the
     * reason, and a Retry-After says when to look first. */
    int64_t first_poll = 0;
    int invalid_now = 0;
    for (size_t i = 0; rc == ACME_OK && i < npres; i++) {
        yajl_val v;
        acme__response res;
        acme__authz *a = pres[i].az;
        rc = acme__order_post_json(o, pres[i].ch->url, acme_challenge_response(pres[i].ch),
                                   "challenge", &v, &res);
        if (rc == ACME_OK) {
            const char *status = acme__json_string(v, "status");
            if (status && strcmp(status, "valid") == 0) {
                if (acme__order_set_str(&a->status, "valid"))
                    rc = acme__fail(&o->err, ACME_ERR_NOMEM, "out of memory");
                acme__log(o->provider, ACME_LOG_INFO, "authorization %s%s: valid",
                          a->wildcard ? "*." : "", a->ident_value);
            } else if (status && strcmp(status, "invalid") == 0) {
                invalid_now = 1;
            } else {
                int64_t d = acme__poll_delay(&res, AUTHZ_FIRST_POLL_MS, deadline);
                first_poll = d > first_poll ? d : first_poll;
            }
            acme__response_free(&res);
        }
        acme__json_free(v);
        if (rc == ACME_OK)
            rc = acme__order_set_str(&a->solved_by, pres[i].ch->type)
                     ? acme__fail(&o->err, ACME_ERR_NOMEM, "out of memory")
                     : ACME_OK;
    }
    if (rc == ACME_OK && npres)
        rc = authz_wait_all(o, pres, npres, invalid_now ? 0 : first_poll, deadline);
    for (size_t i = 0; i < npres; i++) {
        acme__challenge_settle(pres[i].ch, pres[i].az->status);
        if (pres[i].solver->cleanup)
            pres[i].solver->cleanup(pres[i].ch, pres[i].solver->userdata);
        acme__challenge_free(pres[i].ch);
    }
    free(pres);
    if (rc != ACME_OK) {
        if (o->deactivate_on_failure)
            deactivate_pending(o);
        return rc;
    }
    /* Every authorization is valid, so the order is ready (7.1.6); no
     * request is spent confirming it: finalize would say otherwise. */
    acme__order_set_str(&o->status, "ready");
    acme__order_advance(o, ACME__ORDER_AUTHORIZED);
    return ACME_OK;
}
