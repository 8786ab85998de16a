/* Identifier checks (RFC 8555 7.1.4 "dns", RFC 8738 "ip") done before any
 * request, so that a typo is reported by name instead of by the CA. */
#ifndef ACME_LIB_IDENTIFIER_H
#define ACME_LIB_IDENTIFIER_H

#include "base/error.h"

/* Check and normalise: type NULL guesses ("ip" for an IP literal); DNS
 * names are lower-cased, IPs written canonically (RFC 5952 for IPv6).
 * *type_out and *value_out are new strings. */
int acme__identifier_normalize(const char *type, const char *value, char **type_out,
                               char **value_out, acme__err *err);

#endif
