/* What a store (possibly shared, possibly tampered with) and a CA hand the
 * backoff and rate-limit code: acme__backoff_parse and
 * acme__rate_limit_parse on any bytes (a record is accepted whole or not
 * at all: a rejected one leaves the output zeroed), and
 * acme__rate_limit_from_problem on the input as a rateLimited problem's
 * detail (its limit name and unpause URL are always terminated strings of
 * the detail, the time never before "now"). */
#include "fuzz.h"

#include "acme/common.h"
#include "base/problem.h"
#include "lifecycle/guard.h"
#include "store/retry_store.h"

static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

int fuzz_retry_record(const uint8_t *data, size_t size)
{
    acme__backoff b;
    int rc = acme__backoff_parse((const char *)data, size, &b);
    FUZZ_ASSERT(rc == ACME_OK || rc == ACME_ERR_CORRUPT);
    if (rc == ACME_OK)
        FUZZ_ASSERT(b.failures >= 1 && b.error <= 0 &&
                    memchr(b.detail, '\0', sizeof(b.detail)) != NULL);
    else
        FUZZ_ASSERT(all_zero(&b, sizeof(b)));
    acme__rate_limit r;
    rc = acme__rate_limit_parse((const char *)data, size, &r);
    FUZZ_ASSERT(rc == ACME_OK || rc == ACME_ERR_CORRUPT);
    if (rc == ACME_OK)
        FUZZ_ASSERT(r.until >= 1 && memchr(r.unpause, '\0', sizeof(r.unpause)) != NULL);

    char *text = fuzz_cstr(data, size);
    if (!text)
        return 0;
    acme_problem *p = acme__problem_new("urn:ietf:params:acme:error:rateLimited", text, 429);
    if (p) {
        acme__problem_set_retry_after(p, size % 2 ? (int64_t)size : 0);
        acme__rate_limit_from_problem(p, 1750000000, 3600, &r);
        FUZZ_ASSERT(r.until > 1750000000 && r.recorded_at == 1750000000);
        FUZZ_ASSERT(strlen(r.limit) < sizeof(r.limit) && strlen(r.unpause) < sizeof(r.unpause));
        if (r.unpause[0])
            FUZZ_ASSERT(strncmp(r.unpause, "https://", 8) == 0 && strstr(text, r.unpause));
        acme__problem_unref(p);
    }
    free(text);
    return 0;
}

FUZZ_ENTRY(retry_record);
