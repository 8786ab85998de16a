/**
 * @file
 * libacme: storage. The library keeps its state (account keys and URLs,
 * certificate keys, chains and metadata) through an acme_store, a table of
 * callbacks, so that a host can keep it anywhere: a directory (the built-in
 * filesystem store), a database, a cluster store.
 *
 * Keys are relative paths of segments separated by '/', each segment made
 * of ASCII letters, digits and "._-@+" and never "." or "..". The library
 * uses this layout (CA and e-mail segments are sanitised):
 *
 * @verbatim
 *   accounts/<ca>/<email>/key.pem       account key (secret)
 *   accounts/<ca>/<email>/account.json  {"url": ..., "directory": ...}
 *   certs/<name>/meta.json              names, key type, dates, ARI state,
 *                                       and the current generation N
 *   certs/<name>/<N>/key.pem            certificate key (secret); none when
 *                                       the key is the host's
 *                                       (acme_desire_set_key())
 *   certs/<name>/<N>/chain.pem          leaf first, then intermediates
 *   certs/<name>/key.pem, chain.pem     the current generation's files at
 *                                       stable paths for web servers: on
 *                                       the filesystem store, symbolic
 *                                       links through current (below);
 *                                       elsewhere copies
 *   certs/<name>/current                filesystem store only: a symbolic
 *                                       link to <N>, the current generation
 *   compromised-keys/<thumbprint>       a certificate key revoked for
 *                                       keyCompromise (by JWK thumbprint,
 *                                       RFC 7638): never used again
 *   schedule/<shard>/entries            the schedule index: per certificate
 *                                       name when ensure looks at it next;
 *                                       a cache of the metadata, rebuilt
 *                                       when missing or unreadable
 * @endverbatim
 *
 * A new certificate is written as a new generation and made current by one
 * atomic write of meta.json, so a crash at any point leaves the old or the
 * new key and chain, never a mix; on the filesystem store the link
 * current is then renamed to the new generation (and set right by the next
 * run that loads the name if a crash came between the two). The
 * generations beyond the kept ones (acme_desire_options.keep_generations)
 * are then removed whole. The name's schedule index entry is marked due
 * before the new generation is written (unless it is due already) and
 * written again after the switch, so an idle ensure opens only the records
 * that are due, and a crash leaves at worst a name that looks due (and is
 * then read).
 *
 * @par The lock contract (leases and fencing)
 * Work on a certificate or an account happens under a named lock (the
 * name is the directory key, e.g. certs/NAME). A lock is a lease: taking
 * it gives a fencing token, a number that grows with every take of that
 * name; the library renews the lease in the background at a third of its
 * time to live. Every write, removal and commit under a held lock (a key
 * at or below the lock's name) carries the lock's name and token, and the
 * backend refuses it (ACME_ERR_LOCKED) unless the token is still the
 * current holder's. So a process that pauses past its lease (a stall, a
 * SIGSTOP, a partition) and wakes cannot overwrite what a newer holder
 * wrote. When a renewal fails or the lease's time runs out locally, the
 * lease counts as lost: the worker checks before it writes and stops
 * with ACME_ERR_LOCKED, and the next run (on this or another node) takes
 * the lock anew and finds the store as the newer holder left it.
 *
 * @par Atomic commit
 * A new generation (key, chain, metadata and, where the backend commits
 * atomically, the stable copies) is handed to the backend as one commit:
 * on etcd and on host stores with a commit callback it lands in one
 * transaction, stable copies included; on the filesystem the files are
 * written in order with the metadata last, and that rename is the switch.
 * Either way a reader that follows meta.json never sees a chain with
 * another generation's key.
 *
 * @par Reading a consistent pair from the filesystem store
 * A program that links the library calls acme_store_read_current(), which
 * does this on every backend. For other readers: certs/NAME/current is a
 * symbolic link to the current generation's directory, replaced by
 * rename(2) after the metadata's switch, and the
 * stable names are links through it (chain.pem -> current/chain.pem,
 * key.pem -> current/key.pem). A reader that resolves current once gets
 * one generation's key and chain: open the directory certs/NAME/current
 * and open both files relative to it (openat), or readlink current and
 * read certs/NAME/N/ (retry if N is gone: retention removed it after
 * later renewals). Each stable name alone gives a whole file of the
 * generation that was current when it was opened; two separate opens of
 * the stable names can straddle a switch (one rename per renewal), so a
 * server that loads both should check that they match or read through
 * current. Generations a reader may be inside stay until retention drops
 * them (acme_desire_options.keep_generations), and the one current names
 * is never removed. A store written by 1.0 (stable files or hard links,
 * no current) keeps working, and each certificate is moved to the links
 * by its next write, one rename over each name. Where the filesystem has
 * no symbolic links the stable names stay copies, refreshed one by one.
 *
 * @par What each backend gives
 * - Filesystem: flock locks that the kernel releases when their holder
 *   dies (so a lease lasts as long as its process), a token counter per
 *   lock under DIR/locks/, writes refused when the counter has moved past
 *   the writer's token. One machine only. The counter is not fsynced: it
 *   grows across the processes of one boot, and a power loss that drops
 *   its last step leaves no earlier holder alive to write with a token
 *   given again.
 * - etcd (acme_store_new_etcd()): a lock is a key created with a lease in
 *   a transaction; its create revision is the token, and every write under
 *   the lock is a transaction that compares it. A crashed holder's lease
 *   expires after its time to live; a partitioned holder fails to renew,
 *   stops, and its late writes are refused.
 * - Host callbacks: version 2 of acme_store_ops (lease, renew, commit)
 *   gives the full contract; a version-1 store keeps working with plain
 *   locks, no fencing and writes one by one (see acme_store_ops).
 *
 * Threads: the built-in stores are safe to use from several threads. A
 * host store must be too when acme_desire runs in parallel.
 */
#ifndef ACME_STORE_H
#define ACME_STORE_H

#include <stdint.h>

#include "account.h"
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A growable byte buffer the library hands to read and list callbacks. */
typedef struct acme_buffer acme_buffer;

/**
 * Append len bytes to a buffer given to a store callback. ACME_ERR_NOMEM on
 * failure; ACME_ERR_TOO_LARGE past the library's cap on one value (1 MiB)
 * or one list (256 MiB, since 1.0; 1 MiB before), after which the read or list fails even if the callback returns
 * ACME_OK. Since 0.1.
 */
ACME_API int acme_buffer_append(acme_buffer *b, const void *data, size_t len);

/** Read the value of `key` into `out`: ACME_OK, ACME_ERR_NOT_FOUND, or another error. */
typedef int (*acme_store_read_fn)(const char *key, acme_buffer *out, void *userdata);
/**
 * Replace the value of `key` atomically (all or nothing, durable on
 * success). `secret` is non-zero for private keys, which must not be
 * readable by others (mode 0600 in the filesystem store).
 */
typedef int (*acme_store_write_fn)(const char *key, const void *data, size_t len, int secret,
                                   void *userdata);
/**
 * Remove `key`; a key that does not exist is not an error. The library also
 * removes a prefix whose children it removed first (a dropped generation,
 * certs/NAME/N): a store in which prefixes exist (directories) removes it
 * then, a store without them has nothing to do.
 */
typedef int (*acme_store_delete_fn)(const char *key, void *userdata);
/**
 * List the direct children of `prefix` (e.g. "certs" gives the certificate
 * names): append each name followed by '\n' to `out`. A prefix that does
 * not exist lists nothing.
 */
typedef int (*acme_store_list_fn)(const char *prefix, acme_buffer *out, void *userdata);
/**
 * Take the lock `name` without waiting: ACME_OK, or ACME_ERR_LOCKED when
 * another process or thread holds it. A lock whose holder died must not
 * stay held.
 */
typedef int (*acme_store_lock_fn)(const char *name, void *userdata);
/** Release the lock `name`. */
typedef void (*acme_store_unlock_fn)(const char *name, void *userdata);

/**
 * Take the lock `name` as a lease of `ttl_s` seconds without waiting, and
 * set *token to its fencing token: non-zero and larger than any token given
 * before for this name, by any process. ACME_ERR_LOCKED while another holder's
 * lease runs. A holder that dies loses the lock when its lease runs out.
 * Version 2.
 */
typedef int (*acme_store_lease_fn)(const char *name, unsigned int ttl_s, uint64_t *token,
                                   void *userdata);
/**
 * Extend the lease of lock `name`, held with `token`, to `ttl_s` seconds
 * from now: ACME_OK, or ACME_ERR_LOCKED when the lease is gone (expired,
 * or the token is no longer the current one). Version 2.
 */
typedef int (*acme_store_renew_fn)(const char *name, uint64_t token, unsigned int ttl_s,
                                   void *userdata);
/**
 * Apply `n` changes all together or none of them (one transaction, durable
 * on success): for each i, write values[i] (lens[i] bytes, secrets[i] as for
 * acme_store_write_fn) to keys[i], or remove keys[i] when values[i] is NULL.
 * When `lock` is non-NULL the changes are made under that lock: refuse them
 * all with ACME_ERR_LOCKED unless `token` is still the lock's current token
 * (fencing). Version 2.
 */
typedef int (*acme_store_commit_fn)(size_t n, const char *const *keys,
                                    const void *const *values, const size_t *lens,
                                    const int *secrets, const char *lock, uint64_t token,
                                    void *userdata);

/** Version of acme_store_ops this header describes. */
#define ACME_STORE_OPS_VERSION 2

/**
 * The callbacks of a store. Initialise with
 * acme_store_ops_init(&ops, ACME_STORE_OPS_VERSION) or ACME_STORE_OPS_INIT,
 * then set the callbacks; all are required. Fields are only ever appended:
 * the library reads only the fields of the version the struct carries.
 * A callback's error code is returned to the library's caller as it is (a
 * positive value counts as ACME_ERR_CALLBACK), with a message naming the
 * operation and the key.
 *
 * Version 2 appends lease, renew and commit: set all three (or none). With
 * them the store has the whole lock contract of this header. A version-1
 * store (or one that leaves them NULL) keeps working, and loses: leases
 * (its lock is held until unlock, so lock must itself free the locks of a
 * holder that died), fencing (a paused holder's late writes are not
 * refused) and atomic commit (a generation is written key by key, the
 * metadata last, which still switches generations at one write).
 */
typedef struct acme_store_ops {
    unsigned int version;        /**< ACME_STORE_OPS_VERSION */
    acme_store_read_fn read;     /**< read a value */
    acme_store_write_fn write;   /**< replace a value atomically */
    acme_store_delete_fn remove; /**< remove a value */
    acme_store_list_fn list;     /**< list the children of a prefix */
    acme_store_lock_fn lock;     /**< take a named lock without waiting */
    acme_store_unlock_fn unlock; /**< release a named lock */
    acme_store_lease_fn lease;   /**< take a lock as a lease with a token (version 2) */
    acme_store_renew_fn renew;   /**< renew a lease (version 2) */
    acme_store_commit_fn commit; /**< apply changes at once, fenced (version 2) */
} acme_store_ops;

/** Static initialiser for acme_store_ops: no callbacks yet. */
#define ACME_STORE_OPS_INIT { .version = ACME_STORE_OPS_VERSION }

/**
 * Fill `ops` with zeros (no callbacks) and `version`, which is
 * ACME_STORE_OPS_VERSION of the headers the caller was built with: only
 * the fields that version has are written.
 * Errors: ACME_ERR_INVALID (NULL `ops`; `version` 0 or newer than this
 * library's), with the reason in acme_last_error().
 * Thread-safe: it touches only `ops`. Since 0.9.
 */
ACME_API int acme_store_ops_init(acme_store_ops *ops, unsigned int version);

/** An opaque store. */
typedef struct acme_store acme_store;

/**
 * A store on host callbacks. The fields of `ops`'s version are copied;
 * `userdata` is passed to every callback. Errors: ACME_ERR_INVALID (a
 * callback missing, unknown version). Since 0.1.
 */
ACME_API int acme_store_new(acme_store **out, const acme_store_ops *ops, void *userdata);

/**
 * The built-in filesystem store rooted at `dir` (created with mode 0700 if
 * missing; a relative path is made absolute against the current directory).
 * Writes go to a temporary file, are fsynced, renamed over the target and
 * the directory is fsynced (once for the files of one commit in one
 * directory, before the commit returns); a certificate's current
 * generation and stable names are symbolic links (see "Reading a
 * consistent pair" above), made
 * under a temporary name, renamed into place and the directory fsynced;
 * secrets get mode 0600, other values 0644,
 * directories 0700. Temporary files that a crashed writer left behind are
 * removed when the lock of their key's directory is next taken (the lock
 * holder is the only writer there), and otherwise once older than a minute
 * by later writes outside a held lock and by lists of their directory. Locks are advisory file locks (flock) under DIR/locks/,
 * released by the kernel when their holder dies, so a crashed process
 * leaves no stale lock; the top-level key "locks" is therefore reserved
 * (ACME_ERR_INVALID). Errors: ACME_ERR_INVALID (no dir), ACME_ERR_IO. Since 0.1.
 */
ACME_API int acme_store_new_fs(acme_store **out, const char *dir);

/** Version of acme_etcd_options this header describes. */
#define ACME_ETCD_OPTIONS_VERSION 1

/**
 * Where and how to reach etcd (acme_store_new_etcd()). Initialise with
 * acme_etcd_options_init(&o, ACME_ETCD_OPTIONS_VERSION) or
 * ACME_ETCD_OPTIONS_INIT; fields are only ever appended. Strings are
 * copied.
 */
typedef struct acme_etcd_options {
    unsigned int version; /**< ACME_ETCD_OPTIONS_VERSION */
    /**
     * The members to talk to, separated by commas: "https://HOST:PORT" or
     * "HOST:PORT" (https). "http://HOST:PORT" is allowed too, for a member
     * on loopback: credentials and keys then travel in clear. Required.
     */
    const char *endpoints;
    /** Key prefix of this deployment, made of key segments (e.g.
     *  "acme/prod"); NULL or "": none. */
    const char *prefix;
    const char *ca_bundle;   /**< PEM file of the CAs trusted for the members; NULL: system's */
    const char *client_cert; /**< PEM file of a TLS client certificate, or NULL */
    const char *client_key;  /**< PEM file of its private key, or NULL */
    const char *username;    /**< etcd user (auth enabled), or NULL */
    const char *password;    /**< its password */
    unsigned int timeout_ms; /**< per request, 0: 10000 */
    unsigned int lease_ttl_s; /**< time to live of lock leases, 0: 30 (at least 5) */
} acme_etcd_options;

/** Static initialiser for acme_etcd_options. */
#define ACME_ETCD_OPTIONS_INIT { .version = ACME_ETCD_OPTIONS_VERSION }

/**
 * Fill `opts` with the defaults (zeros) of `version`, the
 * ACME_ETCD_OPTIONS_VERSION of the caller's headers. Errors:
 * ACME_ERR_INVALID (NULL, version 0 or newer than this library's), with
 * the reason in acme_last_error(). Thread-safe: it touches only `opts`.
 * Since 1.0.
 */
ACME_API int acme_etcd_options_init(acme_etcd_options *opts, unsigned int version);

/**
 * The built-in etcd store: the keys live in etcd (v3, through its JSON
 * gateway) under the prefix, with the whole lock contract of this header.
 * A lock is the key PREFIX/locks/NAME, created with a lease in a
 * transaction that requires it absent; its create revision is the fencing
 * token, and every change under the lock is a transaction comparing it.
 * A certificate generation with its switch is one transaction. A request
 * that a member cannot serve (unreachable, no leader) goes to the next
 * member, and later requests start with the one that answered. With a
 * username, the store authenticates and renews its token when the member
 * says it expired. Values are bounded (1 MiB: ACME_ERR_TOO_LARGE); the
 * top-level key "locks" is reserved (ACME_ERR_INVALID). The members'
 * errors come back with their message and the member named.
 *
 * One request is made at once (a range on the prefix) so that a wrong
 * address, CA or password fails here. *out is released with
 * acme_store_free(), which also releases the locks it still holds.
 * Errors: ACME_ERR_INVALID (no endpoints, a malformed endpoint or prefix,
 * a client certificate without its key, refused credentials),
 * ACME_ERR_NETWORK or ACME_ERR_TLS (no member answered), ACME_ERR_NOMEM;
 * recorded in acme_last_error(). Threads: the store may be used by several
 * threads at once. Since 1.0.
 */
ACME_API int acme_store_new_etcd(acme_store **out, const acme_etcd_options *opts);

/**
 * The filesystem path of `key` in a filesystem store, as a new string
 * (acme_free()). ACME_ERR_UNSUPPORTED for other stores. Since 0.1.
 */
ACME_API int acme_store_path(const acme_store *s, const char *key, char **path_out);

/**
 * Read `key` through the store into a new buffer (NUL-terminated after
 * *len bytes; free with acme_free()). Errors: ACME_ERR_NOT_FOUND, those of
 * the store, ACME_ERR_INVALID for a malformed key. Since 0.1.
 */
ACME_API int acme_store_get(acme_store *s, const char *key, char **data, size_t *len);

/**
 * Write `key` through the store (see acme_store_write_fn). Errors: those of
 * the store, ACME_ERR_INVALID for a malformed key. Since 0.1.
 */
ACME_API int acme_store_put(acme_store *s, const char *key, const void *data, size_t len,
                            int secret);

/**
 * The message of the last call on `s` that failed (acme_store_get(),
 * acme_store_put(), acme_store_path() and the other acme_store_* and
 * acme_backoff_* / acme_rate_limit_get() calls that say "recorded on the
 * store"), or "" when none has. The library's own use of the store (a
 * desire's) reports on the desire, not here. Borrowed: valid until the
 * next call on `s` fails or its last free. Stores have no CA problem.
 * Threads: only while no other thread uses `s`; a store shared by threads
 * is read with acme_store_last_error_copy(). Since 0.9.
 */
ACME_API const char *acme_store_last_error(const acme_store *s);

/**
 * Copy the message acme_store_last_error() gives into `buf` of `size`
 * bytes, cut to fit and NUL-terminated; "" when no call failed. Returns the
 * length of the whole message (as snprintf() does: a result >= size means
 * it was cut; ACME_ERROR_MAX bytes always suffice), or ACME_ERR_INVALID
 * (NULL `s`, or NULL `buf` with a non-zero `size`; `buf` may be NULL with
 * `size` 0 to ask for the length). Thread-safe: failing calls record under
 * the store's lock and the copy is taken under it, so it is whole even
 * while other threads fail on `s`. Since 1.1.
 */
ACME_API int acme_store_last_error_copy(const acme_store *s, char *buf, size_t size);

/**
 * Drop the caller's reference to the store handle (not the data). A desire
 * keeps a reference of its own; when the last goes, a filesystem store
 * releases the locks it still holds. NULL is allowed. Since 0.1.
 */
ACME_API void acme_store_free(acme_store *s);

/* ---- the layout ------------------------------------------------------- */

/** The key whose children are the names of the stored certificates. Since 0.3. */
#define ACME_STORE_CERTS "certs"
/** The key whose children are the CA segments of the stored accounts. Since 0.3. */
#define ACME_STORE_ACCOUNTS "accounts"

/** Which file of a stored certificate or account a key names. Since 0.3. */
typedef enum acme_store_file {
    ACME_STORE_FILE_KEY = 1,   /**< key.pem: the private key (secret) */
    ACME_STORE_FILE_CHAIN = 2, /**< chain.pem: leaf first (certificates only) */
    ACME_STORE_FILE_META = 3   /**< meta.json (certificate), account.json (account) */
} acme_store_file;

/**
 * The store key of a file of the stored certificate `name`: for
 * ACME_STORE_FILE_KEY and ACME_STORE_FILE_CHAIN the stable copy of the
 * current generation (certs/NAME/key.pem, chain.pem), for
 * ACME_STORE_FILE_META its metadata (certs/NAME/meta.json). Only makes the key: whether anything
 * is stored there is not checked. *key_out is a new string (acme_free()).
 * Errors: ACME_ERR_INVALID (NULL argument, an unknown `file`, or a name
 * acme_desire_name_valid() refuses), ACME_ERR_NOMEM. Thread-safe: it
 * touches no shared state. Since 0.3.
 */
ACME_API int acme_store_cert_key(const char *name, int file, char **key_out);

/**
 * The store key of a file of the account of `email` (NULL or "": the
 * default account) at the CA of `directory_url`, with the CA and e-mail
 * segments sanitised as the library does (a label that is a segment already,
 * such as a name listed under ACME_STORE_ACCOUNTS, is kept as it is):
 * ACME_STORE_FILE_KEY for the account key, ACME_STORE_FILE_META for
 * account.json. Only makes the key:
 * whether anything is stored there is not checked. *key_out is a new string
 * (acme_free()). Errors: ACME_ERR_INVALID (NULL directory_url or key_out,
 * or another `file`), ACME_ERR_NOMEM. Thread-safe: it touches no shared
 * state. Since 0.3.
 */
ACME_API int acme_store_account_key(const char *directory_url, const char *email, int file,
                                    char **key_out);

/**
 * The current certificate of `name` as one generation: *chain_pem (the
 * chain, leaf first) and, when key_pem is not NULL, *key_pem (its private
 * key in PEM; left NULL when the key is the host's, a signer the store
 * never holds). The leaf is checked to hold the key, and both come from
 * the same generation on every backend, also while other processes renew
 * `name` (a generation dropped during the read is read again as the next
 * one): what a deploy step or a server reading the store should call
 * rather than reading the stable keys one after the other. Both are new
 * NUL-terminated strings for acme_free(); wipe the key first.
 * Errors: ACME_ERR_INVALID (NULL s, name or chain_pem; a name
 * acme_desire_name_valid() refuses), ACME_ERR_NOT_FOUND (nothing stored
 * for `name`), ACME_ERR_CORRUPT (a record that does not read, or a chain
 * without its key: the store key is named), the backend's errors,
 * ACME_ERR_NOMEM; recorded on the store (acme_store_last_error()).
 * Threads: as the store (the error record is one per store: read it from
 * the thread that failed, before another call). Since 1.1.
 */
ACME_API int acme_store_read_current(acme_store *s, const char *name, char **chain_pem,
                                     char **key_pem);

/* ---- compromised keys ------------------------------------------------- */

/**
 * Whether `s` records the key of JWK thumbprint `thumbprint` as
 * compromised (the record compromised-keys/THUMBPRINT, written by
 * acme_desire_revoke() with ACME_REASON_KEY_COMPROMISE or by
 * acme_store_mark_key_compromised()): *compromised is 1 when it does, else
 * 0. The thumbprint is the RFC 7638 SHA-256 one, base64url, as
 * acme_key_thumbprint() gives for a key and acme_csr_key_thumbprint() for
 * the key of a CSR, so a key the library never held (a host's, a CSR's)
 * can be checked before it is used.
 * Errors: ACME_ERR_INVALID (NULL argument, or not 43 base64url
 * characters), those of the store; recorded on `s`
 * (acme_store_last_error()). Threads: as the store's callbacks. Since 1.0.
 */
ACME_API int acme_store_key_compromised(acme_store *s, const char *thumbprint, int *compromised);

/**
 * Record the key of JWK thumbprint `thumbprint` (as for
 * acme_store_key_compromised()) as compromised in `s`: no ensure of a
 * desire on this store uses it again, for any name, and a stored
 * certificate that holds it is replaced at the next ensure. `serial` (may
 * be NULL) is the revoked certificate's, kept in the record for whoever
 * reads the store. Recording a key twice is harmless. Errors: as
 * acme_store_key_compromised(); recorded on `s`. Since 1.0.
 */
ACME_API int acme_store_mark_key_compromised(acme_store *s, const char *thumbprint,
                                             const char *serial);

/* ---- failures remembered between runs ----------------------------------- */

/**
 * The backoff record of certificate `name` (acme_desire_ensure() keeps one
 * per name that failed): *failures, the consecutive failures (0: no record,
 * the name is not in backoff), *next_attempt, the earliest time (Unix
 * seconds) ensure tries again without being forced, *held, non-zero once
 * the name failed so often that ensure tries it again only when forced or
 * after acme_backoff_reset(), and *last_error, the last failure's message
 * (a new string, acme_free(); NULL without a record). Any output may be
 * NULL. Errors: ACME_ERR_INVALID (NULL store or name, not a certificate
 * name), ACME_ERR_CORRUPT (an unreadable record, left as it is), the
 * store's errors; recorded on the store. Threads: as the store. Since 1.0.
 */
ACME_API int acme_backoff_get(acme_store *s, const char *name, unsigned int *failures,
                              int64_t *next_attempt, int *held, char **last_error);

/**
 * Forget the backoff record of certificate `name`, so that the next ensure
 * tries it as if it had never failed (the operator's reset of a held name).
 * No record is not an error. Errors: ACME_ERR_INVALID, the store's errors;
 * recorded on the store. Threads: as the store. Since 1.0.
 */
ACME_API int acme_backoff_reset(acme_store *s, const char *name);

/**
 * The rate limit the CA of `directory_url` last announced to the account
 * of `email` (NULL: the default account): *until, the time (Unix seconds)
 * before which ensure sends that CA no new order for the account (0: no
 * record; a time in the past: it is over), and *message, the CA's detail
 * with the limit's name and an unpause URL when the CA gave them (a new
 * string, acme_free(); NULL without a record). Outputs may be NULL.
 * Errors: ACME_ERR_INVALID (NULL store or URL), ACME_ERR_CORRUPT, the
 * store's errors; recorded on the store. Threads: as the store. Since 1.0.
 */
ACME_API int acme_rate_limit_get(acme_store *s, const char *directory_url, const char *email,
                                 int64_t *until, char **message);

/* ---- account records -------------------------------------------------- */

/**
 * Restore the account stored for `email` at this provider's CA and verify
 * it with the CA (onlyReturnExisting): the seed's LoadAccount(email).
 * Errors: ACME_ERR_NOT_FOUND (nothing stored for the e-mail), ACME_ERR_CORRUPT,
 * ACME_ERR_PROBLEM (the CA does not know the key), ACME_ERR_STATE (the CA
 * returns another URL than the stored one). Since 0.1.
 */
ACME_API int acme_account_restore(acme_account **out, acme_provider *p, acme_store *store,
                                  const char *email);

#ifdef __cplusplus
}
#endif

#endif
