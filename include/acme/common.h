/**
 * @file
 * libacme: error codes, memory, logging and problem documents shared by
 * every module.
 *
 * Conventions used throughout the API:
 *  - Functions return ACME_OK (0) or a negative acme_error code.
 *  - Strings returned as `const char *` are borrowed from their handle and
 *    stay valid until the handle is freed (or the call that changes them).
 *  - Anything the library allocates for the caller is released with
 *    acme_free().
 *  - Input strings are copied; the caller may free them after the call.
 */
#ifndef ACME_COMMON_H
#define ACME_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ACME_BUILDING_LIBRARY) && defined(__GNUC__)
/** Marks a public declaration: exported when the library is built, plain elsewhere. */
#define ACME_API __attribute__((visibility("default")))
#else
/** Marks a public declaration: exported when the library is built, plain elsewhere. */
#define ACME_API
#endif

/**
 * Error codes. Codes are only ever appended, never renumbered.
 * acme_strerror() gives a static description; the handle that failed (or
 * acme_last_error() on the calling thread) gives the detailed message.
 */
typedef enum acme_error {
    ACME_OK = 0,
    ACME_ERR_INVALID = -1,      /**< an argument is invalid */
    ACME_ERR_NOMEM = -2,        /**< out of memory */
    ACME_ERR_IO = -3,           /**< a file could not be read or written */
    ACME_ERR_KEY_FORMAT = -4,   /**< key data in an unknown or broken format */
    ACME_ERR_CRYPTO = -5,       /**< a cryptographic operation failed */
    ACME_ERR_NETWORK = -6,      /**< the server could not be reached */
    ACME_ERR_TLS = -7,          /**< TLS failed, e.g. an untrusted server certificate */
    ACME_ERR_TIMEOUT = -8,      /**< a request or an operation took too long */
    ACME_ERR_HTTP = -9,         /**< an HTTP status the protocol does not allow here */
    ACME_ERR_PROTOCOL = -10,    /**< the server's reply breaks the protocol (bad JSON, missing field, ...) */
    ACME_ERR_TOO_LARGE = -11,   /**< a reply exceeded the size cap */
    ACME_ERR_PROBLEM = -12,     /**< the CA returned a problem document; see the problem accessors */
    ACME_ERR_UNSUPPORTED = -13, /**< the CA or the build does not offer this */
    ACME_ERR_STATE = -14,       /**< the object is not in a state that allows this call */
    ACME_ERR_CALLBACK = -15,    /**< a host callback reported failure */
    ACME_ERR_IDENTIFIER = -16,  /**< an identifier (domain name or IP) is invalid */
    ACME_ERR_NO_SOLVER = -17,   /**< no registered solver accepted any offered challenge */
    ACME_ERR_VALIDATION = -18,  /**< the CA could not validate an authorization */
    ACME_ERR_CERTIFICATE = -19, /**< a certificate or chain does not parse or does not match */
    ACME_ERR_LOCKED = -20,      /**< a lock is held by someone else */
    ACME_ERR_CORRUPT = -21,     /**< stored data is corrupt or foreign */
    ACME_ERR_NOT_FOUND = -22,   /**< the requested object does not exist */
    ACME_ERR_DECLINED = -23     /**< a callback declined (solver callbacks return this to decline) */
} acme_error;

/** Return a static, human-readable description of an error code. Never NULL. Since 0.1. */
ACME_API const char *acme_strerror(int code);

/**
 * Free memory that the library allocated for the caller (PEM text, JSON,
 * base64url strings, ...). NULL is allowed. Strings are wiped up to their
 * terminating NUL first (so binary data from acme_base64url_decode() is
 * wiped only up to its first zero byte). Since 0.1.
 */
ACME_API void acme_free(void *ptr);

/**
 * The message of the last failing libacme call on the calling thread, or ""
 * when there was none. Borrowed; valid until the next failing call on this
 * thread. Constructors that fail (and so return no handle) leave their reason
 * here. Since 0.1.
 */
ACME_API const char *acme_last_error(void);

/**
 * Room for the longest error message a handle keeps, NUL included: a
 * buffer of this size always receives a whole copy from the copy-out
 * getters (acme_provider_last_error_copy(), acme_key_last_error_copy()).
 */
#define ACME_ERROR_MAX 512

/** Problem documents (RFC 7807) returned by the CA. Opaque and read-only. */
typedef struct acme_problem acme_problem;

/**
 * Release a problem that a copy-out getter gave the caller (e.g.
 * acme_provider_last_problem_copy()). NULL is allowed. Only for those:
 * the problems of the other getters are borrowed from their handle and
 * must not be passed here. Thread-safe. Since 1.0.
 */
ACME_API void acme_problem_free(acme_problem *p);

/**
 * The CA problem behind the last failing call on the calling thread, or NULL.
 * Borrowed; valid until the next failing call on this thread. Since 0.1.
 */
ACME_API const acme_problem *acme_last_problem(void);

/** Problem type URI, e.g. "urn:ietf:params:acme:error:badNonce"; "" if absent. Since 0.1. */
ACME_API const char *acme_problem_type(const acme_problem *p);
/** Human-readable detail; "" if absent. Since 0.1. */
ACME_API const char *acme_problem_detail(const acme_problem *p);
/**
 * HTTP status of the reply that carried the problem, else the document's own "status" member, else 0.
 * Since 0.1.
 */
ACME_API int acme_problem_status(const acme_problem *p);
/** Identifier type of a subproblem ("dns", "ip"), or NULL. Since 0.1. */
ACME_API const char *acme_problem_identifier_type(const acme_problem *p);
/** Identifier value of a subproblem, or NULL. Since 0.1. */
ACME_API const char *acme_problem_identifier_value(const acme_problem *p);
/** Number of subproblems (RFC 8555 section 6.7.1). At most 256 are kept. Since 0.1. */
ACME_API size_t acme_problem_subproblem_count(const acme_problem *p);
/** Subproblem number i, or NULL when out of range. Borrowed from p. Since 0.1. */
ACME_API const acme_problem *acme_problem_subproblem(const acme_problem *p, size_t i);
/**
 * Non-zero when the problem's type is the ACME error `name`, e.g.
 * acme_problem_is(p, "badNonce") matches "urn:ietf:params:acme:error:badNonce".
 * A NULL problem matches nothing. Since 0.1.
 */
ACME_API int acme_problem_is(const acme_problem *p, const char *name);

/**
 * base64url (RFC 4648 section 5) without padding, into a new NUL-terminated
 * string released with acme_free(). Since 0.1.
 */
ACME_API int acme_base64url_encode(const void *data, size_t len, char **out);

/**
 * Decode base64url (padding optional). *out is released with acme_free()
 * and has a NUL byte after *out_len bytes for convenience.
 * Errors: ACME_ERR_INVALID on any character outside the alphabet. Since 0.1.
 */
ACME_API int acme_base64url_decode(const char *text, unsigned char **out, size_t *out_len);

/** Log levels passed to an acme_log_fn. */
typedef enum acme_log_level {
    ACME_LOG_ERROR = 0,
    ACME_LOG_WARN = 1,
    ACME_LOG_INFO = 2,
    ACME_LOG_DEBUG = 3
} acme_log_level;

/**
 * Log callback. Runs on the thread that made the library call. `message` is
 * one line without a trailing newline, borrowed for the duration of the call.
 * The library never logs private keys or HMAC secrets.
 */
typedef void (*acme_log_fn)(int level, const char *message, void *userdata);

/**
 * A clock: seconds since the Unix epoch. Used where the library decides by
 * time (renewal), so that tests and simulations can move time.
 */
typedef int64_t (*acme_clock_fn)(void *userdata);

#ifdef __cplusplus
}
#endif

#endif
