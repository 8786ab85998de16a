/* Minimal assertions for libacme's tests: a failed check prints where and
 * why, and the test exits non-zero at the end (or at once with REQUIRE). */
#ifndef ACME_TEST_CHECK_H
#define ACME_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK_MSG(cond, ...)                                                     \
    do {                                                                         \
        check_count++;                                                           \
        if (!(cond)) {                                                           \
            check_failures++;                                                    \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
        }                                                                        \
    } while (0)

#define CHECK(cond) CHECK_MSG(cond, "%s", "")

/* Like CHECK, but the test cannot go on without it. */
#define REQUIRE(cond)                                                            \
    do {                                                                         \
        int require_ok_ = (cond) ? 1 : 0; /* evaluated once */                  \
        CHECK_MSG(require_ok_, "required: %s", #cond);                          \
        if (!require_ok_) {                                                      \
            fprintf(stderr, "last libacme error: %s\n", acme_last_error());      \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

/* A libacme call that must succeed; prints the library's message if not. */
#define CHECK_OK(call)                                                           \
    do {                                                                         \
        int check_rc_ = (call);                                                  \
        CHECK_MSG(check_rc_ == 0, "%s returned %d (%s): %s", #call, check_rc_,   \
                  acme_strerror(check_rc_), acme_last_error());                  \
    } while (0)

#define REQUIRE_OK(call)                                                         \
    do {                                                                         \
        int check_rc_ = (call);                                                  \
        CHECK_MSG(check_rc_ == 0, "%s returned %d (%s): %s", #call, check_rc_,   \
                  acme_strerror(check_rc_), acme_last_error());                  \
        if (check_rc_ != 0)                                                      \
            exit(1);                                                             \
    } while (0)

/* A call that must fail with a given code. */
#define CHECK_RC(call, want)                                                     \
    do {                                                                         \
        int check_rc_ = (call);                                                  \
        CHECK_MSG(check_rc_ == (want), "%s returned %d (%s), wanted %d (%s): %s", \
                  #call, check_rc_, acme_strerror(check_rc_), (int)(want),       \
                  acme_strerror(want), acme_last_error());                       \
    } while (0)

#define CHECK_STR(a, b)                                                          \
    do {                                                                         \
        const char *check_a_ = (a), *check_b_ = (b);                             \
        CHECK_MSG(check_a_ && check_b_ && strcmp(check_a_, check_b_) == 0,       \
                  "\"%s\" != \"%s\"", check_a_ ? check_a_ : "(null)",           \
                  check_b_ ? check_b_ : "(null)");                               \
    } while (0)

/* End of main: report and give the exit status. */
static inline int check_done(void)
{
    if (check_count == 0) {
        fprintf(stderr, "no checks ran\n");
        return 1;
    }
    fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
