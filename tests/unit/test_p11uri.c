/* The PKCS#11 URI parser of the signer example (examples/pkcs11/p11uri.c,
 * RFC 7512): what it accepts, how it decodes, and that every bad URI gets a
 * reason naming what is wrong and leaves nothing allocated. */
#include <acme.h>

#include <string.h>

#include "p11uri.h"

#include "unit.h"

/* Parse a URI that must parse; 1 when it did. */
static int parses(const char *uri, p11_uri *u)
{
    char err[256] = "";
    int rc = p11_uri_parse(uri, u, err, sizeof(err));
    CHECK_MSG(rc == 0, "%s: %s", uri, err);
    return rc == 0;
}

static void good(void)
{
    p11_uri u;
    /* RFC 7512 section 3's example, with a query. */
    if (parses("pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;"
                           "manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;"
                           "type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:"
                           "/etc/token_pin", &u)) {
        CHECK_STR(u.attr[P11_ATTR_TOKEN], "The Software PKCS#11 Softtoken");
        CHECK_STR(u.attr[P11_ATTR_MANUFACTURER], "Snake Oil, Inc.");
        CHECK_STR(u.attr[P11_ATTR_MODEL], "1.0");
        CHECK_STR(u.attr[P11_ATTR_OBJECT], "my-certificate");
        CHECK_STR(u.attr[P11_ATTR_SERIAL], "");
        CHECK(u.type == P11_TYPE_CERT);
        static const unsigned char id[] = { 0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91 };
        CHECK(u.has_id && u.id_len == sizeof(id) && memcmp(u.id, id, sizeof(id)) == 0);
        CHECK_STR(p11_uri_pin_file(&u), "/etc/token_pin");
        CHECK(!u.attr[P11_ATTR_PIN_VALUE] && !u.attr[P11_ATTR_MODULE_PATH]);
        p11_uri_free(&u);
    }

    /* What acmectl's README uses; an id holding NUL bytes is kept whole. */
    if (parses("pkcs11:token=acme;id=%00%01;type=private?module-path=/usr/lib/softhsm/"
                       "libsofthsm2.so&pin-value=12%2634", &u)) {
        CHECK(u.id_len == 2 && u.id[0] == 0 && u.id[1] == 1);
        CHECK(u.type == P11_TYPE_PRIVATE);
        CHECK_STR(u.attr[P11_ATTR_MODULE_PATH], "/usr/lib/softhsm/libsofthsm2.so");
        CHECK_STR(u.attr[P11_ATTR_PIN_VALUE], "12&34");
        CHECK(p11_uri_pin_file(&u) == NULL);
        p11_uri_free(&u);
    }

    /* The bare scheme selects everything; the scheme is case-blind; empty
     * pieces and vendor attributes are skipped; hex digits in either case. */
    CHECK(parses("pkcs11:", &u));
    CHECK(u.type == P11_TYPE_ANY && !u.has_id && !u.attr[P11_ATTR_TOKEN]);
    p11_uri_free(&u);
    if (parses("PKCS11:;object=a%2fb%2F;;x-vendor=1;slot-id=7?x-foo=bar&&pin-source="
                       "file:///run/pin", &u)) {
        CHECK_STR(u.attr[P11_ATTR_OBJECT], "a/b/");
        CHECK(u.has_slot_id && u.slot_id == 7);
        CHECK_STR(p11_uri_pin_file(&u), "/run/pin");
        p11_uri_free(&u);
    }
    /* An empty id is an id (an object whose CKA_ID is empty). */
    CHECK(parses("pkcs11:id=;library-version=2.6", &u));
    CHECK(u.has_id && u.id_len == 0);
    CHECK_STR(u.attr[P11_ATTR_LIBRARY_VERSION], "2.6");
    p11_uri_free(&u);
    p11_uri_free(&u); /* twice is harmless */
    p11_uri_free(NULL);
}

/* A bad URI fails with a reason containing `want`, and *out stays empty. */
static void bad(const char *uri, const char *want)
{
    p11_uri u;
    char err[256] = "";
    int rc = p11_uri_parse(uri, &u, err, sizeof(err));
    CHECK_MSG(rc == -1, "accepted: %s", uri ? uri : "(null)");
    CHECK_MSG(strstr(err, want) != NULL, "%s: reason \"%s\" lacks \"%s\"", uri ? uri : "(null)",
              err, want);
    int empty = !u.id && !u.has_id && u.type == 0;
    for (int i = 0; i < P11_ATTR_COUNT; i++)
        empty = empty && !u.attr[i];
    CHECK_MSG(empty, "%s: left something behind", uri ? uri : "(null)");
}

static void bad_ones(void)
{
    bad(NULL, "no URI");
    bad("", "starts with \"pkcs11:\"");
    bad("/usr/lib/key.pem", "starts with \"pkcs11:\"");
    bad("pkcs12:token=a", "starts with \"pkcs11:\"");
    bad("pkcs11:token", "needs \"name=value\"");
    bad("pkcs11:=x", "has no name");
    bad("pkcs11:colour=blue", "unknown path attribute \"colour\"");
    bad("pkcs11:token=a?colour=blue", "unknown query attribute \"colour\"");
    bad("pkcs11:token=a;token=b", "token is given twice");
    bad("pkcs11:id=%01;id=%02", "id is given twice");
    bad("pkcs11:type=private;type=cert", "type is given twice");
    bad("pkcs11:token=a%2", "token: \"%\" must be followed by two hex digits");
    bad("pkcs11:token=a%", "token: \"%\" must be followed by two hex digits");
    bad("pkcs11:id=%zz", "id: \"%\" must be followed by two hex digits");
    bad("pkcs11:token=My Token", "token: byte 0x20 must be percent-encoded (%20)");
    bad("pkcs11:object=a\nb", "byte 0x0a must be percent-encoded");
    bad("pkcs11:object=caf\xc3\xa9", "byte 0xc3 must be percent-encoded");
    bad("pkcs11:object=a%00b", "object: a NUL (%00) cannot be part of it");
    bad("pkcs11:type=secret", "type=secret: not a type");
    bad("pkcs11:slot-id=1x", "slot-id=1x: not a decimal number");
    bad("pkcs11:slot-id=", "not a decimal number");
    bad("pkcs11:slot-id=99999999999999999999", "not a decimal number");
    bad("pkcs11:library-version=2.x", "library-version=2.x: not a version");
    bad("pkcs11:pin-value=1234", "pin-value belongs in the query");
    bad("pkcs11:?token=a", "token belongs in the path");
    bad("pkcs11:?id=%01", "id belongs in the path");
    bad("pkcs11:?type=private", "type belongs in the path");
    bad("pkcs11:?pin-value=1&pin-source=file:/p", "pin-value or pin-source, not both");
    bad("pkcs11:?module-name=a&module-path=/b.so", "module-name or module-path, not both");
    bad("pkcs11:?pin-source=|/bin/askpin", "only a file is supported");
    bad("pkcs11:?pin-source=file:pin.txt", "only a file is supported");
    bad("pkcs11:?module-path=libsofthsm2.so", "give an absolute path");
    /* Over the length cap, with the reason first. */
    char longuri[P11_URI_MAX + 16];
    memcpy(longuri, "pkcs11:object=", 14);
    memset(longuri + 14, 'a', sizeof(longuri) - 15);
    longuri[sizeof(longuri) - 1] = '\0';
    bad(longuri, "longer than 4096 bytes");
}

int main(void)
{
    good();
    bad_ones();
    CHECK_STR(p11_uri_attr_name(P11_ATTR_PIN_SOURCE), "pin-source");
    CHECK_STR(p11_uri_attr_name(-1), "?");
    return check_done();
}
