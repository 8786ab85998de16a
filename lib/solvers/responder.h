/* What the built-in responders share: a listening TCP socket with a
 * self-pipe that wakes their poll loops for stop, deadline-bounded waits on
 * a connection, and a background thread that takes no process signals. */
#ifndef ACME_LIB_LISTENER_H
#define ACME_LIB_LISTENER_H

#include <pthread.h>
#include <stdint.h>

/* How long one client may take, in all, before it is dropped: a stalled
 * or slow-dripping peer cannot hold a responder longer than this. */
#define ACME__CONN_TIMEOUT_MS 5000

typedef struct acme__listener {
    int fd;            /* listening socket (non-blocking), or -1 */
    int wake[2];       /* self-pipe: a byte in wake[1] means "stop" */
    unsigned int port; /* the port actually bound */
} acme__listener;

/* Bind address (IPv4 or IPv6 literal, optionally in brackets; NULL for
 * 0.0.0.0) and port with SO_REUSEADDR, listen, and make the wake pipe.
 * `what` names the responder in messages. ACME_ERR_INVALID for a bad
 * address or port, ACME_ERR_IO when the socket cannot be bound. On failure
 * nothing is left open. */
int acme__listener_open(acme__listener *l, const char *address, unsigned int port,
                        const char *what);
/* Ask the loop to stop: the wake pipe stays readable from now on. */
void acme__listener_wake(acme__listener *l);
/* Non-zero once acme__listener_wake() was called. */
int acme__listener_woken(const acme__listener *l);
/* Close everything (safe on a listener that failed to open). */
void acme__listener_close(acme__listener *l);
/* Accept a pending connection as a non-blocking, close-on-exec socket;
 * -1 when none is pending (or the client left already), -2 when accept
 * fails otherwise (e.g. out of descriptors: back off instead of spinning). */
int acme__listener_accept(const acme__listener *l);
/* Wait until fd has `events` (POLLIN / POLLOUT), the deadline (from
 * acme__mono_ms) passes, or the listener is woken: 1 ready, 0 timed out,
 * -1 woken or failed. */
int acme__listener_wait(const acme__listener *l, int fd, short events, int64_t deadline_ms);

/* Start fn(arg) on a new thread with every signal blocked, so that the
 * host's signal handlers never run on a library thread. */
int acme__thread_start(pthread_t *thread, void *(*fn)(void *), void *arg, const char *what);

/* A responder's life: open the listener and start serve(arg) on its
 * thread (nothing left open on failure) ... */
int acme__listener_run(acme__listener *l, pthread_t *thread, const char *address,
                       unsigned int port, const char *what, void *(*serve)(void *), void *arg);
/* ... and wake it, join the thread, close. */
void acme__listener_stop(acme__listener *l, pthread_t thread);

#endif
