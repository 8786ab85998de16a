/* The self-signed certificate that answers a tls-alpn-01 challenge. */
#ifndef ACME_LIB_TLS_ALPN_CERT_H
#define ACME_LIB_TLS_ALPN_CERT_H

#include "base/error.h"

/* RFC 8737: a self-signed certificate for one identifier ("dns" name or
 * "ip" literal) as its only SAN, with the critical id-pe-acmeIdentifier
 * extension (1.3.6.1.5.5.7.1.31) holding OCTET STRING(digest), where digest
 * is SHA-256 of the key authorization. A fresh EC P-256 key signs it. Both
 * results are new PEM strings (free; the key with acme__free_secret_str). */
int acme__tls_alpn_cert(const char *ident_type, const char *ident_value,
                        const unsigned char digest[32], char **cert_pem, char **key_pem,
                        acme__err *err);

#endif
