/* Problem documents (lib/problem.c, RFC 7807 / RFC 8555 6.7): any JSON
 * through acme__problem_from_json with and without an HTTP status, the
 * accessors, acme_problem_is, and acme__problem_describe into buffers of
 * several sizes; error records holding the problem (acme__fail_problem). */
#include "fuzz.h"

#include "base/error.h"
#include "net/json.h"
#include "net/problem_json.h"

static void check_problem(const acme_problem *p, int depth)
{
    fuzz_touch(acme_problem_type(p));
    fuzz_touch(acme_problem_detail(p));
    const char *it = acme_problem_identifier_type(p), *iv = acme_problem_identifier_value(p);
    FUZZ_ASSERT((it == NULL) == (iv == NULL));
    fuzz_touch(it);
    fuzz_touch(iv);
    int status = acme_problem_status(p);
    FUZZ_ASSERT(status >= 0 && status < 1000);
    size_t n = acme_problem_subproblem_count(p);
    FUZZ_ASSERT(n <= ACME__MAX_SUBPROBLEMS);
    /* Subproblems do not nest. */
    FUZZ_ASSERT(depth == 0 || n == 0);
    for (size_t i = 0; i < n; i++) {
        const acme_problem *s = acme_problem_subproblem(p, i);
        FUZZ_ASSERT(s != NULL);
        check_problem(s, depth + 1);
    }
    FUZZ_ASSERT(acme_problem_subproblem(p, n) == NULL);
    (void)acme_problem_is(p, "malformed");
    (void)acme_problem_is(p, acme_problem_type(p));

    static const size_t sizes[] = { 1, 2, 17, 64, 400, 1024 };
    char out[1024];
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        memset(out, 'x', sizeof(out));
        acme__problem_describe(p, out, sizes[i]);
        FUZZ_ASSERT(memchr(out, '\0', sizes[i]) != NULL);
    }
}

int fuzz_problem(const uint8_t *data, size_t size)
{
    acme__err err = { 0 };
    yajl_val v = NULL;
    if (acme__json_parse((const char *)data, size, "problem", &v, &err) != ACME_OK) {
        acme__err_clear(&err);
        return 0;
    }
    acme_problem *p = acme__problem_from_json(v, 0);
    acme_problem *q = acme__problem_from_json(v, 403);
    /* Only objects are problems (NULL otherwise, or when memory ran out). */
    FUZZ_ASSERT(YAJL_IS_OBJECT(v) || (p == NULL && q == NULL));
    acme__json_free(v); /* the problems own copies */
    if (p) {
        check_problem(p, 0);
        /* The error record takes its own reference. */
        acme__fail_problem(&err, ACME_ERR_PROBLEM, p, "fuzz");
        FUZZ_ASSERT(err.problem == p);
        acme__problem_unref(p);
        check_problem(err.problem, 0);
        acme__err_clear(&err);
    }
    if (q) {
        FUZZ_ASSERT(acme_problem_status(q) == 403);
        check_problem(q, 0);
        acme__problem_unref(acme__problem_ref(q));
        acme__problem_unref(q);
    }
    return 0;
}

FUZZ_ENTRY(problem);
