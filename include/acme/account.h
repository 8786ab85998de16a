/**
 * @file
 * libacme: ACME accounts (RFC 8555 section 7.3), i.e. the signer: an account
 * key plus the account URL the CA gave it.
 *
 * Threads: an account is used by one thread at a time. It keeps a reference
 * to its provider and to its key.
 *
 * Every function that fails records its message (acme_account_last_error())
 * and, when the CA answered with a problem document, the problem
 * (acme_account_last_problem()); both are also copied to the calling
 * thread's acme_last_error() / acme_last_problem(). The constructors
 * (acme_account_register(), _lookup(), _load(), acme_account_restore()),
 * which have no account when they fail, record on the provider they were
 * given instead (acme_provider_last_error_copy(); since 1.0).
 */
#ifndef ACME_ACCOUNT_H
#define ACME_ACCOUNT_H

#include "common.h"
#include "key.h"
#include "provider.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque ACME account. */
typedef struct acme_account acme_account;

/** Version of acme_account_options this header describes. */
#define ACME_ACCOUNT_OPTIONS_VERSION 1

/**
 * Options for acme_account_register(). Initialise with
 * acme_account_options_init(&o, ACME_ACCOUNT_OPTIONS_VERSION) or
 * ACME_ACCOUNT_OPTIONS_INIT; zero means "the default" for every field.
 * Fields are only ever appended: the library reads only the fields of the
 * version the struct carries.
 */
typedef struct acme_account_options {
    unsigned int version;           /**< ACME_ACCOUNT_OPTIONS_VERSION */
    const char *const *contacts;    /**< contact URLs ("mailto:a@example.com"); a bare address gets "mailto:" */
    size_t contact_count;           /**< number of entries in `contacts` */
    int agree_tos;                  /**< non-zero: the user agrees to the CA's terms of service */
    const char *eab_kid;            /**< External Account Binding key identifier, or NULL */
    const char *eab_hmac_key;       /**< EAB MAC key as the CA gives it (base64url), or NULL */
    const char *eab_algorithm;      /**< "HS256" (default when NULL), "HS384" or "HS512" */
} acme_account_options;

/**
 * Static initialiser for acme_account_options: the defaults (all zero).
 * Designated, so that -Wmissing-field-initializers stays quiet.
 */
#define ACME_ACCOUNT_OPTIONS_INIT { .version = ACME_ACCOUNT_OPTIONS_VERSION }

/**
 * Fill `opts` with the defaults (all zero) and `version`, which is
 * ACME_ACCOUNT_OPTIONS_VERSION of the headers the caller was built with:
 * only the fields that version has are written.
 * Errors: ACME_ERR_INVALID (NULL `opts`; `version` 0 or newer than this
 * library's), with the reason in acme_last_error().
 * Thread-safe: it touches only `opts`. Since 0.1; `version` since 0.9.
 */
ACME_API int acme_account_options_init(acme_account_options *opts, unsigned int version);

/**
 * Register an account for `key` (newAccount). When an account already exists
 * for the key the CA returns it, and so does this function (registration is
 * idempotent). `opts` may be NULL (no contact, terms not agreed: most CAs
 * then refuse); the fields of its version are read, later ones take their
 * defaults. An EAB is required when
 * acme_provider_external_account_required() says so.
 * Errors: ACME_ERR_INVALID (bad contact, bad EAB key, unknown options
 * version), ACME_ERR_PROBLEM
 * (the CA refused: see the problem), network errors as for the provider.
 * Since 0.1.
 */
ACME_API int acme_account_register(acme_account **out, acme_provider *p, acme_key *key,
                                   const acme_account_options *opts);

/**
 * Find the existing account of `key` (newAccount with onlyReturnExisting):
 * account recovery from the key alone.
 * Errors: ACME_ERR_PROBLEM with type accountDoesNotExist when the CA knows no
 * account for the key; as acme_account_register() otherwise. Since 0.1.
 */
ACME_API int acme_account_lookup(acme_account **out, acme_provider *p, acme_key *key);

/**
 * Make an account handle from a key and an account URL known from earlier,
 * without any request. Status and contacts stay unknown until
 * acme_account_refresh(). Errors: ACME_ERR_INVALID. Since 0.1.
 */
ACME_API int acme_account_load(acme_account **out, acme_provider *p, acme_key *key,
                               const char *url);

/** Fetch the account object again (POST-as-GET to the account URL). Since 0.1. */
ACME_API int acme_account_refresh(acme_account *a);

/**
 * Replace the account's contacts (a bare address gets "mailto:"); count 0
 * removes them all. Errors: ACME_ERR_INVALID, ACME_ERR_PROBLEM (e.g.
 * invalidContact), network errors. Since 0.1.
 */
ACME_API int acme_account_update_contacts(acme_account *a, const char *const *contacts,
                                          size_t count);

/**
 * Deactivate the account (RFC 8555 section 7.3.6). Irreversible: the CA
 * refuses every later request signed by this account with "unauthorized".
 * Since 0.1.
 */
ACME_API int acme_account_deactivate(acme_account *a);

/**
 * Key rollover (keyChange, RFC 8555 section 7.3.5): the account switches to
 * `new_key`, and this handle signs with it from now on. On failure the
 * account keeps its old key. Errors: ACME_ERR_INVALID (same key),
 * ACME_ERR_PROBLEM (e.g. the new key already has an account), network errors.
 * Since 0.1.
 */
ACME_API int acme_account_rollover(acme_account *a, acme_key *new_key);

/** Account URL (the JWS "kid"). Since 0.1. */
ACME_API const char *acme_account_url(const acme_account *a);
/** Status: "valid", "deactivated", "revoked", or "" when not yet known. Since 0.1. */
ACME_API const char *acme_account_status(const acme_account *a);
/** Number of contacts as last seen from the CA. Since 0.1. */
ACME_API size_t acme_account_contact_count(const acme_account *a);
/** Contact i (e.g. "mailto:a@example.com"), or NULL when out of range. Since 0.1. */
ACME_API const char *acme_account_contact(const acme_account *a, size_t i);
/** URL of the account's orders list, or NULL when the CA did not give one. Since 0.1. */
ACME_API const char *acme_account_orders_url(const acme_account *a);
/** The provider the account lives at. Borrowed. Since 0.1. */
ACME_API acme_provider *acme_account_provider(const acme_account *a);
/** The key the account signs with (changes after a rollover). Borrowed. Since 0.1. */
ACME_API acme_key *acme_account_key(const acme_account *a);

/** Message of the last failure on this account, or "". Since 0.1. */
ACME_API const char *acme_account_last_error(const acme_account *a);
/** Problem document of the last failure on this account, or NULL. Since 0.1. */
ACME_API const acme_problem *acme_account_last_problem(const acme_account *a);

/**
 * Drop the caller's reference to the account handle (not the account at
 * the CA). Handles are reference-counted (a desire keeps its own; an
 * order keeps the provider and key, not the account), so the handle goes
 * with the last holder. NULL is allowed. Since 0.1.
 */
ACME_API void acme_account_free(acme_account *a);

#ifdef __cplusplus
}
#endif

#endif
