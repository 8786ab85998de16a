/* ARI renewalInfo replies (lib/renewal.c, RFC 9773 4.2): acme__ari_parse
 * on any body; a window that parses ends after it starts. */
#include "fuzz.h"

#include "lifecycle/renewal.h"

int fuzz_ari(const uint8_t *data, size_t size)
{
    acme__err err = { 0 };
    int64_t start = 0, end = 0;
    int rc = acme__ari_parse((const char *)data, size, &start, &end, &err);
    FUZZ_ASSERT(rc == ACME_OK || rc == ACME_ERR_PROTOCOL || rc == ACME_ERR_NOMEM);
    if (rc == ACME_OK)
        FUZZ_ASSERT(start < end && err.code == ACME_OK);
    else
        FUZZ_ASSERT(err.code == rc && err.msg[0]);
    acme__err_clear(&err);
    return 0;
}

FUZZ_ENTRY(ari);
