/* PKCS#10 certificate signing requests on mbedTLS: building one for an
 * order (written here and signed through the key, which may be a host
 * signer), and reading the identifiers out of one a host supplies.
 *
 * The request is read with mbedTLS's ASN.1 primitives rather than
 * mbedtls_x509_csr_parse_der: 2.28 neither exposes the extensionRequest
 * attribute nor accepts an empty subject, which is what a CSR for IP
 * addresses only (or for a DNS name too long for a CN) carries. */
#include "crypto/csr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_csr.h>

#include "base/ip.h"
#include "crypto/asn1.h"
#include "crypto/x509.h"
#include "base/mbedcompat.h"
#include "base/mem.h"
#include "base/pem.h"
#include "base/rng.h"

/* Room for one DER tag and length here (1 + 1 + 4 octets), rounded up;
 * buffers take a few of them per element as slack. */
#define DER_HEADER_MAX 8
/* Key, signature and DER framing of a CSR: 4 KiB covers RSA 4096. */
#define CSR_DER_BASE 4096

/* ---- building ---------------------------------------------------------- */

/* A dNSName is an IA5String: printable ASCII without spaces here. */
static int dns_encodable(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

/* Write a tag, a length and len content octets (already in place before
 * *p when v is NULL) back to front, as mbedtls asn1write does. Adds the
 * octets written to *total; negative mbedTLS error when buf is too small. */
static int put_tlv(unsigned char **p, unsigned char *buf, unsigned char tag,
                   const unsigned char *v, size_t len, size_t *total)
{
    int rc = v ? mbedtls_asn1_write_raw_buffer(p, buf, v, len) : 0;
    if (rc < 0)
        return rc;
    size_t n = (size_t)rc;
    if ((rc = mbedtls_asn1_write_len(p, buf, len)) < 0)
        return rc;
    n += (size_t)rc;
    if ((rc = mbedtls_asn1_write_tag(p, buf, tag)) < 0)
        return rc;
    *total += n + (size_t)rc;
    return 0;
}

/* GeneralNames for the subjectAltName extension (the identifiers were
 * checked by the caller). On success *out is a new buffer whose last
 * *der_len octets, from *der, are the DER. */
static int san_der(const char *const *types, const char *const *values, size_t n,
                   unsigned char **out, unsigned char **der, size_t *der_len)
{
    size_t cap = 2 * DER_HEADER_MAX;
    for (size_t i = 0; i < n; i++)
        cap += strlen(values[i]) + 3 * DER_HEADER_MAX;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return ACME_ERR_NOMEM;
    unsigned char *p = buf + cap;
    size_t len = 0;
    int rc = 0;
    for (size_t i = n; i-- > 0 && rc == 0;) {
        unsigned char ip[ACME__IP_MAX_OCTETS];
        if (strcmp(types[i], "ip") == 0)
            rc = put_tlv(&p, buf, ACME__GN_IP, ip, acme__ip_parse(values[i], ip), &len);
        else
            rc = put_tlv(&p, buf, ACME__GN_DNS, (const unsigned char *)values[i], strlen(values[i]),
                         &len);
    }
    if (rc == 0)
        rc = put_tlv(&p, buf, ACME__ASN1_SEQ, NULL, len, &len);
    if (rc != 0) {
        free(buf);
        return ACME_ERR_CRYPTO;
    }
    *out = buf;
    *der = p;
    *der_len = len;
    return ACME_OK;
}

/* A value, then SEQUENCE { oid, value } (the shape of an Extension, an
 * Attribute and an AttributeTypeAndValue), then each of the n wrapping
 * tags in turn, innermost first. tag 0: the value is the *len octets
 * already before *p. *len grows by what is written. */
static int put_typed(unsigned char **p, unsigned char *buf, unsigned char tag,
                     const void *v, size_t vlen, const char *oid, size_t oid_len,
                     const unsigned char *wraps, size_t n, size_t *len)
{
    int rc = tag ? put_tlv(p, buf, tag, v, vlen, len) : 0;
    if (rc == 0)
        rc = put_tlv(p, buf, MBEDTLS_ASN1_OID, (const unsigned char *)oid, oid_len, len);
    if (rc == 0)
        rc = put_tlv(p, buf, ACME__ASN1_SEQ, NULL, *len, len);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = put_tlv(p, buf, wraps[i], NULL, *len, len);
    return rc;
}

/* The CertificationRequestInfo (RFC 2986 section 4.1) for key, with the
 * subject CN=cn (an empty subject when cn is NULL) and the subjectAltName
 * extension san in an extensionRequest attribute. Written by hand rather
 * than with mbedtls_x509write_csr, which signs with a private key it holds:
 * a host signer's key is not there. *cri points into buf. */
static int cri_der(acme_key *key, const char *cn, const unsigned char *san, size_t san_len,
                   unsigned char *buf, size_t cap, unsigned char **cri, size_t *cri_len)
{
    static const char ext_req[] = MBEDTLS_OID_PKCS9_CSR_EXT_REQ;
    static const char san_oid[] = MBEDTLS_OID_SUBJECT_ALT_NAME;
    static const char cn_oid[] = MBEDTLS_OID_AT_CN;
    unsigned char *p = buf + cap;
    /* attributes [0] { Attribute { extensionRequest, SET { Extensions {
     * Extension { subjectAltName, OCTET STRING } } } } }, inside out. */
    static const unsigned char ext_wraps[] = { ACME__ASN1_SEQ, ACME__ASN1_SET };
    static const unsigned char attr_wraps[] = { MBEDTLS_ASN1_CONTEXT_SPECIFIC |
                                                MBEDTLS_ASN1_CONSTRUCTED };
    size_t len = 0;
    int rc = put_typed(&p, buf, MBEDTLS_ASN1_OCTET_STRING, san, san_len, san_oid,
                       MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), ext_wraps,
                       sizeof(ext_wraps), &len);
    if (rc == 0)
        rc = put_typed(&p, buf, 0, NULL, 0, ext_req, MBEDTLS_OID_SIZE(MBEDTLS_OID_PKCS9_CSR_EXT_REQ),
                       attr_wraps, sizeof(attr_wraps), &len);
    /* subjectPKInfo: only the public key is read. */
    int n = rc == 0 ? mbedtls_pk_write_pubkey_der(&key->pk, buf, (size_t)(p - buf)) : rc;
    if (n <= 0)
        return n == 0 || n == MBEDTLS_ERR_ASN1_BUF_TOO_SMALL ? ACME_ERR_NOMEM : ACME_ERR_CRYPTO;
    p -= n;
    len += (size_t)n;
    /* subject: Name { RDN (a SET) { AttributeTypeAndValue { CN, UTF8String } } },
     * or the empty Name. */
    static const unsigned char name_wraps[] = { ACME__ASN1_SET, ACME__ASN1_SEQ };
    size_t sub = 0;
    if (cn)
        rc = put_typed(&p, buf, MBEDTLS_ASN1_UTF8_STRING, cn, strlen(cn), cn_oid,
                       MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN), name_wraps, sizeof(name_wraps), &sub);
    else
        rc = put_tlv(&p, buf, ACME__ASN1_SEQ, NULL, 0, &sub);
    len += sub;
    static const unsigned char version_1[] = { 0 }; /* v1 is 0 */
    if (rc == 0)
        rc = put_tlv(&p, buf, MBEDTLS_ASN1_INTEGER, version_1, 1, &len);
    if (rc == 0)
        rc = put_tlv(&p, buf, ACME__ASN1_SEQ, NULL, len, &len);
    if (rc != 0)
        return ACME_ERR_NOMEM;
    *cri = p;
    *cri_len = len;
    return ACME_OK;
}

/* Sign the CertificationRequestInfo through the key (an mbedTLS key or a
 * host signer alike) and append the CertificationRequest to der. buf (cap
 * octets) is scratch space. */
static int sign_cri(acme_key *key, const unsigned char *cri, size_t cri_len, unsigned char *buf,
                    size_t cap, acme__buf *der, acme__err *err)
{
    unsigned char sig[ACME__MAX_SIG];
    size_t sig_len = 0;
    int rc = acme__key_sign(key, cri, cri_len, sig, &sig_len, err);
    if (rc != ACME_OK)
        return rc;
    int rsa = mbedtls_pk_get_type(&key->pk) == MBEDTLS_PK_RSA;
    /* X.509 wants the ECDSA-Sig-Value in DER, JWS and signers r||s. */
    unsigned char ecdsa[ACME__ECDSA_DER_MAX];
    if (!rsa) {
        size_t ecdsa_len = 0;
        if (acme__ecdsa_raw_to_der(sig, sig_len / 2, ecdsa, &ecdsa_len) != 0)
            return acme__fail(err, ACME_ERR_CRYPTO, "CSR: malformed ECDSA signature");
        memcpy(sig, ecdsa, ecdsa_len);
        sig_len = ecdsa_len;
    }
    const char *oid = NULL;
    size_t oid_len = 0;
    if (mbedtls_oid_get_oid_by_sig_alg(rsa ? MBEDTLS_PK_RSA : MBEDTLS_PK_ECDSA,
                                       acme__key_md(key), &oid, &oid_len) != 0)
        return acme__fail(err, ACME_ERR_CRYPTO, "CSR: no signature algorithm for the key");
    unsigned char *p = buf + cap;
    size_t len = 0;
    int n = mbedtls_asn1_write_bitstring(&p, buf, sig, sig_len * 8);
    if (n > 0) {
        len += (size_t)n;
        /* RSA's AlgorithmIdentifier has NULL parameters (RFC 4055), ECDSA's
         * none (RFC 5758 section 3.2). */
        size_t alg = 0;
        if (rsa) {
            n = mbedtls_asn1_write_algorithm_identifier(&p, buf, oid, oid_len, 0);
            alg = n > 0 ? (size_t)n : 0;
        } else {
            n = put_tlv(&p, buf, MBEDTLS_ASN1_OID, (const unsigned char *)oid, oid_len, &alg);
            if (n == 0)
                n = put_tlv(&p, buf, ACME__ASN1_SEQ, NULL, alg, &alg);
        }
        len += alg;
    }
    if (n >= 0 && (n = mbedtls_asn1_write_raw_buffer(&p, buf, cri, cri_len)) > 0)
        len += (size_t)n;
    if (n >= 0)
        n = put_tlv(&p, buf, ACME__ASN1_SEQ, NULL, len, &len);
    if (n < 0)
        return acme__fail(err, ACME_ERR_NOMEM, "CSR: out of room (mbedTLS -0x%04x)",
                          (unsigned)-n);
    if (acme__buf_append(der, p, len) != ACME_OK)
        return acme__fail(err, ACME_ERR_NOMEM, "CSR: out of memory");
    return ACME_OK;
}

int acme__csr_build(acme_key *key, const char *const *types, const char *const *values,
                    size_t n, acme__buf *der, acme__err *err)
{
    if (!key || !der || (n && (!types || !values)))
        return acme__fail(err, ACME_ERR_INVALID, "CSR: NULL argument");
    if (n == 0)
        return acme__fail(err, ACME_ERR_INVALID, "CSR: no identifiers to request");
    const char *first_dns = NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char ip[ACME__IP_MAX_OCTETS];
        if (!types[i] || !values[i])
            return acme__fail(err, ACME_ERR_INVALID, "CSR: identifier %zu is NULL", i);
        if (strcmp(types[i], "dns") == 0) {
            if (!dns_encodable(values[i]))
                return acme__fail(err, ACME_ERR_IDENTIFIER,
                                  "CSR: DNS name \"%.200s\" is empty or has spaces, control "
                                  "or non-ASCII characters",
                                  values[i]);
            if (!first_dns)
                first_dns = values[i];
        } else if (strcmp(types[i], "ip") == 0) {
            if (!acme__ip_parse(values[i], ip))
                return acme__fail(err, ACME_ERR_IDENTIFIER,
                                  "CSR: \"%.200s\" is not an IPv4 or IPv6 address", values[i]);
        } else {
            return acme__fail(err, ACME_ERR_IDENTIFIER,
                              "CSR: unknown identifier type \"%.50s\" (\"dns\" or \"ip\")",
                              types[i]);
        }
    }

    unsigned char *san_buf = NULL, *san = NULL;
    size_t san_len = 0;
    if (san_der(types, values, n, &san_buf, &san, &san_len) != ACME_OK)
        return acme__fail(err, ACME_ERR_NOMEM, "CSR: cannot encode the subjectAltName");

    size_t cap = CSR_DER_BASE + 2 * san_len;
    unsigned char *cri_buf = malloc(cap), *out = malloc(cap);
    unsigned char *cri = NULL;
    size_t cri_len = 0;
    int rc = cri_buf && out ? ACME_OK : ACME_ERR_NOMEM;
    if (rc == ACME_OK)
        rc = cri_der(key, first_dns && acme__cn_fits(first_dns) ? first_dns : NULL, san, san_len,
                     cri_buf, cap, &cri, &cri_len);
    if (rc != ACME_OK)
        rc = acme__fail(err, rc, "CSR: cannot encode the request%s",
                        rc == ACME_ERR_NOMEM ? " (out of memory)" : "");
    else
        rc = sign_cri(key, cri, cri_len, out, cap, der, err);
    free(cri_buf);
    free(out);
    free(san_buf);
    return rc;
}

/* ---- parsing ----------------------------------------------------------- */

/* The identifiers found so far, without duplicates. */
typedef struct idlist {
    char **types;
    char **values;
    size_t n, cap;
} idlist;

static void idlist_free(idlist *l)
{
    acme__free_strv(l->types, l->n);
    acme__free_strv(l->values, l->n);
    memset(l, 0, sizeof(*l));
}

/* Add (type, value[0..len)); DNS names are lower-cased. */
static int idlist_add(idlist *l, const char *type, const char *value, size_t len)
{
    char *v = acme__strndup(value, len);
    if (!v)
        return ACME_ERR_NOMEM;
    if (strcmp(type, "dns") == 0)
        for (char *c = v; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->types[i], type) == 0 && strcmp(l->values[i], v) == 0) {
            free(v);
            return ACME_OK;
        }
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **t = realloc(l->types, cap * sizeof(*t));
        if (t)
            l->types = t;
        char **vs = t ? realloc(l->values, cap * sizeof(*vs)) : NULL;
        if (vs)
            l->values = vs;
        if (!t || !vs) {
            free(v);
            return ACME_ERR_NOMEM;
        }
        l->cap = cap;
    }
    char *t = acme__strdup(type);
    if (!t) {
        free(v);
        return ACME_ERR_NOMEM;
    }
    l->types[l->n] = t;
    l->values[l->n] = v;
    l->n++;
    return ACME_OK;
}

/* Printable ASCII without spaces: what a DNS name in a CSR may hold. */
static int dns_bytes_ok(const unsigned char *p, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (p[i] <= 0x20 || p[i] >= 0x7f)
            return 0;
    return 1;
}

static const char *general_name_kind(unsigned char tag)
{
    static const char *const names[] = {
        "otherName", "rfc822Name (email)", "dNSName", "x400Address", "directoryName",
        "ediPartyName", "uniformResourceIdentifier", "iPAddress", "registeredID",
    };
    unsigned t = tag & 0x1f;
    return (tag & 0xc0) == MBEDTLS_ASN1_CONTEXT_SPECIFIC && t < sizeof(names) / sizeof(names[0])
               ? names[t]
               : "unknown";
}

/* subjectAltName extension value: GeneralNames. */
static int read_san(unsigned char *p, const unsigned char *end, idlist *ids, acme__err *err)
{
    size_t len;
    if (mbedtls_asn1_get_tag(&p, end, &len, ACME__ASN1_SEQ) != 0 || p + len != end)
        return acme__fail(err, ACME_ERR_INVALID, "CSR: malformed subjectAltName");
    if (len == 0)
        return acme__fail(err, ACME_ERR_INVALID, "CSR: empty subjectAltName");
    while (p < end) {
        unsigned char tag = *p++;
        if (mbedtls_asn1_get_len(&p, end, &len) != 0)
            return acme__fail(err, ACME_ERR_INVALID, "CSR: malformed subjectAltName entry");
        int rc = ACME_OK;
        if (tag == ACME__GN_DNS) {
            if (!dns_bytes_ok(p, len))
                return acme__fail(err, ACME_ERR_INVALID,
                                  "CSR: a subjectAltName DNS name is empty or has spaces, "
                                  "control or non-ASCII characters");
            rc = idlist_add(ids, "dns", (const char *)p, len);
        } else if (tag == ACME__GN_IP) {
            char text[ACME__IP_TEXT_SIZE];
            if (acme__ip_format(p, len, text, sizeof(text)) != ACME_OK)
                return acme__fail(err, ACME_ERR_INVALID,
                                  "CSR: a subjectAltName IP address has %zu octets (want 4 or 16)",
                                  len);
            rc = idlist_add(ids, "ip", text, strlen(text));
        } else {
            return acme__fail(err, ACME_ERR_INVALID,
                              "CSR: the subjectAltName holds an entry of type %s; ACME "
                              "certificates name only DNS names and IP addresses",
                              general_name_kind(tag));
        }
        if (rc != ACME_OK)
            return acme__fail(err, rc, "CSR: out of memory");
        p += len;
    }
    return ACME_OK;
}

/* Extensions ::= SEQUENCE OF Extension, from the extensionRequest. */
static int read_extensions(unsigned char *p, const unsigned char *end, idlist *ids,
                           int *have_san, acme__err *err)
{
    size_t len;
    if (mbedtls_asn1_get_tag(&p, end, &len, ACME__ASN1_SEQ) != 0 || p + len != end)
        return acme__fail(err, ACME_ERR_INVALID, "CSR: malformed extensionRequest");
    while (p < end) {
        if (mbedtls_asn1_get_tag(&p, end, &len, ACME__ASN1_SEQ) != 0)
            return acme__fail(err, ACME_ERR_INVALID, "CSR: malformed extension");
        const unsigned char *ext_end = p + len;
        mbedtls_asn1_buf oid;
        int critical = 0;
        oid.tag = MBEDTLS_ASN1_OID;
        if (mbedtls_asn1_get_tag(&p, ext_end, &oid.len, MBEDTLS_ASN1_OID) != 0)
            return acme__fail(err, ACME_ERR_INVALID, "CSR: malformed extension");
        oid.p = p;
        p += oid.len;
        if (p < ext_end && *p == MBEDTLS_ASN1_BOOLEAN &&
            mbedtls_asn1_get_bool(&p, ext_end, &critical) != 0)
            return acme__fail(err, ACME_ERR_INVALID, "CSR: malformed extension");
        if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING) != 0 ||
            p + len != ext_end)
            return acme__fail(err, ACME_ERR_INVALID, "CSR: malformed extension");
        if (MBEDTLS_OID_CMP(MBEDTLS_OID_SUBJECT_ALT_NAME, &oid) == 0) {
            if (*have_san)
                return acme__fail(err, ACME_ERR_INVALID, "CSR: two subjectAltName extensions");
            *have_san = 1;
            int rc = read_san(p, ext_end, ids, err);
            if (rc != ACME_OK)
                return rc;
        }
        p = (unsigned char *)ext_end;
    }
    return ACME_OK;
}

/* attributes [0] IMPLICIT SET OF Attribute; only extensionRequest
 * (PKCS#9, RFC 2985) matters, other attributes are skipped. */
static int read_attributes(unsigned char *p, const unsigned char *end, idlist *ids,
                           int *have_san, acme__err *err)
{
    int seen = 0;
    while (p < end) {
        size_t len;
        if (mbedtls_asn1_get_tag(&p, end, &len, ACME__ASN1_SEQ) != 0)
            return acme__fail(err, ACME_ERR_INVALID, "CSR: malformed attribute");
        const unsigned char *attr_end = p + len;
        mbedtls_asn1_buf oid;
        oid.tag = MBEDTLS_ASN1_OID;
        if (mbedtls_asn1_get_tag(&p, attr_end, &oid.len, MBEDTLS_ASN1_OID) != 0)
            return acme__fail(err, ACME_ERR_INVALID, "CSR: malformed attribute");
        oid.p = p;
        p += oid.len;
        if (MBEDTLS_OID_CMP(MBEDTLS_OID_PKCS9_CSR_EXT_REQ, &oid) == 0) {
            if (seen)
                return acme__fail(err, ACME_ERR_INVALID, "CSR: two extensionRequest attributes");
            seen = 1;
            /* values SET OF Extensions, with exactly one member */
            if (mbedtls_asn1_get_tag(&p, attr_end, &len, ACME__ASN1_SET) != 0 || p + len != attr_end)
                return acme__fail(err, ACME_ERR_INVALID, "CSR: malformed extensionRequest");
            int rc = read_extensions(p, attr_end, ids, have_san, err);
            if (rc != ACME_OK)
                return rc;
        }
        p = (unsigned char *)attr_end;
    }
    return ACME_OK;
}

/* The first CN of a Name (the SEQUENCE's contents), as a dns identifier. */
static int read_subject_cn(unsigned char *p, const unsigned char *end, idlist *ids,
                           acme__err *err)
{
    while (p < end) {
        size_t len;
        if (mbedtls_asn1_get_tag(&p, end, &len, ACME__ASN1_SET) != 0)
            return acme__fail(err, ACME_ERR_INVALID, "CSR: malformed subject");
        const unsigned char *rdn_end = p + len;
        while (p < rdn_end) {
            if (mbedtls_asn1_get_tag(&p, rdn_end, &len, ACME__ASN1_SEQ) != 0)
                return acme__fail(err, ACME_ERR_INVALID, "CSR: malformed subject");
            const unsigned char *atv_end = p + len;
            mbedtls_asn1_buf oid;
            oid.tag = MBEDTLS_ASN1_OID;
            if (mbedtls_asn1_get_tag(&p, atv_end, &oid.len, MBEDTLS_ASN1_OID) != 0)
                return acme__fail(err, ACME_ERR_INVALID, "CSR: malformed subject");
            oid.p = p;
            p += oid.len;
            if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &oid) == 0) {
                if (p >= atv_end)
                    return acme__fail(err, ACME_ERR_INVALID, "CSR: malformed subject CN");
                unsigned char tag = *p++;
                if (mbedtls_asn1_get_len(&p, atv_end, &len) != 0 || p + len != atv_end)
                    return acme__fail(err, ACME_ERR_INVALID, "CSR: malformed subject CN");
                if ((tag != MBEDTLS_ASN1_UTF8_STRING && tag != MBEDTLS_ASN1_PRINTABLE_STRING &&
                     tag != MBEDTLS_ASN1_IA5_STRING && tag != MBEDTLS_ASN1_T61_STRING) ||
                    !dns_bytes_ok(p, len))
                    return acme__fail(err, ACME_ERR_INVALID,
                                      "CSR: no subjectAltName, and the subject CN is not a "
                                      "DNS name");
                if (idlist_add(ids, "dns", (const char *)p, len) != ACME_OK)
                    return acme__fail(err, ACME_ERR_NOMEM, "CSR: out of memory");
                return ACME_OK;
            }
            p = (unsigned char *)atv_end;
        }
    }
    return ACME_OK;
}

/* Check that der is one CertificationRequest (RFC 2986) with a valid
 * self-signature, and collect its identifiers. */
static int read_csr(unsigned char *der, size_t der_len, idlist *ids, acme__err *err)
{
    unsigned char *p = der;
    const unsigned char *end = der + der_len;
    size_t len;
    if (mbedtls_asn1_get_tag(&p, end, &len, ACME__ASN1_SEQ) != 0 || p + len != end)
        return acme__fail(err, ACME_ERR_INVALID, "CSR: not a DER CertificationRequest");
    /* certificationRequestInfo: the signed part */
    const unsigned char *cri = p;
    if (mbedtls_asn1_get_tag(&p, end, &len, ACME__ASN1_SEQ) != 0)
        return acme__fail(err, ACME_ERR_INVALID, "CSR: malformed CertificationRequestInfo");
    const unsigned char *cri_end = p + len;
    int version;
    if (mbedtls_asn1_get_int(&p, cri_end, &version) != 0 || version != 0)
        return acme__fail(err, ACME_ERR_INVALID, "CSR: not a version 1 (0) request");
    if (mbedtls_asn1_get_tag(&p, cri_end, &len, ACME__ASN1_SEQ) != 0)
        return acme__fail(err, ACME_ERR_INVALID, "CSR: malformed subject");
    unsigned char *subject = p, *subject_end = p + len;
    p += len;

    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int rc = ACME_OK;
    int mrc = mbedtls_pk_parse_subpubkey(&p, cri_end, &pk);
    if (mrc != 0)
        rc = acme__fail(err, ACME_ERR_INVALID,
                        "CSR: the public key does not parse (mbedTLS -0x%04x)", (unsigned)-mrc);
    unsigned char *attrs = NULL, *attrs_end = NULL;
    if (rc == ACME_OK && p < cri_end) {
        if (mbedtls_asn1_get_tag(&p, cri_end, &len,
                                 MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED) != 0) {
            rc = acme__fail(err, ACME_ERR_INVALID, "CSR: malformed attributes");
        } else {
            attrs = p;
            attrs_end = p + len;
            p = attrs_end;
        }
    }
    if (rc == ACME_OK && p != cri_end)
        rc = acme__fail(err, ACME_ERR_INVALID, "CSR: malformed CertificationRequestInfo");

    /* signatureAlgorithm and signature */
    mbedtls_asn1_buf alg, params;
    mbedtls_md_type_t md = MBEDTLS_MD_NONE;
    mbedtls_pk_type_t pk_alg = MBEDTLS_PK_NONE;
    if (rc == ACME_OK && mbedtls_asn1_get_alg(&p, end, &alg, &params) != 0)
        rc = acme__fail(err, ACME_ERR_INVALID, "CSR: malformed signature algorithm");
    if (rc == ACME_OK && (mbedtls_oid_get_sig_alg(&alg, &md, &pk_alg) != 0 ||
                          pk_alg == MBEDTLS_PK_RSASSA_PSS))
        rc = acme__fail(err, ACME_ERR_INVALID,
                        "CSR: unsupported signature algorithm (want ECDSA or RSA PKCS#1 v1.5)");
    const unsigned char *sig = NULL;
    size_t sig_len = 0;
    if (rc == ACME_OK) {
        if (mbedtls_asn1_get_bitstring_null(&p, end, &sig_len) != 0 || p + sig_len != end)
            rc = acme__fail(err, ACME_ERR_INVALID, "CSR: malformed signature");
        sig = p;
    }
    const mbedtls_md_info_t *md_info = rc == ACME_OK ? mbedtls_md_info_from_type(md) : NULL;
    if (rc == ACME_OK && !md_info)
        rc = acme__fail(err, ACME_ERR_INVALID, "CSR: the signature's hash is not available");
    if (rc == ACME_OK && !mbedtls_pk_can_do(&pk, pk_alg))
        rc = acme__fail(err, ACME_ERR_INVALID,
                        "CSR: the signature algorithm does not fit the public key");
    if (rc == ACME_OK) {
        unsigned char hash[MBEDTLS_MD_MAX_SIZE];
        mrc = mbedtls_md(md_info, cri, (size_t)(cri_end - cri), hash);
        if (mrc == 0)
            mrc = mbedtls_pk_verify(&pk, md, hash, mbedtls_md_get_size(md_info), sig, sig_len);
        if (mrc != 0)
            rc = acme__fail(err, ACME_ERR_INVALID,
                            "CSR: the self-signature does not verify (mbedTLS -0x%04x)",
                            (unsigned)-mrc);
    }
    mbedtls_pk_free(&pk);

    int have_san = 0;
    if (rc == ACME_OK && attrs)
        rc = read_attributes(attrs, attrs_end, ids, &have_san, err);
    if (rc == ACME_OK && !have_san)
        rc = read_subject_cn(subject, subject_end, ids, err);
    if (rc == ACME_OK && ids->n == 0)
        rc = acme__fail(err, ACME_ERR_INVALID,
                        "CSR: names no identifier (no subjectAltName and no subject CN)");
    return rc;
}

/* The DER inside the first CERTIFICATE REQUEST (or NEW CERTIFICATE
 * REQUEST) PEM block of pem; other blocks before it are skipped. */
static int pem_decode(const char *pem, unsigned char **der, size_t *der_len, acme__err *err)
{
    char label[ACME__PEM_MAX_LABEL + 1];
    const char *why;
    for (const char *p = pem;;) {
        int rc = acme__pem_next(p, &p, label, der, der_len, &why);
        if (rc == ACME_ERR_NOT_FOUND)
            return acme__fail(err, ACME_ERR_INVALID,
                              "CSR: not PEM (no BEGIN CERTIFICATE REQUEST line)");
        if (rc == ACME_ERR_NOMEM)
            return acme__fail(err, rc, "CSR: out of memory");
        if (rc != ACME_OK)
            return acme__fail(err, ACME_ERR_INVALID, "CSR: the PEM block is %s", why);
        if (strcmp(label, "CERTIFICATE REQUEST") == 0 ||
            strcmp(label, "NEW CERTIFICATE REQUEST") == 0)
            return ACME_OK;
        free(*der);
        *der = NULL;
    }
}

int acme__csr_parse(const char *pem, acme__buf *der, char ***types, char ***values, size_t *n,
                    acme__err *err)
{
    if (types)
        *types = NULL;
    if (values)
        *values = NULL;
    if (n)
        *n = 0;
    if (!pem || !der || !types || !values || !n)
        return acme__fail(err, ACME_ERR_INVALID, "CSR: NULL argument");
    unsigned char *bin = NULL;
    size_t bin_len = 0;
    int rc = pem_decode(pem, &bin, &bin_len, err);
    if (rc != ACME_OK)
        return rc;
    idlist ids = { 0 };
    rc = read_csr(bin, bin_len, &ids, err);
    if (rc == ACME_OK && acme__buf_append(der, bin, bin_len) != ACME_OK)
        rc = acme__fail(err, ACME_ERR_NOMEM, "CSR: out of memory");
    free(bin);
    if (rc != ACME_OK) {
        idlist_free(&ids);
        return rc;
    }
    *types = ids.types;
    *values = ids.values;
    *n = ids.n;
    return ACME_OK;
}
