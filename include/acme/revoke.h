/**
 * @file
 * libacme: revoking certificates (RFC 8555 section 7.6), signed by the
 * account's key or by the certificate's own key.
 *
 * Threads: as for the account or provider handle that is passed.
 */
#ifndef ACME_REVOKE_H
#define ACME_REVOKE_H

#include "account.h"
#include "common.h"
#include "key.h"
#include "provider.h"

#ifdef __cplusplus
extern "C" {
#endif

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
 * Since 0.1.
 */
ACME_API int acme_account_revoke(acme_account *a, const char *pem, int reason);

/**
 * Revoke the leaf of `pem` with the certificate's own key (proof of
 * possession; no account needed): the request is signed with `cert_key`
 * and carries its JWK. Errors as acme_account_revoke(), ACME_ERR_INVALID
 * for a NULL argument; recorded on `p` (acme_provider_last_error_copy(),
 * acme_provider_last_problem_copy()) and in the thread's
 * acme_last_error() / acme_last_problem(). Threads: `p` may be shared;
 * `cert_key` as for any key. Since 0.1; recorded on `p` since 1.0.
 */
ACME_API int acme_revoke_with_key(acme_provider *p, acme_key *cert_key, const char *pem,
                                  int reason);

#ifdef __cplusplus
}
#endif

#endif
