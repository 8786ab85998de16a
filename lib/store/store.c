/* The store wrapper: a table of host (or built-in) callbacks behind
 * validated keys, bounded reads, lists as arrays and errors that name the
 * key. Built-in stores (store_fs.c) may add a path and a link callback
 * (acme__store_backend). */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
                     ACME__OPTIONS_END(acme_store_ops, unlock), /* 1 */
                     ACME__OPTIONS_END(acme_store_ops, commit)); /* 2: lease, renew, commit */

int acme_store_ops_init(acme_store_ops *ops, unsigned int version)
{
    return acme__options_init(&ops_versions, ops, version, NULL);
}

static acme_store *store_alloc(void)
{
    acme_store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    pthread_condattr_t ca;
    int ok = pthread_condattr_init(&ca) == 0;
    /* The renewer waits on the monotonic clock: a wall clock step must not
     * make it miss a renewal. */
    if (ok && (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
               pthread_cond_init(&s->wake, &ca) != 0))
        ok = 0;
    if (ok && pthread_mutex_init(&s->mu, NULL) != 0) {
        pthread_cond_destroy(&s->wake);
        ok = 0;
    }
    if (ok && pthread_mutex_init(&s->err_lock, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->wake);
        ok = 0;
    }
    pthread_condattr_destroy(&ca);
    if (!ok) {
        free(s);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->lease_ttl_s = ACME__STORE_LEASE_TTL_S;
    return s;
}

int acme__store_open_args(acme_store **out, const acme__options_versions *v, void *own,
                          size_t own_size, const void *given, const char *what)
{
    if (!out)
        return acme__fail(NULL, ACME_ERR_INVALID, "store: NULL output");
    *out = NULL;
    if (!given)
        return acme__fail(NULL, ACME_ERR_INVALID, "store: NULL %s", what);
    return acme__options_copy(v, own, own_size, given, NULL);
}

int acme_store_new(acme_store **out, const acme_store_ops *ops, void *userdata)
{
    acme_store_ops own;
    int rc = acme__store_open_args(out, &ops_versions, &own, sizeof(own), ops, "callbacks");
    if (rc != ACME_OK)
        return rc;
    if (!own.read || !own.write || !own.remove || !own.list || !own.lock || !own.unlock)
        return acme__fail(NULL, ACME_ERR_INVALID,
                          "store: every callback (read, write, remove, list, lock, unlock) is required");
    if (!own.lease != !own.renew || !own.lease != !own.commit)
        return acme__fail(NULL, ACME_ERR_INVALID,
                          "store: lease, renew and commit go together: set all three or none");
    acme_store *s = store_alloc();
    if (!s)
        return acme__fail(NULL, ACME_ERR_NOMEM, "store: out of memory");
    s->ops = own;
    s->userdata = userdata;
    *out = s;
    return ACME_OK;
}

int acme__store_new_backend(acme_store **out, const acme__store_backend *backend, void *userdata,
                            void (*free_userdata)(void *), acme__err *err)
{
    acme_store *s = store_alloc();
    if (!s) {
        free_userdata(userdata);
        return acme__fail(err, ACME_ERR_NOMEM, "store: out of memory");
    }
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
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->mu);
    if (s->renewer_started)
        pthread_join(s->renewer, NULL);
    /* Locks still held go with the handle. */
    while (s->nleases) {
        char *name = s->leases[s->nleases - 1].name;
        acme__store_unlock(s, name);
    }
    free(s->leases);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->err_lock);
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

int acme__store_publish(const acme_store *s, int rc, acme__err *e)
{
    if (rc != ACME_OK && s) {
        /* Other threads' calls write the record too (the struct is the
         * library's, so a const handle's record may change). */
        acme_store *w = (acme_store *)s;
        pthread_mutex_lock(&w->err_lock);
        acme__err_forward(&w->err, e);
        pthread_mutex_unlock(&w->err_lock);
    }
    acme__err_clear(e);
    return rc;
}

int acme_store_path(const acme_store *s, const char *key, char **path_out)
{
    acme__err e = { 0 };
    return acme__store_publish(s, acme__store_path(s, key, path_out, &e), &e);
}

const char *acme_store_last_error(const acme_store *s)
{
    return s ? acme__err_msg(&s->err) : "";
}

int acme_store_last_error_copy(const acme_store *s, char *buf, size_t size)
{
    if (!s || (!buf && size))
        return acme__fail(NULL, ACME_ERR_INVALID, "store: NULL argument");
    acme_store *w = (acme_store *)s;
    pthread_mutex_lock(&w->err_lock);
    int len = acme__err_copy_msg(&w->err, buf, size);
    pthread_mutex_unlock(&w->err_lock);
    return len;
}

static int store_get(acme_store *s, const char *key, char **data, size_t *len, acme__err *rec)
{
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!data)
        return acme__fail(rec, ACME_ERR_INVALID, "store: NULL output");
    acme__buf b = ACME__BUF_INIT;
    int rc = acme__store_read(s, key, &b, rec);
    if (rc != ACME_OK)
        return rc;
    size_t n = b.len;
    char *d = acme__buf_detach(&b);
    if (!d)
        return acme__fail(rec, ACME_ERR_NOMEM, "store: out of memory");
    *data = d;
    if (len)
        *len = n;
    return ACME_OK;
}

int acme_store_get(acme_store *s, const char *key, char **data, size_t *len)
{
    acme__err e = { 0 };
    return acme__store_publish(s, store_get(s, key, data, len, &e), &e);
}

int acme_store_put(acme_store *s, const char *key, const void *data, size_t len, int secret)
{
    acme__err e = { 0 };
    return acme__store_publish(s, acme__store_write(s, key, data, len, secret, &e), &e);
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

/* ---- leases ------------------------------------------------------------- */

/* With s->mu held: the lease held on lock `name`, or NULL. */
static acme__store_lease *lease_find(acme_store *s, const char *name)
{
    acme__store_lease *end = s->leases + s->nleases;
    acme__store_lease *l = s->leases;
    while (l != end && strcmp(l->name, name) != 0)
        l++;
    return l != end ? l : NULL;
}

/* With s->mu held: the held lock whose name is key or a directory above
 * it; the longest such name when several are held. */
static acme__store_lease *lease_covering(acme_store *s, const char *key)
{
    acme__store_lease *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < s->nleases; i++) {
        size_t n = strlen(s->leases[i].name);
        if (strncmp(key, s->leases[i].name, n) == 0 && (key[n] == '\0' || key[n] == '/') &&
            n >= best_len) {
            best = &s->leases[i];
            best_len = n;
        }
    }
    return best;
}

static int has_leases(const acme_store *s)
{
    return s->backend ? s->backend->lease != NULL : s->ops.lease != NULL;
}

/* The lease is surely ours only while the holder renewed it within its
 * time to live; past that another may hold it. */
static int lease_live(const acme__store_lease *l, int64_t now)
{
    return !l->lost && (!l->token || now < l->valid_ms);
}

static int lease_call(acme_store *s, const char *name, unsigned int ttl_s, uint64_t *token,
                      acme__err *why)
{
    return s->backend ? s->backend->lease(name, ttl_s, token, s->userdata, why)
                      : s->ops.lease(name, ttl_s, token, s->userdata);
}

static int renew_call(acme_store *s, const char *name, uint64_t token, acme__err *why)
{
    return s->backend ? s->backend->renew(name, token, s->lease_ttl_s, s->userdata, why)
                      : s->ops.renew(name, token, s->lease_ttl_s, s->userdata);
}

/* The renewer: extends every held lease at a third of its time to live,
 * and marks one lost when the backend refuses or cannot be reached for
 * longer than the lease runs. */
static void *renewer_main(void *arg)
{
    acme_store *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        int64_t now = acme__mono_ms();
        int64_t next = now + (int64_t)s->lease_ttl_s * 1000 / 3;
        for (size_t i = 0; i < s->nleases && !s->stopping; i++) {
            acme__store_lease *l = &s->leases[i];
            if (!l->token || l->lost)
                continue;
            if (l->renew_ms > now) {
                if (l->renew_ms < next)
                    next = l->renew_ms;
                continue;
            }
            char *name = acme__strdup(l->name);
            uint64_t token = l->token;
            if (!name)
                break;
            pthread_mutex_unlock(&s->mu);
            acme__err why = ACME__ERR_QUIET;
            int64_t asked = acme__mono_ms();
            int rc = renew_call(s, name, token, &why);
            acme__err_clear(&why);
            pthread_mutex_lock(&s->mu);
            /* The table may have changed while unlocked: look it up again. */
            l = lease_find(s, name);
            free(name);
            if (l && l->token == token) {
                if (rc == ACME_OK) {
                    l->valid_ms = asked + (int64_t)s->lease_ttl_s * 1000;
                    l->renew_ms = asked + (int64_t)s->lease_ttl_s * 1000 / 3;
                } else if (rc == ACME_ERR_LOCKED || acme__mono_ms() >= l->valid_ms) {
                    l->lost = 1;
                } else {
                    l->renew_ms = acme__mono_ms() + 1000; /* a member away: try again soon */
                }
            }
            i = (size_t)-1; /* start over: entries may have moved */
            now = acme__mono_ms();
        }
        if (s->stopping)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t wait_ms = next - acme__mono_ms();
        if (wait_ms < 50)
            wait_ms = 50;
        ts.tv_sec += (time_t)(wait_ms / 1000);
        ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->wake, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* With s->mu held: remember a lock just taken, starting the renewer for
 * the first lease. */
static int lease_add(acme_store *s, const char *name, uint64_t token, acme__err *err)
{
    if (s->nleases == s->capleases) {
        size_t cap = s->capleases ? s->capleases * 2 : 4;
        acme__store_lease *v = realloc(s->leases, cap * sizeof(*v));
        if (!v)
            return acme__fail(err, ACME_ERR_NOMEM, "store: out of memory");
        s->leases = v;
        s->capleases = cap;
    }
    char *copy = acme__strdup(name);
    if (!copy)
        return acme__fail(err, ACME_ERR_NOMEM, "store: out of memory");
    int64_t now = acme__mono_ms();
    if (token && !s->renewer_started) {
        if (pthread_create(&s->renewer, NULL, renewer_main, s) != 0) {
            free(copy);
            return acme__fail(err, ACME_ERR_NOMEM, "store: cannot start the lease renewer");
        }
        s->renewer_started = 1;
    }
    acme__store_lease *l = &s->leases[s->nleases++];
    l->name = copy;
    l->token = token;
    l->valid_ms = now + (int64_t)s->lease_ttl_s * 1000;
    l->renew_ms = now + (int64_t)s->lease_ttl_s * 1000 / 3;
    l->lost = 0;
    pthread_cond_broadcast(&s->wake);
    return ACME_OK;
}

int acme__store_lease_check(acme_store *s, const char *name, acme__err *err)
{
    if (!s || !name)
        return acme__fail(err, ACME_ERR_INVALID, "store: NULL argument");
    pthread_mutex_lock(&s->mu);
    acme__store_lease *l = lease_find(s, name);
    int rc = !l ? acme__fail(err, ACME_ERR_LOCKED, "store: lock %s is not held", name)
             : !lease_live(l, acme__mono_ms())
                 ? acme__fail(err, ACME_ERR_LOCKED,
                              "store: the lease on lock %s was lost (token %llu); not writing",
                              name, (unsigned long long)l->token)
                 : ACME_OK;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The fence for a change of key: *lock (a new string, or NULL when no
 * held lock covers the key) and *token. ACME_ERR_LOCKED when the covering
 * lease is lost. */
static int fence_for(acme_store *s, const char *key, char **lock, uint64_t *token,
                     acme__err *err)
{
    *lock = NULL;
    *token = 0;
    pthread_mutex_lock(&s->mu);
    acme__store_lease *l = lease_covering(s, key);
    int rc = ACME_OK;
    if (l && !lease_live(l, acme__mono_ms()))
        rc = acme__fail(err, ACME_ERR_LOCKED,
                        "store: cannot change %s: the lease on lock %s was lost (token %llu)",
                        key, l->name, (unsigned long long)l->token);
    else if (l && l->token && !(*lock = acme__strdup(l->name)))
        rc = acme__fail(err, ACME_ERR_NOMEM, "store: out of memory");
    else if (l)
        *token = l->token;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- changes ------------------------------------------------------------ */

/* One change through a store without commit (a version-1 host store). */
static int put_plain(acme_store *s, const acme__store_put *p, acme__err *why)
{
    if (p->remove)
        return s->backend ? s->backend->remove(p->key, s->userdata, why)
                          : s->ops.remove(p->key, s->userdata);
    return s->backend
               ? s->backend->write(p->key, p->data, p->len, p->secret, s->userdata, why)
               : s->ops.write(p->key, p->data, p->len, p->secret, s->userdata);
}

/* A host's commit callback takes arrays (no struct crosses the API). */
static int host_commit(acme_store *s, const acme__store_put *puts, size_t n, const char *lock,
                       uint64_t token)
{
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    const void **values = calloc(n ? n : 1, sizeof(*values));
    size_t *lens = calloc(n ? n : 1, sizeof(*lens));
    int *secrets = calloc(n ? n : 1, sizeof(*secrets));
    int rc = ACME_ERR_NOMEM;
    if (keys && values && lens && secrets) {
        for (size_t i = 0; i < n; i++) {
            keys[i] = puts[i].key;
            values[i] = puts[i].remove ? NULL : (puts[i].data ? puts[i].data : "");
            lens[i] = puts[i].remove ? 0 : puts[i].len;
            secrets[i] = puts[i].secret;
        }
        rc = s->ops.commit(n, keys, values, lens, secrets, lock, token, s->userdata);
    }
    free(keys);
    free(values);
    free(lens);
    free(secrets);
    return rc;
}

static const char *verb_of(const acme__store_put *puts, size_t n)
{
    return n > 1 ? "commit" : puts[0].remove ? "remove" : "write";
}

int acme__store_commit_raw(acme_store *s, const acme__store_put *puts, size_t n,
                           const char *lock, uint64_t token, acme__err *err)
{
    if (!s || (!puts && n))
        return acme__fail(err, ACME_ERR_INVALID, "store: NULL argument");
    if (!n)
        return ACME_OK;
    for (size_t i = 0; i < n; i++) {
        int rc = check_key(s, puts[i].key, "key", err);
        if (rc != ACME_OK)
            return rc;
        if (!puts[i].remove && !puts[i].data && puts[i].len)
            return acme__fail(err, ACME_ERR_INVALID, "store: cannot write %s: NULL data",
                              puts[i].key);
    }
    if (lock && !acme__store_key_valid(lock))
        return acme__fail(err, ACME_ERR_INVALID, "store: invalid lock name \"%.200s\"", lock);
    acme__err why = ACME__ERR_QUIET;
    int rc = ACME_OK;
    if (s->backend && s->backend->commit)
        rc = s->backend->commit(puts, n, lock, token, s->userdata, &why);
    else if (!s->backend && s->ops.commit)
        rc = host_commit(s, puts, n, lock, token);
    else
        for (size_t i = 0; i < n && rc == ACME_OK; i++)
            rc = put_plain(s, &puts[i], &why);
    return rc == ACME_OK ? ACME_OK : cb_fail(rc, &why, verb_of(puts, n), puts[0].key, err);
}

int acme__store_commit(acme_store *s, const acme__store_put *puts, size_t n, acme__err *err)
{
    if (!s || !puts || !n)
        return acme__fail(err, ACME_ERR_INVALID, "store: NULL argument");
    int rc = check_key(s, puts[0].key, "key", err);
    if (rc != ACME_OK)
        return rc;
    char *lock;
    uint64_t token;
    rc = fence_for(s, puts[0].key, &lock, &token, err);
    if (rc == ACME_OK)
        rc = acme__store_commit_raw(s, puts, n, lock, token, err);
    free(lock);
    return rc;
}

int acme__store_commit_atomic(const acme_store *s)
{
    return s && (s->backend ? s->backend->commit && s->backend->atomic_commit
                            : s->ops.commit != NULL);
}

int acme__store_write(acme_store *s, const char *key, const void *data, size_t len, int secret,
                      acme__err *err)
{
    acme__store_put p = { key, data ? data : "", len, secret ? 1 : 0, 0 };
    if (!data && len)
        p.data = NULL; /* refused with its reason by the commit */
    if (!s || !key)
        return acme__fail(err, ACME_ERR_INVALID, "store: NULL argument");
    return acme__store_commit(s, &p, 1, err);
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
        /* A link is no commit: the lease is checked here instead. */
        char *lock;
        uint64_t token;
        rc = fence_for(s, to_key, &lock, &token, err);
        free(lock);
        if (rc != ACME_OK)
            return rc;
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

int acme__store_has_alias(const acme_store *s)
{
    return s && s->backend && s->backend->alias && s->backend->alias_target;
}

int acme__store_alias(acme_store *s, size_t n, const char *const *keys,
                      const char *const *targets, acme__err *err)
{
    if (!s || !n || !keys || !targets)
        return acme__fail(err, ACME_ERR_INVALID, "store: NULL argument");
    int rc = ACME_OK;
    for (size_t i = 0; i < n && rc == ACME_OK; i++) {
        rc = check_key(s, keys[i], "key", err);
        if (rc == ACME_OK)
            rc = check_key(s, targets[i], "alias target", err);
    }
    if (rc != ACME_OK)
        return rc;
    if (!acme__store_has_alias(s))
        return acme__fail(err, ACME_ERR_UNSUPPORTED, "store: cannot alias %s: no aliases",
                          keys[0]);
    char *lock;
    uint64_t token;
    rc = fence_for(s, keys[0], &lock, &token, err);
    if (rc == ACME_OK) {
        acme__err why = ACME__ERR_QUIET;
        rc = s->backend->alias(n, keys, targets, lock, token, s->userdata, &why);
        if (rc != ACME_OK)
            rc = cb_fail(rc, &why, "alias", keys[0], err);
        acme__err_clear(&why);
    }
    free(lock);
    return rc;
}

int acme__store_alias_target(acme_store *s, const char *key, char **target, acme__err *err)
{
    *target = NULL;
    int rc = check_key(s, key, "key", err);
    if (rc != ACME_OK)
        return rc;
    if (!acme__store_has_alias(s))
        return acme__fail(err, ACME_ERR_UNSUPPORTED, "store: cannot read alias %s: no aliases",
                          key);
    acme__err why = ACME__ERR_QUIET;
    rc = s->backend->alias_target(key, target, s->userdata, &why);
    if (rc != ACME_OK)
        rc = cb_fail(rc, &why, "read alias", key, err);
    acme__err_clear(&why);
    return rc;
}

int acme__store_remove(acme_store *s, const char *key, acme__err *err)
{
    acme__store_put p = { key, NULL, 0, 0, 1 };
    if (!s || !key)
        return acme__fail(err, ACME_ERR_INVALID, "store: NULL argument");
    return acme__store_commit(s, &p, 1, err);
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

int acme__store_lease_raw(acme_store *s, const char *name, unsigned int ttl_s, uint64_t *token,
                          acme__err *err)
{
    int rc = check_key(s, name, "lock name", err);
    if (rc != ACME_OK)
        return rc;
    if (!has_leases(s))
        return acme__fail(err, ACME_ERR_UNSUPPORTED, "store: this store has no leases");
    acme__err why = ACME__ERR_QUIET;
    *token = 0;
    rc = lease_call(s, name, ttl_s ? ttl_s : s->lease_ttl_s, token, &why);
    if (rc == ACME_OK && !*token)
        rc = acme__fail(&why, ACME_ERR_CALLBACK, "the store gave the lease no token");
    return rc == ACME_OK ? ACME_OK : cb_fail(rc, &why, "lock", name, err);
}

int acme__store_lock(acme_store *s, const char *name, acme__err *err)
{
    int rc = check_key(s, name, "lock name", err);
    if (rc != ACME_OK)
        return rc;
    uint64_t token = 0;
    if (has_leases(s)) {
        rc = acme__store_lease_raw(s, name, s->lease_ttl_s, &token, err);
    } else {
        acme__err why = ACME__ERR_QUIET;
        rc = s->backend ? s->backend->lock(name, s->userdata, &why)
                        : s->ops.lock(name, s->userdata);
        if (rc != ACME_OK)
            rc = cb_fail(rc, &why, "lock", name, err);
    }
    if (rc != ACME_OK)
        return rc;
    pthread_mutex_lock(&s->mu);
    rc = lease_add(s, name, token, err);
    pthread_mutex_unlock(&s->mu);
    if (rc != ACME_OK) {
        if (s->backend)
            s->backend->unlock(name, s->userdata);
        else
            s->ops.unlock(name, s->userdata);
    }
    return rc;
}

void acme__store_unlock(acme_store *s, const char *name)
{
    if (!s || !name)
        return;
    pthread_mutex_lock(&s->mu);
    acme__store_lease *l = lease_find(s, name);
    char *own = NULL;
    if (l) {
        own = l->name;
        *l = s->leases[--s->nleases];
    }
    pthread_mutex_unlock(&s->mu);
    if (!own && !acme__store_key_valid(name))
        return;
    if (s->backend)
        s->backend->unlock(own ? own : name, s->userdata);
    else
        s->ops.unlock(own ? own : name, s->userdata);
    free(own);
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
