/* The layout of the store (acme/store.h): every key the library reads,
 * writes, lists or locks is made here. Functions that return a key give a
 * new string, or NULL when out of memory. */
#ifndef ACME_LIB_STORE_LAYOUT_H
#define ACME_LIB_STORE_LAYOUT_H

#include <stdint.h>

#include "acme/store.h"

/* Files of an account and of a certificate (and of each generation). */
#define ACME__FILE_KEY "key.pem"
#define ACME__FILE_CHAIN "chain.pem"
#define ACME__FILE_META "meta.json"
#define ACME__FILE_ACCOUNT "account.json"
/* In a certificate's directory on a store with aliases (the filesystem):
 * the alias of the current generation, through which the stable names go. */
#define ACME__CURRENT "current"

/* The prefix whose children are the stored certificates. */
#define ACME__CERTS_DIR ACME_STORE_CERTS

/* The prefix whose children are the keys revoked for keyCompromise, one
 * record per key named by its JWK thumbprint (RFC 7638), for every
 * certificate name alike: such a key is never used again. */
#define ACME__COMPROMISED_DIR "compromised-keys"

/* The prefix of the backoff records of certificate names, one per name
 * (store/retry_store.h): kept apart from certs/ so that a name that never
 * got a certificate is not mistaken for a stored one. */
#define ACME__BACKOFF_DIR "backoff"

/* The prefix of the rate limits a CA announced, per CA and account. */
#define ACME__RATE_LIMIT_DIR "ratelimits"

/* The prefix of the schedule index (store/schedule.h): its shards, each
 * the entries of the certificate names that hash to it. */
#define ACME__SCHEDULE_DIR "schedule"

/* FNV-1a (64 bits) of the string s, continuing from h (start with
 * ACME__STORE_HASH_INIT): stable across runs and hosts, for names of
 * keys and fingerprints kept in the store. Not a defence against anyone. */
#define ACME__STORE_HASH_INIT 0xcbf29ce484222325u
uint64_t acme__store_hash(uint64_t h, const char *s);

/* Turn an arbitrary label (an e-mail, a CA URL) into one key segment:
 * allowed characters kept, others replaced by '_'; never empty, "." or "..". */
char *acme__store_segment(const char *label);

/* Non-zero when name is usable as a certificate name: one key segment of
 * at most 255 characters, and not "locks". */
int acme__store_cert_name_valid(const char *name);

/* accounts/<ca>/<email>/<file> for the account of email (NULL or "": the
 * "default" account) at the CA of directory_url. With file NULL: the
 * account's directory, which is also the name of its lock. */
char *acme__store_account_key(const char *directory_url, const char *email, const char *file);

/* certs/<name>/<file>: the metadata and the stable copies. With file NULL:
 * the certificate's directory (its generations are listed there), which is
 * also the name of its lock. */
char *acme__store_cert_key(const char *name, const char *file);

/* certs/<name>/<generation>/<file>: a file of one generation; with file
 * NULL, the generation itself (whose children are its files). */
char *acme__store_generation_key(const char *name, unsigned long generation, const char *file);

/* compromised-keys/<thumbprint>: the record of one compromised key. The
 * thumbprint is base64url, whose characters are all allowed in a segment. */
char *acme__store_compromised_key(const char *thumbprint);

/* backoff/<name>: the failures and next attempt of certificate `name`. */
char *acme__store_backoff_key(const char *name);

/* ratelimits/<ca>/<email>: the rate limit the CA of directory_url
 * announced to the account of email (NULL or "": the default account). */
char *acme__store_rate_limit_key(const char *directory_url, const char *email);

/* schedule/<shard, 3 hex digits>/<file>: a file of one shard of the
 * schedule index (ACME__SCHEDULE_ENTRIES). With file NULL: the shard
 * itself, also the name of the lock its writers take (so that taking it
 * sweeps what a killed writer left there). */
#define ACME__SCHEDULE_ENTRIES "entries"
char *acme__store_schedule_key(unsigned int shard, const char *file);

#endif
