/* Poll delays for orders and authorizations (RFC 8555 7.4, 7.5.1). */
#include "protocol/poll.h"

#include "base/clock.h"

/* The backoff's ceiling: a slow CA is still seen soon after it is done. */
#define MAX_POLL_MS 2000
/* A Retry-After is capped (a day) so that it cannot overflow in
 * milliseconds; the order's deadline cuts it shorter anyway. */
#define MAX_RETRY_AFTER_S ACME__DAY_S

int64_t acme__poll_backoff(int64_t backoff_ms)
{
    int64_t next = backoff_ms + backoff_ms / 2;
    return next > MAX_POLL_MS ? MAX_POLL_MS : next;
}

int64_t acme__poll_delay(const acme__response *res, int64_t backoff_ms, int64_t deadline_ms)
{
    int64_t delay = backoff_ms, s;
    if (res && res->retry_after &&
        acme__http_parse_retry_after(res->retry_after, acme__now(), &s) == ACME_OK)
        delay = (s < MAX_RETRY_AFTER_S ? s : MAX_RETRY_AFTER_S) * 1000;
    int64_t left = deadline_ms - acme__mono_ms();
    return delay < left ? delay : left;
}
