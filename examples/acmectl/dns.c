/* DNS in acmectl: the rfc2136 solver (the library's dynamic update with a
 * TSIG key from a BIND key file) and the propagation check, which is on
 * for every dns-01 solver (rfc2136 and hook alike) unless --no-dns-wait.
 *
 *   --dns-server HOST[:PORT]   send updates here (default: the zone's SOA primary)
 *   --tsig-key FILE            key "name" { algorithm ...; secret "..."; };
 *   --dns-wait SECONDS         how long the check waits (default 120)
 *   --no-dns-wait              no check
 *   --dns-resolver HOST[:PORT] where SOA, NS and address queries go
 *                              (default: the system's resolvers)
 *   --dns-ns-port PORT         the port the zone's nameservers are asked on (default 53)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmectl.h"

#define DEFAULT_DNS_WAIT_S 120
#define MAX_DNS_WAIT_S 86400
#define DNS_PORT 53

void dns_opts_init(dns_opts *d)
{
    memset(d, 0, sizeof(*d));
    d->wait_s = DEFAULT_DNS_WAIT_S;
}

int dns_opt(dns_opts *d, int id, const char *value)
{
    unsigned long n;
    switch (id) {
    case S_DNS_SERVER:
        d->server = value;
        return EXIT_OK;
    case S_TSIG_KEY:
        d->tsig_key = value;
        return EXIT_OK;
    case S_DNS_WAIT:
        if (parse_ulong(value, 1, MAX_DNS_WAIT_S, &n) != 0)
            return usage_error("--dns-wait: \"%s\" is not a number of seconds (1 to %d)", value,
                               MAX_DNS_WAIT_S);
        d->wait_s = (unsigned int)n;
        return EXIT_OK;
    case S_NO_DNS_WAIT:
        d->no_wait = 1;
        return EXIT_OK;
    case S_DNS_RESOLVER:
        d->resolver = value;
        return EXIT_OK;
    case S_DNS_NS_PORT:
        if (parse_ulong(value, 1, 65535, &n) != 0)
            return usage_error("--dns-ns-port: \"%s\" is not a port number", value);
        d->ns_port = (unsigned int)n;
        return EXIT_OK;
    default:
        return usage_error("internal: unknown DNS option");
    }
}

/* "HOST[:PORT]" for the library: the host part and the port apart. */
static int split_server(const char *text, char *host, size_t size, unsigned int *port)
{
    *port = DNS_PORT;
    const char *colon = strrchr(text, ':');
    int v6 = text[0] == '[';
    if (v6) {
        const char *close = strchr(text, ']');
        if (!close || (close[1] && close[1] != ':'))
            return -1;
        colon = close[1] ? close + 1 : NULL;
    } else if (colon && strchr(text, ':') != colon) {
        colon = NULL; /* a bare IPv6 address */
    }
    size_t hlen = colon ? (size_t)(colon - text) : strlen(text);
    if (v6)
        hlen = (size_t)(strchr(text, ']') - text - 1);
    if (!hlen || hlen >= size)
        return -1;
    memcpy(host, text + v6, hlen);
    host[hlen] = '\0';
    if (colon) {
        unsigned long p;
        if (parse_ulong(colon + 1, 1, 65535, &p) != 0)
            return -1;
        *port = (unsigned int)p;
    }
    return 0;
}

static void free_key(char *name, char *alg, char *secret)
{
    acme_free(name);
    acme_free(alg);
    if (secret) {
        /* The library cannot wipe what it handed over: do it here. */
        volatile char *p = secret;
        while (*p)
            *p++ = '\0';
    }
    acme_free(secret);
}

int dns_add_update(const dns_opts *d, const solver_conf *sc, acme_solvers *s, const char *cert)
{
    char *name = NULL, *alg = NULL, *secret = NULL;
    if (!acme_dns_available()) {
        error_msg("%s: the rfc2136 solver is unavailable: this libacme was built without DNS "
                  "support (ldns)", cert);
        return EXIT_FAIL;
    }
    if (!d->tsig_key) {
        error_msg("%s: the rfc2136 solver needs --tsig-key FILE", cert);
        return EXIT_FAIL;
    }
    if (acme_tsig_key_parse_file(d->tsig_key, &name, &alg, &secret) != ACME_OK) {
        error_msg("%s: --tsig-key: %s", cert, acme_last_error());
        return EXIT_FAIL;
    }
    acme_dns_update_options o;
    acme_dns_update_options_init(&o, ACME_DNS_UPDATE_OPTIONS_VERSION);
    char host[256];
    unsigned int port = DNS_PORT;
    if (d->server) {
        if (split_server(d->server, host, sizeof(host), &port) != 0) {
            free_key(name, alg, secret);
            error_msg("%s: --dns-server: \"%s\" is not HOST or HOST:PORT", cert, d->server);
            return EXIT_FAIL;
        }
        o.server = host;
    }
    o.port = port;
    o.tsig_name = name;
    o.tsig_algorithm = alg;
    o.tsig_secret = secret;
    o.resolver = d->resolver;
    /* --challenge's DNS types, in its order: the solver set prefers what
     * was added first. None given: the library's default order. */
    const char *types[MAX_TYPES];
    size_t ntypes = 0;
    for (size_t i = 0; i < sc->ntypes; i++)
        if (strcmp(sc->types[i], "dns-01") == 0 || strcmp(sc->types[i], "dns-account-01") == 0)
            types[ntypes++] = sc->types[i];
    o.types = types;
    o.type_count = ntypes;
    int rc = acme_solvers_add_dns_update(s, &o);
    free_key(name, alg, secret);
    if (rc != ACME_OK) {
        error_msg("%s: rfc2136 solver: %s", cert, acme_solvers_last_error(s));
        return EXIT_FAIL;
    }
    detail("%s: rfc2136 updates to %s with TSIG key %s", cert, d->server ? d->server
                                                                         : "the zone's primary",
           d->tsig_key);
    return EXIT_OK;
}

int dns_add_wait(const dns_opts *d, const solver_conf *sc, acme_solvers *s, const char *cert)
{
    int dns = 0;
    for (size_t i = 0; i < sc->ntypes; i++)
        dns |= strcmp(sc->types[i], "dns-01") == 0 || strcmp(sc->types[i], "dns-account-01") == 0;
    if (!dns || d->no_wait)
        return EXIT_OK;
    if (!acme_dns_available()) {
        warn_msg("%s: no DNS propagation check (this libacme was built without DNS support)",
                 cert);
        return EXIT_OK;
    }
    acme_dns_wait_options o;
    acme_dns_wait_options_init(&o, ACME_DNS_WAIT_OPTIONS_VERSION);
    o.timeout_ms = d->wait_s * 1000u;
    o.resolver = d->resolver;
    o.nameserver_port = d->ns_port;
    if (acme_solvers_add_dns_wait(s, &o) != ACME_OK) {
        error_msg("%s: DNS propagation check: %s", cert, acme_solvers_last_error(s));
        return EXIT_FAIL;
    }
    detail("%s: DNS propagation check on, up to %u s", cert, d->wait_s);
    return EXIT_OK;
}
