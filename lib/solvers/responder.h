/* What the built-in responders share: a listening TCP socket with a
 * self-pipe that wakes the poll loop for stop, a background thread that
 * takes no process signals, the poll loop itself (connection slots,
 * deadlines, eviction), and the table of answers that the solver callbacks
 * fill and empty. */
#ifndef ACME_LIB_RESPONDER_H
#define ACME_LIB_RESPONDER_H

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* From accept to a complete request (the HTTP request head, the TLS
 * ClientHello): a validator sends it at once, so even over a path with a
 * round trip of several hundred milliseconds it arrives well within this;
 * a slow or silent client loses its slot after it. */
#define ACME__REQUEST_TIMEOUT_MS 3000
/* From accept to close, whatever the client does: the answer, the rest of
 * a TLS handshake and a graceful close fit in what remains. */
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

/* One client connection: the first member of each responder's own
 * connection type. The serve loop polls fd for `events` and calls the
 * responder's step when it is ready. */
typedef struct acme__conn {
    int fd;           /* non-blocking, close-on-exec; closed by the loop */
    short events;     /* POLLIN or POLLOUT; step sets 0 when the connection is done */
    int requested;    /* the request is complete (acme__conn_requested) */
    int64_t accepted; /* acme__mono_ms() at accept: the oldest is evicted first */
    int64_t deadline; /* closed when it passes (step may shorten it) */
} acme__conn;

struct acme__responder;

/* What a responder does with its connections. open makes one for a new
 * socket (with events set; NULL for want of memory, the loop closes fd);
 * step moves it on when fd is ready; close frees it (not its fd). */
typedef struct acme__conn_ops {
    size_t max_conns; /* connections served at once */
    acme__conn *(*open)(struct acme__responder *r, int fd);
    void (*step)(struct acme__responder *r, acme__conn *c);
    void (*close)(struct acme__responder *r, acme__conn *c);
} acme__conn_ops;

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
    const acme__conn_ops *ops;
    /* The server thread's own: ops->max_conns slots, how many are in use,
     * and room for one poll() over all of them. */
    acme__conn **conns;
    size_t nconns;
    struct pollfd *pfd; /* the slots, the wake pipe and the listening socket */
    size_t *slot;       /* the slot of each pfd entry */
} acme__responder;

/* Allocate a zeroed responder of `size` bytes (its acme__responder first),
 * bind address (IPv4 or IPv6 literal, optionally in brackets; NULL for
 * 0.0.0.0) and port with SO_REUSEADDR, and serve its connections with ops
 * on a thread of its own: one poll loop for all of them, each with the
 * deadlines above; when every slot is taken, a new client evicts the
 * oldest that has not completed its request, so one is always accepted.
 * `what` names the responder in messages; free_answer frees one answer.
 * ACME_ERR_INVALID for a bad address or port, ACME_ERR_IO when the socket
 * cannot be bound, ACME_ERR_NOMEM. On failure *out is NULL and nothing is
 * left open. */
int acme__responder_start(acme__responder **out, size_t size, const char *address,
                          unsigned int port, const char *what, const acme__conn_ops *ops,
                          void (*free_answer)(acme__answer *a));
/* Wake the thread, join it, close, free every answer, mark the responder
 * stopped and drop the host's reference. NULL is allowed. */
void acme__responder_stop(acme__responder *r);
/* Take a reference (for a solver set), or drop one: the last frees.
 * unref takes the responder untyped, as a set's free_userdata. */
acme__responder *acme__responder_ref(acme__responder *r);
void acme__responder_unref(void *responder);

/* Called by step when c's request is complete: c is no longer the first
 * to go when the slots are full, and has until ACME__CONN_TIMEOUT_MS after
 * its accept to finish. */
void acme__conn_requested(acme__conn *c);

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
