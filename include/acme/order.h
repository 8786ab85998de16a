/**
 * @file
 * libacme: orders (RFC 8555 section 7.4), from identifiers to a downloaded
 * certificate chain.
 *
 * The short way is acme_order_issue(): new order, authorizations through
 * the solvers, finalize with a CSR, download. The same steps are available
 * one by one (submit, authorize, finalize, download) for hosts that want to
 * act between them.
 *
 * State: an order is new until a submit succeeds, then submitted,
 * authorized, finalized and downloaded, in that order. A step called before
 * the one it follows fails with ACME_ERR_STATE and sends nothing. A submit
 * is all or nothing: when it fails the order is new again (no URL, no
 * authorizations) and may be submitted again. Once the CA has made the
 * order invalid (an authorization or the order itself), every step fails
 * with ACME_ERR_STATE: free it and create a new one.
 *
 * Threads: an order is used by one thread at a time. It copies what it
 * needs from its account when created (provider, key, account URL), so
 * orders of one account may run on different threads at once.
 */
#ifndef ACME_ORDER_H
#define ACME_ORDER_H

#include "account.h"
#include "common.h"
#include "key.h"
#include "solver.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Check an identifier before any request. `type` is "dns", "ip", or NULL to
 * guess (an IP literal is "ip", anything else "dns"). DNS names: ASCII
 * letters, digits and hyphens in labels of 1 to 63 octets, at most 253
 * octets, no leading or trailing hyphen in a label, not an IP literal, and
 * "*" only as the whole leftmost label. A trailing dot is refused.
 * Errors: ACME_ERR_IDENTIFIER with a message naming the identifier. Since 0.1.
 */
ACME_API int acme_identifier_check(const char *type, const char *value);

/** An opaque order. */
typedef struct acme_order acme_order;

/** Create an empty order for `account` (a reference is kept). Since 0.1. */
ACME_API int acme_order_new(acme_order **out, acme_account *account);

/**
 * Add a DNS name (wildcards "*.example.com" allowed). Checked at once: ACME_ERR_IDENTIFIER.
 * Since 0.1.
 */
ACME_API int acme_order_add_dns(acme_order *o, const char *name);
/** Add an IP address identifier (RFC 8738), IPv4 or IPv6 text. Checked at once. Since 0.1. */
ACME_API int acme_order_add_ip(acme_order *o, const char *address);
/**
 * Add an identifier, guessing its type as acme_identifier_check() does. Case is folded for DNS names.
 * Since 0.1.
 */
ACME_API int acme_order_add_identifier(acme_order *o, const char *value);

/**
 * Requested notBefore/notAfter (Unix seconds; 0 leaves either out). Most CAs refuse them.
 * Since 0.1.
 */
ACME_API int acme_order_set_validity(acme_order *o, int64_t not_before, int64_t not_after);
/**
 * Ask for a certificate profile (draft-ietf-acme-profiles). The directory
 * must list it: ACME_ERR_UNSUPPORTED at submit otherwise. NULL clears.
 * Since 0.1.
 */
ACME_API int acme_order_set_profile(acme_order *o, const char *profile);
/**
 * Prefer a certificate profile: as acme_order_set_profile(), except that
 * when the directory does not list it the order goes without "profile"
 * (the CA then picks one, which may be short-lived) and a warning is
 * logged. NULL clears. Errors: ACME_ERR_INVALID, ACME_ERR_STATE (already
 * submitted), ACME_ERR_NOMEM, recorded on the order. Threads: as every
 * call on one order, one thread at a time. Since 1.0.
 */
ACME_API int acme_order_set_profile_preferred(acme_order *o, const char *profile);
/** ARI (RFC 9773): the certificate ID this order replaces. NULL clears. Since 0.1. */
ACME_API int acme_order_set_replaces(acme_order *o, const char *cert_id);
/**
 * Finalize with this CSR (PEM) instead of building one from the
 * certificate key. When the order has no identifiers yet, they are taken
 * from the CSR's subjectAltName (and its CN when there is no SAN); otherwise
 * they must match the CSR. Errors: ACME_ERR_INVALID (not a CSR),
 * ACME_ERR_IDENTIFIER. Since 0.1.
 */
ACME_API int acme_order_set_csr(acme_order *o, const char *csr_pem);
/**
 * Prefer the chain (default or alternate, RFC 8555 7.4.2) whose topmost
 * certificate was issued by a CA with this common name; when none matches,
 * the default chain is kept. NULL clears. Since 0.1.
 */
ACME_API int acme_order_set_preferred_chain(acme_order *o, const char *issuer_cn);
/** Give up waiting for validation or issuance after `seconds` (default 300). Since 0.1. */
ACME_API int acme_order_set_timeout(acme_order *o, unsigned int seconds);
/** Non-zero: on failure, deactivate the order's pending authorizations (default off). Since 0.1. */
ACME_API int acme_order_set_deactivate_on_failure(acme_order *o, int on);

/**
 * The whole flow: acme_order_submit(), acme_order_authorize(),
 * acme_order_finalize() and acme_order_download(), each step not yet done,
 * so that an issue that failed (e.g. a timeout) can be called again.
 * `cert_key` is the certificate's key (used for the CSR and checked against
 * the issued leaf; a reference is kept); it may be NULL only when a CSR was
 * set, and must not be the account key: both are checked before any request
 * (ACME_ERR_INVALID).
 * Errors: ACME_ERR_VALIDATION (an authorization became invalid: the CA's
 * problem is attached), ACME_ERR_NO_SOLVER, ACME_ERR_CALLBACK, ACME_ERR_TIMEOUT,
 * ACME_ERR_CERTIFICATE, ACME_ERR_STATE (the order is invalid at the CA), and
 * those of the provider. Since 0.1.
 */
ACME_API int acme_order_issue(acme_order *o, const acme_solvers *solvers, acme_key *cert_key);

/**
 * Send newOrder and fetch every authorization. All or nothing: on failure
 * the order is new again and may be submitted again. Errors: ACME_ERR_STATE
 * (already submitted), ACME_ERR_INVALID (no identifiers),
 * ACME_ERR_UNSUPPORTED (a profile the CA does not offer), and those of the
 * provider. Since 0.1.
 */
ACME_API int acme_order_submit(acme_order *o);
/**
 * Satisfy every pending authorization with the solvers, then wait until
 * the order is "ready". Authorizations already valid need no solver.
 * Errors: ACME_ERR_STATE (not submitted, or invalid at the CA), and those
 * of acme_order_issue(). Since 0.1.
 */
ACME_API int acme_order_authorize(acme_order *o, const acme_solvers *solvers);
/**
 * Send the CSR (built from cert_key, or the one set) and wait for "valid".
 * Errors: ACME_ERR_STATE (not submitted, or invalid at the CA),
 * ACME_ERR_INVALID (no key and no CSR, or the account key), and those of
 * acme_order_issue(). Since 0.1.
 */
ACME_API int acme_order_finalize(acme_order *o, acme_key *cert_key);
/**
 * Download the certificate chain and its alternates, check that the leaf
 * holds the certificate key (when one was given) and pick the preferred chain.
 * Errors: ACME_ERR_STATE (not finalized), ACME_ERR_CERTIFICATE, and those of
 * the provider. Since 0.1.
 */
ACME_API int acme_order_download(acme_order *o);

/** Order URL, or NULL before submit. Since 0.1. */
ACME_API const char *acme_order_url(const acme_order *o);
/**
 * Order status: "pending", "ready", "processing", "valid", "invalid", or "" before submit.
 * Since 0.1.
 */
ACME_API const char *acme_order_status(const acme_order *o);
/** Number of identifiers. Since 0.1. */
ACME_API size_t acme_order_identifier_count(const acme_order *o);
/** Type ("dns" or "ip") of identifier i, or NULL. Since 0.1. */
ACME_API const char *acme_order_identifier_type(const acme_order *o, size_t i);
/** Value of identifier i, or NULL. Since 0.1. */
ACME_API const char *acme_order_identifier_value(const acme_order *o, size_t i);
/** Number of authorizations (after submit). Since 0.1. */
ACME_API size_t acme_order_authorization_count(const acme_order *o);
/** URL of authorization i, or NULL. Since 0.1. */
ACME_API const char *acme_order_authorization_url(const acme_order *o, size_t i);
/** Status of authorization i as last seen, or NULL. Since 0.1. */
ACME_API const char *acme_order_authorization_status(const acme_order *o, size_t i);
/**
 * Challenge type that satisfied authorization i ("" when it was already valid), or NULL.
 * Since 0.1.
 */
ACME_API const char *acme_order_authorization_challenge(const acme_order *o, size_t i);
/** Certificate URL (after finalize), or NULL. Since 0.1. */
ACME_API const char *acme_order_certificate_url(const acme_order *o);
/** The chosen chain, PEM: leaf first (after download), or NULL. Since 0.1. */
ACME_API const char *acme_order_certificate_pem(const acme_order *o);
/** Number of chains offered: the default one plus alternates (after download). Since 0.1. */
ACME_API size_t acme_order_chain_count(const acme_order *o);
/** Chain i as PEM (0 is the default chain), or NULL. Since 0.1. */
ACME_API const char *acme_order_chain_pem(const acme_order *o, size_t i);
/** Common name of the issuer of chain i's topmost certificate, or NULL. Since 0.1. */
ACME_API const char *acme_order_chain_issuer(const acme_order *o, size_t i);
/** Message of the last failure on this order, or "". Since 0.1. */
ACME_API const char *acme_order_last_error(const acme_order *o);
/** Problem document of the last failure on this order, or NULL. Since 0.1. */
ACME_API const acme_problem *acme_order_last_problem(const acme_order *o);

/** Free the order handle. NULL is allowed. Since 0.1. */
ACME_API void acme_order_free(acme_order *o);

#ifdef __cplusplus
}
#endif

#endif
