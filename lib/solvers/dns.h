/* What the DNS solver and the propagation check share (ldns builds only):
 * reaching a server by address, finding the zone that holds a name, and
 * the addresses of a host. */
#ifndef ACME_LIB_DNS_H
#define ACME_LIB_DNS_H

#include <ldns/ldns.h>

#include "base/error.h"

/* The port DNS servers listen on (RFC 1035 4.2). */
#define ACME__DNS_PORT 53

/* Split "HOST", "HOST:PORT" or "[V6]:PORT" into a new host string and a
 * port (default_port when none is given). ACME_ERR_INVALID names `what`. */
int acme__dns_hostport(const char *text, unsigned int default_port, const char *what,
                       char **host, unsigned int *port, acme__err *err);

/* A resolver that asks `host` (an address, or a name the system resolves)
 * on `port`, UDP with TCP after a truncated reply. `recursive` sets RD:
 * off when asking an authoritative server about its own zone. */
int acme__dns_server_new(ldns_resolver **out, const char *host, unsigned int port,
                         unsigned int timeout_ms, int recursive, acme__err *err);

/* The resolver for SOA, NS, CNAME and address queries: "HOST[:PORT]", or
 * the system's (/etc/resolv.conf) when spec is NULL. */
int acme__dns_lookup_new(ldns_resolver **out, const char *spec, unsigned int timeout_ms,
                         acme__err *err);

/* Ask r about name/type (RD as r is set). NOERROR and NXDOMAIN replies are
 * returned (the caller frees them); other rcodes and no answer fail with a
 * message naming the server, the name and the type. */
int acme__dns_query(ldns_resolver *r, const char *name, ldns_rr_type type, ldns_pkt **reply,
                    acme__err *err);

/* Where the record `name` really lives: `*owner` is name after following
 * CNAMEs (delegation of _acme-challenge), `*zone` the zone that holds it
 * and `*primary` the zone's SOA MNAME (each without the final dot, new
 * strings). */
int acme__dns_find_zone(ldns_resolver *r, const char *name, char **owner, char **zone,
                        char **primary, acme__err *err);

/* The IPv4 and IPv6 addresses of `host` as text (a new array of new
 * strings), from the additional section of `hint` when it has them, else
 * from A and AAAA queries to r; an address given as host is itself. */
int acme__dns_addresses(ldns_resolver *r, const char *host, const ldns_pkt *hint,
                        char ***out, size_t *n, acme__err *err);

/* A new string of an rdf as text, without a final dot for names. */
char *acme__dns_rdf_text(const ldns_rdf *rdf);

/* Non-zero when the TXT RRs of `list` owned by anything include `value`
 * as the joined character strings of one record. */
int acme__dns_txt_has(const ldns_rr_list *list, const char *value);

#endif
