/* Storage that does not grow with renewals, and the schedule index that
 * lets an idle ensure skip what is not due, against a real Pebble.
 *
 * retention: six issuances leave the kept generations only, directories
 * included; a renewal killed (SIGKILL) after writing part of its new
 * generation leaves a leftover that the next run sweeps.
 *
 * index: the index agrees with the certificate records after issuing,
 * after an idle run, after a renewal; an idle run opens no record that is
 * not due (a corrupted one stays unnoticed and untouched); a removed entry,
 * a removed index and a corrupt shard are rebuilt by the next run; a
 * process killed before or after any rename of an index update (or of the
 * renewal around it) leaves a store whose next run is correct and agrees.
 *
 * due: acme_desire_ensure_stored reads only what is due: over a store of
 * names none due it loads no record and reads no shard (counted through a
 * host store wrapping the filesystem store); a name marked due is loaded
 * and ensured alone; it renews what add_stored + ensure renews on a copy
 * of the same store; a missing or corrupt summary means one full pass that
 * rebuilds it; a process killed before or after any rename of a forced
 * renewal leaves a summary never later than its shards, and the next run
 * correct.
 *
 * The library is linked statically so that --wrap=rename can put a kill
 * point at the store's renames (as in test_crash.c). */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "files.h"
#include "lifecycle/renewal.h"
#include "base/buf.h"
#include "base/mem.h"
#include "store/schedule.h"
#include "store/store.h"
#include "testutil.h"

int __real_rename(const char *from, const char *to);
int __wrap_rename(const char *from, const char *to);

/* SIGKILL at the kill_nth rename onto a path ending in kill_to (every
 * one when kill_nth is 0), just before it or, with kill_after, just after. */
static const char *kill_to;
static int kill_nth, kill_after, kill_seen;

static int ends_with(const char *s, const char *end)
{
    size_t n = strlen(end), t = strlen(s);
    return t >= n && strcmp(s + t - n, end) == 0;
}

int __wrap_rename(const char *from, const char *to)
{
    int hit = kill_to && ends_with(to, kill_to) && (!kill_nth || ++kill_seen == kill_nth);
    if (hit && !kill_after)
        raise(SIGKILL);
    int rc = __real_rename(from, to);
    if (hit && kill_after)
        raise(SIGKILL);
    return rc;
}

static const char *const NAME = "keep.example.com";

/* One ensure of NAME in this process. */
static int ensure(const char *dir, int force, unsigned int keep, int *result)
{
    acme_desire_options o;
    test_desire_options(&o, "scale@example.com");
    o.keep_generations = keep;
    return test_ensure_names(dir, &NAME, 1, &o, force, result, NULL);
}

/* The generation directories of NAME, as a bit set (generations 1..63). */
static unsigned long long generations(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/certs/%s", dir, NAME);
    unsigned long long set = 0;
    DIR *d = opendir(path);
    REQUIRE(d != NULL);
    struct dirent *de;
    while ((de = test_readdir(d)) != NULL) {
        char *end;
        unsigned long g = strtoul(de->d_name, &end, 10);
        if (!*end && g > 0 && g < 64)
            set |= 1ULL << g;
    }
    closedir(d);
    return set;
}

static void test_retention(void)
{
    char *dir = test_tmpdir();
    REQUIRE(dir != NULL);
    int result;
    REQUIRE_OK(ensure(dir, 0, 0, &result));
    CHECK(result == ACME_RESULT_OBTAINED);
    for (int i = 0; i < 5; i++) {
        CHECK_OK(ensure(dir, 1, 0, &result));
        CHECK(result == ACME_RESULT_RENEWED);
    }
    /* Six issuances: the current (6) and the previous (5), nothing else. */
    CHECK_MSG(generations(dir) == ((1ULL << 6) | (1ULL << 5)), "generations %#llx",
              generations(dir));

    /* Three kept: 5, 6 and the new 7. */
    CHECK_OK(ensure(dir, 1, 3, &result));
    CHECK_MSG(generations(dir) == ((1ULL << 7) | (1ULL << 6) | (1ULL << 5)), "generations %#llx",
              generations(dir));
    /* One kept: the renewal drops both older ones. */
    CHECK_OK(ensure(dir, 1, 1, &result));
    CHECK_MSG(generations(dir) == (1ULL << 8), "generations %#llx", generations(dir));

    /* A renewal killed once the new generation's key is in place (the
     * switch never came) leaves generation 9 behind. */
    pid_t kid = fork();
    REQUIRE(kid >= 0);
    if (kid == 0) {
        kill_to = "/9/key.pem";
        kill_after = 1;
        _exit(ensure(dir, 1, 0, NULL) == ACME_OK ? 0 : 1);
    }
    int status;
    waitpid(kid, &status, 0);
    CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the renewal was not killed");
    CHECK_MSG(generations(dir) == ((1ULL << 9) | (1ULL << 8)), "after the kill: %#llx",
              generations(dir));
    /* A directory an older release left empty, below the kept ones. */
    char old[4096];
    snprintf(old, sizeof(old), "%s/certs/%s/3", dir, NAME);
    REQUIRE(mkdir(old, 0700) == 0);
    /* The next run, with nothing due, sweeps both and keeps the current. */
    CHECK_OK(ensure(dir, 0, 0, &result));
    CHECK(result == ACME_RESULT_NOT_DUE);
    CHECK_MSG(generations(dir) == (1ULL << 8), "after the next run: %#llx", generations(dir));
    CHECK(test_count_temps(dir) == 0);
    test_remove_tree(dir);
    free(dir);
}


/* ---- the schedule index ---------------------------------------------------- */

static const char *const NAMES[] = { "alpha.example.com", "beta.example.com",
                                     "gamma.example.com" };
#define NNAMES 3
static int64_t fake_now;

static int64_t fake_clock(void *userdata)
{
    (void)userdata;
    return fake_now;
}

/* One ensure of NAMES (force: renew alpha) in this process, on the fake
 * clock (see test_ensure_names). */
static int ensure_all(const char *dir, int force, int *results, char **messages)
{
    acme_desire_options o;
    test_desire_options(&o, "index@example.com");
    o.clock = fake_clock;
    return test_ensure_names(dir, NAMES, NNAMES, &o, force, results, messages);
}

/* Every name's entry equals what its record gives with this CA. */
static void check_agree(const char *dir, const char *when)
{
    acme_store *s = NULL;
    acme_provider *p = test_provider(NULL);
    REQUIRE_OK(acme_store_new_fs(&s, dir));
    for (int i = 0; i < NNAMES; i++) {
        acme__err err = { 0 };
        acme__stored_cert c;
        REQUIRE_OK(acme__stored_load(s, NAMES[i], &c, &err));
        acme__sched_shard sh;
        int rc = acme__sched_load(s, acme__sched_shard_of(NAMES[i]), &sh, &err);
        CHECK_MSG(rc == ACME_OK, "%s: shard of %s: %s", when, NAMES[i], err.msg);
        const acme__sched_entry *e = rc == ACME_OK ? acme__sched_find(&sh, NAMES[i]) : NULL;
        CHECK_MSG(e != NULL, "%s: no entry for %s", when, NAMES[i]);
        acme__sched_entry want;
        REQUIRE_OK(acme__sched_entry_of(&c, acme__renewal_next(p, &c), &want,
                                        &err));
        if (e) {
            CHECK_MSG(e->next == want.next && e->not_after == c.not_after &&
                          e->ari_start == c.ari_start && e->ari_end == c.ari_end &&
                          e->key_type == c.key_type && e->ids_fp == want.ids_fp &&
                          e->dir_fp == want.dir_fp && e->key_fp == want.key_fp && e->key_fp,
                      "%s: the entry of %s disagrees with its record (next %lld, wanted %lld)",
                      when, NAMES[i], (long long)e->next, (long long)want.next);
            CHECK_MSG(e->next > fake_now, "%s: %s looks due", when, NAMES[i]);
        }
        if (rc == ACME_OK)
            acme__sched_shard_free(&sh);
        acme__stored_free(&c);
        acme__err_clear(&err);
    }
    acme_provider_free(p);
    acme_store_free(s);
}

static void check_idle(const char *dir, const char *when, int from_index)
{
    int results[NNAMES];
    char *messages[NNAMES];
    CHECK_OK(ensure_all(dir, 0, results, messages));
    for (int i = 0; i < NNAMES; i++) {
        CHECK_MSG(results[i] == ACME_RESULT_NOT_DUE, "%s: %s gave %d", when, NAMES[i],
                  results[i]);
        if (from_index >= 0)
            CHECK_MSG(!strstr(messages[i], "schedule index") == !from_index,
                      "%s: %s: \"%s\"", when, NAMES[i], messages[i]);
        free(messages[i]);
    }
}

static void put_file(const char *dir, const char *rel, const char *text)
{
    char *path = test_path(dir, rel);
    REQUIRE(test_replace_file(path, text) == 0);
    free(path);
}

/* Kill points: a forced renewal of alpha killed (SIGKILL) before, then
 * after, its k-th rename for k = 1, 2, ... until one runs to the end (or
 * max); check(dir, when) after each. The number of kills. */
static int kill_points(const char *dir, int max, void (*check)(const char *dir, const char *when))
{
    int steps = 0;
    for (int after_rename = 0; after_rename <= 1; after_rename++) {
        for (int k = 1; k < max; k++) {
            pid_t kid = fork();
            REQUIRE(kid >= 0);
            if (kid == 0) {
                kill_to = "";
                kill_nth = k;
                kill_after = after_rename;
                _exit(ensure_all(dir, 1, NULL, NULL) == ACME_OK ? 0 : 1);
            }
            int status;
            waitpid(kid, &status, 0);
            char when[64];
            snprintf(when, sizeof(when), "killed %s rename %d", after_rename ? "after" : "before",
                     k);
            int killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
            CHECK_MSG(killed || (WIFEXITED(status) && WEXITSTATUS(status) == 0),
                      "%s: the child failed", when);
            check(dir, when);
            if (!killed)
                break;
            steps++;
        }
    }
    return steps;
}

static void check_index_point(const char *dir, const char *when)
{
    check_idle(dir, when, -1);
    check_agree(dir, when);
}

/* A desire on s as ensure_all's, with its provider and solvers. */
static acme_desire *index_desire(acme_store *s, acme_provider **p, acme_solvers **sol)
{
    acme_desire *d = NULL;
    acme_desire_options o;
    test_desire_options(&o, "index@example.com");
    o.clock = fake_clock;
    *p = test_provider(NULL);
    REQUIRE_OK(acme_solvers_new(sol));
    REQUIRE_OK(test_add_dns_solver(*sol));
    REQUIRE_OK(acme_desire_new(&d, *p, s, *sol, &o));
    return d;
}

/* A fresh store with NAMES issued, now. */
static char *issued_store(void)
{
    char *dir = test_tmpdir();
    REQUIRE(dir != NULL);
    fake_now = (int64_t)time(NULL);
    int results[NNAMES];
    REQUIRE_OK(ensure_all(dir, 0, results, NULL));
    for (int i = 0; i < NNAMES; i++)
        CHECK(results[i] == ACME_RESULT_OBTAINED);
    return dir;
}

static void test_index(void)
{
    char *dir = issued_store();
    int results[NNAMES];
    check_agree(dir, "after issuing");
    check_idle(dir, "idle", 1);
    check_agree(dir, "after an idle run");

    /* An idle run opens no record that is not due: a corrupted chain goes
     * unnoticed and is left as it is. */
    char rel[512];
    snprintf(rel, sizeof(rel), "certs/%s/1/chain.pem", NAMES[1]);
    char *path = test_path(dir, rel);
    char *chain = test_read_file(path);
    REQUIRE(chain != NULL);
    put_file(dir, rel, "not a chain\n");
    check_idle(dir, "idle with beta corrupt", 1);
    char *after = test_read_file(path);
    CHECK(after && strcmp(after, "not a chain\n") == 0);
    free(after);
    put_file(dir, rel, chain);
    free(chain);
    free(path);

    /* A missing entry makes its name look due: loaded, not due, written. */
    acme_store *s = NULL;
    REQUIRE_OK(acme_store_new_fs(&s, dir));
    acme__err err = { 0 };
    REQUIRE_OK(acme__sched_update(s, NAMES[2], NULL, 5, &err));
    acme_store_free(s);
    char *messages[NNAMES];
    CHECK_OK(ensure_all(dir, 0, results, messages));
    CHECK(results[2] == ACME_RESULT_NOT_DUE && !strstr(messages[2], "schedule index") &&
          strstr(messages[2], "not due: renewal at") == messages[2]);
    CHECK(strstr(messages[0], "schedule index") != NULL);
    for (int i = 0; i < NNAMES; i++)
        free(messages[i]);
    check_agree(dir, "after a missing entry");

    /* Wanted as stored (acme_desire_add_stored): indexed names are added
     * without reading their records and left alone; a name whose entry is
     * gone is read, and renewed (forced) with the identifiers it holds. */
    REQUIRE_OK(acme_store_new_fs(&s, dir));
    REQUIRE_OK(acme__sched_update(s, NAMES[1], NULL, 5, &err));
    acme_provider *p = NULL;
    acme_solvers *sol = NULL;
    acme_desire *d = index_desire(s, &p, &sol);
    size_t count = 0;
    CHECK_OK(acme_desire_add_stored(d, &count));
    CHECK(count == NNAMES);
    CHECK_OK(acme_desire_ensure(d));
    for (size_t i = 0; i < acme_desire_count(d); i++) {
        int beta = strcmp(acme_desire_name(d, i), NAMES[1]) == 0;
        CHECK(acme_desire_result(d, i) == ACME_RESULT_NOT_DUE);
        CHECK_MSG((strstr(acme_desire_message(d, i), "schedule index") == NULL) == beta, "%s: %s",
                  acme_desire_name(d, i), acme_desire_message(d, i));
    }
    CHECK_OK(acme_desire_set_force(d, NAMES[2], 1));
    CHECK_OK(acme_desire_ensure(d));
    size_t obtained, renewed, not_due, failed;
    acme_desire_summary(d, &obtained, &renewed, &not_due, &failed);
    CHECK(renewed == 1 && not_due == 2 && failed == 0);
    acme__stored_cert gamma;
    REQUIRE_OK(acme__stored_load(s, NAMES[2], &gamma, &err));
    CHECK(gamma.generation == 2 && gamma.nids == 1 && strcmp(gamma.ids[0], NAMES[2]) == 0);
    acme__stored_free(&gamma);
    acme_desire_free(d);
    acme_solvers_free(sol);
    acme_provider_free(p);
    acme_store_free(s);
    check_agree(dir, "after add_stored");

    /* The whole index removed: rebuilt from the records by the next run. */
    char *sched = test_path(dir, "schedule");
    REQUIRE(test_remove_tree(sched) == 0);
    check_idle(dir, "without an index", 1);
    check_agree(dir, "rebuilt");
    /* A corrupt shard: rebuilt too, and nothing lost. */
    snprintf(rel, sizeof(rel), "schedule/%03x/entries", acme__sched_shard_of(NAMES[0]));
    put_file(dir, rel, "acme-schedule 2\nthis is not an entry\n");
    check_idle(dir, "with a corrupt shard", 1);
    check_agree(dir, "rebuilt shard");

    /* The index says when: past alpha's renewal moment, alpha is renewed. */
    fake_now += 4 * 365 * 86400LL;
    REQUIRE_OK(ensure_all(dir, 0, results, NULL));
    for (int i = 0; i < NNAMES; i++)
        CHECK_MSG(results[i] == ACME_RESULT_RENEWED, "%s gave %d 4 years on", NAMES[i],
                  results[i]);
    fake_now = (int64_t)time(NULL); /* the new certificates' time */
    check_agree(dir, "after renewals");
    check_idle(dir, "idle after renewals", 1);

    /* Kill points: before and after each rename of a forced renewal of
     * alpha, index updates included. The next run is correct whatever
     * the point: every name not due, entries agreeing with records. */
    int steps = kill_points(dir, 32, check_index_point);
    CHECK_MSG(steps >= 8, "only %d kill points were reached", steps);
    fprintf(stderr, "%d kill points checked\n", steps);
    /* A killed shard write's temporary goes at that shard's next update. */
    int results2[NNAMES];
    CHECK_OK(ensure_all(dir, 1, results2, NULL));
    CHECK(results2[0] == ACME_RESULT_RENEWED);
    CHECK_MSG(test_count_temps(dir) == 0, "%d temporary files left", test_count_temps(dir));
    acme__err_clear(&err);
    free(sched);
    test_remove_tree(dir);
    free(dir);
}

/* ---- due: acme_desire_ensure_stored -------------------------------------------------- */

/* A host store over the filesystem store that counts reads of records
 * (certs/) and of schedule shards (schedule/XXX/entries), and writes of
 * shards. */
typedef struct counting {
    acme_store *fs;
    int cert_reads, shard_reads, summary_reads, shard_writes;
} counting;

static int c_read(const char *key, acme_buffer *out, void *ud)
{
    counting *c = ud;
    if (strncmp(key, "certs/", 6) == 0)
        c->cert_reads++;
    else if (strncmp(key, "schedule/sum/", 13) == 0)
        c->summary_reads++;
    else if (strncmp(key, "schedule/", 9) == 0)
        c->shard_reads++;
    acme__buf b = ACME__BUF_INIT;
    acme__err err = ACME__ERR_QUIET;
    int rc = acme__store_read(c->fs, key, &b, &err);
    if (rc == ACME_OK && b.len)
        rc = acme_buffer_append(out, b.data, b.len);
    acme__buf_free(&b);
    acme__err_clear(&err);
    return rc;
}

/* rc, with the message the host store has no use for dropped. */
static int quietly(int rc, acme__err *err)
{
    acme__err_clear(err);
    return rc;
}

static int c_write(const char *key, const void *data, size_t len, int secret, void *ud)
{
    if (strncmp(key, "schedule/", 9) == 0 && strncmp(key, "schedule/sum/", 13) != 0)
        ((counting *)ud)->shard_writes++;
    acme__err err = ACME__ERR_QUIET;
    return quietly(acme__store_write(((counting *)ud)->fs, key, data, len, secret, &err), &err);
}

static int c_remove(const char *key, void *ud)
{
    acme__err err = ACME__ERR_QUIET;
    return quietly(acme__store_remove(((counting *)ud)->fs, key, &err), &err);
}

static int c_list(const char *prefix, acme_buffer *out, void *ud)
{
    char **names = NULL;
    size_t n = 0;
    acme__err err = ACME__ERR_QUIET;
    int rc = acme__store_list(((counting *)ud)->fs, prefix, &names, &n, &err);
    for (size_t i = 0; rc == ACME_OK && i < n; i++) {
        acme_buffer_append(out, names[i], strlen(names[i]));
        acme_buffer_append(out, "\n", 1);
    }
    if (rc == ACME_OK)
        acme__free_strv(names, n);
    acme__err_clear(&err);
    return rc;
}

static int c_lock(const char *name, void *ud)
{
    acme__err err = ACME__ERR_QUIET;
    return quietly(acme__store_lock(((counting *)ud)->fs, name, &err), &err);
}

static void c_unlock(const char *name, void *ud)
{
    acme__store_unlock(((counting *)ud)->fs, name);
}

typedef struct stored_run {
    size_t count, obtained, renewed, not_due, failed;
    int rc;
    int renewed_name[NNAMES];
} stored_run;

/* One acme_desire_ensure_stored (or, with old_way, add_stored + ensure)
 * over dir, counting reads into *c. */
static stored_run run_stored(const char *dir, int old_way, counting *c)
{
    stored_run r;
    memset(&r, 0, sizeof(r));
    memset(c, 0, sizeof(*c));
    REQUIRE_OK(acme_store_new_fs(&c->fs, dir));
    /* Version 1: locks without leases, which the inner store keeps. */
    const acme_store_ops ops = { .version = 1, .read = c_read, .write = c_write,
                                 .remove = c_remove, .list = c_list, .lock = c_lock,
                                 .unlock = c_unlock };
    acme_store *s = NULL;
    REQUIRE_OK(acme_store_new(&s, &ops, c));
    acme_provider *p = NULL;
    acme_solvers *sol = NULL;
    acme_desire *d = index_desire(s, &p, &sol);
    if (old_way) {
        r.rc = acme_desire_add_stored(d, NULL);
        if (r.rc == ACME_OK)
            r.rc = acme_desire_ensure(d);
    } else {
        r.rc = acme_desire_ensure_stored(d);
    }
    if (r.rc != ACME_OK)
        fprintf(stderr, "ensure stored: %s\n", acme_desire_last_error(d));
    r.count = acme_desire_count(d);
    acme_desire_summary(d, &r.obtained, &r.renewed, &r.not_due, &r.failed);
    for (size_t i = 0; i < r.count && getenv("TEST_DUE_VERBOSE"); i++)
        fprintf(stderr, "  %s: %d %s\n", acme_desire_name(d, i), acme_desire_result(d, i),
                acme_desire_message(d, i));
    for (size_t i = 0; i < r.count; i++)
        for (int k = 0; k < NNAMES; k++)
            if (strcmp(acme_desire_name(d, i), NAMES[k]) == 0)
                r.renewed_name[k] = acme_desire_result(d, i) == ACME_RESULT_RENEWED;
    acme_desire_free(d);
    acme_solvers_free(sol);
    acme_provider_free(p);
    acme_store_free(s);
    acme_store_free(c->fs);
    c->fs = NULL;
    return r;
}

/* The summary is never later than its shards, and counts them. */
static void check_summary_safe(const char *dir, const char *when, int want_complete)
{
    acme_store *s = NULL;
    REQUIRE_OK(acme_store_new_fs(&s, dir));
    acme__sched_due *sum = malloc(sizeof(*sum));
    REQUIRE(sum != NULL);
    acme__err err = { 0 };
    int rc = acme__sched_due_load(s, sum, &err);
    CHECK_MSG(rc == ACME_OK || (rc == ACME_ERR_NOT_FOUND && want_complete < 0),
              "%s: summary: %s", when, err.msg);
    for (unsigned int k = 0; rc == ACME_OK && k < ACME__SCHEDULE_SHARDS; k++) {
        acme__sched_shard sh;
        int lrc = acme__sched_load(s, k, &sh, &err);
        acme__err_clear(&err);
        if (lrc != ACME_OK)
            continue;
        for (size_t i = 0; i < sh.n; i++)
            CHECK_MSG(!sum->set[k] || sum->next[k] <= sh.v[i].next,
                      "%s: shard %03x: summary says %lld, %s is due at %lld", when, k,
                      (long long)sum->next[k], sh.v[i].name, (long long)sh.v[i].next);
        acme__sched_shard_free(&sh);
    }
    if (rc == ACME_OK && want_complete > 0)
        CHECK_MSG(sum->state == ACME__DUE_COMPLETE, "%s: summary state %d", when, sum->state);
    acme__err_clear(&err);
    free(sum);
    acme_store_free(s);
}

static void check_due_point(const char *dir, const char *when)
{
    counting c;
    check_summary_safe(dir, when, 0);
    stored_run r = run_stored(dir, 0, &c);
    CHECK_MSG(r.rc == ACME_OK && r.not_due == NNAMES && r.failed == 0,
              "%s: rc %d not due %zu failed %zu", when, r.rc, r.not_due, r.failed);
    check_agree(dir, when);
}

static void test_due(void)
{
    char *dir = issued_store();
    counting c;

    /* No summary yet: one full pass, which builds it. */
    stored_run r = run_stored(dir, 0, &c);
    CHECK_OK(r.rc);
    CHECK_MSG(r.count == NNAMES && r.not_due == NNAMES, "first run: count %zu, not due %zu",
              r.count, r.not_due);
    check_summary_safe(dir, "after the first run", 1);

    /* Nothing due: the summary alone, no shard, no record. */
    r = run_stored(dir, 0, &c);
    CHECK_OK(r.rc);
    CHECK_MSG(r.count == 0 && r.not_due == NNAMES && r.failed == 0,
              "idle: count %zu, not due %zu", r.count, r.not_due);
    CHECK_MSG(c.cert_reads == 0 && c.shard_reads == 0 && c.summary_reads == 1,
              "idle: %d record, %d shard, %d summary reads", c.cert_reads, c.shard_reads,
              c.summary_reads);

    /* One name marked due: its shard and its record only. */
    acme_store *s = NULL;
    acme__err err = { 0 };
    REQUIRE_OK(acme_store_new_fs(&s, dir));
    REQUIRE_OK(acme__sched_mark_due(s, NAMES[1], 0, 5, &err));
    acme_store_free(s);
    check_summary_safe(dir, "after marking beta due", 1);
    r = run_stored(dir, 0, &c);
    CHECK_OK(r.rc);
    CHECK_MSG(r.count == 1 && r.not_due == NNAMES, "beta due: count %zu, not due %zu", r.count,
              r.not_due);
    CHECK_MSG(c.shard_reads >= 1 && c.shard_reads <= 3 && c.cert_reads > 0,
              "beta due: %d shard reads, %d record reads", c.shard_reads, c.cert_reads);
    r = run_stored(dir, 0, &c);
    CHECK_MSG(r.count == 0 && c.shard_reads == 0 && c.cert_reads == 0,
              "after beta: count %zu, %d shard reads", r.count, c.shard_reads);
    check_agree(dir, "after beta");

    /* A missing summary, then a corrupt one: a full pass each, rebuilt. */
    char *sum = test_path(dir, "schedule/sum/due");
    REQUIRE(unlink(sum) == 0);
    r = run_stored(dir, 0, &c);
    CHECK(r.rc == ACME_OK && r.count == NNAMES && r.not_due == NNAMES);
    r = run_stored(dir, 0, &c);
    CHECK(r.rc == ACME_OK && r.count == 0 && r.not_due == NNAMES && c.shard_reads == 0);
    put_file(dir, "schedule/sum/due", "acme-schedule-due 1\n1 0000000000000000 0\n12 x\n");
    r = run_stored(dir, 0, &c);
    CHECK(r.rc == ACME_OK && r.count == NNAMES && r.not_due == NNAMES);
    r = run_stored(dir, 0, &c);
    CHECK(r.rc == ACME_OK && r.count == 0 && r.not_due == NNAMES && c.shard_reads == 0);
    /* A shard update that loses names (its shard corrupt) makes the
     * summary incomplete: the next run is a full pass, nothing lost. */
    char rel[512];
    snprintf(rel, sizeof(rel), "schedule/%03x/entries", acme__sched_shard_of(NAMES[2]));
    put_file(dir, rel, "acme-schedule 2\nbroken\n");
    REQUIRE_OK(acme_store_new_fs(&s, dir));
    REQUIRE_OK(acme__sched_mark_due(s, "other.example.com", 0, 5, &err));
    acme__sched_update(s, NAMES[2], NULL, 5, &err); /* leaves the placeholder of other */
    acme_store_free(s);
    r = run_stored(dir, 0, &c);
    CHECK_MSG(r.rc == ACME_OK && r.count >= NNAMES && r.not_due == NNAMES && r.failed == 0,
              "after a lost shard: rc %d count %zu not due %zu failed %zu", r.rc, r.count,
              r.not_due, r.failed);
    check_agree(dir, "after a lost shard");
    /* The placeholder of a first issuance that never landed (other):
     * looked at once, found not stored, and its entry removed. */
    r = run_stored(dir, 0, &c);
    CHECK_MSG(r.rc == ACME_OK && r.count == 1 && r.not_due == NNAMES && r.failed == 0,
              "placeholder: count %zu, not due %zu", r.count, r.not_due);
    r = run_stored(dir, 0, &c);
    CHECK_MSG(r.count == 0 && c.shard_reads == 0, "after the placeholder: count %zu, %d reads",
              r.count, c.shard_reads);

    /* Agreement: four years on, the same names renewed as add_stored +
     * ensure renews on a copy of the same store. */
    char *copy = test_tmpdir();
    REQUIRE(copy != NULL);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "cp -a '%s/.' '%s/'", dir, copy);
    REQUIRE(system(cmd) == 0);
    fake_now += 4 * 365 * 86400LL;
    stored_run fast = run_stored(dir, 0, &c);
    /* Each renewal due by time rewrites its shard once: its entry, due
     * already, is not marked due first. */
    CHECK_MSG(c.shard_writes == NNAMES, "%d shard writes for %d renewals", c.shard_writes, NNAMES);
    stored_run full = run_stored(copy, 1, &c);
    CHECK_OK(fast.rc);
    CHECK_OK(full.rc);
    CHECK_MSG(fast.renewed == NNAMES && full.renewed == NNAMES, "renewed: fast %zu, full %zu",
              fast.renewed, full.renewed);
    for (int k = 0; k < NNAMES; k++)
        CHECK_MSG(fast.renewed_name[k] == full.renewed_name[k], "%s: fast %d, full %d", NAMES[k],
                  fast.renewed_name[k], full.renewed_name[k]);
    fake_now = (int64_t)time(NULL);
    check_agree(dir, "after renewals");
    check_summary_safe(dir, "after renewals", 1);
    r = run_stored(dir, 0, &c);
    CHECK(r.rc == ACME_OK && r.count == 0 && r.not_due == NNAMES && c.cert_reads == 0);
    test_remove_tree(copy);
    free(copy);

    /* Kill points: before and after each rename of a forced renewal of
     * alpha (record, shard, summary). The summary is never later than its
     * shards, and the next ensure_stored has every name not due. */
    int steps = kill_points(dir, 40, check_due_point);
    CHECK_MSG(steps >= 8, "only %d kill points were reached", steps);
    fprintf(stderr, "%d kill points checked\n", steps);
    acme__err_clear(&err);
    free(sum);
    test_remove_tree(dir);
    free(dir);
}

int main(int argc, char **argv)
{
    const char *scenario = argc > 1 ? argv[1] : "";
    if (strcmp(scenario, "retention") == 0)
        test_retention();
    else if (strcmp(scenario, "index") == 0)
        test_index();
    else if (strcmp(scenario, "due") == 0)
        test_due();
    else
        REQUIRE(!"unknown scenario");
    test_log_clear();
    return check_done();
}
