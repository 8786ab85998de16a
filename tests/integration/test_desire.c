/* The desire against a real Pebble, one scenario per run:
 *   lifecycle  empty store -> account key, account, certificate key and
 *              certificate; a second ensure sends no request at all; with
 *              the clock moved past the renewal point it renews; a changed
 *              name list reissues; www.X brings X; the stored account is
 *              restored by e-mail; revocation with the account key and with
 *              the certificate key, confirmed by Pebble's management API,
 *              then ensure replaces the revoked certificates
 *   many       50 certificates with parallelism 8, 5 of them made to fail
 *              (their solver refuses); the other 45 succeed
 *   keys       a fresh certificate key for every renewal by default; the
 *              stored key kept with reuse_key (or per name); a key revoked
 *              for keyCompromise is never used again, for that name or
 *              another name holding it, reuse_key or not
 *   parallel   with parallelism 2 and 4, the most certificates in flight
 *              at once (counted by the solver) is the parallelism, and
 *              more than one
 *   race       two processes ensure the same name at once: one order
 *   spread     two desires (two threads, a store handle each on one
 *              directory) ensure the same names at once: each name is
 *              ordered once, and both desires order several of them (a
 *              name whose lock the other holds is left for later, not
 *              waited for)
 *   corrupt    a foreign file in the store is reported with its path and
 *              left untouched
 *   host-store a store on host callbacks (in memory) works the same; a lock
 *              held elsewhere is a clear error after the lock timeout */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"

static acme_provider *provider;
static acme_http_responder *responder;
static acme_solvers *solvers;

typedef struct events {
    int obtained, renewed, failed, revoked;
    char last_chain_path[1024];
} events;

static void on_event(const acme_event *e, void *ud)
{
    events *ev = ud;
    switch (acme_event_get_type(e)) {
    case ACME_EVENT_OBTAINED: ev->obtained++; break;
    case ACME_EVENT_RENEWED: ev->renewed++; break;
    case ACME_EVENT_FAILED: ev->failed++; break;
    case ACME_EVENT_REVOKED: ev->revoked++; break;
    default: break;
    }
    if (acme_event_chain_path(e))
        snprintf(ev->last_chain_path, sizeof(ev->last_chain_path), "%s",
                 acme_event_chain_path(e));
}

static int64_t fake_now;
static int64_t fake_clock(void *ud)
{
    (void)ud;
    return fake_now;
}

static acme_desire *new_desire(acme_store *store, events *ev, unsigned int parallel)
{
    acme_desire_options o;
    test_desire_options(&o, "ops@example.com");
    o.on_event = on_event;
    o.event_userdata = ev;
    o.parallel = parallel;
    o.clock = fake_clock;
    o.lock_timeout_s = 2;
    acme_desire *d = NULL;
    REQUIRE_OK(acme_desire_new(&d, provider, store, solvers, &o));
    return d;
}

/* A filesystem store in a new directory (*dir, free()), with the clock
 * set to now. */
static acme_store *new_fs_store(char **dir)
{
    *dir = test_tmpdir();
    REQUIRE(*dir);
    acme_store *store = NULL;
    REQUIRE_OK(acme_store_new_fs(&store, *dir));
    fake_now = (int64_t)time(NULL);
    return store;
}

static size_t index_of(acme_desire *d, const char *name)
{
    for (size_t i = 0; i < acme_desire_count(d); i++)
        if (strcmp(acme_desire_name(d, i), name) == 0)
            return i;
    return (size_t)-1;
}

static char *store_get(acme_store *s, const char *key)
{
    char *data = NULL;
    size_t len;
    return acme_store_get(s, key, &data, &len) == ACME_OK ? data : NULL;
}

static int mode_of(const char *dir, const char *rel)
{
    char path[2048];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

/* Non-zero when two store files are one file under two names. */
static int same_file(const char *dir, const char *a, const char *b)
{
    char pa[2048], pb[2048];
    snprintf(pa, sizeof(pa), "%s/%s", dir, a);
    snprintf(pb, sizeof(pb), "%s/%s", dir, b);
    struct stat sa, sb;
    return stat(pa, &sa) == 0 && stat(pb, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Revocation status of a serial from Pebble's management API. */
static int pebble_revoked(const char *serial_hex)
{
    char path[256];
    snprintf(path, sizeof(path), "/cert-status-by-serial/%s", serial_hex);
    char *reply = test_pebble_mgmt_get(path);
    int revoked = reply && strstr(reply, "\"Revoked\"") != NULL;
    free(reply);
    return revoked;
}

static char *serial_of(acme_store *s, const char *name)
{
    char key[512];
    snprintf(key, sizeof(key), "certs/%s/chain.pem", name);
    char *pem = store_get(s, key);
    acme_cert *c = NULL;
    char *serial = NULL;
    if (pem && acme_cert_parse(&c, pem, strlen(pem), NULL) == ACME_OK)
        serial = strdup(acme_cert_serial(c));
    acme_cert_free(c);
    acme_free(pem);
    return serial;
}

static void test_lifecycle(void)
{
    char *dir;
    acme_store *store = new_fs_store(&dir);
    events ev = { 0 };
    acme_desire *d = new_desire(store, &ev, 2);

    const char *site[] = { "www.site.example" };
    const char *api[] = { "api.example.net", "*.api.example.net" };
    CHECK_OK(acme_desire_add(d, "site", site, 1, ACME_KEY_EC256, NULL));
    CHECK_OK(acme_desire_add(d, NULL, api, 2, ACME_KEY_RSA2048, NULL));
    CHECK_RC(acme_desire_add(d, "bad/name", site, 1, 0, NULL), ACME_ERR_INVALID);
    CHECK_RC(acme_desire_add(d, "x", (const char *[]){ "bad..name" }, 1, 0, NULL),
             ACME_ERR_IDENTIFIER);
    CHECK(acme_desire_count(d) == 2);
    CHECK_STR(acme_desire_name(d, 1), "api.example.net");

    /* dns-01 for the wildcard comes from challtestsrv; http-01 from the responder. */
    REQUIRE_OK(acme_desire_ensure(d));
    size_t obtained, renewed, not_due, failed;
    acme_desire_summary(d, &obtained, &renewed, &not_due, &failed);
    CHECK(obtained == 2 && renewed == 0 && not_due == 0 && failed == 0);
    CHECK(ev.obtained == 2);
    CHECK(strstr(ev.last_chain_path, dir) == ev.last_chain_path);

    /* The store holds the account and both certificates, keys private. */
    acme_account *acct = NULL;
    CHECK_OK(acme_desire_account(d, &acct));
    char *site_chain = store_get(store, "certs/site/chain.pem");
    char *site_key_pem = store_get(store, "certs/site/key.pem");
    REQUIRE(site_chain && site_key_pem);
    acme_key *site_key = NULL;
    REQUIRE_OK(acme_key_load_pem(&site_key, site_key_pem, strlen(site_key_pem)));
    const char *site_names[] = { "www.site.example", "site.example" }; /* www brings the base */
    CHECK(test_leaf_matches(site_chain, site_key, site_names, 2) == 0);
    CHECK(mode_of(dir, "certs/site/key.pem") == 0600);
    CHECK(mode_of(dir, "certs/site/1/key.pem") == 0600);
    CHECK(mode_of(dir, "certs") == 0700);
    /* The stable copies are links to the current generation's files. */
    CHECK(same_file(dir, "certs/site/key.pem", "certs/site/1/key.pem"));
    CHECK(same_file(dir, "certs/site/chain.pem", "certs/site/1/chain.pem"));
    char *meta = store_get(store, "certs/site/meta.json");
    CHECK(meta && strstr(meta, "\"generation\":1"));
    acme_free(meta);

    /* Nothing due: not a single request. */
    uint64_t before, after;
    acme_provider_stats(provider, &before, NULL);
    CHECK_OK(acme_desire_ensure(d));
    acme_provider_stats(provider, &after, NULL);
    CHECK_MSG(after == before, "%llu requests with nothing due",
              (unsigned long long)(after - before));
    acme_desire_summary(d, &obtained, &renewed, &not_due, &failed);
    CHECK(not_due == 2 && obtained == 0 && renewed == 0);
    CHECK(strstr(acme_desire_message(d, 0), "not due") != NULL);

    /* Pebble's certificates last about 5 years; 4 years on, they are due. */
    fake_now += 4 * 365 * 86400LL;
    CHECK_OK(acme_desire_ensure(d));
    acme_desire_summary(d, &obtained, &renewed, &not_due, &failed);
    CHECK(renewed == 2);
    CHECK(ev.renewed == 2);
    char *site_chain2 = store_get(store, "certs/site/chain.pem");
    CHECK(site_chain2 && strcmp(site_chain2, site_chain) != 0);
    /* A fresh key by default: the renewed leaf holds another key. */
    char *site_key_pem2 = store_get(store, "certs/site/key.pem");
    CHECK(site_key_pem2 && strcmp(site_key_pem2, site_key_pem) != 0);
    acme_key *site_key2 = NULL;
    if (site_key_pem2 &&
        acme_key_load_pem(&site_key2, site_key_pem2, strlen(site_key_pem2)) == ACME_OK)
        CHECK(test_leaf_matches(site_chain2, site_key2, site_names, 2) == 0);
    acme_key_free(site_key2);
    acme_free(site_key_pem2);
    meta = store_get(store, "certs/site/meta.json");
    CHECK(meta && strstr(meta, "\"generation\":2"));
    acme_free(meta);
    CHECK(same_file(dir, "certs/site/chain.pem", "certs/site/2/chain.pem"));
    CHECK(!same_file(dir, "certs/site/chain.pem", "certs/site/1/chain.pem"));

    /* A changed name list reissues that one certificate only. */
    fake_now = (int64_t)time(NULL);
    const char *site2[] = { "www.site.example", "static.site.example" };
    CHECK_OK(acme_desire_add(d, "site", site2, 2, ACME_KEY_EC256, NULL));
    CHECK_OK(acme_desire_ensure(d));
    CHECK(acme_desire_result(d, index_of(d, "site")) == ACME_RESULT_RENEWED);
    CHECK(acme_desire_result(d, index_of(d, "api.example.net")) == ACME_RESULT_NOT_DUE);
    CHECK(strstr(acme_desire_message(d, index_of(d, "site")), "names") != NULL);

    /* The account is restored by e-mail and verified with the CA. */
    acme_account *restored = NULL;
    CHECK_OK(acme_account_restore(&restored, provider, store, "ops@example.com"));
    if (restored)
        CHECK_STR(acme_account_url(restored), acme_account_url(acct));
    acme_account_free(restored);
    CHECK_RC(acme_account_restore(&restored, provider, store, "nobody@example.com"),
             ACME_ERR_NOT_FOUND);

    /* Revocation: by account key, then by certificate key. */
    char *serial_site = serial_of(store, "site");
    char *serial_api = serial_of(store, "api.example.net");
    REQUIRE(serial_site && serial_api);
    CHECK(!pebble_revoked(serial_site));
    CHECK_OK(acme_desire_revoke(d, "site", ACME_REASON_SUPERSEDED, 0));
    CHECK(pebble_revoked(serial_site));
    /* Revoked again: the CA's alreadyRevoked is recorded on the account
     * the call was made on, and on the desire. */
    char *revoked_chain = store_get(store, "certs/site/chain.pem");
    REQUIRE(revoked_chain != NULL);
    CHECK_RC(acme_account_revoke(acct, revoked_chain, ACME_REASON_SUPERSEDED), ACME_ERR_PROBLEM);
    CHECK_MSG(acme_problem_is(acme_account_last_problem(acct), "alreadyRevoked"), "%s",
              acme_account_last_error(acct));
    CHECK_MSG(strstr(acme_account_last_error(acct), "revoking the certificate") != NULL, "\"%s\"",
              acme_account_last_error(acct));
    acme_free(revoked_chain);
    CHECK_RC(acme_desire_revoke(d, "site", ACME_REASON_SUPERSEDED, 0), ACME_ERR_PROBLEM);
    CHECK_MSG(strstr(acme_desire_last_error(d), "revoking the certificate") != NULL, "\"%s\"",
              acme_desire_last_error(d));
    CHECK_OK(acme_desire_revoke(d, "api.example.net", ACME_REASON_KEY_COMPROMISE, 1));
    CHECK(pebble_revoked(serial_api));
    CHECK(ev.revoked == 2);
    CHECK_RC(acme_desire_revoke(d, "site", 7, 0), ACME_ERR_INVALID);
    CHECK_RC(acme_desire_revoke(d, "nothing", 0, 0), ACME_ERR_NOT_FOUND);
    /* Revoked certificates are replaced by the next ensure. */
    CHECK_OK(acme_desire_ensure(d));
    acme_desire_summary(d, &obtained, &renewed, &not_due, &failed);
    CHECK(renewed == 2);
    CHECK(strstr(acme_desire_message(d, 0), "revoked") != NULL);

    free(serial_site);
    free(serial_api);
    acme_key_free(site_key);
    acme_free(site_chain);
    acme_free(site_chain2);
    acme_free(site_key_pem);
    acme_desire_free(d);
    /* acme_desire_account gave a reference of the caller's own. */
    CHECK(acme_account_url(acct) && *acme_account_url(acct));
    acme_account_free(acct);

    /* A new desire over the same store finds everything in place. */
    events ev2 = { 0 };
    d = new_desire(store, &ev2, 1);
    size_t count = 0;
    CHECK_OK(acme_desire_add_stored(d, &count));
    CHECK(count == 2);
    acme_provider_stats(provider, &before, NULL);
    CHECK_OK(acme_desire_ensure(d));
    acme_provider_stats(provider, &after, NULL);
    CHECK(after == before);
    acme_desire_summary(d, &obtained, &renewed, &not_due, &failed);
    CHECK(not_due == 2);
    acme_desire_free(d);
    acme_store_free(store);
    free(dir);
}

static int refuse(const acme_challenge *ch, void *ud)
{
    (void)ch;
    (void)ud;
    return ACME_ERR_DECLINED;
}

static void test_many(void)
{
    char *dir;
    acme_store *store = new_fs_store(&dir);
    events ev = { 0 };
    acme_desire *d = new_desire(store, &ev, 8);
    acme_solvers *refusing = NULL;
    REQUIRE_OK(acme_solvers_new(&refusing));
    REQUIRE_OK(acme_solvers_add(refusing, "http-01", refuse, NULL, NULL, NULL));
    for (int i = 0; i < 50; i++) {
        char name[64];
        snprintf(name, sizeof(name), "n%02d.many.example", i);
        const char *ids[] = { name };
        CHECK_OK(acme_desire_add(d, NULL, ids, 1, 0, i % 10 == 3 ? refusing : NULL));
    }
    /* The desire keeps its own references to the set and the store. */
    acme_solvers_free(refusing);
    acme_store_free(store);
    CHECK_RC(acme_desire_ensure(d), ACME_ERR_NO_SOLVER);
    size_t obtained, renewed, not_due, failed;
    acme_desire_summary(d, &obtained, &renewed, &not_due, &failed);
    CHECK_MSG(obtained == 45 && failed == 5, "obtained %zu failed %zu", obtained, failed);
    CHECK(ev.obtained == 45 && ev.failed == 5);
    for (size_t i = 0; i < acme_desire_count(d); i++) {
        int want_fail = strstr(acme_desire_name(d, i), "3.many") != NULL;
        CHECK(acme_desire_result(d, i) == (want_fail ? ACME_RESULT_FAILED : ACME_RESULT_OBTAINED));
        if (want_fail)
            CHECK(acme_desire_error(d, i) == ACME_ERR_NO_SOLVER);
    }
    acme_desire_free(d);
    free(dir);
}

/* ---- certificate keys ------------------------------------------------------ */

/* The current certificate key of `name`, as PEM (acme_free()). */
static char *key_pem_of(acme_store *s, const char *name)
{
    char key[512];
    snprintf(key, sizeof(key), "certs/%s/key.pem", name);
    return store_get(s, key);
}

/* Renew `name` now and return its key afterwards. */
static char *forced_renewal(acme_desire *d, acme_store *s, const char *name)
{
    CHECK_OK(acme_desire_set_force(d, name, 1));
    CHECK_OK(acme_desire_ensure_one(d, name));
    CHECK_MSG(acme_desire_result(d, index_of(d, name)) == ACME_RESULT_RENEWED, "%s: %s", name,
              acme_desire_message(d, index_of(d, name)));
    return key_pem_of(s, name);
}

/* Copy a stored value to another key. */
static void store_copy(acme_store *s, const char *from, const char *to, int secret)
{
    char *data = NULL;
    size_t len = 0;
    REQUIRE_OK(acme_store_get(s, from, &data, &len));
    REQUIRE_OK(acme_store_put(s, to, data, len, secret));
    acme_free(data);
}

static void test_keys(void)
{
    char *dir;
    acme_store *store = new_fs_store(&dir);
    events ev = { 0 };
    const char *fresh_ids[] = { "fresh.keys.example" };
    const char *kept_ids[] = { "kept.keys.example" };

    /* The default: every renewal makes a new key... */
    acme_desire *d = new_desire(store, &ev, 1);
    CHECK_OK(acme_desire_add(d, "fresh", fresh_ids, 1, 0, NULL));
    REQUIRE_OK(acme_desire_ensure(d));
    char *k1 = key_pem_of(store, "fresh");
    char *k2 = forced_renewal(d, store, "fresh");
    REQUIRE(k1 && k2);
    CHECK_MSG(strcmp(k1, k2) != 0, "a renewal kept the key by default");
    /* ...unless this name asks to keep it. */
    CHECK_OK(acme_desire_set_reuse_key(d, "fresh", 1));
    CHECK_RC(acme_desire_set_reuse_key(d, "nothing", 1), ACME_ERR_NOT_FOUND);
    char *k3 = forced_renewal(d, store, "fresh");
    CHECK(k3 && strcmp(k2, k3) == 0);
    acme_desire_free(d);

    /* reuse_key for the whole desire. */
    acme_desire_options o;
    test_desire_options(&o, "ops@example.com");
    o.clock = fake_clock;
    o.lock_timeout_s = 2;
    o.reuse_key = 1;
    REQUIRE_OK(acme_desire_new(&d, provider, store, solvers, &o));
    CHECK_OK(acme_desire_add(d, "kept", kept_ids, 1, 0, NULL));
    REQUIRE_OK(acme_desire_ensure(d));
    char *kept1 = key_pem_of(store, "kept");
    REQUIRE(kept1);
    /* A second certificate holding the same key (as a host copying files
     * would make): generation 1 of "kept" as "twin". */
    store_copy(store, "certs/kept/meta.json", "certs/twin/meta.json", 0);
    store_copy(store, "certs/kept/1/key.pem", "certs/twin/1/key.pem", 1);
    store_copy(store, "certs/kept/1/chain.pem", "certs/twin/1/chain.pem", 0);
    CHECK_OK(acme_desire_add(d, "twin", kept_ids, 1, 0, NULL));
    char *kept2 = forced_renewal(d, store, "kept");
    CHECK(kept2 && strcmp(kept1, kept2) == 0);
    CHECK_OK(acme_desire_ensure_one(d, "twin"));
    CHECK(acme_desire_result(d, index_of(d, "twin")) == ACME_RESULT_NOT_DUE);

    /* Revoked for keyCompromise: recorded in the store by thumbprint... */
    acme_key *compromised = NULL;
    REQUIRE_OK(acme_key_load_pem(&compromised, kept1, strlen(kept1)));
    char *thumbprint = NULL;
    REQUIRE_OK(acme_key_thumbprint(compromised, &thumbprint));
    char record[256];
    snprintf(record, sizeof(record), "compromised-keys/%s", thumbprint);
    CHECK_OK(acme_desire_revoke(d, "kept", ACME_REASON_KEY_COMPROMISE, 0));
    char *rec = store_get(store, record);
    CHECK_MSG(rec && strstr(rec, "\"kept\""), "no record %s", record);
    acme_free(rec);
    /* ...and never used again, reuse_key or not, for either name. */
    uint64_t before, after;
    acme_provider_stats(provider, &before, NULL);
    CHECK_OK(acme_desire_ensure(d));
    acme_provider_stats(provider, &after, NULL);
    CHECK(after > before);
    size_t renewed = 0;
    acme_desire_summary(d, NULL, &renewed, NULL, NULL);
    CHECK_MSG(renewed == 2, "%zu renewed", renewed);
    CHECK(strstr(acme_desire_message(d, index_of(d, "kept")), "revoked") != NULL);
    CHECK(strstr(acme_desire_message(d, index_of(d, "twin")), "keyCompromise") != NULL);
    char *kept3 = key_pem_of(store, "kept");
    char *twin3 = key_pem_of(store, "twin");
    CHECK(kept3 && strcmp(kept3, kept1) != 0);
    CHECK(twin3 && strcmp(twin3, kept1) != 0);
    /* The replacements are fine: nothing more is due. */
    acme_provider_stats(provider, &before, NULL);
    CHECK_OK(acme_desire_ensure(d));
    acme_provider_stats(provider, &after, NULL);
    CHECK_MSG(after == before, "%llu requests with nothing due",
              (unsigned long long)(after - before));

    acme_free(thumbprint);
    acme_key_free(compromised);
    acme_free(k1);
    acme_free(k2);
    acme_free(k3);
    acme_free(kept1);
    acme_free(kept2);
    acme_free(kept3);
    acme_free(twin3);
    acme_desire_free(d);
    acme_store_free(store);
    free(dir);
}

/* ---- the parallelism bound ------------------------------------------------- */

/* Certificates in flight, counted between a challenge's present and its
 * cleanup (one identifier per certificate, so one challenge each). */
static atomic_int in_flight;
static atomic_int peak_in_flight;

static int counting_present(const acme_challenge *ch, void *ud)
{
    (void)ud;
    int now = atomic_fetch_add(&in_flight, 1) + 1;
    int peak = atomic_load(&peak_in_flight);
    while (now > peak && !atomic_compare_exchange_weak(&peak_in_flight, &peak, now))
        ;
    /* Long enough for every thread the desire runs to reach its present. */
    struct timespec pause = { 0, 300 * 1000 * 1000 };
    nanosleep(&pause, NULL);
    return test_dns_present(ch, ud);
}

static void counting_cleanup(const acme_challenge *ch, void *ud)
{
    test_dns_cleanup(ch, ud);
    atomic_fetch_sub(&in_flight, 1);
}

static void test_parallel(void)
{
    acme_solvers *counting = NULL;
    REQUIRE_OK(acme_solvers_new(&counting));
    REQUIRE_OK(acme_solvers_add(counting, "dns-01", counting_present, NULL, counting_cleanup,
                                NULL));
    static const unsigned int parallelism[] = { 2, 4 };
    for (size_t k = 0; k < sizeof(parallelism) / sizeof(parallelism[0]); k++) {
        unsigned int p = parallelism[k];
        char *dir;
        acme_store *store = new_fs_store(&dir);
        events ev = { 0 };
        acme_desire *d = new_desire(store, &ev, p);
        size_t n = 3 * p;
        for (size_t i = 0; i < n; i++) {
            char name[64];
            snprintf(name, sizeof(name), "p%u-%02zu.parallel.example", p, i);
            const char *ids[] = { name };
            CHECK_OK(acme_desire_add(d, NULL, ids, 1, 0, counting));
        }
        atomic_store(&in_flight, 0);
        atomic_store(&peak_in_flight, 0);
        CHECK_OK(acme_desire_ensure(d));
        size_t obtained;
        acme_desire_summary(d, &obtained, NULL, NULL, NULL);
        CHECK_MSG(obtained == n, "parallel %u: %zu of %zu obtained", p, obtained, n);
        int peak = atomic_load(&peak_in_flight);
        CHECK_MSG(peak <= (int)p, "parallel %u: %d certificates in flight at once", p, peak);
        CHECK_MSG(peak > 1, "parallel %u: never more than one certificate in flight", p);
        acme_desire_free(d);
        acme_store_free(store);
        free(dir);
    }
    acme_solvers_free(counting);
}

static size_t count_new_orders(void)
{
    FILE *f = fopen(test_env("ACME_TEST_PEBBLE_LOG"), "r");
    size_t n = 0;
    char line[1024];
    while (f && fgets(line, sizeof(line), f))
        n += strstr(line, "Added order ") != NULL; /* not the request: badNonce retries repeat it */
    if (f)
        fclose(f);
    return n;
}

/* Register an account and keep it in the filesystem store at dir. */
static void store_account(const char *dir)
{
    acme_store *store = NULL;
    REQUIRE_OK(acme_store_new_fs(&store, dir));
    events ev = { 0 };
    acme_desire *d = new_desire(store, &ev, 1);
    acme_account *a;
    REQUIRE_OK(acme_desire_account(d, &a));
    acme_account_free(a);
    acme_desire_free(d);
    acme_store_free(store);
}

static void test_race(void)
{
    char *dir = test_tmpdir();
    size_t orders_before = count_new_orders();
    /* One account first, so that both children only order. */
    store_account(dir);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        REQUIRE(kids[k] >= 0);
        if (kids[k] == 0) {
            /* After fork: a provider and solvers of the child's own (the
             * parent's connections and responder thread are not ours). */
            acme_store *store = NULL;
            events ev = { 0 };
            provider = test_provider(NULL);
            acme_solvers *dns = NULL;
            if (acme_store_new_fs(&store, dir) != ACME_OK || acme_solvers_new(&dns) != ACME_OK ||
                test_add_dns_solver(dns) != ACME_OK)
                _exit(10);
            acme_desire_options o;
            acme_desire_options_init(&o, ACME_DESIRE_OPTIONS_VERSION);
            o.email = "ops@example.com";
            o.lock_timeout_s = 60;
            o.on_event = on_event;
            o.event_userdata = &ev;
            acme_desire *d = NULL;
            if (acme_desire_new(&d, provider, store, dns, &o) != ACME_OK)
                _exit(11);
            const char *ids[] = { "race.example.com" };
            acme_desire_add(d, NULL, ids, 1, 0, NULL);
            int rc = acme_desire_ensure(d);
            int result = acme_desire_result(d, 0);
            if (rc != ACME_OK)
                fprintf(stderr, "child %d: %s\n", k, acme_desire_message(d, 0));
            _exit(rc != ACME_OK ? 12 : result == ACME_RESULT_OBTAINED ? 0 : 1);
        }
    }
    int outcomes[2];
    for (int k = 0; k < 2; k++) {
        int status;
        waitpid(kids[k], &status, 0);
        outcomes[k] = WIFEXITED(status) ? WEXITSTATUS(status) : 100;
    }
    /* One obtained (0), the other waited and found it not due (1). */
    CHECK_MSG(outcomes[0] + outcomes[1] == 1, "children exited %d and %d", outcomes[0],
              outcomes[1]);
    CHECK_MSG(count_new_orders() - orders_before == 1, "%zu orders",
              count_new_orders() - orders_before);
    free(dir);
}

/* ---- two desires sharing a store spread the orders ---------------------------- */

#define SPREAD_NAMES 16

typedef struct spreader {
    const char *dir;
    pthread_barrier_t *start;
    int results[SPREAD_NAMES];
    size_t obtained;
    int rc;
} spreader;

static void *spread_run(void *arg)
{
    spreader *sp = arg;
    acme_store *store = NULL;
    REQUIRE_OK(acme_store_new_fs(&store, sp->dir));
    acme_desire_options o;
    test_desire_options(&o, "ops@example.com");
    o.parallel = 2;
    o.lock_timeout_s = 120; /* the old pool waited here for the other's order */
    acme_desire *d = NULL;
    REQUIRE_OK(acme_desire_new(&d, provider, store, solvers, &o));
    for (size_t i = 0; i < SPREAD_NAMES; i++) {
        char name[64];
        snprintf(name, sizeof(name), "s%02zu.spread.example", i);
        const char *ids[] = { name };
        REQUIRE_OK(acme_desire_add(d, NULL, ids, 1, 0, NULL));
    }
    pthread_barrier_wait(sp->start);
    sp->rc = acme_desire_ensure(d);
    for (size_t i = 0; i < SPREAD_NAMES; i++)
        sp->results[i] = acme_desire_result(d, i);
    acme_desire_summary(d, &sp->obtained, NULL, NULL, NULL);
    acme_desire_free(d);
    acme_store_free(store);
    return NULL;
}

static void test_spread(void)
{
    char *dir = test_tmpdir();
    REQUIRE(dir);
    /* The account first, so that both desires only order. */
    store_account(dir);
    size_t orders_before = count_new_orders();
    pthread_barrier_t start;
    REQUIRE(pthread_barrier_init(&start, NULL, 2) == 0);
    spreader sp[2];
    memset(sp, 0, sizeof(sp));
    pthread_t th[2];
    for (int k = 0; k < 2; k++) {
        sp[k].dir = dir;
        sp[k].start = &start;
        REQUIRE(pthread_create(&th[k], NULL, spread_run, &sp[k]) == 0);
    }
    for (int k = 0; k < 2; k++)
        pthread_join(th[k], NULL);
    pthread_barrier_destroy(&start);
    CHECK_OK(sp[0].rc);
    CHECK_OK(sp[1].rc);
    /* Each name obtained by one desire, and found done by the other. */
    for (size_t i = 0; i < SPREAD_NAMES; i++) {
        int a = sp[0].results[i], b = sp[1].results[i];
        CHECK_MSG((a == ACME_RESULT_OBTAINED && b == ACME_RESULT_NOT_DUE) ||
                      (a == ACME_RESULT_NOT_DUE && b == ACME_RESULT_OBTAINED),
                  "name %zu: results %d and %d", i, a, b);
    }
    size_t orders = count_new_orders() - orders_before;
    CHECK_MSG(orders == SPREAD_NAMES, "%zu orders for %d names", orders, SPREAD_NAMES);
    fprintf(stderr, "obtained: %zu and %zu\n", sp[0].obtained, sp[1].obtained);
    /* Not an exact split: each must have ordered a fair share. */
    CHECK_MSG(sp[0].obtained >= 4 && sp[1].obtained >= 4,
              "the orders are not spread: %zu and %zu of %d", sp[0].obtained, sp[1].obtained,
              SPREAD_NAMES);
    free(dir);
}

static void test_corrupt(void)
{
    char *dir;
    acme_store *store = new_fs_store(&dir);
    events ev = { 0 };
    acme_desire *d = new_desire(store, &ev, 1);
    const char *ids[] = { "corrupt.example.com" };
    CHECK_OK(acme_desire_add(d, NULL, ids, 1, 0, NULL));
    REQUIRE_OK(acme_desire_ensure(d));

    /* A foreign chain in the current generation. */
    const char *junk = "this is not a certificate\n";
    REQUIRE_OK(acme_store_put(store, "certs/corrupt.example.com/1/chain.pem", junk,
                              strlen(junk), 0));
    /* Not due, an idle ensure never opens it (schedule index): forced, it does. */
    CHECK_OK(acme_desire_set_force(d, "corrupt.example.com", 1));
    CHECK_RC(acme_desire_ensure(d), ACME_ERR_CORRUPT);
    CHECK(strstr(acme_desire_message(d, 0), "certs/corrupt.example.com/1/chain.pem") != NULL);
    char *after = store_get(store, "certs/corrupt.example.com/1/chain.pem");
    CHECK(after && strcmp(after, junk) == 0); /* left untouched */
    acme_free(after);
    CHECK(ev.failed == 1);

    acme_desire_free(d);
    acme_store_free(store);
    free(dir);
}

/* ---- a host store: everything in memory ------------------------------------ */

#define MEM_MAX 64
typedef struct mem_store {
    char *keys[MEM_MAX];
    char *values[MEM_MAX];
    size_t lens[MEM_MAX];
    int secret[MEM_MAX];
    const char *blocked_lock; /* always held "elsewhere" */
    int locks_taken;
} mem_store;

static int mem_find(mem_store *m, const char *key)
{
    for (int i = 0; i < MEM_MAX; i++)
        if (m->keys[i] && strcmp(m->keys[i], key) == 0)
            return i;
    return -1;
}

static int mem_read(const char *key, acme_buffer *out, void *ud)
{
    int i = mem_find(ud, key);
    if (i < 0)
        return ACME_ERR_NOT_FOUND;
    mem_store *m = ud;
    return acme_buffer_append(out, m->values[i], m->lens[i]);
}

static int mem_write(const char *key, const void *data, size_t len, int secret, void *ud)
{
    mem_store *m = ud;
    int i = mem_find(m, key);
    for (int j = 0; i < 0 && j < MEM_MAX; j++)
        if (!m->keys[j])
            i = j;
    if (i < 0)
        return ACME_ERR_IO;
    free(m->keys[i]);
    free(m->values[i]);
    m->keys[i] = strdup(key);
    m->values[i] = malloc(len ? len : 1);
    memcpy(m->values[i], data, len);
    m->lens[i] = len;
    m->secret[i] = secret;
    return ACME_OK;
}

static int mem_remove(const char *key, void *ud)
{
    mem_store *m = ud;
    int i = mem_find(m, key);
    if (i >= 0) {
        free(m->keys[i]);
        free(m->values[i]);
        m->keys[i] = m->values[i] = NULL;
    }
    return ACME_OK;
}

static int mem_list(const char *prefix, acme_buffer *out, void *ud)
{
    mem_store *m = ud;
    size_t plen = strlen(prefix);
    for (int i = 0; i < MEM_MAX; i++) {
        if (!m->keys[i] || strncmp(m->keys[i], prefix, plen) != 0 || m->keys[i][plen] != '/')
            continue;
        const char *child = m->keys[i] + plen + 1;
        size_t n = strcspn(child, "/");
        acme_buffer_append(out, child, n);
        acme_buffer_append(out, "\n", 1); /* duplicates are fine for the library */
    }
    return ACME_OK;
}

static int mem_lock(const char *name, void *ud)
{
    mem_store *m = ud;
    if (m->blocked_lock && strcmp(name, m->blocked_lock) == 0)
        return ACME_ERR_LOCKED;
    m->locks_taken++;
    return ACME_OK;
}

static void mem_unlock(const char *name, void *ud)
{
    (void)name;
    ((mem_store *)ud)->locks_taken--;
}

static void test_host_store(void)
{
    static mem_store m;
    acme_store_ops ops = { .version = ACME_STORE_OPS_VERSION, .read = mem_read,
                           .write = mem_write, .remove = mem_remove, .list = mem_list,
                           .lock = mem_lock, .unlock = mem_unlock };
    acme_store *store = NULL;
    REQUIRE_OK(acme_store_new(&store, &ops, &m));
    events ev = { 0 };
    fake_now = (int64_t)time(NULL);
    acme_desire *d = new_desire(store, &ev, 1);
    const char *ids[] = { "memory.example.com" };
    CHECK_OK(acme_desire_add(d, NULL, ids, 1, 0, NULL));
    CHECK_OK(acme_desire_ensure(d));
    CHECK(acme_desire_result(d, 0) == ACME_RESULT_OBTAINED);
    CHECK(ev.obtained == 1);
    CHECK(ev.last_chain_path[0] == '\0'); /* no paths outside the filesystem store */
    int k = mem_find(&m, "certs/memory.example.com/key.pem");
    CHECK(k >= 0 && m.secret[k]);
    CHECK(m.locks_taken == 0);
    CHECK_OK(acme_desire_ensure(d));
    CHECK(acme_desire_result(d, 0) == ACME_RESULT_NOT_DUE);

    /* A lock held elsewhere: a clear error after the lock timeout (2 s),
     * for a name ensure looks at (forced: not left alone on its index entry). */
    CHECK_OK(acme_desire_set_force(d, "memory.example.com", 1));
    m.blocked_lock = "certs/memory.example.com";
    time_t t0 = time(NULL);
    CHECK_RC(acme_desire_ensure(d), ACME_ERR_LOCKED);
    CHECK(time(NULL) - t0 <= 5);
    CHECK(strstr(acme_desire_message(d, 0), "certs/memory.example.com") != NULL);
    m.blocked_lock = NULL;
    acme_desire_free(d);
    acme_store_free(store);
    for (int i = 0; i < MEM_MAX; i++) {
        free(m.keys[i]);
        free(m.values[i]);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s lifecycle|many|keys|parallel|race|spread|corrupt|host-store\n", argv[0]);
        return 2;
    }
    provider = test_provider(NULL);
    REQUIRE_OK(acme_http_responder_start(&responder, "127.0.0.1",
                                         (unsigned int)atoi(test_env("ACME_TEST_HTTP_PORT"))));
    REQUIRE_OK(acme_solvers_new(&solvers));
    REQUIRE_OK(acme_solvers_add_http_responder(solvers, responder));
    REQUIRE_OK(test_add_dns_solver(solvers));
    if (strcmp(argv[1], "lifecycle") == 0)
        test_lifecycle();
    else if (strcmp(argv[1], "many") == 0)
        test_many();
    else if (strcmp(argv[1], "keys") == 0)
        test_keys();
    else if (strcmp(argv[1], "parallel") == 0)
        test_parallel();
    else if (strcmp(argv[1], "race") == 0)
        test_race();
    else if (strcmp(argv[1], "spread") == 0)
        test_spread();
    else if (strcmp(argv[1], "corrupt") == 0)
        test_corrupt();
    else if (strcmp(argv[1], "host-store") == 0)
        test_host_store();
    else
        return 2;
    acme_solvers_free(solvers);
    acme_http_responder_stop(responder);
    acme_provider_free(provider);
    test_log_clear();
    return check_done();
}
