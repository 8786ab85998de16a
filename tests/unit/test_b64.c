/* base64url (RFC 4648 section 5, no padding) as JOSE uses it: the internal
 * encoder/decoder, the public acme_base64url_* wrappers, and the token check
 * acme__b64url_valid. */
#include <acme.h>

#include <string.h>

#include "base/b64.h"
#include "base/buf.h"
#include "base/error.h"

#include "unit.h"

struct vector {
    const char *plain;
    size_t len;
    const char *encoded;
};

/* RFC 4648 section 10 test vectors, with the padding removed (base64url as
 * JOSE uses it, RFC 7515 section 2). */
static const struct vector rfc4648[] = {
    { "", 0, "" },
    { "f", 1, "Zg" },
    { "fo", 2, "Zm8" },
    { "foo", 3, "Zm9v" },
    { "foob", 4, "Zm9vYg" },
    { "fooba", 5, "Zm9vYmE" },
    { "foobar", 6, "Zm9vYmFy" },
};

/* Bytes whose standard base64 uses '+' and '/': base64url must give '-'
 * and '_' instead ("+/+/" in RFC 4648 section 4 becomes "-_-_"). */
static const struct vector url_alphabet[] = {
    { "\xfb\xff\xbf", 3, "-_-_" },
    { "\xfb\xff", 2, "-_8" },
    { "\xff", 1, "_w" },
    { "\x00", 1, "AA" },
    { "\x00\x00\x00", 3, "AAAA" },
    { "\xf8", 1, "-A" },
    { "\x03\xf0", 2, "A_A" },
};

static void check_encode(const struct vector *v)
{
    acme__buf b = ACME__BUF_INIT;
    CHECK_OK(acme__b64url_append(&b, v->plain, v->len));
    CHECK_STR(acme__buf_str(&b), v->encoded);
    CHECK(b.len == strlen(v->encoded));
    acme__buf_free(&b);

    char *s = NULL;
    CHECK_OK(acme_base64url_encode(v->plain, v->len, &s));
    CHECK_STR(s, v->encoded);
    acme_free(s);
}

static void check_decode(const char *text, const void *want, size_t want_len)
{
    unsigned char *d = NULL;
    size_t n = 12345;
    int rc = acme__b64url_decode(text, strlen(text), &d, &n);
    CHECK_MSG(rc == ACME_OK, "decoding \"%s\": %d", text, rc);
    CHECK_MSG(n == want_len, "decoding \"%s\": length %zu, wanted %zu", text, n, want_len);
    if (rc == ACME_OK && n == want_len) {
        CHECK_MSG(memcmp(d, want, n) == 0, "decoding \"%s\": wrong bytes", text);
        CHECK_MSG(d[n] == '\0', "decoding \"%s\": no NUL after the data", text);
    }
    free(d);

    /* The public wrapper must agree. */
    d = NULL;
    n = 12345;
    CHECK_OK(acme_base64url_decode(text, &d, &n));
    CHECK(n == want_len);
    if (d && n == want_len)
        CHECK(memcmp(d, want, n) == 0 && d[n] == '\0');
    acme_free(d);
}

static void check_reject(const char *text, size_t len)
{
    unsigned char *d = (unsigned char *)"sentinel";
    size_t n = 99;
    int rc = acme__b64url_decode(text, len, &d, &n);
    CHECK_MSG(rc == ACME_ERR_INVALID, "\"%.*s\" was accepted (rc %d)", (int)len, text, rc);
    CHECK_MSG(d == NULL && n == 0, "\"%.*s\": outputs not reset on failure", (int)len, text);
    if (rc == ACME_OK)
        free(d);
}

static void check_public_reject(const char *text)
{
    acme__fail(NULL, ACME_ERR_IO, "sentinel");
    unsigned char *d = NULL;
    size_t n = 0;
    CHECK_RC(acme_base64url_decode(text, &d, &n), ACME_ERR_INVALID);
    CHECK(d == NULL);
    /* The wrapper records its own reason. */
    CHECK(strcmp(acme_last_error(), "sentinel") != 0 && acme_last_error()[0] != '\0');
    acme_free(d);
}

static void test_vectors(void)
{
    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        check_encode(&rfc4648[i]);
        check_decode(rfc4648[i].encoded, rfc4648[i].plain, rfc4648[i].len);
    }
    for (size_t i = 0; i < sizeof(url_alphabet) / sizeof(url_alphabet[0]); i++) {
        check_encode(&url_alphabet[i]);
        check_decode(url_alphabet[i].encoded, url_alphabet[i].plain, url_alphabet[i].len);
    }
}

static void test_padding(void)
{
    /* RFC 4648 section 10 with its padding: accepted, same bytes. */
    check_decode("Zg==", "f", 1);
    check_decode("Zm8=", "fo", 2);
    check_decode("Zm9vYg==", "foob", 4);
    check_decode("Zm9vYmE=", "fooba", 5);
    check_decode("-_8=", "\xfb\xff", 2);
    /* Padding anywhere but the end is an invalid character. */
    check_reject("Zg==Zg", 6);
    check_reject("Z=g", 3);
    check_reject("=Zg", 3);
}

static void test_rejects(void)
{
    /* Standard base64's alphabet is not base64url's. */
    check_reject("+/+/", 4);
    check_reject("Zm9v+w", 6);
    check_reject("Zm9v/w", 6);
    /* No white space, inside or around. */
    check_reject("Zm9v Yg", 7);
    check_reject(" Zm9v", 5);
    check_reject("Zm9v\n", 5);
    check_reject("Zm9v\t", 5);
    /* Other bytes. */
    check_reject("Zm9v.g", 6);
    check_reject("Zm9v\x80g", 6);
    check_reject("Zm\0v", 4);
    /* 4n+1 characters cannot come from any byte string. */
    check_reject("Z", 1);
    check_reject("Zm9vY", 5);
    check_reject("Zm9vYmFyZ", 9);
    check_reject("Zm9vY===", 8);

    check_public_reject("+/+/");
    check_public_reject("Zm9vY");
    check_public_reject("a b");
}

static void test_roundtrip(void)
{
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    /* Every length 0..256 over all byte values, so every tail case and
     * every alphabet entry is exercised. */
    for (size_t len = 0; len <= sizeof(all); len++) {
        char *s = NULL;
        CHECK_OK(acme_base64url_encode(all + (256 - len), len, &s));
        REQUIRE(s != NULL);
        CHECK_MSG(strlen(s) == (len * 4 + 2) / 3, "length %zu encodes to %zu chars", len,
                  strlen(s));
        CHECK(len == 0 || acme__b64url_valid(s));
        unsigned char *d = NULL;
        size_t n = 0;
        CHECK_OK(acme_base64url_decode(s, &d, &n));
        CHECK_MSG(n == len && (len == 0 || memcmp(d, all + (256 - len), len) == 0),
                  "round trip of %zu bytes", len);
        acme_free(d);
        acme_free(s);
    }
}

static void test_public_args(void)
{
    char *s = (char *)"x";
    /* Zero bytes from NULL is fine and gives "". */
    CHECK_OK(acme_base64url_encode(NULL, 0, &s));
    CHECK_STR(s, "");
    acme_free(s);
    CHECK_RC(acme_base64url_encode(NULL, 3, &s), ACME_ERR_INVALID);
    CHECK_RC(acme_base64url_encode("abc", 3, NULL), ACME_ERR_INVALID);

    unsigned char *d = NULL;
    size_t n = 0;
    CHECK_RC(acme_base64url_decode(NULL, &d, &n), ACME_ERR_INVALID);
    CHECK_RC(acme_base64url_decode("Zg", NULL, &n), ACME_ERR_INVALID);
    CHECK_RC(acme_base64url_decode("Zg", &d, NULL), ACME_ERR_INVALID);
    /* "" decodes to zero bytes. */
    CHECK_OK(acme_base64url_decode("", &d, &n));
    CHECK(d != NULL && n == 0);
    acme_free(d);
}

static void test_valid(void)
{
    CHECK(acme__b64url_valid("A"));
    CHECK(acme__b64url_valid("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"));
    /* A typical ACME challenge token (RFC 8555 section 8.3 example). */
    CHECK(acme__b64url_valid("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"));
    CHECK(!acme__b64url_valid(NULL));
    CHECK(!acme__b64url_valid(""));
    CHECK(!acme__b64url_valid("Zg=="));
    CHECK(!acme__b64url_valid("a+b"));
    CHECK(!acme__b64url_valid("a/b"));
    CHECK(!acme__b64url_valid("../etc/passwd"));
    CHECK(!acme__b64url_valid("a b"));
    CHECK(!acme__b64url_valid("ab\n"));
    CHECK(!acme__b64url_valid("a.b"));
    CHECK(!acme__b64url_valid("a%2fb"));
    CHECK(!acme__b64url_valid("\xc3\xa9"));
}

/* Into the caller's buffer: exact fit, one octet short, and a bad
 * character after some output (what was written must be wiped). */
static void test_decode_into(void)
{
    unsigned char out[6];
    size_t n = 99;
    CHECK_OK(acme__b64url_decode_into("Zm9vYmFy", 8, out, 6, &n));
    CHECK(n == 6 && memcmp(out, "foobar", 6) == 0);
    memset(out, 0x55, sizeof(out));
    CHECK_RC(acme__b64url_decode_into("Zm9vYmFy", 8, out, 5, &n), ACME_ERR_NOMEM);
    CHECK(n == 0);
    for (size_t i = 0; i < 5; i++)
        CHECK_MSG(out[i] == 0, "octet %zu not wiped after a short buffer", i);
    memset(out, 0x55, sizeof(out));
    CHECK_RC(acme__b64url_decode_into("Zm9v*mFy", 8, out, 6, &n), ACME_ERR_INVALID);
    for (size_t i = 0; i < 3; i++)
        CHECK_MSG(out[i] == 0, "octet %zu not wiped after a bad character", i);
}

/* Standard base64 (PEM, etcd, TSIG): padding, '+' and '/', RFC 4648's
 * test vectors both ways, and what is refused. */
static void test_standard(void)
{
    static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const coded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                         "Zm9vYmFy" };
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        acme__buf b = ACME__BUF_INIT;
        CHECK(acme__b64_append(&b, plain[i], strlen(plain[i])) == ACME_OK);
        CHECK(b.len == strlen(coded[i]) && memcmp(b.data ? b.data : "", coded[i], b.len) == 0);
        acme__buf_free(&b);
        unsigned char *out = NULL;
        size_t n = 99;
        CHECK(acme__b64_decode(coded[i], strlen(coded[i]), &out, &n) == ACME_OK);
        CHECK(n == strlen(plain[i]) && out && memcmp(out, plain[i], n) == 0);
        free(out);
    }
    const unsigned char high[] = { 0xfb, 0xff, 0xbf };
    acme__buf b = ACME__BUF_INIT;
    CHECK(acme__b64_append(&b, high, sizeof(high)) == ACME_OK);
    CHECK(b.len == 4 && memcmp(b.data, "+/+/", 4) == 0);
    acme__buf_free(&b);
    static const char *const bad[] = { "Zm9v-_", "Z===", "Zm9v!", "=Zm9" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char *out = (unsigned char *)"set";
        size_t n = 7;
        CHECK_MSG(acme__b64_decode(bad[i], strlen(bad[i]), &out, &n) == ACME_ERR_INVALID,
                  "%s decoded", bad[i]);
        CHECK(out == NULL && n == 0);
    }
}

int main(void)
{
    test_standard();
    test_decode_into();
    test_vectors();
    test_padding();
    test_rejects();
    test_roundtrip();
    test_public_args();
    test_valid();
    return check_done();
}
