/* The schedule index: per stored certificate name, when ensure must look
 * at it next and the few fields that decide its renewal, so that an idle
 * ensure reads the index and opens no certificate that is not due.
 *
 * It is kept in the store (schedule/<shard>, ACME__SCHEDULE_SHARDS shards by
 * a hash of the name, each one value well under the store's cap at a
 * million names) through the store's read, write, list and lock only, so
 * every backend has it. It is a cache of the certificate records, never
 * their authority: an entry is marked due (next 0; a placeholder for a name
 * with no entry yet) before a change that could make its name due sooner (a
 * renewal, a revocation, a first issuance) and written after the change
 * lands, so a crash in between leaves it due, and a missing, stale or
 * unreadable entry only makes its name look due, which loads the real
 * record and writes the entry again. Marking rather than removing keeps
 * every stored name in its shard, which the due summary below relies on.
 *
 * The due summary (schedule/sum/due) keeps per shard the earliest `next` of
 * its entries and their count, so that a run over everything stored reads
 * only the shards with something due. It is never later than its shard: a
 * writer, under the shard's lock, lowers the slot before the shard write
 * and sets it exactly after, both under the summary's own short lock; a
 * crash leaves it early (one extra shard read, which sets it right).
 * It claims `complete` only when built by a clean full pass and while no
 * update lost a shard's names (a corrupt shard started over). */
#ifndef ACME_LIB_SCHEDULE_H
#define ACME_LIB_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/cert_store.h"
#include "store/store.h"

#define ACME__SCHEDULE_SHARDS 1024

typedef struct acme__sched_entry {
    const char *name;   /* into the shard's text, or the caller's */
    int64_t next;       /* look at the name again at or after this (0: now) */
    int64_t not_after;
    int64_t ari_start;  /* the stored ARI window, 0 0 without one */
    int64_t ari_end;
    int64_t retry;      /* no attempt before this after a failure (0: none) */
    int key_type;
    uint64_t ids_fp;    /* acme__sched_ids_fp of the stored identifiers */
    uint64_t dir_fp;    /* acme__store_hash of the issuing CA's directory URL */
    uint64_t key_fp;    /* acme__store_hash of the key's JWK thumbprint; 0: host key */
    uint64_t profile_fp; /* acme__store_hash of the stored profile ("" for none) */
} acme__sched_entry;

/* One shard: entries sorted by name, names pointing into text. */
typedef struct acme__sched_shard {
    acme__sched_entry *v;
    size_t n;
    char *text;
} acme__sched_shard;

/* The fingerprint of a stored profile (NULL: none), as entries keep it. */
uint64_t acme__sched_profile_fp(const char *profile);

/* The shard of a certificate name. */
unsigned int acme__sched_shard_of(const char *name);

/* Fingerprint of a set of identifiers, whatever their order. */
uint64_t acme__sched_ids_fp(char *const *ids, size_t n);

/* Parse a shard's bytes (the store's, so outside input) into *out, which
 * then owns a copy. ACME_ERR_CORRUPT for anything but the exact format:
 * a header line, then one line per entry with a valid certificate name,
 * names strictly increasing. *out is empty after a failure. */
int acme__sched_parse(const char *data, size_t len, acme__sched_shard *out, acme__err *err);

/* The entry of name in sh, or NULL. */
const acme__sched_entry *acme__sched_find(const acme__sched_shard *sh, const char *name);

void acme__sched_shard_free(acme__sched_shard *sh);

/* Read shard `shard` from the store: ACME_ERR_NOT_FOUND when it does not
 * exist, ACME_ERR_CORRUPT when it does not parse (left as it is). */
int acme__sched_load(acme_store *s, unsigned int shard, acme__sched_shard *out, acme__err *err);

/* The entry of the loaded record c, looked at again at `next`. Its name is
 * c->name. */
int acme__sched_entry_of(const acme__stored_cert *c, int64_t next, acme__sched_entry *out,
                         acme__err *err);

/* Write shard `shard` as the n entries of v (names of that shard, each
 * once), replacing what it held: for a rebuild, or a store filled in bulk.
 * v is sorted by name in place. The caller holds the shard's lock or is
 * alone on the store. */
int acme__sched_put_shard(acme_store *s, unsigned int shard, acme__sched_entry *v, size_t n,
                          acme__err *err);

/* Write e into its shard (replacing the name's entry), or with e NULL
 * remove the entry of `name`, under the shard's lock (waiting up to
 * lock_timeout_s). A shard that does not parse is replaced by one holding
 * only this change: the names it lost look due and come back one by one. */
int acme__sched_update(acme_store *s, const char *name, const acme__sched_entry *e,
                       unsigned int lock_timeout_s, acme__err *err);
/* Mark name's entry due: its next becomes 0, or a placeholder entry is
 * added when it has none. An entry already due at `now` (> 0; 0: always
 * write) is left as it is: due it stays. */
int acme__sched_mark_due(acme_store *s, const char *name, int64_t now,
                         unsigned int lock_timeout_s, acme__err *err);

/* ---- the due summary ---- */

/* Issuer directories the summary can name; more and it is not complete. */
#define ACME__DUE_MAX_DIRS 16
/* `next` of a shard with no entries. */
#define ACME__DUE_NEVER INT64_MAX

enum { ACME__DUE_INCOMPLETE = 0, ACME__DUE_COMPLETE = 1, ACME__DUE_BUILDING = 2 };

typedef struct acme__sched_due {
    int state;              /* ACME__DUE_* */
    uint64_t bad_fp;        /* acme__sched_bad_fp of the compromised keys it was built with */
    uint64_t dirs[ACME__DUE_MAX_DIRS]; /* every dir_fp its entries hold */
    size_t ndirs;
    int64_t next[ACME__SCHEDULE_SHARDS];   /* no entry of the shard is due before */
    uint32_t count[ACME__SCHEDULE_SHARDS]; /* entries in the shard */
    unsigned char set[ACME__SCHEDULE_SHARDS]; /* 0: reset by a build, not yet known */
} acme__sched_due;

/* Fingerprint of a set of key thumbprint hashes, whatever their order. */
uint64_t acme__sched_bad_fp(const uint64_t *v, size_t n);

/* Parse the summary's bytes (the store's: outside input) into *out (the
 * caller's; zeroed first). ACME_ERR_CORRUPT for anything but the exact
 * format. */
int acme__sched_due_parse(const char *data, size_t len, acme__sched_due *out, acme__err *err);

/* Read it: ACME_ERR_NOT_FOUND, ACME_ERR_CORRUPT, or ACME_OK. */
int acme__sched_due_load(acme_store *s, acme__sched_due *out, acme__err *err);

/* After a clean full pass: rebuild the summary from every shard (read
 * under its lock), complete when `clean` and no writer lost a shard
 * meanwhile. Writers running at the same time keep their slots. */
int acme__sched_due_build(acme_store *s, uint64_t bad_fp, int clean, unsigned int lock_timeout_s,
                          acme__err *err);

/* Set shard's slot to what it holds now (under the shard's lock): after a
 * read that found its slot too early. */
int acme__sched_due_fix(acme_store *s, unsigned int shard, unsigned int lock_timeout_s,
                        acme__err *err);

/* next_of(c, userdata): the time a loaded record must be looked at again
 * (lifecycle/renewal.c, which the store layer cannot call). */

/* Look up the entries of n names, reading each shard once: visit(i, e,
 * userdata) for every i < n, with e the entry of name_of(i) or NULL. A
 * shard that is missing or does not parse is rebuilt first from the names
 * given (acme__sched_rebuild with next_of), so that the next run finds it. */
typedef int64_t (*acme__sched_next_fn)(const acme__stored_cert *c, void *userdata);
int acme__sched_visit(acme_store *s, size_t n, const char *(*name_of)(size_t i, void *userdata),
                      void (*visit)(size_t i, const acme__sched_entry *e, void *userdata),
                      void *userdata, acme__sched_next_fn next_of, void *next_userdata,
                      unsigned int lock_timeout_s, acme__err *err);


/* Rebuild shard `shard` from the certificate records of `names` (names of
 * that shard; others are ignored): they are loaded under the shard's lock
 * and their entries written as one shard. A record that does not load gets
 * no entry (its name looks due). *entries (may be NULL) counts the entries
 * written. */
int acme__sched_rebuild(acme_store *s, unsigned int shard, const char *const *names, size_t n,
                        acme__sched_next_fn next_of, void *next_userdata,
                        unsigned int lock_timeout_s, size_t *entries, acme__err *err);

#endif
