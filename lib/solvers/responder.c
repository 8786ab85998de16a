/* Listening sockets, wake pipes and signal-free threads for the built-in
 * responders. */
#include "solvers/responder.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"

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

void acme__listener_close(acme__listener *l)
{
    close_fd(&l->fd);
    close_fd(&l->wake[0]);
    close_fd(&l->wake[1]);
}

int acme__listener_open(acme__listener *l, const char *address, unsigned int port,
                        const char *what)
{
    l->fd = l->wake[0] = l->wake[1] = -1;
    l->port = 0;
    if (port > 65535)
        return acme__fail(NULL, ACME_ERR_INVALID, "%s: port %u is out of range", what, port);

    /* A numeric address only: a responder binds where it is told, it does
     * not resolve names. "[::1]" is accepted as well as "::1". */
    char host[INET6_ADDRSTRLEN + 64];
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
    char service[8];
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
    l->fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (l->fd >= 0) {
        int one = 1;
        if (set_flags(l->fd, 1) != 0)
            step = "fcntl";
        else if (setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
            step = "SO_REUSEADDR";
        else if (bind(l->fd, ai->ai_addr, ai->ai_addrlen) != 0)
            step = "bind";
        else if (listen(l->fd, 64) != 0)
            step = "listen";
        else
            step = NULL;
    }
    int e = errno;
    freeaddrinfo(ai);
    if (step) {
        acme__listener_close(l);
        return acme__fail(NULL, ACME_ERR_IO, "%s: cannot listen on %s port %u (%s: %s)", what,
                          address ? address : "0.0.0.0", port, step, strerror(e));
    }

    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) != 0) {
        e = errno;
        acme__listener_close(l);
        return acme__fail(NULL, ACME_ERR_IO, "%s: getsockname: %s", what, strerror(e));
    }
    if (ss.ss_family == AF_INET6)
        l->port = ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
    else
        l->port = ntohs(((const struct sockaddr_in *)&ss)->sin_port);

    if (pipe(l->wake) != 0 || set_flags(l->wake[0], 1) != 0 || set_flags(l->wake[1], 1) != 0) {
        e = errno;
        acme__listener_close(l);
        return acme__fail(NULL, ACME_ERR_IO, "%s: cannot create a wake pipe: %s", what,
                          strerror(e));
    }
    return ACME_OK;
}

void acme__listener_wake(acme__listener *l)
{
    /* Never drained: every later poll on wake[0] returns at once. A full
     * pipe (EAGAIN) means it is readable already. */
    ssize_t n;
    do
        n = write(l->wake[1], "x", 1);
    while (n < 0 && errno == EINTR);
}

int acme__listener_woken(const acme__listener *l)
{
    struct pollfd p = { l->wake[0], POLLIN, 0 };
    return poll(&p, 1, 0) > 0;
}

int acme__listener_accept(const acme__listener *l)
{
    for (;;) {
        int fd = accept(l->fd, NULL, NULL);
        if (fd < 0 && errno == EINTR)
            continue;
        if (fd < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED ? -1 : -2;
        if (set_flags(fd, 1) != 0) {
            close(fd);
            return -1;
        }
        return fd;
    }
}

int acme__listener_wait(const acme__listener *l, int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - acme__mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p[2] = { { fd, events, 0 }, { l->wake[0], POLLIN, 0 } };
        int n = poll(p, 2, left > 1000 ? 1000 : (int)left);
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

int acme__listener_run(acme__listener *l, pthread_t *thread, const char *address,
                       unsigned int port, const char *what, void *(*serve)(void *), void *arg)
{
    int rc = acme__listener_open(l, address, port, what);
    if (rc == ACME_OK) {
        rc = acme__thread_start(thread, serve, arg, what);
        if (rc != ACME_OK)
            acme__listener_close(l);
    }
    return rc;
}

void acme__listener_stop(acme__listener *l, pthread_t thread)
{
    acme__listener_wake(l);
    pthread_join(thread, NULL);
    acme__listener_close(l);
}
