/* Listening sockets, wake pipes, signal-free threads and answer tables for
 * the built-in responders. */
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
#define LISTEN_BACKLOG 64
/* poll() takes an int timeout, so longer waits go in slices. */
#define POLL_SLICE_MS 1000
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
                          unsigned int port, const char *what, void *(*serve)(void *),
                          void (*free_answer)(acme__answer *a))
{
    *out = NULL;
    acme__responder *r = calloc(1, size);
    if (!r)
        return acme__fail(NULL, ACME_ERR_NOMEM, "out of memory");
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
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
    free(r);
}

int acme__responder_accept(const acme__responder *r)
{
    for (;;) {
        int fd = accept(r->fd, NULL, NULL);
        if (fd < 0 && errno == EINTR)
            continue;
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
                acme__sleep_ms(ACCEPT_BACKOFF_MS);
            return -1;
        }
        if (set_flags(fd, 1) != 0) {
            close(fd);
            return -1;
        }
        return fd;
    }
}

int acme__responder_wait(const acme__responder *r, int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - acme__mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p[2] = { { fd, events, 0 }, { r->wake[0], POLLIN, 0 } };
        int n = poll(p, 2, left > POLL_SLICE_MS ? POLL_SLICE_MS : (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || p[1].revents)
            return -1;
        if (p[0].revents & POLLNVAL)
            return -1;
        /* Errors and hang-ups count as ready: the read or write that
         * follows reports them. */
        if (p[0].revents)
            return 1;
    }
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
