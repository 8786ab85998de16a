/**
 * @file
 * libacme: DNS built in, for dns-01 (RFC 8555 8.4) and dns-account-01.
 *
 *  - acme_solvers_add_dns_update(): a solver that adds the TXT record by
 *    DNS dynamic update (RFC 2136) signed with TSIG (RFC 8945), and removes
 *    exactly its own value again at cleanup. A wildcard and its base name
 *    share one TXT name: each value is added next to the others, never in
 *    their place.
 *  - acme_solvers_add_dns_wait(): the propagation check. Before the CA is
 *    told to look, it finds the zone's authoritative nameservers (NS) and
 *    asks each one directly, with recursion off and no caching resolver in
 *    between, until every one serves the value; a timeout names the server
 *    that does not. It serves every DNS solver of a set: the built-in one
 *    and a host's own callbacks alike.
 *
 * Both need the library built with the `dns` feature (ldns); without it
 * acme_dns_available() is 0 and the calls fail with ACME_ERR_UNSUPPORTED
 * and a message that says so.
 *
 * Delegation: a name whose "_acme-challenge" label is a CNAME into another
 * zone (one that accepts updates) is followed: the record is added at the
 * CNAME's target, in the target's zone, and the check asks that zone's
 * servers.
 */
#ifndef ACME_DNS_H
#define ACME_DNS_H

#include "solver.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * 1 when this library was built with DNS support (the update solver and
 * the propagation check), else 0. Since 1.0.
 */
ACME_API int acme_dns_available(void);

/** The newest version of acme_dns_update_options. */
#define ACME_DNS_UPDATE_OPTIONS_VERSION 1

/**
 * How the update solver reaches the zone. Initialise with
 * acme_dns_update_options_init() (or ACME_DNS_UPDATE_OPTIONS_INIT); fields
 * are only ever appended. Strings are borrowed during
 * acme_solvers_add_dns_update(), which copies them.
 */
typedef struct acme_dns_update_options {
    unsigned int version; /**< ACME_DNS_UPDATE_OPTIONS_VERSION */
    /** The primary server to send updates to: an IP address or a host
     *  name. NULL: the zone's primary from its SOA record (MNAME). */
    const char *server;
    /** Its port; 0 means 53. */
    unsigned int port;
    /** TSIG key name, e.g. "acme-key" (required). */
    const char *tsig_name;
    /** TSIG algorithm: "hmac-sha256" (NULL means this) or "hmac-sha512". */
    const char *tsig_algorithm;
    /** The TSIG secret, base64 as in a BIND or Knot key file (required). */
    const char *tsig_secret;
    /** The zone to update, e.g. "example.com". NULL: found from the SOA
     *  of the record name. */
    const char *zone;
    /** Where SOA, NS, CNAME and address queries go: "HOST" or "HOST:PORT"
     *  ("[v6]:PORT" for IPv6), an address. NULL: the system's resolvers
     *  (/etc/resolv.conf). */
    const char *resolver;
    /** Time for each DNS exchange in milliseconds; 0 means 5000. */
    unsigned int timeout_ms;
    /** TTL of the added TXT record in seconds; 0 means 60. */
    unsigned int ttl;
    /** The challenge types to answer, in order of preference: "dns-01",
     *  "dns-account-01" (the record name differs, the update is the same).
     *  NULL (or `type_count` 0): both, dns-01 first. The strings are read
     *  during the call only. */
    const char *const *types;
    size_t type_count; /**< entries in `types` */
} acme_dns_update_options;

/** Static initialiser of the newest version. */
#define ACME_DNS_UPDATE_OPTIONS_INIT { .version = ACME_DNS_UPDATE_OPTIONS_VERSION }

/**
 * Zero `o` as far as `version` reaches and store the version.
 * Errors: ACME_ERR_INVALID for NULL, 0 or a version newer than this
 * library's. Since 1.0.
 */
ACME_API int acme_dns_update_options_init(acme_dns_update_options *o, unsigned int version);

/**
 * Add the RFC 2136 update solver to `s` for the types of `o->types`, in
 * that order of preference (default: "dns-01", then "dns-account-01", a
 * type the CA may offer; the solver takes the record's name and value from
 * the challenge view). Present adds
 * "<name> TTL IN TXT <value>" with a TSIG-signed update (values already
 * there stay); cleanup deletes that one value. The solver has no wait of
 * its own: add acme_solvers_add_dns_wait() after it to check propagation.
 * Options are copied (the secret is wiped when the set goes). A present
 * that fails records why on the order (acme_order_last_error()): a refused
 * TSIG key names the key and the server.
 * Errors (recorded on `s`): ACME_ERR_INVALID (NULL, no key name or
 * secret, an unknown algorithm, a secret that is not base64, a bad
 * resolver address, a type other than those two or one given twice), ACME_ERR_UNSUPPORTED (built without DNS support),
 * ACME_ERR_NOMEM. Threads: as for acme_solvers_add(); the solver itself
 * may serve orders on several threads. Since 1.0.
 */
ACME_API int acme_solvers_add_dns_update(acme_solvers *s, const acme_dns_update_options *o);

/**
 * Read a TSIG key file in BIND's format, as `nsupdate -k` and Knot's
 * `keymgr` write it:
 *   key "name" { algorithm hmac-sha256; secret "base64..."; };
 * (the first key block of the file; comments with #, // and C style).
 * On success `*name`, `*algorithm` and `*secret` are new strings for
 * acme_free(); wipe the secret before freeing it if that matters. On
 * failure all three are NULL and the message (acme_last_error()) names the
 * file and what is wrong. Errors: ACME_ERR_INVALID (NULL arguments),
 * ACME_ERR_IO (unreadable), ACME_ERR_KEY_FORMAT (not such a key, an
 * algorithm other than hmac-sha256/hmac-sha512, a secret that is not
 * base64), ACME_ERR_NOMEM. Thread-safe. Since 1.0.
 */
ACME_API int acme_tsig_key_parse_file(const char *path, char **name, char **algorithm,
                                      char **secret);

/** The newest version of acme_dns_wait_options. */
#define ACME_DNS_WAIT_OPTIONS_VERSION 1

/**
 * How the propagation check looks. Initialise with
 * acme_dns_wait_options_init(); fields are only ever appended.
 */
typedef struct acme_dns_wait_options {
    unsigned int version; /**< ACME_DNS_WAIT_OPTIONS_VERSION */
    /** Pause between rounds in milliseconds; 0 means 2000. */
    unsigned int interval_ms;
    /** Give up after this many milliseconds; 0 means 120000. */
    unsigned int timeout_ms;
    /** Where SOA, NS, CNAME and address queries go, as in
     *  acme_dns_update_options.resolver; NULL: the system's resolvers.
     *  The TXT queries themselves always go to each authoritative server. */
    const char *resolver;
    /** The port the authoritative servers are asked on; 0 means 53. */
    unsigned int nameserver_port;
    /** Time for each DNS exchange in milliseconds; 0 means 3000. */
    unsigned int query_timeout_ms;
} acme_dns_wait_options;

/** Static initialiser of the newest version. */
#define ACME_DNS_WAIT_OPTIONS_INIT { .version = ACME_DNS_WAIT_OPTIONS_VERSION }

/**
 * Zero `o` as far as `version` reaches and store the version.
 * Errors: ACME_ERR_INVALID. Since 1.0.
 */
ACME_API int acme_dns_wait_options_init(acme_dns_wait_options *o, unsigned int version);

/**
 * Give every "dns-01" and "dns-account-01" solver in `s` the propagation
 * check, the host's solvers (acme_solvers_add()) included: after all
 * answers of an order are presented (and after a host's own wait), the
 * order blocks until each authoritative server of the record's zone
 * serves the challenge's value, then lets the CA validate. A timeout
 * fails the order with ACME_ERR_TIMEOUT and a message naming the record,
 * the value and each server that lacks it (acme_order_last_error()).
 * Solvers added to `s` later are not covered: call this last. `o` NULL
 * gives the defaults; options are copied. Errors (recorded on `s`):
 * ACME_ERR_INVALID, ACME_ERR_UNSUPPORTED (built without DNS support),
 * ACME_ERR_NOMEM. Threads: as for acme_solvers_add(). Since 1.0.
 */
ACME_API int acme_solvers_add_dns_wait(acme_solvers *s, const acme_dns_wait_options *o);

#ifdef __cplusplus
}
#endif

#endif
