/* The provider handle: options, directory fetch and its getters. */
#include "protocol/provider.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/version.h"
#include "net/json.h"
#include "base/mem.h"
#include "base/options.h"
#include "base/problem.h"

/* What a zero in acme_provider_options stands for, as documented there. */
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_MAX_RESPONSE (1024 * 1024)
#define DEFAULT_MAX_RETRY_AFTER_S 30
#define DEFAULT_MAX_RETRIES 3
#define DEFAULT_MAX_BAD_NONCE_RETRIES 16
/* Log lines and the User-Agent are cut beyond these. */
#define LOG_LINE_MAX 1024
#define USER_AGENT_MAX 256

/* The bytes of each version of acme_provider_options, oldest first: a field
 * appended as a new version appends its line (doc/ABI.md). */
ACME__OPTIONS_DEFINE(options_versions, ACME_PROVIDER_OPTIONS_VERSION, "provider options",
                     "acme_provider_options_init",
                     ACME__OPTIONS_END(acme_provider_options, log_level)); /* 1 */

int acme_provider_options_init(acme_provider_options *opts, unsigned int version)
{
    return acme__options_init(&options_versions, opts, version, NULL);
}

acme_provider *acme__provider_ref(acme_provider *p)
{
    if (p)
        atomic_fetch_add(&p->refs, 1);
    return p;
}

void acme_provider_free(acme_provider *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    acme__http_free(p->http);
    acme__json_free(p->directory);
    for (size_t i = 0; i < p->nnonces; i++)
        free(p->nonces[i]);
    pthread_mutex_destroy(&p->nonce_lock);
    pthread_mutex_destroy(&p->err_lock);
    acme__err_clear(&p->err);
    free(p->directory_url);
    free(p);
}

int acme__provider_record(acme_provider *p, int rc, acme__err *why)
{
    if (rc != ACME_OK && p) {
        pthread_mutex_lock(&p->err_lock);
        acme__err_forward(&p->err, why);
        pthread_mutex_unlock(&p->err_lock);
    }
    acme__err_clear(why);
    return rc;
}

/* The record is written by other threads' calls: it is read only under its
 * lock, which the const handle needs to take as well. */
static acme_provider *err_locked(const acme_provider *p)
{
    acme_provider *w = (acme_provider *)p;
    pthread_mutex_lock(&w->err_lock);
    return w;
}

int acme_provider_last_error_copy(const acme_provider *p, char *buf, size_t size)
{
    if (!p || (!buf && size))
        return acme__fail(NULL, ACME_ERR_INVALID, "provider: NULL argument");
    acme_provider *w = err_locked(p);
    int len = acme__err_copy_msg(&w->err, buf, size);
    pthread_mutex_unlock(&w->err_lock);
    return len;
}

int acme_provider_last_problem_copy(const acme_provider *p, acme_problem **out)
{
    if (out)
        *out = NULL;
    if (!p || !out)
        return acme__fail(NULL, ACME_ERR_INVALID, "provider: NULL argument");
    acme_provider *w = err_locked(p);
    *out = w->err.problem ? acme__problem_ref(w->err.problem) : NULL;
    pthread_mutex_unlock(&w->err_lock);
    return ACME_OK;
}

void acme__log(const acme_provider *p, int level, const char *fmt, ...)
{
    if (!p || !p->log || level > p->log_level)
        return;
    char msg[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    p->log(level, msg, p->log_userdata);
}

/* The three resources without which no ACME flow can start. */
int acme__directory_check(yajl_val dir, const char *url, acme__err *err)
{
    static const char *const required[] = { "newNonce", "newAccount", "newOrder" };
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        const char *v = acme__json_string(dir, required[i]);
        if (!v || strncmp(v, "https://", 8) != 0)
            return acme__fail(err, ACME_ERR_PROTOCOL,
                              "%s is not an ACME directory: \"%s\" is %s", url, required[i],
                              v ? "not an https URL" : "missing");
    }
    return ACME_OK;
}

int acme_provider_new(acme_provider **out, const char *directory_url,
                      const acme_provider_options *opts)
{
    if (!out)
        return acme__fail(NULL, ACME_ERR_INVALID, "provider: NULL output");
    *out = NULL;
    if (!directory_url || strncmp(directory_url, "https://", 8) != 0)
        return acme__fail(NULL, ACME_ERR_INVALID,
                          "provider: the directory URL must start with https:// (got \"%s\")",
                          directory_url ? directory_url : "(null)");
    acme_provider_options own;
    int rc = acme__options_copy(&options_versions, &own, sizeof(own), opts, NULL);
    if (rc != ACME_OK)
        return rc;
    opts = &own;

    acme_provider *p = calloc(1, sizeof(*p));
    if (!p)
        return acme__fail(NULL, ACME_ERR_NOMEM, "provider: out of memory");
    atomic_init(&p->refs, 1);
    pthread_mutex_init(&p->nonce_lock, NULL);
    pthread_mutex_init(&p->err_lock, NULL);
    p->directory_url = acme__strdup(directory_url);
    p->max_retry_after_s = opts->max_retry_after_s ? opts->max_retry_after_s
                                                   : DEFAULT_MAX_RETRY_AFTER_S;
    p->max_retries = opts->max_retries ? opts->max_retries : DEFAULT_MAX_RETRIES;
    p->max_bad_nonce_retries = opts->max_bad_nonce_retries ? opts->max_bad_nonce_retries
                                                           : DEFAULT_MAX_BAD_NONCE_RETRIES;
    p->log = opts->log;
    p->log_userdata = opts->log_userdata;
    p->log_level = opts->log_level;

    char user_agent[USER_AGENT_MAX];
    snprintf(user_agent, sizeof(user_agent), "libacme/%s%s%s", ACME_VERSION_STRING,
             opts->user_agent ? " " : "", opts->user_agent ? opts->user_agent : "");
    acme__http_config cfg = {
        .ca_bundle = opts->ca_bundle,
        .connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms
                                                           : DEFAULT_CONNECT_TIMEOUT_MS,
        .timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS,
        .max_body = opts->max_response_bytes ? opts->max_response_bytes : DEFAULT_MAX_RESPONSE,
        .user_agent = user_agent,
    };
    acme__err err = { 0 };
    rc = p->directory_url ? acme__http_new(&p->http, &cfg, &err)
                          : acme__fail(&err, ACME_ERR_NOMEM, "out of memory");
    acme__response res;
    memset(&res, 0, sizeof(res));
    if (rc == ACME_OK)
        rc = acme__provider_get(p, directory_url, 0, &res, &err);
    if (rc == ACME_OK)
        rc = acme__provider_json(&res, "directory", &p->directory, &err);
    if (rc == ACME_OK)
        rc = acme__directory_check(p->directory, directory_url, &err);
    acme__response_free(&res);
    if (rc != ACME_OK) {
        acme__err_prefix(&err, "fetching the ACME directory");
        acme__err_clear(&err);
        acme_provider_free(p);
        return rc;
    }
    acme__err_clear(&err);
    acme__log(p, ACME_LOG_INFO, "directory %s: ARI %s, profiles %zu", directory_url,
              acme_provider_endpoint(p, "renewalInfo") ? "yes" : "no",
              acme_provider_profile_count(p));
    *out = p;
    return ACME_OK;
}

const char *acme_provider_directory_url(const acme_provider *p)
{
    return p ? p->directory_url : NULL;
}

const char *acme_provider_endpoint(const acme_provider *p, const char *name)
{
    if (!p || !name || strcmp(name, "meta") == 0)
        return NULL;
    return acme__json_string(p->directory, name);
}

static yajl_val meta(const acme_provider *p)
{
    return p ? acme__json_object(p->directory, "meta") : NULL;
}

const char *acme_provider_terms_of_service(const acme_provider *p)
{
    return acme__json_string(meta(p), "termsOfService");
}

const char *acme_provider_website(const acme_provider *p)
{
    return acme__json_string(meta(p), "website");
}

size_t acme_provider_caa_identity_count(const acme_provider *p)
{
    return acme__json_len(acme__json_array(meta(p), "caaIdentities"));
}

const char *acme_provider_caa_identity(const acme_provider *p, size_t i)
{
    return acme__json_as_string(acme__json_at(acme__json_array(meta(p), "caaIdentities"), i));
}

int acme_provider_external_account_required(const acme_provider *p)
{
    return acme__json_bool(meta(p), "externalAccountRequired", 0);
}

/* draft-ietf-acme-profiles: meta.profiles maps names to descriptions. */
static yajl_val profiles(const acme_provider *p)
{
    return acme__json_object(meta(p), "profiles");
}

size_t acme_provider_profile_count(const acme_provider *p)
{
    yajl_val v = profiles(p);
    return v ? v->u.object.len : 0;
}

const char *acme_provider_profile_name(const acme_provider *p, size_t i)
{
    yajl_val v = profiles(p);
    return v && i < v->u.object.len ? v->u.object.keys[i] : NULL;
}

const char *acme_provider_profile_description(const acme_provider *p, size_t i)
{
    yajl_val v = profiles(p);
    return v && i < v->u.object.len ? acme__json_as_string(v->u.object.values[i]) : NULL;
}

int acme_provider_has_profile(const acme_provider *p, const char *name)
{
    return name && acme__json_get(profiles(p), name) != NULL;
}

void acme_provider_stats(const acme_provider *p, uint64_t *requests, uint64_t *connections)
{
    if (requests)
        *requests = 0;
    if (connections)
        *connections = 0;
    if (p && p->http)
        acme__http_stats(p->http, requests, connections);
}
