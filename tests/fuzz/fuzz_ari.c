/* ARI renewalInfo replies (lib/lifecycle/renewal.c, RFC 9773 4.2): any
 * body through the JSON reader and acme__ari_parse, as the renewal check
 * reads a reply; a window that parses ends after it starts. */
#include "fuzz.h"

#include "lifecycle/renewal.h"
#include "net/json.h"

int fuzz_ari(const uint8_t *data, size_t size)
{
    acme__err err = { 0 };
    int64_t start = 0, end = 0;
    yajl_val v = NULL;
    int rc = acme__json_parse_object((const char *)data, size, "renewalInfo", &v, &err);
    if (rc == ACME_OK)
        rc = acme__ari_parse(v, NULL, &start, &end, &err);
    acme__json_free(v);
    FUZZ_ASSERT(rc == ACME_OK || rc == ACME_ERR_PROTOCOL || rc == ACME_ERR_NOMEM);
    if (rc == ACME_OK)
        FUZZ_ASSERT(start < end && err.code == ACME_OK);
    else
        FUZZ_ASSERT(err.code == rc && err.msg[0]);
    acme__err_clear(&err);
    return 0;
}

FUZZ_ENTRY(ari);
