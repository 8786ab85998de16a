/* What the built-in responders share: a listening TCP socket with a
 * self-pipe that wakes their poll loops for stop, a background thread that
 * takes no process signals, deadline-bounded waits on a connection, and the
 * table of answers that the solver callbacks fill and empty. */
#ifndef ACME_LIB_RESPONDER_H
#define ACME_LIB_RESPONDER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* How long one client may take, in all, before it is dropped: a stalled
 * or slow-dripping peer cannot hold a responder longer than this. */
#define ACME__CONN_TIMEOUT_MS 5000
/* Pause after poll() fails in a serve loop: it should not fail, and a
 * loop that keeps failing must not spin. */
#define ACME__POLL_BACKOFF_MS 10

/* One answer a responder gives (an http-01 token, a tls-alpn-01
 * certificate): the first member of the responder's own entry type. The
 * table holds one reference and every user another, so removing an answer
 * never frees what the server thread is still using. */
typedef struct acme__answer {
    struct acme__answer *next;
    int refs; /* guarded by the responder's lock */
} acme__answer;

/* Tells whether answer a is the one `key` asks for. */
typedef int (*acme__answer_match_fn)(const acme__answer *a, const void *key);

/* The first member of each responder, so that start and unref below can
 * allocate and free the whole of it. The host holds one reference from
 * start to stop and every solver set that publishes through the responder
 * another: stop ends the serving at once, the memory goes with the last
 * reference, so a set that outlives a stop is refused, never a dangling
 * pointer. */
typedef struct acme__responder {
    atomic_int refs;
    int fd;            /* listening socket (non-blocking) */
    int wake[2];       /* self-pipe: a byte in wake[1] means "stop" */
    unsigned int port; /* the port actually bound */
    pthread_t thread;
    pthread_mutex_t lock; /* guards answers, their refs and stopped */
    acme__answer *answers;
    int stopped; /* set by stop: publishing is refused from then on */
    const char *what; /* names the responder in messages (static) */
    void (*free_answer)(acme__answer *a);
} acme__responder;

/* Allocate a zeroed responder of `size` bytes (its acme__responder first),
 * bind address (IPv4 or IPv6 literal, optionally in brackets; NULL for
 * 0.0.0.0) and port with SO_REUSEADDR, and run serve(responder) on its own
 * thread. `what` names the responder in messages; free_answer frees one
 * answer. ACME_ERR_INVALID for a bad address or port, ACME_ERR_IO when the
 * socket cannot be bound, ACME_ERR_NOMEM. On failure *out is NULL and
 * nothing is left open. */
int acme__responder_start(acme__responder **out, size_t size, const char *address,
                          unsigned int port, const char *what, void *(*serve)(void *),
                          void (*free_answer)(acme__answer *a));
/* Wake the thread, join it, close, free every answer, mark the responder
 * stopped and drop the host's reference. NULL is allowed. */
void acme__responder_stop(acme__responder *r);
/* Take a reference (for a solver set), or drop one: the last frees.
 * unref takes the responder untyped, as a set's free_userdata. */
acme__responder *acme__responder_ref(acme__responder *r);
void acme__responder_unref(void *responder);

/* Accept a pending connection as a non-blocking, close-on-exec socket, or
 * -1 when there is none. When accept fails for another reason (e.g. out
 * of descriptors) this pauses first, so that callers do not spin. */
int acme__responder_accept(const acme__responder *r);
/* Wait until fd has `events` (POLLIN / POLLOUT), the deadline (from
 * acme__mono_ms) passes, or the responder is stopped: 1 ready, 0 timed
 * out, -1 stopped or failed. */
int acme__responder_wait(const acme__responder *r, int fd, short events, int64_t deadline_ms);

/* Add answer a (its refs are set to the table's one) as the newest.
 * ACME_ERR_STATE, recorded in err, when the responder was stopped: a is
 * freed then, for nobody would serve it. */
int acme__responder_publish(acme__responder *r, acme__answer *a, acme__err *err);
/* The newest answer that matches key, with a reference taken (give it
 * back with acme__responder_release); NULL when there is none. */
acme__answer *acme__responder_find(acme__responder *r, acme__answer_match_fn match,
                                   const void *key);
/* Drop a reference taken by acme__responder_find. */
void acme__responder_release(acme__responder *r, acme__answer *a);
/* Take the newest answer that matches key out of the table. */
void acme__responder_withdraw(acme__responder *r, acme__answer_match_fn match, const void *key);

/* Start fn(arg) on a new thread with every signal blocked, so that the
 * host's signal handlers never run on a library thread. */
int acme__thread_start(pthread_t *thread, void *(*fn)(void *), void *arg, const char *what);

#endif
