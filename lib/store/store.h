/* The store inside the library: validated keys, bounded reads, lists as
 * arrays, and errors with the key named. */
#ifndef ACME_LIB_STORE_H
#define ACME_LIB_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "acme/store.h"
#include "base/buf.h"
#include "base/error.h"

struct acme_buffer {
    acme__buf buf;
    size_t max; /* reads and lists larger than this fail (ACME_ERR_TOO_LARGE) */
    int too_large; /* set once an append went past max: the result is refused
                    * even if the callback ignores the error and returns ACME_OK */
};

/* One change of a commit: write data (len bytes) to key, or remove key
 * when remove is set. */
typedef struct acme__store_put {
    const char *key;
    const void *data;
    size_t len;
    int secret;
    int remove;
} acme__store_put;

/* A built-in store: the operations of acme_store_ops, recording their
 * failures in err, and what it offers beyond them. Kept out of the public
 * struct, whose layout is fixed. path and link may be NULL. */
typedef struct acme__store_backend {
    int (*read)(const char *key, acme_buffer *out, void *userdata, acme__err *err);
    int (*write)(const char *key, const void *data, size_t len, int secret, void *userdata,
                 acme__err *err);
    int (*remove)(const char *key, void *userdata, acme__err *err);
    int (*list)(const char *prefix, acme_buffer *out, void *userdata, acme__err *err);
    int (*lock)(const char *name, void *userdata, acme__err *err);
    void (*unlock)(const char *name, void *userdata);
    /* The host path of a valid key, as a new string (NULL when out of
     * memory). Without it keys have no path (acme_store_path). */
    char *(*path)(const char *key, void *userdata);
    /* Make to_key another name of what from_key holds. ACME_ERR_UNSUPPORTED
     * lets the caller write a copy instead. */
    int (*link)(const char *from_key, const char *to_key, void *userdata, acme__err *err);
    /* The lock contract (acme_store_lease_fn, acme_store_renew_fn,
     * acme_store_commit_fn); all three or none. */
    int (*lease)(const char *name, unsigned int ttl_s, uint64_t *token, void *userdata,
                 acme__err *err);
    int (*renew)(const char *name, uint64_t token, unsigned int ttl_s, void *userdata,
                 acme__err *err);
    int (*commit)(const acme__store_put *puts, size_t n, const char *lock, uint64_t token,
                  void *userdata, acme__err *err);
    /* Non-zero when commit applies all changes in one transaction. */
    int atomic_commit;
    /* Optional (NULL: the store has no aliases, and the stable copies of a
     * certificate are written as values). In order, make each keys[i]
     * another name of targets[i], a key relative to keys[i]'s parent,
     * replacing what it held in one step (a symbolic link renamed into
     * place on the filesystem), durable on success, under the fence of
     * `lock` and `token` as for commit. ACME_ERR_UNSUPPORTED when the store
     * cannot make one here. */
    int (*alias)(size_t n, const char *const *keys, const char *const *targets,
                 const char *lock, uint64_t token, void *userdata, acme__err *err);
    /* What alias `key` names, as a new string in *target. ACME_ERR_NOT_FOUND
     * when key is absent or holds a value rather than an alias. */
    int (*alias_target)(const char *key, char **target, void *userdata, acme__err *err);
} acme__store_backend;

/* A lock this handle holds. */
typedef struct acme__store_lease {
    char *name;
    uint64_t token;   /* 0: a plain lock without fencing (version-1 host store) */
    int64_t valid_ms; /* monotonic time until which the lease surely runs */
    int64_t renew_ms; /* when the renewer next extends it */
    int lost;         /* a renewal failed: never write under it again */
} acme__store_lease;

/* Reference-counted: a desire keeps the store it was given, so the host
 * may free its own handle at any time. */
struct acme_store {
    atomic_int refs;
    acme_store_ops ops;
    void *userdata;
    /* Built-in stores only (NULL for host callbacks). Built-in callbacks
     * always record their reason for a failure. */
    const acme__store_backend *backend;
    void (*free_userdata)(void *); /* for stores that own their userdata */
    /* The last failure of a public call on the store (the library's own
     * calls pass their records down and leave it alone), under err_lock. */
    acme__err err;
    pthread_mutex_t err_lock;
    unsigned int lease_ttl_s; /* the time to live of the leases it takes */
    pthread_mutex_t mu;       /* guards the leases and the renewer */
    pthread_cond_t wake;
    acme__store_lease *leases;
    size_t nleases, capleases;
    pthread_t renewer;
    int renewer_started, stopping;
};

acme_store *acme__store_ref(acme_store *s);
/* End a public call: a failure (rc) recorded in the call's own e becomes
 * the store's last error, under its lock, as threads may share the store.
 * Clears e; returns rc. */
int acme__store_publish(const acme_store *s, int rc, acme__err *e);
/* acme_store_path, recording a failure in err. */
int acme__store_path(const acme_store *s, const char *key, char **path_out, acme__err *err);
/* A store on a built-in backend; free_userdata frees userdata with the
 * store (also here, when this fails). */
int acme__store_new_backend(acme_store **out, const acme__store_backend *backend, void *userdata,
                            void (*free_userdata)(void *), acme__err *err);

/* The start of a public constructor on a versioned struct: *out cleared,
 * out and `given` (named `what` in messages) present, and the caller's
 * version of it copied into own (acme__options_copy). Errors recorded in
 * the thread's record, as public constructors do. */
struct acme__options_versions;
int acme__store_open_args(acme_store **out, const struct acme__options_versions *v, void *own,
                          size_t own_size, const void *given, const char *what);

/* Largest value the library reads (keys, chains, metadata are small). */
#define ACME__STORE_MAX_VALUE (1024 * 1024)
/* Largest list: the certificate names of a store that holds millions. */
#define ACME__STORE_MAX_LIST (256 * 1024 * 1024)

/* Non-zero when key follows the rules of acme/store.h. */
int acme__store_key_valid(const char *key);
/* Non-zero when c may appear in a key segment (acme/store.h). */
int acme__store_key_char(unsigned char c);

int acme__store_read(acme_store *s, const char *key, acme__buf *out, acme__err *err);
int acme__store_write(acme_store *s, const char *key, const void *data, size_t len, int secret,
                      acme__err *err);
/* Write to_key with data, which from_key holds already: for a store that
 * can link (a backend link callback), to_key becomes another name of
 * from_key, with no new file data; otherwise data is written. */
int acme__store_write_same(acme_store *s, const char *from_key, const char *to_key,
                           const void *data, size_t len, int secret, acme__err *err);
/* Write what b holds to key and free both: ACME_ERR_NOMEM when either is
 * NULL or b ran out of memory while it was built. For records the library
 * composes in a buffer. */
int acme__store_write_built(acme_store *s, char *key, acme__buf *b, int secret,
                            acme__err *err);
int acme__store_remove(acme_store *s, const char *key, acme__err *err);
/* Children of prefix as an array of new strings (acme__free_strv). */
int acme__store_list(acme_store *s, const char *prefix, char ***names, size_t *n,
                     acme__err *err);
int acme__store_lock(acme_store *s, const char *name, acme__err *err);
/* Take the lock, waiting up to timeout_s while another holder has it:
 * ACME_ERR_LOCKED (with the wait in the message) when it never came free. */
int acme__store_lock_wait(acme_store *s, const char *name, unsigned int timeout_s,
                          acme__err *err);
void acme__store_unlock(acme_store *s, const char *name);

/* Default time to live of a lease (seconds). */
#define ACME__STORE_LEASE_TTL_S 30
/* ACME_OK while this handle holds lock `name` with a live lease;
 * ACME_ERR_LOCKED (the worker must stop before writing) once it is lost
 * or not held. */
int acme__store_lease_check(acme_store *s, const char *name, acme__err *err);
/* Apply puts under the fence of the held lock that covers their keys (if
 * any): in one transaction where the backend has one, else in order. */
int acme__store_commit(acme_store *s, const acme__store_put *puts, size_t n, acme__err *err);
/* Non-zero when acme__store_commit is one transaction on this store. */
int acme__store_commit_atomic(const acme_store *s);
/* Non-zero when the store has aliases (acme__store_backend.alias). */
int acme__store_has_alias(const acme_store *s);
/* Make keys[i] an alias of targets[i] (relative to its parent), in order,
 * fenced as a commit of the keys. ACME_ERR_UNSUPPORTED on a store without
 * aliases, or where the store cannot make one (the caller then writes a
 * copy). */
int acme__store_alias(acme_store *s, size_t n, const char *const *keys,
                      const char *const *targets, acme__err *err);
/* The target of alias key (a new string): ACME_ERR_NOT_FOUND when key is
 * absent or a plain value, ACME_ERR_UNSUPPORTED without aliases. */
int acme__store_alias_target(acme_store *s, const char *key, char **target, acme__err *err);
/* The backend's lease and commit without the handle's bookkeeping (no
 * renewal, explicit token): for tests of expiry and fencing.
 * ACME_ERR_UNSUPPORTED for a store without leases. */
int acme__store_lease_raw(acme_store *s, const char *name, unsigned int ttl_s, uint64_t *token,
                          acme__err *err);
int acme__store_commit_raw(acme_store *s, const acme__store_put *puts, size_t n,
                           const char *lock, uint64_t token, acme__err *err);

#endif
