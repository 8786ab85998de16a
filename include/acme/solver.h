/**
 * @file
 * libacme: challenges and solvers, the pluggable part of validation.
 *
 * A solver answers one challenge type ("http-01", "dns-01", "tls-alpn-01",
 * or any other type a CA offers) through host callbacks:
 *   present(ch)  make the answer available (write a file, set a TXT record);
 *                return ACME_OK, ACME_ERR_DECLINED to let the library try the
 *                next type the CA offered, or another negative code to fail;
 *   wait(ch)     optional: block until the answer is visible to the CA (e.g.
 *                DNS propagation); called after every present of the order;
 *   cleanup(ch)  remove the answer; called for everything that was presented,
 *                on success and on failure; acme_challenge_status() tells
 *                which (a hook's "done" or "failed").
 * Solvers are kept in the order they were added: that is the host's order of
 * preference among the types a CA offers for an authorization.
 *
 * dns-01 and shared names: a wildcard and its base name ("*.example.com" and
 * "example.com") are two authorizations whose challenges use the same TXT
 * name, "_acme-challenge.example.com", with two different values, and both
 * can be presented at once. A DNS solver must therefore add its value next
 * to any already there (an RRset of several TXT records), never replace the
 * record, and its cleanup must remove only its own value
 * (acme_challenge_dns_txt_value()): the other challenge's value stays until
 * that challenge's own cleanup.
 *
 * dns-account-01 publishes the dns-01 value under a name of its own per
 * account, so a dns-01 publisher serves it by using
 * acme_challenge_dns_txt_name(). dns-persist-01 is different: its record
 * names the CA and the account, not a token, and is published once and
 * kept; its present may find the record already there and do nothing, and
 * its cleanup leaves it in place.
 *
 * Threads: callbacks run on the thread that called acme_order_issue() or
 * acme_order_authorize(). An acme_solvers set is read-only while an order
 * uses it, so one set may serve several orders on several threads, as long
 * as the callbacks themselves are thread-safe.
 */
#ifndef ACME_SOLVER_H
#define ACME_SOLVER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One challenge of one authorization, as a read-only view for solvers. */
typedef struct acme_challenge acme_challenge;

/** Challenge type, e.g. "http-01". Since 0.1. */
ACME_API const char *acme_challenge_type(const acme_challenge *ch);
/** Challenge URL. Since 0.1. */
ACME_API const char *acme_challenge_url(const acme_challenge *ch);
/** URL of the authorization the challenge belongs to. Since 0.1. */
ACME_API const char *acme_challenge_authorization_url(const acme_challenge *ch);
/** Identifier type: "dns" or "ip". Since 0.1. */
ACME_API const char *acme_challenge_identifier_type(const acme_challenge *ch);
/** Identifier value, e.g. "example.com" (without "*." for a wildcard) or "192.0.2.1". Since 0.1. */
ACME_API const char *acme_challenge_identifier_value(const acme_challenge *ch);
/** Non-zero when the authorization is for the wildcard "*.<value>". Since 0.1. */
ACME_API int acme_challenge_wildcard(const acme_challenge *ch);
/** The challenge token (base64url, checked), or NULL when the type has none. Since 0.1. */
ACME_API const char *acme_challenge_token(const acme_challenge *ch);
/**
 * Key authorization: token "." account-key thumbprint (RFC 8555 8.1), or NULL without a token.
 * Since 0.1.
 */
ACME_API const char *acme_challenge_key_authorization(const acme_challenge *ch);
/**
 * http-01: the path to serve, "/.well-known/acme-challenge/<token>"; NULL for other types.
 * Since 0.1.
 */
ACME_API const char *acme_challenge_http_path(const acme_challenge *ch);
/**
 * The TXT record name (no trailing dot) of a DNS challenge; NULL for other types:
 *  - dns-01: "_acme-challenge.<value>";
 *  - dns-account-01 (draft-ietf-acme-dns-account-label):
 *    "_LABEL._acme-challenge.<value>", where LABEL is the lowercase,
 *    unpadded base32 of the first 10 bytes of SHA-256(account URL);
 *  - dns-persist-01 (draft-ietf-acme-dns-persist): "_validation-persist.<value>".
 * A wildcard uses its base name. A dns-01 wildcard and its base name share
 * the name: see the note on shared names at the top of this header.
 * Since 0.1 (dns-01); dns-account-01 and dns-persist-01 since 1.0.
 */
ACME_API const char *acme_challenge_dns_txt_name(const acme_challenge *ch);
/**
 * The TXT record value of a DNS challenge; NULL for other types:
 *  - dns-01 and dns-account-01: base64url(SHA-256(key authorization)), so a
 *    dns-01 publisher serves dns-account-01 unchanged apart from the name;
 *  - dns-persist-01: "ISSUER; accounturi=ACCOUNT", with
 *    "; policy=wildcard" appended for a wildcard, where ISSUER is the
 *    first of the challenge's issuer-domain-names and ACCOUNT the
 *    challenge's accounturi. This record is meant to stay published across
 *    renewals: its cleanup should not remove it. The optional
 *    "; persistUntil=SECONDS" (Unix time) is the publisher's to add.
 * Since 0.1 (dns-01); dns-account-01 and dns-persist-01 since 1.0.
 */
ACME_API const char *acme_challenge_dns_txt_value(const acme_challenge *ch);
/**
 * The account URL the challenge is bound to: for dns-persist-01 the
 * challenge's own "accounturi" (which the CA compares exactly), for other
 * types the URL of the account placing the order (NULL when unknown).
 * Borrowed: valid as long as the view. Since 1.0.
 */
ACME_API const char *acme_challenge_account_uri(const acme_challenge *ch);
/**
 * dns-persist-01: issuer domain name i of the challenge's
 * "issuer-domain-names" (lowercase domain names, checked), or NULL when i is
 * out of range or the type has none. Any of them may stand first in the
 * record; acme_challenge_dns_txt_value() uses the first. Borrowed: valid as
 * long as the view. Since 1.0.
 */
ACME_API const char *acme_challenge_issuer_domain_name(const acme_challenge *ch, size_t i);
/**
 * Set the JSON object the library POSTs to the challenge URL to ask for
 * validation (copied). Without a call it is "{}", which RFC 8555 and every
 * type the library knows want; host code answering a CA-specific or legacy
 * type that wants a payload sets it here. Call it from the solver's present
 * callback, the only time the view is the solver's own; NULL restores "{}".
 * Errors: ACME_ERR_INVALID (no view, or json is not a JSON object: the
 * response is unchanged), ACME_ERR_NOMEM; read by acme_last_error() on this
 * thread, since a view has no error record. Since 1.0.
 */
ACME_API int acme_challenge_set_response(const acme_challenge *ch, const char *json);
/**
 * The JSON object that will be (or was) POSTed to the challenge URL: "{}"
 * unless a solver set another with acme_challenge_set_response(). Borrowed:
 * valid until the next set or the end of the view. Since 1.0.
 */
ACME_API const char *acme_challenge_response(const acme_challenge *ch);
/**
 * tls-alpn-01 (RFC 8737): a self-signed certificate (PEM) with the
 * identifier as its only SAN and the critical acmeIdentifier extension
 * holding SHA-256 of the key authorization, to be served for ALPN
 * "acme-tls/1". NULL for other types or if it could not be built. Since 0.1.
 */
ACME_API const char *acme_challenge_tls_alpn_cert_pem(const acme_challenge *ch);
/** tls-alpn-01: the private key (PEM) of acme_challenge_tls_alpn_cert_pem(). Since 0.1. */
ACME_API const char *acme_challenge_tls_alpn_key_pem(const acme_challenge *ch);
/** tls-alpn-01: base64url SHA-256 of the key authorization (the extension's value). Since 0.1. */
ACME_API const char *acme_challenge_tls_alpn_digest(const acme_challenge *ch);
/**
 * The challenge object exactly as the CA sent it (JSON), for types the library does not know.
 * Since 0.1.
 */
ACME_API const char *acme_challenge_json(const acme_challenge *ch);
/**
 * Outcome of validation: "pending" until the CA has decided, then "valid"
 * or "invalid". In a cleanup callback, "valid" means the CA validated this
 * challenge; "invalid" that it refused it; "pending" that the order stopped
 * (another authorization failed, a timeout, an error) before it decided.
 * Since 0.2.
 */
ACME_API const char *acme_challenge_status(const acme_challenge *ch);

/** Make the answer available; ACME_OK, ACME_ERR_DECLINED, or a negative error. */
typedef int (*acme_solver_present_fn)(const acme_challenge *ch, void *userdata);
/** Wait until the answer is visible to the CA; ACME_OK or a negative error. */
typedef int (*acme_solver_wait_fn)(const acme_challenge *ch, void *userdata);
/** Remove the answer. */
typedef void (*acme_solver_cleanup_fn)(const acme_challenge *ch, void *userdata);

/** An ordered set of solvers. */
typedef struct acme_solvers acme_solvers;

/** Create an empty set. Since 0.1. */
ACME_API int acme_solvers_new(acme_solvers **out);

/**
 * Add a solver for challenge `type` (copied). `present` is required; `wait`
 * and `cleanup` may be NULL. Several solvers may be added for one type: they
 * are tried in order when one declines. Errors: ACME_ERR_INVALID. Since 0.1.
 */
ACME_API int acme_solvers_add(acme_solvers *s, const char *type, acme_solver_present_fn present,
                              acme_solver_wait_fn wait, acme_solver_cleanup_fn cleanup,
                              void *userdata);

/** Number of solvers in the set. Since 0.1. */
ACME_API size_t acme_solvers_count(const acme_solvers *s);

/**
 * The message of the last call on `s` that failed (acme_solvers_add(),
 * acme_solvers_add_webroot(), acme_solvers_add_http_responder(),
 * acme_solvers_add_tls_alpn_responder()), or "" when none has. Borrowed:
 * valid until the next call on `s` or its free. A solver that fails during
 * an order is reported on the order (acme_order_last_error()), not here,
 * for the set is shared read-only by the orders that use it. Calls on a set
 * have no CA problem. Threads: as for adding, one thread at a time.
 * Since 0.9.
 */
ACME_API const char *acme_solvers_last_error(const acme_solvers *s);
/**
 * Drop the caller's reference to the set. The set is reference-counted: a
 * desire keeps its own reference, so the set (with the userdata of
 * built-in solvers and its references to responders) goes when the last
 * holder lets it go; a host's own userdata is never freed. NULL is allowed. Since 0.1.
 */
ACME_API void acme_solvers_free(acme_solvers *s);

#ifdef __cplusplus
}
#endif

#endif
