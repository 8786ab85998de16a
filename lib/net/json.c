/* JSON parsing and string escaping on top of yajl. */
#include "net/json.h"

#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "acme/common.h"

/* Count nesting outside strings so a hostile document cannot make yajl's
 * recursive free overflow the stack. yajl_tree_parse accepts comments, where
 * a '"' would hide the brackets after it from this count; JSON (RFC 8259)
 * has none, so a '/' outside a string is refused (-1). 0: too deep. */
static int depth_ok(const char *s, size_t len)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '/') {
            return -1;
        } else if (c == '[' || c == '{') {
            if (++depth > ACME__JSON_MAX_DEPTH)
                return 0;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 1;
}

int acme__json_parse(const char *data, size_t len, const char *what, yajl_val *out,
                     acme__err *err)
{
    *out = NULL;
    if (!data || len == 0)
        return acme__fail(err, ACME_ERR_PROTOCOL, "%s: empty body where JSON was expected", what);
    if (memchr(data, '\0', len))
        return acme__fail(err, ACME_ERR_PROTOCOL, "%s: NUL byte in JSON", what);
    int shape = depth_ok(data, len);
    if (shape < 0)
        return acme__fail(err, ACME_ERR_PROTOCOL, "%s: comment in JSON", what);
    if (shape == 0)
        return acme__fail(err, ACME_ERR_PROTOCOL, "%s: JSON nested deeper than %d levels",
                          what, ACME__JSON_MAX_DEPTH);
    /* yajl_tree_parse reads up to a NUL: give it an exact copy. */
    char *copy = malloc(len + 1);
    if (!copy)
        return acme__fail(err, ACME_ERR_NOMEM, "%s: out of memory", what);
    memcpy(copy, data, len);
    copy[len] = '\0';
    char reason[256] = "";
    yajl_val v = yajl_tree_parse(copy, reason, sizeof(reason));
    free(copy);
    if (!v) {
        /* yajl's messages span lines; keep the first. */
        reason[strcspn(reason, "\r\n")] = '\0';
        return acme__fail(err, ACME_ERR_PROTOCOL, "%s: invalid JSON (%s)", what,
                          reason[0] ? reason : "parse error");
    }
    *out = v;
    return ACME_OK;
}

int acme__json_parse_object(const char *data, size_t len, const char *what, yajl_val *out,
                            acme__err *err)
{
    int rc = acme__json_parse(data, len, what, out, err);
    if (rc != ACME_OK)
        return rc;
    if (!YAJL_IS_OBJECT(*out)) {
        acme__json_free(*out);
        *out = NULL;
        return acme__fail(err, ACME_ERR_PROTOCOL, "%s: JSON is not an object", what);
    }
    return ACME_OK;
}

void acme__json_free(yajl_val v)
{
    if (v)
        yajl_tree_free(v);
}

yajl_val acme__json_get(yajl_val obj, const char *key)
{
    if (!obj || !YAJL_IS_OBJECT(obj))
        return NULL;
    for (size_t i = 0; i < obj->u.object.len; i++)
        if (strcmp(obj->u.object.keys[i], key) == 0)
            return obj->u.object.values[i];
    return NULL;
}

const char *acme__json_as_string(yajl_val v)
{
    return v && YAJL_IS_STRING(v) ? v->u.string : NULL;
}

const char *acme__json_string(yajl_val obj, const char *key)
{
    return acme__json_as_string(acme__json_get(obj, key));
}

int acme__json_bool(yajl_val obj, const char *key, int dflt)
{
    yajl_val v = acme__json_get(obj, key);
    if (v && YAJL_IS_TRUE(v))
        return 1;
    if (v && YAJL_IS_FALSE(v))
        return 0;
    return dflt;
}

int acme__json_int(yajl_val obj, const char *key, long long *out)
{
    yajl_val v = acme__json_get(obj, key);
    if (!v || !YAJL_IS_INTEGER(v))
        return ACME_ERR_NOT_FOUND;
    *out = YAJL_GET_INTEGER(v);
    return ACME_OK;
}

yajl_val acme__json_array(yajl_val obj, const char *key)
{
    yajl_val v = acme__json_get(obj, key);
    return v && YAJL_IS_ARRAY(v) ? v : NULL;
}

yajl_val acme__json_object(yajl_val obj, const char *key)
{
    yajl_val v = acme__json_get(obj, key);
    return v && YAJL_IS_OBJECT(v) ? v : NULL;
}

size_t acme__json_len(yajl_val arr)
{
    return arr && YAJL_IS_ARRAY(arr) ? arr->u.array.len : 0;
}

yajl_val acme__json_at(yajl_val arr, size_t i)
{
    return i < acme__json_len(arr) ? arr->u.array.values[i] : NULL;
}

int acme__json_put_string(acme__buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    acme__buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': acme__buf_puts(b, "\\\""); break;
        case '\\': acme__buf_puts(b, "\\\\"); break;
        case '\n': acme__buf_puts(b, "\\n"); break;
        case '\r': acme__buf_puts(b, "\\r"); break;
        case '\t': acme__buf_puts(b, "\\t"); break;
        default:
            if (*p < 0x20) {
                char esc[7] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15], 0 };
                acme__buf_puts(b, esc);
            } else {
                acme__buf_putc(b, (char)*p);
            }
        }
    }
    return acme__buf_putc(b, '"');
}

int acme__json_write(acme__buf *b, yajl_val v)
{
    if (!v || YAJL_IS_NULL(v))
        return acme__buf_puts(b, "null");
    if (YAJL_IS_TRUE(v))
        return acme__buf_puts(b, "true");
    if (YAJL_IS_FALSE(v))
        return acme__buf_puts(b, "false");
    if (YAJL_IS_STRING(v))
        return acme__json_put_string(b, v->u.string);
    if (YAJL_IS_NUMBER(v))
        return acme__buf_puts(b, v->u.number.r);
    if (YAJL_IS_ARRAY(v)) {
        acme__buf_putc(b, '[');
        for (size_t i = 0; i < v->u.array.len; i++) {
            if (i)
                acme__buf_putc(b, ',');
            acme__json_write(b, v->u.array.values[i]);
        }
        return acme__buf_putc(b, ']');
    }
    acme__buf_putc(b, '{');
    for (size_t i = 0; i < v->u.object.len; i++) {
        if (i)
            acme__buf_putc(b, ',');
        acme__json_put_string(b, v->u.object.keys[i]);
        acme__buf_putc(b, ':');
        acme__json_write(b, v->u.object.values[i]);
    }
    return acme__buf_putc(b, '}');
}

int acme__json_put_strings(acme__buf *b, const char *const *v, size_t n)
{
    acme__buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            acme__buf_putc(b, ',');
        acme__json_put_string(b, v[i]);
    }
    return acme__buf_putc(b, ']');
}
