/* revoke: RFC 8555 section 7.6.
 *
 *   acmectl revoke NAME [--reason R] [--with-cert-key]
 *       the stored certificate NAME, signed by the account key (or by the
 *       certificate's own key: in a token, the one issue remembered); the
 *       store records it and the next ensure or renew that still wants
 *       NAME orders a replacement
 *   acmectl revoke --cert FILE [--cert-key FILE] [--reason R]
 *       any certificate: signed by its own key with --cert-key (no account
 *       and no state dir needed), else by the account key; with --cert-key
 *       and keyCompromise the key is recorded as compromised in the state
 *       dir */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "acmectl.h"

enum { R_REASON = 4000, R_CERT, R_CERT_KEY, R_WITH_CERT_KEY, R_EMAIL };

/* RFC 5280 5.3.1 CRLReason codes run to aACompromise (10); 7 is unused. */
#define REASON_MAX 10
#define REASON_UNUSED 7
/* Largest certificate file read: a chain is a few kilobytes. */
#define CERT_FILE_MAX (1024 * 1024)

static const opt_spec revoke_options[] = {
    { "reason", 0, 1, R_REASON },
    { "cert", 0, 1, R_CERT },
    { "cert-key", 0, 1, R_CERT_KEY },
    { "with-cert-key", 0, 0, R_WITH_CERT_KEY },
    { "email", 0, 1, R_EMAIL },
    { NULL, 0, 0, 0 },
};

static const struct {
    const char *name;
    int code;
} reasons[] = {
    { "unspecified", 0 },           { "keycompromise", 1 },       { "cacompromise", 2 },
    { "affiliationchanged", 3 },    { "superseded", 4 },          { "cessationofoperation", 5 },
    { "certificatehold", 6 },       { "removefromcrl", 8 },       { "privilegewithdrawn", 9 },
    { "aacompromise", 10 },
};

int parse_reason(const char *s)
{
    unsigned long n;
    if (parse_ulong(s, 0, REASON_MAX, &n) == 0)
        return n == REASON_UNUSED ? -1 : (int)n;
    char folded[64];
    size_t k = 0;
    for (const char *p = s; *p && k + 1 < sizeof(folded); p++)
        if (*p != '-' && *p != '_')
            folded[k++] = *p;
    folded[k] = '\0';
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (strcasecmp(folded, reasons[i].name) == 0)
            return reasons[i].code;
    return -1;
}

/* Record the key as compromised in the state dir, whatever the CA then
 * answers (a refusal makes the key no safer): `issue --csr` refuses it
 * from then on, as ensure and renew refuse the keys they revoked. */
static int record_compromised(cli *c, const acme_key *key, const char *serial)
{
    char *tp = NULL;
    int rc = cli_open_store(c);
    if (rc != EXIT_OK)
        return rc;
    if (acme_key_thumbprint(key, &tp) != ACME_OK ||
        acme_store_mark_key_compromised(c->store, tp, serial) != ACME_OK) {
        error_msg("recording the key as compromised: %s",
                  tp ? acme_store_last_error(c->store) : acme_key_last_error(key));
        rc = EXIT_FAIL;
    } else {
        say("key %s recorded as compromised in %s", tp, c->state_dir);
    }
    acme_free(tp);
    return rc;
}

static int revoke_file(cli *c, const char *email_opt, const char *cert_path,
                       const char *key_path, int reason)
{
    char *pem = read_text_file(cert_path, CERT_FILE_MAX, NULL);
    if (!pem)
        return usage_error("--cert %s: %s", cert_path, strerror(errno));
    acme_key *key = NULL;
    acme_cert *cert = NULL;
    int rc = EXIT_OK;
    if (key_path)
        rc = token_open_key("--cert-key", key_path, &key);
    if (rc == EXIT_OK && acme_cert_parse(&cert, pem, strlen(pem), key) != ACME_OK)
        rc = usage_error("--cert %s: %s", cert_path, acme_last_error());
    const char *email = NULL;
    if (rc == EXIT_OK)
        rc = cli_resolve(c);
    if (rc == EXIT_OK && !key) {
        email = cli_email(c, email_opt);
        if (!email || !cli_account_stored(c, email)) {
            error_msg("revoking with the account key needs an account (or give --cert-key)");
            rc = EXIT_FAIL;
        }
    }
    if (rc == EXIT_OK)
        rc = cli_open_provider(c);
    int record_rc = EXIT_OK;
    if (rc == EXIT_OK && key && reason == ACME_REASON_KEY_COMPROMISE)
        record_rc = record_compromised(c, key, acme_cert_serial(cert));
    if (rc == EXIT_OK && key) {
        if (acme_revoke_with_key(c->provider, key, pem, reason) != ACME_OK) {
            char msg[ACME_ERROR_MAX];
            acme_problem *problem = NULL;
            acme_provider_last_error_copy(c->provider, msg, sizeof(msg));
            acme_provider_last_problem_copy(c->provider, &problem);
            rc = fail_with("revoke", msg, problem);
            acme_problem_free(problem);
        }
        if (rc == EXIT_OK)
            rc = record_rc;
    } else if (rc == EXIT_OK) {
        acme_desire *d = NULL;
        acme_account *account = NULL;
        acme_desire_options o;
        cli_desire_options(c, &o);
        o.email = email;
        rc = cli_open_store(c);
        if (rc == EXIT_OK && acme_desire_new(&d, c->provider, c->store, NULL, &o) != ACME_OK)
            rc = fail_with("desire", acme_last_error(), NULL);
        if (rc == EXIT_OK && acme_desire_account(d, &account) != ACME_OK)
            rc = fail_with("account", acme_desire_last_error(d), acme_last_problem());
        if (rc == EXIT_OK && acme_account_revoke(account, pem, reason) != ACME_OK)
            rc = fail_with("revoke", acme_account_last_error(account),
                           acme_account_last_problem(account));
        acme_account_free(account);
        acme_desire_free(d);
    }
    if (rc == EXIT_OK) {
        say("revoked %s (serial %s, reason %d)", cert_path, acme_cert_serial(cert), reason);
        printf("%s\n", acme_cert_serial(cert));
    }
    acme_cert_free(cert);
    acme_key_free(key);
    free(pem);
    return rc;
}

static int revoke_name(cli *c, const char *email_opt, const char *name, int reason,
                       int with_cert_key)
{
    int rc = cli_resolve(c);
    if (rc != EXIT_OK)
        return rc;
    if ((rc = cli_require_state(c)) != EXIT_OK)
        return rc;
    if (!cli_cert_stored(c, name)) {
        error_msg("no certificate called %s in %s", name, c->state_dir);
        return EXIT_FAIL;
    }
    const char *email = cli_email(c, email_opt);
    if (!with_cert_key && (!email || !cli_account_stored(c, email))) {
        error_msg("revoking with the account key needs an account (or give --with-cert-key)");
        return EXIT_FAIL;
    }
    if ((rc = cli_open_provider(c)) != EXIT_OK || (rc = cli_open_store(c)) != EXIT_OK)
        return rc;
    acme_desire_options o;
    cli_desire_options(c, &o);
    o.email = email;
    acme_desire *d = NULL;
    if (acme_desire_new(&d, c->provider, c->store, NULL, &o) != ACME_OK)
        return fail_with("desire", acme_last_error(), NULL);
    /* A key in a token: the library needs it, and only issue knew its URI. */
    if (token_remembered(c->store, name)) {
        if (acme_desire_add_stored(d, NULL) != ACME_OK)
            rc = fail_with("state", acme_desire_last_error(d), NULL);
        else
            rc = token_use_remembered(d, c->store, name);
    } else if (with_cert_key) {
        char *key_file = cli_cert_file(c, name, ACME_STORE_FILE_KEY);
        if (key_file && access(key_file, F_OK) != 0) {
            error_msg("%s: its key is not in the state dir (a token key?) and no token URI is "
                      "remembered for it: revoke --cert FILE --cert-key pkcs11:URI", name);
            rc = EXIT_FAIL;
        }
        free(key_file);
    }
    if (rc != EXIT_OK) {
        acme_desire_free(d);
        return rc;
    }
    /* The serial, for the record (and for scripts, on stdout). */
    char *key = NULL;
    char *pem = NULL;
    size_t len = 0;
    acme_cert *cert = NULL;
    if (acme_store_cert_key(name, ACME_STORE_FILE_CHAIN, &key) == ACME_OK &&
        acme_store_get(c->store, key, &pem, &len) == ACME_OK)
        acme_cert_parse(&cert, pem, len, NULL);
    acme_free(key);
    if (acme_desire_revoke(d, name, reason, with_cert_key) != ACME_OK) {
        rc = fail_with(name, acme_desire_last_error(d), acme_last_problem());
    } else {
        say("%s: revoked (serial %s, reason %d, signed by the %s key)", name,
            cert ? acme_cert_serial(cert) : "?", reason, with_cert_key ? "certificate" : "account");
        if (cert)
            printf("%s\n", acme_cert_serial(cert));
    }
    acme_cert_free(cert);
    acme_free(pem);
    acme_desire_free(d);
    return rc;
}

int cmd_revoke(cli *c, int argc, char **argv)
{
    const opt_spec *const tables[] = { revoke_options, global_options, NULL };
    arg_parser p;
    args_init(&p, argc, argv, 1, 1);
    const char *v, *name = NULL, *cert = NULL, *cert_key = NULL, *email = NULL;
    int id, reason = 0, with_cert_key = 0, rc = EXIT_OK;
    while (rc == EXIT_OK && (id = args_next(&p, tables, &v)) != ARG_END) {
        switch (id) {
        case ARG_ERROR:
            return EXIT_USAGE;
        case ARG_POSITIONAL:
            if (name)
                return usage_error("revoke takes one NAME");
            name = v;
            break;
        case R_REASON:
            reason = parse_reason(v);
            if (reason < 0)
                return usage_error("--reason %s: not a revocation reason (0-6, 8-10, or a name "
                                   "such as keyCompromise, superseded)", v);
            break;
        case R_CERT:
            cert = v;
            break;
        case R_CERT_KEY:
            cert_key = v;
            break;
        case R_WITH_CERT_KEY:
            with_cert_key = 1;
            break;
        case R_EMAIL:
            email = v;
            rc = check_email(v);
            break;
        default:
            rc = cli_global_option(c, id, v);
            break;
        }
    }
    if (rc != EXIT_OK)
        return rc;
    if (name && cert)
        return usage_error("revoke takes a NAME or --cert FILE, not both");
    if (!name && !cert)
        return usage_error("revoke needs a NAME or --cert FILE");
    if (cert_key && !cert)
        return usage_error("--cert-key goes with --cert (for a stored NAME use --with-cert-key)");
    if (with_cert_key && cert)
        return usage_error("--with-cert-key is for a stored NAME (with --cert use --cert-key)");
    if (name && !cert_name_ok(name))
        return usage_error("\"%s\" is not a certificate name", name);
    if (cert)
        return revoke_file(c, email, cert, cert_key, reason);
    return revoke_name(c, email, name, reason, with_cert_key);
}
