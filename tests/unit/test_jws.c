/* JWS as ACME sends it (RFC 8555 section 6.2, RFC 7515 flattened JSON):
 * header members, payload, and signatures verified with mbedTLS, both with
 * the signing key and with a public key rebuilt from the header's "jwk";
 * External Account Binding MACs (RFC 8555 section 7.3.4). */
#include <acme.h>

#include <string.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>

#include "base/b64.h"
#include "base/buf.h"
#include "net/json.h"
#include "crypto/jws.h"
#include "crypto/key.h"

#include "unit.h"

static const char new_account_url[] = "https://example.com/acme/new-account";
static const char order_url[] = "https://example.com/acme/order/TOlocE8rfgo";
static const char kid_url[] = "https://example.com/acme/acct/evOfKhNU60wg";
static const char nonce[] = "6S8IqOGY7eL2lsGoTZYifg";
/* RFC 8555 section 7.3 example payload. */
static const char payload_text[] = "{\"termsOfServiceAgreed\":true,"
                                   "\"contact\":[\"mailto:cert-admin@example.org\","
                                   "\"mailto:admin@example.org\"]}";

/* A flattened JWS taken apart. */
typedef struct parsed {
    yajl_val jws;
    yajl_val header;
    const char *protected_b64;
    const char *payload_b64;
    const char *signature_b64;
    unsigned char *header_json;
    size_t header_len;
    unsigned char *payload;
    size_t payload_len;
    unsigned char *sig;
    size_t sig_len;
} parsed;

static unsigned char *decode(const char *text, size_t *len)
{
    unsigned char *d = NULL;
    *len = 0;
    if (!text)
        return NULL;
    int rc = acme__b64url_decode(text, strlen(text), &d, len);
    CHECK_MSG(rc == ACME_OK, "not base64url: %s", text);
    CHECK_MSG(acme__b64url_valid(text) || text[0] == '\0', "padding or bad characters: %s",
              text);
    return d;
}

/* Parse a JWS; REQUIREs its shape: exactly protected, payload, signature. */
static void parse_jws(const char *text, size_t len, parsed *p)
{
    memset(p, 0, sizeof(*p));
    acme__err err = { 0 };
    REQUIRE_ZERO(acme__json_parse_object(text, len, "JWS", &p->jws, &err));
    CHECK_MSG(p->jws->u.object.len == 3, "JWS has %zu members", p->jws->u.object.len);
    p->protected_b64 = acme__json_string(p->jws, "protected");
    p->payload_b64 = acme__json_string(p->jws, "payload");
    p->signature_b64 = acme__json_string(p->jws, "signature");
    REQUIRE(p->protected_b64 && p->payload_b64 && p->signature_b64);
    p->header_json = decode(p->protected_b64, &p->header_len);
    p->payload = decode(p->payload_b64, &p->payload_len);
    p->sig = decode(p->signature_b64, &p->sig_len);
    REQUIRE(p->header_json && p->payload && p->sig);
    REQUIRE_ZERO(acme__json_parse_object((const char *)p->header_json, p->header_len, "header",
                                    &p->header, &err));
}

static void parsed_free(parsed *p)
{
    acme__json_free(p->jws);
    acme__json_free(p->header);
    free(p->header_json);
    free(p->payload);
    free(p->sig);
}

/* protected "." payload, as the signature covers it. */
static char *signing_input(const char *protected_b64, const char *payload_b64)
{
    acme__buf b = ACME__BUF_INIT;
    acme__buf_printf(&b, "%s.%s", protected_b64, payload_b64);
    return acme__buf_detach(&b);
}

/* JWS EC signature (r || s, RFC 7518 section 3.4) to DER ECDSA-Sig-Value. */
static int raw_to_der(const unsigned char *raw, size_t raw_len, unsigned char *buf, size_t size,
                      unsigned char **der, size_t *der_len)
{
    mbedtls_mpi r, s;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    unsigned char *p = buf + size;
    int len = 0, n, rc = -1;
    if (mbedtls_mpi_read_binary(&r, raw, raw_len / 2) != 0 ||
        mbedtls_mpi_read_binary(&s, raw + raw_len / 2, raw_len / 2) != 0)
        goto out;
    if ((n = mbedtls_asn1_write_mpi(&p, buf, &s)) < 0)
        goto out;
    len += n;
    if ((n = mbedtls_asn1_write_mpi(&p, buf, &r)) < 0)
        goto out;
    len += n;
    if ((n = mbedtls_asn1_write_len(&p, buf, (size_t)len)) < 0)
        goto out;
    len += n;
    if ((n = mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) <
        0)
        goto out;
    len += n;
    *der = p;
    *der_len = (size_t)len;
    rc = 0;
out:
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return rc;
}

/* Verify a JWS signature over input with pk, the way a CA does for alg.
 * 0 when valid. */
static int verify(mbedtls_pk_context *pk, const char *alg, const char *input,
                  const unsigned char *sig, size_t sig_len)
{
    mbedtls_md_type_t md_type = strcmp(alg, "ES384") == 0 ? MBEDTLS_MD_SHA384 : MBEDTLS_MD_SHA256;
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(md_type);
    unsigned char hash[MBEDTLS_MD_MAX_SIZE];
    if (mbedtls_md(md, (const unsigned char *)input, strlen(input), hash) != 0)
        return -1;
    if (alg[0] == 'E') {
        size_t coord = md_type == MBEDTLS_MD_SHA384 ? 48 : 32;
        if (sig_len != 2 * coord)
            return -2;
        unsigned char buf[256], *der;
        size_t der_len;
        if (raw_to_der(sig, sig_len, buf, sizeof(buf), &der, &der_len) != 0)
            return -3;
        return mbedtls_pk_verify(pk, md_type, hash, mbedtls_md_get_size(md), der, der_len);
    }
    /* RS256: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 section 3.3). The
     * encoding is checked by hand (RFC 8017 section 9.2) so that nothing
     * depends on the padding mode stored in the context:
     * 0x00 0x01 0xff... 0x00 DigestInfo(SHA-256) hash. */
    static const unsigned char sha256_prefix[] = {
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
        0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
    };
    if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_RSA || sig_len != mbedtls_pk_get_len(pk) ||
        sig_len > 512 || md_type != MBEDTLS_MD_SHA256)
        return -4;
    unsigned char em[512];
    if (mbedtls_rsa_public(mbedtls_pk_rsa(*pk), sig, em) != 0)
        return -5;
    size_t tail = sizeof(sha256_prefix) + 32;
    size_t ff = sig_len - 3 - tail;
    if (em[0] != 0x00 || em[1] != 0x01 || em[2 + ff] != 0x00)
        return -6;
    for (size_t i = 0; i < ff; i++)
        if (em[2 + i] != 0xff)
            return -6;
    if (memcmp(em + 3 + ff, sha256_prefix, sizeof(sha256_prefix)) != 0 ||
        memcmp(em + 3 + ff + sizeof(sha256_prefix), hash, 32) != 0)
        return -7;
    return 0;
}

static int read_mpi_member(yajl_val obj, const char *name, mbedtls_mpi *x)
{
    size_t n = 0;
    unsigned char *d = decode(acme__json_string(obj, name), &n);
    int rc = d ? mbedtls_mpi_read_binary(x, d, n) : -1;
    free(d);
    return rc;
}

/* A public key from a JWK object, as a CA builds it: the signature check
 * against it proves the header names the key that signed. */
static int pk_from_jwk(yajl_val jwk, mbedtls_pk_context *pk)
{
    const char *kty = acme__json_string(jwk, "kty");
    if (!kty)
        return -1;
    if (strcmp(kty, "EC") == 0) {
        const char *crv = acme__json_string(jwk, "crv");
        mbedtls_ecp_group_id id = crv && strcmp(crv, "P-256") == 0   ? MBEDTLS_ECP_DP_SECP256R1
                                  : crv && strcmp(crv, "P-384") == 0 ? MBEDTLS_ECP_DP_SECP384R1
                                                                     : MBEDTLS_ECP_DP_NONE;
        if (id == MBEDTLS_ECP_DP_NONE ||
            mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0)
            return -1;
        mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
        if (mbedtls_ecp_group_load(&ec->grp, id) != 0 ||
            read_mpi_member(jwk, "x", &ec->Q.X) != 0 || read_mpi_member(jwk, "y", &ec->Q.Y) != 0 ||
            mbedtls_mpi_lset(&ec->Q.Z, 1) != 0)
            return -1;
        return mbedtls_ecp_check_pubkey(&ec->grp, &ec->Q);
    }
    if (strcmp(kty, "RSA") == 0) {
        mbedtls_mpi n, e;
        mbedtls_mpi_init(&n);
        mbedtls_mpi_init(&e);
        int rc = read_mpi_member(jwk, "n", &n) == 0 && read_mpi_member(jwk, "e", &e) == 0 &&
                         mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) == 0 &&
                         mbedtls_rsa_import(mbedtls_pk_rsa(*pk), &n, NULL, NULL, NULL, &e) == 0 &&
                         mbedtls_rsa_complete(mbedtls_pk_rsa(*pk)) == 0
                     ? 0
                     : -1;
        mbedtls_mpi_free(&n);
        mbedtls_mpi_free(&e);
        return rc;
    }
    return -1;
}

/* The JWK object in the header equals acme_key_jwk's, member by member. */
static void check_jwk_member(yajl_val header, acme_key *key, const char *header_json)
{
    char *jwk = NULL;
    CHECK_OK(acme_key_jwk(key, &jwk));
    REQUIRE(jwk != NULL);
    /* The canonical text is embedded as is. */
    acme__buf want = ACME__BUF_INIT;
    acme__buf_printf(&want, "\"jwk\":%s", jwk);
    CHECK_MSG(strstr(header_json, acme__buf_str(&want)) != NULL, "header %s lacks %s",
              header_json, acme__buf_str(&want));
    acme__buf_free(&want);

    yajl_val hj = acme__json_object(header, "jwk"), kj = NULL;
    acme__err err = { 0 };
    CHECK_OK(acme__json_parse_object(jwk, strlen(jwk), "jwk", &kj, &err));
    REQUIRE(hj && kj);
    CHECK(hj->u.object.len == kj->u.object.len);
    for (size_t i = 0; i < kj->u.object.len && i < hj->u.object.len; i++) {
        CHECK_STR(hj->u.object.keys[i], kj->u.object.keys[i]);
        CHECK_STR(acme__json_as_string(hj->u.object.values[i]),
                  acme__json_as_string(kj->u.object.values[i]));
    }
    acme__json_free(kj);
    acme_free(jwk);
}

static void check_signed(acme_key *key, const char *kid, const char *nonce_value, const char *url,
                         const char *payload, int tamper)
{
    const char *alg = acme_key_algorithm(key);
    acme__buf out = ACME__BUF_INIT;
    acme__err err = { 0 };
    CHECK_OK(acme__jws_sign(key, kid, nonce_value, url, payload, &out, &err));
    REQUIRE(out.data != NULL);

    parsed p;
    parse_jws(out.data, out.len, &p);
    char *hdr = strndup((const char *)p.header_json, p.header_len);
    REQUIRE(hdr != NULL);

    /* Header: alg, then jwk xor kid, nonce when given, url. */
    size_t want_members = 3 + (nonce_value ? 1 : 0);
    CHECK_MSG(p.header->u.object.len == want_members, "header %s", hdr);
    CHECK_STR(acme__json_string(p.header, "alg"), alg);
    if (kid) {
        CHECK_STR(acme__json_string(p.header, "kid"), kid);
        CHECK(acme__json_get(p.header, "jwk") == NULL);
    } else {
        CHECK(acme__json_get(p.header, "kid") == NULL);
        check_jwk_member(p.header, key, hdr);
    }
    if (nonce_value)
        CHECK_STR(acme__json_string(p.header, "nonce"), nonce_value);
    else
        CHECK(acme__json_get(p.header, "nonce") == NULL);
    CHECK_STR(acme__json_string(p.header, "url"), url);

    /* Payload: the text given, or "" for POST-as-GET (RFC 8555 6.3). */
    if (payload) {
        CHECK(p.payload_len == strlen(payload) && memcmp(p.payload, payload, p.payload_len) == 0);
    } else {
        CHECK_STR(p.payload_b64, "");
        CHECK(p.payload_len == 0);
    }

    /* Signature: the right size, and valid. */
    int type = acme_key_get_type(key);
    size_t want_sig = type == ACME_KEY_EC256   ? 64
                      : type == ACME_KEY_EC384 ? 96
                                               : mbedtls_pk_get_len(&key->pk);
    CHECK_MSG(p.sig_len == want_sig, "%s signature of %zu bytes", alg, p.sig_len);
    char *input = signing_input(p.protected_b64, p.payload_b64);
    REQUIRE(input != NULL);
    int vrc = verify(&key->pk, alg, input, p.sig, p.sig_len);
    CHECK_MSG(vrc == 0, "%s signature does not verify: -0x%04x", alg, (unsigned)-vrc);

    if (!kid) {
        /* Against the key the header itself carries, as a CA checks it. */
        mbedtls_pk_context pub;
        mbedtls_pk_init(&pub);
        CHECK(pk_from_jwk(acme__json_object(p.header, "jwk"), &pub) == 0);
        CHECK(verify(&pub, alg, input, p.sig, p.sig_len) == 0);
        mbedtls_pk_free(&pub);
    }

    if (tamper) {
        /* Another payload under the same signature must not verify. */
        char *other_payload = NULL;
        CHECK_OK(acme_base64url_encode("{\"termsOfServiceAgreed\":false}", 30, &other_payload));
        char *forged = signing_input(p.protected_b64, other_payload);
        CHECK_MSG(verify(&key->pk, alg, forged, p.sig, p.sig_len) != 0,
                  "%s: tampered payload verifies", alg);
        acme_free(forged);
        acme_free(other_payload);

        /* Nor one flipped bit of the signature. */
        p.sig[p.sig_len / 2] ^= 0x10;
        CHECK_MSG(verify(&key->pk, alg, input, p.sig, p.sig_len) != 0,
                  "%s: tampered signature verifies", alg);
        p.sig[p.sig_len / 2] ^= 0x10;

        /* Nor a signature by another key of the same type (not for the
         * big RSA sizes: generating them is slow, RSA 2048 covers it). */
        if (type != ACME_KEY_RSA3072 && type != ACME_KEY_RSA4096) {
            acme_key *other = NULL;
            CHECK_OK(acme_key_generate(&other, type));
            CHECK(verify(&other->pk, alg, input, p.sig, p.sig_len) != 0);
            acme_key_free(other);
        }
    }

    acme_free(input);
    free(hdr);
    parsed_free(&p);
    acme__buf_free(&out);
}

static void test_sign(acme_key *key)
{
    /* newAccount: signed with the JWK (RFC 8555 6.2). */
    check_signed(key, NULL, nonce, new_account_url, payload_text, 1);
    /* Later requests: with the account URL as kid; POST-as-GET. */
    check_signed(key, kid_url, nonce, order_url, NULL, 1);
    /* The inner JWS of keyChange has no nonce (RFC 8555 7.3.5). */
    check_signed(key, NULL, NULL, "https://example.com/acme/key-change", "{\"account\":\"x\"}", 0);
    /* Values that need JSON escaping stay intact. */
    check_signed(key, "https://example.com/acct/\"1\"\\", "n\"o\\nce",
                 "https://example.com/a\"b\\c\n", "{\"a\":\"\\u0000\"}", 0);
    /* An empty (but present) payload is "" too. */
    check_signed(key, kid_url, nonce, order_url, "", 0);
}

/* ECDSA r and s have leading zero octets now and then; the JWS form keeps
 * the full width. Many signatures make such cases likely. */
static void test_many_ec_signatures(acme_key *key, int count)
{
    const char *alg = acme_key_algorithm(key);
    for (int i = 0; i < count; i++) {
        acme__buf out = ACME__BUF_INIT;
        acme__err err = { 0 };
        char payload[32];
        snprintf(payload, sizeof(payload), "{\"n\":%d}", i);
        CHECK_OK(acme__jws_sign(key, kid_url, nonce, order_url, payload, &out, &err));
        parsed p;
        parse_jws(out.data, out.len, &p);
        char *input = signing_input(p.protected_b64, p.payload_b64);
        CHECK_MSG(verify(&key->pk, alg, input, p.sig, p.sig_len) == 0, "%s signature %d", alg,
                  i);
        acme_free(input);
        parsed_free(&p);
        acme__buf_free(&out);
    }
}

/* Sign until r or s has a leading zero octet (about one signature in 128)
 * and check that this signature still verifies: the raw form must keep
 * such octets (left padding), which random signatures rarely exercise. */
static void test_ec_leading_zero(acme_key *key)
{
    const char *alg = acme_key_algorithm(key);
    size_t coord = acme_key_get_type(key) == ACME_KEY_EC384 ? 48 : 32;
    int found = 0;
    for (int i = 0; i < 5000 && !found; i++) {
        char input[32];
        snprintf(input, sizeof(input), "input.%d", i);
        unsigned char sig[ACME__MAX_SIG];
        size_t sig_len = 0;
        acme__err err = { 0 };
        CHECK_OK(acme__key_sign(key, input, strlen(input), sig, &sig_len, &err));
        if (sig_len != 2 * coord) {
            CHECK_MSG(0, "%s: raw signature of %zu bytes", alg, sig_len);
            break;
        }
        if (sig[0] != 0 && sig[coord] != 0)
            continue;
        found++;
        CHECK_MSG(verify(&key->pk, alg, input, sig, sig_len) == 0,
                  "%s signature with a leading zero octet does not verify", alg);
    }
    CHECK_MSG(found, "%s: no signature with a leading zero octet in 5000", alg);
}

static void test_appends(acme_key *key)
{
    acme__buf out = ACME__BUF_INIT;
    acme__err err = { 0 };
    acme__buf_puts(&out, "prefix:");
    CHECK_OK(acme__jws_sign(key, kid_url, nonce, order_url, NULL, &out, &err));
    CHECK(strncmp(acme__buf_str(&out), "prefix:{\"protected\":\"", 21) == 0);
    CHECK(out.len > 7 && out.data[out.len - 1] == '}');
    acme__buf_free(&out);
}

/* RFC 8555 7.3.4: {"protected": {alg, kid, url}, "payload": JWK, "signature": MAC}. */
static void check_eab(acme_key *account_key, const char *alg, mbedtls_md_type_t md_type,
                      const unsigned char *mac_key, size_t mac_key_len)
{
    static const char eab_kid[] = "kid-1";
    acme__buf out = ACME__BUF_INIT;
    acme__err err = { 0 };
    CHECK_OK(acme__jws_eab(eab_kid, mac_key, mac_key_len, alg, account_key, new_account_url,
                           &out, &err));
    REQUIRE(out.data != NULL);
    parsed p;
    parse_jws(out.data, out.len, &p);

    CHECK(p.header->u.object.len == 3);
    CHECK_STR(acme__json_string(p.header, "alg"), alg);
    CHECK_STR(acme__json_string(p.header, "kid"), eab_kid);
    CHECK_STR(acme__json_string(p.header, "url"), new_account_url);
    CHECK(acme__json_get(p.header, "nonce") == NULL);
    CHECK(acme__json_get(p.header, "jwk") == NULL);

    char *jwk = NULL;
    CHECK_OK(acme_key_jwk(account_key, &jwk));
    CHECK(jwk && p.payload_len == strlen(jwk) && memcmp(p.payload, jwk, p.payload_len) == 0);
    acme_free(jwk);

    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(md_type);
    unsigned char mac[MBEDTLS_MD_MAX_SIZE];
    char *input = signing_input(p.protected_b64, p.payload_b64);
    REQUIRE(input != NULL);
    REQUIRE_ZERO(mbedtls_md_hmac(md, mac_key, mac_key_len, (const unsigned char *)input,
                            strlen(input), mac));
    CHECK_MSG(p.sig_len == mbedtls_md_get_size(md), "%s MAC of %zu bytes", alg, p.sig_len);
    CHECK_MSG(p.sig_len == mbedtls_md_get_size(md) && memcmp(p.sig, mac, p.sig_len) == 0,
              "%s MAC differs", alg);

    /* A different MAC key gives a different MAC (so the check means something). */
    unsigned char other_key[64];
    memcpy(other_key, mac_key, mac_key_len < sizeof(other_key) ? mac_key_len : sizeof(other_key));
    other_key[0] ^= 1;
    REQUIRE_ZERO(mbedtls_md_hmac(md, other_key, mac_key_len, (const unsigned char *)input,
                            strlen(input), mac));
    CHECK(memcmp(p.sig, mac, p.sig_len) != 0);

    acme_free(input);
    parsed_free(&p);
    acme__buf_free(&out);
}

static void test_eab(acme_key *ec_key, acme_key *rsa_key)
{
    /* A MAC key as CAs hand it out: base64url text. */
    size_t mac_key_len = 0;
    unsigned char *mac_key =
        decode("zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W", &mac_key_len);
    REQUIRE(mac_key && mac_key_len == 48);

    acme_key *keys[] = { ec_key, rsa_key };
    for (size_t i = 0; i < 2; i++) {
        check_eab(keys[i], "HS256", MBEDTLS_MD_SHA256, mac_key, mac_key_len);
        check_eab(keys[i], "HS384", MBEDTLS_MD_SHA384, mac_key, mac_key_len);
        check_eab(keys[i], "HS512", MBEDTLS_MD_SHA512, mac_key, mac_key_len);
    }

    static const char *const bad_algs[] = { "HS1", "hs256", "RS256", "none", "" };
    for (size_t i = 0; i < sizeof(bad_algs) / sizeof(bad_algs[0]); i++) {
        acme__buf out = ACME__BUF_INIT;
        acme__err err = { 0 };
        CHECK_RC(acme__jws_eab("kid-1", mac_key, mac_key_len, bad_algs[i], ec_key,
                               new_account_url, &out, &err),
                 ACME_ERR_INVALID);
        CHECK(err.code == ACME_ERR_INVALID && err.msg[0] != '\0');
        CHECK_MSG(out.len == 0, "output written for alg \"%s\"", bad_algs[i]);
        acme__buf_free(&out);
    }
    free(mac_key);
}

int main(void)
{
    static const int types[] = { ACME_KEY_EC256, ACME_KEY_EC384, ACME_KEY_RSA2048,
                                 ACME_KEY_RSA3072, ACME_KEY_RSA4096 };
    acme_key *keys[5];
    for (size_t i = 0; i < 5; i++) {
        keys[i] = NULL;
        if (!unit_slow_key(types[i]))
            REQUIRE_OK(acme_key_generate(&keys[i], types[i]));
    }
    CHECK_STR(acme_key_algorithm(keys[0]), "ES256");
    CHECK_STR(acme_key_algorithm(keys[1]), "ES384");
    CHECK_STR(acme_key_algorithm(keys[2]), "RS256");
    for (size_t i = 0; i < 5; i++)
        if (keys[i])
            test_sign(keys[i]);
    test_many_ec_signatures(keys[0], 16);
    test_many_ec_signatures(keys[1], 16);
    test_ec_leading_zero(keys[0]);
    test_ec_leading_zero(keys[1]);
    test_appends(keys[0]);
    test_eab(keys[0], keys[2]);
    for (size_t i = 0; i < 5; i++)
        acme_key_free(keys[i]);
    return check_done();
}
