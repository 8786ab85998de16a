/* PKCS#11 URIs (RFC 7512) as acmectl's --account-key and --cert-key take
 * them: p11_uri_parse of the signer example (examples/pkcs11/p11uri.c).
 * A URI that parses has only what it may have (decoded text without NULs,
 * a known type); one that fails has a reason and nothing allocated; and a
 * parsed URI, written back with every byte escaped, parses to the same. */
#include "fuzz.h"

#include "p11uri.h"

static void escape(acme__buf *b, const unsigned char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        acme__buf_printf(b, "%%%02X", v[i]);
}

static int same(const p11_uri *a, const p11_uri *b)
{
    for (int i = 0; i < P11_ATTR_COUNT; i++)
        if (!a->attr[i] != !b->attr[i] || (a->attr[i] && strcmp(a->attr[i], b->attr[i]) != 0))
            return 0;
    return a->has_id == b->has_id && a->id_len == b->id_len &&
           (!a->id_len || memcmp(a->id, b->id, a->id_len) == 0) && a->type == b->type &&
           a->has_slot_id == b->has_slot_id && a->slot_id == b->slot_id;
}

static const char *const types[] = { "", "private", "public", "cert", "secret-key", "data" };

int fuzz_p11uri(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    if (!text)
        return 0;
    p11_uri u;
    char err[256];
    err[0] = '\0';
    if (p11_uri_parse(text, &u, err, sizeof(err)) != 0) {
        FUZZ_ASSERT(err[0] != '\0');
        for (int i = 0; i < P11_ATTR_COUNT; i++)
            FUZZ_ASSERT(!u.attr[i]);
        FUZZ_ASSERT(!u.id && !u.has_id && u.type == P11_TYPE_ANY);
        free(text);
        return 0;
    }
    FUZZ_ASSERT(strlen(text) <= P11_URI_MAX);
    FUZZ_ASSERT(u.type >= P11_TYPE_ANY && u.type <= P11_TYPE_DATA);
    FUZZ_ASSERT(!u.id_len || u.has_id);
    FUZZ_ASSERT(!(u.attr[P11_ATTR_PIN_VALUE] && u.attr[P11_ATTR_PIN_SOURCE]));
    if (u.attr[P11_ATTR_PIN_SOURCE])
        FUZZ_ASSERT(p11_uri_pin_file(&u) && p11_uri_pin_file(&u)[0] == '/');
    for (int i = 0; i < P11_ATTR_COUNT; i++)
        fuzz_touch(u.attr[i]);

    /* Every value escaped whole: the same URI, unless the escaping grew it
     * past the length cap. */
    acme__buf b = ACME__BUF_INIT;
    acme__buf_printf(&b, "pkcs11:");
    for (int i = 0; i < P11_ATTR_COUNT; i++) {
        if (!u.attr[i] || i >= P11_ATTR_MODULE_NAME)
            continue;
        acme__buf_printf(&b, "%s=", p11_uri_attr_name(i));
        escape(&b, (const unsigned char *)u.attr[i], strlen(u.attr[i]));
        acme__buf_printf(&b, ";");
    }
    if (u.has_id) {
        acme__buf_printf(&b, "id=");
        escape(&b, u.id, u.id_len);
        acme__buf_printf(&b, ";");
    }
    if (u.type)
        acme__buf_printf(&b, "type=%s;", types[u.type]);
    if (u.has_slot_id)
        acme__buf_printf(&b, "slot-id=%lu", u.slot_id);
    acme__buf_printf(&b, "?");
    for (int i = P11_ATTR_MODULE_NAME; i < P11_ATTR_COUNT; i++) {
        if (!u.attr[i])
            continue;
        acme__buf_printf(&b, "%s=", p11_uri_attr_name(i));
        escape(&b, (const unsigned char *)u.attr[i], strlen(u.attr[i]));
        acme__buf_printf(&b, "&");
    }
    if (!b.oom && b.len <= P11_URI_MAX) {
        p11_uri again;
        int rc = p11_uri_parse((const char *)b.data, &again, err, sizeof(err));
        FUZZ_ASSERT(rc == 0);
        FUZZ_ASSERT(same(&u, &again));
        p11_uri_free(&again);
    }
    acme__buf_free(&b);
    p11_uri_free(&u);
    FUZZ_ASSERT(!u.id && !u.attr[P11_ATTR_TOKEN]);
    free(text);
    return 0;
}

FUZZ_ENTRY(p11uri);
