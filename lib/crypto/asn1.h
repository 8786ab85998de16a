/* ASN.1 tags that the CSR writer, the chain reader and the tls-alpn-01
 * certificate builder share (RFC 5280). */
#ifndef ACME_LIB_ASN1_H
#define ACME_LIB_ASN1_H

#include <mbedtls/asn1.h>

#define ACME__ASN1_SEQ (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)
#define ACME__ASN1_SET (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET)
/* GeneralName choices (section 4.2.1.6), IMPLICIT tags. */
#define ACME__GN_DNS (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2)
#define ACME__GN_IP (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7)

#endif
