/* Solvers: how acmectl answers challenges.
 *
 *   standalone  the library's own responders: http-01 on --http-port
 *               (default 80), tls-alpn-01 on --tls-port (default 443)
 *   webroot     http-01 files under --webroot DIR for a running web server
 *   hook        a program (see hook.c) for any type, dns-01 included
 *   rfc2136     dns-01 by DNS dynamic update with a TSIG key (see dns.c)
 *
 * dns-persist-01 needs no solver when its record is published beforehand
 * (acmectl persist-record): without a hook, any solver answers it by
 * doing nothing, and the CA finds the record.
 *
 * Each certificate gets its own solver set: the challenge types in its
 * order of preference (--challenge, repeatable; want files: challenge=),
 * each answered by its solver. Default preference: http-01 for standalone
 * and webroot; http-01, tls-alpn-01, dns-01 for hook; dns-01 for rfc2136.
 * Every dns-01 solver gets the DNS propagation check (dns.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "acmectl.h"

/* The ports the CA validates on: http-01 (RFC 8555 8.3), tls-alpn-01 (RFC 8737). */
#define DEFAULT_HTTP_PORT 80
#define DEFAULT_TLS_PORT 443
/* Longer than any challenge type name: anything longer is a typo or garbage. */
#define MAX_TYPE_LEN 32

const opt_spec solver_options[] = {
    { "solver", 0, 1, S_SOLVER },
    { "challenge", 0, 1, S_CHALLENGE },
    { "http-port", 0, 1, S_HTTP_PORT },
    { "tls-port", 0, 1, S_TLS_PORT },
    { "webroot", 0, 1, S_WEBROOT },
    { "hook", 0, 1, S_HOOK },
    { "listen", 0, 1, S_LISTEN },
    { "dns-server", 0, 1, S_DNS_SERVER },
    { "tsig-key", 0, 1, S_TSIG_KEY },
    { "dns-wait", 0, 1, S_DNS_WAIT },
    { "no-dns-wait", 0, 0, S_NO_DNS_WAIT },
    { "dns-resolver", 0, 1, S_DNS_RESOLVER },
    { "dns-ns-port", 0, 1, S_DNS_NS_PORT },
    { NULL, 0, 0, 0 },
};

void solver_opts_init(solver_opts *so)
{
    memset(so, 0, sizeof(*so));
    so->http_port = DEFAULT_HTTP_PORT;
    so->tls_port = DEFAULT_TLS_PORT;
    dns_opts_init(&so->dns);
}

int solver_kind_from_name(const char *name)
{
    if (strcmp(name, "standalone") == 0)
        return SOLVER_STANDALONE;
    if (strcmp(name, "webroot") == 0)
        return SOLVER_WEBROOT;
    if (strcmp(name, "hook") == 0)
        return SOLVER_HOOK;
    if (strcmp(name, "rfc2136") == 0)
        return SOLVER_RFC2136;
    return SOLVER_UNSET;
}

const char *solver_kind_name(int kind)
{
    switch (kind) {
    case SOLVER_STANDALONE: return "standalone";
    case SOLVER_WEBROOT: return "webroot";
    case SOLVER_HOOK: return "hook";
    case SOLVER_RFC2136: return "rfc2136";
    default: return "?";
    }
}

int solver_add_type(solver_conf *sc, const char *type, const char *where)
{
    if (!*type || strlen(type) > MAX_TYPE_LEN)
        return usage_error("%s: \"%s\" is not a challenge type", where, type);
    for (const char *p = type; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return usage_error("%s: \"%s\" is not a challenge type", where, type);
    for (size_t i = 0; i < sc->ntypes; i++)
        if (strcmp(sc->types[i], type) == 0)
            return EXIT_OK;
    if (sc->ntypes == MAX_TYPES)
        return usage_error("%s: too many challenge types", where);
    sc->types[sc->ntypes++] = type;
    return EXIT_OK;
}

int solver_opt(solver_opts *so, int id, const char *value)
{
    unsigned long port;
    switch (id) {
    case S_SOLVER:
        so->sc.kind = solver_kind_from_name(value);
        if (!so->sc.kind)
            return usage_error("unknown solver \"%s\" (standalone, webroot, hook, rfc2136)",
                               value);
        return EXIT_OK;
    case S_CHALLENGE:
        return solver_add_type(&so->sc, value, "--challenge");
    case S_HTTP_PORT:
    case S_TLS_PORT:
        if (parse_ulong(value, 1, 65535, &port) != 0)
            return usage_error("%s: \"%s\" is not a port number",
                               id == S_HTTP_PORT ? "--http-port" : "--tls-port", value);
        if (id == S_HTTP_PORT)
            so->http_port = (unsigned int)port;
        else
            so->tls_port = (unsigned int)port;
        return EXIT_OK;
    case S_WEBROOT:
        so->sc.webroot = value;
        return EXIT_OK;
    case S_HOOK:
        so->sc.hook = value;
        return EXIT_OK;
    case S_LISTEN:
        so->listen = value;
        return EXIT_OK;
    case S_DNS_SERVER:
    case S_TSIG_KEY:
    case S_DNS_WAIT:
    case S_NO_DNS_WAIT:
    case S_DNS_RESOLVER:
    case S_DNS_NS_PORT:
        return dns_opt(&so->dns, id, value);
    default:
        return usage_error("internal: unknown solver option");
    }
}

static void default_types(solver_conf *sc)
{
    sc->ntypes = 0;
    if (sc->kind == SOLVER_RFC2136) {
        sc->types[sc->ntypes++] = "dns-01";
        return;
    }
    sc->types[sc->ntypes++] = "http-01";
    if (sc->kind == SOLVER_HOOK) {
        sc->types[sc->ntypes++] = "tls-alpn-01";
        sc->types[sc->ntypes++] = "dns-01";
    }
}

void solver_conf_merge(solver_conf *sc, const solver_conf *def)
{
    if (!sc->kind) {
        /* A hook or webroot given for this certificate implies its solver. */
        if (sc->hook)
            sc->kind = SOLVER_HOOK;
        else if (sc->webroot)
            sc->kind = SOLVER_WEBROOT;
        else if (def->kind)
            sc->kind = def->kind;
        else if (def->hook)
            sc->kind = SOLVER_HOOK;
        else if (def->webroot)
            sc->kind = SOLVER_WEBROOT;
        else
            sc->kind = SOLVER_STANDALONE;
    }
    if (!sc->hook)
        sc->hook = def->hook;
    if (!sc->webroot)
        sc->webroot = def->webroot;
    if (!sc->ntypes) {
        int def_kind = def->kind ? def->kind
                       : def->hook ? SOLVER_HOOK
                       : def->webroot ? SOLVER_WEBROOT
                                      : SOLVER_STANDALONE;
        if (def->ntypes && def_kind == sc->kind) {
            memcpy(sc->types, def->types, sizeof(sc->types));
            sc->ntypes = def->ntypes;
        } else {
            default_types(sc);
        }
    }
}

static int has_type(const solver_conf *sc, const char *type)
{
    for (size_t i = 0; i < sc->ntypes; i++)
        if (strcmp(sc->types[i], type) == 0)
            return 1;
    return 0;
}

/* The DNS types: the only ones a CA offers for a wildcard. */
static int is_dns_type(const char *t)
{
    return strcmp(t, "dns-01") == 0 || strcmp(t, "dns-account-01") == 0 ||
           strcmp(t, "dns-persist-01") == 0;
}

int solver_conf_check(const solver_conf *sc, const char *const *ids, size_t n, const char *where)
{
    int any_dns = 0;
    for (size_t i = 0; i < sc->ntypes; i++) {
        const char *t = sc->types[i];
        any_dns |= is_dns_type(t);
        if (strcmp(t, "dns-persist-01") == 0)
            continue; /* published beforehand, or by the hook */
        if (sc->kind == SOLVER_STANDALONE && strcmp(t, "http-01") != 0 &&
            strcmp(t, "tls-alpn-01") != 0)
            return usage_error("%s: the standalone solver answers http-01 and tls-alpn-01, not %s"
                               " (use --solver hook)", where, t);
        if (sc->kind == SOLVER_WEBROOT && strcmp(t, "http-01") != 0)
            return usage_error("%s: the webroot solver answers http-01 only, not %s", where, t);
        if (sc->kind == SOLVER_RFC2136 && strcmp(t, "dns-01") != 0 &&
            strcmp(t, "dns-account-01") != 0)
            return usage_error("%s: the rfc2136 solver answers dns-01 and dns-account-01, not %s",
                               where, t);
    }
    if (sc->kind == SOLVER_WEBROOT) {
        struct stat st;
        if (!sc->webroot)
            return usage_error("%s: the webroot solver needs --webroot DIR", where);
        if (stat(sc->webroot, &st) != 0 || !S_ISDIR(st.st_mode))
            return usage_error("%s: webroot %s is not a directory", where, sc->webroot);
    }
    if (sc->kind == SOLVER_HOOK) {
        if (!sc->hook)
            return usage_error("%s: the hook solver needs --hook PROG", where);
        if (!is_executable(sc->hook))
            return usage_error("%s: hook %s is not an executable file", where, sc->hook);
    }
    for (size_t i = 0; i < n; i++) {
        if (strncmp(ids[i], "*.", 2) == 0 && !any_dns)
            return usage_error("%s: %s needs a DNS challenge: dns-01 or dns-account-01 with "
                               "the rfc2136 or hook solver (--solver rfc2136, or --solver hook "
                               "--challenge dns-01), or dns-persist-01 (--challenge "
                               "dns-persist-01)", where, ids[i]);
    }
    return EXIT_OK;
}

/* ---- the solvers of a run ------------------------------------------------------- */

/* dns-persist-01 without a hook: the record was published beforehand. */
static int persisted_present(const acme_challenge *ch, void *userdata)
{
    (void)userdata;
    detail("%s: dns-persist-01 record expected at %s: %s", acme_challenge_identifier_value(ch),
           acme_challenge_dns_txt_name(ch), acme_challenge_dns_txt_value(ch));
    return ACME_OK;
}

struct solver_env {
    dns_opts dns;
    unsigned int http_port, tls_port;
    const char *listen;
    acme_http_responder *http;
    acme_tls_alpn_responder *tls;
    hook_ctx **hooks;
    size_t nhooks;
    acme_solvers **sets;
    size_t nsets;
};

solver_env *solver_env_new(const solver_opts *so)
{
    solver_env *e = xcalloc(1, sizeof(*e));
    e->dns = so->dns;
    e->http_port = so->http_port;
    e->tls_port = so->tls_port;
    e->listen = so->listen;
    return e;
}

/* Report how starting a responder went (rc from its start function): a
 * port that cannot be bound fails a strict run, else it is a warning. */
static int responder_started(int rc, int strict, const char *type, const char *where,
                             unsigned int port)
{
    if (rc == ACME_OK) {
        say("%s responder listening on %s port %u", type, where, port);
        return EXIT_OK;
    }
    if (strict) {
        error_msg("%s", acme_last_error());
        return EXIT_FAIL;
    }
    warn_msg("%s; certificates due for renewal that need it will fail", acme_last_error());
    return EXIT_OK;
}

int solver_env_start(solver_env *e, const solver_conf *const *confs, size_t n, int strict)
{
    int need_http = 0, need_tls = 0;
    for (size_t i = 0; i < n; i++) {
        if (confs[i]->kind != SOLVER_STANDALONE)
            continue;
        need_http |= has_type(confs[i], "http-01");
        need_tls |= has_type(confs[i], "tls-alpn-01");
    }
    const char *where = e->listen ? e->listen : "0.0.0.0";
    if (need_http && !e->http) {
        int arc = acme_http_responder_start(&e->http, e->listen, e->http_port);
        if (arc != ACME_OK)
            e->http = NULL;
        if (responder_started(arc, strict, "http-01", where,
                              e->http ? acme_http_responder_port(e->http) : 0) != EXIT_OK)
            return EXIT_FAIL;
    }
    if (need_tls && !e->tls) {
        int arc = acme_tls_alpn_responder_start(&e->tls, e->listen, e->tls_port);
        if (arc != ACME_OK)
            e->tls = NULL;
        if (responder_started(arc, strict, "tls-alpn-01", where,
                              e->tls ? acme_tls_alpn_responder_port(e->tls) : 0) != EXIT_OK)
            return EXIT_FAIL;
    }
    return EXIT_OK;
}

int solver_env_build(solver_env *e, const solver_conf *sc, const char *cert, acme_solvers **out)
{
    acme_solvers *s = NULL;
    if (acme_solvers_new(&s) != ACME_OK) {
        error_msg("%s", acme_last_error());
        return EXIT_FAIL;
    }
    e->sets = xrealloc(e->sets, e->nsets + 1, sizeof(*e->sets));
    e->sets[e->nsets++] = s;
    hook_ctx *h = NULL;
    if (sc->kind == SOLVER_HOOK) {
        h = hook_ctx_new(sc->hook, cert);
        e->hooks = xrealloc(e->hooks, e->nhooks + 1, sizeof(*e->hooks));
        e->hooks[e->nhooks++] = h;
    }
    int rc = ACME_OK;
    for (size_t i = 0; rc == ACME_OK && i < sc->ntypes; i++) {
        const char *t = sc->types[i];
        if (strcmp(t, "dns-persist-01") == 0 && sc->kind != SOLVER_HOOK) {
            rc = acme_solvers_add(s, t, persisted_present, NULL, NULL, NULL);
            continue;
        }
        switch (sc->kind) {
        case SOLVER_STANDALONE:
            if (strcmp(t, "http-01") == 0 && e->http)
                rc = acme_solvers_add_http_responder(s, e->http);
            else if (strcmp(t, "tls-alpn-01") == 0 && e->tls)
                rc = acme_solvers_add_tls_alpn_responder(s, e->tls);
            break;
        case SOLVER_WEBROOT:
            rc = acme_solvers_add_webroot(s, sc->webroot);
            break;
        case SOLVER_HOOK:
            rc = acme_solvers_add(s, t, hook_present, NULL, hook_cleanup, h);
            break;
        default:
            break;
        }
    }
    if (rc != ACME_OK) {
        error_msg("%s: solvers: %s", cert, acme_last_error());
        return EXIT_FAIL;
    }
    /* One update solver answers every DNS type it is offered. */
    if (sc->kind == SOLVER_RFC2136 && dns_add_update(&e->dns, sc, s, cert) != EXIT_OK)
        return EXIT_FAIL;
    if (dns_add_wait(&e->dns, sc, s, cert) != EXIT_OK)
        return EXIT_FAIL;
    char prefs[256] = "";
    for (size_t i = 0; i < sc->ntypes; i++) {
        size_t used = strlen(prefs);
        snprintf(prefs + used, sizeof(prefs) - used, "%s%s", i ? ", " : "", sc->types[i]);
    }
    detail("%s: %s solver, challenges %s", cert, solver_kind_name(sc->kind), prefs);
    *out = s;
    return EXIT_OK;
}

void solver_env_free(solver_env *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nsets; i++)
        acme_solvers_free(e->sets[i]);
    free(e->sets);
    for (size_t i = 0; i < e->nhooks; i++)
        hook_ctx_free(e->hooks[i]);
    free(e->hooks);
    acme_http_responder_stop(e->http);
    acme_tls_alpn_responder_stop(e->tls);
    free(e);
}
