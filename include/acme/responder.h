/**
 * @file
 * libacme: built-in solvers for the common cases.
 *
 *  - webroot: http-01 by writing the key authorization to
 *    WEBROOT/.well-known/acme-challenge/TOKEN for a web server that
 *    already serves WEBROOT;
 *  - HTTP responder: a small HTTP server of its own that answers http-01
 *    (for hosts without a web server, or before it starts);
 *  - TLS-ALPN responder: a small TLS server that answers tls-alpn-01
 *    (RFC 8737) with ALPN "acme-tls/1", choosing the certificate by SNI.
 *
 * The responders run one background thread each from start to stop; while
 * they run, any number of orders (on any threads) may use them through
 * solvers added with acme_solvers_add_http_responder() /
 * acme_solvers_add_tls_alpn_responder(). A solver set takes a reference
 * to the responders added to it: stopping a responder ends its serving at
 * once, and an order that still presents through it fails with
 * ACME_ERR_STATE (nothing is served, nothing is freed under it); stop it
 * after the orders using it are done.
 */
#ifndef ACME_RESPONDER_H
#define ACME_RESPONDER_H

#include "common.h"
#include "solver.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Add an http-01 solver that writes challenge files under `webroot`
 * (copied): the file .well-known/acme-challenge/TOKEN is written
 * atomically with mode 0644 (directories created 0755 as needed) and removed
 * in cleanup. Tokens are checked to be base64url before any file is touched
 * (present fails with ACME_ERR_INVALID otherwise). The webroot itself must
 * exist: present fails with ACME_ERR_IO rather than create it.
 * Errors: ACME_ERR_INVALID, ACME_ERR_NOMEM. Since 0.1.
 */
ACME_API int acme_solvers_add_webroot(acme_solvers *s, const char *webroot);

/** A running http-01 responder. */
typedef struct acme_http_responder acme_http_responder;

/**
 * Listen on `address` (an IPv4 or IPv6 literal; NULL for all IPv4
 * addresses) and `port`, and serve http-01 answers from a background
 * thread: GET or HEAD /.well-known/acme-challenge/TOKEN answers 200 with
 * the key authorization of a presented token, anything else 404 (400 for
 * malformed requests or heads over 8 KiB). Each client has 3 seconds to
 * send its request head and 5 in all; up to 1024 are served at once, and
 * beyond that a new client takes the place of the oldest one that has not
 * sent its request, so slow clients cannot lock a validator out. Errors: ACME_ERR_IO (cannot bind, e.g. port in use or not
 * permitted), ACME_ERR_INVALID, ACME_ERR_NOMEM. Since 0.1.
 */
ACME_API int acme_http_responder_start(acme_http_responder **out, const char *address,
                                       unsigned int port);
/** The port actually bound (useful after starting on port 0). Since 0.1. */
ACME_API unsigned int acme_http_responder_port(const acme_http_responder *r);
/**
 * Add an http-01 solver that publishes its answers through `r`; the set
 * keeps a reference to `r`. Errors: ACME_ERR_INVALID, ACME_ERR_NOMEM. Since 0.1.
 */
ACME_API int acme_solvers_add_http_responder(acme_solvers *s, acme_http_responder *r);
/**
 * Stop the thread, close the socket, free the answers and drop the
 * caller's reference (solver sets may hold others). NULL is allowed. Since 0.1.
 */
ACME_API void acme_http_responder_stop(acme_http_responder *r);

/** A running tls-alpn-01 responder. */
typedef struct acme_tls_alpn_responder acme_tls_alpn_responder;

/**
 * Listen on `address` (NULL for all IPv4 addresses) and `port` and answer
 * tls-alpn-01 handshakes from a background thread. Handshakes run side by
 * side, each with 3 seconds for its ClientHello and 5 in all; up to 256 at
 * once, and beyond that a new client takes the place of the oldest one
 * that has not sent its ClientHello. Clients that do not offer ALPN
 * "acme-tls/1" fail the handshake. The certificate is chosen by SNI: a dns
 * identifier by its name, an ip identifier by its reverse-DNS name (RFC
 * 8738), and a client without SNI gets the ip identifier of the address it
 * connected to.
 * Errors: ACME_ERR_IO (cannot bind), ACME_ERR_INVALID, ACME_ERR_CRYPTO,
 * ACME_ERR_NOMEM. Since 0.1.
 */
ACME_API int acme_tls_alpn_responder_start(acme_tls_alpn_responder **out, const char *address,
                                           unsigned int port);
/** The port actually bound. Since 0.1. */
ACME_API unsigned int acme_tls_alpn_responder_port(const acme_tls_alpn_responder *r);
/**
 * Add a tls-alpn-01 solver that publishes its certificates through `r`;
 * the set keeps a reference to `r`. Errors: ACME_ERR_INVALID,
 * ACME_ERR_NOMEM. Since 0.1.
 */
ACME_API int acme_solvers_add_tls_alpn_responder(acme_solvers *s, acme_tls_alpn_responder *r);
/**
 * Stop the thread, close the socket, free the answers and drop the
 * caller's reference (solver sets may hold others). NULL is allowed. Since 0.1.
 */
ACME_API void acme_tls_alpn_responder_stop(acme_tls_alpn_responder *r);

#ifdef __cplusplus
}
#endif

#endif
