/* JSON Web Signature in the flattened JSON serialisation (RFC 7515 7.2.2),
 * as ACME requests use it (RFC 8555 section 6.2). */
#ifndef ACME_LIB_JWS_H
#define ACME_LIB_JWS_H

#include <stddef.h>

#include "base/buf.h"
#include "base/error.h"
#include "crypto/key.h"

/* Sign payload (NULL: the empty payload of POST-as-GET) with key. The
 * protected header carries "kid" when kid is given, else the key's "jwk";
 * "nonce" when nonce is given (the inner JWS of keyChange has none); and
 * "url". Appends {"protected":..,"payload":..,"signature":..} to out. */
int acme__jws_sign(acme_key *key, const char *kid, const char *nonce, const char *url,
                   const char *payload, acme__buf *out, acme__err *err);

/* External Account Binding (RFC 8555 7.3.4): a JWS over the account key's
 * JWK, MACed with the CA-issued key. alg is "HS256", "HS384" or "HS512". */
int acme__jws_eab(const char *kid, const unsigned char *mac_key, size_t mac_key_len,
                  const char *alg, const acme_key *account_key, const char *url,
                  acme__buf *out, acme__err *err);

#endif
