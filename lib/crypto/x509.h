/* X.509 on mbedTLS: inspecting a downloaded chain, and the self-signed
 * certificate that answers a tls-alpn-01 challenge. */
#ifndef ACME_LIB_CERT_H
#define ACME_LIB_CERT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "crypto/key.h"

/* What the library needs to know about a chain (leaf first). */
typedef struct acme__chain_info {
    size_t ncerts;
    int64_t not_before;          /* leaf validity, Unix seconds (UTC) */
    int64_t not_after;
    char **san_types;            /* leaf SANs: "dns" or "ip" */
    char **san_values;           /* DNS names as written, IPs as text */
    size_t nsans;
    unsigned char serial[32];    /* leaf serial: the INTEGER's content octets */
    size_t serial_len;
    unsigned char aki[64];       /* leaf authorityKeyIdentifier keyIdentifier */
    size_t aki_len;              /* 0 when the leaf has none */
    char *top_issuer_cn;         /* issuer CN of the last certificate, or NULL */
    char *leaf_issuer_cn;        /* issuer CN of the leaf, or NULL */
} acme__chain_info;

/* Parse a PEM chain of one or more certificates (text outside the PEM
 * blocks is ignored; anything else that does not parse is an error). When
 * key is given, the leaf's public key must be key's: ACME_ERR_CERTIFICATE
 * otherwise. info may be NULL when only the checks are wanted. */
int acme__chain_inspect(const char *pem, size_t len, acme_key *key, acme__chain_info *info,
                        acme__err *err);
void acme__chain_info_free(acme__chain_info *info);

/* RFC 8737: a self-signed certificate for one identifier ("dns" name or
 * "ip" literal) as its only SAN, with the critical id-pe-acmeIdentifier
 * extension (1.3.6.1.5.5.7.1.31) holding OCTET STRING(digest), where digest
 * is SHA-256 of the key authorization. A fresh EC P-256 key signs it. Both
 * results are new PEM strings (free; the key with acme__free_secret_str). */
int acme__tls_alpn_cert(const char *ident_type, const char *ident_value,
                        const unsigned char digest[32], char **cert_pem, char **key_pem,
                        acme__err *err);

/* Whether "CN=name" passes through mbedTLS's subject-name syntax
 * unescaped on every version (2.28 escapes only ',', 3.x also reads '+',
 * '#', '\\' ...), and fits a CN (64 octets): host names, wildcards, IP
 * literals. Otherwise callers leave the CN out or use a placeholder. */
int acme__cn_fits(const char *name);
/* The longest CN (RFC 5280 ub-common-name). */
#define ACME__CN_MAX 64

/* Textual IP (v4 or v6) to network octets: 4 or 16 bytes in out[16];
 * returns the length, or 0 when text is not an IP literal. */
size_t acme__ip_parse(const char *text, unsigned char out[16]);
/* Network octets (4 or 16) to canonical text in out (at least 46 bytes). */
int acme__ip_format(const unsigned char *ip, size_t len, char *out, size_t size);

#endif
