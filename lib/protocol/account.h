/* Accounts inside the library. */
#ifndef ACME_LIB_ACCOUNT_H
#define ACME_LIB_ACCOUNT_H

#include "acme/account.h"

/* Take a reference: acme_account_free drops one, the last frees. A desire
 * hands out its account this way, so the host's free and the desire's
 * never meet the same memory twice. NULL is allowed. */
acme_account *acme__account_ref(acme_account *a);

#endif
