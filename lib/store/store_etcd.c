/* The built-in etcd store: keys under a prefix in etcd v3, reached through
 * its JSON gateway (POST /v3/..., keys and values in base64) with the
 * library's HTTP client. Locks are lease-bound keys whose create revision
 * is the fencing token; changes under a lock and certificate generations
 * are transactions. */
#include "store/store.h"
#include "store/store_etcd.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "base/b64.h"
#include "base/clock.h"
#include "base/mem.h"
#include "base/options.h"
#include "net/http.h"
#include "net/json.h"

/* The top-level name that holds the lock keys; not usable as a key. */
#define LOCKS "locks"
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_TTL_S 30
/* Shorter leases would expire between two renewals on a busy member. */
#define MIN_TTL_S 5
/* A reply holds at most one value in base64 plus JSON around it; lists
 * of keys are bounded by the store's own cap the same way. */
#define MAX_REPLY (ACME__STORE_MAX_VALUE / 3 * 4 + 64 * 1024)
/* Passes over the members before a request fails, and the pause between
 * them: long enough for a cluster to elect a new leader when one died. */
#define ROUNDS 4
#define ROUND_PAUSE_MS 500
/* Keys one list asks for at once (a certificate has a handful). */
#define LIST_LIMIT 10000

/* The longest message of a member kept for an error. */
#define MSG_MAX 300

/* gRPC status codes the gateway reports in "code". */
#define GRPC_INVALID_ARGUMENT 3
#define GRPC_DEADLINE_EXCEEDED 4
#define GRPC_NOT_FOUND 5
#define GRPC_PERMISSION_DENIED 7
#define GRPC_RESOURCE_EXHAUSTED 8
#define GRPC_FAILED_PRECONDITION 9
#define GRPC_UNAVAILABLE 14
#define GRPC_UNAUTHENTICATED 16

typedef struct etcd_lock {
    char *name;
    int64_t lease;
    uint64_t token;
} etcd_lock;

typedef struct etcd {
    acme__http *http;
    char **eps;
    size_t neps;
    atomic_size_t cur; /* the member that answered last */
    char *prefix;      /* "" or "PREFIX/" */
    char *user, *pass;
    pthread_mutex_t mu; /* guards auth and locks */
    char *auth;         /* "Authorization: TOKEN" once authenticated */
    etcd_lock *locks;
    size_t nlocks, caplocks;
    char holder[96]; /* the value of the lock keys: who holds them */
} etcd;

/* ---- replies ------------------------------------------------------------ */

/* An int64 member: the gateway writes them as strings, some as numbers. */
static int int_member(yajl_val obj, const char *key, int64_t *out)
{
    yajl_val v = acme__json_get(obj, key);
    *out = 0;
    if (!v)
        return ACME_ERR_NOT_FOUND;
    if (YAJL_IS_INTEGER(v)) {
        *out = (int64_t)YAJL_GET_INTEGER(v);
        return ACME_OK;
    }
    const char *s = acme__json_as_string(v);
    if (!s || !*s || strlen(s) > 20)
        return ACME_ERR_PROTOCOL;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (*end)
        return ACME_ERR_PROTOCOL;
    *out = (int64_t)x;
    return ACME_OK;
}

static int parse(const char *data, size_t len, const char *what, yajl_val *v, acme__err *err)
{
    acme__err why = ACME__ERR_QUIET;
    int rc = acme__json_parse_object(data, len, what, v, &why);
    if (rc != ACME_OK)
        acme__fail(err, ACME_ERR_PROTOCOL, "etcd: unreadable %s reply: %s", what, why.msg);
    acme__err_clear(&why);
    return rc == ACME_OK ? ACME_OK : ACME_ERR_PROTOCOL;
}

/* Decode base64 text into out (past max bytes in out: ACME_ERR_TOO_LARGE). */
static int b64_decode(const char *text, size_t max, acme__buf *out, acme__err *err)
{
    unsigned char *tmp = NULL;
    size_t n = 0;
    int rc = acme__b64_decode(text, strlen(text), &tmp, &n);
    if (rc == ACME_ERR_INVALID)
        rc = acme__fail(err, ACME_ERR_PROTOCOL, "etcd: a value is not valid base64");
    else if (rc != ACME_OK)
        rc = acme__fail(err, rc, "out of memory");
    else if (n > max || out->len > max - n)
        rc = acme__fail(err, ACME_ERR_TOO_LARGE, "etcd: a value is larger than %zu bytes", max);
    else if (acme__buf_append(out, tmp, n) != ACME_OK)
        rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    acme__wipe(tmp, n);
    free(tmp);
    return rc;
}

/* parse() for a reply whose failure to parse is an answer of its own
 * (no error body, no holder), not an error to report. */
static int parse_quiet(const char *data, size_t len, const char *what, yajl_val *v)
{
    acme__err quiet = ACME__ERR_QUIET;
    int rc = parse(data, len, what, v, &quiet);
    acme__err_clear(&quiet);
    return rc;
}

int acme__etcd_parse_error(const char *data, size_t len, long long *code, char **msg)
{
    *code = -1;
    *msg = NULL;
    yajl_val v;
    int rc = parse_quiet(data, len, "error", &v);
    if (rc != ACME_OK)
        return rc;
    long long c;
    if (acme__json_int(v, "code", &c) == ACME_OK)
        *code = c;
    const char *m = acme__json_string(v, "message");
    if (!m)
        m = acme__json_string(v, "error");
    /* At most MSG_MAX bytes of it (acme__strndup copies n bytes). */
    if (m && !(*msg = acme__strndup(m, strlen(m) < MSG_MAX ? strlen(m) : MSG_MAX)))
        rc = ACME_ERR_NOMEM;
    acme__json_free(v);
    return rc;
}

int acme__etcd_parse_value(const char *data, size_t len, size_t max, acme__buf *out,
                           acme__err *err)
{
    yajl_val v;
    int rc = parse(data, len, "range", &v, err);
    if (rc != ACME_OK)
        return rc;
    yajl_val kvs = acme__json_array(v, "kvs");
    yajl_val kv = kvs && acme__json_len(kvs) ? acme__json_at(kvs, 0) : NULL;
    if (!kv) {
        rc = acme__json_get(v, "kvs") ? acme__fail(err, ACME_ERR_PROTOCOL,
                                                   "etcd: a range reply with malformed kvs")
                                      : ACME_ERR_NOT_FOUND;
    } else {
        /* An empty value is left out of the reply, like every default. */
        yajl_val value = acme__json_get(kv, "value");
        const char *text = acme__json_as_string(value);
        if (value && !text)
            rc = acme__fail(err, ACME_ERR_PROTOCOL, "etcd: a value that is not a string");
        else
            rc = b64_decode(text ? text : "", max, out, err);
    }
    acme__json_free(v);
    return rc;
}

int acme__etcd_parse_children(const char *data, size_t len, const char *under, size_t max,
                              acme__buf *out, int *more, acme__err *err)
{
    *more = 0;
    yajl_val v;
    int rc = parse(data, len, "range", &v, err);
    if (rc != ACME_OK)
        return rc;
    *more = acme__json_bool(v, "more", 0);
    yajl_val kvs = acme__json_array(v, "kvs");
    size_t ulen = strlen(under);
    acme__buf key = ACME__BUF_INIT;
    char *last = NULL; /* keys come sorted: a child repeats only in a row */
    for (size_t i = 0; rc == ACME_OK && i < acme__json_len(kvs); i++) {
        const char *text = acme__json_string(acme__json_at(kvs, i), "key");
        if (!text)
            continue;
        acme__buf_free(&key);
        acme__err quiet = ACME__ERR_QUIET;
        int drc = b64_decode(text, 4096, &key, &quiet);
        acme__err_clear(&quiet);
        if (drc == ACME_ERR_NOMEM) {
            rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
            break;
        }
        if (drc != ACME_OK || !key.data || key.len <= ulen || memcmp(key.data, under, ulen) != 0 ||
            memchr(key.data, '\0', key.len))
            continue;
        const char *child = key.data + ulen;
        size_t clen = strcspn(child, "/");
        if (!clen || (last && strlen(last) == clen && memcmp(last, child, clen) == 0))
            continue;
        free(last);
        if (!(last = acme__strndup(child, clen))) {
            rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
            break;
        }
        if (!acme__store_key_valid(last))
            continue; /* not a key this store writes: a newline would split it */
        if (out->len + clen + 1 > max)
            rc = acme__fail(err, ACME_ERR_TOO_LARGE, "etcd: a list is larger than %zu bytes",
                            max);
        else if (acme__buf_append(out, child, clen) != ACME_OK || acme__buf_putc(out, '\n') != ACME_OK)
            rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    }
    free(last);
    acme__buf_free(&key);
    acme__json_free(v);
    return rc;
}

int acme__etcd_parse_txn(const char *data, size_t len, int *succeeded, int64_t *revision,
                         acme__err *err)
{
    *revision = *succeeded = 0;
    yajl_val v;
    int rc = parse(data, len, "txn", &v, err);
    if (rc != ACME_OK)
        return rc;
    *succeeded = acme__json_bool(v, "succeeded", 0);
    if (int_member(acme__json_object(v, "header"), "revision", revision) != ACME_OK ||
        *revision <= 0)
        rc = acme__fail(err, ACME_ERR_PROTOCOL, "etcd: a txn reply without its revision");
    acme__json_free(v);
    return rc;
}

int acme__etcd_parse_holder(const char *data, size_t len, int64_t *lease, int64_t *created)
{
    yajl_val v;
    *lease = *created = 0;
    if (parse_quiet(data, len, "txn", &v) != ACME_OK)
        return ACME_ERR_PROTOCOL;
    int rc;
    yajl_val responses = acme__json_array(v, "responses");
    yajl_val range = acme__json_object(acme__json_at(responses, 0), "response_range");
    yajl_val kvs = acme__json_array(range, "kvs");
    yajl_val kv = acme__json_len(kvs) == 1 ? acme__json_at(kvs, 0) : NULL;
    rc = kv && int_member(kv, "lease", lease) == ACME_OK &&
                 int_member(kv, "create_revision", created) == ACME_OK
             ? ACME_OK
             : ACME_ERR_NOT_FOUND;
    if (rc != ACME_OK)
        *lease = *created = 0;
    acme__json_free(v);
    return rc;
}

int acme__etcd_parse_lease(const char *data, size_t len, int64_t *id, int64_t *ttl,
                           acme__err *err)
{
    yajl_val v;
    *id = *ttl = 0;
    if (parse(data, len, "lease", &v, err) != ACME_OK)
        return ACME_ERR_PROTOCOL;
    /* A keepalive wraps its answer in "result"; a grant does not. */
    yajl_val r = acme__json_object(v, "result") ? acme__json_object(v, "result") : v;
    int irc = int_member(r, "ID", id), trc = int_member(r, "TTL", ttl);
    int rc = irc == ACME_ERR_PROTOCOL || trc == ACME_ERR_PROTOCOL
                 ? acme__fail(err, ACME_ERR_PROTOCOL,
                              "etcd: a lease reply with a malformed ID or TTL")
                 : ACME_OK;
    acme__json_free(v);
    return rc;
}

int acme__etcd_parse_auth(const char *data, size_t len, char **token, acme__err *err)
{
    *token = NULL;
    yajl_val v;
    int rc = parse(data, len, "authenticate", &v, err);
    if (rc != ACME_OK)
        return rc;
    const char *t = acme__json_string(v, "token");
    /* It goes into a header line: printable ASCII only. */
    int ok = t && *t && strlen(t) < 4096;
    for (const char *p = t; ok && *p; p++)
        ok = *p > ' ' && *p < 0x7f;
    if (!ok)
        rc = acme__fail(err, ACME_ERR_PROTOCOL, "etcd: an authenticate reply without a token");
    else if (!(*token = acme__strdup(t)))
        rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    acme__json_free(v);
    return rc;
}

/* ---- requests ----------------------------------------------------------- */

static void put_b64(acme__buf *b, const void *data, size_t len)
{
    acme__buf_putc(b, '"');
    acme__b64_append(b, data, len);
    acme__buf_putc(b, '"');
}

/* "PREFIX/key" as base64 in quotes; with suffix appended to the key. */
static void put_key(acme__buf *b, const etcd *e, const char *key, const char *suffix)
{
    acme__buf k = ACME__BUF_INIT;
    acme__buf_printf(&k, "%s%s%s", e->prefix, key, suffix ? suffix : "");
    if (acme__buf_status(&k) != ACME_OK)
        b->oom = 1;
    else
        put_b64(b, k.data, k.len);
    acme__buf_free(&k);
}

/* The range end that covers every key starting with PREFIX/key/. */
static void put_children_end(acme__buf *b, const etcd *e, const char *key)
{
    acme__buf k = ACME__BUF_INIT;
    acme__buf_printf(&k, "%s%s0", e->prefix, key); /* '0' follows '/' */
    if (acme__buf_status(&k) != ACME_OK)
        b->oom = 1;
    else
        put_b64(b, k.data, k.len);
    acme__buf_free(&k);
}

/* A body that is not the gateway's JSON (a proxy's page, a plain-text
 * refusal): its start, printable ASCII only, for the message. */
static char *text_excerpt(const acme__buf *body)
{
    char out[161];
    size_t n = 0;
    for (size_t i = 0; i < body->len && n < sizeof(out) - 1; i++) {
        unsigned char ch = (unsigned char)body->data[i];
        out[n++] = ch >= ' ' && ch < 0x7f ? (char)ch : ' ';
    }
    while (n && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
    return n ? acme__strdup(out) : NULL;
}

/* The library error of each gRPC status a member reports; others are
 * ACME_ERR_HTTP. Credentials and requests refused are the caller's to
 * fix (ACME_ERR_INVALID). */
static const struct {
    long long code;
    int rc;
} grpc_codes[] = {
    { GRPC_UNAUTHENTICATED, ACME_ERR_INVALID },  { GRPC_PERMISSION_DENIED, ACME_ERR_INVALID },
    { GRPC_INVALID_ARGUMENT, ACME_ERR_INVALID }, { GRPC_FAILED_PRECONDITION, ACME_ERR_INVALID },
    { GRPC_NOT_FOUND, ACME_ERR_NOT_FOUND },      { GRPC_RESOURCE_EXHAUSTED, ACME_ERR_TOO_LARGE },
    { GRPC_UNAVAILABLE, ACME_ERR_NETWORK },      { GRPC_DEADLINE_EXCEEDED, ACME_ERR_TIMEOUT },
};

/* The member's refusal as a library error. */
static int member_error(const char *ep, long status, long long code, const char *msg,
                        acme__err *err)
{
    int rc = ACME_ERR_HTTP;
    for (size_t i = 0; i < sizeof(grpc_codes) / sizeof(grpc_codes[0]); i++)
        if (grpc_codes[i].code == code)
            rc = grpc_codes[i].rc;
    if (msg && strstr(msg, "too large")) /* a request over the member's limit */
        rc = ACME_ERR_TOO_LARGE;
    return acme__fail(err, rc, "etcd member %s: %s (HTTP %ld, code %lld)", ep,
                      msg ? msg : "no message", status, code);
}

static int authenticate(etcd *e, size_t ep, acme__err *err);

/* POST body to path: on the member that answered last, then each other
 * one while members cannot serve, for a few rounds. *reply gets the 200
 * body. */
static int call(etcd *e, const char *path, const acme__buf *body, acme__buf *reply,
                acme__err *err)
{
    if (acme__buf_status(body) != ACME_OK)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    size_t start = atomic_load(&e->cur);
    acme__err last = ACME__ERR_QUIET;
    int rc = ACME_ERR_NETWORK, reauthed = 0, answered = 0;
    for (size_t i = 0; i < e->neps * ROUNDS && !answered; i++) {
        if (i && i % e->neps == 0)
            acme__sleep_ms(ROUND_PAUSE_MS); /* every member away: an election, a restart */
        size_t idx = (start + i) % e->neps;
        const char *ep = e->eps[idx];
        char url[600];
        snprintf(url, sizeof(url), "%s%s", ep, path);
        pthread_mutex_lock(&e->mu);
        char *hdr = e->auth ? acme__strdup(e->auth) : NULL;
        int hdr_oom = e->auth && !hdr;
        pthread_mutex_unlock(&e->mu);
        if (hdr_oom)
            return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
        acme__response res;
        acme__err_clear(&last);
        rc = acme__http_request_hdr(e->http, "POST", url, body->data, body->len,
                                    "application/json", "application/json", hdr, 0, &res, &last);
        free(hdr);
        if (rc != ACME_OK) {
            acme__response_free(&res);
            continue; /* this member is away: the next one */
        }
        if (res.status == 200) {
            atomic_store(&e->cur, idx);
            *reply = res.body;
            memset(&res.body, 0, sizeof(res.body));
            acme__response_free(&res);
            acme__err_clear(&last);
            return ACME_OK;
        }
        long long code;
        char *msg;
        acme__etcd_parse_error(res.body.data ? res.body.data : "", res.body.len, &code, &msg);
        if (!msg)
            msg = text_excerpt(&res.body);
        long status = res.status;
        acme__buf_wipe(&res.body);
        acme__response_free(&res);
        rc = member_error(ep, status, code, msg, &last);
        int expired = e->user && !reauthed &&
                      (code == GRPC_UNAUTHENTICATED || (msg && strstr(msg, "invalid auth token")));
        free(msg);
        if (expired) {
            /* The token expired (or the member restarted): once more with a new one. */
            reauthed = 1;
            acme__err_clear(&last);
            rc = authenticate(e, idx, &last);
            if (rc != ACME_OK && rc != ACME_ERR_NETWORK && rc != ACME_ERR_TIMEOUT)
                break;
            i--;
            continue;
        }
        /* An answer, even a refusal: another member gives the same. */
        answered = code != GRPC_UNAVAILABLE && code != GRPC_DEADLINE_EXCEEDED && status != 503;
    }
    acme__err_forward(err, &last);
    if (!err || !err->code)
        acme__fail(err, rc, "etcd: no member answered");
    acme__err_clear(&last);
    return rc;
}

static int authenticate(etcd *e, size_t ep, acme__err *err)
{
    acme__buf body = ACME__BUF_INIT, reply = ACME__BUF_INIT;
    acme__buf_puts(&body, "{\"name\":");
    acme__json_put_string(&body, e->user);
    acme__buf_puts(&body, ",\"password\":");
    acme__json_put_string(&body, e->pass ? e->pass : "");
    acme__buf_putc(&body, '}');
    char url[600];
    snprintf(url, sizeof(url), "%s/v3/auth/authenticate", e->eps[ep]);
    acme__response res;
    int rc = acme__buf_status(&body) == ACME_OK
                 ? acme__http_request_hdr(e->http, "POST", url, body.data, body.len,
                                          "application/json", "application/json", NULL, 0,
                                          &res, err)
                 : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    acme__buf_wipe(&body);
    if (rc != ACME_OK) {
        acme__response_free(&res);
        return rc;
    }
    char *token = NULL;
    if (res.status != 200) {
        long long code;
        char *msg;
        acme__etcd_parse_error(res.body.data ? res.body.data : "", res.body.len, &code, &msg);
        if (!msg)
            msg = text_excerpt(&res.body);
        rc = member_error(e->eps[ep], res.status, code, msg, err);
        free(msg);
    } else {
        rc = acme__etcd_parse_auth(res.body.data ? res.body.data : "", res.body.len, &token, err);
    }
    acme__buf_wipe(&res.body);
    acme__response_free(&res);
    acme__buf_free(&reply);
    if (rc != ACME_OK)
        return rc;
    acme__buf h = ACME__BUF_INIT;
    acme__buf_printf(&h, "Authorization: %s", token);
    acme__free_secret_str(token);
    char *line = acme__buf_detach(&h);
    if (!line)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&e->mu);
    acme__free_secret_str(e->auth);
    e->auth = line;
    pthread_mutex_unlock(&e->mu);
    return ACME_OK;
}

/* ---- callbacks ---------------------------------------------------------- */

static int check_reserved(const char *key, acme__err *err)
{
    size_t n = strlen(LOCKS);
    if (strncmp(key, LOCKS, n) == 0 && (key[n] == '\0' || key[n] == '/'))
        return acme__fail(err, ACME_ERR_INVALID,
                          "the top-level name \"" LOCKS "\" is reserved for lock keys");
    return ACME_OK;
}

static int etcd_read(const char *key, acme_buffer *out, void *userdata, acme__err *err)
{
    etcd *e = userdata;
    int rc = check_reserved(key, err);
    if (rc != ACME_OK)
        return rc;
    acme__buf body = ACME__BUF_INIT, reply = ACME__BUF_INIT;
    acme__buf_puts(&body, "{\"key\":");
    put_key(&body, e, key, NULL);
    acme__buf_putc(&body, '}');
    rc = call(e, "/v3/kv/range", &body, &reply, err);
    acme__buf_free(&body);
    if (rc == ACME_OK) {
        acme__buf value = ACME__BUF_INIT;
        rc = acme__etcd_parse_value(reply.data ? reply.data : "", reply.len, out->max, &value,
                                    err);
        if (rc == ACME_OK)
            rc = acme_buffer_append(out, value.data ? value.data : "", value.len);
        acme__buf_wipe(&value);
        if (rc == ACME_ERR_NOT_FOUND)
            acme__fail(err, rc, "not found");
    }
    acme__buf_wipe(&reply);
    return rc;
}

/* One change as a request_put or request_delete_range of a txn. */
static void put_op(acme__buf *b, const etcd *e, const acme__store_put *p)
{
    if (p->remove) {
        acme__buf_puts(b, "{\"request_delete_range\":{\"key\":");
        put_key(b, e, p->key, NULL);
        acme__buf_puts(b, "}}");
    } else {
        acme__buf_puts(b, "{\"request_put\":{\"key\":");
        put_key(b, e, p->key, NULL);
        acme__buf_puts(b, ",\"value\":");
        put_b64(b, p->data, p->len);
        acme__buf_puts(b, "}}");
    }
}

static int etcd_commit(const acme__store_put *puts, size_t n, const char *lock, uint64_t token,
                       void *userdata, acme__err *err)
{
    etcd *e = userdata;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = check_reserved(puts[i].key, err);
        if (rc != ACME_OK)
            return rc;
        if (!puts[i].remove && puts[i].len > ACME__STORE_MAX_VALUE)
            return acme__fail(err, ACME_ERR_TOO_LARGE, "%s: a value is larger than %d bytes",
                              puts[i].key, ACME__STORE_MAX_VALUE);
        total += puts[i].remove ? 0 : puts[i].len;
    }
    if (total > ACME__STORE_MAX_VALUE)
        return acme__fail(err, ACME_ERR_TOO_LARGE, "a commit is larger than %d bytes",
                          ACME__STORE_MAX_VALUE);
    acme__buf body = ACME__BUF_INIT, reply = ACME__BUF_INIT;
    acme__buf_puts(&body, "{");
    if (lock) {
        /* Fencing: only while the lock key is the one created with token. */
        acme__buf_puts(&body, "\"compare\":[{\"target\":\"CREATE\",\"result\":\"EQUAL\",\"key\":");
        put_key(&body, e, LOCKS "/", lock);
        acme__buf_printf(&body, ",\"create_revision\":\"%" PRIu64 "\"}],", token);
    }
    acme__buf_puts(&body, "\"success\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            acme__buf_putc(&body, ',');
        put_op(&body, e, &puts[i]);
    }
    acme__buf_puts(&body, "]}");
    int rc = call(e, "/v3/kv/txn", &body, &reply, err);
    acme__buf_wipe(&body);
    if (rc == ACME_OK) {
        int ok;
        int64_t rev;
        rc = acme__etcd_parse_txn(reply.data ? reply.data : "", reply.len, &ok, &rev, err);
        if (rc == ACME_OK && !ok)
            rc = acme__fail(err, ACME_ERR_LOCKED,
                            "lock %s is no longer held with token %" PRIu64
                            " (its lease ran out and it was taken or freed); refused",
                            lock ? lock : "", token);
    }
    acme__buf_free(&reply);
    return rc;
}

static int etcd_write(const char *key, const void *data, size_t len, int secret, void *userdata,
                      acme__err *err)
{
    acme__store_put p = { key, data, len, secret, 0 };
    return etcd_commit(&p, 1, NULL, 0, userdata, err);
}

static int etcd_remove(const char *key, void *userdata, acme__err *err)
{
    acme__store_put p = { key, NULL, 0, 0, 1 };
    return etcd_commit(&p, 1, NULL, 0, userdata, err);
}

static int etcd_list(const char *prefix, acme_buffer *out, void *userdata, acme__err *err)
{
    etcd *e = userdata;
    int rc = check_reserved(prefix, err);
    if (rc != ACME_OK)
        return rc;
    acme__buf body = ACME__BUF_INIT, reply = ACME__BUF_INIT, under = ACME__BUF_INIT;
    acme__buf_printf(&under, "%s%s/", e->prefix, prefix);
    acme__buf_puts(&body, "{\"key\":");
    put_key(&body, e, prefix, "/");
    acme__buf_puts(&body, ",\"range_end\":");
    put_children_end(&body, e, prefix);
    acme__buf_printf(&body, ",\"keys_only\":true,\"limit\":%d}", LIST_LIMIT);
    rc = acme__buf_status(&under) == ACME_OK ? call(e, "/v3/kv/range", &body, &reply, err)
                                             : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    acme__buf_free(&body);
    if (rc == ACME_OK) {
        acme__buf names = ACME__BUF_INIT;
        int more;
        rc = acme__etcd_parse_children(reply.data ? reply.data : "", reply.len, under.data,
                                       out->max, &names, &more, err);
        if (rc == ACME_OK && more)
            rc = acme__fail(err, ACME_ERR_TOO_LARGE, "more than %d keys under %s", LIST_LIMIT,
                            prefix);
        if (rc == ACME_OK && names.len)
            rc = acme_buffer_append(out, names.data, names.len);
        acme__buf_free(&names);
    }
    acme__buf_free(&reply);
    acme__buf_free(&under);
    return rc;
}

/* With e->mu held: the lock `name` this store took, or NULL. */
static etcd_lock *lock_find(etcd *e, const char *name)
{
    size_t i = 0;
    while (i < e->nlocks && strcmp(e->locks[i].name, name) != 0)
        i++;
    return i < e->nlocks ? &e->locks[i] : NULL;
}

static void lease_revoke(etcd *e, int64_t lease)
{
    acme__buf body = ACME__BUF_INIT, reply = ACME__BUF_INIT;
    acme__buf_printf(&body, "{\"ID\":\"%" PRId64 "\"}", lease);
    acme__err ignore = ACME__ERR_QUIET; /* it runs out by itself otherwise */
    call(e, "/v3/lease/revoke", &body, &reply, &ignore);
    acme__err_clear(&ignore);
    acme__buf_free(&body);
    acme__buf_free(&reply);
}

static int etcd_lease(const char *name, unsigned int ttl_s, uint64_t *token, void *userdata,
                      acme__err *err)
{
    etcd *e = userdata;
    if (ttl_s < MIN_TTL_S)
        ttl_s = MIN_TTL_S;
    acme__buf body = ACME__BUF_INIT, reply = ACME__BUF_INIT;
    acme__buf_printf(&body, "{\"TTL\":\"%u\"}", ttl_s);
    int rc = call(e, "/v3/lease/grant", &body, &reply, err);
    int64_t lease = 0, ttl = 0;
    if (rc == ACME_OK)
        rc = acme__etcd_parse_lease(reply.data ? reply.data : "", reply.len, &lease, &ttl, err);
    if (rc == ACME_OK && lease == 0)
        rc = acme__fail(err, ACME_ERR_PROTOCOL, "etcd: a lease grant without an ID");
    acme__buf_free(&body);
    acme__buf_free(&reply);
    if (rc != ACME_OK)
        return rc;

    /* Create the lock key bound to the lease, only if nobody has it. */
    acme__buf_puts(&body, "{\"compare\":[{\"target\":\"CREATE\",\"result\":\"EQUAL\",\"key\":");
    put_key(&body, e, LOCKS "/", name);
    acme__buf_puts(&body, ",\"create_revision\":\"0\"}],\"success\":[{\"request_put\":{\"key\":");
    put_key(&body, e, LOCKS "/", name);
    acme__buf_puts(&body, ",\"value\":");
    put_b64(&body, e->holder, strlen(e->holder));
    /* When it is taken: whose lease holds it, and since which revision. */
    acme__buf_printf(&body, ",\"lease\":\"%" PRId64 "\"}}],\"failure\":[{\"request_range\":{\"key\":",
                     lease);
    put_key(&body, e, LOCKS "/", name);
    acme__buf_puts(&body, "}}]}");
    rc = call(e, "/v3/kv/txn", &body, &reply, err);
    int ok = 0;
    int64_t rev = 0, held_by = 0, since = 0;
    const char *r = reply.data ? reply.data : "";
    if (rc == ACME_OK)
        rc = acme__etcd_parse_txn(r, reply.len, &ok, &rev, err);
    /* A member that applied the txn but whose answer was lost (it died
     * just then), and the retry on the next member: the key is there
     * already, under this very lease, so the lock is ours. */
    if (rc == ACME_OK && !ok && acme__etcd_parse_holder(r, reply.len, &held_by, &since) == ACME_OK &&
        held_by == lease && since > 0) {
        ok = 1;
        rev = since;
    }
    if (rc == ACME_OK && !ok)
        rc = acme__fail(err, ACME_ERR_LOCKED, "lock %s is held by another node", name);
    acme__buf_free(&body);
    acme__buf_free(&reply);
    if (rc == ACME_OK) {
        pthread_mutex_lock(&e->mu);
        char *copy = acme__strdup(name);
        if (copy && e->nlocks == e->caplocks) {
            size_t cap = e->caplocks ? e->caplocks * 2 : 4;
            etcd_lock *v = realloc(e->locks, cap * sizeof(*v));
            if (v) {
                e->locks = v;
                e->caplocks = cap;
            }
        }
        if (copy && e->nlocks < e->caplocks) {
            /* The txn put the key: its create revision is the txn's. */
            e->locks[e->nlocks++] = (etcd_lock){ copy, lease, (uint64_t)rev };
            *token = (uint64_t)rev;
        } else {
            free(copy);
            rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
        }
        pthread_mutex_unlock(&e->mu);
    }
    if (rc != ACME_OK)
        lease_revoke(e, lease); /* frees the lock key too, if it was made */
    return rc;
}

static int etcd_renew(const char *name, uint64_t token, unsigned int ttl_s, void *userdata,
                      acme__err *err)
{
    (void)ttl_s; /* a keepalive restores the TTL the lease was granted with */
    etcd *e = userdata;
    pthread_mutex_lock(&e->mu);
    etcd_lock *l = lock_find(e, name);
    int64_t lease = l && l->token == token ? l->lease : 0;
    pthread_mutex_unlock(&e->mu);
    if (!lease)
        return acme__fail(err, ACME_ERR_LOCKED, "lock %s is not held with token %" PRIu64, name,
                          token);
    acme__buf body = ACME__BUF_INIT, reply = ACME__BUF_INIT;
    acme__buf_printf(&body, "{\"ID\":\"%" PRId64 "\"}", lease);
    int rc = call(e, "/v3/lease/keepalive", &body, &reply, err);
    int64_t id = 0, ttl = 0;
    if (rc == ACME_OK)
        rc = acme__etcd_parse_lease(reply.data ? reply.data : "", reply.len, &id, &ttl, err);
    if (rc == ACME_OK && ttl <= 0)
        rc = acme__fail(err, ACME_ERR_LOCKED, "the lease of lock %s ran out", name);
    else if (rc == ACME_ERR_NOT_FOUND)
        rc = acme__fail(err, ACME_ERR_LOCKED, "the lease of lock %s is gone", name);
    acme__buf_free(&body);
    acme__buf_free(&reply);
    return rc;
}

static int etcd_lock_plain(const char *name, void *userdata, acme__err *err)
{
    uint64_t token;
    return etcd_lease(name, DEFAULT_TTL_S, &token, userdata, err);
}

static void etcd_unlock(const char *name, void *userdata)
{
    etcd *e = userdata;
    pthread_mutex_lock(&e->mu);
    etcd_lock *l = lock_find(e, name);
    int64_t lease = 0;
    if (l) {
        lease = l->lease;
        free(l->name);
        *l = e->locks[--e->nlocks];
    }
    pthread_mutex_unlock(&e->mu);
    if (lease)
        lease_revoke(e, lease);
}

static void etcd_free(void *userdata)
{
    etcd *e = userdata;
    if (!e)
        return;
    while (e->nlocks)
        etcd_unlock(e->locks[e->nlocks - 1].name, e);
    free(e->locks);
    acme__http_free(e->http);
    acme__free_strv(e->eps, e->neps);
    char *secrets[] = { e->pass, e->auth };
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        acme__free_secret_str(secrets[i]);
    free(e->prefix);
    free(e->user);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

/* ---- constructor -------------------------------------------------------- */

ACME__OPTIONS_DEFINE(etcd_versions, ACME_ETCD_OPTIONS_VERSION, "etcd options",
                     "acme_etcd_options_init",
                     ACME__OPTIONS_END(acme_etcd_options, lease_ttl_s)); /* 1 */

int acme_etcd_options_init(acme_etcd_options *opts, unsigned int version)
{
    return acme__options_init(&etcd_versions, opts, version, NULL);
}

/* "HOST:PORT", "https://HOST:PORT" or "http://HOST:PORT" (a path or a
 * trailing '/' is not allowed: requests append theirs). */
static int endpoint(const char *text, size_t len, char **out, int *plain, acme__err *err)
{
    *out = NULL;
    while (len && (*text == ' ' || *text == '\t')) {
        text++;
        len--;
    }
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    const char *scheme = "https://";
    if (len >= 8 && strncmp(text, "https://", 8) == 0) {
        text += 8;
        len -= 8;
    } else if (len >= 7 && strncmp(text, "http://", 7) == 0) {
        text += 7;
        len -= 7;
        scheme = "http://";
        *plain = 1;
    }
    int ok = len > 0 && len < 256;
    for (size_t i = 0; ok && i < len; i++)
        ok = (text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z') ||
             (text[i] >= '0' && text[i] <= '9') || strchr(".-:[]", text[i]) != NULL;
    if (!ok)
        return acme__fail(err, ACME_ERR_INVALID, "etcd: \"%.*s\" is not HOST:PORT or a URL of one",
                          (int)(len < 200 ? len : 200), text);
    acme__buf b = ACME__BUF_INIT;
    acme__buf_printf(&b, "%s%.*s", scheme, (int)len, text);
    *out = acme__buf_detach(&b);
    return *out ? ACME_OK : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
}

static int parse_endpoints(etcd *e, const char *list, int *plain, acme__err *err)
{
    size_t n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    if (!(e->eps = calloc(n, sizeof(char *))))
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int rc = endpoint(p, len, &e->eps[e->neps], plain, err);
        if (rc != ACME_OK)
            return rc;
        e->neps++;
        if (!comma)
            break;
        p = comma + 1;
    }
    return ACME_OK;
}

static int etcd_open(etcd *e, const acme_etcd_options *o, acme__err *err)
{
    if (!o->endpoints || !*o->endpoints)
        return acme__fail(err, ACME_ERR_INVALID, "etcd: no endpoints given");
    if (!o->client_cert != !o->client_key)
        return acme__fail(err, ACME_ERR_INVALID,
                          "etcd: a client certificate and its key go together");
    if (o->prefix && *o->prefix &&
        (!acme__store_key_valid(o->prefix) || strlen(o->prefix) > 200))
        return acme__fail(err, ACME_ERR_INVALID,
                          "etcd: the prefix \"%.200s\" is not made of key segments", o->prefix);
    int plain = 0;
    int rc = parse_endpoints(e, o->endpoints, &plain, err);
    if (rc != ACME_OK)
        return rc;
    acme__buf b = ACME__BUF_INIT;
    if (o->prefix && *o->prefix)
        acme__buf_printf(&b, "%s/", o->prefix);
    else
        acme__buf_puts(&b, "");
    e->prefix = acme__buf_detach(&b);
    e->user = o->username ? acme__strdup(o->username) : NULL;
    e->pass = o->password ? acme__strdup(o->password) : NULL;
    if (!e->prefix || (o->username && !e->user) || (o->password && !e->pass))
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    char host[64] = "";
    gethostname(host, sizeof(host) - 1);
    snprintf(e->holder, sizeof(e->holder), "%s:%ld", host, (long)getpid());
    acme__http_config cfg = {
        .ca_bundle = o->ca_bundle,
        .connect_timeout_ms = 3000,
        .timeout_ms = o->timeout_ms ? (long)o->timeout_ms : DEFAULT_TIMEOUT_MS,
        .max_body = MAX_REPLY,
        .user_agent = "libacme-etcd",
        .client_cert = o->client_cert,
        .client_key = o->client_key,
        .allow_http = plain,
    };
    if (cfg.connect_timeout_ms > cfg.timeout_ms)
        cfg.connect_timeout_ms = cfg.timeout_ms;
    rc = acme__http_new(&e->http, &cfg, err);
    if (rc != ACME_OK)
        return rc;
    if (e->user) {
        /* The first member that answers hands out the token. */
        for (size_t i = 0; i < e->neps; i++) {
            acme__err_clear(err);
            rc = authenticate(e, i, err);
            if (rc == ACME_OK || rc == ACME_ERR_INVALID)
                break;
        }
        if (rc != ACME_OK)
            return rc;
    }
    /* One request now: a wrong address, CA or password fails here. */
    acme__buf body = ACME__BUF_INIT, reply = ACME__BUF_INIT;
    acme__buf_puts(&body, "{\"key\":");
    put_key(&body, e, "meta", NULL);
    acme__buf_puts(&body, ",\"count_only\":true}");
    rc = call(e, "/v3/kv/range", &body, &reply, err);
    acme__buf_free(&body);
    acme__buf_free(&reply);
    return rc;
}

int acme_store_new_etcd(acme_store **out, const acme_etcd_options *opts)
{
    acme_etcd_options o;
    int rc = acme__store_open_args(out, &etcd_versions, &o, sizeof(o), opts, "etcd options");
    if (rc != ACME_OK)
        return rc;
    etcd *e = calloc(1, sizeof(*e));
    if (!e || pthread_mutex_init(&e->mu, NULL) != 0) {
        free(e);
        return acme__fail(NULL, ACME_ERR_NOMEM, "store: out of memory");
    }
    atomic_init(&e->cur, 0);
    acme__err err = ACME__ERR_QUIET;
    rc = etcd_open(e, &o, &err);
    if (rc != ACME_OK) {
        acme__fail(NULL, rc, "store: %s", err.msg);
        acme__err_clear(&err);
        etcd_free(e);
        return rc;
    }
    static const acme__store_backend backend = {
        etcd_read, etcd_write,  etcd_remove, etcd_list,   etcd_lock_plain, etcd_unlock,
        NULL,      NULL,        etcd_lease,  etcd_renew,  etcd_commit,     1,
        NULL,      NULL, /* no aliases: the commit transaction switches the stable keys too */
    };
    acme_store *s;
    rc = acme__store_new_backend(&s, &backend, e, etcd_free, &err);
    if (rc != ACME_OK) {
        acme__fail(NULL, rc, "%s", err.msg);
        acme__err_clear(&err);
        return rc;
    }
    unsigned int ttl = o.lease_ttl_s ? o.lease_ttl_s : DEFAULT_TTL_S;
    s->lease_ttl_s = ttl < MIN_TTL_S ? MIN_TTL_S : ttl;
    *out = s;
    return ACME_OK;
}
