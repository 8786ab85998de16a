/**
 * @file
 * libacme: private keys (account keys and certificate keys), their JWK and
 * RFC 7638 thumbprint, and base64url.
 *
 * Threads: a key may be used by several threads at once (signing is
 * serialised inside). acme_key handles are reference counted internally:
 * objects that keep a key (an account, an order) take their own reference,
 * so the caller may free its key whenever it is done with it.
 */
#ifndef ACME_KEY_H
#define ACME_KEY_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Key types. */
typedef enum acme_key_type {
    ACME_KEY_EC256 = 1, /**< ECDSA P-256, JWS ES256 (the default) */
    ACME_KEY_EC384 = 2, /**< ECDSA P-384, JWS ES384 */
    ACME_KEY_RSA2048 = 3, /**< RSA 2048, JWS RS256 */
    ACME_KEY_RSA3072 = 4, /**< RSA 3072, JWS RS256 */
    ACME_KEY_RSA4096 = 5  /**< RSA 4096, JWS RS256 */
} acme_key_type;

/** An opaque private key. */
typedef struct acme_key acme_key;

/**
 * Generate a new key of `type` (an acme_key_type).
 * Errors: ACME_ERR_INVALID (unknown type), ACME_ERR_CRYPTO, ACME_ERR_NOMEM.
 * Since 0.1.
 */
ACME_API int acme_key_generate(acme_key **out, int type);

/**
 * Load a private key from PEM text: PKCS#8 ("PRIVATE KEY"), SEC1
 * ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY"). Encrypted keys are not
 * supported. Only the key types of acme_key_type are accepted: EC keys on
 * P-256 or P-384, RSA keys of 2048, 3072 or 4096 bits.
 * Errors: ACME_ERR_KEY_FORMAT (not a key, encrypted, unsupported curve,
 * size or algorithm). Since 0.1.
 */
ACME_API int acme_key_load_pem(acme_key **out, const char *pem, size_t len);

/**
 * Load a private key from a PEM file (see acme_key_load_pem()).
 * Errors: ACME_ERR_IO (cannot read), ACME_ERR_KEY_FORMAT. Since 0.1.
 */
ACME_API int acme_key_load_file(acme_key **out, const char *path);

/**
 * Encode the key as PEM (SEC1 for EC keys, PKCS#1 for RSA keys) into a new
 * NUL-terminated string that the caller releases with acme_free(). Since 0.1.
 */
ACME_API int acme_key_to_pem(const acme_key *key, char **pem_out);

/**
 * Write the key as PEM to `path` atomically: a temporary file in the same
 * directory with mode 0600, fsync, rename over `path`, fsync of the
 * directory. On failure `path` is untouched and no temporary file remains.
 * Errors: ACME_ERR_IO. Since 0.1.
 */
ACME_API int acme_key_save_file(const acme_key *key, const char *path);

/** The key's acme_key_type. Since 0.1. */
ACME_API int acme_key_get_type(const acme_key *key);

/** The JWS algorithm this key signs with: "ES256", "ES384" or "RS256". Static. Since 0.1. */
ACME_API const char *acme_key_algorithm(const acme_key *key);

/**
 * The public key as a JWK (RFC 7517) in the canonical form of RFC 7638
 * (required members only, sorted, no white space). New string, free with
 * acme_free(). Since 0.1.
 */
ACME_API int acme_key_jwk(const acme_key *key, char **json_out);

/**
 * The RFC 7638 JWK thumbprint (SHA-256), base64url without padding. New
 * string, free with acme_free(). Since 0.1.
 */
ACME_API int acme_key_thumbprint(const acme_key *key, char **b64_out);

/**
 * The RFC 7638 JWK thumbprint of the public key in the PKCS#10 CSR `csr_pem`
 * (the first CERTIFICATE REQUEST block), as acme_key_thumbprint() gives
 * for the key itself: so a key the library never holds (a host's, behind
 * its CSR) can be checked against acme_store_key_compromised(). The CSR is
 * read and its self-signature checked as acme_order_set_csr() does. New
 * string, free with acme_free(). Errors: ACME_ERR_INVALID (NULL argument,
 * not a CSR, a bad signature), ACME_ERR_KEY_FORMAT (a key type the library
 * does not support), ACME_ERR_NOMEM; in acme_last_error(). Thread-safe.
 * Since 1.0.
 */
ACME_API int acme_csr_key_thumbprint(const char *csr_pem, char **b64_out);

/**
 * Parse a key type name: "ec256", "ec384", "rsa2048", "rsa3072", "rsa4096"
 * (also "p256", "p384", "ecdsa", "rsa" as aliases of ec256/ec384/ec256/rsa2048).
 * Returns the acme_key_type, or ACME_ERR_INVALID. Since 0.1.
 */
ACME_API int acme_key_type_from_name(const char *name);

/**
 * The canonical name of a key type ("ec256", ...), or NULL for an unknown type. Static.
 * Since 0.1.
 */
ACME_API const char *acme_key_type_name(int type);

/**
 * The message of the last call on `key` that failed (acme_key_to_pem(),
 * acme_key_save_file(), acme_key_jwk(), acme_key_thumbprint()), or "" when
 * none has. The functions that make a key (generate, load) have no handle
 * when they fail: their message is in acme_last_error(). Borrowed: valid
 * until the next failing call on `key` or its last free. Keys have no CA
 * problem. Threads: only while no other thread calls on `key`: another
 * thread's failing call rewrites the string under the reader. A key that
 * threads share (an account's, kept by its orders too) is read with
 * acme_key_last_error_copy() instead. Since 0.9.
 */
ACME_API const char *acme_key_last_error(const acme_key *key);

/**
 * Copy the message acme_key_last_error() gives into `buf` of `size` bytes,
 * cut to fit and NUL-terminated. Returns the length of the whole message
 * (as snprintf() does: a result >= size means it was cut; ACME_ERROR_MAX
 * bytes always suffice), or ACME_ERR_INVALID (NULL `key`, or NULL `buf`
 * with a non-zero `size`; NULL `buf` with `size` 0 asks for the length).
 * Thread-safe: the copy is taken under the key's lock, so it is whole even
 * while other threads' calls on the key fail. Since 1.0.
 */
ACME_API int acme_key_last_error_copy(const acme_key *key, char *buf, size_t size);

/**
 * Release the caller's reference. The key material is wiped when the last
 * reference goes. NULL is allowed. Since 0.1.
 */
ACME_API void acme_key_free(acme_key *key);

#ifdef __cplusplus
}
#endif

#endif
