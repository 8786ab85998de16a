/* Certificate signing requests (PKCS#10) on mbedTLS: building one for an
 * order, and reading the identifiers out of one a host supplies. */
#ifndef ACME_LIB_CSR_H
#define ACME_LIB_CSR_H

#include <stddef.h>

#include "base/buf.h"
#include "base/error.h"
#include "crypto/key.h"

/* Build a DER CSR signed by key (through acme__key_sign, so an mbedTLS key
 * and a host signer alike) for n identifiers (types[i] "dns" or "ip",
 * values[i] a DNS name or an IPv4/IPv6 literal). Every identifier becomes a
 * subjectAltName (dNSName, or iPAddress with the 4 or 16 address octets);
 * the subject CN is the first DNS name when it fits in 64 octets, else the
 * subject is empty. Appends the DER to der. */
int acme__csr_build(acme_key *key, const char *const *types, const char *const *values,
                    size_t n, acme__buf *der, acme__err *err);

/* Parse a CSR given as PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE
 * REQUEST") and verify its self-signature. Appends the DER to der and
 * returns the identifiers it asks for: the SAN dNSName and iPAddress entries
 * (IPs as text), or the subject CN as a dns identifier when there is no SAN
 * extension. *types and *values are arrays of *n new strings (free with
 * acme__free_strv). ACME_ERR_INVALID when it is not a valid CSR. */
int acme__csr_parse(const char *pem, acme__buf *der, char ***types, char ***values, size_t *n,
                    acme__err *err);

#endif
