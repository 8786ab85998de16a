/* The store wrapper: a table of host (or built-in) callbacks behind
 * validated keys, bounded reads, lists as arrays and errors that name the
 * key. Built-in stores (store_fs.c) may add a path and a link callback
 * (acme__store_backend). */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/mem.h"
#include "base/options.h"

/* Longest key (acme/store.h). */
#define KEY_MAX 1024

/* ---- buffers ------------------------------------------------------------ */

int acme_buffer_append(acme_buffer *b, const void *data, size_t len)
{
    if (!b || (!data && len))
        return acme__fail(NULL, ACME_ERR_INVALID, "store: acme_buffer_append: NULL argument");
    if (b->too_large || len > b->max || b->buf.len > b->max - len) {
        b->too_large = 1;
        return acme__fail(NULL, ACME_ERR_TOO_LARGE, "store: a value is larger than %zu bytes",
                          b->max);
    }
    if (acme__buf_append(&b->buf, data, len) != ACME_OK)
        return acme__fail(NULL, ACME_ERR_NOMEM, "store: out of memory");
    return ACME_OK;
}

/* ---- keys --------------------------------------------------------------- */

int acme__store_key_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '@' || c == '+' || c == '-';
}

int acme__store_key_valid(const char *key)
{
    if (!key || !*key)
        return 0;
    size_t total = 0;
    const char *seg = key;
    for (const char *p = key;; p++) {
        if (++total > KEY_MAX + 1)
            return 0;
        if (*p == '/' || *p == '\0') {
            size_t n = (size_t)(p - seg);
            if (n == 0)
                return 0; /* leading, trailing or doubled '/' */
            if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
                return 0;
            if (*p == '\0')
                break;
            seg = p + 1;
        } else if (!acme__store_key_char((unsigned char)*p)) {
            return 0;
        }
    }
    return total - 1 <= KEY_MAX;
}

/* ---- handles ------------------------------------------------------------ */

/* The bytes of each version of acme_store_ops, oldest first: a field
 * appended as a new version appends its line (doc/ABI.md). */
ACME__OPTIONS_DEFINE(ops_versions, ACME_STORE_OPS_VERSION, "store callbacks",
                     "acme_store_ops_init",
                     ACME__OPTIONS_END(acme_store_ops, unlock)); /* 1 */

int acme_store_ops_init(acme_store_ops *ops, unsigned int version)
{
    return acme__options_init(&ops_versions, ops, version, NULL);
}

int acme_store_new(acme_store **out, const acme_store_ops *ops, void *userdata)
{
    if (!out)
        return acme__fail(NULL, ACME_ERR_INVALID, "store: NULL output");
    *out = NULL;
    if (!ops)
        return acme__fail(NULL, ACME_ERR_INVALID, "store: NULL callbacks");
    acme_store_ops own;
    int rc = acme__options_copy(&ops_versions, &own, sizeof(own), ops, NULL);
    if (rc != ACME_OK)
        return rc;
    if (!own.read || !own.write || !own.remove || !own.list || !own.lock || !own.unlock)
        return acme__fail(NULL, ACME_ERR_INVALID,
                          "store: every callback (read, write, remove, list, lock, unlock) is required");
    acme_store *s = calloc(1, sizeof(*s));
    if (!s)
        return acme__fail(NULL, ACME_ERR_NOMEM, "store: out of memory");
    atomic_init(&s->refs, 1);
    s->ops = own;
    s->userdata = userdata;
    *out = s;
    return ACME_OK;
}

int acme__store_new_backend(acme_store **out, const acme__store_backend *backend, void *userdata,
                            void (*free_userdata)(void *), acme__err *err)
{
    acme_store *s = calloc(1, sizeof(*s));
    if (!s) {
        free_userdata(userdata);
        return acme__fail(err, ACME_ERR_NOMEM, "store: out of memory");
    }
    atomic_init(&s->refs, 1);
    s->backend = backend;
    s->userdata = userdata;
    s->free_userdata = free_userdata;
    *out = s;
    return ACME_OK;
}

acme_store *acme__store_ref(acme_store *s)
{
    if (s)
        atomic_fetch_add(&s->refs, 1);
    return s;
}

void acme_store_free(acme_store *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    if (s->free_userdata)
        s->free_userdata(s->userdata);
    acme__err_clear(&s->err);
    free(s);
}

int acme__store_path(const acme_store *s, const char *key, char **path_out, acme__err *err)
{
    if (!path_out)
        return acme__fail(err, ACME_ERR_INVALID, "store: NULL output");
    *path_out = NULL;
    if (!s || !key)
        return acme__fail(err, ACME_ERR_INVALID, "store: NULL argument");
    if (!s->backend || !s->backend->path)
        return acme__fail(err, ACME_ERR_UNSUPPORTED,
                          "store: not a filesystem store; keys have no path");
    if (!acme__store_key_valid(key))
        return acme__fail(err, ACME_ERR_INVALID, "store: invalid key \"%.200s\"", key);
    char *path = s->backend->path(key, s->userdata);
    if (!path)
        return acme__fail(err, ACME_ERR_NOMEM, "store: out of memory");
    *path_out = path;
    return ACME_OK;
}

acme__err *acme__store_record(const acme_store *s)
{
    return s ? (acme__err *)&s->err : NULL;
}


int acme_store_path(const acme_store *s, const char *key, char **path_out)
{
    return acme__store_path(s, key, path_out, acme__store_record(s));
}

const char *acme_store_last_error(const acme_store *s)
{
    return s ? acme__err_msg(&s->err) : "";
}

int acme_store_get(acme_store *s, const char *key, char **data, size_t *len)
{
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!data)
        return acme__fail(acme__store_record(s), ACME_ERR_INVALID, "store: NULL output");
    acme__buf b = ACME__BUF_INIT;
    int rc = acme__store_read(s, key, &b, acme__store_record(s));
    if (rc != ACME_OK)
        return rc;
    size_t n = b.len;
    char *d = acme__buf_detach(&b);
    if (!d)
        return acme__fail(acme__store_record(s), ACME_ERR_NOMEM, "store: out of memory");
    *data = d;
    if (len)
        *len = n;
    return ACME_OK;
}

int acme_store_put(acme_store *s, const char *key, const void *data, size_t len, int secret)
{
    return acme__store_write(s, key, data, len, secret, acme__store_record(s));
}

/* ---- internal API ------------------------------------------------------- */

/* An operation failed with rc: pass the code on, with a message that
 * names the operation and the key, and the reason a built-in backend
 * recorded in why (a host's callback gives only its code). */
static int cb_fail(int rc, acme__err *why, const char *verb, const char *key, acme__err *err)
{
    if (rc > 0)
        rc = ACME_ERR_CALLBACK; /* not an acme_error code */
    rc = acme__fail(err, rc, "store: cannot %s %s: %s", verb, key,
                    why->code ? why->msg : acme_strerror(rc));
    acme__err_clear(why);
    return rc;
}

static int check_key(const acme_store *s, const char *key, const char *what, acme__err *err)
{
    if (!s || !key)
        return acme__fail(err, ACME_ERR_INVALID, "store: NULL argument");
    if (!acme__store_key_valid(key))
        return acme__fail(err, ACME_ERR_INVALID, "store: invalid %s \"%.200s\"", what, key);
    return ACME_OK;
}

/* Run a read-like callback (read, list) into a bounded buffer. */
static int fetch(acme_store *s, int list, const char *key, acme_buffer *b, acme__err *err)
{
    acme__err why = ACME__ERR_QUIET;
    const acme__store_backend *be = s->backend;
    int rc = be ? (list ? be->list(key, b, s->userdata, &why) : be->read(key, b, s->userdata, &why))
                : (list ? s->ops.list(key, b, s->userdata) : s->ops.read(key, b, s->userdata));
    if (rc == ACME_OK && b->too_large)
        rc = acme__fail(err, ACME_ERR_TOO_LARGE, "store: cannot %s %s: larger than %zu bytes",
                        list ? "list" : "read", key, b->max);
    else if (rc == ACME_OK && acme__buf_status(&b->buf) != ACME_OK)
        rc = acme__fail(err, ACME_ERR_NOMEM, "store: cannot %s %s: out of memory",
                        list ? "list" : "read", key);
    else if (rc != ACME_OK)
        rc = cb_fail(rc, &why, list ? "list" : "read", key, err);
    acme__err_clear(&why);
    if (rc != ACME_OK)
        acme__buf_wipe(&b->buf);
    return rc;
}

int acme__store_read(acme_store *s, const char *key, acme__buf *out, acme__err *err)
{
    int rc = check_key(s, key, "key", err);
    if (rc != ACME_OK)
        return rc;
    if (!out)
        return acme__fail(err, ACME_ERR_INVALID, "store: NULL output");
    acme_buffer b = { ACME__BUF_INIT, ACME__STORE_MAX_VALUE, 0 };
    rc = fetch(s, 0, key, &b, err);
    if (rc != ACME_OK)
        return rc;
    if (!out->data && !out->oom) {
        *out = b.buf; /* hand the buffer over: no copy of key material */
        return ACME_OK;
    }
    rc = acme__buf_append(out, b.buf.data ? b.buf.data : "", b.buf.len);
    acme__buf_wipe(&b.buf);
    if (rc != ACME_OK)
        return acme__fail(err, ACME_ERR_NOMEM, "store: cannot read %s: out of memory", key);
    return ACME_OK;
}

int acme__store_write(acme_store *s, const char *key, const void *data, size_t len, int secret,
                      acme__err *err)
{
    int rc = check_key(s, key, "key", err);
    if (rc != ACME_OK)
        return rc;
    if (!data && len)
        return acme__fail(err, ACME_ERR_INVALID, "store: cannot write %s: NULL data", key);
    acme__err why = ACME__ERR_QUIET;
    if (!data)
        data = "";
    rc = s->backend ? s->backend->write(key, data, len, secret ? 1 : 0, s->userdata, &why)
                    : s->ops.write(key, data, len, secret ? 1 : 0, s->userdata);
    return rc == ACME_OK ? ACME_OK : cb_fail(rc, &why, "write", key, err);
}

int acme__store_write_same(acme_store *s, const char *from_key, const char *to_key,
                           const void *data, size_t len, int secret, acme__err *err)
{
    int rc = check_key(s, from_key, "key", err);
    if (rc == ACME_OK)
        rc = check_key(s, to_key, "key", err);
    if (rc != ACME_OK)
        return rc;
    if (s->backend && s->backend->link) {
        acme__err why = ACME__ERR_QUIET;
        rc = s->backend->link(from_key, to_key, s->userdata, &why);
        if (rc == ACME_OK)
            return ACME_OK;
        if (rc != ACME_ERR_UNSUPPORTED)
            return cb_fail(rc, &why, "write", to_key, err);
        acme__err_clear(&why);
    }
    return acme__store_write(s, to_key, data, len, secret, err);
}

int acme__store_remove(acme_store *s, const char *key, acme__err *err)
{
    int rc = check_key(s, key, "key", err);
    if (rc != ACME_OK)
        return rc;
    acme__err why = ACME__ERR_QUIET;
    rc = s->backend ? s->backend->remove(key, s->userdata, &why) : s->ops.remove(key, s->userdata);
    return rc == ACME_OK ? ACME_OK : cb_fail(rc, &why, "remove", key, err);
}

int acme__store_list(acme_store *s, const char *prefix, char ***names, size_t *n,
                     acme__err *err)
{
    if (names)
        *names = NULL;
    if (n)
        *n = 0;
    int rc = check_key(s, prefix, "prefix", err);
    if (rc != ACME_OK)
        return rc;
    if (!names || !n)
        return acme__fail(err, ACME_ERR_INVALID, "store: NULL output");
    acme_buffer b = { ACME__BUF_INIT, ACME__STORE_MAX_LIST, 0 };
    rc = fetch(s, 1, prefix, &b, err);
    if (rc != ACME_OK)
        return rc;

    /* At most one name per line; the array ends with an extra NULL. */
    size_t cap = 1;
    for (size_t i = 0; i < b.buf.len; i++)
        cap += b.buf.data[i] == '\n';
    if (b.buf.len && b.buf.data[b.buf.len - 1] != '\n')
        cap++;
    char **v = calloc(cap, sizeof(*v));
    size_t count = 0;
    const char *p = b.buf.data ? b.buf.data : "";
    const char *end = p + b.buf.len;
    while (v && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        /* Empty lines, names with '/' or NUL, and other invalid segments
         * are dropped: a list gives names to append to the prefix. */
        if (len && !memchr(p, '/', len) && !memchr(p, '\0', len)) {
            char *name = acme__strndup(p, len);
            if (!name) {
                acme__free_strv(v, count);
                v = NULL;
                break;
            }
            if (acme__store_key_valid(name))
                v[count++] = name;
            else
                free(name);
        }
        p += len + 1;
    }
    acme__buf_free(&b.buf);
    if (!v)
        return acme__fail(err, ACME_ERR_NOMEM, "store: cannot list %s: out of memory", prefix);
    *names = v;
    *n = count;
    return ACME_OK;
}

int acme__store_lock(acme_store *s, const char *name, acme__err *err)
{
    int rc = check_key(s, name, "lock name", err);
    if (rc != ACME_OK)
        return rc;
    acme__err why = ACME__ERR_QUIET;
    rc = s->backend ? s->backend->lock(name, s->userdata, &why) : s->ops.lock(name, s->userdata);
    return rc == ACME_OK ? ACME_OK : cb_fail(rc, &why, "lock", name, err);
}

void acme__store_unlock(acme_store *s, const char *name)
{
    if (!s || !acme__store_key_valid(name))
        return;
    if (s->backend)
        s->backend->unlock(name, s->userdata);
    else
        s->ops.unlock(name, s->userdata);
}

/* How often a waiting lock is tried again. */
#define LOCK_POLL_MS 100

int acme__store_lock_wait(acme_store *s, const char *name, unsigned int timeout_s,
                          acme__err *err)
{
    int64_t deadline = acme__mono_ms() + (int64_t)timeout_s * 1000;
    for (;;) {
        acme__err lerr = ACME__ERR_QUIET;
        int rc = acme__store_lock(s, name, &lerr);
        if (rc != ACME_ERR_LOCKED || acme__mono_ms() >= deadline) {
            if (rc != ACME_OK)
                acme__fail(err, rc, "%s (waited %u s)", lerr.msg,
                           rc == ACME_ERR_LOCKED ? timeout_s : 0);
            acme__err_clear(&lerr);
            return rc;
        }
        acme__err_clear(&lerr);
        acme__sleep_ms(LOCK_POLL_MS);
    }
}

int acme__store_write_built(acme_store *s, char *key, acme__buf *b, int secret, acme__err *err)
{
    int rc = acme__buf_status(b) == ACME_OK && key
                 ? acme__store_write(s, key, b->data, b->len, secret, err)
                 : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    free(key);
    acme__buf_free(b);
    return rc;
}
