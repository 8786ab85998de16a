/* The DNS pieces the update solver and the propagation check share, on
 * ldns: servers by address, the zone of a name from its SOA, host
 * addresses. */
#include "solvers/dns.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/mem.h"

/* CNAMEs followed from _acme-challenge before giving up on a loop. */
#define MAX_CNAMES 8

int acme__dns_hostport(const char *text, unsigned int default_port, const char *what,
                       char **host, unsigned int *port, acme__err *err)
{
    *host = NULL;
    *port = default_port;
    if (!text || !*text)
        return acme__fail(err, ACME_ERR_INVALID, "%s: empty address", what);
    const char *h = text, *colon = NULL;
    size_t hlen;
    if (*text == '[') {
        const char *close = strchr(text, ']');
        if (!close || (close[1] && close[1] != ':'))
            return acme__fail(err, ACME_ERR_INVALID, "%s: \"%s\" is not [ADDRESS]:PORT", what,
                              text);
        h = text + 1;
        hlen = (size_t)(close - h);
        colon = close[1] ? close + 1 : NULL;
    } else {
        colon = strchr(text, ':');
        if (colon && strchr(colon + 1, ':'))
            colon = NULL; /* a bare IPv6 address */
        hlen = colon ? (size_t)(colon - text) : strlen(text);
    }
    if (!hlen)
        return acme__fail(err, ACME_ERR_INVALID, "%s: \"%s\" has no host", what, text);
    if (colon) {
        char *end;
        unsigned long p = strtoul(colon + 1, &end, 10);
        if (!colon[1] || *end || p < 1 || p > 65535)
            return acme__fail(err, ACME_ERR_INVALID, "%s: \"%s\" has no valid port", what, text);
        *port = (unsigned int)p;
    }
    *host = acme__strndup(h, hlen);
    return *host ? ACME_OK : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
}

static void settle(ldns_resolver *r, unsigned int port, unsigned int timeout_ms, int recursive)
{
    struct timeval tv = { (time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000 };
    ldns_resolver_set_port(r, (uint16_t)port);
    ldns_resolver_set_timeout(r, tv);
    ldns_resolver_set_retry(r, 1);
    ldns_resolver_set_recursive(r, recursive != 0);
    ldns_resolver_set_fallback(r, true);
    ldns_resolver_set_random(r, false);
}

/* Push one address (text) onto r; 0 when it is not an address. */
static int push_address(ldns_resolver *r, const char *ip)
{
    unsigned char bin[16];
    ldns_rdf *a = NULL;
    if (inet_pton(AF_INET, ip, bin) == 1)
        a = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, ip);
    else if (inet_pton(AF_INET6, ip, bin) == 1)
        a = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_AAAA, ip);
    if (!a)
        return 0;
    ldns_status st = ldns_resolver_push_nameserver(r, a);
    ldns_rdf_deep_free(a);
    return st == LDNS_STATUS_OK;
}

int acme__dns_server_new(ldns_resolver **out, const char *host, unsigned int port,
                         unsigned int timeout_ms, int recursive, acme__err *err)
{
    *out = ldns_resolver_new();
    if (!*out)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    settle(*out, port, timeout_ms, recursive);
    if (push_address(*out, host))
        return ACME_OK;
    /* A host name: its addresses from the system, as for any other host. */
    struct addrinfo hints = { 0 }, *res = NULL;
    hints.ai_socktype = SOCK_DGRAM;
    int grc = getaddrinfo(host, NULL, &hints, &res);
    size_t pushed = 0;
    for (struct addrinfo *ai = grc == 0 ? res : NULL; ai; ai = ai->ai_next) {
        char ip[INET6_ADDRSTRLEN];
        const void *src = ai->ai_family == AF_INET
                              ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                              : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
            inet_ntop(ai->ai_family, src, ip, sizeof(ip)) && push_address(*out, ip))
            pushed++;
    }
    if (res)
        freeaddrinfo(res);
    if (pushed)
        return ACME_OK;
    ldns_resolver_deep_free(*out);
    *out = NULL;
    return acme__fail(err, ACME_ERR_NETWORK, "dns: cannot resolve the server %s: %s", host,
                      grc ? gai_strerror(grc) : "no address");
}

int acme__dns_lookup_new(ldns_resolver **out, const char *spec, unsigned int timeout_ms,
                         acme__err *err)
{
    if (spec) {
        char *host;
        unsigned int port;
        int rc = acme__dns_hostport(spec, ACME__DNS_PORT, "dns resolver", &host, &port, err);
        if (rc == ACME_OK)
            rc = acme__dns_server_new(out, host, port, timeout_ms, 1, err);
        free(host);
        return rc;
    }
    ldns_status st = ldns_resolver_new_frm_file(out, NULL);
    if (st != LDNS_STATUS_OK) {
        *out = NULL;
        return acme__fail(err, ACME_ERR_NETWORK, "dns: cannot read the system's resolvers: %s",
                          ldns_get_errorstr_by_id(st));
    }
    struct timeval tv = { (time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000 };
    ldns_resolver_set_timeout(*out, tv);
    ldns_resolver_set_retry(*out, 2);
    return ACME_OK;
}

char *acme__dns_rdf_text(const ldns_rdf *rdf)
{
    char *s = rdf ? ldns_rdf2str(rdf) : NULL;
    if (!s)
        return NULL;
    size_t n = strlen(s);
    if (ldns_rdf_get_type(rdf) == LDNS_RDF_TYPE_DNAME && n > 1 && s[n - 1] == '.')
        s[n - 1] = '\0';
    /* ldns allocates with malloc, so the caller's free() is right. */
    return s;
}

static const char *type_name(ldns_rr_type t)
{
    switch (t) {
    case LDNS_RR_TYPE_SOA: return "SOA";
    case LDNS_RR_TYPE_NS: return "NS";
    case LDNS_RR_TYPE_A: return "A";
    case LDNS_RR_TYPE_AAAA: return "AAAA";
    case LDNS_RR_TYPE_TXT: return "TXT";
    default: return "?";
    }
}

/* A query to r; the failure message names the name, type and why. */
int acme__dns_query(ldns_resolver *r, const char *name, ldns_rr_type type, ldns_pkt **reply,
                    acme__err *err)
{
    *reply = NULL;
    ldns_rdf *dn = ldns_dname_new_frm_str(name);
    if (!dn)
        return acme__fail(err, ACME_ERR_INVALID, "dns: \"%s\" is not a domain name", name);
    ldns_status st = ldns_resolver_send(reply, r, dn, type, LDNS_RR_CLASS_IN,
                                        ldns_resolver_recursive(r) ? LDNS_RD : 0);
    ldns_rdf_deep_free(dn);
    if (st != LDNS_STATUS_OK || !*reply) {
        ldns_pkt_free(*reply);
        *reply = NULL;
        char *ns = ldns_resolver_nameserver_count(r)
                       ? acme__dns_rdf_text(ldns_resolver_nameservers(r)[0])
                       : NULL;
        int rc = acme__fail(err, ACME_ERR_NETWORK, "dns: no answer from %s port %u for %s %s: %s",
                            ns ? ns : "the resolver", (unsigned int)ldns_resolver_port(r), name,
                            type_name(type), ldns_get_errorstr_by_id(st));
        free(ns);
        return rc;
    }
    ldns_pkt_rcode rcode = ldns_pkt_get_rcode(*reply);
    if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
        ldns_lookup_table *t = ldns_lookup_by_id(ldns_rcodes, (int)rcode);
        ldns_pkt_free(*reply);
        *reply = NULL;
        return acme__fail(err, ACME_ERR_NETWORK, "dns: %s %s query failed: %s", name,
                          type_name(type), t ? t->name : "error");
    }
    return ACME_OK;
}

/* The first RR of `type` in `list` owned by `owner` (NULL: any owner). */
static ldns_rr *find_rr(const ldns_rr_list *list, const ldns_rdf *owner, ldns_rr_type type)
{
    for (size_t i = 0; list && i < ldns_rr_list_rr_count(list); i++) {
        ldns_rr *rr = ldns_rr_list_rr(list, i);
        if (ldns_rr_get_type(rr) == type &&
            (!owner || ldns_dname_compare(ldns_rr_owner(rr), owner) == 0))
            return rr;
    }
    return NULL;
}

int acme__dns_find_zone(ldns_resolver *r, const char *name, char **owner, char **zone,
                        char **primary, acme__err *err)
{
    *owner = *zone = *primary = NULL;
    char *cur = acme__strdup(name);
    if (!cur)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    int rc = ACME_OK;
    for (int hops = 0; rc == ACME_OK; hops++) {
        ldns_pkt *reply;
        rc = acme__dns_query(r, cur, LDNS_RR_TYPE_SOA, &reply, err);
        if (rc != ACME_OK)
            break;
        ldns_rdf *dn = ldns_dname_new_frm_str(cur);
        ldns_rr *cname = dn ? find_rr(ldns_pkt_answer(reply), dn, LDNS_RR_TYPE_CNAME) : NULL;
        ldns_rr *soa = find_rr(ldns_pkt_answer(reply), dn, LDNS_RR_TYPE_SOA);
        ldns_rdf_deep_free(dn);
        if (cname) {
            /* Delegated: the record goes where the CNAME points. */
            char *next = acme__dns_rdf_text(ldns_rr_rdf(cname, 0));
            free(cur);
            cur = next;
            ldns_pkt_free(reply);
            if (!cur)
                rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
            else if (hops == MAX_CNAMES)
                rc = acme__fail(err, ACME_ERR_NETWORK,
                                "dns: more than %d CNAMEs from %s; a loop?", MAX_CNAMES, name);
            continue;
        }
        if (!soa)
            soa = find_rr(ldns_pkt_authority(reply), NULL, LDNS_RR_TYPE_SOA);
        if (!soa) {
            ldns_pkt_free(reply);
            rc = acme__fail(err, ACME_ERR_NETWORK,
                            "dns: no SOA record for %s or a zone above it: is the name in DNS?",
                            cur);
            break;
        }
        *zone = acme__dns_rdf_text(ldns_rr_owner(soa));
        *primary = acme__dns_rdf_text(ldns_rr_rdf(soa, 0));
        ldns_pkt_free(reply);
        if (!*zone || !*primary)
            rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
        break;
    }
    if (rc != ACME_OK) {
        free(cur);
        free(*zone);
        free(*primary);
        *zone = *primary = NULL;
        return rc;
    }
    *owner = cur;
    return ACME_OK;
}

static int add_text(char ***v, size_t *n, char *s)
{
    if (!s)
        return ACME_ERR_NOMEM;
    char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (!nv) {
        free(s);
        return ACME_ERR_NOMEM;
    }
    *v = nv;
    (*v)[(*n)++] = s;
    return ACME_OK;
}

/* Append the A and AAAA data of `list` owned by dn. */
static int take_addresses(const ldns_rr_list *list, const ldns_rdf *dn, char ***v, size_t *n)
{
    for (size_t i = 0; list && i < ldns_rr_list_rr_count(list); i++) {
        ldns_rr *rr = ldns_rr_list_rr(list, i);
        ldns_rr_type t = ldns_rr_get_type(rr);
        if ((t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_AAAA) &&
            ldns_dname_compare(ldns_rr_owner(rr), dn) == 0 &&
            add_text(v, n, acme__dns_rdf_text(ldns_rr_rdf(rr, 0))) != ACME_OK)
            return ACME_ERR_NOMEM;
    }
    return ACME_OK;
}

int acme__dns_addresses(ldns_resolver *r, const char *host, const ldns_pkt *hint, char ***out,
                        size_t *n, acme__err *err)
{
    *out = NULL;
    *n = 0;
    unsigned char bin[16];
    if (inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1) {
        if (add_text(out, n, acme__strdup(host)) != ACME_OK)
            return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
        return ACME_OK;
    }
    ldns_rdf *dn = ldns_dname_new_frm_str(host);
    if (!dn)
        return acme__fail(err, ACME_ERR_INVALID, "dns: \"%s\" is not a host name", host);
    int rc = hint ? take_addresses(ldns_pkt_additional(hint), dn, out, n) : ACME_OK;
    static const ldns_rr_type types[] = { LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA };
    for (size_t i = 0; rc == ACME_OK && !*n && i < 2; i++) {
        ldns_pkt *reply;
        acme__err quiet = ACME__ERR_QUIET;
        if (acme__dns_query(r, host, types[i], &reply, &quiet) == ACME_OK) {
            rc = take_addresses(ldns_pkt_answer(reply), dn, out, n);
            ldns_pkt_free(reply);
        }
        acme__err_clear(&quiet);
    }
    ldns_rdf_deep_free(dn);
    if (rc != ACME_OK) {
        acme__free_strv(*out, *n);
        *out = NULL;
        *n = 0;
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    }
    if (!*n)
        return acme__fail(err, ACME_ERR_NETWORK, "dns: no address for the nameserver %s", host);
    return ACME_OK;
}

int acme__dns_txt_has(const ldns_rr_list *list, const char *value)
{
    size_t vlen = strlen(value);
    for (size_t i = 0; list && i < ldns_rr_list_rr_count(list); i++) {
        ldns_rr *rr = ldns_rr_list_rr(list, i);
        if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT)
            continue;
        /* One record may split its text into several strings: join them. */
        acme__buf joined = ACME__BUF_INIT;
        for (size_t j = 0; j < ldns_rr_rd_count(rr); j++) {
            const ldns_rdf *f = ldns_rr_rdf(rr, j);
            const uint8_t *d = ldns_rdf_data(f);
            size_t sz = ldns_rdf_size(f);
            if (sz >= 1 && (size_t)d[0] + 1 <= sz)
                acme__buf_append(&joined, d + 1, d[0]);
        }
        int same = joined.len == vlen && memcmp(acme__buf_str(&joined), value, vlen) == 0;
        acme__buf_free(&joined);
        if (same)
            return 1;
    }
    return 0;
}
