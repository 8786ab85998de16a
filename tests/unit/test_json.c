/* The yajl wrapper: parsing (objects only where asked, depth limit, NUL
 * bytes, truncation), typed getters, and the string escaping used for the
 * JSON the library writes. */
#include <acme.h>

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "net/json.h"

#include "unit.h"

static yajl_val parse_ok(const char *text)
{
    yajl_val v = NULL;
    acme__err err = { 0 };
    int rc = acme__json_parse_object(text, strlen(text), "test document", &v, &err);
    CHECK_MSG(rc == ACME_OK && v != NULL, "%s: %s", text, err.msg);
    return v;
}

/* Must fail with ACME_ERR_PROTOCOL, *out NULL, and a message naming the
 * document. */
static void check_parse_fails(const char *what, const char *data, size_t len, int object)
{
    yajl_val v = (yajl_val)&v;
    acme__err err = { 0 };
    int rc = object ? acme__json_parse_object(data, len, "directory", &v, &err)
                    : acme__json_parse(data, len, "directory", &v, &err);
    CHECK_MSG(rc == ACME_ERR_PROTOCOL, "%s: rc %d", what, rc);
    CHECK_MSG(v == NULL, "%s: output not reset", what);
    CHECK_MSG(err.code == ACME_ERR_PROTOCOL && strstr(err.msg, "directory") != NULL,
              "%s: message \"%s\"", what, err.msg);
    if (rc == ACME_OK && v != (yajl_val)&v)
        acme__json_free(v);
}

static void test_valid(void)
{
    yajl_val v = parse_ok("{\"s\":\"text\",\"i\":42,\"neg\":-7,\"d\":1.5,\"t\":true,"
                          "\"f\":false,\"n\":null,\"a\":[\"x\",2,{\"k\":1}],"
                          "\"o\":{\"inner\":\"v\"},\"big\":123456789012345,"
                          "\"esc\":\"a\\\"b\\\\c\\u00e9\\n\"}");
    REQUIRE(v != NULL);

    /* Strings. */
    CHECK_STR(acme__json_string(v, "s"), "text");
    CHECK_STR(acme__json_string(v, "esc"), "a\"b\\c\xc3\xa9\n");
    CHECK_STR(acme__json_string(acme__json_object(v, "o"), "inner"), "v");
    /* Integers. */
    long long i = 0;
    CHECK(acme__json_int(v, "i", &i) == ACME_OK && i == 42);
    CHECK(acme__json_int(v, "neg", &i) == ACME_OK && i == -7);
    CHECK(acme__json_int(v, "big", &i) == ACME_OK && i == 123456789012345LL);
    /* Booleans. */
    CHECK(acme__json_bool(v, "t", 0) == 1);
    CHECK(acme__json_bool(v, "f", 1) == 0);
    /* Arrays. */
    yajl_val a = acme__json_array(v, "a");
    CHECK(a != NULL && acme__json_len(a) == 3);
    CHECK_STR(acme__json_as_string(acme__json_at(a, 0)), "x");
    CHECK(acme__json_as_string(acme__json_at(a, 1)) == NULL);
    CHECK(acme__json_at(a, 3) == NULL);
    CHECK(acme__json_at(a, (size_t)-1) == NULL);
    CHECK(acme__json_int(acme__json_at(a, 2), "k", &i) == ACME_OK && i == 1);
    /* Objects. */
    CHECK(acme__json_object(v, "o") != NULL);
    CHECK(acme__json_get(v, "n") != NULL && YAJL_IS_NULL(acme__json_get(v, "n")));

    /* Wrong types give NULL or the default, never a wrong value. */
    CHECK(acme__json_string(v, "i") == NULL);
    CHECK(acme__json_string(v, "a") == NULL);
    CHECK(acme__json_string(v, "n") == NULL);
    CHECK(acme__json_string(v, "o") == NULL);
    i = 99;
    CHECK(acme__json_int(v, "s", &i) == ACME_ERR_NOT_FOUND && i == 99);
    CHECK(acme__json_int(v, "d", &i) == ACME_ERR_NOT_FOUND && i == 99);
    CHECK(acme__json_int(v, "t", &i) == ACME_ERR_NOT_FOUND && i == 99);
    CHECK(acme__json_int(v, "n", &i) == ACME_ERR_NOT_FOUND && i == 99);
    CHECK(acme__json_bool(v, "s", 7) == 7);
    CHECK(acme__json_bool(v, "i", -1) == -1);
    CHECK(acme__json_bool(v, "n", 5) == 5);
    CHECK(acme__json_array(v, "o") == NULL);
    CHECK(acme__json_array(v, "s") == NULL);
    CHECK(acme__json_object(v, "a") == NULL);
    CHECK(acme__json_object(v, "s") == NULL);
    CHECK(acme__json_len(acme__json_get(v, "o")) == 0);
    CHECK(acme__json_len(acme__json_get(v, "s")) == 0);
    CHECK(acme__json_at(acme__json_get(v, "o"), 0) == NULL);

    /* Missing members, and getters on a non-object or NULL. */
    CHECK(acme__json_get(v, "missing") == NULL);
    CHECK(acme__json_string(v, "missing") == NULL);
    CHECK(acme__json_int(v, "missing", &i) == ACME_ERR_NOT_FOUND);
    CHECK(acme__json_bool(v, "missing", 3) == 3);
    CHECK(acme__json_array(v, "missing") == NULL);
    CHECK(acme__json_object(v, "missing") == NULL);
    CHECK(acme__json_get(a, "x") == NULL);
    CHECK(acme__json_get(NULL, "x") == NULL);
    CHECK(acme__json_string(NULL, "x") == NULL);
    CHECK(acme__json_bool(NULL, "x", 4) == 4);
    CHECK(acme__json_int(NULL, "x", &i) == ACME_ERR_NOT_FOUND);
    CHECK(acme__json_len(NULL) == 0);
    CHECK(acme__json_at(NULL, 0) == NULL);
    CHECK(acme__json_as_string(NULL) == NULL);
    /* Member names are matched exactly. */
    CHECK(acme__json_get(v, "S") == NULL);
    CHECK(acme__json_get(v, "") == NULL);
    acme__json_free(v);

    /* Empty object; white space around. */
    v = parse_ok(" \r\n\t{ } \n");
    CHECK(v && YAJL_IS_OBJECT(v) && v->u.object.len == 0);
    acme__json_free(v);
    acme__json_free(NULL);

    /* Length is honoured: the bytes after len are not read. */
    const char *text = "{\"a\":1}garbage";
    yajl_val w = NULL;
    acme__err err = { 0 };
    CHECK_OK(acme__json_parse_object(text, 7, "prefix", &w, &err));
    acme__json_free(w);
}

static void test_non_objects(void)
{
    static const char *const docs[] = { "[1,2]", "\"s\"", "1", "-1.5", "null", "true",
                                        "[]", "[{}]" };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        check_parse_fails(docs[i], docs[i], strlen(docs[i]), 1);
        /* They are valid JSON for acme__json_parse. */
        yajl_val v = NULL;
        acme__err err = { 0 };
        CHECK_MSG(acme__json_parse(docs[i], strlen(docs[i]), "doc", &v, &err) == ACME_OK,
                  "%s: %s", docs[i], err.msg);
        CHECK(v != NULL && !YAJL_IS_OBJECT(v));
        acme__json_free(v);
    }
}

static void test_invalid(void)
{
    check_parse_fails("truncated", "{\"a\":", 5, 1);
    check_parse_fails("truncated string", "{\"a\":\"b", 7, 1);
    check_parse_fails("truncated object", "{\"a\":1", 6, 1);
    check_parse_fails("empty", "", 0, 1);
    check_parse_fails("NULL data", NULL, 0, 1);
    check_parse_fails("white space only", "  \n", 3, 0);
    check_parse_fails("trailing comma", "{\"a\":1,}", 8, 1);
    check_parse_fails("single quotes", "{'a':1}", 7, 1);
    check_parse_fails("unquoted key", "{a:1}", 5, 1);
    check_parse_fails("two documents", "{}{}", 4, 1);
    check_parse_fails("trailing garbage", "{} x", 4, 1);
    check_parse_fails("bad escape", "{\"a\":\"\\x\"}", 10, 1);
    check_parse_fails("bad UTF-8", "{\"a\":\"\xff\xfe\"}", 10, 1);
    check_parse_fails("raw control character", "{\"a\":\"x\ny\"}", 11, 1);
    /* Comments are not JSON (RFC 8259), whatever yajl allows. */
    check_parse_fails("block comment", "{\"a\":1 /* c */}", 15, 1);
    check_parse_fails("line comment", "// c\n{}", 7, 1);
    /* '/' inside strings is fine, escaped or not. */
    yajl_val ok = NULL;
    acme__err ok_err = { 0 };
    static const char slashes[] = "{\"u\":\"https://example.com/a\",\"e\":\"\\/x\"}";
    CHECK_MSG(acme__json_parse_object(slashes, strlen(slashes), "slashes", &ok, &ok_err) ==
                  ACME_OK,
              "%s", ok_err.msg);
    CHECK_STR(acme__json_string(ok, "u"), "https://example.com/a");
    CHECK_STR(acme__json_string(ok, "e"), "/x");
    acme__json_free(ok);
    /* NUL bytes inside: in a string, and between tokens. */
    static const char nul_in_string[] = "{\"a\":\"x\0y\"}";
    check_parse_fails("NUL in string", nul_in_string, sizeof(nul_in_string) - 1, 1);
    static const char nul_after[] = "{\"a\":1}\0{\"b\":2}";
    check_parse_fails("NUL after object", nul_after, sizeof(nul_after) - 1, 1);
    static const char nul_first[] = "\0{}";
    check_parse_fails("NUL first", nul_first, sizeof(nul_first) - 1, 0);

    /* The reason is on one line. */
    yajl_val v = NULL;
    acme__err err = { 0 };
    CHECK(acme__json_parse_object("{\"a\":", 5, "order", &v, &err) == ACME_ERR_PROTOCOL);
    CHECK_MSG(strchr(err.msg, '\n') == NULL, "multi-line message: %s", err.msg);
    CHECK(strncmp(err.msg, "order: ", 7) == 0);
}

static char *repeat(const char *prefix, char c, size_t n, const char *mid, char c2, size_t n2,
                    const char *suffix)
{
    size_t len = strlen(prefix) + n + strlen(mid) + n2 + strlen(suffix);
    char *s = malloc(len + 1);
    REQUIRE(s != NULL);
    char *p = s;
    p += sprintf(p, "%s", prefix);
    memset(p, c, n);
    p += n;
    p += sprintf(p, "%s", mid);
    memset(p, c2, n2);
    p += n2;
    sprintf(p, "%s", suffix);
    return s;
}

static void test_depth(void)
{
    /* 100 000 '[': refused cleanly, not a stack overflow. */
    char *s = repeat("", '[', 100000, "", ']', 0, "");
    check_parse_fails("100000 [", s, strlen(s), 0);
    free(s);
    /* The same, balanced (valid JSON, but far too deep). */
    s = repeat("", '[', 100000, "", ']', 100000, "");
    check_parse_fails("100000 balanced", s, strlen(s), 0);
    free(s);
    /* And as object members. */
    size_t n = 50000;
    char *deep = malloc(n * 5 + n + 1);
    REQUIRE(deep != NULL);
    for (size_t i = 0; i < n; i++)
        memcpy(deep + i * 5, "{\"a\":", 5);
    memset(deep + n * 5, '}', n);
    deep[n * 6] = '\0';
    check_parse_fails("50000 nested objects", deep, strlen(deep), 1);
    free(deep);
    /* Unbalanced closers first cannot buy depth for openers later. */
    s = repeat("", ']', 100000, "", '[', 100000, "");
    check_parse_fails("closers then openers", s, strlen(s), 0);
    free(s);

    /* yajl_tree_parse accepts comments; a '"' inside one must not hide the
     * brackets after it from the depth count (this used to pass the check
     * and crash in yajl_tree_free at a million levels). */
    s = repeat("{\"a\":/*\"*/", '[', 1000000, "", ']', 1000000, "}");
    check_parse_fails("deep nesting after a comment", s, strlen(s), 1);
    free(s);
    s = repeat("// \"\n{\"a\":", '[', 100, "", ']', 100, "}");
    check_parse_fails("deep nesting after a line comment", s, strlen(s), 1);
    free(s);

    /* The limit itself: ACME__JSON_MAX_DEPTH levels parse, one more does not. */
    s = repeat("{\"a\":", '[', ACME__JSON_MAX_DEPTH - 1, "", ']', ACME__JSON_MAX_DEPTH - 1, "}");
    yajl_val v = NULL;
    acme__err err = { 0 };
    CHECK_MSG(acme__json_parse_object(s, strlen(s), "max", &v, &err) == ACME_OK, "%s", err.msg);
    acme__json_free(v);
    free(s);
    s = repeat("{\"a\":", '[', ACME__JSON_MAX_DEPTH, "", ']', ACME__JSON_MAX_DEPTH, "}");
    check_parse_fails("one level too deep", s, strlen(s), 1);
    free(s);

    /* Brackets inside strings (with escaped quotes) are not nesting. */
    s = repeat("{\"a\":\"\\\"", '[', 1000, "\\\\", '{', 1000, "\"}");
    v = NULL;
    CHECK_MSG(acme__json_parse_object(s, strlen(s), "brackets in string", &v, &err) == ACME_OK,
              "%s", err.msg);
    CHECK(v && acme__json_string(v, "a") && strlen(acme__json_string(v, "a")) == 2002);
    acme__json_free(v);
    free(s);
}

/* put_string output must equal want exactly and parse back to s. */
static void check_put(const char *s, const char *want)
{
    acme__buf b = ACME__BUF_INIT;
    CHECK_OK(acme__json_put_string(&b, s));
    CHECK_STR(acme__buf_str(&b), want);

    acme__buf doc = ACME__BUF_INIT;
    acme__buf_puts(&doc, "{\"k\":");
    acme__json_put_string(&doc, s);
    acme__buf_putc(&doc, '}');
    yajl_val v = NULL;
    acme__err err = { 0 };
    CHECK_MSG(acme__json_parse_object(doc.data, doc.len, "escaped", &v, &err) == ACME_OK,
              "%s: %s", doc.data, err.msg);
    CHECK_STR(acme__json_string(v, "k"), s);
    acme__json_free(v);
    acme__buf_free(&doc);
    acme__buf_free(&b);
}

static void test_put_string(void)
{
    check_put("", "\"\"");
    check_put("plain text", "\"plain text\"");
    check_put("a\"b", "\"a\\\"b\"");
    check_put("back\\slash", "\"back\\\\slash\"");
    check_put("\\\"", "\"\\\\\\\"\"");
    check_put("line\nfeed\rreturn\ttab", "\"line\\nfeed\\rreturn\\ttab\"");
    check_put("\x01\x08\x0b\x0c\x1f", "\"\\u0001\\u0008\\u000b\\u000c\\u001f\"");
    check_put("\x7f", "\"\x7f\"");
    /* UTF-8 and '/' pass through unchanged. */
    check_put("caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\"");
    check_put("https://example.com/a", "\"https://example.com/a\"");
    /* Something that looks like JSON stays a string. */
    check_put("\",\"admin\":true,\"x\":\"", "\"\\\",\\\"admin\\\":true,\\\"x\\\":\\\"\"");

    /* Every control character round-trips. */
    char all[32];
    for (int i = 1; i < 32; i++)
        all[i - 1] = (char)i;
    all[31] = '\0';
    acme__buf b = ACME__BUF_INIT;
    acme__json_put_string(&b, all);
    CHECK(strpbrk(b.data, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"
                          "\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f") == NULL);
    acme__buf_free(&b);
    check_put(all, "\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\t\\n\\u000b"
                   "\\u000c\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016"
                   "\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\"");

    /* Appends, and arrays of strings. */
    b = (acme__buf)ACME__BUF_INIT;
    acme__buf_puts(&b, "x=");
    acme__json_put_string(&b, "y");
    CHECK_STR(acme__buf_str(&b), "x=\"y\"");
    acme__buf_free(&b);

    static const char *const v[] = { "dns", "a\"b", "" };
    CHECK_OK(acme__json_put_strings(&b, v, 3));
    CHECK_STR(acme__buf_str(&b), "[\"dns\",\"a\\\"b\",\"\"]");
    acme__buf_free(&b);
    CHECK_OK(acme__json_put_strings(&b, v, 0));
    CHECK_STR(acme__buf_str(&b), "[]");
    acme__buf_free(&b);
}

int main(void)
{
    test_valid();
    test_non_objects();
    test_invalid();
    test_depth();
    test_put_string();
    return check_done();
}
