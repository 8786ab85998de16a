/* The etcd store's readers of member replies (outside input, fuzzed by
 * tests/fuzz/fuzz_etcd.c). Each takes a reply body as the member sent it. */
#ifndef ACME_LIB_STORE_ETCD_H
#define ACME_LIB_STORE_ETCD_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"

/* A failed call's body ({"error", "code", "message"} of the gateway):
 * *code (-1 when absent) and *msg (a new string, NULL when absent). */
int acme__etcd_parse_error(const char *data, size_t len, long long *code, char **msg);

/* A range reply for one key: its value appended to out (ACME_ERR_TOO_LARGE
 * past max bytes), ACME_ERR_NOT_FOUND without kvs, ACME_ERR_PROTOCOL for a
 * reply that does not parse. */
int acme__etcd_parse_value(const char *data, size_t len, size_t max, acme__buf *out,
                           acme__err *err);

/* A keys-only range reply under `under` (the full key of the listed
 * prefix, ending in '/'): each direct child's name once, followed by '\n',
 * appended to out. Keys outside `under` are ignored. *more is set when the
 * member reports more keys than it sent. */
int acme__etcd_parse_children(const char *data, size_t len, const char *under, size_t max,
                              acme__buf *out, int *more, acme__err *err);

/* A transaction reply: *succeeded (the compare held) and *revision (the
 * store revision after it, from the header). */
int acme__etcd_parse_txn(const char *data, size_t len, int *succeeded, int64_t *revision,
                         acme__err *err);

/* The failure reply of a lock's txn (a range of the lock key): the *lease
 * its key is bound to and the revision that *created it. ACME_ERR_NOT_FOUND
 * without such a key. */
int acme__etcd_parse_holder(const char *data, size_t len, int64_t *lease, int64_t *created);

/* A lease grant or keepalive reply (the latter wrapped in "result"): its
 * *id and *ttl (0 or absent: the lease is gone). */
int acme__etcd_parse_lease(const char *data, size_t len, int64_t *id, int64_t *ttl,
                           acme__err *err);

/* An authenticate reply: its token as a new string. */
int acme__etcd_parse_auth(const char *data, size_t len, char **token, acme__err *err);

#endif
