/* Orders (RFC 8555 7.4, state machine in 7.1.6): newOrder, finalize with
 * a CSR, and the certificate download with alternates. The authorizations
 * are in authz.c. */
#include "acme/order.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/b64.h"
#include "crypto/x509.h"
#include "base/clock.h"
#include "crypto/csr.h"
#include "protocol/identifier.h"
#include "net/json.h"
#include "base/mem.h"
#include "protocol/authz.h"
#include "protocol/order_internal.h"
#include "protocol/order_parse.h"
#include "net/problem_json.h"
#include "protocol/poll.h"
#include "protocol/provider.h"

/* How long authorize and finalize each wait for the CA, unless the host
 * says otherwise: ample for a validation, yet a stuck CA does not hold
 * the host forever. */
#define DEFAULT_TIMEOUT_S 300
/* A finalize is usually done within milliseconds, so the first look at a
 * processing order comes soon; the backoff or Retry-After takes over. */
#define ORDER_FIRST_POLL_MS 10

/* Room for an RFC 3339 UTC time ("2025-01-02T03:04:05Z") and its NUL, with
 * spare for a year past 9999. */
#define RFC3339_LEN 32

/* ---- creation and settings ------------------------------------------ */

int acme_order_new(acme_order **out, acme_account *account)
{
    if (!out)
        return acme__fail(NULL, ACME_ERR_INVALID, "order: NULL output");
    *out = NULL;
    if (!account || !acme_account_url(account))
        return acme__fail(NULL, ACME_ERR_INVALID, "order: an account with a URL is required");
    acme_order *o = calloc(1, sizeof(*o));
    if (!o)
        return acme__fail(NULL, ACME_ERR_NOMEM, "order: out of memory");
    o->provider = acme__provider_ref(acme_account_provider(account));
    o->account_key = acme__key_ref(acme_account_key(account));
    o->kid = acme__strdup(acme_account_url(account));
    o->status = acme__strdup("");
    o->timeout_s = DEFAULT_TIMEOUT_S;
    int rc = o->kid && o->status ? acme_key_thumbprint(o->account_key, &o->thumbprint)
                                 : ACME_ERR_NOMEM;
    if (rc != ACME_OK) {
        acme_order_free(o);
        return acme__fail(NULL, rc, "order: cannot set up (%s)", acme_strerror(rc));
    }
    *out = o;
    return ACME_OK;
}

static void chains_clear(acme_order *o)
{
    for (size_t i = 0; i < o->nchains; i++) {
        free(o->chains[i].pem);
        free(o->chains[i].issuer);
    }
    o->nchains = 0;
    o->chosen = 0;
}

void acme_order_free(acme_order *o)
{
    if (!o)
        return;
    acme_provider_free(o->provider);
    acme_key_free(o->account_key);
    acme_key_free(o->cert_key);
    free(o->kid);
    acme_free(o->thumbprint);
    acme__free_strv(o->id_types, o->nids);
    acme__free_strv(o->id_values, o->nids);
    free(o->profile);
    free(o->replaces);
    acme__buf_free(&o->csr_der);
    free(o->preferred_chain);
    free(o->url);
    free(o->status);
    free(o->finalize_url);
    free(o->cert_url);
    for (size_t i = 0; i < o->nauthz; i++)
        acme__authz_clear(&o->authz[i]);
    free(o->authz);
    chains_clear(o);
    acme__err_clear(&o->err);
    free(o);
}

int acme__order_check_state(acme_order *o, acme__order_state needed, const char *what)
{
    if (o->state == ACME__ORDER_FAILED)
        return acme__fail(&o->err, ACME_ERR_STATE,
                          "%s: order %s is invalid at the CA; place a new order", what, o->url);
    if (o->state < needed)
        return acme__fail(&o->err, ACME_ERR_STATE, "%s: %s first", what,
                          needed == ACME__ORDER_FINALIZED ? "finalize the order"
                                                          : "submit the order");
    return ACME_OK;
}

void acme__order_advance(acme_order *o, acme__order_state state)
{
    if (state > o->state)
        o->state = state;
}

/* Settings only make sense before newOrder is sent. */
static int check_unsubmitted(acme_order *o, const char *what)
{
    if (!o)
        return acme__fail(NULL, ACME_ERR_INVALID, "order: NULL handle");
    if (o->state != ACME__ORDER_NEW)
        return acme__fail(&o->err, ACME_ERR_STATE, "%s: the order was already submitted", what);
    return ACME_OK;
}

/* Forget what a failed submit learnt from the CA, so that the order is
 * new again and the next submit starts afresh. */
static void order_reset(acme_order *o)
{
    for (size_t i = 0; i < o->nauthz; i++)
        acme__authz_clear(&o->authz[i]);
    free(o->authz);
    o->authz = NULL;
    o->nauthz = 0;
    free(o->url);
    free(o->finalize_url);
    free(o->cert_url);
    o->url = o->finalize_url = o->cert_url = NULL;
    o->status[0] = '\0'; /* allocated at creation, so never NULL */
    o->state = ACME__ORDER_NEW;
}

static int add_identifier(acme_order *o, const char *type, const char *value)
{
    int rc = check_unsubmitted(o, "adding an identifier");
    if (rc != ACME_OK)
        return rc;
    char *t, *v;
    rc = acme__identifier_normalize(type, value, &t, &v, &o->err);
    if (rc != ACME_OK)
        return rc;
    for (size_t i = 0; i < o->nids; i++) {
        if (strcmp(o->id_types[i], t) == 0 && strcmp(o->id_values[i], v) == 0) {
            free(t);
            free(v);
            return ACME_OK; /* already there */
        }
    }
    char **types = realloc(o->id_types, (o->nids + 1) * sizeof(char *));
    if (types)
        o->id_types = types;
    char **values = types ? realloc(o->id_values, (o->nids + 1) * sizeof(char *)) : NULL;
    if (values)
        o->id_values = values;
    if (!types || !values) {
        free(t);
        free(v);
        return acme__fail(&o->err, ACME_ERR_NOMEM, "out of memory");
    }
    o->id_types[o->nids] = t;
    o->id_values[o->nids] = v;
    o->nids++;
    return ACME_OK;
}

int acme_order_add_dns(acme_order *o, const char *name)
{
    return add_identifier(o, "dns", name);
}

int acme_order_add_ip(acme_order *o, const char *address)
{
    return add_identifier(o, "ip", address);
}

int acme_order_add_identifier(acme_order *o, const char *value)
{
    return add_identifier(o, NULL, value);
}

int acme_order_set_validity(acme_order *o, int64_t not_before, int64_t not_after)
{
    int rc = check_unsubmitted(o, "setting the validity");
    if (rc != ACME_OK)
        return rc;
    if (not_before < 0 || not_after < 0 || (not_before && not_after && not_after <= not_before))
        return acme__fail(&o->err, ACME_ERR_INVALID, "validity: notAfter must follow notBefore");
    o->not_before = not_before;
    o->not_after = not_after;
    return ACME_OK;
}

static int set_string(acme_order *o, char **slot, const char *value, const char *what)
{
    int rc = check_unsubmitted(o, what);
    if (rc != ACME_OK)
        return rc;
    char *copy = acme__strdup(value);
    if (value && !copy)
        return acme__fail(&o->err, ACME_ERR_NOMEM, "out of memory");
    free(*slot);
    *slot = copy;
    return ACME_OK;
}

int acme_order_set_profile(acme_order *o, const char *profile)
{
    int rc = set_string(o, o ? &o->profile : NULL, profile, "setting the profile");
    if (rc == ACME_OK)
        o->profile_preferred = 0;
    return rc;
}

int acme_order_set_profile_preferred(acme_order *o, const char *profile)
{
    int rc = set_string(o, o ? &o->profile : NULL, profile, "setting the profile");
    if (rc == ACME_OK)
        o->profile_preferred = 1;
    return rc;
}

int acme_order_set_replaces(acme_order *o, const char *cert_id)
{
    if (cert_id && !strchr(cert_id, '.'))
        return acme__fail(o ? &o->err : NULL, ACME_ERR_INVALID,
                          "replaces: \"%s\" is not an ARI certificate ID (keyid.serial)", cert_id);
    return set_string(o, o ? &o->replaces : NULL, cert_id, "setting replaces");
}

int acme_order_set_preferred_chain(acme_order *o, const char *issuer_cn)
{
    if (!o)
        return acme__fail(NULL, ACME_ERR_INVALID, "order: NULL handle");
    char *copy = acme__strdup(issuer_cn);
    if (issuer_cn && !copy)
        return acme__fail(&o->err, ACME_ERR_NOMEM, "out of memory");
    free(o->preferred_chain);
    o->preferred_chain = copy;
    return ACME_OK;
}

int acme_order_set_timeout(acme_order *o, unsigned int seconds)
{
    if (!o)
        return acme__fail(NULL, ACME_ERR_INVALID, "order: NULL handle");
    o->timeout_s = seconds ? seconds : DEFAULT_TIMEOUT_S;
    return ACME_OK;
}

int acme_order_set_deactivate_on_failure(acme_order *o, int on)
{
    if (!o)
        return acme__fail(NULL, ACME_ERR_INVALID, "order: NULL handle");
    o->deactivate_on_failure = on != 0;
    return ACME_OK;
}

int acme_order_set_csr(acme_order *o, const char *csr_pem)
{
    int rc = check_unsubmitted(o, "setting the CSR");
    if (rc != ACME_OK)
        return rc;
    if (!csr_pem)
        return acme__fail(&o->err, ACME_ERR_INVALID, "CSR: NULL");
    acme__buf der = ACME__BUF_INIT;
    char **types = NULL, **values = NULL;
    size_t n = 0;
    rc = acme__csr_parse(csr_pem, &der, &types, &values, &n, &o->err);
    if (rc != ACME_OK)
        return rc;
    if (n == 0) {
        rc = acme__fail(&o->err, ACME_ERR_IDENTIFIER, "CSR: it names no identifier");
    } else if (o->nids == 0) {
        for (size_t i = 0; i < n && rc == ACME_OK; i++)
            rc = add_identifier(o, types[i], values[i]);
    } else {
        /* The CA would reject a CSR that differs from the order: say so now. */
        int same = n == o->nids;
        for (size_t i = 0; same && i < n; i++) {
            int found = 0;
            for (size_t j = 0; j < o->nids && !found; j++)
                found = strcmp(types[i], o->id_types[j]) == 0 &&
                        strcmp(values[i], o->id_values[j]) == 0;
            same = found;
        }
        if (!same)
            rc = acme__fail(&o->err, ACME_ERR_IDENTIFIER,
                            "CSR: its names differ from the order's identifiers");
    }
    acme__free_strv(types, n);
    acme__free_strv(values, n);
    if (rc == ACME_OK) {
        acme__buf_free(&o->csr_der);
        o->csr_der = der;
    } else {
        acme__buf_free(&der);
    }
    return rc;
}

/* ---- replies ---------------------------------------------------------- */

int acme__order_set_str(char **slot, const char *v)
{
    if (!v)
        return ACME_OK;
    char *copy = acme__strdup(v);
    if (!copy)
        return ACME_ERR_NOMEM;
    free(*slot);
    *slot = copy;
    return ACME_OK;
}

int acme__order_parse(yajl_val v, const char *url, char **status_slot, char **finalize_url,
                      char **cert_url, acme_problem **problem_out, acme__err *err)
{
    *problem_out = NULL;
    const char *status = acme__json_string(v, "status");
    if (!status)
        return acme__fail(err, ACME_ERR_PROTOCOL, "order %s: no status", url);
    if (acme__order_set_str(status_slot, status) ||
        acme__order_set_str(finalize_url, acme__json_string(v, "finalize")) ||
        acme__order_set_str(cert_url, acme__json_string(v, "certificate")))
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    yajl_val e = acme__json_object(v, "error");
    if (e)
        *problem_out = acme__problem_from_json(e, 0);
    return ACME_OK;
}

/* Take status, finalize and certificate from an order object. A problem in
 * "error" (an invalid order) is returned through problem_out. */
static int order_update(acme_order *o, yajl_val v, acme_problem **problem_out)
{
    return acme__order_parse(v, o->url, &o->status, &o->finalize_url, &o->cert_url, problem_out,
                             &o->err);
}

/* Fail with an invalid order's problem; the order is done for. */
static int order_invalid(acme_order *o, acme_problem *problem)
{
    acme__order_advance(o, ACME__ORDER_FAILED);
    if (!problem)
        return acme__fail(&o->err, ACME_ERR_VALIDATION, "order %s is invalid", o->url);
    char desc[ACME__PROBLEM_DESC_LEN];
    acme__problem_describe(problem, desc, sizeof(desc));
    int rc = acme__fail_problem(&o->err, ACME_ERR_VALIDATION, problem, "order %s is invalid: %s",
                                o->url, desc);
    acme__problem_unref(problem);
    return rc;
}

int acme__order_post_json(acme_order *o, const char *url, const char *payload, const char *what,
                          yajl_val *out, acme__response *res_out)
{
    acme__response res;
    *out = NULL;
    int rc = acme__provider_post(o->provider, o->account_key, o->kid, url, payload, NULL, &res,
                                 &o->err);
    if (rc == ACME_OK)
        rc = acme__provider_json(&res, what, out, &o->err);
    if (res_out && rc == ACME_OK)
        *res_out = res;
    else
        acme__response_free(&res);
    return rc;
}

int64_t acme__order_deadline(const acme_order *o)
{
    return acme__mono_ms() + (int64_t)o->timeout_s * 1000;
}

/* ---- submit ----------------------------------------------------------- */

static void put_time(acme__buf *b, const char *name, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char text[RFC3339_LEN];
    gmtime_r(&tt, &tm);
    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    acme__buf_printf(b, ",\"%s\":\"%s\"", name, text);
}

int acme_order_submit(acme_order *o)
{
    int rc = check_unsubmitted(o, "submitting");
    if (rc != ACME_OK)
        return rc;
    if (o->nids == 0)
        return acme__fail(&o->err, ACME_ERR_INVALID, "order: no identifiers");
    /* Decided from the directory alone, before the CA sees a request. */
    int send_profile = o->profile != NULL;
    if (o->profile && !acme_provider_has_profile(o->provider, o->profile)) {
        if (!o->profile_preferred)
            return acme__fail(&o->err, ACME_ERR_UNSUPPORTED,
                              "order: the CA offers no profile \"%s\"", o->profile);
        acme__log(o->provider, ACME_LOG_WARN,
                  "order: the CA offers no profile \"%s\"; ordering without one (the CA "
                  "chooses)", o->profile);
        send_profile = 0;
    }

    acme__buf payload = ACME__BUF_INIT;
    acme__buf_puts(&payload, "{\"identifiers\":[");
    for (size_t i = 0; i < o->nids; i++) {
        acme__buf_puts(&payload, i ? ",{\"type\":" : "{\"type\":");
        acme__json_put_string(&payload, o->id_types[i]);
        acme__buf_puts(&payload, ",\"value\":");
        acme__json_put_string(&payload, o->id_values[i]);
        acme__buf_putc(&payload, '}');
    }
    acme__buf_putc(&payload, ']');
    if (o->not_before)
        put_time(&payload, "notBefore", o->not_before);
    if (o->not_after)
        put_time(&payload, "notAfter", o->not_after);
    if (send_profile) {
        acme__buf_puts(&payload, ",\"profile\":");
        acme__json_put_string(&payload, o->profile);
    }
    /* RFC 9773 4.2: "replaces" only goes to CAs that implement ARI. */
    if (o->replaces && acme_provider_endpoint(o->provider, "renewalInfo")) {
        acme__buf_puts(&payload, ",\"replaces\":");
        acme__json_put_string(&payload, o->replaces);
    }
    acme__buf_putc(&payload, '}');
    if (acme__buf_status(&payload) != ACME_OK) {
        acme__buf_free(&payload);
        return acme__fail(&o->err, ACME_ERR_NOMEM, "out of memory");
    }

    acme__response res;
    rc = acme__provider_post(o->provider, o->account_key, o->kid,
                             acme_provider_endpoint(o->provider, "newOrder"), payload.data, NULL,
                             &res, &o->err);
    acme__buf_free(&payload);
    yajl_val v = NULL;
    if (rc == ACME_OK && !res.location)
        rc = acme__fail(&o->err, ACME_ERR_PROTOCOL, "newOrder reply has no Location header");
    if (rc == ACME_OK && acme__order_set_str(&o->url, res.location))
        rc = acme__fail(&o->err, ACME_ERR_NOMEM, "out of memory");
    if (rc == ACME_OK)
        rc = acme__provider_json(&res, "order", &v, &o->err);
    acme__response_free(&res);
    acme_problem *problem = NULL;
    if (rc == ACME_OK)
        rc = order_update(o, v, &problem);
    yajl_val list = acme__json_array(v, "authorizations");
    size_t n = acme__json_len(list);
    if (rc == ACME_OK && (n == 0 || !o->finalize_url))
        rc = acme__fail(&o->err, ACME_ERR_PROTOCOL,
                        "order %s: no authorizations or no finalize URL", o->url);
    /* Checked now, before any solver acts, not only when it is POSTed. */
    if (rc == ACME_OK &&
        !acme__http_same_origin(acme_provider_directory_url(o->provider), o->finalize_url))
        rc = acme__fail(&o->err, ACME_ERR_PROTOCOL,
                        "order %s: finalize URL %s is not on the CA's origin", o->url,
                        o->finalize_url);
    if (rc == ACME_OK && !(o->authz = calloc(n, sizeof(*o->authz))))
        rc = acme__fail(&o->err, ACME_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == ACME_OK && i < n; i++) {
        const char *url = acme__json_as_string(acme__json_at(list, i));
        if (!url)
            rc = acme__fail(&o->err, ACME_ERR_PROTOCOL, "order %s: an authorization is not a URL",
                            o->url);
        else if (!(o->authz[o->nauthz++].url = acme__strdup(url)))
            rc = acme__fail(&o->err, ACME_ERR_NOMEM, "out of memory");
    }
    acme__json_free(v);
    if (rc == ACME_OK && strcmp(o->status, "invalid") == 0)
        return order_invalid(o, problem);
    acme__problem_unref(problem);
    for (size_t i = 0; rc == ACME_OK && i < o->nauthz; i++)
        rc = acme__authz_fetch(o, &o->authz[i], NULL);
    if (rc != ACME_OK) {
        /* All or nothing: an order with some authorizations unread would
         * send the later steps after fields that were never set. */
        order_reset(o);
        acme__err_prefix(&o->err, "placing the order");
        return rc;
    }
    o->state = ACME__ORDER_SUBMITTED;
    acme__log(o->provider, ACME_LOG_INFO, "order %s: %s, %zu authorization%s", o->url, o->status,
              o->nauthz, o->nauthz == 1 ? "" : "s");
    return ACME_OK;
}

/* ---- finalize and download ---------------------------------------------- */

/* Poll the order until it leaves "processing". */
static int order_wait(acme_order *o, acme__response *first, int64_t deadline)
{
    int64_t backoff = ORDER_FIRST_POLL_MS;
    int64_t delay = acme__poll_delay(first, backoff, deadline);
    while (strcmp(o->status, "processing") == 0) {
        if (acme__mono_ms() >= deadline)
            return acme__fail(&o->err, ACME_ERR_TIMEOUT,
                              "order %s still processing after %u s", o->url, o->timeout_s);
        acme__sleep_ms(delay);
        yajl_val v;
        acme__response res;
        int rc = acme__order_post_json(o, o->url, NULL, "order", &v, &res);
        if (rc != ACME_OK)
            return rc;
        acme_problem *problem;
        rc = order_update(o, v, &problem);
        acme__json_free(v);
        if (rc == ACME_OK && strcmp(o->status, "invalid") == 0) {
            acme__response_free(&res);
            return order_invalid(o, problem);
        }
        acme__problem_unref(problem);
        backoff = acme__poll_backoff(backoff);
        delay = acme__poll_delay(&res, backoff, deadline);
        acme__response_free(&res);
        if (rc != ACME_OK)
            return rc;
    }
    return ACME_OK;
}

/* What finalize will need from its caller, checked by issue before any
 * request is sent. */
static int check_cert_key(acme_order *o, acme_key *cert_key, const char *what)
{
    if (!cert_key && !o->csr_der.len)
        return acme__fail(&o->err, ACME_ERR_INVALID, "%s: a certificate key or a CSR is required",
                          what);
    if (cert_key && acme__key_matches(cert_key, &o->account_key->pk))
        return acme__fail(&o->err, ACME_ERR_INVALID,
                          "%s: the certificate key must not be the account key", what);
    return ACME_OK;
}

int acme_order_finalize(acme_order *o, acme_key *cert_key)
{
    if (!o)
        return acme__fail(NULL, ACME_ERR_INVALID, "order: NULL handle");
    int rc = acme__order_check_state(o, ACME__ORDER_SUBMITTED, "finalize");
    if (rc == ACME_OK)
        rc = check_cert_key(o, cert_key, "finalize");
    if (rc != ACME_OK)
        return rc;
    if (cert_key) {
        acme_key_free(o->cert_key);
        o->cert_key = acme__key_ref(cert_key);
    }
    if (strcmp(o->status, "valid") == 0) {
        if (o->cert_url)
            acme__order_advance(o, ACME__ORDER_FINALIZED);
        return ACME_OK;
    }

    acme__buf der = ACME__BUF_INIT;
    if (o->csr_der.len)
        acme__buf_append(&der, o->csr_der.data, o->csr_der.len);
    else
        rc = acme__csr_build(cert_key, (const char *const *)o->id_types,
                             (const char *const *)o->id_values, o->nids, &der, &o->err);
    acme__buf payload = ACME__BUF_INIT;
    acme__buf_puts(&payload, "{\"csr\":\"");
    acme__b64url_append(&payload, der.data, der.len);
    acme__buf_puts(&payload, "\"}");
    acme__buf_free(&der);
    if (rc == ACME_OK && acme__buf_status(&payload) != ACME_OK)
        rc = acme__fail(&o->err, ACME_ERR_NOMEM, "out of memory");

    int64_t deadline = acme__order_deadline(o);
    yajl_val v = NULL;
    acme__response res;
    memset(&res, 0, sizeof(res));
    if (rc == ACME_OK)
        rc = acme__order_post_json(o, o->finalize_url, payload.data, "order", &v, &res);
    acme__buf_free(&payload);
    acme_problem *problem = NULL;
    if (rc == ACME_OK)
        rc = order_update(o, v, &problem);
    acme__json_free(v);
    if (rc == ACME_OK && strcmp(o->status, "invalid") == 0) {
        acme__response_free(&res);
        return order_invalid(o, problem);
    }
    acme__problem_unref(problem);
    if (rc == ACME_OK)
        rc = order_wait(o, &res, deadline);
    acme__response_free(&res);
    if (rc == ACME_OK && (strcmp(o->status, "valid") != 0 || !o->cert_url))
        rc = acme__fail(&o->err, ACME_ERR_PROTOCOL,
                        "order %s: finalized but \"%s\" without a certificate URL", o->url,
                        o->status);
    if (rc != ACME_OK) {
        acme__err_prefix(&o->err, "finalizing");
        return rc;
    }
    acme__order_advance(o, ACME__ORDER_FINALIZED);
    acme__log(o->provider, ACME_LOG_INFO, "order %s: valid, certificate %s", o->url, o->cert_url);
    return ACME_OK;
}

/* Download one chain and check it; key may be NULL (host-supplied CSR). */
static int fetch_chain(acme_order *o, const char *url, acme_key *key, acme__chain *out,
                       acme__response *res)
{
    int rc = acme__provider_post(o->provider, o->account_key, o->kid, url, NULL,
                                 "application/pem-certificate-chain", res, &o->err);
    if (rc != ACME_OK)
        return rc;
    if (!res->content_type || strcmp(res->content_type, "application/pem-certificate-chain") != 0)
        return acme__fail(&o->err, ACME_ERR_PROTOCOL,
                          "certificate %s: expected application/pem-certificate-chain, got %s",
                          url, res->content_type ? res->content_type : "no Content-Type");
    acme__chain_info info;
    rc = acme__chain_inspect(res->body.data, res->body.len, key, &info, &o->err);
    if (rc != ACME_OK)
        return rc;
    /* The leaf must cover every identifier of the order. */
    for (size_t i = 0; rc == ACME_OK && i < o->nids; i++) {
        int found = 0;
        for (size_t j = 0; j < info.nsans && !found; j++)
            found = strcmp(info.san_types[j], o->id_types[i]) == 0 &&
                    strcasecmp(info.san_values[j], o->id_values[i]) == 0;
        if (!found)
            rc = acme__fail(&o->err, ACME_ERR_CERTIFICATE,
                            "certificate %s does not name %s", url, o->id_values[i]);
    }
    if (rc == ACME_OK) {
        out->pem = acme__strndup(res->body.data, res->body.len);
        out->issuer = acme__strdup(info.top_issuer_cn);
        if (!out->pem || (info.top_issuer_cn && !out->issuer))
            rc = acme__fail(&o->err, ACME_ERR_NOMEM, "out of memory");
    }
    acme__chain_info_free(&info);
    return rc;
}

int acme_order_download(acme_order *o)
{
    if (!o)
        return acme__fail(NULL, ACME_ERR_INVALID, "order: NULL handle");
    int rc = acme__order_check_state(o, ACME__ORDER_FINALIZED, "download");
    if (rc != ACME_OK)
        return rc;
    chains_clear(o);
    acme__response res;
    rc = fetch_chain(o, o->cert_url, o->cert_key, &o->chains[0], &res);
    if (rc == ACME_OK)
        o->nchains = 1;
    /* Alternates cost a request each: fetched only when a choice is asked for. */
    for (size_t i = 0; rc == ACME_OK && o->preferred_chain && o->nchains < ACME__MAX_CHAINS; i++) {
        const char *alt = acme__response_link(&res, "alternate", i);
        if (!alt)
            break;
        acme__response alt_res;
        rc = fetch_chain(o, alt, o->cert_key, &o->chains[o->nchains], &alt_res);
        acme__response_free(&alt_res);
        if (rc == ACME_OK)
            o->nchains++;
    }
    acme__response_free(&res);
    if (rc != ACME_OK) {
        chains_clear(o);
        acme__err_prefix(&o->err, "downloading the certificate");
        return rc;
    }
    o->chosen = 0;
    for (size_t i = 0; o->preferred_chain && i < o->nchains; i++) {
        if (o->chains[i].issuer && strcmp(o->chains[i].issuer, o->preferred_chain) == 0) {
            o->chosen = i;
            break;
        }
    }
    acme__log(o->provider, ACME_LOG_INFO, "certificate downloaded: chain %zu of %zu (issuer %s)",
              o->chosen + 1, o->nchains,
              o->chains[o->chosen].issuer ? o->chains[o->chosen].issuer : "unknown");
    acme__order_advance(o, ACME__ORDER_DOWNLOADED);
    return ACME_OK;
}

int acme_order_issue(acme_order *o, const acme_solvers *solvers, acme_key *cert_key)
{
    if (!o || !solvers)
        return acme__fail(o ? &o->err : NULL, ACME_ERR_INVALID,
                          "issue: order and solvers are required");
    /* Refused here, before any request, rather than at finalize after the
     * CA has validated every challenge. */
    int rc = check_cert_key(o, cert_key, "issue");
    if (rc == ACME_OK && o->state == ACME__ORDER_FAILED)
        rc = acme__order_check_state(o, ACME__ORDER_NEW, "issue");
    /* Each step not yet done, so that a failed issue can be called again. */
    if (rc == ACME_OK && o->state < ACME__ORDER_SUBMITTED)
        rc = acme_order_submit(o);
    if (rc == ACME_OK && o->state < ACME__ORDER_AUTHORIZED)
        rc = acme_order_authorize(o, solvers);
    if (rc == ACME_OK && o->state < ACME__ORDER_FINALIZED)
        rc = acme_order_finalize(o, cert_key);
    if (rc == ACME_OK)
        rc = acme_order_download(o);
    return rc;
}

/* ---- getters ------------------------------------------------------------ */

const char *acme_order_url(const acme_order *o)
{
    return o ? o->url : NULL;
}

const char *acme_order_status(const acme_order *o)
{
    return o ? o->status : NULL;
}

size_t acme_order_identifier_count(const acme_order *o)
{
    return o ? o->nids : 0;
}

const char *acme_order_identifier_type(const acme_order *o, size_t i)
{
    return o && i < o->nids ? o->id_types[i] : NULL;
}

const char *acme_order_identifier_value(const acme_order *o, size_t i)
{
    return o && i < o->nids ? o->id_values[i] : NULL;
}

size_t acme_order_authorization_count(const acme_order *o)
{
    return o ? o->nauthz : 0;
}

const char *acme_order_authorization_url(const acme_order *o, size_t i)
{
    return o && i < o->nauthz ? o->authz[i].url : NULL;
}

const char *acme_order_authorization_status(const acme_order *o, size_t i)
{
    return o && i < o->nauthz ? o->authz[i].status : NULL;
}

const char *acme_order_authorization_challenge(const acme_order *o, size_t i)
{
    return o && i < o->nauthz ? o->authz[i].solved_by : NULL;
}

const char *acme_order_certificate_url(const acme_order *o)
{
    return o ? o->cert_url : NULL;
}

const char *acme_order_certificate_pem(const acme_order *o)
{
    return o && o->nchains ? o->chains[o->chosen].pem : NULL;
}

size_t acme_order_chain_count(const acme_order *o)
{
    return o ? o->nchains : 0;
}

const char *acme_order_chain_pem(const acme_order *o, size_t i)
{
    return o && i < o->nchains ? o->chains[i].pem : NULL;
}

const char *acme_order_chain_issuer(const acme_order *o, size_t i)
{
    return o && i < o->nchains ? o->chains[i].issuer : NULL;
}

const char *acme_order_last_error(const acme_order *o)
{
    return o ? o->err.msg : "";
}

const acme_problem *acme_order_last_problem(const acme_order *o)
{
    return o ? o->err.problem : NULL;
}
