/* The store contract (acme/store.h), the same tests on every backend:
 * atomic commit, lock exclusion, lease expiry, fencing, lease loss,
 * listing, deletion and bad input, and the schedule index's due summary
 * kept through them by two nodes. The first argument names the backend:
 *   fs    the built-in filesystem store (two handles on one directory)
 *   host  an in-memory host store with version 2 of acme_store_ops
 *   etcd  the etcd store on the member(s) in ACME_TEST_ETCD (started by
 *         tests/harness/etcd_harness.py), under a fresh prefix, with the
 *         harness's TLS files and credentials when it made them (--tls,
 *         --auth): then also refused credentials, an untrusted member and
 *         a missing client certificate; with several members, the same
 *         work goes on after the first member is killed (failover)
 * Two handles on one backend stand for two nodes; for the paused holder,
 * a second process (this program as "holder") is a third one. */
#include <acme.h>

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/mem.h"
#include "store/schedule.h"
#include "store/store.h"
#include "store/store_layout.h"

#include "check.h"
#include "files.h"

/* ---- an in-memory host store with leases ------------------------------- */

typedef struct mem_entry {
    char *key;
    char *data;
    size_t len;
} mem_entry;

typedef struct mem_lock {
    char *name;
    uint64_t token;   /* the last token given for the name */
    int64_t until_ms; /* the lease runs until then; 0: free */
} mem_lock;

typedef struct mem_store {
    pthread_mutex_t mu;
    mem_entry e[256];
    size_t ne;
    mem_lock l[1100]; /* the schedule index has a lock per shard (1024) */
    size_t nl;
} mem_store;

static mem_entry *mem_find(mem_store *m, const char *key)
{
    for (size_t i = 0; i < m->ne; i++)
        if (strcmp(m->e[i].key, key) == 0)
            return &m->e[i];
    return NULL;
}

static mem_lock *mem_lock_of(mem_store *m, const char *name)
{
    for (size_t i = 0; i < m->nl; i++)
        if (strcmp(m->l[i].name, name) == 0)
            return &m->l[i];
    if (m->nl == sizeof(m->l) / sizeof(m->l[0]))
        return NULL;
    mem_lock *l = &m->l[m->nl++];
    l->name = strdup(name);
    l->token = 0;
    l->until_ms = 0;
    return l;
}

static int mem_read(const char *key, acme_buffer *out, void *ud)
{
    mem_store *m = ud;
    pthread_mutex_lock(&m->mu);
    mem_entry *e = mem_find(m, key);
    int rc = e ? acme_buffer_append(out, e->data, e->len) : ACME_ERR_NOT_FOUND;
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* With m->mu held. */
static int mem_set(mem_store *m, const char *key, const void *data, size_t len)
{
    mem_entry *e = mem_find(m, key);
    if (!e) {
        if (m->ne == sizeof(m->e) / sizeof(m->e[0]))
            return ACME_ERR_NOMEM;
        e = &m->e[m->ne++];
        e->key = strdup(key);
        e->data = NULL;
    }
    free(e->data);
    e->data = malloc(len ? len : 1);
    memcpy(e->data, data, len);
    e->len = len;
    return ACME_OK;
}

static void mem_del(mem_store *m, const char *key)
{
    mem_entry *e = mem_find(m, key);
    if (!e)
        return;
    free(e->key);
    free(e->data);
    *e = m->e[--m->ne];
}

static int mem_write(const char *key, const void *data, size_t len, int secret, void *ud)
{
    (void)secret;
    mem_store *m = ud;
    pthread_mutex_lock(&m->mu);
    int rc = mem_set(m, key, data, len);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int mem_remove(const char *key, void *ud)
{
    mem_store *m = ud;
    pthread_mutex_lock(&m->mu);
    mem_del(m, key);
    pthread_mutex_unlock(&m->mu);
    return ACME_OK;
}

static int mem_list(const char *prefix, acme_buffer *out, void *ud)
{
    mem_store *m = ud;
    size_t n = strlen(prefix);
    pthread_mutex_lock(&m->mu);
    int rc = ACME_OK;
    for (size_t i = 0; i < m->ne && rc == ACME_OK; i++) {
        const char *k = m->e[i].key;
        if (strncmp(k, prefix, n) != 0 || k[n] != '/')
            continue;
        const char *child = k + n + 1;
        size_t clen = strcspn(child, "/");
        /* Each child once: skip it when an earlier key had it. */
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) {
            const char *o = m->e[j].key;
            seen = strncmp(o, prefix, n) == 0 && o[n] == '/' &&
                   strncmp(o + n + 1, child, clen) == 0 &&
                   (o[n + 1 + clen] == '/' || o[n + 1 + clen] == '\0');
        }
        if (!seen) {
            rc = acme_buffer_append(out, child, clen);
            if (rc == ACME_OK)
                rc = acme_buffer_append(out, "\n", 1);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int mem_lease(const char *name, unsigned int ttl_s, uint64_t *token, void *ud)
{
    mem_store *m = ud;
    pthread_mutex_lock(&m->mu);
    mem_lock *l = mem_lock_of(m, name);
    int64_t now = acme__mono_ms();
    int rc = ACME_OK;
    if (!l)
        rc = ACME_ERR_NOMEM;
    else if (l->until_ms > now)
        rc = ACME_ERR_LOCKED;
    else {
        l->token++;
        l->until_ms = now + (int64_t)ttl_s * 1000;
        *token = l->token;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int mem_renew(const char *name, uint64_t token, unsigned int ttl_s, void *ud)
{
    mem_store *m = ud;
    pthread_mutex_lock(&m->mu);
    mem_lock *l = mem_lock_of(m, name);
    int64_t now = acme__mono_ms();
    int rc = ACME_ERR_LOCKED;
    if (l && l->token == token && l->until_ms > now) {
        l->until_ms = now + (int64_t)ttl_s * 1000;
        rc = ACME_OK;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int mem_lock_plain(const char *name, void *ud)
{
    uint64_t token;
    return mem_lease(name, 3600, &token, ud);
}

static void mem_unlock(const char *name, void *ud)
{
    mem_store *m = ud;
    pthread_mutex_lock(&m->mu);
    mem_lock *l = mem_lock_of(m, name);
    if (l)
        l->until_ms = 0;
    pthread_mutex_unlock(&m->mu);
}

static int mem_commit(size_t n, const char *const *keys, const void *const *values,
                      const size_t *lens, const int *secrets, const char *lock, uint64_t token,
                      void *ud)
{
    (void)secrets;
    mem_store *m = ud;
    pthread_mutex_lock(&m->mu);
    int rc = ACME_OK;
    if (lock) {
        mem_lock *l = mem_lock_of(m, lock);
        if (!l || l->token != token)
            rc = ACME_ERR_LOCKED;
    }
    for (size_t i = 0; i < n && rc == ACME_OK; i++) {
        if (values[i])
            rc = mem_set(m, keys[i], values[i], lens[i]);
        else
            mem_del(m, keys[i]);
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static void mem_free(mem_store *m)
{
    for (size_t i = 0; i < m->ne; i++) {
        free(m->e[i].key);
        free(m->e[i].data);
    }
    for (size_t i = 0; i < m->nl; i++)
        free(m->l[i].name);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* Make a lease of the in-memory store run out now, as if its holder had
 * paused past it. */
static void mem_expire(mem_store *m, const char *name)
{
    pthread_mutex_lock(&m->mu);
    mem_lock *l = mem_lock_of(m, name);
    if (l)
        l->until_ms = 0;
    pthread_mutex_unlock(&m->mu);
}

/* ---- the backends ------------------------------------------------------ */

static const char *backend;
static char *fs_dir;
static mem_store *mem;
static char etcd_prefix[64];

static int is(const char *name)
{
    return strcmp(backend, name) == 0;
}

/* The etcd options for the harness's members, TLS files and user. */
static void etcd_options(acme_etcd_options *o)
{
    REQUIRE_OK(acme_etcd_options_init(o, ACME_ETCD_OPTIONS_VERSION));
    o->endpoints = getenv("ACME_TEST_ETCD");
    REQUIRE(o->endpoints != NULL);
    o->prefix = etcd_prefix;
    o->ca_bundle = getenv("ACME_TEST_ETCD_CA");
    o->client_cert = getenv("ACME_TEST_ETCD_CERT");
    o->client_key = getenv("ACME_TEST_ETCD_KEY");
    o->username = getenv("ACME_TEST_ETCD_USER");
    o->password = getenv("ACME_TEST_ETCD_PASSWORD");
    o->timeout_ms = 5000;
}

static acme_store *open_store(void)
{
    acme_store *s = NULL;
    if (is("fs")) {
        REQUIRE_OK(acme_store_new_fs(&s, fs_dir));
    } else if (is("host")) {
        static const acme_store_ops ops = {
            .version = ACME_STORE_OPS_VERSION, .read = mem_read,     .write = mem_write,
            .remove = mem_remove,              .list = mem_list,     .lock = mem_lock_plain,
            .unlock = mem_unlock,              .lease = mem_lease,   .renew = mem_renew,
            .commit = mem_commit,
        };
        REQUIRE_OK(acme_store_new(&s, &ops, mem));
    } else {
        acme_etcd_options o;
        etcd_options(&o);
        REQUIRE_OK(acme_store_new_etcd(&s, &o));
    }
    return s;
}

/* Whether leases run out by time (not on the filesystem, where a lease is
 * a flock that lasts as long as its process). */
static int leases_expire(void)
{
    return !is("fs");
}

static char *get(acme_store *s, const char *key)
{
    char *data = NULL;
    size_t len = 0;
    if (acme_store_get(s, key, &data, &len) != ACME_OK)
        return NULL;
    return data;
}

static int get_is(acme_store *s, const char *key, const char *want)
{
    char *v = get(s, key);
    int ok = v && strcmp(v, want) == 0;
    if (!ok)
        fprintf(stderr, "  %s holds \"%s\", wanted \"%s\"\n", key, v ? v : "(nothing)", want);
    free(v);
    return ok;
}

static acme__store_put put_of(const char *key, const char *value)
{
    acme__store_put p = { key, value, value ? strlen(value) : 0, 0, value == NULL };
    return p;
}

/* ---- the tests ---------------------------------------------------------- */

static void test_values(acme_store *s)
{
    CHECK_OK(acme_store_put(s, "a/b/c", "one", 3, 0));
    CHECK(get_is(s, "a/b/c", "one"));
    CHECK_OK(acme_store_put(s, "a/b/c", "two!", 4, 1));
    CHECK(get_is(s, "a/b/c", "two!"));
    CHECK_OK(acme_store_put(s, "a/empty", "", 0, 0));
    CHECK(get_is(s, "a/empty", ""));
    char *data = NULL;
    size_t len = 7;
    CHECK_RC(acme_store_get(s, "a/missing", &data, &len), ACME_ERR_NOT_FOUND);
    CHECK(data == NULL && len == 0);

    /* Bytes that are not text survive. */
    static const unsigned char bin[] = { 0, 1, 0xff, '\n', '"', '\\', 0x80 };
    CHECK_OK(acme_store_put(s, "a/bin", bin, sizeof(bin), 0));
    CHECK_OK(acme_store_get(s, "a/bin", &data, &len));
    CHECK(len == sizeof(bin) && data && memcmp(data, bin, len) == 0);
    acme_free(data);

    /* Deletion, and a missing key deletes fine. */
    acme__err err = ACME__ERR_QUIET;
    CHECK(acme__store_remove(s, "a/empty", &err) == ACME_OK);
    CHECK_RC(acme_store_get(s, "a/empty", &data, &len), ACME_ERR_NOT_FOUND);
    CHECK(acme__store_remove(s, "a/never", &err) == ACME_OK);
    acme__err_clear(&err);
}

static int listed(char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

static void test_list(acme_store *s)
{
    CHECK_OK(acme_store_put(s, "l/x/1", "1", 1, 0));
    CHECK_OK(acme_store_put(s, "l/x/2", "2", 1, 0));
    CHECK_OK(acme_store_put(s, "l/y", "3", 1, 0));
    CHECK_OK(acme_store_put(s, "l/z/deep/er", "4", 1, 0));
    CHECK_OK(acme_store_put(s, "lx/other", "5", 1, 0));
    char **names = NULL;
    size_t n = 0;
    acme__err err = ACME__ERR_QUIET;
    CHECK(acme__store_list(s, "l", &names, &n, &err) == ACME_OK);
    CHECK_MSG(n == 3, "listed %zu children", n);
    CHECK(listed(names, n, "x") && listed(names, n, "y") && listed(names, n, "z"));
    CHECK(!listed(names, n, "other"));
    acme__free_strv(names, n);
    CHECK(acme__store_list(s, "l/x", &names, &n, &err) == ACME_OK);
    CHECK(n == 2 && listed(names, n, "1") && listed(names, n, "2"));
    acme__free_strv(names, n);
    CHECK(acme__store_list(s, "nothing/here", &names, &n, &err) == ACME_OK);
    CHECK(n == 0);
    acme__free_strv(names, n);
    /* Lock names never show up among the keys. */
    CHECK(acme__store_lock(s, "l/x", &err) == ACME_OK);
    CHECK(acme__store_list(s, "l", &names, &n, &err) == ACME_OK);
    CHECK(n == 3);
    acme__free_strv(names, n);
    acme__store_unlock(s, "l/x");
    acme__err_clear(&err);
}

static void test_bad_input(acme_store *s)
{
    char *data = NULL;
    size_t len;
    static const char *bad[] = { "", "/a", "a/", "a//b", "a/../b", "a/./b", "a b", "a\nb",
                                 "a/\xc3\xa9" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_RC(acme_store_put(s, bad[i], "x", 1, 0), ACME_ERR_INVALID);
        CHECK_RC(acme_store_get(s, bad[i], &data, &len), ACME_ERR_INVALID);
    }
    if (!is("host")) /* the built-in stores keep their locks under it */
        CHECK_RC(acme_store_put(s, "locks/x", "x", 1, 0), ACME_ERR_INVALID);
    CHECK_RC(acme_store_put(s, "a/null", NULL, 3, 0), ACME_ERR_INVALID);

    /* Values are bounded: one past the cap is refused when written or when
     * read, never handed back. */
    size_t big = ACME__STORE_MAX_VALUE + 1;
    char *v = malloc(big);
    REQUIRE(v != NULL);
    memset(v, 'v', big);
    int wrc = acme_store_put(s, "a/big", v, big, 0);
    CHECK(wrc == ACME_OK || wrc == ACME_ERR_TOO_LARGE);
    if (wrc == ACME_OK)
        CHECK_RC(acme_store_get(s, "a/big", &data, &len), ACME_ERR_TOO_LARGE);
    else
        CHECK_RC(acme_store_get(s, "a/big", &data, &len), ACME_ERR_NOT_FOUND);
    free(v);
}

static void test_commit(acme_store *s)
{
    acme__err err = ACME__ERR_QUIET;
    CHECK_OK(acme_store_put(s, "c/old", "old", 3, 0));
    acme__store_put puts[] = { put_of("c/1/key", "K1"), put_of("c/1/chain", "C1"),
                               put_of("c/old", NULL), put_of("c/meta", "gen 1") };
    CHECK(acme__store_commit(s, puts, 4, &err) == ACME_OK);
    CHECK(get_is(s, "c/1/key", "K1") && get_is(s, "c/1/chain", "C1") &&
          get_is(s, "c/meta", "gen 1"));
    char *data = NULL;
    size_t len;
    CHECK_RC(acme_store_get(s, "c/old", &data, &len), ACME_ERR_NOT_FOUND);

    /* A commit with a bad key changes nothing. */
    acme__store_put bad[] = { put_of("c/meta", "gen 2"), put_of("c//x", "X") };
    CHECK(acme__store_commit(s, bad, 2, &err) == ACME_ERR_INVALID);
    CHECK(get_is(s, "c/meta", "gen 1"));
    acme__err_clear(&err);
}

static void test_exclusion(acme_store *a, acme_store *b)
{
    acme__err err = ACME__ERR_QUIET;
    CHECK(acme__store_lock(a, "certs/x", &err) == ACME_OK);
    CHECK(acme__store_lock(b, "certs/x", &err) == ACME_ERR_LOCKED);
    /* Another name is free. */
    CHECK(acme__store_lock(b, "certs/y", &err) == ACME_OK);
    acme__store_unlock(b, "certs/y");
    CHECK(acme__store_lease_check(a, "certs/x", &err) == ACME_OK);
    CHECK(acme__store_lease_check(b, "certs/x", &err) == ACME_ERR_LOCKED);
    acme__store_unlock(a, "certs/x");
    CHECK(acme__store_lock(b, "certs/x", &err) == ACME_OK);
    CHECK(acme__store_lock(a, "certs/x", &err) == ACME_ERR_LOCKED);
    acme__store_unlock(b, "certs/x");

    /* Tokens grow with every take, whoever takes. */
    uint64_t t1 = 0, t2 = 0, t3 = 0;
    CHECK(acme__store_lease_raw(a, "certs/t", 30, &t1, &err) == ACME_OK);
    acme__store_unlock(a, "certs/t");
    CHECK(acme__store_lease_raw(b, "certs/t", 30, &t2, &err) == ACME_OK);
    acme__store_unlock(b, "certs/t");
    CHECK(acme__store_lease_raw(a, "certs/t", 30, &t3, &err) == ACME_OK);
    acme__store_unlock(a, "certs/t");
    CHECK_MSG(t1 > 0 && t2 > t1 && t3 > t2, "tokens %llu %llu %llu", (unsigned long long)t1,
              (unsigned long long)t2, (unsigned long long)t3);
    acme__err_clear(&err);
}

/* Wait until b can take lock `name` (a's lease ran out), up to limit_s. */
static int take_when_free(acme_store *b, const char *name, uint64_t *token, int limit_s)
{
    acme__err err = ACME__ERR_QUIET;
    int64_t deadline = acme__mono_ms() + (int64_t)limit_s * 1000;
    int rc;
    while ((rc = acme__store_lease_raw(b, name, 30, token, &err)) == ACME_ERR_LOCKED &&
           acme__mono_ms() < deadline) {
        acme__err_clear(&err);
        usleep(200 * 1000);
    }
    acme__err_clear(&err);
    return rc;
}

/* A holder whose lease ran out (paused, partitioned) and who wakes: its
 * writes carry the old token and are refused; the newer holder's state
 * stays. */
static void test_fencing(acme_store *a, acme_store *b)
{
    acme__err err = ACME__ERR_QUIET;
    uint64_t ta = 0, tb = 0;
    REQUIRE(acme__store_lease_raw(a, "certs/f", 2, &ta, &err) == ACME_OK);
    acme__store_put first = put_of("certs/f/meta", "from a");
    CHECK(acme__store_commit_raw(a, &first, 1, "certs/f", ta, &err) == ACME_OK);
    if (leases_expire()) {
        if (is("host"))
            mem_expire(mem, "certs/f");
        /* Not renewed: within a few seconds the lease is gone. */
        CHECK(take_when_free(b, "certs/f", &tb, 15) == ACME_OK);
    } else {
        /* A flock lasts while its holder lives: the holder lets go (as a
         * crash would) and another takes it. */
        acme__store_unlock(a, "certs/f");
        CHECK(acme__store_lease_raw(b, "certs/f", 30, &tb, &err) == ACME_OK);
    }
    CHECK(tb > ta);
    acme__store_put newer[] = { put_of("certs/f/meta", "from b"), put_of("certs/f/1/key", "b") };
    CHECK(acme__store_commit_raw(b, newer, 2, "certs/f", tb, &err) == ACME_OK);
    acme__store_put late[] = { put_of("certs/f/meta", "late a"), put_of("certs/f/2/key", "a") };
    CHECK(acme__store_commit_raw(a, late, 2, "certs/f", ta, &err) == ACME_ERR_LOCKED);
    CHECK_MSG(strstr(err.msg, "certs/f") != NULL, "message: %s", err.msg);
    acme__err_clear(&err);
    CHECK(get_is(a, "certs/f/meta", "from b"));
    char *data = NULL;
    size_t len;
    CHECK_RC(acme_store_get(a, "certs/f/2/key", &data, &len), ACME_ERR_NOT_FOUND);
    acme__store_unlock(b, "certs/f");
    acme__store_unlock(a, "certs/f");
}

/* The handle renews its leases: a lock held for several of its times to
 * live stays held, and writes under it go through. */
static void test_renewal(acme_store *a, acme_store *b)
{
    if (!leases_expire())
        return;
    acme__err err = ACME__ERR_QUIET;
    a->lease_ttl_s = 2;
    REQUIRE(acme__store_lock(a, "certs/r", &err) == ACME_OK);
    sleep(5);
    CHECK(acme__store_lock(b, "certs/r", &err) == ACME_ERR_LOCKED);
    CHECK(acme__store_lease_check(a, "certs/r", &err) == ACME_OK);
    CHECK(acme__store_write(a, "certs/r/meta", "held", 4, 0, &err) == ACME_OK);
    acme__store_unlock(a, "certs/r");
    CHECK(acme__store_lock(b, "certs/r", &err) == ACME_OK);
    acme__store_unlock(b, "certs/r");
    a->lease_ttl_s = ACME__STORE_LEASE_TTL_S;
    acme__err_clear(&err);
}

/* A lease lost under a holder (here: taken away in the host store) is
 * reported: the check before writing fails, and so does a write. */
static void test_lease_loss(acme_store *a, acme_store *b)
{
    if (!is("host"))
        return; /* etcd: the SIGSTOP test of the cluster suite */
    acme__err err = ACME__ERR_QUIET;
    a->lease_ttl_s = 3;
    REQUIRE(acme__store_lock(a, "certs/l", &err) == ACME_OK);
    mem_expire(mem, "certs/l");
    uint64_t tb;
    CHECK(acme__store_lease_raw(b, "certs/l", 30, &tb, &err) == ACME_OK);
    int64_t deadline = acme__mono_ms() + 5000;
    while (acme__store_lease_check(a, "certs/l", &err) == ACME_OK && acme__mono_ms() < deadline)
        usleep(100 * 1000);
    CHECK(acme__store_lease_check(a, "certs/l", &err) == ACME_ERR_LOCKED);
    CHECK(acme__store_write(a, "certs/l/meta", "late", 4, 0, &err) == ACME_ERR_LOCKED);
    char *data = NULL;
    size_t len;
    CHECK_RC(acme_store_get(b, "certs/l/meta", &data, &len), ACME_ERR_NOT_FOUND);
    acme__store_unlock(a, "certs/l");
    acme__store_unlock(b, "certs/l");
    a->lease_ttl_s = ACME__STORE_LEASE_TTL_S;
    acme__err_clear(&err);
}

/* What a wrong configuration gets: a clear error at open, no store. */
static void test_access(void)
{
    if (!is("etcd"))
        return;
    acme_etcd_options o;
    acme_store *s = NULL;
    etcd_options(&o);
    o.endpoints = "127.0.0.1:2379/x";
    CHECK_RC(acme_store_new_etcd(&s, &o), ACME_ERR_INVALID);
    etcd_options(&o);
    o.prefix = "bad//prefix";
    CHECK_RC(acme_store_new_etcd(&s, &o), ACME_ERR_INVALID);
    etcd_options(&o);
    o.client_key = NULL;
    o.client_cert = "cert.pem";
    CHECK_RC(acme_store_new_etcd(&s, &o), ACME_ERR_INVALID);
    CHECK(s == NULL);
    if (getenv("ACME_TEST_ETCD_USER")) {
        etcd_options(&o);
        o.password = "not the password";
        int rc = acme_store_new_etcd(&s, &o);
        CHECK_MSG(rc == ACME_ERR_INVALID && strstr(acme_last_error(), "etcd member"),
                  "wrong password: %d %s", rc, acme_last_error());
        etcd_options(&o);
        o.username = NULL;
        CHECK(acme_store_new_etcd(&s, &o) != ACME_OK); /* no token: refused */
        /* The harness's tokens expire after 3 s unused: the store
         * authenticates again by itself. */
        etcd_options(&o);
        REQUIRE_OK(acme_store_new_etcd(&s, &o));
        sleep(5);
        CHECK_OK(acme_store_put(s, "auth/again", "x", 1, 0));
        CHECK(get_is(s, "auth/again", "x"));
        acme_store_free(s);
        s = NULL;
    }
    if (getenv("ACME_TEST_ETCD_CA")) {
        etcd_options(&o);
        o.ca_bundle = NULL; /* the system's trust: not the test CA */
        CHECK_RC(acme_store_new_etcd(&s, &o), ACME_ERR_TLS);
        etcd_options(&o);
        o.client_cert = o.client_key = NULL;
        int rc = acme_store_new_etcd(&s, &o);
        CHECK_MSG(rc == ACME_ERR_TLS || rc == ACME_ERR_NETWORK,
                  "no client certificate: %d %s", rc, acme_last_error());
    }
    CHECK(s == NULL);
}

/* With several members: the first one in the list dies (SIGKILL), and the
 * store goes on with the others, locks and fencing included. */
static void test_failover(acme_store *a, acme_store *b)
{
    const char *pids = getenv("ACME_TEST_ETCD_PIDS");
    if (!is("etcd") || !pids || !strchr(pids, ','))
        return;
    acme__err err = ACME__ERR_QUIET;
    CHECK_OK(acme_store_put(a, "fo/before", "1", 1, 0));
    pid_t first = (pid_t)atol(pids);
    REQUIRE(first > 0 && kill(first, SIGKILL) == 0);
    CHECK(get_is(a, "fo/before", "1"));
    CHECK_OK(acme_store_put(b, "fo/after", "2", 1, 0));
    CHECK(get_is(a, "fo/after", "2"));
    CHECK(acme__store_lock(a, "certs/fo", &err) == ACME_OK);
    CHECK(acme__store_lock(b, "certs/fo", &err) == ACME_ERR_LOCKED);
    CHECK(acme__store_write(a, "certs/fo/meta", "a", 1, 0, &err) == ACME_OK);
    acme__store_unlock(a, "certs/fo");
    acme__err_clear(&err);
}

/* ---- a paused holder (a process of its own) ----------------------------- */

#define PAUSE_LOCK "certs/paused"
#define PAUSE_TTL_S 5

/* The holder process: take the lock, say so, wait for "go" on stdin,
 * then try to write three ways and print the three results: the check
 * before writing, a write under the lock, and a commit with its token
 * (the backend's fence alone). */
static int holder_main(void)
{
    acme_store *s = open_store();
    s->lease_ttl_s = PAUSE_TTL_S;
    acme__err err = ACME__ERR_QUIET;
    if (acme__store_lock(s, PAUSE_LOCK, &err) != ACME_OK) {
        fprintf(stderr, "holder: %s\n", err.msg);
        return 1;
    }
    pthread_mutex_lock(&s->mu);
    unsigned long long token = (unsigned long long)s->leases[0].token;
    pthread_mutex_unlock(&s->mu);
    printf("held %llu\n", token);
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof(line), stdin))
        return 1;
    int r1 = acme__store_lease_check(s, PAUSE_LOCK, &err);
    acme__err_clear(&err);
    int r2 = acme__store_write(s, PAUSE_LOCK "/meta", "late", 4, 0, &err);
    acme__err_clear(&err);
    acme__store_put late = put_of(PAUSE_LOCK "/meta", "late raw");
    int r3 = acme__store_commit_raw(s, &late, 1, PAUSE_LOCK, token, &err);
    fprintf(stderr, "holder: last refusal: %s\n", err.msg);
    acme__err_clear(&err);
    printf("%d %d %d\n", r1, r2, r3);
    fflush(stdout);
    acme_store_free(s);
    return 0;
}

/* A holder paused (SIGSTOP) past its lease: on etcd another node takes the
 * lock and writes a newer state, and when the holder resumes all its
 * writes are refused; on the filesystem a paused process keeps its flock,
 * so nobody else gets the lock meanwhile. */
static void test_paused_holder(acme_store *b, const char *self)
{
    if (is("host"))
        return; /* the in-memory store lives in one process */
    int to_child[2], from_child[2];
    REQUIRE(pipe(to_child) == 0 && pipe(from_child) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(to_child[0], 0);
        dup2(from_child[1], 1);
        close(to_child[1]);
        close(from_child[0]);
        execl(self, self, "holder", backend, is("fs") ? fs_dir : etcd_prefix, (char *)NULL);
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    FILE *in = fdopen(from_child[0], "r");
    FILE *out = fdopen(to_child[1], "w");
    REQUIRE(in && out);
    char line[128] = "";
    unsigned long long ta = 0;
    CHECK(fgets(line, sizeof(line), in) && sscanf(line, "held %llu", &ta) == 1);
    REQUIRE(kill(pid, SIGSTOP) == 0);
    acme__err err = ACME__ERR_QUIET;
    uint64_t tb = 0;
    if (is("fs")) {
        sleep(1);
        CHECK(acme__store_lease_raw(b, PAUSE_LOCK, 30, &tb, &err) == ACME_ERR_LOCKED);
    } else {
        /* Past its lease: the lock comes free and b takes it and writes. */
        CHECK(take_when_free(b, PAUSE_LOCK, &tb, 4 * PAUSE_TTL_S) == ACME_OK);
        CHECK_MSG(tb > ta, "tokens %llu then %llu", ta, (unsigned long long)tb);
        acme__store_put newer = put_of(PAUSE_LOCK "/meta", "newer");
        CHECK(acme__store_commit_raw(b, &newer, 1, PAUSE_LOCK, tb, &err) == ACME_OK);
    }
    REQUIRE(kill(pid, SIGCONT) == 0);
    fputs("go\n", out);
    fflush(out);
    int r1 = 0, r2 = 0, r3 = 0;
    CHECK(fgets(line, sizeof(line), in) && sscanf(line, "%d %d %d", &r1, &r2, &r3) == 3);
    if (is("fs")) {
        /* It held the lock all along: its writes go through. */
        CHECK_MSG(r1 == ACME_OK && r2 == ACME_OK && r3 == ACME_OK, "holder: %d %d %d", r1, r2,
                  r3);
    } else {
        CHECK_MSG(r1 == ACME_ERR_LOCKED && r2 == ACME_ERR_LOCKED && r3 == ACME_ERR_LOCKED,
                  "the resumed holder's writes are refused: %d %d %d", r1, r2, r3);
        CHECK(get_is(b, PAUSE_LOCK "/meta", "newer"));
        acme__store_unlock(b, PAUSE_LOCK);
    }
    fclose(in);
    fclose(out);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    acme__err_clear(&err);
}

/* The schedule index's due summary through the store's calls alone: built,
 * then kept by another node's updates (never later than its shard), and
 * an unreadable one removed rather than trusted. */
static void test_schedule_due(acme_store *a, acme_store *b)
{
    static const char *const name = "due.example.com";
    unsigned int k = acme__sched_shard_of(name);
    acme__sched_due *sum = malloc(sizeof(*sum));
    REQUIRE(sum != NULL);
    acme__err err = ACME__ERR_QUIET;
    CHECK_RC(acme__sched_due_load(a, sum, &err), ACME_ERR_NOT_FOUND);
    CHECK_OK(acme__sched_mark_due(a, name, 0, 5, &err)); /* a placeholder: next 0 */
    CHECK_OK(acme__sched_due_build(a, 7, 1, 5, &err));
    CHECK_OK(acme__sched_due_load(b, sum, &err));
    CHECK(sum->state == ACME__DUE_COMPLETE && sum->bad_fp == 7);
    CHECK(sum->set[k] && sum->next[k] == 0 && sum->count[k] == 1);
    CHECK(sum->next[(k + 1) % ACME__SCHEDULE_SHARDS] == ACME__DUE_NEVER);

    acme__sched_entry e;
    memset(&e, 0, sizeof(e));
    e.name = name;
    e.next = 5000;
    e.key_type = ACME_KEY_EC256;
    e.dir_fp = 0x1234;
    CHECK_OK(acme__sched_update(b, name, &e, 5, &err));
    CHECK_OK(acme__sched_due_load(a, sum, &err));
    CHECK(sum->state == ACME__DUE_COMPLETE && sum->next[k] == 5000 && sum->count[k] == 1);
    CHECK(sum->ndirs == 1 && sum->dirs[0] == 0x1234);
    /* Sooner again (marked due): lowered. */
    CHECK_OK(acme__sched_mark_due(a, name, 0, 5, &err));
    CHECK_OK(acme__sched_due_load(b, sum, &err));
    CHECK(sum->next[k] == 0 && sum->count[k] == 1);

    /* The shard gone under the names it counted: no longer complete. */
    char *shard_key = acme__store_schedule_key(k, ACME__SCHEDULE_ENTRIES);
    REQUIRE(shard_key != NULL);
    CHECK_OK(acme__store_remove(a, shard_key, &err));
    free(shard_key);
    CHECK_OK(acme__sched_update(b, name, &e, 5, &err));
    CHECK_OK(acme__sched_due_load(a, sum, &err));
    CHECK(sum->state == ACME__DUE_INCOMPLETE && sum->next[k] == 5000);

    CHECK_OK(acme_store_put(a, "schedule/sum/due", "acme-schedule-due 1\nnot it\n", 27, 0));
    CHECK_RC(acme__sched_due_load(b, sum, &err), ACME_ERR_CORRUPT);
    CHECK_OK(acme__sched_update(b, name, &e, 5, &err));
    CHECK_RC(acme__sched_due_load(a, sum, &err), ACME_ERR_NOT_FOUND);
    acme__err_clear(&err);
    free(sum);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "holder") == 0) {
        backend = argv[2];
        if (is("fs"))
            fs_dir = argv[3];
        else
            snprintf(etcd_prefix, sizeof(etcd_prefix), "%s", argv[3]);
        return holder_main();
    }
    if (argc != 2 || (strcmp(argv[1], "fs") != 0 && strcmp(argv[1], "host") != 0 &&
                      strcmp(argv[1], "etcd") != 0)) {
        fprintf(stderr, "usage: %s fs|host|etcd\n", argv[0]);
        return 2;
    }
    backend = argv[1];
    char tmpl[] = "/tmp/test-store-contract-XXXXXX";
    if (is("fs")) {
        REQUIRE(mkdtemp(tmpl) != NULL);
        fs_dir = tmpl;
    } else if (is("host")) {
        mem = calloc(1, sizeof(*mem));
        REQUIRE(mem != NULL);
        pthread_mutex_init(&mem->mu, NULL);
    } else {
        snprintf(etcd_prefix, sizeof(etcd_prefix), "contract-%ld-%d", (long)time(NULL),
                 (int)getpid());
    }
    acme_store *a = open_store();
    acme_store *b = open_store();
    test_values(a);
    test_list(a);
    test_bad_input(a);
    test_commit(a);
    test_exclusion(a, b);
    test_fencing(a, b);
    test_renewal(a, b);
    test_lease_loss(a, b);
    test_access();
    test_paused_holder(b, argv[0]);
    test_failover(a, b);
    test_schedule_due(a, b);
    acme_store_free(a);
    acme_store_free(b);
    if (mem)
        mem_free(mem);
    if (fs_dir)
        test_remove_tree(fs_dir);
    printf("%s: %d checks, %d failed\n", backend, check_count, check_failures);
    return check_failures ? 1 : 0;
}
