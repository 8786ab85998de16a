/* Orders (RFC 8555 7.4, state machine in 7.1.6): newOrder, the
 * authorizations and their challenges through the host's solvers,
 * finalize with a CSR, and the certificate download with alternates. */
#include "acme/order.h"

#include <stdlib.h>
#include <stdio.h>
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
#include "protocol/order_parse.h"
#include "net/problem_json.h"
#include "protocol/provider.h"
#include "solvers/solver.h"

#define DEFAULT_TIMEOUT_S 300
/* Polls start soon and back off gently (x1.5) to a ceiling, unless the CA
 * says when with Retry-After, which always wins. Measured with bench/ on
 * Pebble (PEBBLE_VA_NOSLEEP=1, busy 2-core machine): its VA answers 2-25 ms
 * after the challenge POST and a finalize is done within ~3 ms, so a first
 * look after 15 ms (authorization) or 10 ms (order) is almost always the
 * only one; a CA that takes seconds is polled about 10 times in its first
 * 3 s, then every 2 s. (Pebble 2.4 itself can wedge when an order poll meets
 * its CompleteOrder under heavy parallel load, letsencrypt/pebble issue 554;
 * bench/ has seen it at --parallel 32 on 2 cores.) */
#define AUTHZ_FIRST_POLL_MS 15
#define ORDER_FIRST_POLL_MS 10
#define MAX_POLL_MS 2000
/* At most this many alternate chains are fetched. */
#define MAX_CHAINS 8

typedef struct authz {
    char *url;
    char *status;
    char *ident_type;
    char *ident_value;
    int wildcard;
    char *solved_by; /* challenge type used; "" when it was already valid */
    yajl_val json;
} authz;

/* A challenge that a solver presented: cleaned up whatever happens. */
typedef struct presented {
    acme_challenge *ch;
    const acme__solver *solver;
    authz *az;
} presented;

typedef struct chain {
    char *pem;
    char *issuer; /* issuer CN of the topmost certificate */
} chain;

struct acme_order {
    acme_provider *provider;
    acme_key *account_key;
    char *kid;
    char *thumbprint;
    char **id_types;
    char **id_values;
    size_t nids;
    int64_t not_before;
    int64_t not_after;
    char *profile;
    char *replaces;
    acme__buf csr_der;
    char *preferred_chain;
    unsigned int timeout_s;
    int deactivate_on_failure;

    char *url;
    char *status;
    char *finalize_url;
    char *cert_url;
    authz *authz;
    size_t nauthz;
    acme_key *cert_key; /* from finalize, to check the downloaded leaf */
    chain chains[MAX_CHAINS];
    size_t nchains;
    size_t chosen;
    acme__err err;
};

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

static void authz_clear(authz *a)
{
    free(a->url);
    free(a->status);
    free(a->ident_type);
    free(a->ident_value);
    free(a->solved_by);
    acme__json_free(a->json);
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
        authz_clear(&o->authz[i]);
    free(o->authz);
    chains_clear(o);
    acme__err_clear(&o->err);
    free(o);
}

/* Settings only make sense before newOrder is sent. */
static int check_unsubmitted(acme_order *o, const char *what)
{
    if (!o)
        return acme__fail(NULL, ACME_ERR_INVALID, "order: NULL handle");
    if (o->url)
        return acme__fail(&o->err, ACME_ERR_STATE, "%s: the order was already submitted", what);
    return ACME_OK;
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
    return set_string(o, o ? &o->profile : NULL, profile, "setting the profile");
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

static int set_str(char **slot, const char *v)
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
    if (set_str(status_slot, status) || set_str(finalize_url, acme__json_string(v, "finalize")) ||
        set_str(cert_url, acme__json_string(v, "certificate")))
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

/* Fail with an invalid order's problem. */
static int order_invalid(acme_order *o, acme_problem *problem)
{
    if (!problem)
        return acme__fail(&o->err, ACME_ERR_VALIDATION, "order %s is invalid", o->url);
    char desc[400];
    acme__problem_describe(problem, desc, sizeof(desc));
    int rc = acme__fail_problem(&o->err, ACME_ERR_VALIDATION, problem, "order %s is invalid: %s",
                                o->url, desc);
    acme__problem_unref(problem);
    return rc;
}

/* POST (payload, or POST-as-GET) to url and parse the JSON reply. */
static int post_json(acme_order *o, const char *url, const char *payload, const char *what,
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

static int64_t next_backoff(int64_t backoff_ms)
{
    int64_t next = backoff_ms + backoff_ms / 2;
    return next > MAX_POLL_MS ? MAX_POLL_MS : next;
}

/* Milliseconds to wait before the next poll: the CA's Retry-After when it
 * gave one, else the backoff; never past the deadline. */
static int64_t poll_delay(const acme__response *res, int64_t backoff_ms, int64_t deadline_ms)
{
    int64_t delay = backoff_ms, s;
    if (res && res->retry_after &&
        acme__http_parse_retry_after(res->retry_after, acme__now(), &s) == ACME_OK)
        delay = (s < 86400 ? s : 86400) * 1000; /* capped: no overflow; the deadline cuts anyway */
    int64_t left = deadline_ms - acme__mono_ms();
    return delay < left ? delay : left;
}

/* ---- submit ----------------------------------------------------------- */

static void put_time(acme__buf *b, const char *name, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char text[32];
    gmtime_r(&tt, &tm);
    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    acme__buf_printf(b, ",\"%s\":\"%s\"", name, text);
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
    if (set_str(status_slot, status) || set_str(ident_type, type) || set_str(ident_value, value))
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    *wildcard = acme__json_bool(v, "wildcard", 0);
    return ACME_OK;
}

static int authz_parse(acme_order *o, authz *a, yajl_val v)
{
    int rc = acme__authz_parse(v, a->url, &a->status, &a->ident_type, &a->ident_value,
                               &a->wildcard, &o->err);
    if (rc != ACME_OK)
        return rc;
    acme__json_free(a->json);
    a->json = v;
    return ACME_OK;
}

static int authz_fetch(acme_order *o, authz *a, acme__response *res_out)
{
    yajl_val v;
    int rc = post_json(o, a->url, NULL, "authorization", &v, res_out);
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

int acme_order_submit(acme_order *o)
{
    int rc = check_unsubmitted(o, "submitting");
    if (rc != ACME_OK)
        return rc;
    if (o->nids == 0)
        return acme__fail(&o->err, ACME_ERR_INVALID, "order: no identifiers");
    if (o->profile && !acme_provider_has_profile(o->provider, o->profile))
        return acme__fail(&o->err, ACME_ERR_UNSUPPORTED,
                          "order: the CA offers no profile \"%s\"", o->profile);

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
    if (o->profile) {
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
    if (rc == ACME_OK && set_str(&o->url, res.location))
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
        rc = authz_fetch(o, &o->authz[i], NULL);
    if (rc != ACME_OK) {
        acme__err_prefix(&o->err, "placing the order");
        return rc;
    }
    acme__log(o->provider, ACME_LOG_INFO, "order %s: %s, %zu authorization%s", o->url, o->status,
              o->nauthz, o->nauthz == 1 ? "" : "s");
    return ACME_OK;
}

/* ---- authorize -------------------------------------------------------- */

/* The CA's problem for an invalid authorization: the error of the
 * challenge that failed (RFC 8555 7.1.4), if any. */
static acme_problem *authz_problem(const authz *a, const char **type_out)
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

static int authz_failed(acme_order *o, const authz *a)
{
    const char *type;
    acme_problem *problem = authz_problem(a, &type);
    char desc[400] = "no reason given";
    if (problem)
        acme__problem_describe(problem, desc, sizeof(desc));
    int rc = acme__fail_problem(&o->err, ACME_ERR_VALIDATION, problem,
                                "authorization for %s%s is %s: %s%s%s", a->wildcard ? "*." : "",
                                a->ident_value, a->status, type ? type : "", type ? ": " : "",
                                desc);
    acme__problem_unref(problem);
    return rc;
}

static const char *offered_types(const authz *a, char *out, size_t size)
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
static int authz_present(acme_order *o, authz *a, const acme_solvers *solvers,
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
                                         a->wildcard, o->thumbprint, &o->err);
            if (rc != ACME_OK)
                return rc;
            rc = solver->present(ch, solver->userdata);
            if (rc == ACME_ERR_DECLINED) {
                acme__log(o->provider, ACME_LOG_INFO, "%s: solver for %s declined",
                          a->ident_value, type);
                acme__challenge_free(ch);
                break; /* next solver */
            }
            if (rc != ACME_OK) {
                acme__challenge_free(ch);
                return acme__fail(&o->err, ACME_ERR_CALLBACK,
                                  "%s: the %s solver failed to present the challenge (%s)",
                                  a->ident_value, type, acme_strerror(rc));
            }
            acme__log(o->provider, ACME_LOG_INFO, "authorization %s%s: presented %s",
                      a->wildcard ? "*." : "", a->ident_value, type);
            *out = (presented){ ch, solver, a };
            return ACME_OK;
        }
    }
    char types[256];
    return acme__fail(&o->err, ACME_ERR_NO_SOLVER,
                      "authorization for %s%s: no solver accepted any offered challenge (%s)",
                      a->wildcard ? "*." : "", a->ident_value, offered_types(a, types, sizeof(types)));
}

/* Poll the presented authorizations until none is pending, the first time
 * after first_ms. */
static int authz_wait_all(acme_order *o, presented *p, size_t n, int64_t first_ms,
                          int64_t deadline)
{
    size_t waiting = 0;
    for (size_t i = 0; i < n; i++)
        waiting += strcmp(p[i].az->status, "pending") == 0 ||
                   strcmp(p[i].az->status, "processing") == 0;
    if (!waiting)
        return ACME_OK; /* the challenge replies said valid */
    int64_t backoff = AUTHZ_FIRST_POLL_MS;
    int64_t delay = first_ms;
    for (;;) {
        acme__sleep_ms(delay);
        size_t pending = 0;
        acme__response last;
        memset(&last, 0, sizeof(last));
        int have_last = 0;
        for (size_t i = 0; i < n; i++) {
            authz *a = p[i].az;
            if (strcmp(a->status, "pending") != 0 && strcmp(a->status, "processing") != 0)
                continue;
            if (have_last)
                acme__response_free(&last);
            int rc = authz_fetch(o, a, &last);
            if (rc != ACME_OK)
                return rc;
            have_last = 1;
            if (strcmp(a->status, "valid") == 0) {
                acme__log(o->provider, ACME_LOG_INFO, "authorization %s%s: valid",
                          a->wildcard ? "*." : "", a->ident_value);
                continue;
            }
            if (strcmp(a->status, "pending") != 0 && strcmp(a->status, "processing") != 0) {
                if (have_last)
                    acme__response_free(&last);
                return authz_failed(o, a);
            }
            pending++;
        }
        if (!pending) {
            if (have_last)
                acme__response_free(&last);
            return ACME_OK;
        }
        if (acme__mono_ms() >= deadline) {
            if (have_last)
                acme__response_free(&last);
            return acme__fail(&o->err, ACME_ERR_TIMEOUT,
                              "validation: %zu authorization%s still pending after %u s", pending,
                              pending == 1 ? "" : "s", o->timeout_s);
        }
        backoff = next_backoff(backoff);
        delay = poll_delay(have_last ? &last : NULL, backoff, deadline);
        if (have_last)
            acme__response_free(&last);
    }
}

static void deactivate_pending(acme_order *o)
{
    for (size_t i = 0; i < o->nauthz; i++) {
        authz *a = &o->authz[i];
        if (!a->status || strcmp(a->status, "pending") != 0)
            continue;
        yajl_val v;
        acme__err ignore = ACME__ERR_QUIET;
        acme__response res;
        if (acme__provider_post(o->provider, o->account_key, o->kid, a->url,
                                "{\"status\":\"deactivated\"}", NULL, &res, &ignore) == ACME_OK &&
            acme__provider_json(&res, "authorization", &v, &ignore) == ACME_OK) {
            set_str(&a->status, acme__json_string(v, "status"));
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
    if (!o->url)
        return acme__fail(&o->err, ACME_ERR_STATE, "authorize: submit the order first");
    if (strcmp(o->status, "pending") != 0)
        return ACME_OK; /* ready, processing or valid: nothing to authorize */

    int64_t deadline = acme__mono_ms() + (int64_t)o->timeout_s * 1000;
    presented *pres = calloc(o->nauthz, sizeof(*pres));
    if (!pres)
        return acme__fail(&o->err, ACME_ERR_NOMEM, "out of memory");
    size_t npres = 0;
    int rc = ACME_OK;
    for (size_t i = 0; rc == ACME_OK && i < o->nauthz; i++) {
        authz *a = &o->authz[i];
        if (strcmp(a->status, "valid") == 0) {
            set_str(&a->solved_by, "");
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
        if (pres[i].solver->wait) {
            int wrc = pres[i].solver->wait(pres[i].ch, pres[i].solver->userdata);
            if (wrc != ACME_OK)
                rc = acme__fail(&o->err, ACME_ERR_CALLBACK, "%s: the %s solver's wait failed (%s)",
                                pres[i].az->ident_value, pres[i].ch->type, acme_strerror(wrc));
        }
    }
    /* Tell the CA to validate: the payload is exactly {} (RFC 8555 7.5.1).
     * The reply may settle it: "valid" (a CA that validated at once) needs
     * no poll, "invalid" has the authorization fetched at once for the
     * reason, and a Retry-After says when to look first. */
    int64_t first_poll = 0;
    int invalid_now = 0;
    for (size_t i = 0; rc == ACME_OK && i < npres; i++) {
        yajl_val v;
        acme__response res;
        authz *a = pres[i].az;
        rc = post_json(o, pres[i].ch->url, "{}", "challenge", &v, &res);
        if (rc == ACME_OK) {
            const char *status = acme__json_string(v, "status");
            if (status && strcmp(status, "valid") == 0) {
                if (set_str(&a->status, "valid"))
                    rc = acme__fail(&o->err, ACME_ERR_NOMEM, "out of memory");
                acme__log(o->provider, ACME_LOG_INFO, "authorization %s%s: valid",
                          a->wildcard ? "*." : "", a->ident_value);
            } else if (status && strcmp(status, "invalid") == 0) {
                invalid_now = 1;
            } else {
                int64_t d = poll_delay(&res, AUTHZ_FIRST_POLL_MS, deadline);
                first_poll = d > first_poll ? d : first_poll;
            }
            acme__response_free(&res);
        }
        acme__json_free(v);
        if (rc == ACME_OK)
            rc = set_str(&a->solved_by, pres[i].ch->type)
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
    set_str(&o->status, "ready");
    return ACME_OK;
}

/* ---- finalize and download ---------------------------------------------- */

/* Poll the order until it leaves "processing". */
static int order_wait(acme_order *o, acme__response *first, int64_t deadline)
{
    int64_t backoff = ORDER_FIRST_POLL_MS;
    int64_t delay = poll_delay(first, backoff, deadline);
    while (strcmp(o->status, "processing") == 0) {
        if (acme__mono_ms() >= deadline)
            return acme__fail(&o->err, ACME_ERR_TIMEOUT,
                              "order %s still processing after %u s", o->url, o->timeout_s);
        acme__sleep_ms(delay);
        yajl_val v;
        acme__response res;
        int rc = post_json(o, o->url, NULL, "order", &v, &res);
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
        backoff = next_backoff(backoff);
        delay = poll_delay(&res, backoff, deadline);
        acme__response_free(&res);
        if (rc != ACME_OK)
            return rc;
    }
    return ACME_OK;
}

int acme_order_finalize(acme_order *o, acme_key *cert_key)
{
    if (!o)
        return acme__fail(NULL, ACME_ERR_INVALID, "order: NULL handle");
    if (!o->url || !o->finalize_url)
        return acme__fail(&o->err, ACME_ERR_STATE, "finalize: submit the order first");
    if (!cert_key && !o->csr_der.len)
        return acme__fail(&o->err, ACME_ERR_INVALID, "finalize: a certificate key or a CSR is required");
    if (cert_key && acme__key_matches(cert_key, &o->account_key->pk))
        return acme__fail(&o->err, ACME_ERR_INVALID,
                          "finalize: the certificate key must not be the account key");
    if (cert_key) {
        acme_key_free(o->cert_key);
        o->cert_key = acme__key_ref(cert_key);
    }
    if (strcmp(o->status, "valid") == 0)
        return ACME_OK;

    acme__buf der = ACME__BUF_INIT;
    int rc = ACME_OK;
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

    int64_t deadline = acme__mono_ms() + (int64_t)o->timeout_s * 1000;
    yajl_val v = NULL;
    acme__response res;
    memset(&res, 0, sizeof(res));
    if (rc == ACME_OK)
        rc = post_json(o, o->finalize_url, payload.data, "order", &v, &res);
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
    acme__log(o->provider, ACME_LOG_INFO, "order %s: valid, certificate %s", o->url, o->cert_url);
    return ACME_OK;
}

/* Download one chain and check it; key may be NULL (host-supplied CSR). */
static int fetch_chain(acme_order *o, const char *url, acme_key *key, chain *out,
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
    if (!o->cert_url)
        return acme__fail(&o->err, ACME_ERR_STATE, "download: the order is not finalized");
    chains_clear(o);
    acme__response res;
    int rc = fetch_chain(o, o->cert_url, o->cert_key, &o->chains[0], &res);
    if (rc == ACME_OK)
        o->nchains = 1;
    /* Alternates cost a request each: fetched only when a choice is asked for. */
    for (size_t i = 0; rc == ACME_OK && o->preferred_chain && o->nchains < MAX_CHAINS; i++) {
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
    return ACME_OK;
}

int acme_order_issue(acme_order *o, const acme_solvers *solvers, acme_key *cert_key)
{
    if (!o || !solvers)
        return acme__fail(o ? &o->err : NULL, ACME_ERR_INVALID,
                          "issue: order and solvers are required");
    int rc = o->url ? ACME_OK : acme_order_submit(o);
    if (rc == ACME_OK)
        rc = acme_order_authorize(o, solvers);
    if (rc == ACME_OK)
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
