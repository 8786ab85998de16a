/* Certificates as kept in a store (layout in acme/store.h): a metadata
 * record pointing at the current generation of key and chain. Writing a
 * new generation and then the metadata makes a renewal atomic. */
#ifndef ACME_LIB_STORED_H
#define ACME_LIB_STORED_H

#include <stdint.h>

#include "acme/key.h"
#include "base/error.h"
#include "store/store.h"
#include "store/store_layout.h"

typedef struct acme__stored_cert {
    char *name;
    char **ids;           /* identifiers as wanted ("*.x" for wildcards; IPs as text) */
    size_t nids;
    int key_type;
    /* Non-zero: the certificate key is the host's (acme_desire_set_key):
     * its generations hold a chain and no key file, and key is NULL after
     * a load (the caller brings the host's key). */
    int host_key;
    unsigned long generation;
    int64_t not_before;
    int64_t not_after;
    char *serial;
    char *ari_id;         /* NULL when the leaf has no AKI */
    char *directory;      /* the CA that issued it */
    char *profile;        /* the profile wanted for it (draft-ietf-acme-profiles), or NULL */
    int profile_mandatory; /* refused, not ordered without, when the CA lacks it */
    int revoked;          /* -1, or the reason it was revoked with */
    int64_t obtained_at;
    /* ARI (RFC 9773) state */
    int64_t ari_start;
    int64_t ari_end;
    int64_t ari_renew_at;   /* the random moment chosen inside the window */
    int64_t ari_next_check; /* when renewalInfo may be fetched again */
    /* Generations acme__stored_save_new keeps (0: the default, current
     * and previous); not stored. */
    unsigned int keep;
    /* The current generation, loaded by acme__stored_load. */
    char *chain_pem;
    acme_key *key;
} acme__stored_cert;

/* Load name's metadata and current key and chain (the chain alone for a
 * host key). ACME_ERR_NOT_FOUND when
 * nothing is stored; ACME_ERR_CORRUPT naming the store key when something
 * is unreadable or inconsistent (the data is left untouched). */
int acme__stored_load(acme_store *s, const char *name, acme__stored_cert *out, acme__err *err);

/* The current chain and key of name as PEM text (new strings; key_pem may
 * be NULL, and is left NULL for a host key), from one generation even
 * while renewals switch it: a generation dropped during the read is
 * retried with the next. Errors as acme__stored_load. */
int acme__stored_read_current(acme_store *s, const char *name, char **chain_pem, char **key_pem,
                              acme__err *err);

/* Store c->key and c->chain_pem as generation c->generation + 1 and make it
 * current (metadata written last); then refresh the stable copies and drop
 * the generations beyond c->keep (store/retention.h). Updates c->generation. With c->host_key, no key is
 * written (c->key, the host's, only checks the chain). */
int acme__stored_save_new(acme_store *s, acme__stored_cert *c, acme__err *err);

/* Rewrite only the metadata (ARI state, revocation). */
int acme__stored_save_meta(acme_store *s, const acme__stored_cert *c, acme__err *err);

/* Make the stable names (certs/<name>/key.pem, chain.pem) give the
 * current generation if they do not (after a crash between the switch and
 * them): on a store with aliases, current names c->generation and the
 * stable names are aliases through it (a 1.0 layout is moved to that
 * here); elsewhere they are copies. With c->host_key there is no key: a
 * stable key left from an earlier generation (a stored key then) is
 * removed. */
int acme__stored_sync_copies(acme_store *s, const acme__stored_cert *c, acme__err *err);

/* Fill names/dates/serial/ARI id from c->chain_pem. */
int acme__stored_describe(acme__stored_cert *c, acme__err *err);

void acme__stored_free(acme__stored_cert *c);

/* Record key as compromised (revoked for keyCompromise as certificate
 * `name`, serial `serial`, at time `at`): from then on it is never used
 * again, for any name. Recording it twice is harmless. */
int acme__compromised_add(acme_store *s, const acme_key *key, const char *name,
                          const char *serial, int64_t at, acme__err *err);

/* *compromised is set non-zero when key was recorded by
 * acme__compromised_add (in this store), else zero. */
int acme__compromised_check(acme_store *s, const acme_key *key, int *compromised,
                            acme__err *err);

#endif
