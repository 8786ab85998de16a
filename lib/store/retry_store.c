/* Backoff and rate-limit records (store/retry_store.h). */
#include "store/retry_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "net/json.h"
#include "store/store_layout.h"

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

/* The object of a record, or ACME_ERR_CORRUPT. */
static int record_object(const char *data, size_t len, yajl_val *out)
{
    acme__err quiet = ACME__ERR_QUIET;
    int rc = acme__json_parse_object(data, len, "record", out, &quiet);
    acme__err_clear(&quiet);
    return rc == ACME_OK ? ACME_OK : ACME_ERR_CORRUPT;
}

/* An integer field in [min, max]; absent is an error as well. */
static int int_field(yajl_val v, const char *key, long long min, long long max, long long *out)
{
    return acme__json_int(v, key, out) == ACME_OK && *out >= min && *out <= max
               ? ACME_OK
               : ACME_ERR_CORRUPT;
}

int acme__backoff_parse(const char *data, size_t len, acme__backoff *out)
{
    memset(out, 0, sizeof(*out));
    yajl_val v;
    if (record_object(data, len, &v) != ACME_OK)
        return ACME_ERR_CORRUPT;
    long long failures, last, next, error;
    int rc = ACME_OK;
    if (int_field(v, "failures", 1, 1000000, &failures) != ACME_OK ||
        int_field(v, "last_failure", 0, INT64_MAX, &last) != ACME_OK ||
        int_field(v, "next_attempt", 0, INT64_MAX, &next) != ACME_OK ||
        int_field(v, "error", -1000, 0, &error) != ACME_OK)
        rc = ACME_ERR_CORRUPT;
    if (rc == ACME_OK) {
        out->failures = (unsigned int)failures;
        out->last_failure = last;
        out->next_attempt = next;
        out->error = (int)error;
        out->held = acme__json_bool(v, "held", 0);
        copy_text(out->problem, sizeof(out->problem), acme__json_string(v, "problem"));
        copy_text(out->detail, sizeof(out->detail), acme__json_string(v, "detail"));
    } else {
        memset(out, 0, sizeof(*out));
    }
    acme__json_free(v);
    return rc;
}

int acme__rate_limit_parse(const char *data, size_t len, acme__rate_limit *out)
{
    memset(out, 0, sizeof(*out));
    yajl_val v;
    if (record_object(data, len, &v) != ACME_OK)
        return ACME_ERR_CORRUPT;
    long long until, at;
    int rc = int_field(v, "until", 1, INT64_MAX, &until) == ACME_OK &&
                     int_field(v, "recorded_at", 0, INT64_MAX, &at) == ACME_OK
                 ? ACME_OK
                 : ACME_ERR_CORRUPT;
    if (rc == ACME_OK) {
        out->until = until;
        out->recorded_at = at;
        copy_text(out->limit, sizeof(out->limit), acme__json_string(v, "limit"));
        copy_text(out->unpause, sizeof(out->unpause), acme__json_string(v, "unpause"));
        copy_text(out->detail, sizeof(out->detail), acme__json_string(v, "detail"));
    }
    acme__json_free(v);
    return rc;
}

/* Read `key` and parse it; no record is ACME_OK with *out zeroed by parse's
 * caller. */
static int load_record(acme_store *s, const char *key, void *out, size_t out_size,
                       int (*parse)(const char *, size_t, void *), acme__err *err)
{
    memset(out, 0, out_size);
    if (!key)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    acme__buf b = ACME__BUF_INIT;
    acme__err probe = ACME__ERR_QUIET; /* no record is the usual answer */
    int rc = acme__store_read(s, key, &b, &probe);
    if (rc == ACME_ERR_NOT_FOUND) {
        rc = ACME_OK;
    } else if (rc != ACME_OK) {
        acme__err_forward(err, &probe);
    } else if (parse(b.data, b.len, out) != ACME_OK) {
        rc = acme__fail(err, ACME_ERR_CORRUPT,
                        "store: %s is corrupt or foreign; left as it is", key);
    }
    acme__err_clear(&probe);
    acme__buf_free(&b);
    return rc;
}

static int parse_backoff(const char *data, size_t len, void *out)
{
    return acme__backoff_parse(data, len, out);
}

static int parse_rate_limit(const char *data, size_t len, void *out)
{
    return acme__rate_limit_parse(data, len, out);
}

static int save_record(acme_store *s, char *key, acme__buf *b, acme__err *err)
{
    int rc;
    if (!key || acme__buf_status(b) != ACME_OK)
        rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    else
        rc = acme__store_write(s, key, b->data, b->len, 0, err);
    acme__buf_free(b);
    free(key);
    return rc;
}

int acme__backoff_load(acme_store *s, const char *name, acme__backoff *out, acme__err *err)
{
    char *key = acme__store_backoff_key(name);
    int rc = load_record(s, key, out, sizeof(*out), parse_backoff, err);
    free(key);
    return rc;
}

int acme__backoff_save(acme_store *s, const char *name, const acme__backoff *r, acme__err *err)
{
    acme__buf b = ACME__BUF_INIT;
    acme__buf_printf(&b, "{\"failures\":%u,\"last_failure\":%lld,\"next_attempt\":%lld,"
                         "\"held\":%s,\"error\":%d,\"problem\":",
                     r->failures, (long long)r->last_failure, (long long)r->next_attempt,
                     r->held ? "true" : "false", r->error);
    acme__json_put_string(&b, r->problem);
    acme__buf_puts(&b, ",\"detail\":");
    acme__json_put_string(&b, r->detail);
    acme__buf_puts(&b, "}\n");
    return save_record(s, acme__store_backoff_key(name), &b, err);
}

int acme__backoff_clear(acme_store *s, const char *name, acme__err *err)
{
    char *key = acme__store_backoff_key(name);
    if (!key)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    acme__err probe = ACME__ERR_QUIET;
    int rc = acme__store_remove(s, key, &probe);
    if (rc == ACME_ERR_NOT_FOUND)
        rc = ACME_OK;
    else if (rc != ACME_OK)
        acme__err_forward(err, &probe);
    acme__err_clear(&probe);
    free(key);
    return rc;
}

int acme__rate_limit_load(acme_store *s, const char *directory_url, const char *email,
                          acme__rate_limit *out, acme__err *err)
{
    char *key = acme__store_rate_limit_key(directory_url, email);
    int rc = load_record(s, key, out, sizeof(*out), parse_rate_limit, err);
    free(key);
    return rc;
}

int acme__rate_limit_save(acme_store *s, const char *directory_url, const char *email,
                          const acme__rate_limit *r, acme__err *err)
{
    acme__buf b = ACME__BUF_INIT;
    acme__buf_printf(&b, "{\"until\":%lld,\"recorded_at\":%lld,\"limit\":",
                     (long long)r->until, (long long)r->recorded_at);
    acme__json_put_string(&b, r->limit);
    acme__buf_puts(&b, ",\"unpause\":");
    acme__json_put_string(&b, r->unpause);
    acme__buf_puts(&b, ",\"detail\":");
    acme__json_put_string(&b, r->detail);
    acme__buf_puts(&b, "}\n");
    return save_record(s, acme__store_rate_limit_key(directory_url, email), &b, err);
}

/* ---- public ------------------------------------------------------------------- */

static int backoff_get_recorded(acme_store *s, const char *name, unsigned int *failures,
                     int64_t *next_attempt, int *held, char **last_error, acme__err *rec)
{
    if (last_error)
        *last_error = NULL;
    if (!s || !name)
        return acme__fail(rec, ACME_ERR_INVALID, "backoff: NULL argument");
    if (!acme__store_cert_name_valid(name))
        return acme__fail(rec, ACME_ERR_INVALID, "backoff: \"%.200s\" is not a certificate name",
                          name);
    acme__backoff b;
    int rc = acme__backoff_load(s, name, &b, rec);
    if (rc != ACME_OK)
        return rc;
    if (last_error && b.failures) {
        if (!(*last_error = acme__strdup(b.detail)))
            return acme__fail(rec, ACME_ERR_NOMEM, "backoff: out of memory");
    }
    if (failures)
        *failures = b.failures;
    if (next_attempt)
        *next_attempt = b.next_attempt;
    if (held)
        *held = b.held;
    return ACME_OK;
}

int acme_backoff_get(acme_store *s, const char *name, unsigned int *failures,
                     int64_t *next_attempt, int *held, char **last_error)
{
    acme__err e = { 0 };
    return acme__store_publish(
        s, backoff_get_recorded(s, name, failures, next_attempt, held, last_error, &e), &e);
}

static int backoff_reset_recorded(acme_store *s, const char *name, acme__err *rec)
{
    if (!s || !name)
        return acme__fail(rec, ACME_ERR_INVALID, "backoff: NULL argument");
    if (!acme__store_cert_name_valid(name))
        return acme__fail(rec, ACME_ERR_INVALID, "backoff: \"%.200s\" is not a certificate name",
                          name);
    return acme__backoff_clear(s, name, rec);
}

int acme_backoff_reset(acme_store *s, const char *name)
{
    acme__err e = { 0 };
    return acme__store_publish(s, backoff_reset_recorded(s, name, &e), &e);
}

static int rate_limit_get_recorded(acme_store *s, const char *directory_url, const char *email,
                        int64_t *until, char **message, acme__err *rec)
{
    if (message)
        *message = NULL;
    if (!s || !directory_url)
        return acme__fail(rec, ACME_ERR_INVALID, "rate limit: NULL argument");
    acme__rate_limit r;
    int rc = acme__rate_limit_load(s, directory_url, email, &r, rec);
    if (rc != ACME_OK)
        return rc;
    if (until)
        *until = r.until;
    if (message && r.until) {
        acme__buf t = ACME__BUF_INIT;
        acme__buf_puts(&t, r.detail);
        if (r.limit[0])
            acme__buf_printf(&t, " (limit %s)", r.limit);
        if (r.unpause[0])
            acme__buf_printf(&t, " (unpause: %s)", r.unpause);
        if (!(*message = acme__buf_detach(&t)))
            return acme__fail(rec, ACME_ERR_NOMEM, "rate limit: out of memory");
    }
    return ACME_OK;
}

int acme_rate_limit_get(acme_store *s, const char *directory_url, const char *email,
                        int64_t *until, char **message)
{
    acme__err e = { 0 };
    return acme__store_publish(
        s, rate_limit_get_recorded(s, directory_url, email, until, message, &e), &e);
}
