/* Problem documents (RFC 7807, RFC 8555 section 6.7): parsing, subproblems
 * and their cap, defaults for missing fields, and reference counting. */
#include <acme.h>

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "net/json.h"
#include "net/problem_json.h"

#include "unit.h"

/* RFC 8555 section 6.7.1: the example problem with subproblems (sent with
 * HTTP status 403). */
static const char rfc8555_subproblems[] =
    "{\n"
    "    \"type\": \"urn:ietf:params:acme:error:malformed\",\n"
    "    \"detail\": \"Some of the identifiers requested were rejected\",\n"
    "    \"subproblems\": [\n"
    "        {\n"
    "            \"type\": \"urn:ietf:params:acme:error:malformed\",\n"
    "            \"detail\": \"Invalid underscore in DNS name \\\"_example.org\\\"\",\n"
    "            \"identifier\": {\n"
    "                \"type\": \"dns\",\n"
    "                \"value\": \"_example.org\"\n"
    "            }\n"
    "        },\n"
    "        {\n"
    "            \"type\": \"urn:ietf:params:acme:error:rejectedIdentifier\",\n"
    "            \"detail\": \"This CA will not issue for \\\"example.net\\\"\",\n"
    "            \"identifier\": {\n"
    "                \"type\": \"dns\",\n"
    "                \"value\": \"example.net\"\n"
    "            }\n"
    "        }\n"
    "    ]\n"
    "}\n";

static yajl_val parse(const char *text)
{
    yajl_val v = NULL;
    acme__err err = { 0 };
    int rc = acme__json_parse(text, strlen(text), "problem", &v, &err);
    CHECK_MSG(rc == ACME_OK, "%s", err.msg);
    REQUIRE(v != NULL);
    return v;
}

static acme_problem *problem_of(const char *text, int status)
{
    yajl_val v = parse(text);
    acme_problem *p = acme__problem_from_json(v, status);
    /* The problem owns copies: the JSON can go. */
    acme__json_free(v);
    return p;
}

static void test_rfc8555_example(void)
{
    acme_problem *p = problem_of(rfc8555_subproblems, 403);
    REQUIRE(p != NULL);
    CHECK_STR(acme_problem_type(p), "urn:ietf:params:acme:error:malformed");
    CHECK_STR(acme_problem_detail(p), "Some of the identifiers requested were rejected");
    CHECK(acme_problem_status(p) == 403);
    CHECK(acme_problem_is(p, "malformed"));
    CHECK(!acme_problem_is(p, "rejectedIdentifier"));
    CHECK(!acme_problem_is(p, "malformedx"));
    CHECK(!acme_problem_is(p, "malforme"));
    CHECK(!acme_problem_is(p, ""));
    CHECK(acme_problem_identifier_type(p) == NULL);
    CHECK(acme_problem_identifier_value(p) == NULL);

    REQUIRE(acme_problem_subproblem_count(p) == 2);
    const acme_problem *s0 = acme_problem_subproblem(p, 0);
    const acme_problem *s1 = acme_problem_subproblem(p, 1);
    REQUIRE(s0 && s1);
    CHECK(acme_problem_subproblem(p, 2) == NULL);
    CHECK(acme_problem_subproblem(p, (size_t)-1) == NULL);

    CHECK_STR(acme_problem_type(s0), "urn:ietf:params:acme:error:malformed");
    CHECK_STR(acme_problem_detail(s0), "Invalid underscore in DNS name \"_example.org\"");
    CHECK_STR(acme_problem_identifier_type(s0), "dns");
    CHECK_STR(acme_problem_identifier_value(s0), "_example.org");
    CHECK(acme_problem_is(s0, "malformed"));
    CHECK(acme_problem_status(s0) == 0);
    CHECK(acme_problem_subproblem_count(s0) == 0);

    CHECK_STR(acme_problem_type(s1), "urn:ietf:params:acme:error:rejectedIdentifier");
    CHECK_STR(acme_problem_detail(s1), "This CA will not issue for \"example.net\"");
    CHECK_STR(acme_problem_identifier_type(s1), "dns");
    CHECK_STR(acme_problem_identifier_value(s1), "example.net");
    CHECK(acme_problem_is(s1, "rejectedIdentifier"));
    CHECK(!acme_problem_is(s1, "malformed"));
    CHECK(acme_problem_status(s1) == 0);

    char msg[512];
    acme__problem_describe(p, msg, sizeof(msg));
    CHECK_STR(msg, "malformed: Some of the identifiers requested were rejected (2 subproblems, "
                   "first: _example.org Invalid underscore in DNS name \"_example.org\")");
    /* A small buffer is cut, never overrun. */
    char small[9];
    memset(small, 'X', sizeof(small));
    acme__problem_describe(p, small, 8);
    CHECK_STR(small, "malform");
    CHECK(small[8] == 'X');

    acme__problem_unref(p);
}

static void test_status(void)
{
    /* Without an HTTP status, the document's own "status" is used. */
    acme_problem *p = problem_of("{\"type\":\"urn:ietf:params:acme:error:rateLimited\","
                                 "\"detail\":\"slow down\",\"status\":429}",
                                 0);
    REQUIRE(p != NULL);
    CHECK(acme_problem_status(p) == 429);
    CHECK(acme_problem_is(p, "rateLimited"));
    char msg[128];
    acme__problem_describe(p, msg, sizeof(msg));
    CHECK_STR(msg, "rateLimited: slow down");
    acme__problem_unref(p);

    /* The status of the HTTP reply wins. */
    p = problem_of("{\"type\":\"about:blank\",\"status\":429}", 503);
    REQUIRE(p != NULL);
    CHECK(acme_problem_status(p) == 503);
    /* A type outside the ACME namespace is compared whole. */
    CHECK(acme_problem_is(p, "about:blank"));
    CHECK(!acme_problem_is(p, "blank"));
    acme__problem_unref(p);

    /* Nonsense status values are ignored. */
    static const char *const bad[] = { "{\"status\":-1}", "{\"status\":0}", "{\"status\":1000}",
                                       "{\"status\":99999999999}", "{\"status\":\"429\"}",
                                       "{\"status\":4.29e2}", "{\"status\":null}" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p = problem_of(bad[i], 0);
        REQUIRE(p != NULL);
        CHECK_MSG(acme_problem_status(p) == 0, "%s gives %d", bad[i], acme_problem_status(p));
        acme__problem_unref(p);
    }
}

static void test_missing_fields(void)
{
    acme_problem *p = problem_of("{}", 400);
    REQUIRE(p != NULL);
    CHECK_STR(acme_problem_type(p), "");
    CHECK_STR(acme_problem_detail(p), "");
    CHECK(acme_problem_status(p) == 400);
    CHECK(acme_problem_subproblem_count(p) == 0);
    CHECK(acme_problem_identifier_type(p) == NULL);
    CHECK(!acme_problem_is(p, "malformed"));
    char msg[64];
    acme__problem_describe(p, msg, sizeof(msg));
    CHECK_STR(msg, "problem");
    acme__problem_unref(p);

    /* Members of the wrong type count as missing. */
    p = problem_of("{\"type\":42,\"detail\":[\"x\"],\"identifier\":\"dns\","
                   "\"subproblems\":{\"type\":\"x\"}}",
                   0);
    REQUIRE(p != NULL);
    CHECK_STR(acme_problem_type(p), "");
    CHECK_STR(acme_problem_detail(p), "");
    CHECK(acme_problem_identifier_type(p) == NULL && acme_problem_identifier_value(p) == NULL);
    CHECK(acme_problem_subproblem_count(p) == 0);
    acme__problem_unref(p);

    /* An identifier needs both type and value. */
    p = problem_of("{\"identifier\":{\"type\":\"dns\"}}", 0);
    REQUIRE(p != NULL);
    CHECK(acme_problem_identifier_type(p) == NULL && acme_problem_identifier_value(p) == NULL);
    acme__problem_unref(p);
    p = problem_of("{\"identifier\":{\"type\":\"ip\",\"value\":\"192.0.2.1\"}}", 0);
    REQUIRE(p != NULL);
    CHECK_STR(acme_problem_identifier_type(p), "ip");
    CHECK_STR(acme_problem_identifier_value(p), "192.0.2.1");
    acme__problem_unref(p);

    /* Accessors on NULL. */
    CHECK_STR(acme_problem_type(NULL), "");
    CHECK_STR(acme_problem_detail(NULL), "");
    CHECK(acme_problem_status(NULL) == 0);
    CHECK(acme_problem_identifier_type(NULL) == NULL);
    CHECK(acme_problem_identifier_value(NULL) == NULL);
    CHECK(acme_problem_subproblem_count(NULL) == 0);
    CHECK(acme_problem_subproblem(NULL, 0) == NULL);
    CHECK(!acme_problem_is(NULL, "malformed"));
}

static void test_subproblem_shapes(void)
{
    /* Entries that are not objects are skipped; nested subproblems are not
     * kept (RFC 8555 6.7.1 defines one level). */
    acme_problem *p = problem_of(
        "{\"type\":\"urn:ietf:params:acme:error:compound\",\"subproblems\":["
        "1,\"x\",null,[],"
        "{\"type\":\"urn:ietf:params:acme:error:caa\",\"status\":403,"
        "\"subproblems\":[{\"type\":\"deeper\"}]}]}",
        0);
    REQUIRE(p != NULL);
    REQUIRE(acme_problem_subproblem_count(p) == 1);
    const acme_problem *s = acme_problem_subproblem(p, 0);
    CHECK(acme_problem_is(s, "caa"));
    CHECK(acme_problem_subproblem_count(s) == 0);
    CHECK(acme_problem_identifier_value(s) == NULL);
    acme__problem_unref(p);

    /* An empty subproblems array. */
    p = problem_of("{\"subproblems\":[]}", 0);
    REQUIRE(p != NULL);
    CHECK(acme_problem_subproblem_count(p) == 0);
    acme__problem_unref(p);
}

static void test_many_subproblems(void)
{
    acme__buf b = ACME__BUF_INIT;
    acme__buf_puts(&b, "{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\","
                       "\"subproblems\":[");
    for (int i = 0; i < 10000; i++)
        acme__buf_printf(&b,
                         "%s{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\","
                         "\"detail\":\"no %d\",\"identifier\":{\"type\":\"dns\","
                         "\"value\":\"h%d.example.com\"}}",
                         i ? "," : "", i, i);
    acme__buf_puts(&b, "]}");
    REQUIRE(acme__buf_status(&b) == ACME_OK);

    acme_problem *p = problem_of(b.data, 400);
    REQUIRE(p != NULL);
    size_t n = acme_problem_subproblem_count(p);
    CHECK_MSG(n == ACME__MAX_SUBPROBLEMS, "%zu subproblems kept", n);
    CHECK(ACME__MAX_SUBPROBLEMS == 256);
    /* The first ones, in order. */
    CHECK_STR(acme_problem_detail(acme_problem_subproblem(p, 0)), "no 0");
    CHECK_STR(acme_problem_identifier_value(acme_problem_subproblem(p, 255)),
              "h255.example.com");
    CHECK(acme_problem_subproblem(p, ACME__MAX_SUBPROBLEMS) == NULL);
    acme__problem_unref(p);
    acme__buf_free(&b);
}

static void test_not_objects(void)
{
    static const char *const docs[] = { "[]", "\"urn:ietf:params:acme:error:malformed\"", "1",
                                        "null", "[{\"type\":\"x\"}]" };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        yajl_val v = parse(docs[i]);
        CHECK_MSG(acme__problem_from_json(v, 400) == NULL, "%s made a problem", docs[i]);
        acme__json_free(v);
    }
    CHECK(acme__problem_from_json(NULL, 400) == NULL);
}

static void test_new_and_refs(void)
{
    acme_problem *p = acme__problem_new(NULL, NULL, 500);
    REQUIRE(p != NULL);
    CHECK_STR(acme_problem_type(p), "");
    CHECK_STR(acme_problem_detail(p), "");
    CHECK(acme_problem_status(p) == 500);
    acme__problem_unref(p);

    p = acme__problem_new("urn:ietf:params:acme:error:badNonce", "stale nonce", 400);
    REQUIRE(p != NULL);
    CHECK(acme_problem_is(p, "badNonce"));
    CHECK_STR(acme_problem_detail(p), "stale nonce");

    /* Extra references keep it alive; the last unref frees it (valgrind
     * tells when that goes wrong). */
    CHECK(acme__problem_ref(p) == p);
    CHECK(acme__problem_ref(p) == p);
    acme__problem_unref(p);
    acme__problem_unref(p);
    CHECK_STR(acme_problem_detail(p), "stale nonce");
    acme__problem_unref(p);

    CHECK(acme__problem_ref(NULL) == NULL);
    acme__problem_unref(NULL);

    /* A subproblem borrowed from a parent lives as long as the parent. */
    acme_problem *parent = problem_of(rfc8555_subproblems, 403);
    REQUIRE(parent != NULL);
    acme_problem *extra = acme__problem_ref(parent);
    acme__problem_unref(parent);
    CHECK_STR(acme_problem_identifier_value(acme_problem_subproblem(extra, 1)), "example.net");
    acme__problem_unref(extra);
}

int main(void)
{
    test_rfc8555_example();
    test_status();
    test_missing_fields();
    test_subproblem_shapes();
    test_many_subproblems();
    test_not_objects();
    test_new_and_refs();
    return check_done();
}
