/* HTTPS through libcurl, wrapped once: a client per provider with a pool of
 * easy handles, each keeping its connection, capped reply bodies, and the
 * response headers ACME needs. */
#ifndef ACME_LIB_HTTP_H
#define ACME_LIB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"

typedef struct acme__http_config {
    const char *ca_bundle;   /* NULL: libcurl's default trust store */
    long connect_timeout_ms;
    long timeout_ms;
    size_t max_body;
    const char *user_agent;
    const char *client_cert; /* PEM file of a TLS client certificate, or NULL */
    const char *client_key;  /* its key's PEM file, or NULL */
    int allow_http;          /* plain http:// URLs too (a store on loopback), not only https */
} acme__http_config;

typedef struct acme__http acme__http;

typedef struct acme__link {
    char *url; /* absolute (resolved against the request URL) */
    char *rel;
} acme__link;

/* At most this many Link header entries are kept. */
#define ACME__HTTP_MAX_LINKS 32

typedef struct acme__response {
    long status;
    acme__buf body;
    char *content_type; /* media type only, lower case, or NULL */
    char *location;     /* absolute, or NULL */
    char *nonce;        /* Replay-Nonce, or NULL */
    char *retry_after;  /* raw Retry-After value, or NULL */
    acme__link links[ACME__HTTP_MAX_LINKS];
    size_t nlinks;
} acme__response;

int acme__http_new(acme__http **out, const acme__http_config *cfg, acme__err *err);
void acme__http_free(acme__http *h);

/* One request. method is "GET", "HEAD" or "POST" (with body and
 * content_type). accept may be NULL. Fills res (free it with
 * acme__response_free even on failure). Fails only for transport problems:
 * any HTTP status is a success here. The transfer ends by the client's
 * timeout, or by deadline_ms (acme__mono_ms() time; 0: none) when that
 * comes first; past it, ACME_ERR_TIMEOUT without a request. Safe to call
 * from several threads. */
int acme__http_request(acme__http *h, const char *method, const char *url, const char *body,
                       size_t body_len, const char *content_type, const char *accept,
                       int64_t deadline_ms, acme__response *res, acme__err *err);
/* The same with one more request header line ("Name: value"), or NULL. */
int acme__http_request_hdr(acme__http *h, const char *method, const char *url, const char *body,
                           size_t body_len, const char *content_type, const char *accept,
                           const char *header, int64_t deadline_ms, acme__response *res,
                           acme__err *err);

/* The client's whole-request timeout (acme__http_config.timeout_ms). */
long acme__http_timeout_ms(const acme__http *h);
void acme__response_free(acme__response *res);

/* The index-th Link with relation rel, or NULL. */
const char *acme__response_link(const acme__response *res, const char *rel, size_t index);

void acme__http_stats(const acme__http *h, uint64_t *requests, uint64_t *connections);

/* Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date. Sets *delay
 * (seconds from now, >= 0) and returns ACME_OK, or ACME_ERR_INVALID. */
int acme__http_parse_retry_after(const char *value, int64_t now, int64_t *delay);

/* Parse one Link header value (RFC 8288), appending to res->links with URLs
 * resolved against base. Parsing stops at the first malformed entry;
 * entries without a rel are skipped. */
void acme__http_parse_link(const char *value, const char *base, acme__response *res);

/* Non-zero when a and b are URLs with the same scheme, host and port. */
int acme__http_same_origin(const char *a, const char *b);

/* Resolve a possibly relative reference against base; new string or NULL. */
char *acme__http_resolve(const char *base, const char *ref);

#endif
