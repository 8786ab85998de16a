/* X.509 on mbedTLS: inspecting a downloaded PEM chain, and which names
 * fit a certificate's CN.
 *
 * Extensions mbedTLS 2.28 does not hand out (authorityKeyIdentifier, the
 * iPAddress SANs) are read from the leaf's raw DER, which works the same
 * on 2.28 and 3.x. */
#include "crypto/x509.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "base/clock.h"
#include "base/ip.h"
#include "base/mbedcompat.h"
#include "base/mem.h"
#include "base/pem.h"
#include "crypto/asn1.h"

/* AuthorityKeyIdentifier keyIdentifier [0] IMPLICIT OCTET STRING. */
#define AKI_KEYID (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0)

/* ---- chain inspection ---------------------------------------------------- */

static int64_t x509_time_unix(const mbedtls_x509_time *t)
{
    return acme__civil_to_unix(t->year, t->mon, t->day, t->hour, t->min, t->sec);
}

/* A new string with the first CN of name, or NULL (*nomem set when the
 * copy failed). */
static char *name_cn(const mbedtls_x509_name *name, int *nomem)
{
    for (; name; name = name->next) {
        if (name->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &name->oid) == 0) {
            char *cn = acme__strndup((const char *)name->val.p, name->val.len);
            if (!cn)
                *nomem = 1;
            return cn;
        }
    }
    return NULL;
}

/* Find the extension oid in a certificate's raw v3 extensions (mbedTLS
 * points v3_ext at the Extensions SEQUENCE, inside the [3] wrapper; the
 * wrapper is skipped too if present). Returns 1 with its value, 0 when
 * absent, -1 when the DER is malformed. */
static int find_extension(const mbedtls_x509_buf *v3, const char *oid, size_t oid_len,
                          unsigned char **val, size_t *val_len)
{
    if (!v3->p || v3->len == 0)
        return 0;
    unsigned char *p = v3->p;
    const unsigned char *end = v3->p + v3->len;
    size_t len;
    if (*p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3) &&
        mbedtls_asn1_get_tag(&p, end, &len,
                             MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3) != 0)
        return -1;
    if (mbedtls_asn1_get_tag(&p, end, &len, ACME__ASN1_SEQ) != 0)
        return -1;
    end = p + len;
    int found = 0;
    while (p < end) {
        if (mbedtls_asn1_get_tag(&p, end, &len, ACME__ASN1_SEQ) != 0)
            return -1;
        const unsigned char *ext_end = p + len;
        if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OID) != 0)
            return -1;
        int match = len == oid_len && memcmp(p, oid, oid_len) == 0;
        p += len;
        int critical;
        if (p < ext_end && *p == MBEDTLS_ASN1_BOOLEAN &&
            mbedtls_asn1_get_bool(&p, ext_end, &critical) != 0)
            return -1;
        if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING) != 0 ||
            p + len != ext_end)
            return -1;
        if (match) {
            if (found)
                return -1; /* RFC 5280: an extension appears at most once */
            found = 1;
            *val = p;
            *val_len = len;
        }
        p = (unsigned char *)ext_end;
    }
    return found;
}

/* The leaf's dNSName and iPAddress SANs (other kinds are skipped). */
static int read_sans(unsigned char *p, size_t ext_len, acme__chain_info *info, acme__err *err)
{
    const unsigned char *end = p + ext_len;
    size_t len;
    if (mbedtls_asn1_get_tag(&p, end, &len, ACME__ASN1_SEQ) != 0 || p + len != end)
        return acme__fail(err, ACME_ERR_CERTIFICATE,
                          "certificate chain: the leaf's subjectAltName is malformed");
    size_t cap = 0;
    while (p < end) {
        unsigned char tag = *p++;
        if (mbedtls_asn1_get_len(&p, end, &len) != 0)
            return acme__fail(err, ACME_ERR_CERTIFICATE,
                              "certificate chain: the leaf's subjectAltName is malformed");
        char text[ACME__IP_TEXT_SIZE];
        const char *type = NULL, *value = NULL;
        size_t value_len = 0;
        if (tag == ACME__GN_DNS) {
            if (len == 0 || memchr(p, 0, len))
                return acme__fail(err, ACME_ERR_CERTIFICATE,
                                  "certificate chain: the leaf has an empty or NUL-containing "
                                  "DNS name");
            type = "dns";
            value = (const char *)p;
            value_len = len;
        } else if (tag == ACME__GN_IP) {
            if (acme__ip_format(p, len, text, sizeof(text)) != ACME_OK)
                return acme__fail(err, ACME_ERR_CERTIFICATE,
                                  "certificate chain: the leaf has an IP address SAN of %zu "
                                  "octets",
                                  len);
            type = "ip";
            value = text;
            value_len = strlen(text);
        }
        p += len;
        if (!type)
            continue;
        if (info->nsans == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            char **t = realloc(info->san_types, ncap * sizeof(*t));
            if (t)
                info->san_types = t;
            char **v = t ? realloc(info->san_values, ncap * sizeof(*v)) : NULL;
            if (v)
                info->san_values = v;
            if (!t || !v)
                return acme__fail(err, ACME_ERR_NOMEM, "certificate chain: out of memory");
            cap = ncap;
        }
        char *ts = acme__strdup(type);
        char *vs = acme__strndup(value, value_len);
        if (!ts || !vs) {
            free(ts);
            free(vs);
            return acme__fail(err, ACME_ERR_NOMEM, "certificate chain: out of memory");
        }
        info->san_types[info->nsans] = ts;
        info->san_values[info->nsans] = vs;
        info->nsans++;
    }
    return ACME_OK;
}

/* AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] OPTIONAL, ... } */
static int read_aki(unsigned char *p, size_t ext_len, acme__chain_info *info, acme__err *err)
{
    const unsigned char *end = p + ext_len;
    size_t len;
    if (mbedtls_asn1_get_tag(&p, end, &len, ACME__ASN1_SEQ) != 0 || p + len != end)
        return acme__fail(err, ACME_ERR_CERTIFICATE,
                          "certificate chain: the leaf's authorityKeyIdentifier is malformed");
    if (p == end || *p != AKI_KEYID)
        return ACME_OK;
    if (mbedtls_asn1_get_tag(&p, end, &len, AKI_KEYID) != 0)
        return acme__fail(err, ACME_ERR_CERTIFICATE,
                          "certificate chain: the leaf's authorityKeyIdentifier is malformed");
    if (len > sizeof(info->aki))
        return acme__fail(err, ACME_ERR_CERTIFICATE,
                          "certificate chain: the leaf's authority key identifier has %zu "
                          "octets (at most %zu supported)",
                          len, sizeof(info->aki));
    memcpy(info->aki, p, len);
    info->aki_len = len;
    return ACME_OK;
}

static int fill_info(const mbedtls_x509_crt *chain, size_t ncerts, acme__chain_info *info,
                     acme__err *err)
{
    const mbedtls_x509_crt *leaf = chain, *top = chain;
    while (top->next && top->next->raw.p)
        top = top->next;
    info->ncerts = ncerts;
    info->not_before = x509_time_unix(&leaf->valid_from);
    info->not_after = x509_time_unix(&leaf->valid_to);
    if (leaf->serial.len > sizeof(info->serial))
        return acme__fail(err, ACME_ERR_CERTIFICATE,
                          "certificate chain: the leaf's serial number has %zu octets (at most "
                          "%zu supported)",
                          leaf->serial.len, sizeof(info->serial));
    memcpy(info->serial, leaf->serial.p, leaf->serial.len);
    info->serial_len = leaf->serial.len;

    unsigned char *val = NULL;
    size_t val_len = 0;
    int found = find_extension(&leaf->v3_ext, MBEDTLS_OID_SUBJECT_ALT_NAME,
                               MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), &val, &val_len);
    int rc = ACME_OK;
    if (found < 0)
        return acme__fail(err, ACME_ERR_CERTIFICATE,
                          "certificate chain: the leaf's extensions are malformed");
    if (found)
        rc = read_sans(val, val_len, info, err);
    if (rc != ACME_OK)
        return rc;
    found = find_extension(&leaf->v3_ext, MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER,
                           MBEDTLS_OID_SIZE(MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER), &val, &val_len);
    if (found < 0)
        return acme__fail(err, ACME_ERR_CERTIFICATE,
                          "certificate chain: the leaf's extensions are malformed");
    if (found)
        rc = read_aki(val, val_len, info, err);
    if (rc != ACME_OK)
        return rc;

    int nomem = 0;
    info->leaf_issuer_cn = name_cn(&leaf->issuer, &nomem);
    info->top_issuer_cn = name_cn(&top->issuer, &nomem);
    if (nomem)
        return acme__fail(err, ACME_ERR_NOMEM, "certificate chain: out of memory");
    return ACME_OK;
}

/* Inspection is not path validation: extensions mbedTLS does not know are
 * accepted even when critical (2.28 cannot even read authorityKeyIdentifier
 * or nameConstraints), so that a chain is never refused for a limit of the
 * parser. The TLS stack that later uses the chain does the validation. */
static int accept_extension(void *ctx, mbedtls_x509_crt const *crt, mbedtls_x509_buf const *oid,
                            int critical, const unsigned char *p, const unsigned char *end)
{
    (void)ctx;
    (void)crt;
    (void)oid;
    (void)critical;
    (void)p;
    (void)end;
    return 0;
}

/* Parse the next PEM block of text into chain; *next is set after it.
 * index counts from 1. ACME_ERR_NOT_FOUND when no block is left. */
static int parse_block(const char *text, const char **next, size_t index, mbedtls_x509_crt *chain,
                       acme__err *err)
{
    char label[ACME__PEM_MAX_LABEL + 1];
    unsigned char *der;
    size_t n;
    const char *why;
    int rc = acme__pem_next(text, next, label, &der, &n, &why);
    if (rc == ACME_ERR_NOT_FOUND)
        return rc;
    if (rc == ACME_ERR_NOMEM)
        return acme__fail(err, rc, "certificate chain: out of memory");
    if (rc != ACME_OK)
        return acme__fail(err, ACME_ERR_CERTIFICATE, "certificate chain: PEM block %zu is %s",
                          index, why);
    if (strcmp(label, "CERTIFICATE") != 0) {
        free(der);
        return acme__fail(err, ACME_ERR_CERTIFICATE,
                          "certificate chain: PEM block %zu is a \"%s\", not a CERTIFICATE",
                          index, label);
    }
    int mrc = mbedtls_x509_crt_parse_der_with_ext_cb(chain, der, n, 1, accept_extension, NULL);
    free(der);
    if (mrc == MBEDTLS_ERR_X509_ALLOC_FAILED)
        return acme__fail(err, ACME_ERR_NOMEM, "certificate chain: out of memory");
    if (mrc != 0)
        return acme__fail(err, ACME_ERR_CERTIFICATE,
                          "certificate chain: certificate %zu does not parse (mbedTLS -0x%04x)",
                          index, (unsigned)-mrc);
    return ACME_OK;
}

int acme__chain_inspect(const char *pem, size_t len, acme_key *key, acme__chain_info *info,
                        acme__err *err)
{
    if (info)
        memset(info, 0, sizeof(*info));
    if (!pem && len)
        return acme__fail(err, ACME_ERR_INVALID, "certificate chain: NULL argument");
    /* A NUL terminator counted in len is fine; NUL bytes inside are not. */
    while (len > 0 && pem[len - 1] == '\0')
        len--;
    if (len > 0 && memchr(pem, '\0', len))
        return acme__fail(err, ACME_ERR_CERTIFICATE, "certificate chain: contains a NUL byte");
    char *text = acme__strndup(len ? pem : "", len);
    if (!text)
        return acme__fail(err, ACME_ERR_NOMEM, "certificate chain: out of memory");

    mbedtls_x509_crt chain;
    mbedtls_x509_crt_init(&chain);
    int rc = ACME_OK;
    size_t ncerts = 0;
    for (const char *p = text; rc == ACME_OK;) {
        rc = parse_block(p, &p, ncerts + 1, &chain, err);
        if (rc == ACME_OK)
            ncerts++;
    }
    if (rc == ACME_ERR_NOT_FOUND)
        rc = ACME_OK;
    free(text);
    if (rc == ACME_OK && ncerts == 0)
        rc = acme__fail(err, ACME_ERR_CERTIFICATE,
                        "certificate chain: no PEM CERTIFICATE block found");
    if (rc == ACME_OK && key && !acme__key_matches(key, &chain.pk))
        rc = acme__fail(err, ACME_ERR_CERTIFICATE,
                        "certificate chain: the leaf certificate is for another public key than "
                        "the certificate key");
    if (rc == ACME_OK && info)
        rc = fill_info(&chain, ncerts, info, err);
    mbedtls_x509_crt_free(&chain);
    if (rc != ACME_OK)
        acme__chain_info_free(info);
    return rc;
}

void acme__chain_info_free(acme__chain_info *info)
{
    if (!info)
        return;
    acme__free_strv(info->san_types, info->nsans);
    acme__free_strv(info->san_values, info->nsans);
    free(info->top_issuer_cn);
    free(info->leaf_issuer_cn);
    memset(info, 0, sizeof(*info));
}

/* ---- names ----------------------------------------------------------------- */

int acme__cn_fits(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > ACME__CN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || c == '*' || c == ':'))
            return 0;
    }
    return 1;
}
