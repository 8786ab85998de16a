/* The self-signed certificate that answers a tls-alpn-01 challenge
 * (RFC 8737 section 3). Its DER is written here rather than by mbedTLS's
 * certificate writer, whose 2.28 release puts an explicit NULL into the
 * ECDSA AlgorithmIdentifier (see der_sig_alg); the same code is right on
 * every mbedTLS version. */
#include "crypto/tls_alpn_cert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>

#include "base/clock.h"
#include "base/ip.h"
#include "base/mbedcompat.h"
#include "base/mem.h"
#include "base/rng.h"
#include "crypto/asn1.h"
#include "crypto/key.h"
#include "crypto/x509.h"

/* id-pe-acmeIdentifier, 1.3.6.1.5.5.7.1.31 (RFC 8737 section 6.1). */
#define OID_ACME_IDENTIFIER MBEDTLS_OID_PKIX "\x01\x1f"
/* RFC 8737 sets no validity; a day of slack covers a validation server
 * whose clock is behind, a week outlasts any validation. */
#define VALID_BEFORE_NOW_S ACME__DAY_S
#define VALID_AFTER_NOW_S (7 * ACME__DAY_S)
/* Room for the DER of a P-256 certificate with one SAN (up to 255
 * octets), and for its PEM. */
#define CERT_DER_SIZE 2048
#define CERT_PEM_SIZE 4096

/* A DER writer that fills buf from its end, as mbedTLS's asn1write does,
 * and keeps its first failure, so that a structure is written without a
 * check after each element. A constructed element is closed with the
 * count of octets written when it was opened (der_used). */
typedef struct der_w {
    unsigned char *start, *p, *end;
    int rc; /* the first mbedTLS error, or 0 */
} der_w;

static size_t der_used(const der_w *w)
{
    return (size_t)(w->end - w->p);
}

static void der_raw(der_w *w, const void *v, size_t n)
{
    int r;
    if (w->rc == 0 && (r = mbedtls_asn1_write_raw_buffer(&w->p, w->start, v, n)) < 0)
        w->rc = r;
}

/* Tag and length before what was written since `opened`. */
static void der_close(der_w *w, size_t opened, unsigned char tag)
{
    int r;
    if (w->rc == 0 && (r = mbedtls_asn1_write_len(&w->p, w->start, der_used(w) - opened)) < 0)
        w->rc = r;
    if (w->rc == 0 && (r = mbedtls_asn1_write_tag(&w->p, w->start, tag)) < 0)
        w->rc = r;
}

static void der_prim(der_w *w, unsigned char tag, const void *v, size_t n)
{
    size_t opened = der_used(w);
    der_raw(w, v, n);
    der_close(w, opened, tag);
}

/* AlgorithmIdentifier ecdsa-with-SHA256 with its parameters absent (RFC
 * 5758 3.2). mbedTLS 2.28's certificate writer puts an explicit NULL in,
 * which strict parsers reject: the reason this file writes the DER. */
static void der_sig_alg(der_w *w)
{
    size_t opened = der_used(w);
    der_prim(w, MBEDTLS_ASN1_OID, MBEDTLS_OID_ECDSA_SHA256, MBEDTLS_OID_SIZE(MBEDTLS_OID_ECDSA_SHA256));
    der_close(w, opened, ACME__ASN1_SEQ);
}

/* Name: one RDN, CN as a UTF8String. */
static void der_name(der_w *w, const char *cn)
{
    size_t name = der_used(w);
    size_t rdn = der_used(w);
    size_t atv = der_used(w);
    der_prim(w, MBEDTLS_ASN1_UTF8_STRING, cn, strlen(cn));
    der_prim(w, MBEDTLS_ASN1_OID, MBEDTLS_OID_AT_CN, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN));
    der_close(w, atv, ACME__ASN1_SEQ);
    der_close(w, rdn, ACME__ASN1_SET);
    der_close(w, name, ACME__ASN1_SEQ);
}

/* Time (RFC 5280 4.1.2.5): UTCTime through 2049, GeneralizedTime after. */
static int der_time(der_w *w, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char text[sizeof("YYYYMMDDhhmmssZ")];
    if (!gmtime_r(&tt, &tm) || strftime(text, sizeof(text), "%Y%m%d%H%M%SZ", &tm) != 15)
        return -1;
    if (tm.tm_year + 1900 < 2050)
        der_prim(w, MBEDTLS_ASN1_UTC_TIME, text + 2, 13);
    else
        der_prim(w, MBEDTLS_ASN1_GENERALIZED_TIME, text, 15);
    return 0;
}

/* One Extension: SEQUENCE { extnID, critical (only when TRUE), extnValue }. */
static void der_extension(der_w *w, const char *oid, size_t oid_len, int critical,
                          const unsigned char *value, size_t len)
{
    size_t opened = der_used(w);
    der_prim(w, MBEDTLS_ASN1_OCTET_STRING, value, len);
    if (critical)
        der_prim(w, MBEDTLS_ASN1_BOOLEAN, "\xff", 1);
    der_prim(w, MBEDTLS_ASN1_OID, oid, oid_len);
    der_close(w, opened, ACME__ASN1_SEQ);
}

/* The TBSCertificate of RFC 5280 4.1, v3, self-issued, into w. */
static int der_tbs(der_w *w, mbedtls_pk_context *pk, const unsigned char *serial,
                   size_t serial_len, const char *cn, int64_t not_before, int64_t not_after,
                   const unsigned char *san, size_t san_len, const unsigned char *acme_id,
                   size_t acme_id_len)
{
    size_t tbs = der_used(w);
    size_t explicit3 = der_used(w);
    size_t exts = der_used(w);
    der_extension(w, OID_ACME_IDENTIFIER, MBEDTLS_OID_SIZE(OID_ACME_IDENTIFIER), 1, acme_id,
                  acme_id_len);
    der_extension(w, MBEDTLS_OID_SUBJECT_ALT_NAME, MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME),
                  0, san, san_len);
    der_close(w, exts, ACME__ASN1_SEQ);
    der_close(w, explicit3, MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3);
    if (w->rc == 0) {
        /* SubjectPublicKeyInfo, written by mbedTLS at the end of the room
         * left. */
        int n = mbedtls_pk_write_pubkey_der(pk, w->start, (size_t)(w->p - w->start));
        if (n < 0)
            w->rc = n;
        else
            w->p -= n;
    }
    der_name(w, cn);
    size_t validity = der_used(w);
    if (der_time(w, not_after) != 0 || der_time(w, not_before) != 0)
        return -1;
    der_close(w, validity, ACME__ASN1_SEQ);
    der_name(w, cn);
    der_sig_alg(w);
    der_prim(w, MBEDTLS_ASN1_INTEGER, serial, serial_len);
    size_t version = der_used(w);
    der_prim(w, MBEDTLS_ASN1_INTEGER, "\x02", 1); /* v3 */
    der_close(w, version, MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0);
    der_close(w, tbs, ACME__ASN1_SEQ);
    return 0;
}

/* Certificate ::= SEQUENCE { tbs, signatureAlgorithm, signatureValue }:
 * tbs is signed with pk (ECDSA P-256, SHA-256) and the whole written into
 * out. */
static int der_certificate(der_w *out, mbedtls_pk_context *pk, const unsigned char *tbs,
                           size_t tbs_len)
{
    unsigned char hash[32];
    unsigned char sig[MBEDTLS_ECDSA_MAX_LEN];
    size_t sig_len = 0;
    int mrc = mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), tbs, tbs_len, hash);
    if (mrc == 0)
        mrc = ACME__PK_SIGN(pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig, sizeof(sig), &sig_len);
    if (mrc != 0)
        return mrc;
    size_t cert = der_used(out);
    size_t bits = der_used(out);
    der_raw(out, sig, sig_len);
    der_raw(out, "", 1); /* no unused bits */
    der_close(out, bits, MBEDTLS_ASN1_BIT_STRING);
    der_sig_alg(out);
    der_raw(out, tbs, tbs_len);
    der_close(out, cert, ACME__ASN1_SEQ);
    return out->rc;
}

int acme__tls_alpn_cert(const char *ident_type, const char *ident_value,
                        const unsigned char digest[32], char **cert_pem, char **key_pem,
                        acme__err *err)
{
    if (cert_pem)
        *cert_pem = NULL;
    if (key_pem)
        *key_pem = NULL;
    if (!ident_type || !ident_value || !digest || !cert_pem || !key_pem)
        return acme__fail(err, ACME_ERR_INVALID, "tls-alpn-01 certificate: NULL argument");

    /* The one SAN: SEQUENCE { [2] name } or SEQUENCE { [7] address }. */
    unsigned char ip[ACME__IP_MAX_OCTETS];
    char ip_text[ACME__IP_TEXT_SIZE];
    const char *cn = ident_value;
    const unsigned char *id = (const unsigned char *)ident_value;
    size_t id_len = strlen(ident_value);
    unsigned char tag = ACME__GN_DNS;
    if (strcmp(ident_type, "ip") == 0) {
        id_len = acme__ip_parse(ident_value, ip);
        if (!id_len || acme__ip_format(ip, id_len, ip_text, sizeof(ip_text)) != ACME_OK)
            return acme__fail(err, ACME_ERR_IDENTIFIER,
                              "tls-alpn-01 certificate: \"%.200s\" is not an IP address",
                              ident_value);
        id = ip;
        tag = ACME__GN_IP;
        cn = ip_text;
    } else if (strcmp(ident_type, "dns") == 0) {
        int ok = id_len > 0 && id_len <= 255;
        for (size_t i = 0; ok && i < id_len; i++)
            ok = id[i] > 0x20 && id[i] < 0x7f;
        if (!ok)
            return acme__fail(err, ACME_ERR_IDENTIFIER,
                              "tls-alpn-01 certificate: \"%.200s\" is not a DNS name",
                              ident_value);
    } else {
        return acme__fail(err, ACME_ERR_IDENTIFIER,
                          "tls-alpn-01 certificate: unknown identifier type \"%.50s\"",
                          ident_type);
    }
    /* 2.28 cannot parse a certificate whose issuer is empty, so a
     * self-signed one always has a CN; RFC 8737 puts no rule on it. */
    char subject[sizeof("CN=") + ACME__CN_MAX];
    snprintf(subject, sizeof(subject), "CN=%s", acme__cn_fits(cn) ? cn : "acme-tls-alpn-01");

    unsigned char san[8 + 255], *san_p = san + sizeof(san);
    int san_len = mbedtls_asn1_write_raw_buffer(&san_p, san, id, id_len);
    size_t total = san_len < 0 ? 0 : (size_t)san_len;
    int mrc = san_len;
    if (mrc >= 0 && (mrc = mbedtls_asn1_write_len(&san_p, san, id_len)) >= 0)
        total += (size_t)mrc;
    if (mrc >= 0 && (mrc = mbedtls_asn1_write_tag(&san_p, san, tag)) >= 0)
        total += (size_t)mrc;
    if (mrc >= 0 && (mrc = mbedtls_asn1_write_len(&san_p, san, total)) >= 0)
        total += (size_t)mrc;
    if (mrc >= 0 && (mrc = mbedtls_asn1_write_tag(&san_p, san, ACME__ASN1_SEQ)) >= 0)
        total += (size_t)mrc;
    if (mrc < 0)
        return acme__fail(err, ACME_ERR_CRYPTO,
                          "tls-alpn-01 certificate: cannot encode the subjectAltName");
    /* acmeIdentifier ::= OCTET STRING (SIZE (32)) */
    unsigned char acme_id[2 + 32] = { MBEDTLS_ASN1_OCTET_STRING, 32 };
    memcpy(acme_id + 2, digest, 32);

    int64_t now = acme__now();
    /* A positive 16-octet serial without a leading zero octet. */
    unsigned char serial[16];
    if (acme__rng(NULL, serial, sizeof(serial)) != 0)
        return acme__fail(err, ACME_ERR_CRYPTO, "tls-alpn-01 certificate: no random bytes");
    serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);

    /* The key comes from acme_key so that its PEM is written (and wiped)
     * by acme_key_to_pem: mbedTLS's own PEM writer frees an unwiped copy. */
    acme_key *key = NULL;
    unsigned char *tbs_buf = calloc(1, CERT_DER_SIZE), *cert_buf = calloc(1, CERT_DER_SIZE);
    char *pem = calloc(1, CERT_PEM_SIZE);
    int rc = ACME_OK;
    const char *step = "key generation";
    if (!tbs_buf || !cert_buf || !pem)
        rc = acme__fail(err, ACME_ERR_NOMEM, "tls-alpn-01 certificate: out of memory");
    else
        mrc = acme_key_generate(&key, ACME_KEY_EC256) == ACME_OK ? 0 : MBEDTLS_ERR_PK_ALLOC_FAILED;
    der_w tbs = { tbs_buf, tbs_buf + CERT_DER_SIZE, tbs_buf + CERT_DER_SIZE, 0 };
    der_w cert = { cert_buf, cert_buf + CERT_DER_SIZE, cert_buf + CERT_DER_SIZE, 0 };
    if (rc == ACME_OK && mrc == 0) {
        step = "building";
        if (der_tbs(&tbs, &key->pk, serial, sizeof(serial), subject + 3, now - VALID_BEFORE_NOW_S,
                    now + VALID_AFTER_NOW_S, san_p, total, acme_id, sizeof(acme_id)) != 0)
            rc = acme__fail(err, ACME_ERR_CRYPTO, "tls-alpn-01 certificate: clock out of range");
        mrc = tbs.rc;
    }
    if (rc == ACME_OK && mrc == 0) {
        step = "signing";
        mrc = der_certificate(&cert, &key->pk, tbs.p, der_used(&tbs));
    }
    size_t pem_len = 0;
    if (rc == ACME_OK && mrc == 0) {
        step = "PEM encoding";
        mrc = mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n",
                                       "-----END CERTIFICATE-----\n", cert.p, der_used(&cert),
                                       (unsigned char *)pem, CERT_PEM_SIZE, &pem_len);
    }
    if (rc == ACME_OK && mrc == 0 && !(*cert_pem = acme__strdup(pem)))
        rc = acme__fail(err, ACME_ERR_NOMEM, "tls-alpn-01 certificate: out of memory");
    if (rc == ACME_OK && mrc == 0 && acme_key_to_pem(key, key_pem) != ACME_OK)
        rc = acme__fail(err, ACME_ERR_CRYPTO, "tls-alpn-01 certificate: key encoding failed");
    if (rc == ACME_OK && mrc != 0)
        rc = acme__fail(err, ACME_ERR_CRYPTO,
                        "tls-alpn-01 certificate: %s failed (mbedTLS -0x%04x)", step,
                        (unsigned)-mrc);
    free(tbs_buf);
    free(cert_buf);
    free(pem);
    acme_key_free(key);
    if (rc != ACME_OK) {
        free(*cert_pem);
        acme__free_secret_str(*key_pem);
        *cert_pem = *key_pem = NULL;
    }
    return rc;
}
