/* What keeps a batch from hammering a CA on a bad day: the cause of a
 * failure, the backoff schedule of a failing name, reading a rate limit
 * from the CA's problem, and the circuit breaker of one ensure. */
#ifndef ACME_LIB_GUARD_H
#define ACME_LIB_GUARD_H

#include <pthread.h>
#include <stdint.h>

#include "acme/common.h"
#include "store/retry_store.h"

/* Who a failure is about. */
enum {
    ACME__CAUSE_NAME = 0,   /* the name or the host (refused identifier, no solver, ...) */
    ACME__CAUSE_CA,         /* the CA cannot serve: no answer, timeout, TLS, 5xx */
    ACME__CAUSE_RATE_LIMIT, /* the CA's rateLimited problem */
    ACME__CAUSE_VALIDATION  /* the CA could not validate (the responder, DNS, CAA) */
};

/* The cause of a failure with error rc and the CA's problem p (may be NULL). */
int acme__cause_of(int rc, const acme_problem *p);

/* Seconds to wait after the failures-th consecutive failure: base doubled
 * per failure up to max, less up to a quarter taken by `random` (jitter,
 * so that names failing together do not come back together). */
int64_t acme__backoff_delay(unsigned int failures, unsigned int base_s, unsigned int max_s,
                            uint32_t random);

/* Fill a rate-limit record from a rateLimited problem received at `now`:
 * until is now + its Retry-After (default_s without one), limit the name a
 * Let's Encrypt-style detail gives ("...rate-limits/#new-orders-per-account"),
 * unpause an https URL in the detail that contains "unpause" (the paused
 * identifier problem). Any detail text is accepted. */
void acme__rate_limit_from_problem(const acme_problem *p, int64_t now, int64_t default_s,
                                   acme__rate_limit *out);

/* How a failing name backs off (the desire's options, defaults applied). */
typedef struct acme__backoff_conf {
    unsigned int base_s;
    unsigned int max_s;
    unsigned int hold_after;
} acme__backoff_conf;

/* Before ordering `name`: ACME_OK to go ahead; 1 to skip it, with the
 * reason in why and its error in *error (in backoff or held, unless
 * `force`); a negative error when the store cannot be read. */
int acme__guard_backoff(acme_store *s, const char *name, int force, int64_t now, int *error,
                        char *why, size_t size, acme__err *err);

/* The same for the CA of `directory` and the account of `email`: 1 while
 * the CA's rate limit lasts, unless `ari_window` and the limit is no
 * pause. */
int acme__guard_rate_limit(acme_store *s, const char *directory, const char *email,
                           int ari_window, int64_t now, int *error, char *why, size_t size,
                           acme__err *err);

/* Non-zero when a failure with rc and problem p is the issuer's rather
 * than the name's, so that the next issuer may serve the name: the CA
 * cannot serve or rate-limits, or refuses by its own policy (CAA names
 * other CAs, identifiers it does not issue for, account demands). */
int acme__issuer_refused(int rc, const acme_problem *p);

/* After ordering `name`: rc ACME_OK forgets its backoff; a rate limit is
 * recorded for the CA and account (a pause holds the name); a failure of
 * the name's own adds to its backoff; a failure of the CA's records
 * nothing (the breaker deals with it). */
int acme__guard_record(acme_store *s, const char *name, const char *directory, const char *email,
                       const acme__backoff_conf *conf, int rc, const acme_problem *p,
                       const char *msg, int64_t now, acme__err *err);

/* The circuit breaker of one ensure: consecutive failures of one cause
 * (CA failures; or one validation problem type) stop new orders. While a
 * run of failures is open, no more orders are in flight than would reach
 * the threshold, so that it is never overshot by the parallel workers. */
typedef struct acme__breaker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned int ca_threshold;
    unsigned int validation_threshold;
    int64_t deadline;       /* acme__now() seconds; 0: none */
    unsigned int in_flight;
    unsigned int streak;    /* consecutive failures of streak_key */
    char streak_key[160];
    unsigned int streak_threshold;
    int open;               /* set: no new orders */
    int open_error;
    char open_why[ACME__RECORD_TEXT];
} acme__breaker;

void acme__breaker_init(acme__breaker *b, unsigned int ca_threshold,
                        unsigned int validation_threshold, int64_t deadline);
void acme__breaker_destroy(acme__breaker *b);
/* Ask to place an order: ACME_OK (then call acme__breaker_done once), or
 * the error of the cause that opened the breaker (or ACME_ERR_TIMEOUT for
 * the deadline) with why filled. May wait while a run of failures is open. */
int acme__breaker_enter(acme__breaker *b, char *why, size_t size);
/* The outcome of an order that entered: rc, the problem (may be NULL) and
 * the message. */
void acme__breaker_done(acme__breaker *b, int rc, const acme_problem *p, const char *msg);
/* Non-zero once open (or past the deadline), with why and *error filled. */
int acme__breaker_is_open(acme__breaker *b, int *error, char *why, size_t size);

#endif
