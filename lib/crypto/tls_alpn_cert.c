/* The self-signed certificate that answers a tls-alpn-01 challenge
 * (RFC 8737 section 3). */
#include "crypto/tls_alpn_cert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

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
/* Room for the PEM of a P-256 certificate with one SAN. */
#define CERT_PEM_SIZE 4096

/* "YYYYMMDDhhmmss" in UTC, as mbedtls_x509write_crt_set_validity wants. */
static int format_time(int64_t t, char out[16])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm))
        return -1;
    return strftime(out, 16, "%Y%m%d%H%M%S", &tm) == 14 ? 0 : -1;
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

    char not_before[16], not_after[16];
    int64_t now = acme__now();
    if (format_time(now - VALID_BEFORE_NOW_S, not_before) != 0 ||
        format_time(now + VALID_AFTER_NOW_S, not_after) != 0)
        return acme__fail(err, ACME_ERR_CRYPTO, "tls-alpn-01 certificate: clock out of range");
    /* A positive 16-octet serial without a leading zero octet. */
    unsigned char serial[16];
    if (acme__rng(NULL, serial, sizeof(serial)) != 0)
        return acme__fail(err, ACME_ERR_CRYPTO, "tls-alpn-01 certificate: no random bytes");
    serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);

    /* The key comes from acme_key so that its PEM is written (and wiped)
     * by acme_key_to_pem: mbedTLS's own PEM writer frees an unwiped copy. */
    acme_key *key = NULL;
    mbedtls_x509write_cert w;
    mbedtls_x509write_crt_init(&w);
    unsigned char *buf = NULL;
    const size_t buf_size = CERT_PEM_SIZE;
    int rc = ACME_OK;
    const char *step = "key generation";
    mrc = acme_key_generate(&key, ACME_KEY_EC256) == ACME_OK ? 0 : MBEDTLS_ERR_PK_ALLOC_FAILED;
    if (mrc == 0) {
        step = "building";
        mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
        mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
        mbedtls_x509write_crt_set_subject_key(&w, &key->pk);
        mbedtls_x509write_crt_set_issuer_key(&w, &key->pk);
        mrc = acme__x509write_crt_set_serial(&w, serial, sizeof(serial));
    }
    if (mrc == 0)
        mrc = mbedtls_x509write_crt_set_subject_name(&w, subject);
    if (mrc == 0)
        mrc = mbedtls_x509write_crt_set_issuer_name(&w, subject);
    if (mrc == 0)
        mrc = mbedtls_x509write_crt_set_validity(&w, not_before, not_after);
    if (mrc == 0)
        mrc = mbedtls_x509write_crt_set_extension(&w, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME),
                                                  0, san_p, total);
    if (mrc == 0)
        mrc = mbedtls_x509write_crt_set_extension(&w, OID_ACME_IDENTIFIER,
                                                  MBEDTLS_OID_SIZE(OID_ACME_IDENTIFIER), 1,
                                                  acme_id, sizeof(acme_id));
    if (mrc == 0 && !(buf = calloc(1, buf_size)))
        rc = acme__fail(err, ACME_ERR_NOMEM, "tls-alpn-01 certificate: out of memory");
    if (mrc == 0 && rc == ACME_OK) {
        step = "signing";
        mrc = mbedtls_x509write_crt_pem(&w, buf, buf_size, acme__rng, NULL);
    }
    if (mrc == 0 && rc == ACME_OK && !(*cert_pem = acme__strdup((char *)buf)))
        rc = acme__fail(err, ACME_ERR_NOMEM, "tls-alpn-01 certificate: out of memory");
    if (mrc == 0 && rc == ACME_OK && acme_key_to_pem(key, key_pem) != ACME_OK)
        rc = acme__fail(err, ACME_ERR_CRYPTO, "tls-alpn-01 certificate: key encoding failed");
    if (mrc != 0)
        rc = acme__fail(err, ACME_ERR_CRYPTO,
                        "tls-alpn-01 certificate: %s failed (mbedTLS -0x%04x)", step,
                        (unsigned)-mrc);
    if (buf) {
        acme__wipe(buf, buf_size);
        free(buf);
    }
    mbedtls_x509write_crt_free(&w);
    acme_key_free(key);
    if (rc != ACME_OK) {
        free(*cert_pem);
        acme__free_secret_str(*key_pem);
        *cert_pem = *key_pem = NULL;
    }
    return rc;
}
