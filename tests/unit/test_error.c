/* Error codes and messages: acme_strerror, the per-handle record, and the
 * per-thread last error and problem. */
#include <acme.h>

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/problem.h"

#include "unit.h"

static void test_strerror(void)
{
    const char *unknown = acme_strerror(12345);
    CHECK(unknown && unknown[0] != '\0');
    const char *msgs[24];
    int n = 0;
    for (int code = ACME_OK; code >= ACME_ERR_DECLINED; code--) {
        const char *m = acme_strerror(code);
        CHECK_MSG(m != NULL && m[0] != '\0', "code %d has no text", code);
        if (!m)
            continue;
        CHECK_MSG(strcmp(m, unknown) != 0, "code %d is unknown to acme_strerror", code);
        for (int j = 0; j < n; j++)
            CHECK_MSG(strcmp(m, msgs[j]) != 0, "code %d has the text of code %d: %s", code, -j,
                      m);
        msgs[n++] = m;
    }
    CHECK(n == 24);
    /* Codes never handed out. */
    static const int bad[] = { 1, 42, ACME_ERR_DECLINED - 1, -1000, INT_MIN, INT_MAX };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_STR(acme_strerror(bad[i]), unknown);
    CHECK_STR(unknown, "unknown error code");
    /* The enum is contiguous and stable (codes are never renumbered). */
    CHECK(ACME_OK == 0 && ACME_ERR_INVALID == -1 && ACME_ERR_NOMEM == -2 && ACME_ERR_IO == -3);
    CHECK(ACME_ERR_KEY_FORMAT == -4 && ACME_ERR_CRYPTO == -5 && ACME_ERR_NETWORK == -6 &&
          ACME_ERR_TLS == -7 && ACME_ERR_TIMEOUT == -8 && ACME_ERR_HTTP == -9);
    CHECK(ACME_ERR_PROTOCOL == -10 && ACME_ERR_TOO_LARGE == -11 && ACME_ERR_PROBLEM == -12 &&
          ACME_ERR_UNSUPPORTED == -13 && ACME_ERR_STATE == -14 && ACME_ERR_CALLBACK == -15);
    CHECK(ACME_ERR_IDENTIFIER == -16 && ACME_ERR_NO_SOLVER == -17 && ACME_ERR_VALIDATION == -18 &&
          ACME_ERR_CERTIFICATE == -19 && ACME_ERR_LOCKED == -20 && ACME_ERR_CORRUPT == -21);
    CHECK(ACME_ERR_NOT_FOUND == -22 && ACME_ERR_DECLINED == -23);
}

/* The other public enums and numeric #defines keep their numbers too
 * (doc/ABI.md): a renumbering breaks every program built before it, and
 * abidiff does not see enums that no function signature names, nor any
 * #define. The tree test values-pinned checks that every one is here. */
static void test_enum_values(void)
{
    CHECK(ACME_LOG_ERROR == 0 && ACME_LOG_WARN == 1 && ACME_LOG_INFO == 2 && ACME_LOG_DEBUG == 3);
    CHECK(ACME_EVENT_OBTAINED == 1 && ACME_EVENT_RENEWED == 2 && ACME_EVENT_FAILED == 3 &&
          ACME_EVENT_REVOKED == 4 && ACME_EVENT_SKIPPED == 5);
    CHECK(ACME_RESULT_NONE == 0 && ACME_RESULT_OBTAINED == 1 && ACME_RESULT_RENEWED == 2 &&
          ACME_RESULT_NOT_DUE == 3 && ACME_RESULT_FAILED == 4 && ACME_RESULT_SKIPPED == 5);
    CHECK(ACME_KEY_EC256 == 1 && ACME_KEY_EC384 == 2 && ACME_KEY_RSA2048 == 3 &&
          ACME_KEY_RSA3072 == 4 && ACME_KEY_RSA4096 == 5);
    CHECK(ACME_REASON_UNSPECIFIED == 0 && ACME_REASON_KEY_COMPROMISE == 1 &&
          ACME_REASON_AFFILIATION_CHANGED == 3 && ACME_REASON_SUPERSEDED == 4 &&
          ACME_REASON_CESSATION_OF_OPERATION == 5);
    CHECK(ACME_STORE_FILE_KEY == 1 && ACME_STORE_FILE_CHAIN == 2 && ACME_STORE_FILE_META == 3);
    CHECK(ACME_SIG_ES256 == 1 && ACME_SIG_ES384 == 2 && ACME_SIG_ES512 == 3 &&
          ACME_SIG_RS256 == 4 && ACME_SIG_EDDSA == 5);
    CHECK(ACME_ERROR_MAX == 512 && ACME_SIGNER_MAX_SIGNATURE == 1024);
}

static void test_fail(void)
{
    acme__err e = { 0 };
    CHECK(acme__fail(&e, ACME_ERR_IO, "cannot open %s: %d", "file.pem", 2) == ACME_ERR_IO);
    CHECK(e.code == ACME_ERR_IO);
    CHECK_STR(e.msg, "cannot open file.pem: 2");
    CHECK_STR(acme__err_msg(&e), "cannot open file.pem: 2");
    CHECK(e.problem == NULL);
    CHECK_STR(acme_last_error(), "cannot open file.pem: 2");
    CHECK(acme_last_problem() == NULL);

    /* Without a handle: only the thread's record. */
    CHECK(acme__fail(NULL, ACME_ERR_NOMEM, "out of %s", "memory") == ACME_ERR_NOMEM);
    CHECK_STR(acme_last_error(), "out of memory");
    CHECK_STR(e.msg, "cannot open file.pem: 2");

    /* Prefixing keeps the code and updates the thread's message too. */
    acme__err_prefix(&e, "loading the account key");
    CHECK(e.code == ACME_ERR_IO);
    CHECK_STR(e.msg, "loading the account key: cannot open file.pem: 2");
    CHECK_STR(acme_last_error(), "loading the account key: cannot open file.pem: 2");
    acme__err_prefix(NULL, "ignored");

    /* Long messages are cut to the record's size, never overrun. */
    char longarg[2000];
    memset(longarg, 'x', sizeof(longarg) - 1);
    longarg[sizeof(longarg) - 1] = '\0';
    acme__fail(&e, ACME_ERR_PROTOCOL, "%s", longarg);
    CHECK(strlen(e.msg) == sizeof(e.msg) - 1);
    CHECK(strlen(acme_last_error()) == sizeof(e.msg) - 1);
    acme__err_prefix(&e, longarg);
    CHECK(strlen(e.msg) < sizeof(e.msg));

    /* Messages with % in arguments are not reinterpreted. */
    acme__fail(&e, ACME_ERR_INVALID, "%s", "100% %s %n");
    CHECK_STR(e.msg, "100% %s %n");
    acme__err_prefix(&e, "50% %d");
    CHECK_STR(e.msg, "50% %d: 100% %s %n");

    acme__err_clear(&e);
    CHECK(e.code == ACME_OK && e.msg[0] == '\0' && e.problem == NULL);
    acme__err_clear(NULL);
    CHECK_STR(acme__err_msg(NULL), "");
}

static void test_fail_problem(void)
{
    acme__err e = { 0 };
    acme_problem *p = acme__problem_new("urn:ietf:params:acme:error:badNonce", "stale", 400);
    REQUIRE(p != NULL);
    CHECK(acme__fail_problem(&e, ACME_ERR_PROBLEM, p, "newOrder: %s", "badNonce") ==
          ACME_ERR_PROBLEM);
    /* The record and the thread took their own references. */
    acme__problem_unref(p);
    CHECK(e.problem == p);
    CHECK(acme_last_problem() == p);
    CHECK(acme_problem_is(acme_last_problem(), "badNonce"));
    CHECK_STR(acme_problem_detail(acme_last_problem()), "stale");
    CHECK_STR(acme_last_error(), "newOrder: badNonce");

    /* Prefixing keeps the problem. */
    acme__err_prefix(&e, "ordering");
    CHECK(e.problem == p && acme_last_problem() == p);

    /* Forwarding copies code, message and problem. */
    acme__err copy = { 0 };
    CHECK(acme__err_forward(&copy, &e) == ACME_ERR_PROBLEM);
    CHECK(copy.code == ACME_ERR_PROBLEM && copy.problem == p);
    CHECK_STR(copy.msg, "ordering: newOrder: badNonce");

    /* The next failure without a problem clears the thread's problem. */
    acme__fail(NULL, ACME_ERR_NETWORK, "unreachable");
    CHECK(acme_last_problem() == NULL);
    CHECK_STR(acme_last_error(), "unreachable");
    CHECK(e.problem == p);

    /* A new problem replaces the old one in the record. */
    acme_problem *q = acme__problem_new("urn:ietf:params:acme:error:rateLimited", "", 429);
    REQUIRE(q != NULL);
    acme__fail_problem(&e, ACME_ERR_PROBLEM, q, "again");
    CHECK(e.problem == q);
    CHECK(acme_problem_is(e.problem, "rateLimited"));
    acme__problem_unref(q);

    acme__err_clear(&e);
    acme__err_clear(&copy);
    CHECK(e.problem == NULL && copy.problem == NULL);
    /* The thread still holds q until its next failure. */
    CHECK(acme_last_problem() == q);
    acme__fail(NULL, ACME_ERR_INVALID, "done");
    CHECK(acme_last_problem() == NULL);
}

typedef struct thread_result {
    char first[600];      /* acme_last_error() before anything failed there */
    char after[600];      /* after its own failure */
    int had_problem;
    int problem_matches;
} thread_result;

static void *other_thread(void *arg)
{
    thread_result *r = arg;
    snprintf(r->first, sizeof(r->first), "%s", acme_last_error());
    acme_problem *p = acme__problem_new("urn:ietf:params:acme:error:serverInternal", "", 500);
    acme__fail_problem(NULL, ACME_ERR_PROBLEM, p, "failure on the other thread");
    acme__problem_unref(p);
    snprintf(r->after, sizeof(r->after), "%s", acme_last_error());
    r->had_problem = acme_last_problem() != NULL;
    r->problem_matches = acme_problem_is(acme_last_problem(), "serverInternal");
    /* The thread's record (and its problem reference) goes with the thread. */
    return NULL;
}

static void test_threads(void)
{
    acme_problem *mine = acme__problem_new("urn:ietf:params:acme:error:badCSR", "", 400);
    REQUIRE(mine != NULL);
    acme__fail_problem(NULL, ACME_ERR_PROBLEM, mine, "failure on the main thread");
    acme__problem_unref(mine);

    for (int round = 0; round < 4; round++) {
        thread_result r;
        memset(&r, 0, sizeof(r));
        pthread_t t;
        REQUIRE_ZERO(pthread_create(&t, NULL, other_thread, &r));
        REQUIRE_ZERO(pthread_join(t, NULL));
        /* A new thread starts with no error... */
        CHECK_STR(r.first, "");
        /* ...sees its own... */
        CHECK_STR(r.after, "failure on the other thread");
        CHECK(r.had_problem && r.problem_matches);
        /* ...and leaves this thread's alone. */
        CHECK_STR(acme_last_error(), "failure on the main thread");
        CHECK(acme_problem_is(acme_last_problem(), "badCSR"));
    }
    /* Release the thread's reference to the problem. */
    acme__fail(NULL, ACME_ERR_INVALID, "end");
    CHECK(acme_last_problem() == NULL);
}

/* Calls on a handle that fail leave their message on that handle, so a
 * binding whose threads move never needs the thread's last error. */
static void test_handle_errors(void)
{
    acme_key *key = NULL;
    REQUIRE_OK(acme_key_generate(&key, ACME_KEY_EC256));
    CHECK_STR(acme_key_last_error(key), "");
    CHECK_RC(acme_key_thumbprint(key, NULL), ACME_ERR_INVALID);
    CHECK_STR(acme_key_last_error(key), "key: NULL output");
    CHECK_RC(acme_key_save_file(key, "/nonexistent-dir/for/key.pem"), ACME_ERR_IO);
    CHECK_MSG(strstr(acme_key_last_error(key), "/nonexistent-dir/for") != NULL, "%s",
              acme_key_last_error(key));
    acme_key_free(key);
    CHECK_STR(acme_key_last_error(NULL), "");

    acme_solvers *s = NULL;
    REQUIRE_OK(acme_solvers_new(&s));
    CHECK_STR(acme_solvers_last_error(s), "");
    CHECK_RC(acme_solvers_add(s, "http-01", NULL, NULL, NULL, NULL), ACME_ERR_INVALID);
    CHECK_MSG(strstr(acme_solvers_last_error(s), "present callback") != NULL, "%s",
              acme_solvers_last_error(s));
    CHECK_RC(acme_solvers_add_webroot(s, ""), ACME_ERR_INVALID);
    CHECK_MSG(strstr(acme_solvers_last_error(s), "webroot") != NULL, "%s",
              acme_solvers_last_error(s));
    acme_solvers_free(s);
    CHECK_STR(acme_solvers_last_error(NULL), "");

    char dir[] = "/tmp/acme-unit-error-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    acme_store *st = NULL;
    REQUIRE_OK(acme_store_new_fs(&st, dir));
    CHECK_STR(acme_store_last_error(st), "");
    char *data = NULL;
    size_t len = 0;
    CHECK_RC(acme_store_get(st, "certs/none", &data, &len), ACME_ERR_NOT_FOUND);
    CHECK_MSG(strstr(acme_store_last_error(st), "store: cannot read certs/none") != NULL, "%s",
              acme_store_last_error(st));
    CHECK_RC(acme_store_put(st, "../escape", "x", 1, 0), ACME_ERR_INVALID);
    CHECK_MSG(strstr(acme_store_last_error(st), "../escape") != NULL, "%s",
              acme_store_last_error(st));
    acme_store_free(st);
    CHECK(rmdir(dir) == 0);
    CHECK_STR(acme_store_last_error(NULL), "");
}

/* A store shared by threads: failing calls record under the store's lock,
 * so a copy is always one whole message, never a mix of two. */
#define STORE_THREADS 4
typedef struct store_failer {
    acme_store *st;
    char key[160];
    atomic_int *stop;
} store_failer;

static void *store_fail_loop(void *arg)
{
    store_failer *f = arg;
    while (!atomic_load(f->stop)) {
        char *data = NULL;
        size_t len = 0;
        if (acme_store_get(f->st, f->key, &data, &len) != ACME_ERR_NOT_FOUND)
            return (void *)1;
    }
    return NULL;
}

static void test_store_threads(void)
{
    char dir[] = "/tmp/acme-unit-error-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    acme_store *st = NULL;
    REQUIRE_OK(acme_store_new_fs(&st, dir));
    CHECK(acme_store_last_error_copy(st, NULL, 0) == 0);
    CHECK_RC(acme_store_last_error_copy(NULL, NULL, 0), ACME_ERR_INVALID);
    CHECK_RC(acme_store_last_error_copy(st, NULL, 5), ACME_ERR_INVALID);
    atomic_int stop;
    atomic_init(&stop, 0);
    store_failer f[STORE_THREADS];
    char want[STORE_THREADS][ACME_ERROR_MAX];
    for (int i = 0; i < STORE_THREADS; i++) {
        f[i].st = st;
        f[i].stop = &stop;
        /* Messages of different lengths, so a torn copy shows. */
        snprintf(f[i].key, sizeof(f[i].key), "certs/t%d-%.*s", i, 20 + 30 * i,
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        char *data = NULL;
        size_t len = 0;
        CHECK_RC(acme_store_get(st, f[i].key, &data, &len), ACME_ERR_NOT_FOUND);
        int n = acme_store_last_error_copy(st, want[i], sizeof(want[i]));
        CHECK(n > 0 && (size_t)n == strlen(want[i]) && strstr(want[i], f[i].key));
    }
    char small[8];
    int full = acme_store_last_error_copy(st, small, sizeof(small));
    CHECK(full == (int)strlen(want[STORE_THREADS - 1]) && strlen(small) == sizeof(small) - 1);
    pthread_t th[STORE_THREADS];
    for (int i = 0; i < STORE_THREADS; i++)
        REQUIRE(pthread_create(&th[i], NULL, store_fail_loop, &f[i]) == 0);
    long torn = 0;
    for (int round = 0; round < 20000; round++) {
        char got[ACME_ERROR_MAX];
        acme_store_last_error_copy(st, got, sizeof(got));
        int known = 0;
        for (int i = 0; i < STORE_THREADS && !known; i++)
            known = strcmp(got, want[i]) == 0;
        torn += !known;
    }
    atomic_store(&stop, 1);
    int failed = 0;
    for (int i = 0; i < STORE_THREADS; i++) {
        void *r = NULL;
        pthread_join(th[i], &r);
        failed += r != NULL;
    }
    CHECK(failed == 0);
    CHECK_MSG(torn == 0, "%ld copies were no whole message", torn);
    acme_store_free(st);
    CHECK(rmdir(dir) == 0);
}

int main(void)
{
    /* Nothing failed yet on this thread. */
    CHECK_STR(acme_last_error(), "");
    CHECK(acme_last_problem() == NULL);
    test_strerror();
    test_enum_values();
    test_fail();
    test_fail_problem();
    test_threads();
    test_handle_errors();
    test_store_threads();
    return check_done();
}
