/**
 * @file
 * libacme: reading certificates (what a host needs to show or decide about
 * one) and revoking them (RFC 8555 section 7.6).
 *
 * Threads: an acme_cert is read-only after parsing and may be shared.
 */
#ifndef ACME_CERTIFICATE_H
#define ACME_CERTIFICATE_H

#include "account.h"
#include "common.h"
#include "key.h"
#include "provider.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A parsed certificate chain (leaf first). */
typedef struct acme_cert acme_cert;

/**
 * Parse a PEM chain (leaf first). When `key` is not NULL the leaf must hold
 * its public key. Errors: ACME_ERR_CERTIFICATE (does not parse, no
 * certificate, key mismatch), ACME_ERR_NOMEM.
 */
ACME_API int acme_cert_parse(acme_cert **out, const char *pem, size_t len, acme_key *key);
/** Leaf notBefore, Unix seconds. */
ACME_API int64_t acme_cert_not_before(const acme_cert *c);
/** Leaf notAfter, Unix seconds. */
ACME_API int64_t acme_cert_not_after(const acme_cert *c);
/** Number of subjectAltName entries (DNS names and IP addresses) of the leaf. */
ACME_API size_t acme_cert_name_count(const acme_cert *c);
/** SAN i as text ("example.com", "192.0.2.1"), or NULL. */
ACME_API const char *acme_cert_name(const acme_cert *c, size_t i);
/** Leaf serial number as lower-case hex without leading zero octets. */
ACME_API const char *acme_cert_serial(const acme_cert *c);
/** Common name of the leaf's issuer, or NULL. */
ACME_API const char *acme_cert_issuer(const acme_cert *c);
/** Number of certificates in the chain. */
ACME_API size_t acme_cert_chain_length(const acme_cert *c);
/**
 * The ARI certificate identifier (RFC 9773 section 4.1):
 * base64url(authorityKeyIdentifier) "." base64url(serial), or NULL when
 * the leaf has no AKI.
 */
ACME_API const char *acme_cert_ari_id(const acme_cert *c);
/** Free. NULL is allowed. */
ACME_API void acme_cert_free(acme_cert *c);

/** RFC 5280 CRLReason codes accepted in revocation. */
typedef enum acme_revocation_reason {
    ACME_REASON_UNSPECIFIED = 0,
    ACME_REASON_KEY_COMPROMISE = 1,
    ACME_REASON_AFFILIATION_CHANGED = 3,
    ACME_REASON_SUPERSEDED = 4,
    ACME_REASON_CESSATION_OF_OPERATION = 5
} acme_revocation_reason;

/**
 * Revoke the leaf of `pem` with the account's key (the account must have
 * authority over the certificate's names). `reason` is an RFC 5280 reason
 * code (0-10 except 7). Errors: ACME_ERR_INVALID (reason), ACME_ERR_CERTIFICATE,
 * ACME_ERR_PROBLEM (e.g. alreadyRevoked, unauthorized, badRevocationReason).
 */
ACME_API int acme_account_revoke(acme_account *a, const char *pem, int reason);

/**
 * Revoke the leaf of `pem` with the certificate's own key (proof of
 * possession; no account needed): the request is signed with `cert_key`
 * and carries its JWK. Errors as acme_account_revoke(); the reason is in
 * acme_last_error() / acme_last_problem().
 */
ACME_API int acme_revoke_with_key(acme_provider *p, acme_key *cert_key, const char *pem,
                                  int reason);

#ifdef __cplusplus
}
#endif

#endif
