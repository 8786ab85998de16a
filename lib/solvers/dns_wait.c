/* The DNS propagation check: before the CA is told to look, every
 * authoritative server of the record's zone must serve the value. Each is
 * asked directly, with recursion off, so no cache answers for it; the
 * servers come from the zone's NS records. A timeout names each server
 * that still lacks the value and what it answered. */
#include "acme/dns.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/mem.h"
#include "base/options.h"
#include "solvers/solver.h"
#ifdef ACME_HAVE_LDNS
#include "solvers/dns.h"
#endif

/* Defaults of acme_dns_wait_options. */
#define DEFAULT_INTERVAL_MS 2000u
#define DEFAULT_TIMEOUT_MS 120000u
#define DEFAULT_QUERY_TIMEOUT_MS 3000u

ACME__OPTIONS_DEFINE(wait_versions, ACME_DNS_WAIT_OPTIONS_VERSION, "dns wait options",
                     "acme_dns_wait_options_init",
                     ACME__OPTIONS_END(acme_dns_wait_options, query_timeout_ms)); /* 1 */

int acme_dns_wait_options_init(acme_dns_wait_options *o, unsigned int version)
{
    return acme__options_init(&wait_versions, o, version, NULL);
}

typedef struct wait_conf {
    acme_dns_wait_options o;
    char *resolver;
} wait_conf;

static void wait_conf_free(void *p)
{
    wait_conf *w = p;
    if (w) {
        free(w->resolver);
        free(w);
    }
}

#ifdef ACME_HAVE_LDNS

typedef struct nameserver {
    char *name;
    char *addr;
    int serves;        /* seen serving the value */
    acme__buf answer;  /* what it said last, for the timeout's message */
} nameserver;

static void servers_free(nameserver *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].addr);
        acme__buf_free(&v[i].answer);
    }
    free(v);
}

/* Every address of every NS of zone. */
static int find_servers(ldns_resolver *lookup, const char *zone, nameserver **out, size_t *n,
                        acme__err *err)
{
    *out = NULL;
    *n = 0;
    ldns_pkt *reply;
    int rc = acme__dns_query(lookup, zone, LDNS_RR_TYPE_NS, &reply, err);
    if (rc != ACME_OK)
        return rc;
    ldns_rdf *zdn = ldns_dname_new_frm_str(zone);
    ldns_rr_list *ns = zdn ? ldns_pkt_rr_list_by_name_and_type(reply, zdn, LDNS_RR_TYPE_NS,
                                                               LDNS_SECTION_ANSWER)
                           : NULL;
    ldns_rdf_deep_free(zdn);
    for (size_t i = 0; rc == ACME_OK && ns && i < ldns_rr_list_rr_count(ns); i++) {
        char *host = acme__dns_rdf_text(ldns_rr_rdf(ldns_rr_list_rr(ns, i), 0));
        char **addrs = NULL;
        size_t na = 0;
        rc = host ? acme__dns_addresses(lookup, host, reply, &addrs, &na, err)
                  : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
        for (size_t j = 0; rc == ACME_OK && j < na; j++) {
            nameserver *v = realloc(*out, (*n + 1) * sizeof(*v));
            if (!v) {
                rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
                break;
            }
            *out = v;
            v[*n] = (nameserver){ .name = acme__strdup(host), .addr = addrs[j] };
            addrs[j] = NULL;
            if (!v[(*n)++].name)
                rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
        }
        acme__free_strv(addrs, na);
        free(host);
    }
    ldns_rr_list_deep_free(ns);
    ldns_pkt_free(reply);
    if (rc == ACME_OK && !*n)
        rc = acme__fail(err, ACME_ERR_NETWORK, "dns wait: the zone %s has no NS records", zone);
    if (rc != ACME_OK) {
        servers_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* Ask one server for the TXT RRset of name; 1 when it has value. What it
 * said otherwise goes into ns->answer. */
static int ask(const wait_conf *w, nameserver *ns, const char *name, const char *value)
{
    unsigned int port = w->o.nameserver_port ? w->o.nameserver_port : ACME__DNS_PORT;
    unsigned int tmo = w->o.query_timeout_ms ? w->o.query_timeout_ms : DEFAULT_QUERY_TIMEOUT_MS;
    ldns_resolver *r = NULL;
    ldns_pkt *reply = NULL;
    acme__err e = ACME__ERR_QUIET;
    int has = 0;
    ns->answer.len = 0;
    if (acme__dns_server_new(&r, ns->addr, port, tmo, 0, &e) == ACME_OK &&
        acme__dns_query(r, name, LDNS_RR_TYPE_TXT, &reply, &e) == ACME_OK) {
        has = acme__dns_txt_has(ldns_pkt_answer(reply), value);
        if (!has && ldns_pkt_get_rcode(reply) == LDNS_RCODE_NXDOMAIN)
            acme__buf_puts(&ns->answer, "NXDOMAIN");
        else if (!has)
            acme__buf_printf(&ns->answer, "%zu other TXT value%s",
                             ldns_rr_list_rr_count(ldns_pkt_answer(reply)),
                             ldns_rr_list_rr_count(ldns_pkt_answer(reply)) == 1 ? "" : "s");
    } else {
        acme__buf_puts(&ns->answer, acme__err_msg(&e));
    }
    ldns_pkt_free(reply);
    ldns_resolver_deep_free(r);
    acme__err_clear(&e);
    return has;
}

static int dns_check(const acme_challenge *ch, void *data, acme__err *err)
{
    const wait_conf *w = data;
    const char *name = acme_challenge_dns_txt_name(ch);
    const char *value = acme_challenge_dns_txt_value(ch);
    if (!name || !value)
        return acme__fail(err, ACME_ERR_UNSUPPORTED,
                          "dns wait: the %s challenge for %s has no TXT record to look for",
                          acme_challenge_type(ch), acme_challenge_identifier_value(ch));
    unsigned int interval = w->o.interval_ms ? w->o.interval_ms : DEFAULT_INTERVAL_MS;
    unsigned int timeout = w->o.timeout_ms ? w->o.timeout_ms : DEFAULT_TIMEOUT_MS;
    unsigned int qtmo = w->o.query_timeout_ms ? w->o.query_timeout_ms : DEFAULT_QUERY_TIMEOUT_MS;
    int64_t deadline = acme__mono_ms() + timeout;
    ldns_resolver *lookup = NULL;
    char *owner = NULL, *zone = NULL, *primary = NULL;
    nameserver *ns = NULL;
    size_t n = 0;
    int rc = acme__dns_lookup_new(&lookup, w->resolver, qtmo, err);
    if (rc == ACME_OK)
        rc = acme__dns_find_zone(lookup, name, &owner, &zone, &primary, err);
    if (rc == ACME_OK)
        rc = find_servers(lookup, zone, &ns, &n, err);
    if (rc != ACME_OK) {
        acme__err_prefix(err, "dns wait");
        goto out;
    }
    for (;;) {
        size_t missing = 0;
        for (size_t i = 0; i < n; i++)
            if (!ns[i].serves && !(ns[i].serves = ask(w, &ns[i], owner, value)))
                missing++;
        if (!missing)
            break;
        int64_t now = acme__mono_ms();
        if (now >= deadline) {
            acme__buf msg = ACME__BUF_INIT;
            for (size_t i = 0; i < n; i++)
                if (!ns[i].serves)
                    acme__buf_printf(&msg, "%s%s (%s): %s", msg.len ? "; " : "", ns[i].name,
                                     ns[i].addr, acme__buf_str(&ns[i].answer));
            rc = acme__fail(err, ACME_ERR_TIMEOUT,
                            "dns wait: after %u s, TXT \"%s\" at %s is not served by %zu of %zu "
                            "nameservers of %s: %s",
                            timeout / 1000, value, owner, missing, n, zone, acme__buf_str(&msg));
            acme__buf_free(&msg);
            break;
        }
        int64_t pause = deadline - now < interval ? deadline - now : interval;
        acme__sleep_ms(pause);
    }
out:
    servers_free(ns, n);
    ldns_resolver_deep_free(lookup);
    free(owner);
    free(zone);
    free(primary);
    return rc;
}

#else /* no ldns */

static int dns_check(const acme_challenge *ch, void *data, acme__err *err)
{
    return acme__fail(err, ACME_ERR_UNSUPPORTED,
                      "dns wait: this libacme was built without DNS support (ldns)");
}

#endif

int acme_solvers_add_dns_wait(acme_solvers *s, const acme_dns_wait_options *o)
{
    acme__err *err = s ? &s->err : NULL;
    if (!s)
        return acme__fail(err, ACME_ERR_INVALID, "dns wait: solvers are required");
    if (!acme_dns_available())
        return acme__fail(err, ACME_ERR_UNSUPPORTED,
                          "dns wait: unavailable, this libacme was built without DNS support "
                          "(ldns; meson -Ddns=enabled)");
    wait_conf *w = calloc(1, sizeof(*w));
    if (!w)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    int rc = acme__options_copy(&wait_versions, &w->o, sizeof(w->o), o, err);
    if (rc == ACME_OK && w->o.nameserver_port > 65535)
        rc = acme__fail(err, ACME_ERR_INVALID, "dns wait: port %u is out of range",
                        w->o.nameserver_port);
#ifdef ACME_HAVE_LDNS
    if (rc == ACME_OK && w->o.resolver) {
        char *h;
        unsigned int p;
        rc = acme__dns_hostport(w->o.resolver, ACME__DNS_PORT, "dns wait resolver", &h, &p, err);
        free(h);
    }
#endif
    if (rc == ACME_OK && w->o.resolver && !(w->resolver = acme__strdup(w->o.resolver)))
        rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    w->o.resolver = NULL; /* borrowed: only the copy is kept */
    if (rc != ACME_OK) {
        wait_conf_free(w);
        return rc;
    }
    static const char *const types[] = { "dns-01", "dns-account-01" };
    return acme__solvers_set_check(s, types, 2, dns_check, w, wait_conf_free);
}
