/* A PKCS#11 signer for libacme: an acme_key whose private half stays in a
 * token (an HSM, a smart card, SoftHSM). Built on p11-kit, which loads the
 * module a URI names (module-path=) or the modules the system configures
 * (p11-kit's module configuration; module-name= picks one of them).
 *
 * The key is found by an RFC 7512 URI (see p11uri.h):
 *
 *   pkcs11:token=acme;id=%01;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/acme/pin
 *
 * The URI must match exactly one private key (CKO_PRIVATE_KEY) in the
 * first token that matches it. Its public key comes from the public key
 * object with the same CKA_ID (CKA_EC_POINT), or from the private key
 * itself (RSA: CKA_MODULUS, CKA_PUBLIC_EXPONENT). Supported: EC keys on
 * P-256 (ES256), P-384 (ES384) and P-521 (ES512: the CA must accept it;
 * Let's Encrypt and Pebble do not), and RSA keys (RS256).
 *
 * Signing: ECDSA keys get CKM_ECDSA over the digest the library hands in
 * (the token returns r||s, which is the library's format); RSA keys get
 * CKM_SHA256_RSA_PKCS over the message, or CKM_RSA_PKCS over the
 * DigestInfo when the token lacks the former.
 *
 * Threads: each key holds one logged-in session, and a mutex serializes
 * the signatures made with it, so one key may be shared by threads (as a
 * desire's parallel ensure does). Open the key again for more throughput.
 * After fork(), only the parent may use the key (PKCS#11 sessions do not
 * survive into a child). The session, the module and the mutex go when the
 * key's last reference is freed (acme_key_free). */
#ifndef P11KEY_H
#define P11KEY_H

#include <stddef.h>

#include <acme.h>

/* Open the key `uri` names. Returns 0 and *out (free with acme_key_free),
 * or -1 with a one-line reason in err. The PIN (pin-value=, or the first
 * line of the pin-source= file) is used to log in and then forgotten. */
int p11_key_open(const char *uri, acme_key **out, char *err, size_t errlen);

#endif
