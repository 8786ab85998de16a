/* A small TLS server that answers tls-alpn-01 (RFC 8737) on its own thread.
 * Only ALPN "acme-tls/1" is spoken: a client that offers something else,
 * or nothing, fails the handshake. The certificate is chosen by SNI among
 * the presented challenges; for an "ip" identifier (RFC 8738 6) the
 * validator sends the reverse-DNS name (in-addr.arpa / ip6.arpa), and a
 * client without SNI gets the certificate of the address it connected to.
 * Handshakes are non-blocking and share the poll loop of responder.c, so
 * one slow ClientHello holds back no other client; the handshake is all a
 * validator needs, so the connection closes right after it. */
#include "acme/responder.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <mbedtls/base64.h>
#include <mbedtls/ecp.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "base/ip.h"
#include "crypto/tls_alpn_cert.h"
#include "base/error.h"
#include "solvers/responder.h"
#include "base/mbedcompat.h"
#include "base/mem.h"
#include "base/rng.h"
#include "solvers/solver.h"

#define WHAT "tls-alpn-01 responder"
#define ACME_TLS_1 "acme-tls/1"
/* id-pe-acmeIdentifier, 1.3.6.1.5.5.7.1.31 (RFC 8737 6.1). */
#define OID_ACME_IDENTIFIER MBEDTLS_OID_PKIX "\x01\x1f"

/* The only protocol offered (RFC 8737 4); mbedTLS keeps the pointer. */
static const char *alpn_list[] = { ACME_TLS_1, NULL };

/* Octets of the longest address, IPv6. */
#define IP_MAX 16
/* "f.e.d. ... .ip6.arpa": two labels per octet of an IPv6 address. */
#define REVERSE_NAME_MAX (IP_MAX * 4 + sizeof("ip6.arpa"))
/* Entries one handshake can hold: its address's own (no SNI) and one per
 * ClientHello, of which a HelloRetryRequest makes two. */
#define MAX_HELD 3
/* Handshakes served at once; a new client beyond them evicts the oldest
 * that has not sent its ClientHello. A handshake costs about 40 KiB (the
 * TLS record buffers, 2 x 16.7 KiB, and its contexts), so all slots in use
 * take about 10 MiB. */
#define MAX_CONNS 256

/* One presented challenge. The mbedTLS contexts are written once in
 * present, before the entry is published, and after that only used by the
 * server thread. */
typedef struct alpn_entry {
    acme__answer answer; /* first: the table hands back this pointer */
    int is_ip;
    char *value;             /* the identifier value */
    char *rdns;              /* ip: its reverse-DNS name, the SNI a validator sends */
    unsigned char ip[IP_MAX];
    size_t ip_len;
    unsigned char digest[ACME__KEY_AUTHZ_DIGEST_LEN]; /* SHA-256 of the key authorization */
    mbedtls_x509_crt crt;
    mbedtls_pk_context pk;
} alpn_entry;

struct acme_tls_alpn_responder {
    acme__responder core; /* first: acme__responder_start allocates the whole */
};

/* The casts between these and the shared types rely on it. */
_Static_assert(offsetof(struct acme_tls_alpn_responder, core) == 0, "core is the first member");
_Static_assert(offsetof(alpn_entry, answer) == 0, "answer is the first member");

/* One client. */
typedef struct tls_conn {
    acme__conn base; /* first: the serve loop hands back this pointer */
    struct acme_tls_alpn_responder *r;
    alpn_entry *held[MAX_HELD]; /* the entries this handshake uses (refs taken) */
    size_t nheld;
    int alpn_checked;
    int shook; /* the handshake is over: what is left is close_notify */
    /* A configuration per client: its own certificate (for clients without
     * SNI) cannot be taken back from a shared one. */
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
} tls_conn;

_Static_assert(offsetof(tls_conn, base) == 0, "base is the first member");

/* ---- entries ---- */

static void entry_free(acme__answer *a)
{
    alpn_entry *e = (alpn_entry *)a;
    mbedtls_x509_crt_free(&e->crt);
    mbedtls_pk_free(&e->pk);
    free(e->value);
    free(e->rdns);
    free(e);
}

/* "4.3.2.1.in-addr.arpa" or the 32 nibbles of ip6.arpa (RFC 8738 6). */
static char *reverse_name(const unsigned char *ip, size_t len)
{
    char name[REVERSE_NAME_MAX];
    if (len == 4) {
        snprintf(name, sizeof(name), "%u.%u.%u.%u.in-addr.arpa", ip[3], ip[2], ip[1], ip[0]);
    } else {
        static const char hex[] = "0123456789abcdef";
        char *p = name;
        for (size_t i = len; i-- > 0;) {
            *p++ = hex[ip[i] & 15];
            *p++ = '.';
            *p++ = hex[ip[i] >> 4];
            *p++ = '.';
        }
        memcpy(p, "ip6.arpa", sizeof("ip6.arpa"));
    }
    return acme__strdup(name);
}

/* What a client asks for: a name from SNI, or the address it reached. */
typedef struct wanted {
    const unsigned char *p;
    size_t len;
} wanted;

/* An entry whose identifier is the SNI name (a DNS name, or the reverse
 * name of an ip). */
static int has_name(const acme__answer *a, const void *key)
{
    const alpn_entry *e = (const alpn_entry *)a;
    const wanted *w = key;
    const char *name = e->is_ip ? e->rdns : e->value;
    return strlen(name) == w->len && strncasecmp(name, (const char *)w->p, w->len) == 0;
}

static int has_ip(const acme__answer *a, const void *key)
{
    const alpn_entry *e = (const alpn_entry *)a;
    const wanted *w = key;
    return e->is_ip && e->ip_len == w->len && memcmp(e->ip, w->p, w->len) == 0;
}

/* The newest entry that matches, with a reference taken; NULL when there
 * is none. */
static alpn_entry *find(struct acme_tls_alpn_responder *r, acme__answer_match_fn match,
                        const unsigned char *p, size_t len)
{
    wanted w = { p, len };
    return (alpn_entry *)acme__responder_find(&r->core, match, &w);
}

/* mbedTLS refuses certificates with critical extensions it does not know
 * (unless built with MBEDTLS_X509_ALLOW_UNSUPPORTED_CRITICAL_EXTENSION),
 * and acmeIdentifier is one: it is accepted here when it holds
 * OCTET STRING(the digest of this challenge), the rest stays refused. */
static int accept_acme_identifier(void *ctx, mbedtls_x509_crt const *crt,
                                  mbedtls_x509_buf const *oid, int critical,
                                  const unsigned char *p, const unsigned char *end)
{
    (void)crt;
    const unsigned char *digest = ctx;
    /* DER: the OCTET STRING tag and a one-octet length, then the digest. */
    if (oid->len == MBEDTLS_OID_SIZE(OID_ACME_IDENTIFIER) &&
        memcmp(oid->p, OID_ACME_IDENTIFIER, oid->len) == 0)
        return end - p == 2 + ACME__KEY_AUTHZ_DIGEST_LEN && p[0] == MBEDTLS_ASN1_OCTET_STRING &&
                       p[1] == ACME__KEY_AUTHZ_DIGEST_LEN &&
                       memcmp(p + 2, digest, ACME__KEY_AUTHZ_DIGEST_LEN) == 0
                   ? 0
                   : MBEDTLS_ERR_X509_INVALID_EXTENSIONS;
    return critical ? MBEDTLS_ERR_X509_INVALID_EXTENSIONS : 0;
}

/* The certificate of acme__tls_alpn_cert() (one PEM block) into crt. */
static int load_cert(mbedtls_x509_crt *crt, const char *pem,
                     const unsigned char digest[ACME__KEY_AUTHZ_DIGEST_LEN])
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    static const char end[] = "-----END CERTIFICATE-----";
    const char *b = strstr(pem, begin);
    const char *e = b ? strstr(b, end) : NULL;
    if (!e)
        return MBEDTLS_ERR_X509_INVALID_FORMAT;
    const unsigned char *b64 = (const unsigned char *)b + sizeof(begin) - 1;
    size_t b64_len = (size_t)((const unsigned char *)e - b64), n = 0;
    int ret = mbedtls_base64_decode(NULL, 0, &n, b64, b64_len);
    if (ret != MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL)
        return ret ? ret : MBEDTLS_ERR_X509_INVALID_FORMAT;
    unsigned char *der = malloc(n);
    if (!der)
        return MBEDTLS_ERR_X509_ALLOC_FAILED;
    ret = mbedtls_base64_decode(der, n, &n, b64, b64_len);
    if (ret == 0)
        ret = mbedtls_x509_crt_parse_der_with_ext_cb(crt, der, n, 1, accept_acme_identifier,
                                                     (void *)digest);
    free(der);
    return ret;
}

/* ---- one connection ---- */

/* One send (of out) or recv (into in) on the non-blocking socket for
 * mbedTLS: the bytes moved (0 from recv is the peer's EOF), WANT_READ or
 * WANT_WRITE when it would block (the serve loop then polls for it), or
 * an mbedTLS error. */
static int bio_io(tls_conn *c, const unsigned char *out, unsigned char *in, size_t len)
{
    if (len > INT_MAX)
        len = INT_MAX;
    for (;;) {
        ssize_t n = out ? send(c->base.fd, out, len, MSG_NOSIGNAL) : recv(c->base.fd, in, len, 0);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return out ? MBEDTLS_ERR_SSL_WANT_WRITE : MBEDTLS_ERR_SSL_WANT_READ;
        return out ? MBEDTLS_ERR_NET_SEND_FAILED : MBEDTLS_ERR_NET_RECV_FAILED;
    }
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    return bio_io(ctx, buf, NULL, len);
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    return bio_io(ctx, NULL, buf, len);
}

/* mbedTLS calls this with the ClientHello's server name. */
static int on_sni(void *ctx, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len)
{
    tls_conn *c = ctx;
    if (c->nheld >= MAX_HELD)
        return -1;
    alpn_entry *e = find(c->r, has_name, name, len);
    if (!e)
        return -1; /* unknown name: the handshake fails (unrecognized_name) */
    c->held[c->nheld++] = e;
    return mbedtls_ssl_set_hs_own_cert(ssl, &e->crt, &e->pk);
}

/* Without SNI: the ip identifier that is the address the client reached. */
static alpn_entry *local_ip_entry(tls_conn *c)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(c->base.fd, (struct sockaddr *)&ss, &sl) != 0)
        return NULL;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
        return find(c->r, has_ip, (const unsigned char *)&sin->sin_addr, sizeof(sin->sin_addr));
    }
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
        const unsigned char *a = sin6->sin6_addr.s6_addr;
        static const unsigned char mapped[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (memcmp(a, mapped, sizeof(mapped)) == 0) /* IPv4 on a dual-stack socket */
            return find(c->r, has_ip, a + sizeof(mapped), sizeof(sin6->sin6_addr) - sizeof(mapped));
        return find(c->r, has_ip, a, sizeof(sin6->sin6_addr));
    }
    return NULL;
}

/* The handshake, step by step so that ALPN is checked as soon as the
 * ClientHello is read: mbedTLS itself refuses a client whose ALPN list
 * lacks acme-tls/1, but lets one through that sends no ALPN at all. 0 once
 * it is over, WANT_READ / WANT_WRITE to be called again when the socket is
 * ready, or an error. */
static int handshake(tls_conn *c)
{
    mbedtls_ssl_context *ssl = &c->ssl;
    while (!ACME__SSL_HANDSHAKE_OVER(ssl)) {
        int ret = mbedtls_ssl_handshake_step(ssl);
        if (ret != 0)
            return ret;
        if (!c->alpn_checked && ACME__SSL_STATE(ssl) > MBEDTLS_SSL_CLIENT_HELLO) {
            c->alpn_checked = 1;
            const char *proto = mbedtls_ssl_get_alpn_protocol(ssl);
            if (!proto || strcmp(proto, ACME_TLS_1) != 0) {
                mbedtls_ssl_send_alert_message(ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                               MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL);
                return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
            }
            /* A ClientHello for acme-tls/1: the request is made. */
            acme__conn_requested(&c->base);
        }
    }
    const char *proto = mbedtls_ssl_get_alpn_protocol(ssl);
    return proto && strcmp(proto, ACME_TLS_1) == 0 ? 0 : MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
}

static void conn_step(acme__responder *core, acme__conn *base)
{
    (void)core;
    tls_conn *c = (tls_conn *)base;
    int ret = 0;
    if (!c->shook && (ret = handshake(c)) == 0)
        c->shook = 1;
    if (c->shook)
        ret = mbedtls_ssl_close_notify(&c->ssl);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ)
        c->base.events = POLLIN;
    else if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
        c->base.events = POLLOUT;
    else
        c->base.events = 0; /* done, or failed */
}

static void conn_close(acme__responder *core, acme__conn *base)
{
    tls_conn *c = (tls_conn *)base;
    mbedtls_ssl_free(&c->ssl);
    mbedtls_ssl_config_free(&c->conf);
    for (size_t i = 0; i < c->nheld; i++)
        acme__responder_release(core, &c->held[i]->answer);
    free(c);
}

static acme__conn *conn_open(acme__responder *core, int fd)
{
    tls_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->r = (struct acme_tls_alpn_responder *)core;
    c->base.fd = fd;
    c->base.events = POLLIN; /* the ClientHello */
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_ssl_init(&c->ssl);
    alpn_entry *local;
    int ok = mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_SERVER,
                                         MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT) == 0;
    if (ok) {
        mbedtls_ssl_conf_rng(&c->conf, acme__rng, NULL);
        ACME__SSL_CONF_MIN_TLS12(&c->conf);
        ok = mbedtls_ssl_conf_alpn_protocols(&c->conf, alpn_list) == 0;
    }
    if (ok) {
        mbedtls_ssl_conf_sni(&c->conf, on_sni, c);
        if ((local = local_ip_entry(c)) != NULL) {
            c->held[c->nheld++] = local;
            ok = mbedtls_ssl_conf_own_cert(&c->conf, &local->crt, &local->pk) == 0;
        }
    }
    if (ok)
        ok = mbedtls_ssl_setup(&c->ssl, &c->conf) == 0;
    if (!ok) {
        conn_close(core, &c->base);
        return NULL;
    }
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    return &c->base;
}

static const acme__conn_ops conn_ops = { MAX_CONNS, conn_open, conn_step, conn_close };

/* ---- the responder ---- */

int acme_tls_alpn_responder_start(acme_tls_alpn_responder **out, const char *address,
                                  unsigned int port)
{
    if (!out)
        return acme__fail(NULL, ACME_ERR_INVALID, WHAT ": NULL output");
    *out = NULL;
    if (ACME__PSA_INIT() != 0)
        return acme__fail(NULL, ACME_ERR_CRYPTO, WHAT ": cannot initialise PSA crypto");
    /* mbedTLS fills these static lists on first use, unlocked: filled
     * here, before the thread starts, the server thread only reads them. */
    (void)mbedtls_ssl_list_ciphersuites();
    (void)mbedtls_ecp_grp_id_list();
    acme__responder *core;
    int rc = acme__responder_start(&core, sizeof(**out), address, port, WHAT, &conn_ops,
                                   entry_free);
    *out = (acme_tls_alpn_responder *)core;
    return rc;
}

unsigned int acme_tls_alpn_responder_port(const acme_tls_alpn_responder *r)
{
    return r ? r->core.port : 0;
}

void acme_tls_alpn_responder_stop(acme_tls_alpn_responder *r)
{
    acme__responder_stop(r ? &r->core : NULL);
}

/* ---- the solver ---- */

static int alpn_present(const acme_challenge *ch, void *userdata, acme__err *err)
{
    struct acme_tls_alpn_responder *r = userdata;
    const char *type = acme_challenge_identifier_type(ch);
    const char *value = acme_challenge_identifier_value(ch);
    if (!type || !value || (strcmp(type, "dns") != 0 && strcmp(type, "ip") != 0))
        return acme__fail(err, ACME_ERR_DECLINED, WHAT ": cannot answer for identifier type %s",
                          type ? type : "(none)");
    if (!acme_challenge_tls_alpn_digest(ch))
        return acme__fail(err, ACME_ERR_INVALID, WHAT ": not a tls-alpn-01 challenge with a token");
    const char *cert = acme_challenge_tls_alpn_cert_pem(ch);
    const char *key = acme_challenge_tls_alpn_key_pem(ch);
    if (!cert || !key)
        return acme__fail(err, ACME_ERR_CRYPTO,
                          WHAT ": the challenge certificate for %s could not be built", value);

    alpn_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    mbedtls_x509_crt_init(&e->crt);
    mbedtls_pk_init(&e->pk);
    e->is_ip = strcmp(type, "ip") == 0;
    memcpy(e->digest, ch->alpn_digest, sizeof(e->digest));
    int rc = ACME_OK;
    if (!(e->value = acme__strdup(value))) {
        rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    } else if (e->is_ip && !(e->ip_len = acme__ip_parse(value, e->ip))) {
        rc = acme__fail(err, ACME_ERR_IDENTIFIER, WHAT ": \"%s\" is not an IP address", value);
    } else if (e->is_ip && !(e->rdns = reverse_name(e->ip, e->ip_len))) {
        rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    } else {
        int ret = load_cert(&e->crt, cert, e->digest);
        if (ret == 0)
            ret = ACME__PK_PARSE_KEY(&e->pk, (const unsigned char *)key, strlen(key) + 1);
        if (ret != 0)
            rc = acme__fail(err, ACME_ERR_CRYPTO,
                            WHAT ": cannot load the challenge certificate for %s (-0x%04x)", value,
                            (unsigned int)-ret);
    }
    if (rc != ACME_OK) {
        entry_free(&e->answer);
        return rc;
    }
    return acme__responder_publish(&r->core, &e->answer, err);
}

/* The presented answer for this challenge. */
static int is_challenge(const acme__answer *a, const void *key)
{
    const alpn_entry *e = (const alpn_entry *)a;
    const acme_challenge *ch = key;
    return e->is_ip == (strcmp(ch->ident_type, "ip") == 0) &&
           strcmp(e->value, ch->ident_value) == 0 &&
           memcmp(e->digest, ch->alpn_digest, sizeof(e->digest)) == 0;
}

static void alpn_cleanup(const acme_challenge *ch, void *userdata)
{
    struct acme_tls_alpn_responder *r = userdata;
    if (acme_challenge_identifier_type(ch) && acme_challenge_identifier_value(ch) &&
        acme_challenge_tls_alpn_digest(ch))
        acme__responder_withdraw(&r->core, is_challenge, ch);
}

int acme_solvers_add_tls_alpn_responder(acme_solvers *s, acme_tls_alpn_responder *r)
{
    if (!s || !r)
        return acme__fail(s ? &s->err : NULL, ACME_ERR_INVALID,
                          WHAT ": a solver set and a responder are required");
    /* The set keeps the responder alive; a stop before the set is done
     * with it makes present refuse (ACME_ERR_STATE). */
    acme__responder_ref(&r->core);
    return acme__solvers_add_owned(s, "tls-alpn-01", alpn_present, alpn_cleanup, r,
                                   acme__responder_unref);
}
