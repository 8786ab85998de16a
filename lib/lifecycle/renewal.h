/* Renewal decisions for stored certificates. */
#ifndef ACME_LIB_RENEWAL_H
#define ACME_LIB_RENEWAL_H

#include <stddef.h>
#include <stdint.h>

#include "acme/provider.h"
#include "net/json.h"
#include "store/cert_store.h"

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

#endif
