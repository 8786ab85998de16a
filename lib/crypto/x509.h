/* X.509 on mbedTLS: inspecting a downloaded chain, and the names that fit
 * a CN. */
#ifndef ACME_LIB_CERT_H
#define ACME_LIB_CERT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "acme/certificate.h"
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
/* acme_cert_parse, recording failures in err. */
int acme__cert_parse(acme_cert **out, const char *pem, size_t len, acme_key *key,
                     acme__err *err);

/* Whether "CN=name" passes through mbedTLS's subject-name syntax
 * unescaped on every version (2.28 escapes only ',', 3.x also reads '+',
 * '#', '\\' ...), and fits a CN (64 octets): host names, wildcards, IP
 * literals. Otherwise callers leave the CN out or use a placeholder. */
int acme__cn_fits(const char *name);
/* The longest CN (RFC 5280 ub-common-name). */
#define ACME__CN_MAX 64

#endif
