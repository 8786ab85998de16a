/* JSON (lib/json.c): the depth-limited parser on any bytes, the typed
 * getters over the tree, and the writer: for every document that parses,
 * write(parse(x)) parses again and writes the same text (a fixed point). */
#include "fuzz.h"

#include "base/error.h"
#include "net/json.h"

/* Walk the tree through the getters the library's parsers use. */
static size_t walk(yajl_val v, int depth)
{
    FUZZ_ASSERT(depth <= ACME__JSON_MAX_DEPTH + 1);
    size_t n = 1;
    if (YAJL_IS_STRING(v))
        fuzz_touch(acme__json_as_string(v));
    if (YAJL_IS_ARRAY(v)) {
        FUZZ_ASSERT(acme__json_len(v) == v->u.array.len);
        for (size_t i = 0; i < acme__json_len(v); i++)
            n += walk(acme__json_at(v, i), depth + 1);
        FUZZ_ASSERT(acme__json_at(v, v->u.array.len) == NULL);
    }
    if (YAJL_IS_OBJECT(v)) {
        FUZZ_ASSERT(acme__json_len(v) == 0);
        for (size_t i = 0; i < v->u.object.len; i++) {
            const char *key = v->u.object.keys[i];
            fuzz_touch(key);
            /* The first member of that name is the one found. */
            yajl_val m = acme__json_get(v, key);
            FUZZ_ASSERT(m != NULL);
            const char *s = acme__json_string(v, key);
            FUZZ_ASSERT(!s || s == m->u.string);
            long long ll;
            if (acme__json_int(v, key, &ll) == ACME_OK)
                FUZZ_ASSERT(YAJL_IS_INTEGER(m));
            FUZZ_ASSERT(!acme__json_array(v, key) || YAJL_IS_ARRAY(m));
            FUZZ_ASSERT(!acme__json_object(v, key) || YAJL_IS_OBJECT(m));
            int b = acme__json_bool(v, key, 7);
            FUZZ_ASSERT(b == 7 || YAJL_IS_TRUE(m) || YAJL_IS_FALSE(m));
            n += walk(v->u.object.values[i], depth + 1);
        }
    }
    return n;
}

int fuzz_json(const uint8_t *data, size_t size)
{
    acme__err err = { 0 };
    yajl_val v = NULL;
    int rc = acme__json_parse((const char *)data, size, "fuzz", &v, &err);
    if (rc != ACME_OK) {
        FUZZ_ASSERT(v == NULL && err.code == rc && err.msg[0]);
        acme__err_clear(&err);
        /* The object-only variant fails too. */
        FUZZ_ASSERT(acme__json_parse_object((const char *)data, size, "fuzz", &v, &err) != ACME_OK);
        FUZZ_ASSERT(v == NULL);
        acme__err_clear(&err);
        return 0;
    }
    FUZZ_ASSERT(v != NULL);
    walk(v, 0);

    acme__buf first = ACME__BUF_INIT, second = ACME__BUF_INIT;
    acme__json_write(&first, v);
    if (acme__buf_status(&first) == ACME_OK) {
        yajl_val again = NULL;
        rc = acme__json_parse(first.data, first.len, "fuzz", &again, &err);
        if (rc != ACME_OK)
            fprintf(stderr, "written JSON does not parse: %s\n%s\n", err.msg, first.data);
        FUZZ_ASSERT(rc == ACME_OK);
        acme__json_write(&second, again);
        FUZZ_ASSERT(acme__buf_status(&second) != ACME_OK ||
                    (first.len == second.len && memcmp(first.data, second.data, first.len) == 0));
        acme__json_free(again);
    }
    acme__buf_free(&first);
    acme__buf_free(&second);

    yajl_val obj = NULL;
    rc = acme__json_parse_object((const char *)data, size, "fuzz", &obj, &err);
    FUZZ_ASSERT((rc == ACME_OK) == (YAJL_IS_OBJECT(v) != 0));
    acme__json_free(obj);
    acme__json_free(v);
    acme__err_clear(&err);
    return 0;
}

FUZZ_ENTRY(json);
