/* Host signers: keys whose private half the host keeps. The key is an
 * ordinary acme_key whose mbedTLS context holds the public key only, so the
 * JWK, thumbprint and key comparisons need no second path; signing goes to
 * the host's callback (acme__key_sign in key.c checks what comes back). */
#include "crypto/key.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>

#include "base/mbedcompat.h"
#include "base/mem.h"
#include "base/options.h"

/* A SubjectPublicKeyInfo of a supported key is well under this (RSA 4096
 * is about 550 octets). */
#define SPKI_MAX 4096

ACME__OPTIONS_DEFINE(ops_versions, ACME_SIGNER_OPS_VERSION, "signer ops",
                     "acme_signer_ops_init",
                     ACME__OPTIONS_END(acme_signer_ops, release)); /* 1 */

/* Algorithms mbedTLS 2.28 cannot read, named so the refusal says why
 * (RFC 8410 object identifiers). */
static const char *unreadable_algorithm(const unsigned char *spki, size_t len)
{
    static const struct {
        const char *oid;
        size_t oid_len;
        const char *why;
    } named[] = {
        { "\x2b\x65\x70", 3, "Ed25519 (EdDSA) keys are not supported: the TLS library cannot "
                             "read them, and most CAs (Let's Encrypt among them) do not issue "
                             "for them" },
        { "\x2b\x65\x71", 3, "Ed448 keys are not supported" },
    };
    unsigned char *p = (unsigned char *)spki;
    const unsigned char *end = spki + len;
    size_t n;
    mbedtls_asn1_buf alg, params;
    if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) ||
        mbedtls_asn1_get_alg(&p, p + n, &alg, &params))
        return NULL;
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (alg.len == named[i].oid_len && memcmp(alg.p, named[i].oid, alg.len) == 0)
            return named[i].why;
    return NULL;
}

/* Parse the public key, refusing trailing data and the key types the
 * library does not sign with. */
static int parse_spki(mbedtls_pk_context *pk, const unsigned char *der, size_t len,
                      acme__err *err)
{
    if (len == 0 || len > SPKI_MAX)
        return acme__fail(err, ACME_ERR_KEY_FORMAT,
                          "signer: the public key is %s (a SubjectPublicKeyInfo in DER)",
                          len ? "too large" : "empty");
    const char *why = unreadable_algorithm(der, len);
    if (why)
        return acme__fail(err, ACME_ERR_KEY_FORMAT, "signer: %s", why);
    unsigned char *p = (unsigned char *)der;
    size_t n;
    /* mbedTLS ignores what follows the SEQUENCE; a blob with more in it is
     * not the public key the host meant. */
    if (mbedtls_asn1_get_tag(&p, der + len, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) ||
        p + n != der + len)
        return acme__fail(err, ACME_ERR_KEY_FORMAT,
                          "signer: the public key is not one DER SubjectPublicKeyInfo");
    int rc = mbedtls_pk_parse_public_key(pk, der, len);
    if (rc != 0)
        return acme__fail(err, ACME_ERR_KEY_FORMAT,
                          "signer: the public key is not an EC or RSA SubjectPublicKeyInfo that "
                          "the TLS library reads (mbedTLS -0x%04x)",
                          (unsigned)-rc);
    mbedtls_pk_type_t t = mbedtls_pk_get_type(pk);
    if ((t == MBEDTLS_PK_ECKEY || t == MBEDTLS_PK_ECDSA) &&
        ACME__EC_GROUP_ID(mbedtls_pk_ec(*pk)) == MBEDTLS_ECP_DP_SECP521R1)
        return acme__fail(err, ACME_ERR_KEY_FORMAT,
                          "signer: P-521 (ES512) keys are not supported: Let's Encrypt issues no "
                          "certificates for them; use P-256, P-384 or RSA");
    return ACME_OK;
}

int acme_key_from_signer(acme_key **out, const unsigned char *spki_der, size_t spki_len,
                         const acme_signer_ops *ops, void *userdata)
{
    if (out)
        *out = NULL;
    if (!out || !spki_der || !ops)
        return acme__fail(NULL, ACME_ERR_INVALID, "signer: NULL output, public key or callbacks");
    acme_signer_ops own;
    int rc = acme__options_copy(&ops_versions, &own, sizeof(own), ops, NULL);
    if (rc == ACME_OK && !own.sign)
        rc = acme__fail(NULL, ACME_ERR_INVALID, "signer: the sign callback is required");
    if (rc != ACME_OK)
        return rc;
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    rc = parse_spki(&pk, spki_der, spki_len, NULL);
    acme_key *k = NULL;
    if (rc == ACME_OK)
        rc = acme__key_from_pk(&k, &pk, NULL);
    mbedtls_pk_free(&pk);
    if (rc != ACME_OK)
        return rc;
    k->external = 1;
    k->signer = own;
    k->signer_data = userdata;
    *out = k;
    return ACME_OK;
}

int acme_signer_ops_init(acme_signer_ops *ops, unsigned int version)
{
    return acme__options_init(&ops_versions, ops, version, NULL);
}

int acme_key_is_external(const acme_key *key)
{
    return key && key->external ? 1 : 0;
}

int acme_key_public_der(const acme_key *key, unsigned char **der_out, size_t *len_out)
{
    if (!key || !der_out || !len_out)
        return acme__fail(NULL, ACME_ERR_INVALID, "key: NULL argument");
    *der_out = NULL;
    *len_out = 0;
    acme__err why = ACME__ERR_QUIET;
    unsigned char buf[SPKI_MAX];
    /* Written at the end of buf; reading the public part needs no lock. */
    int n = mbedtls_pk_write_pubkey_der((mbedtls_pk_context *)&key->pk, buf, sizeof(buf));
    int rc = ACME_OK;
    if (n <= 0)
        rc = acme__fail(&why, ACME_ERR_CRYPTO, "key: cannot encode the public key (mbedTLS -0x%04x)",
                        (unsigned)-n);
    else if (!(*der_out = malloc((size_t)n)))
        rc = acme__fail(&why, ACME_ERR_NOMEM, "key: out of memory");
    if (rc != ACME_OK)
        return acme__key_record(key, &why);
    memcpy(*der_out, buf + sizeof(buf) - n, (size_t)n);
    *len_out = (size_t)n;
    return ACME_OK;
}

int acme__signer_call(acme_key *k, int alg, const void *data, size_t len,
                      const unsigned char *hash, size_t hash_len, size_t want_len,
                      unsigned char *sig, size_t *sig_len, acme__err *err)
{
    unsigned char out[ACME_SIGNER_MAX_SIGNATURE];
    size_t out_len = 0;
    int rc = k->signer.sign(alg, data, len, hash, hash_len, out, sizeof(out), &out_len,
                            k->signer_data);
    if (rc != 0) {
        /* A negative ACME code passes through as the callback's own. */
        int code = rc < 0 ? rc : ACME_ERR_CALLBACK;
        return acme__fail(err, code, "signer: the sign callback failed (returned %d)", rc);
    }
    if (out_len != want_len || want_len > ACME__MAX_SIG) {
        acme__wipe(out, sizeof(out));
        return acme__fail(err, ACME_ERR_CRYPTO,
                          "signer: the signature has %zu octets, %zu expected (%s)", out_len,
                          want_len,
                          alg == ACME_SIG_RS256 ? "the modulus size"
                                                : "raw r||s, each padded to the curve size");
    }
    memcpy(sig, out, out_len);
    *sig_len = out_len;
    return ACME_OK;
}
