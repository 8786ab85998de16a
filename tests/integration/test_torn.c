/* A certificate generation switches whole for readers of the filesystem
 * store, against a real Pebble.
 *
 *   current  a reader thread loops over the pair as a web server should
 *            read it: it opens certs/NAME/current once (a directory) and
 *            reads key.pem and chain.pem inside it, while the main thread
 *            renews the name (forced, a fresh key each time). Every pair
 *            read must match: the chain's leaf holds the key's public key.
 *   stable   the same, reading the stable names certs/NAME/key.pem and
 *            chain.pem one after the other (the way a reader of 1.0 did).
 *            Not run by the suite: a switch may come between the two opens
 *            with any layout, and with the copies refreshed one by one (the
 *            1.0 store) it does within a few renewals.
 *   api      the same through acme_store_read_current() on a store handle of
 *            the reader's own: every call must succeed, and every pair match.
 *   migrate  a store in the 1.0 layout (stable names that are a hard link
 *            and a copy, no current) keeps working, and the next renewal
 *            moves it to the aliases in place.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "files.h"
#include "testutil.h"

static const char *const NAME = "torn.example.com";
#define RENEWALS 12

static int ensure(const char *dir, int force, int *result)
{
    acme_desire_options o;
    test_desire_options(&o, "torn@example.com");
    o.fresh_key_on_renewal = 1; /* so that a mixed key and chain shows */
    return test_ensure_names(dir, &NAME, 1, &o, force, result, NULL);
}

/* A whole file read relative to dfd, or NULL (errno set). */
static char *read_at(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    ssize_t n = 0;
    while (buf && (n = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (len + 1 == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b)
                free(buf);
            buf = b;
        }
    }
    close(fd);
    if (buf)
        buf[len] = '\0';
    return buf;
}

/* 1 when chain's leaf holds key_pem's public key, 0 when not. */
static int pair_matches(const char *key_pem, const char *chain)
{
    acme_key *key = NULL;
    acme_cert *cert = NULL;
    int ok = acme_key_load_pem(&key, key_pem, strlen(key_pem)) == ACME_OK &&
             acme_cert_parse(&cert, chain, strlen(chain), key) == ACME_OK;
    acme_cert_free(cert);
    acme_key_free(key);
    return ok;
}

enum { THROUGH_CURRENT, STABLE, API };

typedef struct reader {
    const char *certdir; /* certs/NAME */
    int how;             /* THROUGH_CURRENT, STABLE or API */
    acme_store *store;   /* the reader's own handle (API) */
    atomic_int stop;
    long pairs, mismatches, missing, failed;
} reader;

/* One pair through the library, as a host reads the store. */
static void read_api(reader *r)
{
    char *chain = NULL, *key = NULL;
    if (acme_store_read_current(r->store, NAME, &chain, &key) != ACME_OK) {
        fprintf(stderr, "acme_store_read_current: %s\n", acme_store_last_error(r->store));
        r->failed++;
    } else {
        r->pairs++;
        if (!key || !pair_matches(key, chain))
            r->mismatches++;
    }
    if (key)
        memset(key, 0, strlen(key));
    acme_free(key);
    acme_free(chain);
}

static void *reader_main(void *arg)
{
    reader *r = arg;
    while (!atomic_load(&r->stop)) {
        if (r->how == API) {
            read_api(r);
            continue;
        }
        int dfd = open(r->certdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int gen = -1;
        if (dfd >= 0 && r->how == THROUGH_CURRENT) {
            /* Resolve current once: what is inside is one generation. */
            int cur = openat(dfd, "current", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            close(dfd);
            dfd = cur;
            gen = 0;
        }
        if (dfd < 0) {
            r->missing++;
            continue;
        }
        char *key = read_at(dfd, "key.pem");
        char *chain = read_at(dfd, "chain.pem");
        close(dfd);
        if (key && chain) {
            r->pairs++;
            if (!pair_matches(key, chain))
                r->mismatches++;
        } else if (gen == 0) {
            /* Removed by retention between the two opens: read again. */
            r->missing++;
        }
        free(key);
        free(chain);
    }
    return NULL;
}

static int scenario_read(const char *dir, int how)
{
    int result;
    REQUIRE_OK(ensure(dir, 0, &result));
    CHECK(result == ACME_RESULT_OBTAINED);
    char *certs = test_path(dir, "certs");
    reader r = { .certdir = test_path(certs, NAME), .how = how };
    free(certs);
    if (how == API) {
        REQUIRE_OK(acme_store_new_fs(&r.store, dir));
        /* What is refused, with the store's message, before the loop. */
        char *chain = (char *)"set", *key = (char *)"set";
        CHECK_RC(acme_store_read_current(r.store, "nothere.example", &chain, &key),
                 ACME_ERR_NOT_FOUND);
        CHECK(chain == NULL && key == NULL);
        CHECK(strstr(acme_store_last_error(r.store), "no certificate stored") != NULL);
        CHECK_RC(acme_store_read_current(r.store, "../etc", &chain, NULL), ACME_ERR_INVALID);
        CHECK_RC(acme_store_read_current(r.store, NAME, NULL, &key), ACME_ERR_INVALID);
        CHECK_RC(acme_store_read_current(NULL, NAME, &chain, &key), ACME_ERR_INVALID);
        /* Without key_pem: the chain alone. */
        CHECK_OK(acme_store_read_current(r.store, NAME, &chain, NULL));
        CHECK(chain && strstr(chain, "BEGIN CERTIFICATE"));
        acme_free(chain);
    }
    atomic_init(&r.stop, 0);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, reader_main, &r) == 0);
    for (int i = 0; i < RENEWALS; i++) {
        CHECK_OK(ensure(dir, 1, &result));
        CHECK_MSG(result == ACME_RESULT_RENEWED, "renewal %d gave result %d", i, result);
    }
    atomic_store(&r.stop, 1);
    pthread_join(th, NULL);
    static const char *const hows[] = { "through current", "stable names",
                                        "acme_store_read_current" };
    fprintf(stderr, "%s: %ld pairs read, %ld mismatched, %ld reads retried, %ld failed\n",
            hows[how], r.pairs, r.mismatches, r.missing, r.failed);
    CHECK_MSG(r.pairs >= RENEWALS, "the reader read only %ld pairs", r.pairs);
    CHECK_MSG(r.mismatches == 0, "%ld pairs had a chain of another generation's key",
              r.mismatches);
    CHECK_MSG(r.failed == 0, "%ld reads failed", r.failed);
    acme_store_free(r.store);
    free((char *)r.certdir);
    return 0;
}

/* The generation meta.json names, or 0. */
static unsigned long meta_generation(const char *certdir)
{
    char *path = test_path(certdir, "meta.json");
    char *meta = test_read_file(path);
    const char *g = meta ? strstr(meta, "\"generation\":") : NULL;
    unsigned long gen = g ? strtoul(g + 13, NULL, 10) : 0;
    free(meta);
    free(path);
    return gen;
}

/* What the link at dir/name holds ("" when it is no link). */
static void link_of(const char *dir, const char *name, char *out, size_t size)
{
    char *path = test_path(dir, name);
    ssize_t n = readlink(path, out, size - 1);
    out[n > 0 ? n : 0] = '\0';
    free(path);
}

/* The certificate at dir is in the layout of the aliases, at meta's
 * generation, and its stable names give that generation's files. */
static void check_aliases(const char *certdir, const char *when)
{
    unsigned long gen = meta_generation(certdir);
    char want[32], have[256];
    snprintf(want, sizeof(want), "%lu", gen);
    link_of(certdir, "current", have, sizeof(have));
    CHECK_MSG(strcmp(have, want) == 0, "%s: current -> \"%s\", meta.json says %lu", when, have,
              gen);
    static const char *const files[] = { "key.pem", "chain.pem" };
    for (int i = 0; i < 2; i++) {
        snprintf(want, sizeof(want), "current/%s", files[i]);
        link_of(certdir, files[i], have, sizeof(have));
        CHECK_MSG(strcmp(have, want) == 0, "%s: %s -> \"%s\"", when, files[i], have);
        char gfile[64];
        snprintf(gfile, sizeof(gfile), "%lu/%s", gen, files[i]);
        char *a = test_path(certdir, files[i]), *b = test_path(certdir, gfile);
        char *ta = test_read_file(a), *tb = test_read_file(b);
        CHECK_MSG(ta && tb && strcmp(ta, tb) == 0, "%s: %s is not generation %lu's", when,
                  files[i], gen);
        free(ta);
        free(tb);
        free(a);
        free(b);
    }
}

static int scenario_migrate(const char *dir)
{
    int result;
    REQUIRE_OK(ensure(dir, 0, &result));
    CHECK(result == ACME_RESULT_OBTAINED);
    REQUIRE_OK(ensure(dir, 1, &result));
    CHECK(result == ACME_RESULT_RENEWED);
    char *certs = test_path(dir, "certs");
    char *certdir = test_path(certs, NAME);
    free(certs);
    check_aliases(certdir, "after a renewal");

    /* Back to the 1.0 layout: no current, chain.pem a hard link to the
     * generation's file and key.pem a copy of it. */
    unsigned long gen = meta_generation(certdir);
    char rel[64];
    char *cur = test_path(certdir, "current");
    REQUIRE(unlink(cur) == 0);
    snprintf(rel, sizeof(rel), "%lu/chain.pem", gen);
    char *gchain = test_path(certdir, rel), *chain = test_path(certdir, "chain.pem");
    REQUIRE(unlink(chain) == 0 && link(gchain, chain) == 0);
    snprintf(rel, sizeof(rel), "%lu/key.pem", gen);
    char *gkey = test_path(certdir, rel), *key = test_path(certdir, "key.pem");
    char *key_pem = test_read_file(gkey);
    REQUIRE(key_pem && unlink(key) == 0 && test_replace_file(key, key_pem) == 0);
    free(key_pem);

    /* A 1.0 store keeps working as it is: the run with nothing due reads
     * it (or only its index) and leaves its stable files alone. */
    REQUIRE_OK(ensure(dir, 0, &result));
    CHECK(result == ACME_RESULT_NOT_DUE);
    char *have = test_read_file(chain), *want = test_read_file(gchain);
    CHECK_MSG(have && want && strcmp(have, want) == 0, "the 1.0 stable chain changed");
    free(have);
    free(want);
    /* The next write, a renewal, moves it to the aliases in place. */
    REQUIRE_OK(ensure(dir, 1, &result));
    CHECK(result == ACME_RESULT_RENEWED);
    check_aliases(certdir, "after the renewal that migrates");
    CHECK(meta_generation(certdir) == gen + 1);
    CHECK_MSG(test_count_temps(certdir) == 0, "temporary names left");
    REQUIRE_OK(ensure(dir, 1, &result));
    CHECK(result == ACME_RESULT_RENEWED);
    check_aliases(certdir, "after the next renewal");
    free(cur);
    free(gchain);
    free(chain);
    free(gkey);
    free(key);
    free(certdir);
    return 0;
}

int main(int argc, char **argv)
{
    const char *scenario = argc > 1 ? argv[1] : "current";
    char *dir = test_tmpdir();
    REQUIRE(dir != NULL);
    if (strcmp(scenario, "current") == 0)
        scenario_read(dir, THROUGH_CURRENT);
    else if (strcmp(scenario, "stable") == 0)
        scenario_read(dir, STABLE);
    else if (strcmp(scenario, "api") == 0)
        scenario_read(dir, API);
    else if (strcmp(scenario, "migrate") == 0)
        scenario_migrate(dir);
    else
        CHECK_MSG(0, "unknown scenario %s", scenario);
    free(dir);
    test_log_clear();
    return check_done();
}
