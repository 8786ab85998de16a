/*
 * --store URL: where the state lives. A directory is the filesystem store,
 * as --state DIR. etcd://HOST:PORT[,HOST:PORT...]/PREFIX keeps it in etcd
 * (https to the members; etcd+http:// for members on loopback without
 * TLS), so that several nodes running renew/ensure share their names:
 * the library's leased, fenced locks keep any two from ordering the same
 * certificate. TLS and auth: --etcd-ca, --etcd-cert, --etcd-key,
 * --etcd-user, with the password in $ACMECTL_ETCD_PASSWORD (not on the
 * command line, where other users could read it). --etcd-lease-ttl sets
 * how long a node that stops answering keeps its names locked.
 *
 * With etcd, the state that commands read before opening the store (the
 * remembered settings, whether an account is stored, a certificate's
 * metadata) is read through the store, which is opened at once: opening
 * it creates nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acmectl.h"

#define ETCD_HTTPS "etcd://"
#define ETCD_HTTP "etcd+http://"

static int readable(const char *opt, const char *path)
{
    if (access(path, R_OK) != 0)
        return usage_error("--%s %s: %s", opt, path, strerror(errno));
    return EXIT_OK;
}

int cli_store_option(cli *c, int id, const char *value)
{
    switch (id) {
    case G_STORE:
        if (!*value)
            return usage_error("--store needs etcd://HOST:PORT[,HOST:PORT...]/PREFIX or a directory");
        if (strncmp(value, ETCD_HTTPS, strlen(ETCD_HTTPS)) == 0 ||
            strncmp(value, ETCD_HTTP, strlen(ETCD_HTTP)) == 0)
            c->store_url = value;
        else if (strstr(value, "://"))
            return usage_error("--store %s: only etcd:// and etcd+http:// URLs, or a directory",
                               value);
        else
            c->state_opt = value;
        return EXIT_OK;
    case G_ETCD_CA:
    case G_ETCD_CERT:
    case G_ETCD_KEY: {
        const char **slot = id == G_ETCD_CA     ? &c->etcd_ca
                            : id == G_ETCD_CERT ? &c->etcd_cert
                                                : &c->etcd_key;
        *slot = value;
        return readable(id == G_ETCD_CA ? "etcd-ca" : id == G_ETCD_CERT ? "etcd-cert" : "etcd-key",
                        value);
    }
    case G_ETCD_USER:
        c->etcd_user = value;
        return *value ? EXIT_OK : usage_error("--etcd-user needs a name");
    case G_ETCD_LEASE_TTL: {
        unsigned long ttl;
        if (parse_ulong(value, 5, 3600, &ttl) != 0)
            return usage_error("--etcd-lease-ttl needs seconds from 5 to 3600, not \"%s\"", value);
        c->etcd_lease_ttl = (unsigned int)ttl;
        return EXIT_OK;
    }
    }
    return usage_error("internal: unknown option");
}

int cli_store_remote(const cli *c)
{
    return c->store_url != NULL;
}

/* etcd[+http]://H:P,H:P/PREFIX into the store's endpoint list and prefix. */
static int parse_url(const char *url, char **endpoints, char **prefix)
{
    int plain = strncmp(url, ETCD_HTTP, strlen(ETCD_HTTP)) == 0;
    const char *hosts = url + strlen(plain ? ETCD_HTTP : ETCD_HTTPS);
    const char *slash = strchr(hosts, '/');
    size_t hlen = slash ? (size_t)(slash - hosts) : strlen(hosts);
    if (!hlen)
        return usage_error("--store %s: no HOST:PORT", url);
    size_t cap = hlen * 2 + 16;
    char *list = xcalloc(cap, 1);
    size_t n = 0;
    for (const char *p = hosts; p < hosts + hlen;) {
        const char *comma = memchr(p, ',', (size_t)(hosts + hlen - p));
        size_t len = comma ? (size_t)(comma - p) : (size_t)(hosts + hlen - p);
        n += (size_t)snprintf(list + n, cap - n, "%s%s%.*s", n ? "," : "",
                              plain ? "http://" : "https://", (int)len, p);
        p += len + (comma ? 1 : 0);
    }
    *endpoints = list;
    *prefix = xstrdup(slash && slash[1] ? slash + 1 : "");
    /* A trailing '/' names the same prefix. */
    size_t pl = strlen(*prefix);
    while (pl && (*prefix)[pl - 1] == '/')
        (*prefix)[--pl] = '\0';
    return EXIT_OK;
}

int cli_open_remote(cli *c)
{
    if (c->store)
        return EXIT_OK;
    char *endpoints = NULL, *prefix = NULL;
    int rc = parse_url(c->store_url, &endpoints, &prefix);
    if (rc != EXIT_OK)
        return rc;
    acme_etcd_options o;
    acme_etcd_options_init(&o, ACME_ETCD_OPTIONS_VERSION);
    o.endpoints = endpoints;
    o.prefix = prefix;
    o.ca_bundle = c->etcd_ca;
    o.client_cert = c->etcd_cert;
    o.client_key = c->etcd_key;
    o.username = c->etcd_user;
    o.password = c->etcd_user ? getenv("ACMECTL_ETCD_PASSWORD") : NULL;
    o.lease_ttl_s = c->etcd_lease_ttl;
    if (acme_store_new_etcd(&c->store, &o) != ACME_OK) {
        error_msg("store %s: %s", c->store_url, acme_last_error());
        rc = EXIT_FAIL;
    } else {
        detail("store %s", c->store_url);
        c->state_exists = 1;
    }
    free(endpoints);
    free(prefix);
    return rc;
}

char *cli_store_read(const cli *c, const char *key)
{
    if (!c->store)
        return NULL;
    char *data = NULL;
    size_t len = 0;
    if (acme_store_get(c->store, key, &data, &len) != ACME_OK)
        return NULL;
    char *copy = xstrdup(data);
    acme_free(data);
    return copy;
}

int cli_cert_stored(const cli *c, const char *name)
{
    if (!cli_store_remote(c)) {
        char *meta = cli_cert_file(c, name, ACME_STORE_FILE_META);
        int stored = meta && access(meta, F_OK) == 0;
        free(meta);
        return stored;
    }
    char *key = NULL;
    if (acme_store_cert_key(name, ACME_STORE_FILE_META, &key) != ACME_OK)
        return 0;
    char *v = cli_store_read(c, key);
    acme_free(key);
    free(v);
    return v != NULL;
}

char *cli_store_account_json(const cli *c, const char *email)
{
    char *key = NULL, *json = NULL;
    if (acme_store_account_key(c->directory, email, ACME_STORE_FILE_KEY, &key) == ACME_OK) {
        char *pem = cli_store_read(c, key);
        if (pem) {
            memset(pem, 0, strlen(pem));
            free(pem);
            acme_free(key);
            key = NULL;
            if (acme_store_account_key(c->directory, email, ACME_STORE_FILE_META, &key) == ACME_OK)
                json = cli_store_read(c, key);
        }
    }
    acme_free(key);
    return json;
}

char *cli_store_location(const cli *c, const char *key)
{
    if (!cli_store_remote(c)) {
        char *path = NULL;
        if (acme_store_path(c->store, key, &path) != ACME_OK)
            return NULL;
        char *copy = xstrdup(path);
        acme_free(path);
        return copy;
    }
    size_t n = strlen(c->store_url) + strlen(key) + 2;
    char *where = xcalloc(n, 1);
    snprintf(where, n, "%s%s%s", c->store_url,
             c->store_url[strlen(c->store_url) - 1] == '/' ? "" : "/", key);
    return where;
}

/* Where the new key waits while the CA switches (the filesystem rollover
 * keeps it at the same key). */
#define SIDE_KEY "acmectl-rollover-key.pem"

int cli_store_rollover(cli *c, acme_account *account, const char *stored_as)
{
    acme_key *old = acme_account_key(account), *fresh = NULL;
    int type = c->key_type ? c->key_type : acme_key_get_type(old);
    char *key = NULL, *pem = NULL;
    int rc = EXIT_OK;
    if (acme_store_account_key(c->directory, stored_as, ACME_STORE_FILE_KEY, &key) != ACME_OK ||
        acme_key_generate(&fresh, type) != ACME_OK || acme_key_to_pem(fresh, &pem) != ACME_OK ||
        acme_store_put(c->store, SIDE_KEY, pem, strlen(pem), 1) != ACME_OK)
        rc = fail_with("rollover", acme_last_error(), NULL);
    else if (acme_account_rollover(account, fresh) != ACME_OK)
        rc = fail_with("rollover", acme_account_last_error(account),
                       acme_account_last_problem(account));
    else if (acme_store_put(c->store, key, pem, strlen(pem), 1) != ACME_OK) {
        error_msg("rollover: the CA switched to the new key but %s could not be replaced "
                  "(%s); the new key is in %s/%s: move it there", key,
                  acme_store_last_error(c->store), c->store_url, SIDE_KEY);
        rc = EXIT_FAIL;
    }
    /* The side copy goes once it is not the only one (the store API
     * replaces values; an empty one holds no key). */
    if (rc == EXIT_OK || !fresh || !pem)
        acme_store_put(c->store, SIDE_KEY, "", 0, 1);
    if (rc == EXIT_OK) {
        say("account %s now signs with a new %s key (%s)", acme_account_url(account),
            acme_key_type_name(type), key);
        printf("%s\n", acme_account_url(account));
    }
    if (pem)
        memset(pem, 0, strlen(pem));
    acme_free(pem);
    acme_free(key);
    acme_key_free(fresh);
    return rc;
}
