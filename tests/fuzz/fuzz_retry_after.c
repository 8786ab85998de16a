/* Retry-After (lib/http.c, RFC 9110 10.2.3): acme__http_parse_retry_after
 * on any value, at a few "now"s: delay-seconds or an HTTP-date (through
 * curl_getdate); a parsed delay is never negative, and delay-seconds give
 * back exactly their number. */
#include "fuzz.h"

#include <ctype.h>

#include "acme/common.h"
#include "net/http.h"

int fuzz_retry_after(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    if (!text)
        return 0;
    static const int64_t nows[] = { 0, 1750000000, INT64_MAX / 2 };
    int64_t first = -1;
    int first_rc = 0;
    for (size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
        int64_t delay = -1;
        int rc = acme__http_parse_retry_after(text, nows[i], &delay);
        FUZZ_ASSERT(rc == ACME_OK || rc == ACME_ERR_INVALID);
        if (i == 0)
            first_rc = rc;
        /* Whether it parses does not depend on the clock. */
        FUZZ_ASSERT(rc == first_rc);
        if (rc == ACME_OK) {
            FUZZ_ASSERT(delay >= 0);
            if (i == 0)
                first = delay;
            const char *p = text + strspn(text, " ");
            if (isdigit((unsigned char)*p))
                FUZZ_ASSERT(delay == first); /* seconds: the same at any time */
        }
    }
    FUZZ_ASSERT(acme__http_parse_retry_after(NULL, 0, &first) == ACME_ERR_INVALID);
    free(text);
    return 0;
}

FUZZ_ENTRY(retry_after);
