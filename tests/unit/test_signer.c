/* Host signers (acme_key_from_signer): an in-process signer wraps an
 * mbedTLS key the test holds and signs only through its callback, which
 * counts its calls. What the library signs through it (JWS, CSR) verifies
 * with the wrapped key; the library never gets private key bytes (PEM
 * export is refused); broken signers and unsupported public keys are
 * refused with clear messages. */
#include <acme.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_csr.h>

#include "base/b64.h"
#include "base/buf.h"
#include "base/mbedcompat.h"
#include "crypto/csr.h"
#include "crypto/jws.h"
#include "crypto/key.h"
#include "base/mem.h"
#include "net/json.h"

#include "unit.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define PRIV(f) MBEDTLS_PRIVATE(f)
#else
#define PRIV(f) f
#endif

/* How the test signer misbehaves. */
enum mode { GOOD, FAIL_POSITIVE, FAIL_ACME_CODE, DER_FORM, OTHER_KEY, SHORT };

typedef struct signer {
    acme_key *inner;  /* the private key, held by the test only */
    acme_key *other;  /* a different key, for OTHER_KEY */
    enum mode mode;
    int calls;
    int released;
    int last_alg;
    int digest_ok;    /* every digest handed over was the message's hash */
} signer;

static mbedtls_md_type_t md_of(int alg)
{
    return alg == ACME_SIG_ES384 ? MBEDTLS_MD_SHA384 : MBEDTLS_MD_SHA256;
}

/* Sign the digest only, as a PKCS#11 token or a KMS would: DER from
 * mbedTLS, then the raw r||s the contract asks for. */
static int test_sign(int alg, const unsigned char *msg, size_t msg_len,
                     const unsigned char *digest, size_t digest_len, unsigned char *sig,
                     size_t sig_size, size_t *sig_len, void *userdata)
{
    signer *s = userdata;
    s->calls++;
    s->last_alg = alg;
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(md_of(alg));
    unsigned char hash[MBEDTLS_MD_MAX_SIZE];
    if (mbedtls_md(md, msg, msg_len, hash) != 0 || digest_len != mbedtls_md_get_size(md) ||
        memcmp(hash, digest, digest_len) != 0)
        s->digest_ok = 0;
    if (sig_size < ACME_SIGNER_MAX_SIGNATURE)
        return 99;
    if (s->mode == FAIL_POSITIVE)
        return 7;
    if (s->mode == FAIL_ACME_CODE)
        return ACME_ERR_IO;
    acme_key *k = s->mode == OTHER_KEY ? s->other : s->inner;
    unsigned char der[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t der_len = 0;
    if (ACME__PK_SIGN(&k->pk, md_of(alg), digest, digest_len, der, sizeof(der), &der_len) != 0)
        return 98;
    if (alg == ACME_SIG_RS256 || s->mode == DER_FORM) {
        memcpy(sig, der, der_len);
        *sig_len = der_len;
    } else {
        size_t coord = alg == ACME_SIG_ES384 ? 48 : 32;
        if (acme__ecdsa_der_to_raw(der, der_len, coord, sig) != 0)
            return 97;
        *sig_len = 2 * coord;
    }
    if (s->mode == SHORT)
        (*sig_len)--;
    return 0;
}

static void test_release(void *userdata)
{
    ((signer *)userdata)->released++;
}

static acme_key *external_for(signer *s, acme_key *inner)
{
    memset(s, 0, sizeof(*s));
    s->inner = inner;
    s->digest_ok = 1;
    unsigned char *spki = NULL;
    size_t spki_len = 0;
    REQUIRE_OK(acme_key_public_der(inner, &spki, &spki_len));
    acme_signer_ops ops;
    REQUIRE_OK(acme_signer_ops_init(&ops, ACME_SIGNER_OPS_VERSION));
    ops.sign = test_sign;
    ops.release = test_release;
    acme_key *ext = NULL;
    REQUIRE_OK(acme_key_from_signer(&ext, spki, spki_len, &ops, s));
    acme_free(spki);
    return ext;
}

/* Verify a JWS signature (raw r||s or PKCS#1 v1.5) over the hash with
 * the wrapped key, by mbedTLS's own primitives rather than the library's
 * conversion helpers. */
static int verify_hash(mbedtls_pk_context *pk, int rsa, mbedtls_md_type_t t,
                       const unsigned char *hash, size_t hash_len, const unsigned char *sig,
                       size_t sig_len)
{
    if (rsa)
        return mbedtls_pk_verify(pk, t, hash, hash_len, sig, sig_len);
    size_t coord = sig_len / 2;
    mbedtls_mpi r, s;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    int rc = mbedtls_mpi_read_binary(&r, sig, coord) || mbedtls_mpi_read_binary(&s, sig + coord, coord);
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
    if (rc == 0)
        rc = mbedtls_ecdsa_verify(&ec->PRIV(grp), hash, hash_len, &ec->PRIV(Q), &r, &s);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return rc;
}

static char *json_member(const char *json, size_t len, const char *name)
{
    yajl_val v = NULL;
    acme__err err = { 0 };
    if (acme__json_parse_object(json, len, "test", &v, &err) != ACME_OK)
        return NULL;
    const char *s = acme__json_string(v, name);
    char *out = s ? strdup(s) : NULL;
    yajl_tree_free(v);
    return out;
}

/* A JWS made through the signer verifies with the wrapped key. */
static void check_jws(acme_key *ext, signer *s, const char *alg)
{
    acme__buf out = ACME__BUF_INIT;
    acme__err err = { 0 };
    int before = s->calls;
    CHECK_OK(acme__jws_sign(ext, NULL, "nonce-1", "https://ca.test/new-acct", "{\"a\":1}", &out,
                            &err));
    CHECK_MSG(s->calls == before + 1, "%s: %d sign calls", alg, s->calls - before);
    char *prot = json_member(out.data, out.len, "protected");
    char *payload = json_member(out.data, out.len, "payload");
    char *sig64 = json_member(out.data, out.len, "signature");
    REQUIRE(prot && payload && sig64);
    unsigned char *hdr = NULL, *sig = NULL;
    size_t hdr_len = 0, sig_len = 0;
    REQUIRE_ZERO(acme__b64url_decode(prot, strlen(prot), &hdr, &hdr_len));
    REQUIRE_ZERO(acme__b64url_decode(sig64, strlen(sig64), &sig, &sig_len));
    char *got_alg = json_member((const char *)hdr, hdr_len, "alg");
    CHECK_STR(got_alg, alg);
    acme__buf input = ACME__BUF_INIT;
    acme__buf_printf(&input, "%s.%s", prot, payload);
    mbedtls_md_type_t t = strcmp(alg, "ES384") == 0 ? MBEDTLS_MD_SHA384 : MBEDTLS_MD_SHA256;
    unsigned char hash[MBEDTLS_MD_MAX_SIZE];
    REQUIRE_ZERO(mbedtls_md(mbedtls_md_info_from_type(t), (const unsigned char *)input.data,
                            input.len, hash));
    CHECK_MSG(alg[0] == 'R' || sig_len == (t == MBEDTLS_MD_SHA384 ? 96u : 64u), "%s: %zu octets",
              alg, sig_len);
    int vrc = verify_hash(&s->inner->pk, alg[0] == 'R', t, hash,
                          mbedtls_md_get_size(mbedtls_md_info_from_type(t)), sig, sig_len);
    CHECK_MSG(vrc == 0, "%s: JWS through the signer does not verify (%d)", alg, vrc);
    free(got_alg);
    free(prot);
    free(payload);
    free(sig64);
    acme_free(hdr);
    acme_free(sig);
    acme__buf_free(&input);
    acme__buf_free(&out);
    acme__err_clear(&err);
}

/* The CSR made through the signer parses and its signature verifies with
 * the wrapped key; its public key is the signer's. */
static void check_csr(acme_key *ext, signer *s, const char *what)
{
    const char *types[] = { "dns", "dns", "ip" };
    const char *values[] = { "signer.example", "www.signer.example", "192.0.2.7" };
    acme__buf der = ACME__BUF_INIT;
    acme__err err = { 0 };
    int before = s->calls;
    CHECK_OK(acme__csr_build(ext, types, values, 3, &der, &err));
    CHECK_MSG(s->calls == before + 1, "%s: %d sign calls for the CSR", what, s->calls - before);
    mbedtls_x509_csr csr;
    mbedtls_x509_csr_init(&csr);
    int rc = mbedtls_x509_csr_parse_der(&csr, (const unsigned char *)der.data, der.len);
    CHECK_MSG(rc == 0, "%s: CSR does not parse: -0x%04x", what, (unsigned)-rc);
    if (rc == 0) {
        const mbedtls_md_info_t *md = mbedtls_md_info_from_type(csr.PRIV(sig_md));
        unsigned char hash[MBEDTLS_MD_MAX_SIZE];
        REQUIRE(md != NULL);
        REQUIRE_ZERO(mbedtls_md(md, csr.cri.p, csr.cri.len, hash));
        rc = mbedtls_pk_verify(&s->inner->pk, csr.PRIV(sig_md), hash, mbedtls_md_get_size(md),
                               csr.PRIV(sig).p, csr.PRIV(sig).len);
        CHECK_MSG(rc == 0, "%s: CSR signature: -0x%04x", what, (unsigned)-rc);
        CHECK_MSG(acme__key_matches(s->inner, &csr.pk), "%s: CSR key is not the signer's", what);
        char dn[256];
        CHECK(mbedtls_x509_dn_gets(dn, sizeof(dn), &csr.subject) > 0);
        CHECK_STR(dn, "CN=signer.example");
    }
    mbedtls_x509_csr_free(&csr);
    /* The library's own reader agrees on the names. */
    unsigned char pem[8192];
    size_t pem_len = 0;
    REQUIRE_ZERO(mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE REQUEST-----\n",
                                          "-----END CERTIFICATE REQUEST-----\n",
                                          (const unsigned char *)der.data, der.len, pem,
                                          sizeof(pem), &pem_len));
    acme__buf der2 = ACME__BUF_INIT;
    char **t = NULL, **v = NULL;
    size_t n = 0;
    CHECK_OK(acme__csr_parse((const char *)pem, &der2, &t, &v, &n, &err));
    CHECK_MSG(n == 3, "%s: %zu identifiers", what, n);
    acme__free_strv(t, n);
    acme__free_strv(v, n);
    acme__buf_free(&der2);
    acme__buf_free(&der);
    acme__err_clear(&err);
}

static void check_type(int type, const char *alg, int sig_alg)
{
    acme_key *inner = NULL;
    REQUIRE_OK(acme_key_generate(&inner, type));
    signer s;
    acme_key *ext = external_for(&s, inner);
    CHECK(acme_key_is_external(ext) == 1);
    CHECK(acme_key_is_external(inner) == 0);
    CHECK(acme_key_get_type(ext) == type);
    CHECK_STR(acme_key_algorithm(ext), alg);
    char *j1 = NULL, *j2 = NULL, *t1 = NULL, *t2 = NULL;
    CHECK_OK(acme_key_jwk(ext, &j1));
    CHECK_OK(acme_key_jwk(inner, &j2));
    CHECK_STR(j1, j2);
    CHECK_OK(acme_key_thumbprint(ext, &t1));
    CHECK_OK(acme_key_thumbprint(inner, &t2));
    CHECK_STR(t1, t2);
    acme_free(j1);
    acme_free(j2);
    acme_free(t1);
    acme_free(t2);
    /* The same public key, so the key comparisons (rollover, certificate
     * match) see them as one key. */
    CHECK(acme__key_matches(ext, &inner->pk));
    CHECK(acme__key_matches(inner, &ext->pk));

    check_jws(ext, &s, alg);
    CHECK(s.last_alg == sig_alg);
    check_csr(ext, &s, alg);
    CHECK(s.last_alg == sig_alg);
    CHECK_MSG(s.digest_ok, "%s: a digest did not match its message", alg);
    CHECK_MSG(s.calls > 0, "%s: the signer was never called", alg);

    /* No private key bytes leave through the key. */
    char *pem = (char *)1;
    CHECK_RC(acme_key_to_pem(ext, &pem), ACME_ERR_INVALID);
    CHECK(pem == NULL);
    CHECK_MSG(strstr(acme_key_last_error(ext), "held by a signer") != NULL, "message: %s",
              acme_key_last_error(ext));
    char path[] = "/tmp/acme-signer-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    unlink(path);
    CHECK_RC(acme_key_save_file(ext, path), ACME_ERR_INVALID);
    CHECK_MSG(access(path, F_OK) != 0, "a key file was written");

    /* The public key round-trips. */
    unsigned char *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    CHECK_OK(acme_key_public_der(ext, &a, &la));
    CHECK_OK(acme_key_public_der(inner, &b, &lb));
    CHECK(la == lb && la > 0 && memcmp(a, b, la) == 0);
    acme_free(a);
    acme_free(b);

    /* release once, on the last reference. */
    acme__key_ref(ext);
    acme_key_free(ext);
    CHECK(s.released == 0);
    acme_key_free(ext);
    CHECK(s.released == 1);
    acme_key_free(inner);
}

/* Misbehaving signers fail the signing call with a clear error. */
static void check_broken_signers(void)
{
    acme_key *inner = NULL, *other = NULL;
    REQUIRE_OK(acme_key_generate(&inner, ACME_KEY_EC256));
    REQUIRE_OK(acme_key_generate(&other, ACME_KEY_EC256));
    signer s;
    acme_key *ext = external_for(&s, inner);
    s.other = other;
    static const struct {
        enum mode mode;
        int code;
        const char *text;
    } cases[] = {
        { FAIL_POSITIVE, ACME_ERR_CALLBACK, "returned 7" },
        { FAIL_ACME_CODE, ACME_ERR_IO, "sign callback failed" },
        { DER_FORM, ACME_ERR_CRYPTO, "expected" },
        { SHORT, ACME_ERR_CRYPTO, "63 octets, 64 expected" },
        { OTHER_KEY, ACME_ERR_CRYPTO, "does not verify" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s.mode = cases[i].mode;
        acme__buf out = ACME__BUF_INIT;
        acme__err err = { 0 };
        int rc = acme__jws_sign(ext, "kid", "n", "https://ca.test/x", "{}", &out, &err);
        CHECK_MSG(rc == cases[i].code, "mode %d: got %d (%s)", (int)cases[i].mode, rc, err.msg);
        CHECK_MSG(strstr(err.msg, cases[i].text) != NULL, "mode %d: message \"%s\"",
                  (int)cases[i].mode, err.msg);
        CHECK(out.len == 0);
        fprintf(stderr, "  signer mode %d -> %s\n", (int)cases[i].mode, err.msg);
        acme__buf_free(&out);
        acme__err_clear(&err);
    }
    acme_key_free(ext);
    acme_key_free(inner);
    acme_key_free(other);
}

/* Public keys the library cannot sign with are refused with the reason,
 * and the host keeps its userdata (release is not called). */
static void check_refused(const char *what, const unsigned char *spki, size_t len, int code,
                          const char *text)
{
    signer s;
    memset(&s, 0, sizeof(s));
    acme_signer_ops ops = ACME_SIGNER_OPS_INIT;
    ops.sign = test_sign;
    ops.release = test_release;
    acme_key *k = (acme_key *)1;
    int rc = acme_key_from_signer(&k, spki, len, &ops, &s);
    CHECK_MSG(rc == code, "%s: got %d, wanted %d (%s)", what, rc, code, acme_last_error());
    CHECK(k == NULL);
    CHECK_MSG(strstr(acme_last_error(), text) != NULL, "%s: message \"%s\"", what,
              acme_last_error());
    CHECK(s.released == 0 && s.calls == 0);
    fprintf(stderr, "  %s -> %s\n", what, acme_last_error());
}

static void check_spki_refusals(void)
{
    /* RFC 8410 section 10.1: an Ed25519 public key. */
    static const unsigned char ed25519[] = {
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00, 0x19, 0xbf,
        0x44, 0x09, 0x69, 0x84, 0xcd, 0xfe, 0x85, 0x41, 0xba, 0xc1, 0x67, 0xdc, 0x3b, 0x96,
        0xc8, 0x50, 0x86, 0xaa, 0x30, 0xb6, 0xb6, 0xcb, 0x0c, 0x5c, 0x38, 0xad, 0x70, 0x31,
        0x66, 0xe1,
    };
    check_refused("Ed25519", ed25519, sizeof(ed25519), ACME_ERR_KEY_FORMAT, "Ed25519");
    check_refused("garbage", (const unsigned char *)"not a key", 9, ACME_ERR_KEY_FORMAT,
                  "SubjectPublicKeyInfo");
    check_refused("empty", (const unsigned char *)"", 0, ACME_ERR_KEY_FORMAT, "empty");

    acme_key *k = NULL;
    REQUIRE_OK(acme_key_generate(&k, ACME_KEY_EC256));
    unsigned char *spki = NULL;
    size_t len = 0;
    REQUIRE_OK(acme_key_public_der(k, &spki, &len));
    unsigned char longer[512];
    memcpy(longer, spki, len);
    longer[len] = 0;
    check_refused("trailing data", longer, len + 1, ACME_ERR_KEY_FORMAT, "not one DER");
    check_refused("truncated", spki, len - 1, ACME_ERR_KEY_FORMAT, "not one DER");

    /* A P-521 key: mbedTLS reads it, the library refuses to sign with it. */
    mbedtls_pk_context p521;
    mbedtls_pk_init(&p521);
    REQUIRE_ZERO(mbedtls_pk_setup(&p521, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)));
    if (mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP521R1, mbedtls_pk_ec(p521), acme__rng, NULL) == 0) {
        unsigned char buf[512];
        int n = mbedtls_pk_write_pubkey_der(&p521, buf, sizeof(buf));
        REQUIRE(n > 0);
        check_refused("P-521", buf + sizeof(buf) - n, (size_t)n, ACME_ERR_KEY_FORMAT, "P-521");
    }
    mbedtls_pk_free(&p521);

    /* Callbacks: sign is required, the version is checked. */
    acme_signer_ops ops = ACME_SIGNER_OPS_INIT;
    acme_key *out = (acme_key *)1;
    CHECK_RC(acme_key_from_signer(&out, spki, len, &ops, NULL), ACME_ERR_INVALID);
    CHECK(out == NULL);
    CHECK(strstr(acme_last_error(), "sign callback") != NULL);
    ops.sign = test_sign;
    ops.version = ACME_SIGNER_OPS_VERSION + 1;
    CHECK_RC(acme_key_from_signer(&out, spki, len, &ops, NULL), ACME_ERR_INVALID);
    CHECK_RC(acme_key_from_signer(&out, spki, len, NULL, NULL), ACME_ERR_INVALID);
    CHECK_RC(acme_key_from_signer(&out, NULL, len, &ops, NULL), ACME_ERR_INVALID);
    CHECK_RC(acme_key_from_signer(NULL, spki, len, &ops, NULL), ACME_ERR_INVALID);
    CHECK_RC(acme_signer_ops_init(&ops, 0), ACME_ERR_INVALID);
    CHECK_RC(acme_signer_ops_init(NULL, ACME_SIGNER_OPS_VERSION), ACME_ERR_INVALID);
    CHECK_OK(acme_signer_ops_init(&ops, ACME_SIGNER_OPS_VERSION));
    CHECK(ops.version == ACME_SIGNER_OPS_VERSION && ops.sign == NULL && ops.release == NULL);
    CHECK(acme_key_is_external(NULL) == 0);
    unsigned char *der = NULL;
    size_t der_len = 0;
    CHECK_RC(acme_key_public_der(NULL, &der, &der_len), ACME_ERR_INVALID);
    acme_free(spki);
    acme_key_free(k);
}

int main(void)
{
    check_type(ACME_KEY_EC256, "ES256", ACME_SIG_ES256);
    check_type(ACME_KEY_EC384, "ES384", ACME_SIG_ES384);
    check_type(ACME_KEY_RSA2048, "RS256", ACME_SIG_RS256);
    check_broken_signers();
    check_spki_refusals();
    return check_done();
}
