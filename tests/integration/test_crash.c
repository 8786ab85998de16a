/* Crash safety of renewal with the filesystem store, against a real Pebble.
 *
 * A child process renews a certificate and is killed with SIGKILL at write
 * step k: just before the k-th rename(2) of the store (the temporary file
 * is complete but not in place) or just after it. rename is intercepted
 * with the linker's --wrap, so the store's real code runs. After every
 * kill, the store must hold the old or the new certificate, with a key
 * that matches it, and nothing truncated; the next run must leave the
 * stable copies equal to the current generation and no temporary files.
 * The pair a reader finds through certs/NAME/current (the alias the switch
 * renames into place) must match after every kill too, and point at the
 * metadata's generation after the next run.
 * k grows until a child renews without being killed: every step is hit. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "files.h"
#include "testutil.h"

/* ---- the crash point ---------------------------------------------------- */

int __real_rename(const char *from, const char *to);
int __wrap_rename(const char *from, const char *to);

static int kill_at;    /* 0: never */
static int kill_after; /* kill after the rename instead of before it */
static int renames;

int __wrap_rename(const char *from, const char *to)
{
    if (kill_at && ++renames == kill_at && !kill_after)
        raise(SIGKILL);
    int rc = __real_rename(from, to);
    if (kill_at && renames == kill_at && kill_after)
        raise(SIGKILL);
    return rc;
}

/* ---- helpers -------------------------------------------------------------- */

static const char *const NAME = "crash.example.com";

/* Run one ensure in this process; force renews even when not due. */
static int ensure(const char *dir, int force, int *result)
{
    acme_desire_options o;
    test_desire_options(&o, "crash@example.com");
    o.fresh_key_on_renewal = 1; /* so that a mixed key and chain would show */
    return test_ensure_names(dir, &NAME, 1, &o, force, result, NULL);
}

static char *get(acme_store *s, const char *key)
{
    char *v = NULL;
    size_t len;
    return acme_store_get(s, key, &v, &len) == ACME_OK ? v : NULL;
}

/* The generation certs/NAME/current names (0: none), and, when there is
 * one, the key and chain found through it match. */
static unsigned long check_alias_pair(const char *dir, const char *when)
{
    char base[512], link[64];
    snprintf(base, sizeof(base), "%s/certs/%s/current", dir, NAME);
    ssize_t n = readlink(base, link, sizeof(link) - 1);
    if (n <= 0)
        return 0;
    link[n] = '\0';
    char kp[600], cp[600];
    snprintf(kp, sizeof(kp), "%s/key.pem", base);
    snprintf(cp, sizeof(cp), "%s/chain.pem", base);
    char *key_pem = test_read_file(kp), *chain = test_read_file(cp);
    acme_key *key = NULL;
    acme_cert *cert = NULL;
    CHECK_MSG(key_pem && chain && acme_key_load_pem(&key, key_pem, strlen(key_pem)) == ACME_OK &&
                  acme_cert_parse(&cert, chain, strlen(chain), key) == ACME_OK,
              "%s: the pair through current (generation %s) is missing or mixed", when, link);
    acme_cert_free(cert);
    acme_key_free(key);
    free(key_pem);
    free(chain);
    return strtoul(link, NULL, 10);
}

/* The current generation's key and chain: readable and matching. Returns
 * the leaf's serial (new string) or NULL. */
static char *check_current(const char *dir, const char *when)
{
    acme_store *s = NULL;
    REQUIRE_OK(acme_store_new_fs(&s, dir));
    char *meta = get(s, "certs/crash.example.com/meta.json");
    char *serial = NULL;
    const char *g = meta ? strstr(meta, "\"generation\":") : NULL;
    CHECK_MSG(g != NULL, "%s: no readable metadata", when);
    if (g) {
        unsigned long gen = strtoul(g + 13, NULL, 10);
        char kk[256], ck[256];
        snprintf(kk, sizeof(kk), "certs/%s/%lu/key.pem", NAME, gen);
        snprintf(ck, sizeof(ck), "certs/%s/%lu/chain.pem", NAME, gen);
        char *key_pem = get(s, kk), *chain = get(s, ck);
        acme_key *key = NULL;
        acme_cert *cert = NULL;
        CHECK_MSG(key_pem && acme_key_load_pem(&key, key_pem, strlen(key_pem)) == ACME_OK,
                  "%s: generation %lu key unreadable", when, gen);
        CHECK_MSG(chain && key && acme_cert_parse(&cert, chain, strlen(chain), key) == ACME_OK,
                  "%s: generation %lu chain unreadable or not matching its key: %s", when, gen,
                  acme_last_error());
        if (cert)
            serial = strdup(acme_cert_serial(cert));
        acme_cert_free(cert);
        acme_key_free(key);
        acme_free(key_pem);
        acme_free(chain);
    }
    acme_free(meta);
    acme_store_free(s);
    check_alias_pair(dir, when);
    return serial;
}

/* Stable copies equal the current generation's files. */
static void check_copies(const char *dir)
{
    acme_store *s = NULL;
    REQUIRE_OK(acme_store_new_fs(&s, dir));
    char *meta = get(s, "certs/crash.example.com/meta.json");
    unsigned long gen = meta ? strtoul(strstr(meta, "\"generation\":") + 13, NULL, 10) : 0;
    static const char *const files[] = { "key.pem", "chain.pem" };
    for (int i = 0; i < 2; i++) {
        char a[256], b[256];
        snprintf(a, sizeof(a), "certs/%s/%s", NAME, files[i]);
        snprintf(b, sizeof(b), "certs/%s/%lu/%s", NAME, gen, files[i]);
        char *copy = get(s, a), *orig = get(s, b);
        CHECK_MSG(copy && orig && strcmp(copy, orig) == 0, "stable %s differs from generation %lu",
                  files[i], gen);
        acme_free(copy);
        acme_free(orig);
    }
    CHECK_MSG(check_alias_pair(dir, "after the next run") == gen,
              "current does not name generation %lu", gen);
    acme_free(meta);
    acme_store_free(s);
}

int main(void)
{
    char *dir = test_tmpdir();
    REQUIRE(dir != NULL);
    int result;
    REQUIRE_OK(ensure(dir, 0, &result));
    CHECK(result == ACME_RESULT_OBTAINED);
    char *serial = check_current(dir, "first issue");

    int steps = 0;
    for (int after = 0; after <= 1; after++) {
        for (int k = 1; k < 64; k++) {
            pid_t kid = fork();
            REQUIRE(kid >= 0);
            if (kid == 0) {
                kill_at = k;
                kill_after = after;
                _exit(ensure(dir, 1, NULL) == ACME_OK ? 0 : 1);
            }
            int status;
            waitpid(kid, &status, 0);
            char when[64];
            snprintf(when, sizeof(when), "killed %s rename %d", after ? "after" : "before", k);
            int killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
            CHECK_MSG(killed || (WIFEXITED(status) && WEXITSTATUS(status) == 0),
                      "%s: the child failed", when);
            char *now = check_current(dir, when);
            free(serial);
            serial = now;
            /* The next run (nothing forced, nothing due) repairs the copies
             * and sweeps the temporary files. */
            CHECK_OK(ensure(dir, 0, &result));
            CHECK_MSG(result == ACME_RESULT_NOT_DUE, "%s: next run gave result %d", when, result);
            check_copies(dir);
            /* A killed write of the schedule index leaves its temporary
             * until that shard's next update takes its lock (test-scale
             * index checks that); nothing else may stay. */
            char *sched = test_path(dir, "schedule");
            CHECK_MSG(test_count_temps(dir) == test_count_temps(sched),
                      "%s: temporary files left", when);
            free(sched);
            if (!killed)
                break; /* the child renewed without reaching step k */
            steps++;
        }
    }
    CHECK_MSG(steps >= 6, "only %d kill points were reached", steps);
    fprintf(stderr, "%d kill points checked\n", steps);
    free(serial);
    free(dir);
    test_log_clear();
    return check_done();
}
