/**
 * @file
 * libacme: reading certificates (what a host needs to show or decide about
 * one). Revoking them is acme/revoke.h.
 *
 * Threads: an acme_cert is read-only after parsing and may be shared.
 */
#ifndef ACME_CERTIFICATE_H
#define ACME_CERTIFICATE_H

#include "common.h"
#include "key.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A parsed certificate chain (leaf first). */
typedef struct acme_cert acme_cert;

/**
 * Parse a PEM chain (leaf first). When `key` is not NULL the leaf must hold
 * its public key. Errors: ACME_ERR_CERTIFICATE (does not parse, no
 * certificate, key mismatch), ACME_ERR_NOMEM. Since 0.1.
 */
ACME_API int acme_cert_parse(acme_cert **out, const char *pem, size_t len, acme_key *key);
/** Leaf notBefore, Unix seconds. Since 0.1. */
ACME_API int64_t acme_cert_not_before(const acme_cert *c);
/** Leaf notAfter, Unix seconds. Since 0.1. */
ACME_API int64_t acme_cert_not_after(const acme_cert *c);
/** Number of subjectAltName entries (DNS names and IP addresses) of the leaf. Since 0.1. */
ACME_API size_t acme_cert_name_count(const acme_cert *c);
/** SAN i as text ("example.com", "192.0.2.1"), or NULL. Since 0.1. */
ACME_API const char *acme_cert_name(const acme_cert *c, size_t i);
/** Leaf serial number as lower-case hex without leading zero octets. Since 0.1. */
ACME_API const char *acme_cert_serial(const acme_cert *c);
/** Common name of the leaf's issuer, or NULL. Since 0.1. */
ACME_API const char *acme_cert_issuer(const acme_cert *c);
/** Number of certificates in the chain. Since 0.1. */
ACME_API size_t acme_cert_chain_length(const acme_cert *c);
/**
 * The ARI certificate identifier (RFC 9773 section 4.1):
 * base64url(authorityKeyIdentifier) "." base64url(serial), or NULL when
 * the leaf has no AKI. Since 0.1.
 */
ACME_API const char *acme_cert_ari_id(const acme_cert *c);
/** Free. NULL is allowed. Since 0.1. */
ACME_API void acme_cert_free(acme_cert *c);

#ifdef __cplusplus
}
#endif

#endif
