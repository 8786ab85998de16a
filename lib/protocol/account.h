/* Accounts inside the library. */
#ifndef ACME_LIB_ACCOUNT_H
#define ACME_LIB_ACCOUNT_H

#include "acme/account.h"
#include "base/error.h"

/* Take a reference: acme_account_free drops one, the last frees. A desire
 * hands out its account this way, so the host's free and the desire's
 * never meet the same memory twice. NULL is allowed. */
acme_account *acme__account_ref(acme_account *a);

/* The account's error record, which calls on it fill. */
acme__err *acme__account_err(acme_account *a);

/* The public functions without "__", recording failures in err (a
 * failure after the handle was made is forwarded from the handle). */
int acme__account_register(acme_account **out, acme_provider *p, acme_key *key,
                           const acme_account_options *opts, acme__err *err);
int acme__account_lookup(acme_account **out, acme_provider *p, acme_key *key, acme__err *err);
int acme__account_load(acme_account **out, acme_provider *p, acme_key *key, const char *url,
                       acme__err *err);

#endif
