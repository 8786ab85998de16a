/* A TSIG key file (acmectl --tsig-key, acme_tsig_key_parse_file) is outside
 * input: acme__tsig_key_parse on any bytes either fails with all outputs
 * NULL, or gives a non-empty name, an algorithm the solver signs with and
 * a non-empty secret, each a terminated string. */
#include "fuzz.h"

#include "acme/common.h"
#include "base/mem.h"
#include "solvers/dns_key.h"

int fuzz_tsig_key(const uint8_t *data, size_t size)
{
    char *name, *alg, *secret;
    acme__err err = ACME__ERR_QUIET;
    int rc = acme__tsig_key_parse((const char *)data, size, &name, &alg, &secret, &err);
    FUZZ_ASSERT(rc == ACME_OK || rc == ACME_ERR_KEY_FORMAT || rc == ACME_ERR_NOMEM);
    if (rc == ACME_OK) {
        FUZZ_ASSERT(name && alg && secret);
        FUZZ_ASSERT(fuzz_touch(name) > 0 && fuzz_touch(secret) > 0);
        FUZZ_ASSERT(acme__tsig_algorithm_ok(alg));
    } else {
        FUZZ_ASSERT(!name && !alg && !secret);
        FUZZ_ASSERT(fuzz_touch(acme__err_msg(&err)) > 0);
    }
    free(name);
    free(alg);
    acme__free_secret_str(secret);
    acme__err_clear(&err);
    return 0;
}

FUZZ_ENTRY(tsig_key);
