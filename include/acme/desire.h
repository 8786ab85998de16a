/**
 * @file
 * libacme: the desire, i.e. the map of certificate name -> identifiers and
 * certificate-key type that a host wants to hold valid certificates for,
 * and the one idempotent call that makes it so: acme_desire_ensure().
 *
 * For each wanted certificate, ensure walks this flow:
 *   no account key   -> make one, store it, register (or recover the
 *                       account by onlyReturnExisting when the key is known)
 *   no certificate   -> make a key (or take the host's, acme_desire_set_key())
 *                       and order
 *   certificate held -> renew when due: ARI (RFC 9773) when the CA offers
 *                       renewalInfo, else when less than a third of its
 *                       lifetime remains (half, under ten days); or when the
 *                       wanted names or key type changed, it was revoked,
 *                       its key was revoked for keyCompromise (under any
 *                       name), or it was issued by another CA (another
 *                       directory than the desire's issuers:
 *                       acme_desire_add_issuer())
 * Running it again with nothing due sends no order.
 *
 * Bad days (Since 1.0): a name whose order fails for a reason of its own
 * (validation, a refused identifier, no solver) is put in backoff, recorded
 * in the store: it is not tried again before a delay that doubles with each
 * consecutive failure, from backoff_base_s up to backoff_max_s, with
 * jitter; after hold_after consecutive failures it is held until forced
 * (acme_desire_set_force()) or reset (acme_backoff_reset()). A rateLimited
 * problem is recorded per CA and account until its Retry-After (an hour
 * without one): until then no new order goes to that CA from any process
 * sharing the store, except renewals inside the certificate's ARI window,
 * which Let's Encrypt exempts from its rate limits. A paused identifier
 * (the problem gives an unpause URL) holds the name. Within one ensure, a
 * circuit breaker stops new orders after breaker_ca consecutive failures of
 * the CA (no answer, timeouts, 5xx) or breaker_validation consecutive
 * failures with the same validation problem; names not attempted for any
 * of these reasons end ACME_RESULT_SKIPPED with the cause in their message.
 *
 * Every renewal gets a fresh certificate key unless reuse_key (or
 * acme_desire_set_reuse_key()) asks to keep the stored one. A key revoked
 * for keyCompromise through acme_desire_revoke() is recorded in the store
 * and never used again, for any name, reuse_key or not.
 *
 * A name "www.example.com" brings "example.com" into the same certificate
 * unless the no_www_base option is set.
 *
 * Threads: a desire is used by one thread at a time; ensure itself may run
 * certificates in parallel on worker threads (option `parallel`), sharing
 * the provider (one nonce pool, reused connections). Solver and event
 * callbacks may therefore run on worker threads; event callbacks are
 * serialised (never two at once).
 */
#ifndef ACME_DESIRE_H
#define ACME_DESIRE_H

#include "account.h"
#include "common.h"
#include "provider.h"
#include "solver.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Kinds of event. */
typedef enum acme_event_type {
    ACME_EVENT_OBTAINED = 1, /**< a first certificate for the name was stored */
    ACME_EVENT_RENEWED = 2,  /**< a replacement certificate was stored */
    ACME_EVENT_FAILED = 3,   /**< ensuring the name failed (error, message, problem) */
    ACME_EVENT_REVOKED = 4,  /**< the name's certificate was revoked */
    ACME_EVENT_SKIPPED = 5   /**< the name was due but not attempted (backoff, rate limit,
                                  circuit breaker, deadline): error, message. Since 1.0 */
} acme_event_type;

/** An event, valid only during the callback. */
typedef struct acme_event acme_event;

/** The acme_event_type. Since 0.1. */
ACME_API int acme_event_get_type(const acme_event *e);
/** The certificate name. Since 0.1. */
ACME_API const char *acme_event_name(const acme_event *e);
/** Store key of the certificate chain (current generation), or NULL for FAILED. Since 0.1. */
ACME_API const char *acme_event_chain_key(const acme_event *e);
/**
 * Store key of the certificate's private key, or NULL for FAILED and for a
 * name whose key is the host's (acme_desire_set_key(): no key is stored).
 * Since 0.1.
 */
ACME_API const char *acme_event_key_key(const acme_event *e);
/** Filesystem path of the chain's stable copy (filesystem store only), or NULL. Since 0.1. */
ACME_API const char *acme_event_chain_path(const acme_event *e);
/**
 * Filesystem path of the key's stable copy (filesystem store only), or
 * NULL: for FAILED, another store, and a name whose key is the host's
 * (acme_desire_set_key(): there is no key file). Since 0.1.
 */
ACME_API const char *acme_event_key_path(const acme_event *e);
/** For FAILED and SKIPPED: the error code (negative); 0 otherwise. Since 0.1. */
ACME_API int acme_event_error(const acme_event *e);
/** For FAILED and SKIPPED: the message; "" otherwise. Since 0.1. */
ACME_API const char *acme_event_message(const acme_event *e);
/** For FAILED: the CA's problem, or NULL. Since 0.1. */
ACME_API const acme_problem *acme_event_problem(const acme_event *e);

/** Event callback (see the threading note above). */
typedef void (*acme_event_fn)(const acme_event *e, void *userdata);

/** Version of acme_desire_options this header describes (2: `reuse_key`;
 *  3: backoff, circuit breaker, deadline; 4: `keep_generations`). */
#define ACME_DESIRE_OPTIONS_VERSION 4

/**
 * Options for acme_desire_new(). Initialise with
 * acme_desire_options_init(&o, ACME_DESIRE_OPTIONS_VERSION) or
 * ACME_DESIRE_OPTIONS_INIT; zero means "the default" for every field.
 * Fields are only ever appended: the library reads only the fields of the
 * version the struct carries, so a caller of version 1 gets the default of
 * `reuse_key`.
 */
typedef struct acme_desire_options {
    unsigned int version;        /**< ACME_DESIRE_OPTIONS_VERSION */
    const char *email;           /**< account contact; also names the stored account ("default" if NULL) */
    int agree_tos;               /**< agree to the CA's terms when registering */
    const char *eab_kid;         /**< External Account Binding key id, or NULL */
    const char *eab_hmac_key;    /**< EAB MAC key (base64url), or NULL */
    const char *eab_algorithm;   /**< "HS256" (default), "HS384", "HS512" */
    int account_key_type;        /**< acme_key_type of a new account key; default ACME_KEY_EC256 */
    int no_www_base;             /**< non-zero: "www.X" does not bring "X" along */
    unsigned int parallel;       /**< certificates ensured at once; default 4 */
    int fresh_key_on_renewal;    /**< non-zero: a new certificate key for every renewal, even when
                                      reuse_key is set (a fresh key is the default since 0.9) */
    acme_clock_fn clock;         /**< the time for renewal decisions; default: the system clock */
    void *clock_userdata;        /**< passed to `clock` */
    acme_event_fn on_event;      /**< event callback, or NULL */
    void *event_userdata;        /**< passed to `on_event` */
    unsigned int order_timeout_s;/**< per-order validation/issuance timeout; default 300 */
    unsigned int lock_timeout_s; /**< how long to wait for another process's lock on a name; default 60 */
    const char *preferred_chain; /**< issuer CN of the preferred chain, or NULL */
    const char *profile;         /**< certificate profile to ask for, or NULL */
    /* version 2 */
    /** Non-zero: a renewal keeps the stored certificate key (unless it was
     *  revoked for keyCompromise, or the wanted key type changed); zero,
     *  the default: every renewal gets a fresh key. Since 0.9. */
    int reuse_key;
    /* version 3 */
    /** First backoff delay after a name's failure, in seconds; default 300.
     *  Since 1.0. */
    unsigned int backoff_base_s;
    /** Longest backoff delay, in seconds; default 86400. Since 1.0. */
    unsigned int backoff_max_s;
    /** Consecutive failures after which a name is held until forced or
     *  reset; default 20 (Let's Encrypt pauses a name after 1152). Since 1.0. */
    unsigned int hold_after;
    /** Consecutive failures of the CA (no answer, timeouts, 5xx) that stop
     *  an ensure's new orders; default 3. Since 1.0. */
    unsigned int breaker_ca;
    /** Consecutive failures with the same validation problem that stop an
     *  ensure's new orders; default 5. Since 1.0. */
    unsigned int breaker_validation;
    /** Seconds the whole acme_desire_ensure() may take; 0: no limit. No
     *  name starts after it, and each order's timeout is cut to what is
     *  left, so the ensure ends within it plus one request timeout.
     *  Since 1.0. */
    unsigned int deadline_s;
    /* version 4 */
    /** Generations of each certificate the store keeps: the current one and
     *  the ones before it, for a rollback; default 2 (current and previous),
     *  1 keeps only the current one. Older generations are removed whole
     *  after each renewal, and leftovers of interrupted runs (never the
     *  current or the previous generation) when ensure next loads the name
     *  under its lock. Since 1.0. */
    unsigned int keep_generations;
} acme_desire_options;

/**
 * Static initialiser for acme_desire_options: the defaults (all zero).
 * Designated, so that -Wmissing-field-initializers stays quiet.
 */
#define ACME_DESIRE_OPTIONS_INIT { .version = ACME_DESIRE_OPTIONS_VERSION }

/**
 * Fill `opts` with the defaults (all zero) and `version`, which is
 * ACME_DESIRE_OPTIONS_VERSION of the headers the caller was built with:
 * only the fields that version has are written.
 * Errors: ACME_ERR_INVALID (NULL `opts`; `version` 0 or newer than this
 * library's), with the reason in acme_last_error().
 * Thread-safe: it touches only `opts`. Since 0.1; `version` since 0.9.
 */
ACME_API int acme_desire_options_init(acme_desire_options *opts, unsigned int version);

/** An opaque desire. */
typedef struct acme_desire acme_desire;

/**
 * A desire on `provider`, keeping its state in `store`, answering
 * challenges with `solvers` (may be NULL when every name brings its own).
 * The desire takes a reference to each of the three, so the caller may
 * free its own handles at any time; they go when the last holder lets them
 * go. `opts` may be NULL for the defaults; the fields of its version are
 * copied, later ones take their defaults.
 * Errors: ACME_ERR_INVALID (no provider or store, unknown options version),
 * ACME_ERR_NOMEM. Since 0.1.
 */
ACME_API int acme_desire_new(acme_desire **out, acme_provider *provider, acme_store *store,
                             const acme_solvers *solvers, const acme_desire_options *opts);

/**
 * Want a certificate called `name` (a store segment: letters, digits and
 * "._-@+"; NULL: the first identifier, with "*" written as "_") for the n
 * identifiers (DNS names, wildcards or IP addresses; checked at once), with
 * a key of `key_type` (0: ACME_KEY_EC256). `solvers` overrides the desire's
 * solvers for this certificate (NULL: the desire's; referenced, as in
 * acme_desire_new()). Adding a name again
 * replaces its entry. Errors: ACME_ERR_IDENTIFIER, ACME_ERR_INVALID. Since 0.1.
 */
ACME_API int acme_desire_add(acme_desire *d, const char *name, const char *const *identifiers,
                             size_t n, int key_type, const acme_solvers *solvers);

/**
 * Non-zero when `name` is usable as a certificate name by acme_desire_add()
 * (one store segment of letters, digits and "._-@+", at most 255
 * characters, not "." or ".." and not "locks"); 0 otherwise, also for NULL.
 * Sets no error. Thread-safe: it touches no shared state. Since 0.3.
 */
ACME_API int acme_desire_name_valid(const char *name);

/**
 * Want every certificate already in the store, with the names and key type
 * it was issued for (what `renew` of a CLI does). Returns how many were
 * added through *count (may be NULL). A certificate with an entry in the
 * store's schedule index is added without reading its record (ensure reads
 * it when it is due), so that a store of a million names costs little to
 * add; the others are read now. Since 0.1; the index since 1.0.
 */
ACME_API int acme_desire_add_stored(acme_desire *d, size_t *count);

/**
 * Ensure every certificate the store holds, as acme_desire_add_stored()
 * then acme_desire_ensure() would, but reading only what is due: a small
 * summary of the schedule index (per shard, the earliest time any of its
 * names is due) says which shards to read, and only the names due in them
 * are loaded and ensured. An idle run over a million stored names reads
 * the summary and nothing else, and holds no per-name state for the names
 * it leaves alone.
 *
 * Afterwards the desire holds one wanted certificate (as stored) per name
 * it looked at, with its result as after acme_desire_ensure(); the names
 * left alone unseen are no wanted certificates: acme_desire_count() leaves
 * them out, and acme_desire_summary() counts them in `not_due`. The next
 * call drops the wanted certificates a previous one added.
 *
 * It falls back to the full pass (acme_desire_add_stored() then
 * acme_desire_ensure(), every stored name then held as a wanted
 * certificate) whenever the summary cannot decide: the desire holds
 * certificates added otherwise (acme_desire_add(), acme_desire_add_stored(),
 * or per-name settings on names this call added), its `profile` option is
 * set, the summary is missing, unreadable or not complete (an update lost
 * names, or it names a CA directory that is not one of the desire's
 * issuers), or the keys recorded as compromised changed. A clean full pass
 * (no failed and no skipped certificate) writes the summary again, so the
 * next call is fast. A libacme older than 1.1 writing to the same store
 * does not keep the summary: a name it issues first is not seen by this
 * call until a full pass (removing the key schedule/sum/due forces one).
 *
 * Returns ACME_OK, or the error of the first failed (then skipped)
 * certificate, as acme_desire_ensure(); before any certificate: the errors
 * of acme_desire_add_stored() (ACME_ERR_NOMEM, the store's when it cannot
 * list), and ACME_ERR_INVALID (d NULL). Recorded on the desire. Threads:
 * like every call on the desire, not while another thread uses it.
 * Since 1.1.
 */
ACME_API int acme_desire_ensure_stored(acme_desire *d);

/** Renew `name` at the next ensure whether it is due or not (on != 0), also
 *  when it is in backoff or held (since 1.0). Since 0.1. */
ACME_API int acme_desire_set_force(acme_desire *d, const char *name, int on);

/**
 * Keep the certificate key of the wanted certificate `name` across
 * renewals (on != 0), or give each renewal a fresh key (on == 0), whatever
 * the desire's reuse_key option says. A key revoked for keyCompromise is
 * never kept. Adding `name` again keeps this setting.
 * Errors: ACME_ERR_INVALID (NULL argument), ACME_ERR_NOT_FOUND (`name` is
 * not wanted), recorded on the desire. Threads: like every call on the
 * desire, not while another thread uses it. Since 0.9.
 */
ACME_API int acme_desire_set_reuse_key(acme_desire *d, const char *name, int on);

/**
 * The certificate profile (draft-ietf-acme-profiles) of the wanted
 * certificate `name` (copied; NULL for none, which lets the CA choose),
 * instead of the desire's `profile` option. With mandatory != 0 a CA whose
 * directory does not list it is refused before any request is sent
 * (ACME_ERR_UNSUPPORTED in the certificate's result); otherwise the order
 * goes without it and the result's message says so. The profile is stored
 * with the certificate and kept when acme_desire_add_stored() wants it
 * again; a wanted profile other than the stored one is renewed at the next
 * ensure. Adding `name` again keeps this setting.
 * Errors: ACME_ERR_INVALID (NULL d or name), ACME_ERR_NOT_FOUND (`name` is
 * not wanted), ACME_ERR_NOMEM, recorded on the desire. Threads: like every
 * call on the desire, not while another thread uses it. Since 1.0.
 */
ACME_API int acme_desire_set_profile(acme_desire *d, const char *name, const char *profile,
                                     int mandatory);

/**
 * Use the host's `key` as the account key, typically a host signer
 * (acme_key_from_signer()) whose private half never enters the library.
 * The desire keeps a reference. Ensure then recovers the key's account
 * (onlyReturnExisting) or registers it, and the store keeps only the
 * account URL, under the key's thumbprint (`accounts/CA/host-key-THUMBPRINT/`),
 * never a key file; the desire's email and account_key_type are not used
 * for the key. Call it before the first ensure.
 * Errors: ACME_ERR_INVALID (NULL argument), ACME_ERR_STATE (the desire
 * already has its account), recorded on the desire. Threads: like every
 * call on the desire, not while another thread uses it. Since 1.0.
 */
ACME_API int acme_desire_set_account_key(acme_desire *d, acme_key *key);

/**
 * Add a fallback issuer: when the desire's own CA (its provider) cannot
 * serve a name (it does not answer, fails with 5xx, rate-limits, its
 * circuit breaker is open, or it refuses for a reason of its own: CAA
 * names other CAs, an identifier it does not issue for, an account
 * demand), the fallbacks are asked in the order they were added. The
 * stored certificate records the directory of the CA that issued it;
 * certificates of any of the desire's issuers are renewed on their own
 * schedule (not as "issued by another CA"), and every renewal asks the
 * first issuer first. The account at `provider` is that of `email` (NULL:
 * the desire's), registered when first needed with the desire's
 * agree_tos, account key type and eab_algorithm, and this issuer's
 * External Account Binding (`eab_kid` and `eab_hmac_key` together, or
 * both NULL). The desire takes a reference to `provider`; the strings are
 * copied. At most 8 fallbacks.
 * Errors: ACME_ERR_INVALID (NULL desire or provider, half an EAB, a
 * directory already among the issuers, more than 8), ACME_ERR_NOMEM;
 * recorded on the desire. Threads: like every call on the desire, not
 * while another thread uses it. Since 1.0.
 */
ACME_API int acme_desire_add_issuer(acme_desire *d, acme_provider *provider, const char *email,
                                    const char *eab_kid, const char *eab_hmac_key);

/**
 * Make the certificate key of the wanted certificate `name` the host's
 * `key`, typically a host signer (acme_key_from_signer()) whose private
 * half stays in a token, a TPM or a KMS; any acme_key will do. The desire
 * keeps a reference (NULL drops it and returns the name to the key type
 * given to acme_desire_add()). Adding `name` again keeps this setting.
 *
 * The key is never stored or exported: the name's stored generations hold
 * the chain and metadata but no key file (a stable key copy left from an
 * earlier stored key is removed), and its events have no key key or path
 * (acme_event_key_key(), acme_event_key_path() give NULL). Every order
 * for the name, renewals included, uses this same key: reuse_key and
 * fresh_key_on_renewal do not apply; the key type is the key's own. The
 * certificate is renewed at the next ensure when the key changes or when
 * the stored certificate holds a key of the library's. A name whose
 * stored certificate has a host key needs the key given again before any
 * order (ACME_ERR_STATE for that name otherwise; nothing is replaced by a
 * generated key), and for acme_desire_revoke() with the certificate key
 * or for keyCompromise.
 *
 * A key recorded as revoked for keyCompromise in the store (by
 * acme_desire_revoke(), under any name) is refused by ensure, for this name
 * alone, before any request: ACME_ERR_INVALID with the reason.
 *
 * Errors: ACME_ERR_INVALID (NULL desire or name), ACME_ERR_NOT_FOUND
 * (`name` is not wanted), recorded on the desire. Threads: like every call
 * on the desire, not while another thread uses it. Since 1.0.
 */
ACME_API int acme_desire_set_key(acme_desire *d, const char *name, acme_key *key);

/**
 * Make the store hold a valid certificate for every wanted name: the flow
 * in the comment at the top of this header, with `parallel` names at once.
 * One failing name never stops the others, unless the failures share a
 * cause (see "Bad days" above). Returns ACME_OK when none failed or was
 * skipped, else the error of the first failure, or of the first skipped
 * name (see the results). A name that is not forced, has no host key, and
 * whose entry in the store's schedule index says it is not due yet for the
 * wanted names, key type and CAs is left alone without opening its record
 * (result ACME_RESULT_NOT_DUE, message "not due (schedule index)"); a
 * missing or stale entry only makes a name look due, and its record is
 * then read and the entry written again. A name whose lock another process
 * or node holds is ensured after all the others, waiting then for its lock
 * (`lock_timeout_s`) as before: processes sharing a store share the orders
 * instead of queueing on the same lock (since 1.1). Since 0.1; the index
 * since 1.0.
 */
ACME_API int acme_desire_ensure(acme_desire *d);

/** Ensure one wanted name (see acme_desire_ensure()). Since 0.1. */
ACME_API int acme_desire_ensure_one(acme_desire *d, const char *name);

/** Outcome of the last ensure for one name. */
typedef enum acme_result {
    ACME_RESULT_NONE = 0,     /**< not ensured yet */
    ACME_RESULT_OBTAINED = 1, /**< a first certificate was obtained */
    ACME_RESULT_RENEWED = 2,  /**< a replacement was obtained */
    ACME_RESULT_NOT_DUE = 3,  /**< the stored certificate is fine: nothing was ordered */
    ACME_RESULT_FAILED = 4,   /**< it failed: see acme_desire_message() */
    ACME_RESULT_SKIPPED = 5   /**< due, but not attempted (backoff, rate limit, circuit
                                   breaker, deadline): the cause is in acme_desire_message()
                                   and its error in acme_desire_error(). Since 1.0 */
} acme_result;

/** Number of wanted certificates. Since 0.1. */
ACME_API size_t acme_desire_count(const acme_desire *d);
/** Name of wanted certificate i, or NULL. Since 0.1. */
ACME_API const char *acme_desire_name(const acme_desire *d, size_t i);
/** acme_result of wanted certificate i. Since 0.1. */
ACME_API int acme_desire_result(const acme_desire *d, size_t i);
/**
 * Message about wanted certificate i's last ensure (why it failed, or when renewal is due).
 * Since 0.1.
 */
ACME_API const char *acme_desire_message(const acme_desire *d, size_t i);
/** Error code of wanted certificate i's last ensure (0 unless it failed). Since 0.1. */
ACME_API int acme_desire_error(const acme_desire *d, size_t i);
/** Counts of the last ensure by result (skipped names are in none of
 *  them: count ACME_RESULT_SKIPPED with acme_desire_result()). Any pointer
 *  may be NULL. Since 0.1. */
ACME_API void acme_desire_summary(const acme_desire *d, size_t *obtained, size_t *renewed,
                                  size_t *not_due, size_t *failed);

/**
 * The desire's account: loaded from the store, recovered from its key, or
 * created and registered, as ensure would. `*out` is a reference of the
 * caller's own, as from every other function that fills an out-parameter:
 * free it with acme_account_free(), before or after the desire. It is the
 * desire's account, shared: use it on one thread at a time, and not while
 * an ensure of the desire runs. Errors: as acme_desire_ensure(), recorded
 * on d. Since 0.1; an owned reference since 0.9 (before, it was borrowed).
 */
ACME_API int acme_desire_account(acme_desire *d, acme_account **out);

/**
 * Revoke the stored certificate `name` with an RFC 5280 reason code,
 * signed by the account key, or by the certificate's own key when
 * `with_cert_key` is non-zero. The store records it; a later ensure that
 * still wants the name orders a replacement. With reason
 * ACME_REASON_KEY_COMPROMISE the store also records the key as
 * compromised, even when the CA refuses the request (the key is no safer
 * for it): no later ensure uses it again for any name, and a certificate
 * of another name that holds it is replaced at the next ensure. Since 0.1.
 */
ACME_API int acme_desire_revoke(acme_desire *d, const char *name, int reason, int with_cert_key);

/**
 * Message of the last failure of a call on the desire, or "". Every
 * failing call on `d` records here (for ensure, the first failed name's
 * message, prefixed with its name). Borrowed: valid until the next
 * failing call on `d` or its free. Since 0.1.
 */
ACME_API const char *acme_desire_last_error(const acme_desire *d);

/**
 * The CA problem behind the last failure of a call on the desire, or NULL
 * when that failure carried none (or none failed): for ensure, the problem
 * of the name whose message acme_desire_last_error() gives (the same one
 * the FAILED event carried); for acme_desire_revoke(), the CA's answer.
 * Borrowed: valid until the next failing call on `d` or its free. Threads:
 * as every call on the desire. Since 1.0.
 */
ACME_API const acme_problem *acme_desire_last_problem(const acme_desire *d);

/** Free the desire (not the provider, store or solvers). NULL is allowed. Since 0.1. */
ACME_API void acme_desire_free(acme_desire *d);

#ifdef __cplusplus
}
#endif

#endif
