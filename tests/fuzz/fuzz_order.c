/* Order objects (lib/order.c, RFC 8555 7.1.3): acme__order_parse on any
 * JSON, twice over the same slots as the order's polling does, the
 * "error" problem as an invalid order reports it, and the authorizations
 * list the way acme_order_submit reads it. */
#include "fuzz.h"

#include "net/json.h"
#include "base/mem.h"
#include "protocol/order_parse.h"
#include "base/problem.h"

static void report_invalid(const char *url, acme_problem *problem)
{
    acme__err err = { 0 };
    char desc[400];
    if (problem) {
        acme__problem_describe(problem, desc, sizeof(desc));
        acme__fail_problem(&err, ACME_ERR_VALIDATION, problem, "order %s is invalid: %s", url,
                           desc);
        FUZZ_ASSERT(acme_problem_subproblem_count(err.problem) <= ACME__MAX_SUBPROBLEMS);
    }
    acme__err_clear(&err);
}

int fuzz_order(const uint8_t *data, size_t size)
{
    static const char url[] = "https://ca.example/acme/order/TOlocE8rfgo";
    acme__err err = { 0 };
    yajl_val v = NULL;
    if (acme__json_parse_object((const char *)data, size, "order", &v, &err) != ACME_OK) {
        acme__err_clear(&err);
        return 0;
    }
    char *status = acme__strdup(""), *finalize = NULL, *cert = NULL;
    for (int round = 0; round < 2 && status; round++) {
        acme_problem *problem = (acme_problem *)1;
        int rc = acme__order_parse(v, url, &status, &finalize, &cert, &problem, &err);
        FUZZ_ASSERT(rc == ACME_OK || rc == ACME_ERR_PROTOCOL || rc == ACME_ERR_NOMEM);
        FUZZ_ASSERT(problem != (acme_problem *)1);
        FUZZ_ASSERT(rc == ACME_OK || problem == NULL);
        if (rc == ACME_OK) {
            FUZZ_ASSERT(strcmp(status, acme__json_string(v, "status")) == 0);
            FUZZ_ASSERT(!acme__json_string(v, "finalize") ||
                        strcmp(finalize, acme__json_string(v, "finalize")) == 0);
            FUZZ_ASSERT(!acme__json_string(v, "certificate") ||
                        strcmp(cert, acme__json_string(v, "certificate")) == 0);
        }
        if (rc == ACME_ERR_PROTOCOL)
            FUZZ_ASSERT(acme__json_string(v, "status") == NULL);
        fuzz_touch(status);
        fuzz_touch(finalize);
        fuzz_touch(cert);
        report_invalid(url, problem);
        acme__problem_unref(problem);
        acme__err_clear(&err);
    }
    yajl_val list = acme__json_array(v, "authorizations");
    for (size_t i = 0; i < acme__json_len(list); i++)
        fuzz_touch(acme__json_as_string(acme__json_at(list, i)));
    free(status);
    free(finalize);
    free(cert);
    acme__json_free(v);
    return 0;
}

FUZZ_ENTRY(order);
