/* Certificates: IP address text, the tls-alpn-01 certificate (RFC 8737)
 * read back with mbedTLS and by walking its DER, and acme__chain_inspect
 * on a two-certificate chain built here with known serial, AKI, SANs and
 * validity, plus every kind of broken chain. */
#include <acme.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/base64.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "base/buf.h"
#include "base/ip.h"
#include "crypto/tls_alpn_cert.h"
#include "crypto/x509.h"
#include "base/clock.h"
#include "base/error.h"
#include "crypto/key.h"
#include "base/mbedcompat.h"
#include "base/mem.h"
#include "base/rng.h"

#include "unit.h"

#define SEQ (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)
#define OID_ACME_IDENTIFIER MBEDTLS_OID_PKIX "\x01\x1f"

/* ---- IP text --------------------------------------------------------------- */

static void test_ip(void)
{
    fprintf(stderr, "IP parse/format\n");
    static const struct {
        const char *text;
        size_t len;
        unsigned char octets[16];
    } good[] = {
        { "192.0.2.1", 4, { 192, 0, 2, 1 } },
        { "2001:db8::1", 16, { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 } },
        { "::1", 16, { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 } },
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        unsigned char ip[16];
        char text[64];
        size_t len = acme__ip_parse(good[i].text, ip);
        CHECK_MSG(len == good[i].len, "%s: %zu octets", good[i].text, len);
        CHECK(memcmp(ip, good[i].octets, good[i].len) == 0);
        CHECK_OK(acme__ip_format(ip, len, text, sizeof(text)));
        CHECK_STR(text, good[i].text);
    }
    /* Non-canonical input comes back canonical. */
    unsigned char ip[16];
    char text[64];
    size_t len = acme__ip_parse("2001:DB8:0:0:0:0:0:1", ip);
    CHECK(len == 16);
    CHECK_OK(acme__ip_format(ip, len, text, sizeof(text)));
    CHECK_STR(text, "2001:db8::1");

    static const char *const bad[] = { "1.2.3",      "example.com", "256.1.1.1", "",
                                       "1.2.3.4.5",  "1.2.3.4 ",    "::1%lo",    "2001:db8::g",
                                       "1.2.3.-4" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_MSG(acme__ip_parse(bad[i], ip) == 0, "\"%s\" parsed as an IP", bad[i]);
    CHECK(acme__ip_parse(NULL, ip) == 0);
    CHECK_RC(acme__ip_format(ip, 5, text, sizeof(text)), ACME_ERR_INVALID);
    CHECK_RC(acme__ip_format(ip, 16, text, 4), ACME_ERR_INVALID);
}

/* ---- DER helpers for the checks ------------------------------------------- */

typedef struct ext {
    int found;
    int critical;
    const unsigned char *val;
    size_t len;
} ext;

/* Walk crt->v3_ext (the Extensions SEQUENCE) for oid. */
static ext find_ext(const mbedtls_x509_crt *crt, const char *oid, size_t oid_len)
{
    ext e = { 0, 0, NULL, 0 };
    unsigned char *p = crt->v3_ext.p;
    const unsigned char *end = p + crt->v3_ext.len;
    size_t len;
    REQUIRE(p != NULL);
    REQUIRE_ZERO(mbedtls_asn1_get_tag(&p, end, &len, SEQ));
    REQUIRE(p + len == end);
    while (p < end) {
        REQUIRE_ZERO(mbedtls_asn1_get_tag(&p, end, &len, SEQ));
        const unsigned char *ext_end = p + len;
        REQUIRE_ZERO(mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OID));
        int match = len == oid_len && memcmp(p, oid, len) == 0;
        p += len;
        int critical = 0;
        if (*p == MBEDTLS_ASN1_BOOLEAN)
            REQUIRE_ZERO(mbedtls_asn1_get_bool(&p, ext_end, &critical));
        REQUIRE_ZERO(mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING));
        if (match) {
            CHECK_MSG(!e.found, "extension twice");
            e.found = 1;
            e.critical = critical;
            e.val = p;
            e.len = len;
        }
        p += len;
    }
    return e;
}

/* ---- tls-alpn-01 ------------------------------------------------------------ */

/* mbedTLS refuses certificates with critical extensions it does not know,
 * and id-pe-acmeIdentifier is one: accept it (and only it) here, noting
 * that it was seen and whether it was critical. */
typedef struct seen_ext {
    int count;
    int critical;
} seen_ext;

static int accept_acme_identifier(void *ctx, mbedtls_x509_crt const *crt,
                                  mbedtls_x509_buf const *oid, int critical,
                                  const unsigned char *p, const unsigned char *end)
{
    (void)crt;
    (void)p;
    (void)end;
    seen_ext *seen = ctx;
    if (oid->len != MBEDTLS_OID_SIZE(OID_ACME_IDENTIFIER) ||
        memcmp(oid->p, OID_ACME_IDENTIFIER, oid->len) != 0)
        return MBEDTLS_ERR_X509_INVALID_EXTENSIONS;
    seen->count++;
    seen->critical = critical;
    return 0;
}

/* The DER of the one PEM CERTIFICATE block of pem (a new buffer). */
static unsigned char *pem_to_der(const char *pem, size_t *der_len)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    const char *b = strstr(pem, begin);
    const char *e = b ? strstr(b, "-----END CERTIFICATE-----") : NULL;
    REQUIRE(e != NULL);
    const unsigned char *b64 = (const unsigned char *)b + strlen(begin);
    size_t b64_len = (size_t)((const unsigned char *)e - b64), n = 0;
    CHECK(mbedtls_base64_decode(NULL, 0, &n, b64, b64_len) == MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL);
    unsigned char *der = malloc(n ? n : 1);
    REQUIRE(der != NULL);
    REQUIRE_ZERO(mbedtls_base64_decode(der, n, &n, b64, b64_len));
    *der_len = n;
    return der;
}

/* Both AlgorithmIdentifiers of the certificate (TBSCertificate.signature
 * and Certificate.signatureAlgorithm) are exactly SEQUENCE { OID
 * ecdsa-with-SHA256 }: the parameters absent, not NULL (RFC 5758 3.2). */
static void check_sig_alg(unsigned char *der, size_t der_len)
{
    static const unsigned char want[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                          0xce, 0x3d, 0x04, 0x03, 0x02 };
    unsigned char *p = der;
    const unsigned char *end = der + der_len;
    size_t len;
    REQUIRE_ZERO(mbedtls_asn1_get_tag(&p, end, &len, SEQ)); /* Certificate */
    CHECK(p + len == end);
    REQUIRE_ZERO(mbedtls_asn1_get_tag(&p, end, &len, SEQ)); /* TBSCertificate */
    const unsigned char *tbs_end = p + len;
    REQUIRE_ZERO(mbedtls_asn1_get_tag(&p, tbs_end, &len, MBEDTLS_ASN1_CONTEXT_SPECIFIC |
                                                            MBEDTLS_ASN1_CONSTRUCTED | 0));
    p += len; /* version */
    REQUIRE_ZERO(mbedtls_asn1_get_tag(&p, tbs_end, &len, MBEDTLS_ASN1_INTEGER));
    p += len; /* serialNumber */
    REQUIRE((size_t)(tbs_end - p) >= sizeof(want));
    CHECK_MSG(memcmp(p, want, sizeof(want)) == 0,
              "TBSCertificate.signature is %02x %02x %02x ... (parameters present?)", p[0], p[1],
              p[2]);
    p = (unsigned char *)tbs_end;
    REQUIRE((size_t)(end - p) >= sizeof(want));
    CHECK_MSG(memcmp(p, want, sizeof(want)) == 0,
              "signatureAlgorithm is %02x %02x %02x ... (parameters present?)", p[0], p[1], p[2]);
    p += sizeof(want);
    REQUIRE_ZERO(mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_BIT_STRING));
    CHECK(p + len == end);
}

static void check_alpn(const char *type, const char *value, unsigned char want_tag,
                       const unsigned char *want, size_t want_len, const char *want_cn)
{
    fprintf(stderr, "tls-alpn-01 certificate for %s %s\n", type, value);
    unsigned char digest[32];
    for (int i = 0; i < 32; i++)
        digest[i] = (unsigned char)(0xa0 + i);
    char *cert_pem = NULL, *key_pem = NULL;
    acme__err err = { 0 };
    REQUIRE_OK(acme__tls_alpn_cert(type, value, digest, &cert_pem, &key_pem, &err));
    REQUIRE(cert_pem && key_pem);
    CHECK(strncmp(cert_pem, "-----BEGIN CERTIFICATE-----\n", 28) == 0);

    /* Plain mbedtls_x509_crt_parse refuses the critical acmeIdentifier
     * (unless mbedTLS 2.x was built with
     * MBEDTLS_X509_ALLOW_UNSUPPORTED_CRITICAL_EXTENSION). */
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    int rc = mbedtls_x509_crt_parse(&crt, (const unsigned char *)cert_pem, strlen(cert_pem) + 1);
    fprintf(stderr, "  mbedtls_x509_crt_parse: -0x%04x\n", (unsigned)-rc);
    mbedtls_x509_crt_free(&crt);
    mbedtls_x509_crt_init(&crt);
    size_t der_len = 0;
    unsigned char *der = pem_to_der(cert_pem, &der_len);
    seen_ext seen = { 0, 0 };
    rc = mbedtls_x509_crt_parse_der_with_ext_cb(&crt, der, der_len, 1, accept_acme_identifier,
                                                &seen);
    check_sig_alg(der, der_len);
    free(der);
    REQUIRE_ZERO(rc);
    CHECK(crt.next == NULL);
    CHECK(seen.count == 1 && seen.critical);
    CHECK(crt.version == 3);

    /* Exactly one SAN, of the right kind. */
    ext san = find_ext(&crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                       MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME));
    REQUIRE(san.found);
    unsigned char *p = (unsigned char *)san.val;
    const unsigned char *end = san.val + san.len;
    size_t len;
    REQUIRE_ZERO(mbedtls_asn1_get_tag(&p, end, &len, SEQ));
    CHECK(p + len == end);
    CHECK_MSG(*p == want_tag, "SAN tag 0x%02x, want 0x%02x", *p, want_tag);
    REQUIRE_ZERO(mbedtls_asn1_get_tag(&p, end, &len, want_tag));
    CHECK(len == want_len && memcmp(p, want, want_len) == 0);
    CHECK_MSG(p + len == end, "more than one SAN");

    /* id-pe-acmeIdentifier: critical, OCTET STRING (32 octets of digest). */
    ext id = find_ext(&crt, OID_ACME_IDENTIFIER, MBEDTLS_OID_SIZE(OID_ACME_IDENTIFIER));
    CHECK(id.found);
    CHECK(id.critical);
    CHECK(id.len == 34 && id.val[0] == MBEDTLS_ASN1_OCTET_STRING && id.val[1] == 32 &&
          memcmp(id.val + 2, digest, 32) == 0);

    /* Self-signed, subject CN as expected, positive serial. */
    char dn[256];
    CHECK(mbedtls_x509_dn_gets(dn, sizeof(dn), &crt.subject) > 0);
    char want_dn[300];
    snprintf(want_dn, sizeof(want_dn), "CN=%s", want_cn);
    CHECK_STR(dn, want_dn);
    CHECK(crt.issuer_raw.len == crt.subject_raw.len &&
          memcmp(crt.issuer_raw.p, crt.subject_raw.p, crt.issuer_raw.len) == 0);
    CHECK(crt.serial.len >= 8 && crt.serial.len <= 20 && !(crt.serial.p[0] & 0x80));

    /* The key PEM is an EC P-256 key that matches the certificate. */
    acme_key *key = NULL;
    CHECK_OK(acme_key_load_pem(&key, key_pem, strlen(key_pem)));
    if (key) {
        CHECK(acme_key_get_type(key) == ACME_KEY_EC256);
        CHECK(acme__key_matches(key, &crt.pk));
        /* And the signature is the key's own. */
        uint32_t flags = 0;
        int vrc = mbedtls_x509_crt_verify(&crt, &crt, NULL, NULL, &flags, NULL, NULL);
        CHECK_MSG(vrc == 0, "self-signature: -0x%04x flags 0x%x", (unsigned)-vrc,
                  (unsigned)flags);
    }

    /* Validity: now - 1 day .. now + 7 days, read through chain_inspect. */
    acme__chain_info info;
    CHECK_OK(acme__chain_inspect(cert_pem, strlen(cert_pem), key, &info, &err));
    int64_t now = acme__now();
    CHECK_MSG(info.not_before > now - 86400 - 120 && info.not_before <= now - 86400 + 5,
              "not_before %lld, now %lld", (long long)info.not_before, (long long)now);
    CHECK(info.not_after - info.not_before == 8 * 86400);
    CHECK(info.ncerts == 1 && info.nsans == 1);
    if (info.nsans == 1) {
        CHECK_STR(info.san_types[0], type);
        CHECK_STR(info.san_values[0], value);
    }
    acme__chain_info_free(&info);

    acme_key_free(key);
    mbedtls_x509_crt_free(&crt);
    free(cert_pem);
    acme__free_secret_str(key_pem);
    acme__err_clear(&err);
}

static void test_alpn(void)
{
    check_alpn("dns", "example.org", 0x82, (const unsigned char *)"example.org", 11,
               "example.org");
    const unsigned char v4[4] = { 192, 0, 2, 7 };
    check_alpn("ip", "192.0.2.7", 0x87, v4, 4, "192.0.2.7");
    const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7 };
    check_alpn("ip", "2001:db8::7", 0x87, v6, 16, "2001:db8::7");
    /* Too long for a CN: the SAN still carries it. */
    char long_name[80];
    memset(long_name, 'x', 66);
    memcpy(long_name + 66, ".example", 9);
    check_alpn("dns", long_name, 0x82, (const unsigned char *)long_name, strlen(long_name),
               "acme-tls-alpn-01");

    unsigned char digest[32] = { 0 };
    char *c = (char *)1, *k = (char *)1;
    acme__err err = { 0 };
    CHECK_RC(acme__tls_alpn_cert("email", "a@example.org", digest, &c, &k, &err),
             ACME_ERR_IDENTIFIER);
    CHECK(c == NULL && k == NULL && err.msg[0]);
    CHECK_RC(acme__tls_alpn_cert("ip", "1.2.3", digest, &c, &k, &err), ACME_ERR_IDENTIFIER);
    CHECK_RC(acme__tls_alpn_cert("dns", "", digest, &c, &k, &err), ACME_ERR_IDENTIFIER);
    CHECK_RC(acme__tls_alpn_cert("dns", "a.example", NULL, &c, &k, &err), ACME_ERR_INVALID);
    CHECK(c == NULL && k == NULL);
    acme__err_clear(&err);
}

/* ---- chains ------------------------------------------------------------------ */

/* Leaf serial 8F 00 11 ...: the high bit forces a leading 0x00 octet. */
static const unsigned char leaf_serial[] = { 0x8f, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77 };
static const unsigned char leaf_aki[20] = { 0xde, 0xad, 0xbe, 0xef, 1,  2,  3,  4,  5,  6,
                                            7,    8,    9,    10,   11, 12, 13, 14, 15, 16 };
#define LEAF_NOT_BEFORE "20240102030405" /* 1704164645, UTCTime */
#define LEAF_NOT_AFTER "20510630235959"  /* 2571782399, GeneralizedTime */
#define CA_NOT_BEFORE "20000229120000"   /* 951825600 */
#define CA_NOT_AFTER "20991231235959"    /* 4102444799 */

/* A certificate in PEM (a new string). */
static char *make_cert(acme_key *subject_key, acme_key *issuer_key, const char *subject,
                       const char *issuer, const unsigned char *serial, size_t serial_len,
                       const char *not_before, const char *not_after, int is_ca,
                       const unsigned char *san, size_t san_len, const unsigned char *aki,
                       size_t aki_len)
{
    mbedtls_x509write_cert w;
    mbedtls_x509write_crt_init(&w);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, &subject_key->pk);
    mbedtls_x509write_crt_set_issuer_key(&w, &issuer_key->pk);
    REQUIRE_ZERO(mbedtls_x509write_crt_set_subject_name(&w, subject));
    REQUIRE_ZERO(mbedtls_x509write_crt_set_issuer_name(&w, issuer));
    REQUIRE_ZERO(acme__x509write_crt_set_serial(&w, serial, serial_len));
    REQUIRE_ZERO(mbedtls_x509write_crt_set_validity(&w, not_before, not_after));
    REQUIRE_ZERO(mbedtls_x509write_crt_set_basic_constraints(&w, is_ca, is_ca ? 0 : -1));
    if (san)
        REQUIRE_ZERO(mbedtls_x509write_crt_set_extension(
            &w, MBEDTLS_OID_SUBJECT_ALT_NAME, MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
            san, san_len));
    if (aki) {
        /* AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] ... } */
        unsigned char buf[128], *p = buf + sizeof(buf);
        size_t len = 0;
        len += (size_t)mbedtls_asn1_write_raw_buffer(&p, buf, aki, aki_len);
        len += (size_t)mbedtls_asn1_write_len(&p, buf, aki_len);
        len += (size_t)mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0);
        len += (size_t)mbedtls_asn1_write_len(&p, buf, len);
        len += (size_t)mbedtls_asn1_write_tag(&p, buf, SEQ);
        REQUIRE_ZERO(mbedtls_x509write_crt_set_extension(
            &w, MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER,
            MBEDTLS_OID_SIZE(MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER), 0, p, len));
    }
    unsigned char *pem = calloc(1, 8192);
    REQUIRE(pem != NULL);
    REQUIRE_ZERO(mbedtls_x509write_crt_pem(&w, pem, 8192, acme__rng, NULL));
    mbedtls_x509write_crt_free(&w);
    return (char *)pem;
}

/* GeneralNames: DNS leaf.example, DNS *.leaf.example, an e-mail address
 * (to be skipped), IP 192.0.2.1, IP 2001:db8::1. */
static size_t leaf_sans(unsigned char *buf, size_t size, unsigned char **start)
{
    static const unsigned char der[] = {
        0x30, 0x46,
        0x82, 0x0c, 'l', 'e', 'a', 'f', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e',
        0x82, 0x0e, '*', '.', 'l', 'e', 'a', 'f', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e',
        0x81, 0x0e, 'x', '@', 'l', 'e', 'a', 'f', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e',
        0x87, 0x04, 192, 0, 2, 1,
        0x87, 0x10, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    };
    REQUIRE(sizeof(der) == 2u + der[1] && sizeof(der) <= size);
    memcpy(buf, der, sizeof(der));
    *start = buf;
    return sizeof(der);
}

typedef struct chain_fixture {
    acme_key *root, *ca, *leaf, *other;
    char *ca_pem, *leaf_pem;
} chain_fixture;

static void fixture_make(chain_fixture *f)
{
    REQUIRE_OK(acme_key_generate(&f->root, ACME_KEY_EC256));
    REQUIRE_OK(acme_key_generate(&f->ca, ACME_KEY_EC384));
    REQUIRE_OK(acme_key_generate(&f->leaf, ACME_KEY_EC256));
    REQUIRE_OK(acme_key_generate(&f->other, ACME_KEY_EC256));
    static const unsigned char ca_serial[] = { 0x01, 0x02 };
    f->ca_pem = make_cert(f->ca, f->root, "CN=Test Intermediate CA,O=libacme tests",
                          "CN=Test Root CA", ca_serial, sizeof(ca_serial), CA_NOT_BEFORE,
                          CA_NOT_AFTER, 1, NULL, 0, NULL, 0);
    unsigned char san[128], *san_p;
    size_t san_len = leaf_sans(san, sizeof(san), &san_p);
    f->leaf_pem = make_cert(f->leaf, f->ca, "CN=leaf.example",
                            "CN=Test Intermediate CA,O=libacme tests", leaf_serial,
                            sizeof(leaf_serial), LEAF_NOT_BEFORE, LEAF_NOT_AFTER, 0, san_p,
                            san_len, leaf_aki, sizeof(leaf_aki));
}

static void fixture_free(chain_fixture *f)
{
    acme_key_free(f->root);
    acme_key_free(f->ca);
    acme_key_free(f->leaf);
    acme_key_free(f->other);
    free(f->ca_pem);
    free(f->leaf_pem);
}

/* acme__chain_inspect must fail with ACME_ERR_CERTIFICATE and a message,
 * leaving info empty. */
static void check_chain_fails(const char *what, const char *pem, size_t len, acme_key *key,
                              int want)
{
    acme__chain_info info;
    memset(&info, 0x5a, sizeof(info));
    acme__err err = { 0 };
    int rc = acme__chain_inspect(pem, len, key, &info, &err);
    CHECK_MSG(rc == want, "%s: got %d (%s)", what, rc, err.msg);
    CHECK_MSG(err.code == want && strncmp(err.msg, "certificate chain: ", 19) == 0 &&
                  strlen(err.msg) > 25,
              "%s: message \"%s\"", what, err.msg);
    CHECK_MSG(strcmp(acme_last_error(), err.msg) == 0, "%s: last error", what);
    CHECK(info.ncerts == 0 && info.nsans == 0 && info.san_types == NULL &&
          info.san_values == NULL && info.top_issuer_cn == NULL && info.leaf_issuer_cn == NULL);
    fprintf(stderr, "  %s -> %s\n", what, err.msg);
    acme__chain_info_free(&info);
    acme__err_clear(&err);
}

static void test_chain(void)
{
    fprintf(stderr, "chain inspection\n");
    chain_fixture f;
    memset(&f, 0, sizeof(f));
    fixture_make(&f);

    acme__buf b = ACME__BUF_INIT;
    acme__buf_printf(&b, "leaf certificate for leaf.example\r\n%s\nsome junk in between\n"
                         "-----\n%s\ntrailing words\n",
                     f.leaf_pem, f.ca_pem);
    REQUIRE(acme__buf_status(&b) == ACME_OK);

    acme__chain_info info;
    acme__err err = { 0 };
    CHECK_OK(acme__chain_inspect(b.data, b.len, f.leaf, &info, &err));
    CHECK_MSG(info.ncerts == 2, "ncerts %zu", info.ncerts);
    CHECK_MSG(info.not_before == 1704164645, "not_before %lld", (long long)info.not_before);
    CHECK_MSG(info.not_after == 2571782399LL, "not_after %lld", (long long)info.not_after);
    static const char *const want_types[] = { "dns", "dns", "ip", "ip" };
    static const char *const want_values[] = { "leaf.example", "*.leaf.example", "192.0.2.1",
                                               "2001:db8::1" };
    CHECK_MSG(info.nsans == 4, "nsans %zu", info.nsans);
    for (size_t i = 0; i < info.nsans && i < 4; i++) {
        CHECK_STR(info.san_types[i], want_types[i]);
        CHECK_STR(info.san_values[i], want_values[i]);
    }
    CHECK_MSG(info.serial_len == sizeof(leaf_serial) + 1, "serial_len %zu", info.serial_len);
    CHECK(info.serial[0] == 0x00 && memcmp(info.serial + 1, leaf_serial, sizeof(leaf_serial)) == 0);
    CHECK(info.aki_len == sizeof(leaf_aki) && memcmp(info.aki, leaf_aki, sizeof(leaf_aki)) == 0);
    CHECK_STR(info.leaf_issuer_cn, "Test Intermediate CA");
    CHECK_STR(info.top_issuer_cn, "Test Root CA");
    acme__chain_info_free(&info);
    CHECK(info.nsans == 0 && info.san_types == NULL);
    acme__chain_info_free(&info); /* twice is harmless */

    /* Only the checks; no key; a NUL counted in len. */
    CHECK_OK(acme__chain_inspect(b.data, b.len, f.leaf, NULL, &err));
    CHECK_OK(acme__chain_inspect(b.data, b.len + 1, NULL, NULL, &err));

    /* The CA alone: one certificate, no SAN, no AKI, its own validity. */
    CHECK_OK(acme__chain_inspect(f.ca_pem, strlen(f.ca_pem), f.ca, &info, &err));
    CHECK(info.ncerts == 1 && info.nsans == 0 && info.aki_len == 0);
    CHECK(info.serial_len == 2 && info.serial[0] == 0x01 && info.serial[1] == 0x02);
    CHECK_MSG(info.not_before == 951825600, "not_before %lld", (long long)info.not_before);
    CHECK_MSG(info.not_after == 4102444799LL, "not_after %lld", (long long)info.not_after);
    CHECK_STR(info.leaf_issuer_cn, "Test Root CA");
    CHECK_STR(info.top_issuer_cn, "Test Root CA");
    acme__chain_info_free(&info);

    /* Another key than the leaf's. */
    check_chain_fails("another key", b.data, b.len, f.other, ACME_ERR_CERTIFICATE);
    check_chain_fails("the issuer's key", b.data, b.len, f.ca, ACME_ERR_CERTIFICATE);

    /* Empty, junk only. */
    check_chain_fails("empty", "", 0, NULL, ACME_ERR_CERTIFICATE);
    check_chain_fails("NULL, 0", NULL, 0, NULL, ACME_ERR_CERTIFICATE);
    check_chain_fails("text only", "no certificates here\n", 21, NULL, ACME_ERR_CERTIFICATE);
    static const char junk[] = "no certificates here\n-----BEGIN nothing\n";
    check_chain_fails("junk only", junk, strlen(junk), NULL, ACME_ERR_CERTIFICATE);

    /* A truncated block: at the end, and followed by a complete one. */
    size_t leaf_len = strlen(f.leaf_pem);
    check_chain_fails("truncated last block", f.leaf_pem, leaf_len / 2, NULL,
                      ACME_ERR_CERTIFICATE);
    acme__buf t = ACME__BUF_INIT;
    acme__buf_append(&t, f.leaf_pem, leaf_len);
    acme__buf_append(&t, f.ca_pem, strlen(f.ca_pem) / 2);
    check_chain_fails("leaf, then half a CA", t.data, t.len, NULL, ACME_ERR_CERTIFICATE);
    acme__buf_free(&t);
    acme__buf_append(&t, f.leaf_pem, leaf_len / 2);
    acme__buf_puts(&t, "\n");
    acme__buf_puts(&t, f.ca_pem);
    check_chain_fails("half a leaf, then the CA", t.data, t.len, NULL, ACME_ERR_CERTIFICATE);

    /* Garbage inside a block. */
    acme__buf_free(&t);
    acme__buf_puts(&t, f.leaf_pem);
    acme__buf_puts(&t, "-----BEGIN CERTIFICATE-----\n@@@ not base64 at all ###\n"
                       "-----END CERTIFICATE-----\n");
    check_chain_fails("garbage base64 block", t.data, t.len, NULL, ACME_ERR_CERTIFICATE);
    static const char text_block[] =
        "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
    check_chain_fails("base64 of text", text_block, strlen(text_block), NULL,
                      ACME_ERR_CERTIFICATE);
    static const char empty_block[] = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
    check_chain_fails("empty block", empty_block, strlen(empty_block), NULL,
                      ACME_ERR_CERTIFICATE);

    /* A block of another kind, and a NUL byte inside. */
    acme__buf_free(&t);
    acme__buf_puts(&t, f.leaf_pem);
    acme__buf_puts(&t, "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n");
    check_chain_fails("private key block", t.data, t.len, NULL, ACME_ERR_CERTIFICATE);
    acme__buf_free(&t);
    acme__buf_puts(&t, f.leaf_pem);
    acme__buf_append(&t, "\0x", 2);
    acme__buf_puts(&t, f.ca_pem);
    check_chain_fails("NUL byte inside", t.data, t.len, NULL, ACME_ERR_CERTIFICATE);

    /* A flipped bit in the DER: the block still decodes, the certificate
     * no longer parses (or no longer matches the key). */
    acme__buf_free(&t);
    acme__buf_puts(&t, f.leaf_pem);
    char *body = strchr(t.data, '\n') + 1;
    body[1] = body[1] == 'A' ? 'B' : 'A'; /* inside the outer SEQUENCE header */
    check_chain_fails("broken DER", t.data, t.len, NULL, ACME_ERR_CERTIFICATE);
    acme__buf_free(&t);

    acme__buf_free(&b);
    acme__err_clear(&err);
    fixture_free(&f);
}

int main(void)
{
    test_ip();
    test_alpn();
    test_chain();
    return check_done();
}
