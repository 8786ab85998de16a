/* A small HTTP/1.x server that answers http-01 (RFC 8555 8.3) on its own
 * thread: GET or HEAD /.well-known/acme-challenge/<token> gives the key
 * authorization of a presented token, anything else 404 (400 for what is
 * not HTTP). The shared poll loop (responder.c) serves many clients at
 * once, each with deadlines, and evicts the oldest slow one when the slots
 * are full, so slow clients neither block the others nor stay for long. */
#include "acme/responder.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/b64.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "solvers/responder.h"
#include "base/mem.h"
#include "solvers/solver.h"

#define WHAT "http-01 responder"
#define CHALLENGE_PREFIX "/.well-known/acme-challenge/"
/* The request head (request line and headers) may not be larger. */
#define MAX_REQUEST 8192
/* Clients served at once; a new one beyond them evicts the oldest that
 * has not sent its request. A connection costs about 8.5 KiB (the request
 * buffer and the answer), so all slots in use take under 9 MiB. */
#define MAX_CONNS 1024
/* After the answer, how long unread input is drained before closing (a
 * close with unread input sends a reset that can destroy the answer). */
#define DRAIN_MS 1000
/* Read size while draining; what is read is thrown away. */
#define DRAIN_CHUNK 1024

/* One presented token. */
typedef struct http_entry {
    acme__answer answer; /* first: the table hands back this pointer */
    char *token;
    char *key_authz;
} http_entry;

enum conn_state { CONN_READ, CONN_WRITE, CONN_DRAIN };

typedef struct http_conn {
    acme__conn base; /* first: the serve loop hands back this pointer */
    enum conn_state state;
    size_t in_len;
    char in[MAX_REQUEST];
    acme__buf out;
    size_t out_off;
} http_conn;

struct acme_http_responder {
    acme__responder core; /* first: acme__responder_start allocates the whole */
};

/* The casts between these and the shared types rely on it. */
_Static_assert(offsetof(struct acme_http_responder, core) == 0, "core is the first member");
_Static_assert(offsetof(http_entry, answer) == 0, "answer is the first member");
_Static_assert(offsetof(http_conn, base) == 0, "base is the first member");

static void entry_free(acme__answer *a)
{
    http_entry *e = (http_entry *)a;
    free(e->token);
    acme__free_secret_str(e->key_authz);
    free(e);
}


/* ---- requests ---- */

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Answer into c->out. body may be NULL; head_only leaves it out (HEAD). */
static void respond(http_conn *c, const char *status, const char *extra, const char *body,
                    int head_only)
{
    size_t blen = body ? strlen(body) : 0;
    acme__buf_printf(&c->out,
                     "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "%sConnection: close\r\n\r\n",
                     status, blen, extra ? extra : "");
    if (!head_only && blen)
        acme__buf_append(&c->out, body, blen);
    c->state = CONN_WRITE;
    c->base.events = POLLOUT;
    c->out_off = 0;
    acme__conn_requested(&c->base);
}

static void bad_request(http_conn *c)
{
    respond(c, "400 Bad Request", NULL, "bad request\n", 0);
}

/* The request line (without its line end) once it is complete: 0 with
 * *line, *len set; 1 while more input is needed. Leading empty lines are
 * skipped (RFC 9112 2.2). */
static int request_line(const char *in, size_t n, const char **line, size_t *len)
{
    size_t i = 0;
    while (i < n && (in[i] == '\r' || in[i] == '\n'))
        i++;
    const char *nl = i < n ? memchr(in + i, '\n', n - i) : NULL;
    if (!nl)
        return 1;
    size_t l = (size_t)(nl - (in + i));
    if (l > 0 && in[i + l - 1] == '\r')
        l--;
    *line = in + i;
    *len = l;
    return 0;
}

/* Split "METHOD SP target SP HTTP/1.x"; 0 when well formed. */
static int split_request_line(const char *line, size_t len, const char **method, size_t *mlen,
                              const char **target, size_t *tlen)
{
    size_t i = 0;
    while (i < len && is_tchar((unsigned char)line[i]))
        i++;
    if (i == 0 || i >= len || line[i] != ' ')
        return -1;
    *method = line;
    *mlen = i;
    size_t t = ++i;
    while (i < len && (unsigned char)line[i] > ' ' && (unsigned char)line[i] < 0x7f)
        i++;
    if (i == t || i >= len || line[i] != ' ')
        return -1;
    *target = line + t;
    *tlen = i - t;
    const char *v = line + i + 1;
    size_t vlen = len - i - 1;
    if (vlen != 8 || memcmp(v, "HTTP/1.", 7) != 0 || v[7] < '0' || v[7] > '9')
        return -1;
    return 0;
}

/* Header lines between the request line and the empty line: each must be
 * "name: value" with a token name (no obsolete line folding). */
static int headers_ok(const char *p, const char *end)
{
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return 0;
        size_t l = (size_t)(nl - p);
        if (l > 0 && p[l - 1] == '\r')
            l--;
        if (l == 0)
            return 1;
        size_t n = 0;
        while (n < l && is_tchar((unsigned char)p[n]))
            n++;
        if (n == 0 || n >= l || p[n] != ':')
            return 0;
        for (size_t k = n; k < l; k++)
            if ((unsigned char)p[k] < ' ' && p[k] != '\t')
                return 0;
        p = nl + 1;
    }
    return 0;
}

/* Where the head ends (just past its empty line), or NULL when it has not
 * arrived yet. */
static const char *head_end(const char *in, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (in[i] != '\n')
            continue;
        if (in[i + 1] == '\n')
            return in + i + 2;
        if (i + 2 < n && in[i + 1] == '\r' && in[i + 2] == '\n')
            return in + i + 3;
    }
    return NULL;
}

static int has_token(const acme__answer *a, const void *token)
{
    return strcmp(((const http_entry *)a)->token, token) == 0;
}

/* Answer a complete request: the parsed request line, then the header
 * lines from hdr up to end (just past the empty line). */
static void answer(struct acme_http_responder *r, http_conn *c, const char *method, size_t mlen,
                   const char *target, size_t tlen, const char *hdr, const char *end)
{
    if (!headers_ok(hdr, end)) {
        bad_request(c);
        return;
    }
    int head = mlen == 4 && memcmp(method, "HEAD", 4) == 0;
    if (!head && !(mlen == 3 && memcmp(method, "GET", 3) == 0)) {
        respond(c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n", "method not allowed\n", 0);
        return;
    }
    /* absolute-form "http://host/path" (RFC 9112 3.2.2) names the same path. */
    if (tlen > 7 && strncmp(target, "http://", 7) == 0) {
        const char *slash = memchr(target + 7, '/', tlen - 7);
        tlen = slash ? tlen - (size_t)(slash - target) : 0;
        target = slash ? slash : target;
    }
    const size_t plen = sizeof(CHALLENGE_PREFIX) - 1;
    char *token = NULL;
    if (tlen > plen && memcmp(target, CHALLENGE_PREFIX, plen) == 0)
        token = acme__strndup(target + plen, tlen - plen);
    acme__answer *found = NULL;
    if (token && acme__b64url_valid(token))
        found = acme__responder_find(&r->core, has_token, token);
    free(token);
    if (found) {
        respond(c, "200 OK", NULL, ((http_entry *)found)->key_authz, head);
        acme__responder_release(&r->core, found);
    } else {
        respond(c, "404 Not Found", NULL, "not found\n", head);
    }
}

/* ---- connections ---- */

static void conn_read(struct acme_http_responder *r, http_conn *c)
{
    ssize_t n = recv(c->base.fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        /* Gone before a whole request: nobody to answer. */
        c->base.events = 0;
        return;
    }
    size_t start = c->in_len;
    c->in_len += (size_t)n;
    if (memchr(c->in + start, '\0', (size_t)n)) {
        bad_request(c);
        return;
    }
    const char *line, *method, *target;
    size_t len, mlen, tlen;
    if (request_line(c->in, c->in_len, &line, &len) == 0) {
        if (split_request_line(line, len, &method, &mlen, &target, &tlen) != 0) {
            bad_request(c); /* no need to wait for the headers of garbage */
            return;
        }
        /* The '\n' that ends the request line; the head ends at the first
         * empty line after it. */
        const char *eol = line + len + (line[len] == '\r');
        const char *end = head_end(eol, (size_t)(c->in + c->in_len - eol));
        if (end) {
            answer(r, c, method, mlen, target, tlen, eol + 1, end);
            return;
        }
    }
    if (c->in_len == sizeof(c->in))
        bad_request(c); /* too large */
}

static void conn_write(http_conn *c)
{
    if (acme__buf_status(&c->out) != ACME_OK) {
        c->base.events = 0;
        return;
    }
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->base.fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) {
            c->base.events = 0;
            return;
        }
        c->out_off += (size_t)n;
    }
    shutdown(c->base.fd, SHUT_WR);
    c->state = CONN_DRAIN;
    c->base.events = POLLIN;
    int64_t drain = acme__mono_ms() + DRAIN_MS;
    if (drain < c->base.deadline)
        c->base.deadline = drain;
}

static void conn_drain(http_conn *c)
{
    char sink[DRAIN_CHUNK];
    for (;;) {
        ssize_t n = recv(c->base.fd, sink, sizeof(sink), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            c->base.events = 0; /* the client closed: done */
            return;
        }
    }
}

static void conn_step(acme__responder *core, acme__conn *base)
{
    http_conn *c = (http_conn *)base;
    if (c->state == CONN_READ)
        conn_read((struct acme_http_responder *)core, c);
    if (c->base.events == 0)
        return;
    if (c->state == CONN_WRITE)
        conn_write(c);
    else if (c->state == CONN_DRAIN)
        conn_drain(c);
}

static acme__conn *conn_open(acme__responder *core, int fd)
{
    (void)core;
    (void)fd;
    http_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->state = CONN_READ;
    c->base.events = POLLIN;
    return &c->base;
}

static void conn_close(acme__responder *core, acme__conn *base)
{
    (void)core;
    http_conn *c = (http_conn *)base;
    acme__buf_wipe(&c->out);
    free(c);
}

static const acme__conn_ops conn_ops = { MAX_CONNS, conn_open, conn_step, conn_close };

/* ---- the responder ---- */

int acme_http_responder_start(acme_http_responder **out, const char *address, unsigned int port)
{
    if (!out)
        return acme__fail(NULL, ACME_ERR_INVALID, WHAT ": NULL output");
    acme__responder *core;
    int rc = acme__responder_start(&core, sizeof(**out), address, port, WHAT, &conn_ops,
                                   entry_free);
    *out = (acme_http_responder *)core;
    return rc;
}

unsigned int acme_http_responder_port(const acme_http_responder *r)
{
    return r ? r->core.port : 0;
}

void acme_http_responder_stop(acme_http_responder *r)
{
    acme__responder_stop(r ? &r->core : NULL);
}

/* ---- the solver ---- */

/* The presented answer for this challenge. */
static int is_challenge(const acme__answer *a, const void *ch)
{
    const http_entry *e = (const http_entry *)a;
    return strcmp(e->token, acme_challenge_token(ch)) == 0 &&
           strcmp(e->key_authz, acme_challenge_key_authorization(ch)) == 0;
}

static int responder_present(const acme_challenge *ch, void *userdata, acme__err *err)
{
    struct acme_http_responder *r = userdata;
    const char *token = acme_challenge_token(ch);
    const char *ka = acme_challenge_key_authorization(ch);
    if (!token || !ka)
        return acme__fail(err, ACME_ERR_INVALID, WHAT ": the challenge has no token");
    if (!acme__b64url_valid(token))
        return acme__fail(err, ACME_ERR_INVALID, WHAT ": challenge token is not base64url");
    http_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    e->token = acme__strdup(token);
    e->key_authz = acme__strdup(ka);
    if (!e->token || !e->key_authz) {
        entry_free(&e->answer);
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    }
    return acme__responder_publish(&r->core, &e->answer, err);
}

static void responder_cleanup(const acme_challenge *ch, void *userdata)
{
    struct acme_http_responder *r = userdata;
    if (acme_challenge_token(ch) && acme_challenge_key_authorization(ch))
        acme__responder_withdraw(&r->core, is_challenge, ch);
}

int acme_solvers_add_http_responder(acme_solvers *s, acme_http_responder *r)
{
    if (!s || !r)
        return acme__fail(s ? &s->err : NULL, ACME_ERR_INVALID,
                          WHAT ": a solver set and a responder are required");
    /* The set keeps the responder alive; a stop before the set is done
     * with it makes present refuse (ACME_ERR_STATE). */
    acme__responder_ref(&r->core);
    return acme__solvers_add_owned(s, "http-01", responder_present, responder_cleanup, r,
                                   acme__responder_unref);
}
