/* Keys in a token (PKCS#11): account and certificate keys acmectl never
 * sees, named by RFC 7512 URIs (examples/pkcs11/).
 *
 *   issue|ensure|renew ... --account-key pkcs11:URI
 *       the account signs with the token's key; the state dir keeps the
 *       account's URL but no account key file. The URI is remembered per CA
 *       (token-keys/account/CA) unless it carries the PIN: later runs at
 *       that CA sign with it without --account-key
 *   issue|ensure|renew ... --cert-key [NAME=]pkcs11:URI
 *       the certificate NAME (the only one of the run when NAME= is left
 *       out) gets the token's key: its CSR is signed in the token, and the
 *       state dir keeps the chain but no key file. The URI is remembered
 *       (token-keys/cert/NAME in the state dir) unless it carries the PIN
 *       itself (pin-value): later runs and `revoke NAME` find the key
 *       without --cert-key
 *   rollover [--account-key pkcs11:OLD] --new-key pkcs11:NEW
 *       the account of the token key OLD (by default the remembered one)
 *       switches to NEW, which is remembered from then on
 *   revoke --cert FILE --cert-key pkcs11:URI
 *       revocation signed by the certificate's key in the token
 *
 * Without p11-kit at build time (meson -Dpkcs11=disabled, or p11-kit
 * missing), every one of these is a usage error saying so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Store key of the token URI remembered as the account key at the CA of
 * directory: token-keys/account/CA, with CA named as the library names it
 * under accounts/. NULL when the library makes no account key of it. */
static char *remembered_account_key(const char *directory)
{
    static const char prefix[] = "token-keys/account/";
    char *acct = NULL;
    if (acme_store_account_key(directory, NULL, ACME_STORE_FILE_META, &acct) != ACME_OK)
        return NULL;
    const char *ca = strchr(acct, '/');
    const char *end = ca ? strchr(ca + 1, '/') : NULL;
    char *key = NULL;
    if (end) {
        size_t n = sizeof(prefix) + (size_t)(end - ca - 1);
        key = xcalloc(n, 1);
        snprintf(key, n, "%s%.*s", prefix, (int)(end - ca - 1), ca + 1);
    }
    acme_free(acct);
    return key;
}

/* Remember uri at store key `key` for `who`, unless it holds the PIN: the
 * state dir never keeps a PIN. A failure to remember only warns (the run
 * goes on; the next one needs `flag` again). */
static void remember(acme_store *store, const char *key, const char *who, const char *flag,
                     const char *uri)
{
    if (!store || !key)
        return;
    if (strstr(uri, "pin-value=")) {
        warn_msg("%s: the token URI is not remembered, as it holds the PIN (pin-value): give "
                 "%s again at each run, or use pin-source=file:PATH", who, flag);
        return;
    }
    char *old = NULL;
    size_t len = 0;
    int same = acme_store_get(store, key, &old, &len) == ACME_OK && len == strlen(uri) &&
               memcmp(old, uri, len) == 0;
    acme_free(old);
    if (!same && acme_store_put(store, key, uri, strlen(uri), 0) != ACME_OK)
        warn_msg("%s: cannot remember the token URI: %s", who, acme_store_last_error(store));
    else if (!same)
        detail("%s: the token key's URI is remembered for later runs", who);
}

/* The URI remembered at store key `key` (a new string), or NULL. */
static char *remembered_uri(acme_store *store, const char *key)
{
    if (!store || !key)
        return NULL;
    char *data = NULL;
    size_t len = 0;
    char *uri = NULL;
    if (acme_store_get(store, key, &data, &len) == ACME_OK) {
        uri = xcalloc(len + 1, 1);
        memcpy(uri, data, len);
    }
    acme_free(data);
    return uri;
}

/* The URI remembered for certificate name (a new string), or NULL. */
static char *remembered_cert_uri(acme_store *store, const char *name)
{
    char *key = remembered_key(name);
    char *uri = remembered_uri(store, key);
    free(key);
    return uri;
}

/* The account key URI remembered for directory (a new string), or NULL. */
static char *remembered_account_uri(acme_store *store, const char *directory)
{
    char *key = remembered_account_key(directory);
    char *uri = remembered_uri(store, key);
    free(key);
    return uri;
}

int token_account_remembered(const cli *c)
{
    if (!c->state_exists)
        return 0;
    char *key = remembered_account_key(c->directory);
    int found = 0;
    if (key && cli_store_remote(c)) {
        char *uri = remembered_uri(c->store, key);
        found = uri != NULL;
        free(uri);
    } else if (key) {
        char *path = cli_state_path(c, key);
        found = access(path, R_OK) == 0;
        free(path);
    }
    free(key);
    return found;
}

static void remember_account(acme_store *store, const char *directory, const char *uri)
{
    char *key = remembered_account_key(directory);
    remember(store, key, "--account-key", "--account-key", uri);
    free(key);
}

int token_remembered(acme_store *store, const char *name)
{
    char *uri = remembered_cert_uri(store, name);
    free(uri);
    return uri != NULL;
}

int token_use_remembered(acme_desire *d, acme_store *store, const char *name)
{
    char *uri = remembered_cert_uri(store, name);
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

int token_apply(const token_opts *t, acme_desire *d, acme_store *store, const char *directory)
{
    acme_key *key = NULL;
    int rc = EXIT_OK;
    /* Without --account-key: the token key an earlier run used at this CA. */
    char *remembered = t->account_key ? NULL : remembered_account_uri(store, directory);
    const char *account_uri = t->account_key ? t->account_key : remembered;
    const char *what = t->account_key ? "--account-key" : "the remembered token account key";
    if (account_uri && (rc = token_open_key(what, account_uri, &key)) == EXIT_OK) {
        if (acme_desire_set_account_key(d, key) != ACME_OK)
            rc = fail_with(what, acme_desire_last_error(d), NULL);
        else if (t->account_key)
            remember_account(store, directory, t->account_key);
        acme_key_free(key); /* the desire keeps its own reference */
    }
    free(remembered);
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
        char *slot = remembered_key(name);
        if (acme_desire_set_key(d, name, key) != ACME_OK)
            rc = fail_with(name, acme_desire_last_error(d), NULL);
        else
            remember(store, slot, name, "--cert-key", uri);
        free(slot);
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
    if (!new_uri)
        return usage_error("rollover between token keys needs --new-key pkcs11:NEW (and "
                           "--account-key pkcs11:OLD unless an earlier run remembered it; an "
                           "account key file rolls over without them)");
    if ((rc = cli_resolve(c)) != EXIT_OK || (rc = cli_open_store(c)) != EXIT_OK)
        return rc;
    char *remembered = old_uri ? NULL : remembered_account_uri(c->store, c->directory);
    if (!old_uri && !(old_uri = remembered))
        return usage_error("rollover: --account-key pkcs11:OLD is needed (no token account key "
                           "is remembered for %s)", c->directory);
    if ((rc = cli_open_provider(c)) != EXIT_OK) {
        free(remembered);
        return rc;
    }
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
        remember_account(c->store, c->directory, new_uri);
    }
    free(remembered);
    acme_account_free(account);
    acme_key_free(new_key);
    acme_key_free(old_key);
    return rc;
}
