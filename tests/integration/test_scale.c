/* Storage that does not grow with renewals, and the schedule index that
 * lets an idle ensure skip what is not due, against a real Pebble.
 *
 * retention: six issuances leave the kept generations only, directories
 * included; a renewal killed (SIGKILL) after writing part of its new
 * generation leaves a leftover that the next run sweeps.
 *
 * The library is linked statically so that --wrap=rename can put a kill
 * point at the store's renames (as in test_crash.c). */
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

int __real_rename(const char *from, const char *to);
int __wrap_rename(const char *from, const char *to);

static int kill_at; /* 0: never; else SIGKILL right after the k-th rename */
static int renames;

int __wrap_rename(const char *from, const char *to)
{
    int rc = __real_rename(from, to);
    if (kill_at && ++renames == kill_at)
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
    return test_ensure_name(dir, NAME, &o, force, result);
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

    /* A renewal killed after its first rename (the new generation's key is
     * in place, the switch never came) leaves generation 9 behind. */
    pid_t kid = fork();
    REQUIRE(kid >= 0);
    if (kid == 0) {
        kill_at = 1;
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

int main(int argc, char **argv)
{
    const char *scenario = argc > 1 ? argv[1] : "";
    if (strcmp(scenario, "retention") == 0)
        test_retention();
    else
        REQUIRE(!"unknown scenario");
    test_log_clear();
    return check_done();
}
