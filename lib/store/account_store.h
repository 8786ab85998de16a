/* Accounts kept in a store (layout in acme/store.h). */
#ifndef ACME_LIB_ACCOUNT_STORE_H
#define ACME_LIB_ACCOUNT_STORE_H

#include "acme/account.h"
#include "store/store.h"

/* The account for email at p's CA (under the account's lock, waited for up
 * to lock_timeout_s): loaded from the store when its URL is
 * known; else recovered from the stored key (onlyReturnExisting); else a
 * key is made and stored first, then registered with reg. */
int acme__account_ensure(acme_provider *p, acme_store *s, const char *email,
                         const acme_account_options *reg, int key_type,
                         unsigned int lock_timeout_s, acme_account **out, acme__err *err);

/* The same for a host's key (acme_desire_set_account_key()): the account
 * URL is kept under accounts/<ca>/host-key-<thumbprint>/, never a key. */
int acme__account_ensure_host(acme_provider *p, acme_store *s, acme_key *key,
                              const acme_account_options *reg, unsigned int lock_timeout_s,
                              acme_account **out, acme__err *err);

#endif
