/* CSRs: acme__csr_build for every supported key kind (checked with
 * mbedTLS and, when installed, the openssl CLI), and acme__csr_parse on
 * our own requests, on openssl's, and on everything that is not a valid
 * request. Keys made by openssl live in a mkdtemp directory that is
 * removed at the end. */
#include <acme.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/asn1.h>
#include <mbedtls/md.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_csr.h>

#include "base/buf.h"
#include "base/ip.h"
#include "crypto/tls_alpn_cert.h"
#include "crypto/csr.h"
#include "base/error.h"
#include "crypto/key.h"
#include "base/mbedcompat.h"
#include "base/mem.h"
#include "base/rng.h"

#include "files.h"
#include "unit.h"

/* The signature fields of mbedtls_x509_csr are private in 3.x. */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define CSR_PRIV(f) MBEDTLS_PRIVATE(f)
#else
#define CSR_PRIV(f) f
#endif

#define PEM_BEGIN_CSR "-----BEGIN CERTIFICATE REQUEST-----\n"
#define PEM_END_CSR "-----END CERTIFICATE REQUEST-----\n"

static const char *const four_types[] = { "dns", "dns", "ip", "ip" };
static const char *const four_values[] = { "example.com", "*.example.com", "192.0.2.1",
                                           "2001:db8::1" };

static char tmpdir[] = "/tmp/libacme-test-csr-XXXXXX";
static int have_openssl;

/* Everything f gives until EOF, in a new string (free()). */
static char *read_stream(FILE *f)
{
    acme__buf b = ACME__BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        acme__buf_append(&b, chunk, n);
    return acme__buf_detach(&b);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = read_stream(f);
    fclose(f);
    return text;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Run a shell command and return its standard output (NULL if it failed). */
static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    char *out = read_stream(p);
    int status = pclose(p);
    if (status != 0) {
        fprintf(stderr, "command failed (%d): %s\n%s", status, cmd, out ? out : "");
        free(out);
        return NULL;
    }
    return out;
}

/* DER CSR to PEM (a new string). */
static char *csr_pem(const unsigned char *der, size_t len, const char *begin, const char *end)
{
    size_t cap = len * 2 + 256, olen = 0;
    unsigned char *buf = malloc(cap);
    REQUIRE(buf != NULL);
    REQUIRE_ZERO(mbedtls_pem_write_buffer(begin, end, der, len, buf, cap, &olen));
    return (char *)buf;
}

/* Length of the subject Name's contents in a DER CSR (0: empty subject),
 * or -1 when the framing does not parse. */
static long subject_len(const unsigned char *der, size_t der_len)
{
    unsigned char *p = (unsigned char *)der;
    const unsigned char *end = der + der_len;
    size_t len;
    int version;
    const int seq = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
    if (mbedtls_asn1_get_tag(&p, end, &len, seq) || mbedtls_asn1_get_tag(&p, end, &len, seq) ||
        mbedtls_asn1_get_int(&p, end, &version) || mbedtls_asn1_get_tag(&p, end, &len, seq))
        return -1;
    return (long)len;
}

/* acme__csr_parse must return exactly want (types and values, in order). */
static void check_parse(const char *pem, const char *const *want_types,
                        const char *const *want_values, size_t want_n, const acme__buf *want_der)
{
    acme__buf der = ACME__BUF_INIT;
    char **types = NULL, **values = NULL;
    size_t n = 0;
    acme__err err = { 0 };
    int rc = acme__csr_parse(pem, &der, &types, &values, &n, &err);
    CHECK_MSG(rc == ACME_OK, "acme__csr_parse: %d %s", rc, err.msg);
    CHECK_MSG(n == want_n, "%zu identifiers, want %zu", n, want_n);
    for (size_t i = 0; i < n && i < want_n; i++) {
        CHECK_STR(types[i], want_types[i]);
        CHECK_STR(values[i], want_values[i]);
    }
    if (want_der)
        CHECK(der.len == want_der->len && memcmp(der.data, want_der->data, der.len) == 0);
    else
        CHECK(rc != ACME_OK || der.len > 0);
    acme__free_strv(types, n);
    acme__free_strv(values, n);
    acme__buf_free(&der);
    acme__err_clear(&err);
}

/* acme__csr_parse must refuse pem with ACME_ERR_INVALID, a message, no
 * output and no DER appended. */
static void check_parse_fails(const char *what, const char *pem)
{
    acme__buf der = ACME__BUF_INIT;
    char **types = (char **)1, **values = (char **)1;
    size_t n = 99;
    acme__err err = { 0 };
    int rc = acme__csr_parse(pem, &der, &types, &values, &n, &err);
    CHECK_MSG(rc == ACME_ERR_INVALID, "%s: got %d (%s)", what, rc, err.msg);
    CHECK_MSG(err.code == ACME_ERR_INVALID && strncmp(err.msg, "CSR: ", 5) == 0 &&
                  strlen(err.msg) > 10,
              "%s: message \"%s\"", what, err.msg);
    CHECK_MSG(strcmp(acme_last_error(), err.msg) == 0, "%s: last error \"%s\"", what,
              acme_last_error());
    CHECK(types == NULL && values == NULL && n == 0 && der.len == 0);
    fprintf(stderr, "  %s -> %s\n", what, err.msg);
    acme__buf_free(&der);
    acme__err_clear(&err);
}

/* Verify the CSR's signature with mbedTLS's parsed fields. */
static void check_mbedtls_view(const acme__buf *der, const char *want_subject)
{
    mbedtls_x509_csr csr;
    mbedtls_x509_csr_init(&csr);
    int rc = mbedtls_x509_csr_parse_der(&csr, (const unsigned char *)der->data, der->len);
    CHECK_MSG(rc == 0, "mbedtls_x509_csr_parse_der: -0x%04x", (unsigned)-rc);
    if (rc == 0) {
        const mbedtls_md_info_t *md = mbedtls_md_info_from_type(csr.CSR_PRIV(sig_md));
        unsigned char hash[MBEDTLS_MD_MAX_SIZE];
        REQUIRE(md != NULL);
        REQUIRE_ZERO(mbedtls_md(md, csr.cri.p, csr.cri.len, hash));
        rc = mbedtls_pk_verify_ext(csr.CSR_PRIV(sig_pk), csr.CSR_PRIV(sig_opts), &csr.pk,
                                   csr.CSR_PRIV(sig_md), hash, mbedtls_md_get_size(md),
                                   csr.CSR_PRIV(sig).p, csr.CSR_PRIV(sig).len);
        CHECK_MSG(rc == 0, "signature: -0x%04x", (unsigned)-rc);
        char dn[256];
        CHECK(mbedtls_x509_dn_gets(dn, sizeof(dn), &csr.subject) > 0);
        CHECK_STR(dn, want_subject);
    }
    mbedtls_x509_csr_free(&csr);
}

/* openssl's view: signature, subject and SANs. */
static void check_openssl_view(const char *pem, const char *want_subject,
                               const char *const *want_sans, size_t nsans)
{
    if (!have_openssl)
        return;
    char path[256], cmd[600];
    snprintf(path, sizeof(path), "%s/built.csr", tmpdir);
    REQUIRE_ZERO(write_text(path, pem));
    snprintf(cmd, sizeof(cmd), "openssl req -in %s -noout -verify 2>&1", path);
    char *out = run(cmd);
    CHECK_MSG(out && strstr(out, "verify OK"), "openssl -verify: %s", out ? out : "(failed)");
    free(out);
    snprintf(cmd, sizeof(cmd), "openssl req -in %s -noout -subject -nameopt RFC2253", path);
    out = run(cmd);
    char want[200];
    snprintf(want, sizeof(want), "subject=%s\n", want_subject);
    CHECK_MSG(out && strcmp(out, want) == 0, "openssl subject: \"%s\", want \"%s\"",
              out ? out : "(failed)", want);
    free(out);
    snprintf(cmd, sizeof(cmd), "openssl req -in %s -noout -text", path);
    out = run(cmd);
    CHECK(out != NULL);
    for (size_t i = 0; out && i < nsans; i++)
        CHECK_MSG(strstr(out, want_sans[i]) != NULL, "openssl -text lacks \"%s\":\n%s",
                  want_sans[i], out);
    free(out);
    unlink(path);
}

static void test_build_roundtrip(int type)
{
    fprintf(stderr, "build/parse with %s\n", acme_key_type_name(type));
    acme_key *key = NULL;
    REQUIRE_OK(acme_key_generate(&key, type));
    acme__buf der = ACME__BUF_INIT;
    acme__err err = { 0 };
    CHECK_OK(acme__csr_build(key, four_types, four_values, 4, &der, &err));
    REQUIRE(der.len > 0);
    check_mbedtls_view(&der, "CN=example.com");

    char *pem = csr_pem((const unsigned char *)der.data, der.len, PEM_BEGIN_CSR, PEM_END_CSR);
    check_parse(pem, four_types, four_values, 4, &der);
    static const char *const sans[] = { "DNS:example.com", "DNS:*.example.com",
                                        "IP Address:192.0.2.1",
                                        "IP Address:2001:DB8:0:0:0:0:0:1" };
    check_openssl_view(pem, "CN=example.com", sans, 4);
    free(pem);

    /* The older "NEW CERTIFICATE REQUEST" label, with text around it. */
    char *pem2 = csr_pem((const unsigned char *)der.data, der.len,
                         "-----BEGIN NEW CERTIFICATE REQUEST-----\n",
                         "-----END NEW CERTIFICATE REQUEST-----\n");
    acme__buf wrapped = ACME__BUF_INIT;
    acme__buf_printf(&wrapped, "Subject: whatever\n%s\ntrailing text\n", pem2);
    check_parse(acme__buf_str(&wrapped), four_types, four_values, 4, &der);
    free(pem2);

    /* The thumbprint of the CSR's key is the key's own; a CSR whose
     * signature does not verify gives none. */
    char *want = NULL, *got = NULL;
    REQUIRE_OK(acme_key_thumbprint(key, &want));
    CHECK_OK(acme_csr_key_thumbprint(acme__buf_str(&wrapped), &got));
    CHECK(got && strcmp(got, want) == 0);
    acme_free(got);
    acme__buf_free(&wrapped);
    got = NULL;
    der.data[der.len - 3] ^= 0x01; /* inside the signature */
    char *broken = csr_pem((const unsigned char *)der.data, der.len, PEM_BEGIN_CSR, PEM_END_CSR);
    CHECK_RC(acme_csr_key_thumbprint(broken, &got), ACME_ERR_INVALID);
    CHECK(got == NULL);
    der.data[der.len - 3] ^= 0x01;
    CHECK_RC(acme_csr_key_thumbprint("not a CSR", &got), ACME_ERR_INVALID);
    CHECK_RC(acme_csr_key_thumbprint(NULL, &got), ACME_ERR_INVALID);
    free(broken);
    acme_free(want);

    /* Appends to what der already holds. */
    size_t before = der.len;
    CHECK_OK(acme__csr_build(key, four_types, four_values, 1, &der, &err));
    CHECK(der.len > before);

    acme__buf_free(&der);
    acme__err_clear(&err);
    acme_key_free(key);
}

static void test_subjects(acme_key *key)
{
    fprintf(stderr, "subjects\n");
    /* A first DNS name of 70 octets does not fit a CN: empty subject. */
    char long_name[71];
    memset(long_name, 'a', 58);
    memcpy(long_name + 58, ".example.com", 13);
    REQUIRE(strlen(long_name) == 70);
    const char *types[] = { "dns", "dns" };
    const char *values[] = { long_name, "short.example.com" };
    acme__buf der = ACME__BUF_INIT;
    acme__err err = { 0 };
    CHECK_OK(acme__csr_build(key, types, values, 2, &der, &err));
    CHECK_MSG(subject_len((unsigned char *)der.data, der.len) == 0, "subject length %ld",
              subject_len((unsigned char *)der.data, der.len));
    char *pem = csr_pem((const unsigned char *)der.data, der.len, PEM_BEGIN_CSR, PEM_END_CSR);
    check_parse(pem, types, values, 2, &der);
    const char *long_san[] = { long_name, "DNS:short.example.com" };
    check_openssl_view(pem, "", long_san, 2);
    free(pem);
    acme__buf_free(&der);

    /* 64 octets still fit. */
    char name64[65];
    memset(name64, 'b', 52);
    memcpy(name64 + 52, ".example.com", 13);
    REQUIRE(strlen(name64) == 64);
    values[0] = name64;
    CHECK_OK(acme__csr_build(key, types, values, 2, &der, &err));
    char want_cn[80];
    snprintf(want_cn, sizeof(want_cn), "CN=%s", name64);
    check_mbedtls_view(&der, want_cn);
    acme__buf_free(&der);

    /* IP addresses only: empty subject. */
    const char *ip_types[] = { "ip", "ip" };
    const char *ip_values[] = { "192.0.2.1", "2001:db8::1" };
    CHECK_OK(acme__csr_build(key, ip_types, ip_values, 2, &der, &err));
    CHECK(subject_len((unsigned char *)der.data, der.len) == 0);
    pem = csr_pem((const unsigned char *)der.data, der.len, PEM_BEGIN_CSR, PEM_END_CSR);
    check_parse(pem, ip_types, ip_values, 2, &der);
    const char *ip_sans[] = { "IP Address:192.0.2.1", "IP Address:2001:DB8:0:0:0:0:0:1" };
    check_openssl_view(pem, "", ip_sans, 2);
    free(pem);
    acme__buf_free(&der);

    /* The CN is the first DNS name even after an IP; parsing lower-cases. */
    const char *mixed_types[] = { "ip", "dns", "dns" };
    const char *mixed_values[] = { "::1", "WWW.Example.ORG", "example.org" };
    const char *lowered[] = { "::1", "www.example.org", "example.org" };
    CHECK_OK(acme__csr_build(key, mixed_types, mixed_values, 3, &der, &err));
    check_mbedtls_view(&der, "CN=WWW.Example.ORG");
    pem = csr_pem((const unsigned char *)der.data, der.len, PEM_BEGIN_CSR, PEM_END_CSR);
    check_parse(pem, mixed_types, lowered, 3, &der);
    free(pem);
    acme__buf_free(&der);
    acme__err_clear(&err);
}

static void test_build_errors(acme_key *key)
{
    fprintf(stderr, "build errors\n");
    acme__buf der = ACME__BUF_INIT;
    acme__err err = { 0 };
    const char *t1[] = { "email" }, *v1[] = { "a@example.com" };
    CHECK_RC(acme__csr_build(key, t1, v1, 1, &der, &err), ACME_ERR_IDENTIFIER);
    CHECK(strstr(err.msg, "email") != NULL);
    const char *t2[] = { "dns", "ip" }, *v2[] = { "example.com", "1.2.3" };
    CHECK_RC(acme__csr_build(key, t2, v2, 2, &der, &err), ACME_ERR_IDENTIFIER);
    CHECK(strstr(err.msg, "1.2.3") != NULL);
    const char *t3[] = { "dns" }, *v3[] = { "" };
    CHECK_RC(acme__csr_build(key, t3, v3, 1, &der, &err), ACME_ERR_IDENTIFIER);
    const char *v4[] = { "bad name.example" };
    CHECK_RC(acme__csr_build(key, t3, v4, 1, &der, &err), ACME_ERR_IDENTIFIER);
    CHECK_RC(acme__csr_build(key, t3, v3, 0, &der, &err), ACME_ERR_INVALID);
    CHECK_RC(acme__csr_build(NULL, four_types, four_values, 4, &der, &err), ACME_ERR_INVALID);
    CHECK(der.len == 0);
    acme__err_clear(&err);
}

/* A CSR without extensions, written with mbedTLS: subject CN only. */
static void test_no_san(acme_key *key)
{
    fprintf(stderr, "CSR without subjectAltName\n");
    mbedtls_x509write_csr w;
    mbedtls_x509write_csr_init(&w);
    mbedtls_x509write_csr_set_key(&w, &key->pk);
    mbedtls_x509write_csr_set_md_alg(&w, MBEDTLS_MD_SHA256);
    REQUIRE_ZERO(mbedtls_x509write_csr_set_subject_name(&w, "C=DE,O=Test,CN=Only.Example.ORG"));
    unsigned char buf[4096];
    int len = mbedtls_x509write_csr_der(&w, buf, sizeof(buf), acme__rng, NULL);
    mbedtls_x509write_csr_free(&w);
    REQUIRE(len > 0);
    char *pem = csr_pem(buf + sizeof(buf) - len, (size_t)len, PEM_BEGIN_CSR, PEM_END_CSR);
    const char *t[] = { "dns" }, *v[] = { "only.example.org" };
    check_parse(pem, t, v, 1, NULL);
    free(pem);

    /* No SAN and no CN: nothing to order. */
    mbedtls_x509write_csr_init(&w);
    mbedtls_x509write_csr_set_key(&w, &key->pk);
    mbedtls_x509write_csr_set_md_alg(&w, MBEDTLS_MD_SHA256);
    REQUIRE_ZERO(mbedtls_x509write_csr_set_subject_name(&w, "O=Nobody"));
    len = mbedtls_x509write_csr_der(&w, buf, sizeof(buf), acme__rng, NULL);
    mbedtls_x509write_csr_free(&w);
    REQUIRE(len > 0);
    pem = csr_pem(buf + sizeof(buf) - len, (size_t)len, PEM_BEGIN_CSR, PEM_END_CSR);
    check_parse_fails("no SAN, no CN", pem);
    free(pem);
}

static void test_parse_errors(acme_key *key)
{
    fprintf(stderr, "parse errors\n");
    check_parse_fails("empty", "");
    check_parse_fails("garbage", "this is not a CSR at all\n");
    check_parse_fails("bad base64", PEM_BEGIN_CSR "!!!! not base64 ****\n" PEM_END_CSR);
    check_parse_fails("base64 of text", PEM_BEGIN_CSR "aGVsbG8gd29ybGQ=\n" PEM_END_CSR);
    check_parse_fails("no END line", PEM_BEGIN_CSR "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\n");

    /* A certificate instead of a CSR, first as it is, then relabelled. */
    unsigned char digest[32] = { 1, 2, 3 };
    char *cert = NULL, *cert_key = NULL;
    REQUIRE_OK(acme__tls_alpn_cert("dns", "example.com", digest, &cert, &cert_key, NULL));
    check_parse_fails("certificate PEM", cert);
    char *relabelled = acme__strdup(cert);
    REQUIRE(relabelled != NULL);
    acme__buf b = ACME__BUF_INIT;
    const char *body = strchr(relabelled, '\n') + 1;
    *strstr(relabelled, "-----END CERTIFICATE-----") = '\0';
    acme__buf_printf(&b, "%s%s%s", PEM_BEGIN_CSR, body, PEM_END_CSR);
    check_parse_fails("certificate DER labelled as a CSR", acme__buf_str(&b));
    acme__buf_free(&b);
    free(relabelled);
    free(cert);
    acme__free_secret_str(cert_key);

    /* Our own CSR, corrupted. */
    acme__buf der = ACME__BUF_INIT;
    REQUIRE_OK(acme__csr_build(key, four_types, four_values, 4, &der, NULL));
    unsigned char *bytes = (unsigned char *)der.data;

    /* The last byte belongs to the signature. */
    bytes[der.len - 1] ^= 0x01;
    char *pem = csr_pem(bytes, der.len, PEM_BEGIN_CSR, PEM_END_CSR);
    check_parse_fails("flipped signature byte", pem);
    free(pem);
    bytes[der.len - 1] ^= 0x01;

    /* A name inside the signed part. */
    unsigned char *hit = NULL;
    for (size_t i = 0; i + 11 <= der.len && !hit; i++)
        if (memcmp(bytes + i, "example.com", 11) == 0)
            hit = bytes + i;
    REQUIRE(hit != NULL);
    hit[0] = 'E';
    pem = csr_pem(bytes, der.len, PEM_BEGIN_CSR, PEM_END_CSR);
    check_parse_fails("altered CertificationRequestInfo", pem);
    free(pem);
    hit[0] = 'e';

    /* Truncated DER and trailing bytes. */
    pem = csr_pem(bytes, der.len - 10, PEM_BEGIN_CSR, PEM_END_CSR);
    check_parse_fails("truncated DER", pem);
    free(pem);
    acme__buf_append(&der, "\0\0", 2);
    pem = csr_pem((unsigned char *)der.data, der.len, PEM_BEGIN_CSR, PEM_END_CSR);
    check_parse_fails("trailing bytes after the DER", pem);
    free(pem);
    acme__buf_free(&der);

    acme__buf out = ACME__BUF_INIT;
    char **t = NULL, **v = NULL;
    size_t n = 0;
    CHECK_RC(acme__csr_parse(NULL, &out, &t, &v, &n, NULL), ACME_ERR_INVALID);
}

/* A request from `openssl req` with the given options, written to
 * tmpdir/NAME.csr (and its key to NAME.key); its PEM (free()). */
static char *openssl_req(const char *name, const char *options)
{
    char cmd[1024], path[256];
    snprintf(cmd, sizeof(cmd), "openssl req -new -nodes -keyout %s/%s.key -out %s/%s.csr %s 2>&1",
             tmpdir, name, tmpdir, name, options);
    char *out = run(cmd);
    REQUIRE(out != NULL);
    free(out);
    snprintf(path, sizeof(path), "%s/%s.csr", tmpdir, name);
    char *pem = read_text(path);
    REQUIRE(pem != NULL);
    return pem;
}

/* Requests made by the openssl CLI. */
static void test_openssl_csrs(void)
{
    if (!have_openssl) {
        fprintf(stderr, "SKIP: openssl not installed, openssl-made CSRs not tested\n");
        return;
    }
    fprintf(stderr, "openssl-made CSRs\n");
    char *pem = openssl_req("a", "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=a.example "
                                 "-addext subjectAltName=DNS:a.example,DNS:b.example,IP:127.0.0.1");
    const char *t[] = { "dns", "dns", "ip" }, *v[] = { "a.example", "b.example", "127.0.0.1" };
    check_parse(pem, t, v, 3, NULL);
    free(pem);

    /* CN only, mixed case; RSA this time. */
    pem = openssl_req("b", "-newkey rsa:2048 -subj /O=Example/CN=NoSan.Example");
    const char *t1[] = { "dns" }, *v1[] = { "nosan.example" };
    check_parse(pem, t1, v1, 1, NULL);
    free(pem);

    /* An e-mail address among the SANs cannot be ordered. */
    pem = openssl_req("c", "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=c.example "
                           "-addext subjectAltName=DNS:c.example,email:x@c.example");
    check_parse_fails("e-mail SAN", pem);
    free(pem);
}

int main(void)
{
    REQUIRE_ZERO(mkdtemp(tmpdir) == NULL);
    have_openssl = system("openssl version >/dev/null 2>&1") == 0;
    if (!have_openssl)
        fprintf(stderr, "SKIP: openssl not installed, no openssl cross-checks\n");

    test_build_roundtrip(ACME_KEY_EC256);
    test_build_roundtrip(ACME_KEY_EC384);
    test_build_roundtrip(ACME_KEY_RSA2048);

    acme_key *key = NULL;
    REQUIRE_OK(acme_key_generate(&key, ACME_KEY_EC256));
    test_subjects(key);
    test_build_errors(key);
    test_no_san(key);
    test_parse_errors(key);
    acme_key_free(key);
    test_openssl_csrs();

    CHECK_MSG(test_remove_tree(tmpdir) == 0, "cannot remove %s: %s", tmpdir, strerror(errno));
    return check_done();
}
