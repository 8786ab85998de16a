/* Problem documents read from a CA's JSON (RFC 8555 section 6.7). */
#include "net/problem_json.h"

#include "net/json.h"

/* A "status" member is an HTTP status code (RFC 7807 section 3.1). */
#define MAX_HTTP_STATUS 999

static acme_problem *problem_parse(const yajl_val v, int http_status, int with_subs)
{
    if (!v || !YAJL_IS_OBJECT(v))
        return NULL;
    long long status;
    if (!http_status && acme__json_int(v, "status", &status) == ACME_OK && status > 0 &&
        status <= MAX_HTTP_STATUS)
        http_status = (int)status;
    acme_problem *p = acme__problem_new(acme__json_string(v, "type"),
                                        acme__json_string(v, "detail"), http_status);
    if (!p)
        return NULL;
    yajl_val id = acme__json_object(v, "identifier");
    if (id) {
        const char *t = acme__json_string(id, "type"), *val = acme__json_string(id, "value");
        if (t && val && acme__problem_set_identifier(p, t, val) != ACME_OK)
            goto oom;
    }
    yajl_val subs = with_subs ? acme__json_array(v, "subproblems") : NULL;
    size_t n = acme__json_len(subs);
    if (n > ACME__MAX_SUBPROBLEMS)
        n = ACME__MAX_SUBPROBLEMS;
    for (size_t i = 0; i < n; i++) {
        /* Subproblems do not nest (RFC 8555 6.7.1); deeper ones are ignored. */
        acme_problem *s = problem_parse(acme__json_at(subs, i), 0, 0);
        if (s && acme__problem_add_subproblem(p, s) != ACME_OK)
            goto oom;
    }
    return p;
oom:
    acme__problem_unref(p);
    return NULL;
}

acme_problem *acme__problem_from_json(const yajl_val v, int http_status)
{
    return problem_parse(v, http_status, 1);
}
