/* RFC 7512 PKCS#11 URIs: see p11uri.h. */
#include "p11uri.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { IN_PATH = 1, IN_QUERY = 2 };

static const struct {
    const char *name;
    int where;
} attrs[P11_ATTR_COUNT] = {
    [P11_ATTR_TOKEN] = { "token", IN_PATH },
    [P11_ATTR_MANUFACTURER] = { "manufacturer", IN_PATH },
    [P11_ATTR_SERIAL] = { "serial", IN_PATH },
    [P11_ATTR_MODEL] = { "model", IN_PATH },
    [P11_ATTR_LIBRARY_MANUFACTURER] = { "library-manufacturer", IN_PATH },
    [P11_ATTR_LIBRARY_DESCRIPTION] = { "library-description", IN_PATH },
    [P11_ATTR_LIBRARY_VERSION] = { "library-version", IN_PATH },
    [P11_ATTR_SLOT_DESCRIPTION] = { "slot-description", IN_PATH },
    [P11_ATTR_SLOT_MANUFACTURER] = { "slot-manufacturer", IN_PATH },
    [P11_ATTR_OBJECT] = { "object", IN_PATH },
    [P11_ATTR_MODULE_NAME] = { "module-name", IN_QUERY },
    [P11_ATTR_MODULE_PATH] = { "module-path", IN_QUERY },
    [P11_ATTR_PIN_VALUE] = { "pin-value", IN_QUERY },
    [P11_ATTR_PIN_SOURCE] = { "pin-source", IN_QUERY },
};

static const char *const type_names[] = {
    [P11_TYPE_PRIVATE] = "private", [P11_TYPE_PUBLIC] = "public", [P11_TYPE_CERT] = "cert",
    [P11_TYPE_SECRET_KEY] = "secret-key", [P11_TYPE_DATA] = "data",
};

const char *p11_uri_attr_name(int attr)
{
    return attr >= 0 && attr < P11_ATTR_COUNT ? attrs[attr].name : "?";
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int hexval(char c)
{
    static const char digits[] = "0123456789abcdef";
    const char *p = c ? strchr(digits, tolower((unsigned char)c)) : NULL;
    return p ? (int)(p - digits) : -1;
}

/* Percent-decode s[0..n) into a new buffer (NUL-terminated; *len without
 * the terminator). Bytes outside printable ASCII must come escaped: a URI
 * carries none raw, and a stray space or newline is more likely a quoting
 * slip than a label. */
static unsigned char *decode(const char *name, const char *s, size_t n, size_t *len, char *err,
                             size_t errlen)
{
    unsigned char *out = malloc(n + 1);
    if (!out) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                fail(err, errlen, "%s: \"%%\" must be followed by two hex digits", name);
                return NULL;
            }
            out[k++] = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c <= ' ' || c >= 0x7f) {
            free(out);
            fail(err, errlen, "%s: byte 0x%02x must be percent-encoded (%%%02X)", name, c, c);
            return NULL;
        } else {
            out[k++] = c;
        }
    }
    out[k] = '\0';
    *len = k;
    return out;
}

static int find_attr(const char *name, size_t n)
{
    for (int i = 0; i < P11_ATTR_COUNT; i++)
        if (strlen(attrs[i].name) == n && strncmp(attrs[i].name, name, n) == 0)
            return i;
    return -1;
}

/* Digits only, then "." and digits: "2" or "2.6". */
static int version_ok(const char *v)
{
    const char *p = v;
    size_t d = strspn(p, "0123456789");
    if (d == 0)
        return 0;
    p += d;
    if (!*p)
        return 1;
    if (*p++ != '.')
        return 0;
    d = strspn(p, "0123456789");
    return d > 0 && !p[d];
}

/* One "name=value" of the path (where IN_PATH) or the query (IN_QUERY). */
static int parse_attr(p11_uri *u, const char *s, size_t n, int where, char *err, size_t errlen)
{
    const char *eq = memchr(s, '=', n);
    const char *part = where == IN_PATH ? "path" : "query";
    if (!eq)
        return fail(err, errlen, "\"%.*s\": an attribute needs \"name=value\"", (int)(n > 64 ? 64 : n), s);
    size_t nlen = (size_t)(eq - s);
    const char *val = eq + 1;
    size_t vlen = n - nlen - 1;
    if (nlen == 0)
        return fail(err, errlen, "an attribute of the %s has no name", part);
    if (nlen >= 2 && strncmp(s, "x-", 2) == 0)
        return 0; /* vendor attribute: not ours to interpret */
    char name[32];
    snprintf(name, sizeof(name), "%.*s", (int)(nlen < sizeof(name) - 1 ? nlen : sizeof(name) - 1), s);

    if (nlen == 2 && strncmp(s, "id", 2) == 0) {
        if (where != IN_PATH)
            return fail(err, errlen, "id belongs in the path (before \"?\")");
        if (u->has_id)
            return fail(err, errlen, "id is given twice");
        size_t len = 0;
        u->id = decode("id", val, vlen, &len, err, errlen);
        if (!u->id)
            return -1;
        u->id_len = len;
        u->has_id = 1;
        return 0;
    }
    if ((nlen == 4 && strncmp(s, "type", 4) == 0) || (nlen == 7 && strncmp(s, "slot-id", 7) == 0)) {
        int is_type = nlen == 4;
        if (where != IN_PATH)
            return fail(err, errlen, "%s belongs in the path (before \"?\")", name);
        if (is_type ? u->type != P11_TYPE_ANY : u->has_slot_id)
            return fail(err, errlen, "%s is given twice", name);
        size_t len = 0;
        char *v = (char *)decode(name, val, vlen, &len, err, errlen);
        if (!v)
            return -1;
        int rc = 0;
        if (is_type) {
            for (size_t t = 1; t < sizeof(type_names) / sizeof(type_names[0]); t++)
                if (strlen(type_names[t]) == len && strcmp(v, type_names[t]) == 0)
                    u->type = (int)t;
            if (u->type == P11_TYPE_ANY)
                rc = fail(err, errlen,
                          "type=%.32s: not a type (private, public, cert, secret-key, data)", v);
        } else {
            char *end = NULL;
            unsigned long id = len && len == strspn(v, "0123456789") && len <= 19
                                   ? strtoul(v, &end, 10)
                                   : 0;
            if (!end || *end)
                rc = fail(err, errlen, "slot-id=%.32s: not a decimal number", v);
            u->slot_id = id;
            u->has_slot_id = rc == 0;
        }
        free(v);
        return rc;
    }
    int a = find_attr(s, nlen);
    if (a < 0)
        return fail(err, errlen, "unknown %s attribute \"%s\"", part, name);
    if (attrs[a].where != where)
        return fail(err, errlen, "%s belongs in the %s", attrs[a].name,
                    attrs[a].where == IN_PATH ? "path (before \"?\")" : "query (after \"?\")");
    if (u->attr[a])
        return fail(err, errlen, "%s is given twice", attrs[a].name);
    size_t len = 0;
    char *v = (char *)decode(attrs[a].name, val, vlen, &len, err, errlen);
    if (!v)
        return -1;
    if (strlen(v) != len) {
        free(v);
        return fail(err, errlen, "%s: a NUL (%%00) cannot be part of it", attrs[a].name);
    }
    u->attr[a] = v;
    if (a == P11_ATTR_LIBRARY_VERSION && !version_ok(v))
        return fail(err, errlen, "library-version=%.32s: not a version (\"M\" or \"M.m\")", v);
    if (a == P11_ATTR_PIN_SOURCE && !p11_uri_pin_file(u))
        return fail(err, errlen, "pin-source=%.64s: only a file is supported (\"file:/PATH\" or "
                                 "\"/PATH\")", v);
    if (a == P11_ATTR_MODULE_PATH && v[0] != '/')
        return fail(err, errlen, "module-path=%.64s: give an absolute path", v);
    return 0;
}

/* Split s[0..n) at sep and parse each piece. Empty pieces (";;", a
 * trailing ";") are allowed, as RFC 7512 generators emit them. */
static int parse_list(p11_uri *u, const char *s, size_t n, char sep, int where, char *err,
                      size_t errlen)
{
    size_t i = 0;
    while (i < n) {
        const char *end = memchr(s + i, sep, n - i);
        size_t len = end ? (size_t)(end - (s + i)) : n - i;
        if (len && parse_attr(u, s + i, len, where, err, errlen) != 0)
            return -1;
        i += len + 1;
    }
    return 0;
}

const char *p11_uri_pin_file(const p11_uri *u)
{
    const char *src = u->attr[P11_ATTR_PIN_SOURCE];
    if (!src)
        return NULL;
    if (strncmp(src, "file:", 5) == 0)
        src += 5;
    /* "file:///etc/pin" and "file:/etc/pin" name the same file. */
    if (strncmp(src, "///", 3) == 0)
        src += 2;
    return src[0] == '/' && src[1] != '/' ? src : NULL;
}

int p11_uri_parse(const char *text, p11_uri *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!text)
        return fail(err, errlen, "no URI");
    size_t n = strlen(text);
    if (n > P11_URI_MAX)
        return fail(err, errlen, "URI longer than %d bytes", P11_URI_MAX);
    if (n < 7 || strncasecmp(text, "pkcs11:", 7) != 0)
        return fail(err, errlen, "not a PKCS#11 URI (it starts with \"pkcs11:\")");
    const char *path = text + 7;
    const char *q = strchr(path, '?');
    size_t plen = q ? (size_t)(q - path) : strlen(path);
    int rc = parse_list(out, path, plen, ';', IN_PATH, err, errlen);
    if (rc == 0 && q)
        rc = parse_list(out, q + 1, strlen(q + 1), '&', IN_QUERY, err, errlen);
    if (rc == 0 && out->attr[P11_ATTR_PIN_VALUE] && out->attr[P11_ATTR_PIN_SOURCE])
        rc = fail(err, errlen, "give pin-value or pin-source, not both");
    if (rc == 0 && out->attr[P11_ATTR_MODULE_NAME] && out->attr[P11_ATTR_MODULE_PATH])
        rc = fail(err, errlen, "give module-name or module-path, not both");
    if (rc != 0)
        p11_uri_free(out);
    return rc;
}

void p11_uri_free(p11_uri *u)
{
    if (!u)
        return;
    for (int i = 0; i < P11_ATTR_COUNT; i++) {
        if (i == P11_ATTR_PIN_VALUE && u->attr[i])
            memset(u->attr[i], 0, strlen(u->attr[i]));
        free(u->attr[i]);
    }
    free(u->id);
    memset(u, 0, sizeof(*u));
}
