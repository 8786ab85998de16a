/**
 * @file
 * libacme: the provider, i.e. one ACME server (CA) as seen through its
 * directory, plus the replay-nonce pool and the HTTPS connection to it.
 *
 * Threads: a provider MAY be shared by several threads at once. Its nonce
 * pool and connection cache are protected internally; requests from
 * different threads run concurrently, over one HTTP/2 connection when the CA
 * offers HTTP/2 (one of the waiting threads drives them all; no thread of
 * the library's own). Reference counted: accounts keep their
 * own reference, so acme_provider_free() may be called while they live.
 *
 * Errors: every failing call on a provider (acme_revoke_with_key(); the
 * account constructors acme_account_register(), _lookup(), _load() and
 * acme_account_restore(), which have no account to report on yet) records
 * its message and CA problem on the provider. Threads share the provider,
 * so its record is read out as a copy taken under its lock
 * (acme_provider_last_error_copy(), acme_provider_last_problem_copy()),
 * never as a borrowed pointer another thread's failure could overwrite.
 * With threads, the record holds the latest failure of any of them. The
 * failure of acme_provider_new() itself, which returns no provider, is in
 * acme_last_error() / acme_last_problem() (per thread).
 */
#ifndef ACME_PROVIDER_H
#define ACME_PROVIDER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque ACME server handle. */
typedef struct acme_provider acme_provider;

/** Version of acme_provider_options this header describes. */
#define ACME_PROVIDER_OPTIONS_VERSION 1

/**
 * Options for acme_provider_new(). Initialise with
 * acme_provider_options_init(&o, ACME_PROVIDER_OPTIONS_VERSION) (or
 * ACME_PROVIDER_OPTIONS_INIT) and set only what you need; zero means "the
 * default" for every field. Fields are only ever appended: the library
 * reads only the fields of the version the struct carries.
 */
typedef struct acme_provider_options {
    unsigned int version;           /**< ACME_PROVIDER_OPTIONS_VERSION */
    const char *ca_bundle;          /**< PEM file of trust anchors for the server's HTTPS; NULL: the system's */
    long connect_timeout_ms;        /**< connection timeout; default 10000 */
    long timeout_ms;                /**< whole-request timeout; default 30000 */
    size_t max_response_bytes;      /**< larger replies fail with ACME_ERR_TOO_LARGE; default 1 MiB */
    unsigned int max_retry_after_s; /**< longest Retry-After (429/503) waited for before failing; default 30 */
    unsigned int max_retries;       /**< retries after 429/503 answered with Retry-After; default 3 */
    unsigned int max_bad_nonce_retries; /**< retries after a badNonce error; default 16 */
    const char *user_agent;         /**< product token added after "libacme/VERSION"; NULL for none */
    acme_log_fn log;                /**< log callback; NULL: no logging */
    void *log_userdata;             /**< passed to `log` */
    int log_level;                  /**< most verbose acme_log_level passed to `log`; default ACME_LOG_ERROR */
} acme_provider_options;

/**
 * Static initialiser for acme_provider_options: the defaults (all zero).
 * Designated, so that -Wmissing-field-initializers stays quiet.
 */
#define ACME_PROVIDER_OPTIONS_INIT { .version = ACME_PROVIDER_OPTIONS_VERSION }

/**
 * Fill `opts` with the defaults (all zero) and `version`, which is
 * ACME_PROVIDER_OPTIONS_VERSION of the headers the caller was built with:
 * only the fields that version has are written.
 * Errors: ACME_ERR_INVALID (NULL `opts`; `version` 0 or newer than this
 * library's), with the reason in acme_last_error().
 * Thread-safe: it touches only `opts`. Since 0.1; `version` since 0.9.
 */
ACME_API int acme_provider_options_init(acme_provider_options *opts, unsigned int version);

/**
 * Connect to the ACME server whose directory is at `directory_url` (https
 * only) and fetch the directory. `opts` may be NULL for the defaults; the
 * fields of its version are copied, later ones take their defaults.
 * Errors: ACME_ERR_INVALID (not an https URL, unknown options version),
 * ACME_ERR_NETWORK,
 * ACME_ERR_TLS (e.g. untrusted certificate), ACME_ERR_TIMEOUT,
 * ACME_ERR_TOO_LARGE, ACME_ERR_HTTP, ACME_ERR_PROTOCOL (not a directory:
 * not JSON, truncated, newNonce/newAccount/newOrder missing),
 * ACME_ERR_PROBLEM. The reason is in acme_last_error(). Since 0.1.
 */
ACME_API int acme_provider_new(acme_provider **out, const char *directory_url,
                               const acme_provider_options *opts);

/** Release the caller's reference. NULL is allowed. Since 0.1. */
ACME_API void acme_provider_free(acme_provider *p);

/** The directory URL the provider was created with. Since 0.1. */
ACME_API const char *acme_provider_directory_url(const acme_provider *p);

/**
 * The URL of a directory resource by its RFC 8555 name: "newNonce",
 * "newAccount", "newOrder", "newAuthz", "revokeCert", "keyChange",
 * "renewalInfo" (RFC 9773), or any other string member of the directory.
 * NULL when the CA does not offer it; so acme_provider_endpoint(p,
 * "renewalInfo") != NULL tells whether the CA supports ARI. Since 0.1.
 */
ACME_API const char *acme_provider_endpoint(const acme_provider *p, const char *name);

/** meta.termsOfService, or NULL. Since 0.1. */
ACME_API const char *acme_provider_terms_of_service(const acme_provider *p);
/** meta.website, or NULL. Since 0.1. */
ACME_API const char *acme_provider_website(const acme_provider *p);
/** Number of meta.caaIdentities. Since 0.1. */
ACME_API size_t acme_provider_caa_identity_count(const acme_provider *p);
/** meta.caaIdentities[i], or NULL when out of range. Since 0.1. */
ACME_API const char *acme_provider_caa_identity(const acme_provider *p, size_t i);
/** Non-zero when meta.externalAccountRequired is true. Since 0.1. */
ACME_API int acme_provider_external_account_required(const acme_provider *p);
/** Number of certificate profiles in meta.profiles (draft-ietf-acme-profiles). Since 0.1. */
ACME_API size_t acme_provider_profile_count(const acme_provider *p);
/** Name of profile i, or NULL when out of range. Since 0.1. */
ACME_API const char *acme_provider_profile_name(const acme_provider *p, size_t i);
/** Description of profile i, or NULL when out of range. Since 0.1. */
ACME_API const char *acme_provider_profile_description(const acme_provider *p, size_t i);
/** Non-zero when the directory lists a profile called `name`. Since 0.1. */
ACME_API int acme_provider_has_profile(const acme_provider *p, const char *name);

/**
 * Copy the message of the last failing call on `p` (see the top of this
 * header) into `buf` of `size` bytes, cut to fit and NUL-terminated; ""
 * when none failed. Returns the length of the whole message (as
 * snprintf() does: a result >= size means it was cut; ACME_ERROR_MAX
 * bytes always suffice), or ACME_ERR_INVALID (NULL `p`, or NULL `buf`
 * with a non-zero `size`; `buf` may be NULL with `size` 0 to ask for the
 * length). Thread-safe: the copy is taken under the provider's lock, so
 * it is whole even while other threads fail on `p`. Since 1.0.
 */
ACME_API int acme_provider_last_error_copy(const acme_provider *p, char *buf, size_t size);

/**
 * The CA problem of the last failing call on `p`, as a reference of the
 * caller's own: *out is released with acme_problem_free(), and stays valid
 * whatever later calls on `p` do. *out is NULL when that failure carried
 * no problem (or none failed). Errors: ACME_ERR_INVALID (NULL argument).
 * Thread-safe, as acme_provider_last_error_copy(). Since 1.0.
 */
ACME_API int acme_provider_last_problem_copy(const acme_provider *p, acme_problem **out);

/**
 * Counters since the provider was created: HTTP requests sent, and
 * connections libcurl opened for them (a healthy client reuses one).
 * Either pointer may be NULL. Safe to call from any thread. Since 0.1.
 */
ACME_API void acme_provider_stats(const acme_provider *p, uint64_t *requests,
                                  uint64_t *connections);

#ifdef __cplusplus
}
#endif

#endif
