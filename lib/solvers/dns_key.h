/* TSIG keys as BIND's key files write them (the parser is fuzzed). */
#ifndef ACME_LIB_DNS_KEY_H
#define ACME_LIB_DNS_KEY_H

#include <stddef.h>

#include "base/error.h"

/* Parse the first `key "name" { algorithm A; secret "S"; };` of text (len
 * bytes, not necessarily NUL-terminated). On success three new strings
 * (free the secret with acme__free_secret_str); on failure all NULL and
 * ACME_ERR_KEY_FORMAT with what is wrong, or ACME_ERR_NOMEM. */
int acme__tsig_key_parse(const char *text, size_t len, char **name, char **algorithm,
                         char **secret, acme__err *err);

/* Non-zero for the TSIG algorithms the solver signs with. */
int acme__tsig_algorithm_ok(const char *alg);

#endif
