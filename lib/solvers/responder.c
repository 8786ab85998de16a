/* Listening sockets, wake pipes, signal-free threads, the poll loop and
 * answer tables for the built-in responders. */
#include "solvers/responder.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"

/* Room for an IPv6 literal with a zone ("fe80::1%eth0"); anything longer
 * is not an address. */
#define HOST_MAX (INET6_ADDRSTRLEN + 64)
/* Connections the kernel queues while the serve loop is busy. */
#define LISTEN_BACKLOG 256
/* Connections accepted per turn of the loop, so that a flood of new ones
 * does not starve those already in. */
#define ACCEPT_BURST 64
/* Pause after accept() fails for want of resources, which a retry at
 * once would only repeat. */
#define ACCEPT_BACKOFF_MS 100

static int set_flags(int fd, int nonblock)
{
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) != 0)
        return -1;
    if (nonblock) {
        fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
            return -1;
    }
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void close_all(acme__responder *r)
{
    close_fd(&r->fd);
    close_fd(&r->wake[0]);
    close_fd(&r->wake[1]);
}

/* Bind and listen, and make the wake pipe; on failure nothing is left
 * open. */
static int listen_on(acme__responder *r, const char *address, unsigned int port,
                     const char *what)
{
    r->fd = r->wake[0] = r->wake[1] = -1;
    if (port > 65535)
        return acme__fail(NULL, ACME_ERR_INVALID, "%s: port %u is out of range", what, port);

    /* A numeric address only: a responder binds where it is told, it does
     * not resolve names. "[::1]" is accepted as well as "::1". */
    char host[HOST_MAX];
    const char *a = address ? address : "0.0.0.0";
    size_t alen = strlen(a);
    if (alen >= 2 && a[0] == '[' && a[alen - 1] == ']') {
        a++;
        alen -= 2;
    }
    if (alen == 0 || alen >= sizeof(host))
        return acme__fail(NULL, ACME_ERR_INVALID, "%s: \"%s\" is not an IP address", what,
                          address ? address : "");
    memcpy(host, a, alen);
    host[alen] = '\0';
    char service[sizeof("65535")];
    snprintf(service, sizeof(service), "%u", port);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    int gai = getaddrinfo(host, service, &hints, &ai);
    if (gai != 0 || !ai)
        return acme__fail(NULL, ACME_ERR_INVALID, "%s: \"%s\" is not an IP address (%s)", what,
                          host, gai_strerror(gai));

    const char *step = "socket";
    r->fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (r->fd >= 0) {
        int one = 1;
        if (set_flags(r->fd, 1) != 0)
            step = "fcntl";
        else if (setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
            step = "SO_REUSEADDR";
        else if (bind(r->fd, ai->ai_addr, ai->ai_addrlen) != 0)
            step = "bind";
        else if (listen(r->fd, LISTEN_BACKLOG) != 0)
            step = "listen";
        else
            step = NULL;
    }
    int e = errno;
    freeaddrinfo(ai);
    if (step) {
        close_all(r);
        return acme__fail(NULL, ACME_ERR_IO, "%s: cannot listen on %s port %u (%s: %s)", what,
                          address ? address : "0.0.0.0", port, step, strerror(e));
    }

    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(r->fd, (struct sockaddr *)&ss, &sl) != 0) {
        e = errno;
        close_all(r);
        return acme__fail(NULL, ACME_ERR_IO, "%s: getsockname: %s", what, strerror(e));
    }
    if (ss.ss_family == AF_INET6)
        r->port = ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
    else
        r->port = ntohs(((const struct sockaddr_in *)&ss)->sin_port);

    if (pipe(r->wake) != 0 || set_flags(r->wake[0], 1) != 0 || set_flags(r->wake[1], 1) != 0) {
        e = errno;
        close_all(r);
        return acme__fail(NULL, ACME_ERR_IO, "%s: cannot create a wake pipe: %s", what,
                          strerror(e));
    }
    return ACME_OK;
}

static void *serve(void *arg);

static void free_slots(acme__responder *r)
{
    free(r->conns);
    free(r->pfd);
    free(r->slot);
}

int acme__thread_start(pthread_t *thread, void *(*fn)(void *), void *arg, const char *what)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(thread, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return acme__fail(NULL, ACME_ERR_NOMEM, "%s: cannot start a thread: %s", what,
                          strerror(rc));
    return ACME_OK;
}

int acme__responder_start(acme__responder **out, size_t size, const char *address,
                          unsigned int port, const char *what, const acme__conn_ops *ops,
                          void (*free_answer)(acme__answer *a))
{
    *out = NULL;
    acme__responder *r = calloc(1, size);
    if (!r)
        return acme__fail(NULL, ACME_ERR_NOMEM, "out of memory");
    r->ops = ops;
    r->conns = calloc(ops->max_conns, sizeof(*r->conns));
    r->pfd = calloc(ops->max_conns + 2, sizeof(*r->pfd));
    r->slot = calloc(ops->max_conns + 2, sizeof(*r->slot));
    if (!r->conns || !r->pfd || !r->slot) {
        free_slots(r);
        free(r);
        return acme__fail(NULL, ACME_ERR_NOMEM, "out of memory");
    }
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        free_slots(r);
        free(r);
        return acme__fail(NULL, ACME_ERR_NOMEM, "%s: cannot create a mutex", what);
    }
    atomic_init(&r->refs, 1);
    r->free_answer = free_answer;
    r->what = what;
    int rc = listen_on(r, address, port, what);
    if (rc == ACME_OK) {
        rc = acme__thread_start(&r->thread, serve, r, what);
        if (rc != ACME_OK)
            close_all(r);
    }
    if (rc == ACME_OK) {
        *out = r;
    } else {
        pthread_mutex_destroy(&r->lock);
        free_slots(r);
        free(r);
    }
    return rc;
}

void acme__responder_stop(acme__responder *r)
{
    if (!r)
        return;
    /* The pipe is never drained: every later poll on wake[0] returns at
     * once. A full pipe (EAGAIN) means it is readable already. */
    ssize_t n;
    do
        n = write(r->wake[1], "x", 1);
    while (n < 0 && errno == EINTR);
    pthread_join(r->thread, NULL);
    close_all(r);
    /* The server thread has released what it held, so the table holds the
     * only references: the answers (secrets among them) go now, not with
     * the last solver set. */
    pthread_mutex_lock(&r->lock);
    acme__answer *answers = r->answers;
    r->answers = NULL;
    r->stopped = 1;
    pthread_mutex_unlock(&r->lock);
    while (answers) {
        acme__answer *a = answers;
        answers = a->next;
        r->free_answer(a);
    }
    acme__responder_unref(r);
}

acme__responder *acme__responder_ref(acme__responder *r)
{
    if (r)
        atomic_fetch_add(&r->refs, 1);
    return r;
}

void acme__responder_unref(void *responder)
{
    acme__responder *r = responder;
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    while (r->answers) {
        acme__answer *a = r->answers;
        r->answers = a->next;
        r->free_answer(a);
    }
    pthread_mutex_destroy(&r->lock);
    free_slots(r);
    free(r);
}

/* ---- the serve loop ---- */

void acme__conn_requested(acme__conn *c)
{
    if (c->requested)
        return;
    c->requested = 1;
    c->deadline = c->accepted + ACME__CONN_TIMEOUT_MS;
}

static void drop(acme__responder *r, size_t i)
{
    acme__conn *c = r->conns[i];
    int fd = c->fd;
    r->ops->close(r, c);
    close(fd);
    r->conns[i] = NULL;
    r->nconns--;
}

/* Free a slot for a new client: the oldest connection that has not
 * completed its request goes (slow clients are the ones that linger
 * there; a validator's request is complete within a round trip or two).
 * When every connection has made its request, the oldest of them goes:
 * those end within moments anyway. -1 when there is nothing to evict. */
static long evict(acme__responder *r)
{
    long oldest = -1, oldest_any = -1;
    for (size_t i = 0; i < r->ops->max_conns; i++) {
        const acme__conn *c = r->conns[i];
        if (!c)
            continue;
        if (!c->requested && (oldest < 0 || c->accepted < r->conns[oldest]->accepted))
            oldest = (long)i;
        if (oldest_any < 0 || c->accepted < r->conns[oldest_any]->accepted)
            oldest_any = (long)i;
    }
    if (oldest < 0)
        oldest = oldest_any;
    if (oldest >= 0)
        drop(r, (size_t)oldest);
    return oldest;
}

/* Accept one pending client as a non-blocking, close-on-exec socket: 1
 * accepted, 0 none pending. Out of descriptors, a connection is evicted
 * to make room; when accept fails otherwise this pauses first, so that
 * the loop does not spin. */
static int accept_one(acme__responder *r)
{
    int fd;
    for (;;) {
        fd = accept(r->fd, NULL, NULL);
        if (fd >= 0)
            break;
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if ((errno == EMFILE || errno == ENFILE) && evict(r) >= 0)
            continue;
        acme__sleep_ms(ACCEPT_BACKOFF_MS);
        return 0;
    }
    if (set_flags(fd, 1) != 0) {
        close(fd);
        return 1;
    }
    size_t i = 0;
    if (r->nconns == r->ops->max_conns)
        i = (size_t)evict(r);
    else
        while (r->conns[i])
            i++;
    int64_t now = acme__mono_ms();
    acme__conn *c = r->ops->open(r, fd);
    if (!c) {
        close(fd);
        return 1;
    }
    c->fd = fd;
    c->requested = 0;
    c->accepted = now;
    c->deadline = now + ACME__REQUEST_TIMEOUT_MS;
    r->conns[i] = c;
    r->nconns++;
    return 1;
}

static void *serve(void *arg)
{
    acme__responder *r = arg;
    const size_t max = r->ops->max_conns;
    struct pollfd *pfd = r->pfd;
    size_t *slot = r->slot;
    for (;;) {
        int64_t now = acme__mono_ms();
        int timeout = -1;
        nfds_t n = 2;
        for (size_t i = 0; i < max; i++) {
            acme__conn *c = r->conns[i];
            if (c && (c->events == 0 || c->deadline <= now)) {
                drop(r, i);
                c = NULL;
            }
            if (!c)
                continue;
            int64_t left = c->deadline - now;
            if (timeout < 0 || left < timeout)
                timeout = (int)left;
            pfd[n] = (struct pollfd){ c->fd, c->events, 0 };
            slot[n++] = i;
        }
        pfd[0] = (struct pollfd){ r->wake[0], POLLIN, 0 };
        /* Polled even with every slot taken: a new client evicts. */
        pfd[1] = (struct pollfd){ r->fd, POLLIN, 0 };
        int ready = poll(pfd, n, timeout);
        if (ready < 0 && errno != EINTR)
            acme__sleep_ms(ACME__POLL_BACKOFF_MS);
        if (ready <= 0)
            continue;
        if (pfd[0].revents)
            break;
        for (nfds_t k = 2; k < n; k++) {
            acme__conn *c = r->conns[slot[k]];
            /* Errors and hang-ups count as ready: the read or write in
             * step reports them. */
            if (!pfd[k].revents)
                continue;
            if (pfd[k].revents & POLLNVAL)
                c->events = 0;
            else
                r->ops->step(r, c);
        }
        /* After the steps, so that an eviction never frees a connection
         * whose poll result is still to be read. */
        if (pfd[1].revents)
            for (int k = 0; k < ACCEPT_BURST && accept_one(r); k++)
                ;
    }
    for (size_t i = 0; i < max; i++)
        if (r->conns[i])
            drop(r, i);
    return NULL;
}

/* ---- the answer table ---- */

int acme__responder_publish(acme__responder *r, acme__answer *a, acme__err *err)
{
    a->refs = 1;
    pthread_mutex_lock(&r->lock);
    int stopped = r->stopped;
    if (!stopped) {
        a->next = r->answers;
        r->answers = a;
    }
    pthread_mutex_unlock(&r->lock);
    if (stopped) {
        r->free_answer(a);
        return acme__fail(err, ACME_ERR_STATE,
                          "%s: stopped, but a solver set still uses it; stop it after the "
                          "orders that use it are done", r->what);
    }
    return ACME_OK;
}

acme__answer *acme__responder_find(acme__responder *r, acme__answer_match_fn match,
                                   const void *key)
{
    pthread_mutex_lock(&r->lock);
    acme__answer *a = r->answers;
    while (a && !match(a, key))
        a = a->next;
    if (a)
        a->refs++;
    pthread_mutex_unlock(&r->lock);
    return a;
}

void acme__responder_release(acme__responder *r, acme__answer *a)
{
    pthread_mutex_lock(&r->lock);
    int last = --a->refs == 0;
    pthread_mutex_unlock(&r->lock);
    if (last)
        r->free_answer(a);
}

void acme__responder_withdraw(acme__responder *r, acme__answer_match_fn match, const void *key)
{
    acme__answer *gone = NULL;
    pthread_mutex_lock(&r->lock);
    for (acme__answer **p = &r->answers; *p; p = &(*p)->next) {
        if (match(*p, key)) {
            gone = *p;
            *p = gone->next;
            break;
        }
    }
    pthread_mutex_unlock(&r->lock);
    if (gone)
        acme__responder_release(r, gone);
}
