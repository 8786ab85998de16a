/**
 * @file
 * libacme: keys whose private half the host keeps (an HSM, a TPM, a
 * PKCS#11 token, a cloud KMS). Such a key is an ordinary acme_key built
 * from the public key and a sign callback, so every call that takes an
 * acme_key (account register, lookup, rollover, revocation with the
 * certificate key, issuance's certificate key, the desire) accepts it. The
 * library never sees, stores or exports its private key.
 *
 * Algorithms: ES256 (P-256), ES384 (P-384) and RS256 (RSA 2048, 3072,
 * 4096) work end to end; every ACME CA accepts them. P-521 (ES512) and
 * Ed25519 (EdDSA) keys are refused by acme_key_from_signer(): the library
 * does not build certificate requests for them, and Let's Encrypt issues
 * for neither.
 *
 * See doc/GUIDE.md, "Signers", for what a signer must guarantee and how to
 * write one for a TPM or a KMS.
 */
#ifndef ACME_SIGNER_H
#define ACME_SIGNER_H

#include "common.h"
#include "key.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Signature algorithms a signer is asked for (JWS names in comments). */
#define ACME_SIG_ES256 1 /**< ECDSA P-256 with SHA-256 */
#define ACME_SIG_ES384 2 /**< ECDSA P-384 with SHA-384 */
#define ACME_SIG_ES512 3 /**< ECDSA P-521 with SHA-512 (not asked for yet, see above) */
#define ACME_SIG_RS256 4 /**< RSASSA-PKCS1-v1_5 with SHA-256 */
#define ACME_SIG_EDDSA 5 /**< Ed25519, pure (not asked for yet, see above) */

/** The room the library gives a sign callback for the signature. */
#define ACME_SIGNER_MAX_SIGNATURE 1024

/**
 * Sign `msg` (msg_len octets) with algorithm `alg` (an ACME_SIG_*).
 * `digest` is msg's hash under alg's hash (SHA-256, -384 or -512),
 * given so that digest-only devices (PKCS#11 CKM_ECDSA, a TPM, a KMS
 * asked for a digest signature) need not hash; NULL and 0 for
 * ACME_SIG_EDDSA. Write the signature to `sig` (sig_size is at least
 * ACME_SIGNER_MAX_SIGNATURE) and its length to `*sig_len`, in this format:
 *   - ECDSA: r || s, each big-endian and left-padded with zeros to the
 *     curve size (32 octets for P-256, 48 for P-384): what PKCS#11
 *     CKM_ECDSA returns, NOT the DER ECDSA-Sig-Value of OpenSSL;
 *   - RSA: the PKCS#1 v1.5 signature, as long as the modulus;
 *   - EdDSA: the 64 octets of RFC 8032.
 * The library checks every signature against the key's public key before
 * it uses it, so a wrong key or format fails early with a clear message.
 * Return 0, or non-zero on failure: a negative ACME_ERR_* code is passed on
 * as it is, anything else becomes ACME_ERR_CALLBACK, with the value in the
 * message.
 * Threads: called on any thread that uses a handle holding the key; when
 * the host shares the key (or handles holding it) across threads, calls
 * for the one key may run concurrently.
 */
typedef int (*acme_sign_fn)(int alg, const unsigned char *msg, size_t msg_len,
                            const unsigned char *digest, size_t digest_len, unsigned char *sig,
                            size_t sig_size, size_t *sig_len, void *userdata);

/** Release the host's state: called once, when the key's last reference goes. */
typedef void (*acme_signer_release_fn)(void *userdata);

/** Version of acme_signer_ops this header describes. */
#define ACME_SIGNER_OPS_VERSION 1

/**
 * The callbacks of a host signer. Initialise with
 * acme_signer_ops_init(&ops, ACME_SIGNER_OPS_VERSION) or
 * ACME_SIGNER_OPS_INIT, then set them. Fields are only ever appended: the
 * library reads only the fields of the version the struct carries.
 */
typedef struct acme_signer_ops {
    unsigned int version;           /**< ACME_SIGNER_OPS_VERSION */
    acme_sign_fn sign;              /**< required */
    acme_signer_release_fn release; /**< optional: called once, on the key's last free */
} acme_signer_ops;

/** Static initialiser for acme_signer_ops: no callbacks yet. */
#define ACME_SIGNER_OPS_INIT { .version = ACME_SIGNER_OPS_VERSION }

/**
 * Fill `ops` with zeros (no callbacks) and `version`, which is
 * ACME_SIGNER_OPS_VERSION of the headers the caller was built with: only
 * the fields that version has are written.
 * Errors: ACME_ERR_INVALID (NULL `ops`; `version` 0 or newer than this
 * library's), with the reason in acme_last_error().
 * Thread-safe: it touches only `ops`. Since 1.0.
 */
ACME_API int acme_signer_ops_init(acme_signer_ops *ops, unsigned int version);

/**
 * A key whose private half the host keeps: `spki_der` (spki_len octets) is
 * its public key as a DER SubjectPublicKeyInfo (what `openssl pkey -pubout
 * -outform DER`, PKCS#11's CKA_PUBLIC_KEY_INFO or a KMS's GetPublicKey
 * give), copied; the fields of `ops`'s version are copied; `userdata` is
 * passed to the callbacks. The key's type, algorithm, JWK and thumbprint
 * come from the public key. acme_key_to_pem() and acme_key_save_file()
 * refuse it. `release`, when set, is called once with `userdata` when the
 * last reference goes (objects that keep the key hold references); when
 * this call fails it is not called and `userdata` stays the host's.
 * Errors: ACME_ERR_INVALID (NULL argument, no sign callback, unknown
 * version), ACME_ERR_KEY_FORMAT (not a SubjectPublicKeyInfo; a key type
 * other than P-256, P-384 or RSA 2048/3072/4096, with the reason: Ed25519
 * and P-521 are named), ACME_ERR_NOMEM; the reason is in acme_last_error().
 * Thread-safe. Since 1.0.
 */
ACME_API int acme_key_from_signer(acme_key **out, const unsigned char *spki_der, size_t spki_len,
                                  const acme_signer_ops *ops, void *userdata);

/**
 * 1 if `key`'s private half is held by a host signer (acme_key_from_signer()),
 * 0 otherwise (and for NULL). Thread-safe. Since 1.0.
 */
ACME_API int acme_key_is_external(const acme_key *key);

/**
 * The public key of any key as a DER SubjectPublicKeyInfo, in a new buffer
 * of `*len_out` octets released with acme_free().
 * Errors: ACME_ERR_INVALID (NULL argument), ACME_ERR_CRYPTO,
 * ACME_ERR_NOMEM; recorded on the key (acme_key_last_error()).
 * Thread-safe. Since 1.0.
 */
ACME_API int acme_key_public_der(const acme_key *key, unsigned char **der_out, size_t *len_out);

#ifdef __cplusplus
}
#endif

#endif
