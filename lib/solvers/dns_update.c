/* The dns-01 solver by dynamic update (RFC 2136) signed with TSIG
 * (RFC 8945), and the reader of BIND's TSIG key files. Present adds one
 * TXT value to the RRset (values already there stay: a wildcard and its
 * base name share the name); cleanup deletes exactly that value (class
 * NONE, RFC 2136 2.5.4). Messages are built and signed by ldns; without it
 * the solver reports itself unavailable. */
#include "acme/dns.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


#include "base/b64.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/file.h"
#include "base/mem.h"
#include "base/options.h"
#include "solvers/dns_key.h"
#include "solvers/solver.h"
#ifdef ACME_HAVE_LDNS
#include "solvers/dns.h"
#endif

/* Defaults of acme_dns_update_options. */
#define DEFAULT_TIMEOUT_MS 5000u
#define DEFAULT_TTL 60u
/* A key file is a few lines; anything near this is not one. */
#define MAX_KEY_FILE 65536
/* TSIG errors in the reply's TSIG record (RFC 8945 3). */
#define TSIG_BADSIG 16
#define TSIG_BADKEY 17
#define TSIG_BADTIME 18

ACME__OPTIONS_DEFINE(update_versions, ACME_DNS_UPDATE_OPTIONS_VERSION, "dns update options",
                     "acme_dns_update_options_init",
                     ACME__OPTIONS_END(acme_dns_update_options, type_count)); /* 1 */

int acme_dns_update_options_init(acme_dns_update_options *o, unsigned int version)
{
    return acme__options_init(&update_versions, o, version, NULL);
}

int acme_dns_available(void)
{
#ifdef ACME_HAVE_LDNS
    return 1;
#else
    return 0;
#endif
}

/* ---- the key file ------------------------------------------------------------ */

typedef struct lexer {
    const char *p, *end;
} lexer;

/* Skip blanks and the three comment styles of named.conf. */
static void skip_space(lexer *lx)
{
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            lx->p++;
        } else if (c == '#' || (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '/')) {
            while (lx->p < lx->end && *lx->p != '\n')
                lx->p++;
        } else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
            const char *q = lx->p + 2;
            while (q + 1 < lx->end && !(q[0] == '*' && q[1] == '/'))
                q++;
            lx->p = q + 1 < lx->end ? q + 2 : lx->end;
        } else {
            return;
        }
    }
}

/* The next token into tok: '{', '}', ';', a quoted string (without its
 * quotes) or a bare word. 0 at the end or on an unterminated string. */
static int next_token(lexer *lx, acme__buf *tok, int *quoted)
{
    tok->len = 0;
    if (tok->data)
        tok->data[0] = '\0';
    *quoted = 0;
    skip_space(lx);
    if (lx->p >= lx->end)
        return 0;
    char c = *lx->p;
    if (c == '{' || c == '}' || c == ';') {
        lx->p++;
        return acme__buf_putc(tok, c) == ACME_OK;
    }
    if (c == '"') {
        *quoted = 1;
        for (lx->p++; lx->p < lx->end && *lx->p != '"'; lx->p++) {
            if (*lx->p == '\\' && lx->p + 1 < lx->end)
                lx->p++;
            if (*lx->p == '\0')
                return 0;
            acme__buf_putc(tok, *lx->p);
        }
        if (lx->p >= lx->end)
            return 0;
        lx->p++;
        if (!tok->data && acme__buf_puts(tok, "") != ACME_OK)
            return 0;
        return acme__buf_status(tok) == ACME_OK;
    }
    while (lx->p < lx->end && !strchr(" \t\r\n{};\"#", *lx->p) && *lx->p != '\0')
        acme__buf_putc(tok, *lx->p++);
    if (!tok->len)
        return 0; /* a NUL byte */
    return acme__buf_status(tok) == ACME_OK;
}

static int is_punct(const acme__buf *tok, int quoted, char c)
{
    return !quoted && tok->len == 1 && tok->data[0] == c;
}

/* Non-zero when s is standard base64 (RFC 4648 4) of at least one byte. */
static int base64_ok(const char *s)
{
    unsigned char *d = NULL;
    size_t n = 0;
    int ok = acme__b64_decode(s, strlen(s), &d, &n) == ACME_OK && n > 0;
    acme__wipe(d, n); /* a TSIG secret */
    free(d);
    return ok;
}

int acme__tsig_algorithm_ok(const char *alg)
{
    return alg && (strcasecmp(alg, "hmac-sha256") == 0 || strcasecmp(alg, "hmac-sha512") == 0);
}

int acme__tsig_key_parse(const char *text, size_t len, char **name, char **algorithm,
                         char **secret, acme__err *err)
{
    *name = *algorithm = *secret = NULL;
    lexer lx = { text, text + len };
    acme__buf tok = ACME__BUF_INIT;
    int quoted, rc = ACME_OK;
    const char *why = NULL;
    /* Top-level statements other than "key" are skipped whole. */
    int depth = 0, found = 0;
    while (!found && next_token(&lx, &tok, &quoted)) {
        if (is_punct(&tok, quoted, '{'))
            depth++;
        else if (is_punct(&tok, quoted, '}'))
            depth -= depth > 0;
        else if (!depth && !quoted && strcasecmp(tok.data, "key") == 0)
            found = 1;
    }
    if (!found) {
        why = "no key statement";
        goto out;
    }
    if (!next_token(&lx, &tok, &quoted) || is_punct(&tok, quoted, '{') || !tok.len) {
        why = "the key has no name";
        goto out;
    }
    *name = acme__strdup(tok.data);
    if (!next_token(&lx, &tok, &quoted) || !is_punct(&tok, quoted, '{')) {
        why = "expected { after the key's name";
        goto out;
    }
    for (;;) {
        if (!next_token(&lx, &tok, &quoted)) {
            why = "the key statement is not closed";
            goto out;
        }
        if (is_punct(&tok, quoted, '}'))
            break;
        char **slot = NULL;
        if (!quoted && strcasecmp(tok.data, "algorithm") == 0)
            slot = algorithm;
        else if (!quoted && strcasecmp(tok.data, "secret") == 0)
            slot = secret;
        else {
            why = "unknown clause in the key statement (algorithm and secret are known)";
            goto out;
        }
        if (!next_token(&lx, &tok, &quoted) || (!quoted && tok.len == 1 && strchr("{};", *tok.data))) {
            why = slot == secret ? "secret has no value" : "algorithm has no value";
            goto out;
        }
        if (*slot) {
            why = "a clause is given twice";
            goto out;
        }
        *slot = acme__strdup(tok.data);
        if (!*slot) {
            rc = ACME_ERR_NOMEM;
            goto out;
        }
        if (!next_token(&lx, &tok, &quoted) || !is_punct(&tok, quoted, ';')) {
            why = "expected ; after a clause";
            goto out;
        }
    }
    if (!*name)
        rc = ACME_ERR_NOMEM;
    else if (!*algorithm)
        why = "the key has no algorithm";
    else if (!*secret)
        why = "the key has no secret";
    else if (!acme__tsig_algorithm_ok(*algorithm))
        why = "the algorithm is not hmac-sha256 or hmac-sha512";
    else if (!base64_ok(*secret))
        why = "the secret is not base64";
out:
    acme__buf_wipe(&tok);
    if (rc == ACME_OK && why)
        rc = acme__fail(err, ACME_ERR_KEY_FORMAT, "%s%s%s", why, *name ? " in key " : "",
                        *name ? *name : "");
    else if (rc == ACME_ERR_NOMEM)
        rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    if (rc != ACME_OK) {
        free(*name);
        free(*algorithm);
        acme__free_secret_str(*secret);
        *name = *algorithm = *secret = NULL;
    }
    return rc;
}

int acme_tsig_key_parse_file(const char *path, char **name, char **algorithm, char **secret)
{
    if (name)
        *name = NULL;
    if (algorithm)
        *algorithm = NULL;
    if (secret)
        *secret = NULL;
    if (!path || !name || !algorithm || !secret)
        return acme__fail(NULL, ACME_ERR_INVALID, "tsig key: path and outputs are required");
    acme__buf text = ACME__BUF_INIT;
    acme__err err = ACME__ERR_QUIET;
    int rc = acme__file_read(path, MAX_KEY_FILE, &text, &err);
    if (rc == ACME_OK)
        rc = acme__tsig_key_parse(acme__buf_str(&text), text.len, name, algorithm, secret, &err);
    acme__buf_wipe(&text);
    if (rc != ACME_OK) {
        acme__err_prefix(&err, path);
        rc = acme__err_forward(NULL, &err);
    }
    acme__err_clear(&err);
    return rc;
}

/* ---- the solver ---------------------------------------------------------------- */

typedef struct update_solver {
    acme_dns_update_options o; /* strings below are the solver's copies */
    char *server, *tsig_name, *tsig_algorithm, *tsig_secret, *zone, *resolver;
} update_solver;

static void update_free(void *p)
{
    update_solver *u = p;
    if (!u)
        return;
    free(u->server);
    free(u->tsig_name);
    free(u->tsig_algorithm);
    acme__free_secret_str(u->tsig_secret);
    free(u->zone);
    free(u->resolver);
    free(u);
}

#ifdef ACME_HAVE_LDNS

/* The record to publish, as the challenge view gives it: dns-01 and any
 * type whose view carries a TXT name and value (dns-account-01). */
static int record_of(const acme_challenge *ch, const char **name, const char **value,
                     acme__err *err)
{
    *name = acme_challenge_dns_txt_name(ch);
    *value = acme_challenge_dns_txt_value(ch);
    if (!*name || !*value)
        return acme__fail(err, ACME_ERR_UNSUPPORTED,
                          "dns update: the %s challenge for %s has no TXT record to publish",
                          acme_challenge_type(ch), acme_challenge_identifier_value(ch));
    return ACME_OK;
}

static const char *tsig_error_name(int e)
{
    switch (e) {
    case TSIG_BADSIG: return "BADSIG: the secret does not match";
    case TSIG_BADKEY: return "BADKEY: the server does not know the key";
    case TSIG_BADTIME: return "BADTIME: the clocks differ too much";
    default: return NULL;
    }
}

/* Why the server refused, from its reply (which may be NULL). */
static int refused(const update_solver *u, const char *server, unsigned int port,
                   const char *zone, const ldns_pkt *reply, int bogus, acme__err *err)
{
    int tsig_err = 0;
    const ldns_rr *t = reply ? ldns_pkt_tsig(reply) : NULL;
    if (t && ldns_rr_rd_count(t) > 5 && ldns_rr_rdf(t, 5))
        tsig_err = ldns_rdf2native_int16(ldns_rr_rdf(t, 5));
    ldns_pkt_rcode rcode = reply ? ldns_pkt_get_rcode(reply) : LDNS_RCODE_NOERROR;
    ldns_lookup_table *rt = ldns_lookup_by_id(ldns_rcodes, (int)rcode);
    const char *rname = rt ? rt->name : "error";
    if (tsig_err || rcode == LDNS_RCODE_NOTAUTH || (bogus && rcode != LDNS_RCODE_NOERROR))
        return acme__fail(err, ACME_ERR_NETWORK,
                          "dns update: %s port %u refused the TSIG key \"%s\" (%s) for zone %s: "
                          "%s",
                          server, port, u->tsig_name, u->tsig_algorithm, zone,
                          tsig_error_name(tsig_err) ? tsig_error_name(tsig_err) : rname);
    if (bogus)
        /* A server that refuses a key answers unsigned (RFC 8945 5.3.2),
         * which ldns reports as a reply that fails verification. */
        return acme__fail(err, ACME_ERR_NETWORK,
                          "dns update: %s port %u refused the TSIG key \"%s\" (%s) for zone %s: "
                          "its reply is not signed with the key (the server does not know the "
                          "key, or the secret differs)",
                          server, port, u->tsig_name, u->tsig_algorithm, zone);
    if (rcode == LDNS_RCODE_REFUSED)
        return acme__fail(err, ACME_ERR_NETWORK,
                          "dns update: %s port %u refused the update of zone %s with the TSIG "
                          "key \"%s\" (REFUSED: is the key allowed to update this zone?)",
                          server, port, zone, u->tsig_name);
    return acme__fail(err, ACME_ERR_NETWORK, "dns update: %s port %u answered %s for zone %s",
                      server, port, rname, zone);
}

/* Where to send: the configured server, or the zone's primary. */
static int open_server(const update_solver *u, ldns_resolver *lookup, const char *primary,
                       ldns_resolver **out, char **shown, acme__err *err)
{
    unsigned int port = u->o.port ? u->o.port : ACME__DNS_PORT;
    unsigned int tmo = u->o.timeout_ms ? u->o.timeout_ms : DEFAULT_TIMEOUT_MS;
    if (u->server) {
        *shown = acme__strdup(u->server);
        return *shown ? acme__dns_server_new(out, u->server, port, tmo, 0, err)
                      : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    }
    char **addrs;
    size_t n;
    int rc = acme__dns_addresses(lookup, primary, NULL, &addrs, &n, err);
    if (rc != ACME_OK)
        return rc;
    rc = acme__dns_server_new(out, addrs[0], port, tmo, 0, err);
    acme__buf b = ACME__BUF_INIT;
    acme__buf_printf(&b, "%s (%s)", primary, addrs[0]);
    *shown = acme__buf_detach(&b);
    acme__free_strv(addrs, n);
    if (rc == ACME_OK && !*shown)
        rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    return rc;
}

/* Add (add != 0) or delete the one TXT value at name. */
static int update(const update_solver *u, const char *name, const char *value, int add,
                  acme__err *err)
{
    unsigned int tmo = u->o.timeout_ms ? u->o.timeout_ms : DEFAULT_TIMEOUT_MS;
    ldns_resolver *lookup = NULL, *srv = NULL;
    char *owner = NULL, *zone = NULL, *primary = NULL, *shown = NULL;
    ldns_pkt *pkt = NULL, *reply = NULL;
    ldns_rr_list *up = NULL;
    ldns_rr *rr = NULL;
    int rc = ACME_OK;
    if (!u->zone || !u->server)
        rc = acme__dns_lookup_new(&lookup, u->resolver, tmo, err);
    if (rc == ACME_OK && u->zone) {
        owner = acme__strdup(name);
        zone = acme__strdup(u->zone);
        if (!owner || !zone)
            rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
        else if (!u->server) {
            /* The primary still comes from the zone's SOA. */
            char *o2, *z2;
            rc = acme__dns_find_zone(lookup, zone, &o2, &z2, &primary, err);
            if (rc == ACME_OK) {
                free(o2);
                free(z2);
            }
        }
    } else if (rc == ACME_OK) {
        rc = acme__dns_find_zone(lookup, name, &owner, &zone, &primary, err);
    }
    if (rc == ACME_OK)
        rc = open_server(u, lookup, primary, &srv, &shown, err);
    if (rc != ACME_OK)
        goto out;

    acme__buf text = ACME__BUF_INIT;
    acme__buf_printf(&text, "%s. %u IN TXT \"%s\"", owner, u->o.ttl ? u->o.ttl : DEFAULT_TTL,
                     value);
    ldns_status st = acme__buf_status(&text) == ACME_OK
                         ? ldns_rr_new_frm_str(&rr, acme__buf_str(&text), 0, NULL, NULL)
                         : LDNS_STATUS_MEM_ERR;
    acme__buf_free(&text);
    if (st != LDNS_STATUS_OK) {
        rc = acme__fail(err, ACME_ERR_INVALID, "dns update: cannot build the TXT record of %s: %s",
                        owner, ldns_get_errorstr_by_id(st));
        goto out;
    }
    if (!add) {
        /* Class NONE, TTL 0: delete this RR only (RFC 2136 2.5.4). */
        ldns_rr_set_class(rr, LDNS_RR_CLASS_NONE);
        ldns_rr_set_ttl(rr, 0);
    }
    up = ldns_rr_list_new();
    ldns_rdf *zrdf = ldns_dname_new_frm_str(zone);
    if (!up || !zrdf || !ldns_rr_list_push_rr(up, rr)) {
        ldns_rdf_deep_free(zrdf);
        rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
        goto out;
    }
    rr = NULL; /* the list has it */
    pkt = ldns_update_pkt_new(zrdf, LDNS_RR_CLASS_IN, NULL, up, NULL);
    if (!pkt) {
        rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* ldns wants the algorithm as a domain name. */
    char alg[32];
    snprintf(alg, sizeof(alg), "%s.", u->tsig_algorithm);
    ldns_resolver_set_tsig_keyname(srv, u->tsig_name);
    ldns_resolver_set_tsig_algorithm(srv, alg);
    ldns_resolver_set_tsig_keydata(srv, u->tsig_secret);
    st = ldns_update_pkt_tsig_add(pkt, srv);
    if (st != LDNS_STATUS_OK) {
        rc = acme__fail(err, ACME_ERR_CRYPTO, "dns update: cannot sign with the TSIG key \"%s\": %s",
                        u->tsig_name, ldns_get_errorstr_by_id(st));
        goto out;
    }
    unsigned int port = u->o.port ? u->o.port : ACME__DNS_PORT;
    st = ldns_resolver_send_pkt(&reply, srv, pkt);
    if (st == LDNS_STATUS_CRYPTO_TSIG_BOGUS ||
        (st == LDNS_STATUS_OK && reply && ldns_pkt_get_rcode(reply) != LDNS_RCODE_NOERROR)) {
        rc = refused(u, shown, port, zone, reply, st == LDNS_STATUS_CRYPTO_TSIG_BOGUS, err);
    } else if (st != LDNS_STATUS_OK || !reply) {
        rc = acme__fail(err, ACME_ERR_NETWORK, "dns update: no answer from %s port %u: %s",
                        shown, port, ldns_get_errorstr_by_id(st));
    }
out:
    ldns_rr_free(rr);
    ldns_rr_list_deep_free(up);
    ldns_pkt_free(pkt);
    ldns_pkt_free(reply);
    /* ldns keeps its own (malloc'd, so writable) copy of the secret and
     * frees it unwiped: wipe it first. */
    if (srv && ldns_resolver_tsig_keydata(srv)) {
        char *copy = (char *)(uintptr_t)ldns_resolver_tsig_keydata(srv);
        acme__wipe(copy, strlen(copy));
    }
    ldns_resolver_deep_free(srv);
    ldns_resolver_deep_free(lookup);
    free(owner);
    free(zone);
    free(primary);
    free(shown);
    return rc;
}

static int update_present(const acme_challenge *ch, void *userdata, acme__err *err)
{
    const char *name, *value;
    int rc = record_of(ch, &name, &value, err);
    return rc == ACME_OK ? update(userdata, name, value, 1, err) : rc;
}

static void update_cleanup(const acme_challenge *ch, void *userdata)
{
    const char *name, *value;
    acme__err quiet = ACME__ERR_QUIET;
    /* Nothing to report to: a value left behind is harmless to the next
     * order (each adds and checks its own). */
    if (record_of(ch, &name, &value, &quiet) == ACME_OK)
        update(userdata, name, value, 0, &quiet);
    acme__err_clear(&quiet);
}

#else /* no ldns */

static int update_present(const acme_challenge *ch, void *userdata, acme__err *err)
{
    return acme__fail(err, ACME_ERR_UNSUPPORTED,
                      "dns update: this libacme was built without DNS support (ldns)");
}

static void update_cleanup(const acme_challenge *ch, void *userdata)
{
}

#endif

int acme_solvers_add_dns_update(acme_solvers *s, const acme_dns_update_options *o)
{
    acme__err *err = s ? &s->err : NULL;
    if (!s || !o)
        return acme__fail(err, ACME_ERR_INVALID, "dns update: solvers and options are required");
    if (!acme_dns_available())
        return acme__fail(err, ACME_ERR_UNSUPPORTED,
                          "dns update: unavailable, this libacme was built without DNS support "
                          "(ldns; meson -Ddns=enabled)");
    update_solver *u = calloc(1, sizeof(*u));
    if (!u)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    int rc = acme__options_copy(&update_versions, &u->o, sizeof(u->o), o, err);
    if (rc != ACME_OK) {
        update_free(u);
        return rc;
    }
    const char *alg = u->o.tsig_algorithm ? u->o.tsig_algorithm : "hmac-sha256";
    if (!u->o.tsig_name || !*u->o.tsig_name || !u->o.tsig_secret)
        rc = acme__fail(err, ACME_ERR_INVALID, "dns update: a TSIG key name and secret are required");
    else if (!acme__tsig_algorithm_ok(alg))
        rc = acme__fail(err, ACME_ERR_INVALID,
                        "dns update: TSIG algorithm \"%s\" is not hmac-sha256 or hmac-sha512", alg);
    else if (!base64_ok(u->o.tsig_secret))
        rc = acme__fail(err, ACME_ERR_INVALID,
                        "dns update: the secret of TSIG key \"%s\" is not base64", u->o.tsig_name);
    else if (u->o.port > 65535)
        rc = acme__fail(err, ACME_ERR_INVALID, "dns update: port %u is out of range", u->o.port);
    size_t n_types = u->o.types ? u->o.type_count : 0;
    for (size_t i = 0; i < n_types && rc == ACME_OK; i++) {
        const char *t = u->o.types[i];
        if (!t || (strcmp(t, "dns-01") != 0 && strcmp(t, "dns-account-01") != 0))
            rc = acme__fail(err, ACME_ERR_INVALID,
                            "dns update: answers dns-01 and dns-account-01, not \"%s\"",
                            t ? t : "(null)");
        for (size_t j = 0; j < i && rc == ACME_OK; j++)
            if (strcmp(u->o.types[j], t) == 0)
                rc = acme__fail(err, ACME_ERR_INVALID, "dns update: type %s given twice", t);
    }
#ifdef ACME_HAVE_LDNS
    if (rc == ACME_OK && u->o.resolver) {
        char *h;
        unsigned int p;
        rc = acme__dns_hostport(u->o.resolver, ACME__DNS_PORT, "dns update resolver", &h, &p, err);
        free(h);
    }
#endif
    if (rc != ACME_OK) {
        update_free(u);
        return rc;
    }
    u->server = acme__strdup(u->o.server);
    u->tsig_name = acme__strdup(u->o.tsig_name);
    u->tsig_algorithm = acme__strdup(alg);
    u->tsig_secret = acme__strdup(u->o.tsig_secret);
    u->zone = acme__strdup(u->o.zone);
    u->resolver = acme__strdup(u->o.resolver);
    int oom = (u->o.server && !u->server) || !u->tsig_name || !u->tsig_algorithm ||
              !u->tsig_secret || (u->o.zone && !u->zone) || (u->o.resolver && !u->resolver);
    /* The caller's strings are borrowed: keep only the copies. */
    u->o.server = u->o.tsig_name = u->o.tsig_algorithm = u->o.tsig_secret = NULL;
    u->o.zone = u->o.resolver = NULL;
    const char *const *wanted = u->o.types;
    u->o.types = NULL;
    if (oom) {
        update_free(u);
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    }
    /* dns-account-01 shares the record mechanics; the view names its TXT.
     * The set tries solvers in the order they were added, so the caller's
     * order is the preference. The first registration owns u. */
    static const char *const both[] = { "dns-01", "dns-account-01" };
    const char *const *types = n_types ? wanted : both;
    size_t n = n_types ? n_types : 2;
    for (size_t i = 0; i < n && rc == ACME_OK; i++)
        rc = acme__solvers_add_owned(s, types[i], update_present, update_cleanup, u,
                                     i == 0 ? update_free : NULL);
    return rc;
}
