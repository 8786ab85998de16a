/* Retention of a stored certificate's generations: which ones stay, and
 * removing the others whole (files and then the generation itself), through
 * the store's operations so that every backend loses them. */
#ifndef ACME_LIB_RETENTION_H
#define ACME_LIB_RETENTION_H

#include "base/error.h"
#include "store/store.h"

/* Generations kept when the host does not say: the current one and the one
 * before it (a rollback needs it). */
#define ACME__KEEP_DEFAULT 2

/* Remove every generation of certificate `name` but the `keep` newest up to
 * `current` (keep 0: ACME__KEEP_DEFAULT): older ones, and newer ones left
 * by a renewal interrupted before its switch. The caller holds the name's
 * lock, so no writer is inside any of them. Best effort: a generation that
 * cannot be removed stays for the next call, and the first failure is
 * returned. *removed (may be NULL) counts the generations removed. */
int acme__stored_prune(acme_store *s, const char *name, unsigned long current, unsigned int keep,
                       size_t *removed, acme__err *err);

#endif
