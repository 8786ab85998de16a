/* Renewal decisions for stored certificates. */
#ifndef ACME_LIB_RENEWAL_H
#define ACME_LIB_RENEWAL_H

#include <stddef.h>
#include <stdint.h>

#include "acme/provider.h"
#include "net/json.h"
#include "store/cert_store.h"
#include "store/schedule.h"

/* Parse a renewalInfo object (RFC 9773 4.2), the parsed JSON of the reply:
 * its suggestedWindow has RFC 3339 start and end, end after start. Sets
 * *start and *end (Unix seconds). ACME_ERR_PROTOCOL otherwise, naming url
 * (may be NULL) in the message. */
int acme__ari_parse(yajl_val v, const char *url, int64_t *start, int64_t *end, acme__err *err);

/* Fetch the certificate's renewalInfo and update c's ARI state: a new
 * window gets a new uniformly random renewal moment; the next check is
 * Retry-After (clamped to a minute..a day) or six hours away.
 * ACME_ERR_UNSUPPORTED when the CA or the certificate has no ARI. */
int acme__renewal_fetch_ari(acme_provider *p, acme__stored_cert *c, int64_t now, acme__err *err);

/* Non-zero when c should be renewed at `now`: expired; inside its ARI
 * window at the chosen moment (checking renewalInfo when the last check is
 * old enough); or, without ARI, less than a third of its lifetime left (half
 * for lifetimes under ten days). `why` tells the reason or when it will be
 * due; *meta_changed is set when c's ARI state changed and should be stored. */
int acme__renewal_due(acme_provider *p, acme__stored_cert *c, int64_t now, int *meta_changed,
                      char *why, size_t why_size);

/* The earliest time at which acme__renewal_due(p, c, ...) could answer
 * otherwise: what the schedule index keeps (store/schedule.h), never later
 * than the real decision. With p NULL (the CA unknown, as when the index is
 * rebuilt), the earliest of both rules: with and without ARI. */
int64_t acme__renewal_next(acme_provider *p, const acme__stored_cert *c);

/* What an idle ensure needs to skip a name on its index entry alone. */
typedef struct acme__idle {
    int64_t now;
    uint64_t *dirs;     /* acme__store_hash of the desire's CA directory URLs */
    size_t ndirs;
    uint64_t *bad_keys; /* acme__store_hash of the keys recorded as compromised */
    size_t nbad;
} acme__idle;

/* For a desire on these CA directory URLs at `now`: reads the records of
 * compromised keys once. */
int acme__idle_init(acme__idle *ctx, acme_store *s, const char *const *dirs, size_t ndirs,
                    int64_t now, acme__err *err);
void acme__idle_free(acme__idle *ctx);

/* Non-zero when a wanted name may be left alone on its entry e (may be
 * NULL): e says it is not due before a later time, its key is not
 * compromised, its CA is one of the desire's, and, unless the want takes
 * the stored identifiers and key type as they are (as_stored), both are
 * still the wanted ones. A forced name or one with a host key is never
 * skipped (the caller does not ask). */
int acme__idle_skip(const acme__idle *ctx, const acme__sched_entry *e, char *const *ids,
                    size_t nids, int key_type, int as_stored, const char *profile,
                    int profile_any);

/* Write the index entry of the loaded record c, decided with the CA p
 * (its next look: acme__renewal_next). Best effort: a failure is logged on
 * p and only makes the name look due next time. */
void acme__idle_record(acme_store *s, acme_provider *p, const acme__stored_cert *c,
                       unsigned int lock_timeout_s);

/* Mark name's entry due (a placeholder when it has none) before a change
 * that may make it due sooner (a new generation, a revocation, a first
 * issuance): a crash before acme__idle_record leaves the name looking due,
 * and listed in its shard for the due summary. An entry already due at
 * `now` is not written again. Logged on p when it fails. */
void acme__idle_forget(acme_store *s, acme_provider *p, const char *name, int64_t now,
                       unsigned int lock_timeout_s);

#endif
