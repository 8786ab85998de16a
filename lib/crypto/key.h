/* Keys inside the library: signing (for JWS and CSRs), the JWK, and access
 * to the mbedTLS context for CSR and certificate code. A key is either an
 * mbedTLS private key or a host signer (crypto/signer.c), whose pk holds
 * only the public key. */
#ifndef ACME_LIB_KEY_H
#define ACME_LIB_KEY_H

#include <pthread.h>
#include <stdatomic.h>

#include <mbedtls/pk.h>

#include "acme/key.h"
#include "acme/signer.h"
#include "base/buf.h"
#include "base/error.h"

struct acme_key {
    atomic_int refs;
    int type;
    /* Private-key operations hold this: RSA blinding state is mutable. */
    pthread_mutex_t lock;
    /* The key pair, or only the public key when external. */
    mbedtls_pk_context pk;
    /* A host signer (acme_key_from_signer): signing calls signer.sign. */
    int external;
    acme_signer_ops signer;
    void *signer_data;
    /* The last failure of a public call on the key, written under lock:
     * the key itself is const to those calls and may be shared. */
    acme__err err;
};

/* Largest signature of a supported key: RSA 4096 (EC P-384 r||s is 96 bytes). */
#define ACME__MAX_SIG 512

acme_key *acme__key_ref(acme_key *k);
/* Sign data with the key's algorithm (acme_key_algorithm()): hash it with
 * SHA-256 (SHA-384 for P-384), then sign, giving raw r||s for EC (the JWS
 * form) or PKCS#1 v1.5 for RSA. sig holds ACME__MAX_SIG bytes. Everything
 * the library signs (JWS, CSR) goes through here, for either kind of key. */
int acme__key_sign(acme_key *k, const void *data, size_t len, unsigned char *sig,
                   size_t *sig_len, acme__err *err);
/* The mbedTLS hash of the key's signature algorithm. */
mbedtls_md_type_t acme__key_md(const acme_key *k);
/* ECDSA signatures between the DER ECDSA-Sig-Value of X.509 and the raw
 * r || s of JWS and PKCS#11, each half coord octets (RFC 7518 3.4).
 * acme__ecdsa_raw_to_der writes at most ACME__ECDSA_DER_MAX octets. */
#define ACME__ECDSA_DER_MAX (2 * (66 + 4) + 4)
int acme__ecdsa_der_to_raw(const unsigned char *der, size_t der_len, size_t coord,
                           unsigned char *raw);
int acme__ecdsa_raw_to_der(const unsigned char *raw, size_t coord, unsigned char *der,
                           size_t *der_len);
/* Call the host signer of an external key for alg (ACME_SIG_*) and check
 * that the signature has want_len octets (crypto/signer.c). */
int acme__signer_call(acme_key *k, int alg, const void *data, size_t len,
                      const unsigned char *hash, size_t hash_len, size_t want_len,
                      unsigned char *sig, size_t *sig_len, acme__err *err);
/* Append the canonical (RFC 7638) JWK of the public key. */
int acme__key_append_jwk(const acme_key *k, acme__buf *b);
/* Canonical JWKs (RFC 7638) from raw public values, and their SHA-256
 * thumbprint; separate from acme_key so the RFC's examples can be tested. */
int acme__jwk_append_rsa(acme__buf *b, const unsigned char *n, size_t n_len,
                         const unsigned char *e, size_t e_len);
int acme__jwk_append_ec(acme__buf *b, const char *crv, const unsigned char *x,
                        const unsigned char *y, size_t coord);
int acme__jwk_thumbprint(const char *jwk, size_t len, char **b64_out);
/* Non-zero when pub (a certificate's key, say) is k's public key. */
int acme__key_matches(acme_key *k, mbedtls_pk_context *pub);
/* Wrap a parsed mbedTLS key (taking it over) after checking its type. */
int acme__key_from_pk(acme_key **out, mbedtls_pk_context *pk, acme__err *err);

/* Record the failure in why on the key as well (see struct acme_key);
 * clears why and returns its code. */
int acme__key_record(const acme_key *key, acme__err *why);

/* The public functions without "__", recording failures in err. */
int acme__key_generate(acme_key **out, int type, acme__err *err);
int acme__key_load_pem(acme_key **out, const char *pem, size_t len, acme__err *err);
int acme__key_to_pem(const acme_key *key, char **pem_out, acme__err *err);

#endif
