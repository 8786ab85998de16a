/* Keys in a token (PKCS#11): account and certificate keys acmectl never
 * sees, named by RFC 7512 URIs (examples/pkcs11/).
 *
 *   issue|ensure|renew ... --account-key pkcs11:URI
 *       the account signs with the token's key; the state dir keeps the
 *       account's URL but no account key file
 *   issue|ensure|renew ... --cert-key [NAME=]pkcs11:URI
 *       the certificate NAME (the only one of the run when NAME= is left
 *       out) gets the token's key: its CSR is signed in the token, and the
 *       state dir keeps the chain but no key file. The URI is remembered
 *       (token-keys/cert/NAME in the state dir) unless it carries the PIN
 *       itself (pin-value): later runs and `revoke NAME` find the key
 *       without --cert-key
 *   rollover --account-key pkcs11:OLD --new-key pkcs11:NEW
 *       the account of the token key OLD switches to NEW
 *   revoke --cert FILE --cert-key pkcs11:URI
 *       revocation signed by the certificate's key in the token
 *
 * Without p11-kit at build time (meson -Dpkcs11=disabled, or p11-kit
 * missing), every one of these is a usage error saying so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmectl.h"
#include "p11uri.h"
#ifdef ACMECTL_PKCS11
#include "p11key.h"
#endif

const opt_spec token_options[] = {
    { "account-key", 0, 1, T_ACCOUNT_KEY },
    { "cert-key", 0, 1, T_CERT_KEY },
    { NULL, 0, 0, 0 },
};

int token_is_uri(const char *spec)
{
    return spec && strncmp(spec, "pkcs11:", 7) == 0;
}

/* Check a URI for `what` before anything is done: syntax, and that this
 * build can use it. */
static int check_uri(const char *what, const char *uri)
{
#ifndef ACMECTL_PKCS11
    (void)uri;
    return usage_error("%s: this acmectl was built without PKCS#11 support (build with p11-kit: "
                       "meson setup -Dpkcs11=enabled)", what);
#else
    char err[256];
    p11_uri u;
    if (p11_uri_parse(uri, &u, err, sizeof(err)) != 0)
        return usage_error("%s: %s", what, err);
    int type = u.type;
    p11_uri_free(&u);
    if (type != P11_TYPE_ANY && type != P11_TYPE_PRIVATE)
        return usage_error("%s: the URI must name a private key (type=private)", what);
    return EXIT_OK;
#endif
}

int token_opt(token_opts *t, int id, const char *value)
{
    if (id == T_ACCOUNT_KEY) {
        if (!token_is_uri(value))
            return usage_error("--account-key takes a pkcs11: URI, not \"%s\"", value);
        t->account_key = value;
        return check_uri("--account-key", value);
    }
    if (t->ncert_keys == TOKEN_MAX_CERT_KEYS)
        return usage_error("--cert-key: at most %d", TOKEN_MAX_CERT_KEYS);
    const char *uri = value;
    if (!token_is_uri(value)) {
        const char *eq = strchr(value, '=');
        if (!eq || !token_is_uri(eq + 1))
            return usage_error("--cert-key takes pkcs11:URI or NAME=pkcs11:URI, not \"%s\"", value);
        uri = eq + 1;
    }
    t->cert_key[t->ncert_keys++] = value;
    return check_uri("--cert-key", uri);
}

int token_open_key(const char *what, const char *spec, acme_key **out)
{
    *out = NULL;
    if (!token_is_uri(spec)) {
        if (acme_key_load_file(out, spec) != ACME_OK)
            return usage_error("%s %s: %s", what, spec, acme_last_error());
        return EXIT_OK;
    }
    int rc = check_uri(what, spec);
    if (rc != EXIT_OK)
        return rc;
#ifdef ACMECTL_PKCS11
    char err[512];
    if (p11_key_open(spec, out, err, sizeof(err)) != 0) {
        error_msg("%s: %s", what, err);
        return EXIT_FAIL;
    }
    detail("%s: a %s key in the token", what, acme_key_type_name(acme_key_get_type(*out)));
#endif
    return rc;
}

/* Store key of the token URI remembered for certificate name. */
static char *remembered_key(const char *name)
{
    static const char prefix[] = "token-keys/cert/";
    size_t n = sizeof(prefix) + strlen(name);
    char *key = xcalloc(n, 1);
    snprintf(key, n, "%s%s", prefix, name);
    return key;
}

/* Remember uri as name's certificate key, unless it holds the PIN: the
 * state dir never keeps a PIN. A failure to remember only warns (the
 * certificate is still issued; the next run needs --cert-key again). */
static void remember(acme_store *store, const char *name, const char *uri)
{
    if (!store)
        return;
    if (strstr(uri, "pin-value=")) {
        warn_msg("%s: the token URI is not remembered, as it holds the PIN (pin-value): give "
                 "--cert-key again at each run, or use pin-source=file:PATH", name);
        return;
    }
    char *key = remembered_key(name);
    char *old = NULL;
    size_t len = 0;
    int same = acme_store_get(store, key, &old, &len) == ACME_OK && len == strlen(uri) &&
               memcmp(old, uri, len) == 0;
    acme_free(old);
    if (!same && acme_store_put(store, key, uri, strlen(uri), 0) != ACME_OK)
        warn_msg("%s: cannot remember the token URI: %s", name, acme_store_last_error(store));
    else if (!same)
        detail("%s: the token key's URI is remembered for later runs", name);
    free(key);
}

/* The URI remembered for name (a new string), or NULL. */
static char *remembered_uri(acme_store *store, const char *name)
{
    if (!store)
        return NULL;
    char *key = remembered_key(name);
    char *data = NULL;
    size_t len = 0;
    char *uri = NULL;
    if (acme_store_get(store, key, &data, &len) == ACME_OK) {
        uri = xcalloc(len + 1, 1);
        memcpy(uri, data, len);
    }
    acme_free(data);
    free(key);
    return uri;
}

int token_remembered(acme_store *store, const char *name)
{
    char *uri = remembered_uri(store, name);
    free(uri);
    return uri != NULL;
}

int token_use_remembered(acme_desire *d, acme_store *store, const char *name)
{
    char *uri = remembered_uri(store, name);
    if (!uri)
        return EXIT_OK;
    char what[300];
    snprintf(what, sizeof(what), "%s: the remembered token key", name);
    acme_key *key = NULL;
    int rc = token_open_key(what, uri, &key);
    if (rc == EXIT_OK && acme_desire_set_key(d, name, key) != ACME_OK)
        rc = fail_with(name, acme_desire_last_error(d), NULL);
    acme_key_free(key);
    free(uri);
    return rc;
}

int token_apply(const token_opts *t, acme_desire *d, acme_store *store)
{
    acme_key *key = NULL;
    int rc = EXIT_OK;
    if (t->account_key && (rc = token_open_key("--account-key", t->account_key, &key)) == EXIT_OK) {
        if (acme_desire_set_account_key(d, key) != ACME_OK)
            rc = fail_with("--account-key", acme_desire_last_error(d), NULL);
        acme_key_free(key); /* the desire keeps its own reference */
    }
    for (size_t i = 0; rc == EXIT_OK && i < t->ncert_keys; i++) {
        const char *spec = t->cert_key[i], *uri = spec;
        char name[256];
        if (token_is_uri(spec)) {
            if (acme_desire_count(d) != 1)
                return usage_error("--cert-key %s: this run has %zu certificates; say which "
                                   "one gets the key (NAME=pkcs11:...)", spec,
                                   acme_desire_count(d));
            snprintf(name, sizeof(name), "%s", acme_desire_name(d, 0));
        } else {
            uri = strchr(spec, '=') + 1;
            snprintf(name, sizeof(name), "%.*s", (int)(uri - 1 - spec), spec);
        }
        int known = 0;
        for (size_t j = 0; j < acme_desire_count(d); j++)
            known |= strcmp(acme_desire_name(d, j), name) == 0;
        if (!known)
            return usage_error("--cert-key: no certificate called \"%s\" in this run", name);
        if ((rc = token_open_key("--cert-key", uri, &key)) != EXIT_OK)
            break;
        if (acme_desire_set_key(d, name, key) != ACME_OK)
            rc = fail_with(name, acme_desire_last_error(d), NULL);
        else
            remember(store, name, uri);
        acme_key_free(key);
    }
    /* The names not given a --cert-key: the token key of an earlier run. */
    for (size_t j = 0; rc == EXIT_OK && j < acme_desire_count(d); j++) {
        const char *name = acme_desire_name(d, j);
        int given = 0;
        for (size_t i = 0; i < t->ncert_keys && !given; i++) {
            const char *spec = t->cert_key[i];
            given = token_is_uri(spec) ||
                    (strncmp(spec, name, strlen(name)) == 0 && spec[strlen(name)] == '=');
        }
        if (!given)
            rc = token_use_remembered(d, store, name);
    }
    return rc;
}

/* ---- rollover between token keys -------------------------------------------------- */

enum { TR_NEW_KEY = 6100 };

static const opt_spec rollover_options[] = {
    { "new-key", 0, 1, TR_NEW_KEY },
    { NULL, 0, 0, 0 },
};

int token_rollover_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--account-key", 13) == 0 || strncmp(argv[i], "--new-key", 9) == 0)
            return 1;
    return 0;
}

int cmd_token_rollover(cli *c, int argc, char **argv)
{
    const opt_spec *const tables[] = { rollover_options, token_options, global_options, NULL };
    arg_parser p;
    args_init(&p, argc, argv, 1, 1);
    const char *v, *old_uri = NULL, *new_uri = NULL;
    int id, rc = EXIT_OK;
    while (rc == EXIT_OK && (id = args_next(&p, tables, &v)) != ARG_END) {
        if (id == ARG_ERROR)
            return EXIT_USAGE;
        if (id == ARG_POSITIONAL)
            return usage_error("rollover: unexpected argument \"%s\"", v);
        if (id == T_ACCOUNT_KEY || id == TR_NEW_KEY) {
            const char *what = id == T_ACCOUNT_KEY ? "--account-key" : "--new-key";
            if (!token_is_uri(v))
                return usage_error("%s takes a pkcs11: URI, not \"%s\"", what, v);
            rc = check_uri(what, v);
            *(id == T_ACCOUNT_KEY ? &old_uri : &new_uri) = v;
        } else if (id == T_CERT_KEY) {
            return usage_error("rollover: --cert-key has no use here");
        } else {
            rc = cli_global_option(c, id, v);
        }
    }
    if (rc != EXIT_OK)
        return rc;
    if (!old_uri || !new_uri)
        return usage_error("rollover between token keys needs --account-key pkcs11:OLD and "
                           "--new-key pkcs11:NEW (an account key file rolls over without them)");
    if ((rc = cli_resolve(c)) != EXIT_OK || (rc = cli_open_provider(c)) != EXIT_OK)
        return rc;
    acme_key *old_key = NULL, *new_key = NULL;
    acme_account *account = NULL;
    rc = token_open_key("--account-key", old_uri, &old_key);
    if (rc == EXIT_OK)
        rc = token_open_key("--new-key", new_uri, &new_key);
    /* onlyReturnExisting: a rollover must not register a new account. */
    if (rc == EXIT_OK && acme_account_lookup(&account, c->provider, old_key) != ACME_OK)
        rc = fail_with("rollover", acme_last_error(), acme_last_problem());
    if (rc == EXIT_OK && acme_account_rollover(account, new_key) != ACME_OK)
        rc = fail_with("rollover", acme_account_last_error(account),
                       acme_account_last_problem(account));
    if (rc == EXIT_OK) {
        /* Not the URI: it may carry the PIN. */
        say("account %s now signs with the new token key", acme_account_url(account));
        printf("%s\n", acme_account_url(account));
    }
    acme_account_free(account);
    acme_key_free(new_key);
    acme_key_free(old_key);
    return rc;
}
