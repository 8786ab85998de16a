/* When to look again at a resource the CA is still working on (an
 * authorization being validated, an order being issued): a gentle backoff,
 * unless the CA says when with Retry-After. */
#ifndef ACME_LIB_POLL_H
#define ACME_LIB_POLL_H

#include <stdint.h>

#include "net/http.h"

/* The backoff after backoff_ms: x1.5, up to a ceiling. */
int64_t acme__poll_backoff(int64_t backoff_ms);

/* Milliseconds to wait before the next poll: the Retry-After of res (may
 * be NULL) when it gave one, else backoff_ms; never past deadline_ms
 * (acme__mono_ms time). */
int64_t acme__poll_delay(const acme__response *res, int64_t backoff_ms, int64_t deadline_ms);

#endif
