/* Account commands.
 *
 *   register EMAIL --agree-tos [--eab-kid ID --eab-hmac-key KEY]
 *                        make (or find) the account of EMAIL at the CA and
 *                        remember EMAIL, the directory and the CA bundle in
 *                        <state>/acmectl.conf for later commands
 *   account              show the account (URL, status, contacts, key)
 *   recover EMAIL        find the account of the key stored for EMAIL at
 *                        the CA (onlyReturnExisting) and make it the default
 *   update-contact EMAIL...  replace the account's contacts
 *   rollover             switch the account to a new key (keyChange)
 *   deactivate           deactivate the account (irreversible); its files
 *                        are moved aside so that register can start afresh
 *
 * The account lives in the state dir at accounts/<CA>/<EMAIL>/ (see
 * include/acme/store.h); the e-mail it was registered with names it, even
 * after update-contact changes the contacts the CA holds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acmectl.h"

enum { A_AGREE_TOS = 5000, A_EAB_KID, A_EAB_HMAC_KEY, A_EMAIL };

static const opt_spec register_options[] = {
    { "agree-tos", 0, 0, A_AGREE_TOS },
    { "eab-kid", 0, 1, A_EAB_KID },
    { "eab-hmac-key", 0, 1, A_EAB_HMAC_KEY },
    { NULL, 0, 0, 0 },
};

static const opt_spec account_options[] = {
    { "email", 0, 1, A_EMAIL },
    { NULL, 0, 0, 0 },
};

/* Plenty for the contacts of one account (update-contact). */
#define MAX_POSITIONAL 64

typedef struct acct_args {
    const char *positional[MAX_POSITIONAL];
    size_t npositional;
    int agree_tos;
    const char *eab_kid, *eab_hmac_key, *email;
    acme_account *account; /* on_account(): the stored account */
    const char *stored_as; /* on_account(): the e-mail it is stored under */
} acct_args;

/* Parse a command's arguments: between min and max positionals, all of
 * them e-mail addresses. */
static int parse(cli *c, int argc, char **argv, const opt_spec *own, size_t min, size_t max,
                 const char *what, acct_args *a)
{
    memset(a, 0, sizeof(*a));
    const opt_spec *const tables[] = { own, global_options, NULL };
    arg_parser p;
    args_init(&p, argc, argv, 1, 1);
    const char *v;
    int id, rc = EXIT_OK;
    while (rc == EXIT_OK && (id = args_next(&p, tables, &v)) != ARG_END) {
        switch (id) {
        case ARG_ERROR:
            return EXIT_USAGE;
        case ARG_POSITIONAL:
            if (a->npositional == max || a->npositional == MAX_POSITIONAL)
                return usage_error("%s: unexpected argument \"%s\"", argv[0], v);
            a->positional[a->npositional++] = v;
            break;
        case A_AGREE_TOS:
            a->agree_tos = 1;
            break;
        case A_EAB_KID:
            a->eab_kid = v;
            break;
        case A_EAB_HMAC_KEY:
            a->eab_hmac_key = v;
            break;
        case A_EMAIL:
            a->email = v;
            rc = check_email(v);
            break;
        default:
            rc = cli_global_option(c, id, v);
            break;
        }
    }
    if (rc == EXIT_OK && a->npositional < min)
        rc = usage_error("%s needs %s", argv[0], what);
    for (size_t i = 0; rc == EXIT_OK && i < a->npositional; i++)
        rc = check_email(a->positional[i]);
    return rc;
}

/* Resolve the state, connect, open the store and restore the account. */
int open_account(cli *c, const char *email_opt, acme_account **out, const char **email)
{
    int rc = cli_resolve(c);
    if (rc == EXIT_OK)
        rc = cli_require_state(c);
    if (rc != EXIT_OK)
        return rc;
    *email = cli_email(c, email_opt);
    if (!*email) {
        error_msg("no account remembered in %s (run: acmectl register EMAIL --agree-tos)",
                  c->state_dir);
        return EXIT_FAIL;
    }
    if ((rc = cli_open_provider(c)) != EXIT_OK || (rc = cli_open_store(c)) != EXIT_OK)
        return rc;
    return cli_restore_account(c, *email, out);
}

typedef int (*account_fn)(cli *c, acct_args *a);

/* Open the stored account of `email` (NULL: the remembered one) into a and
 * run fn on it. */
static int with_account(cli *c, acct_args *a, const char *email, account_fn fn)
{
    int rc = open_account(c, email, &a->account, &a->stored_as);
    if (rc == EXIT_OK)
        rc = fn(c, a);
    acme_account_free(a->account);
    return rc;
}

/* Run a command on the stored account that --email picks. */
static int on_account(cli *c, int argc, char **argv, size_t min, size_t max, const char *what,
                      account_fn fn)
{
    acct_args a;
    int rc = parse(c, argc, argv, account_options, min, max, what, &a);
    return rc == EXIT_OK ? with_account(c, &a, a.email, fn) : rc;
}

int cmd_register(cli *c, int argc, char **argv)
{
    acct_args a;
    int rc = parse(c, argc, argv, register_options, 1, 1, "an EMAIL", &a);
    if (rc != EXIT_OK)
        return rc;
    const char *email = a.positional[0];
    if (!a.agree_tos)
        return usage_error("register needs --agree-tos (you agree to the CA's terms of service)");
    if (!a.eab_kid != !a.eab_hmac_key)
        return usage_error("--eab-kid and --eab-hmac-key go together");
    if ((rc = cli_resolve(c)) != EXIT_OK || (rc = cli_open_provider(c)) != EXIT_OK)
        return rc;
    batch_params bp;
    memset(&bp, 0, sizeof(bp));
    bp.agree_tos = 1;
    bp.eab_kid = a.eab_kid;
    bp.eab_hmac_key = a.eab_hmac_key;
    if ((rc = batch_check_ca(c, &bp, email)) != EXIT_OK)
        return rc;
    int existed = cli_account_stored(c, email);
    if ((rc = cli_open_store(c)) != EXIT_OK)
        return rc;
    acme_desire_options o;
    batch_desire_options(c, &bp, email, &o);
    acme_desire *d = NULL;
    acme_account *account = NULL;
    if (acme_desire_new(&d, c->provider, c->store, NULL, &o) != ACME_OK)
        return fail_with("desire", acme_last_error(), NULL);
    if (acme_desire_account(d, &account) != ACME_OK)
        rc = fail_with("register", acme_desire_last_error(d), acme_last_problem());
    if (rc == EXIT_OK)
        rc = cli_save_conf(c, email);
    if (rc == EXIT_OK) {
        say("account %s %s for %s", acme_account_url(account),
            existed ? "was registered already" : "registered", email);
        printf("%s\n", acme_account_url(account));
    }
    acme_account_free(account);
    acme_desire_free(d);
    return rc;
}

static int show_account(cli *c, acct_args *a)
{
    acme_account *account = a->account;
    int rc = EXIT_OK;
    if (!*acme_account_status(account) && acme_account_refresh(account) != ACME_OK)
        rc = fail_with("account", acme_account_last_error(account),
                       acme_account_last_problem(account));
    if (rc == EXIT_OK) {
        printf("url: %s\n", acme_account_url(account));
        printf("status: %s\n", acme_account_status(account));
        for (size_t i = 0; i < acme_account_contact_count(account); i++)
            printf("contact: %s\n", acme_account_contact(account, i));
        printf("key: %s\n", acme_key_type_name(acme_key_get_type(acme_account_key(account))));
        printf("stored-as: %s\n", a->stored_as);
        printf("directory: %s\n", c->directory);
        const char *tos = acme_provider_terms_of_service(c->provider);
        if (tos)
            printf("terms-of-service: %s\n", tos);
    }
    return rc;
}

int cmd_account(cli *c, int argc, char **argv)
{
    return on_account(c, argc, argv, 0, 0, "", show_account);
}

static int recover(cli *c, acct_args *a)
{
    int rc = cli_save_conf(c, a->stored_as);
    if (rc == EXIT_OK) {
        say("recovered account %s (%s) for %s", acme_account_url(a->account),
            acme_account_status(a->account), a->stored_as);
        printf("%s\n", acme_account_url(a->account));
    }
    return rc;
}

/* The argument, not --email, names the account to recover. */
int cmd_recover(cli *c, int argc, char **argv)
{
    acct_args a;
    int rc = parse(c, argc, argv, account_options, 1, 1, "an EMAIL", &a);
    return rc == EXIT_OK ? with_account(c, &a, a.positional[0], recover) : rc;
}

static int update_contacts(cli *c, acct_args *a)
{
    acme_account *account = a->account;
    int rc = EXIT_OK;
    if (acme_account_update_contacts(account, a->positional, a->npositional) != ACME_OK) {
        rc = fail_with("update-contact", acme_account_last_error(account),
                       acme_account_last_problem(account));
    } else {
        say("account %s: contacts updated", acme_account_url(account));
        for (size_t i = 0; i < acme_account_contact_count(account); i++)
            printf("contact: %s\n", acme_account_contact(account, i));
    }
    return rc;
}

int cmd_update_contact(cli *c, int argc, char **argv)
{
    return on_account(c, argc, argv, 1, MAX_POSITIONAL, "at least one EMAIL", update_contacts);
}

/* The new key is set aside here until the key file is replaced: should
 * anything stop us after the CA switched keys, the new key is not lost. */
#define ROLLOVER_KEY "acmectl-rollover-key.pem"

static int rollover(cli *c, acct_args *a)
{
    if (cli_store_remote(c))
        return cli_store_rollover(c, a->account, a->stored_as);
    acme_account *account = a->account;
    int rc = EXIT_OK;
    acme_key *old = acme_account_key(account);
    char *key_file = cli_find_account_key_file(c, old);
    acme_key *fresh = NULL;
    char *pem = NULL, *side = NULL;
    int type = c->key_type ? c->key_type : acme_key_get_type(old);
    if (!key_file) {
        error_msg("rollover: the account key of %s is not in %s/accounts", a->stored_as,
                  c->state_dir);
        rc = EXIT_FAIL;
    } else if (acme_key_generate(&fresh, type) != ACME_OK || acme_key_to_pem(fresh, &pem) != ACME_OK) {
        rc = fail_with("rollover", acme_last_error(), NULL);
    } else if (acme_store_put(c->store, ROLLOVER_KEY, pem, strlen(pem), 1) != ACME_OK ||
               acme_store_path(c->store, ROLLOVER_KEY, &side) != ACME_OK) {
        rc = fail_with("rollover", acme_last_error(), NULL);
    }
    if (rc == EXIT_OK) {
        if (acme_account_rollover(account, fresh) != ACME_OK) {
            rc = fail_with("rollover", acme_account_last_error(account),
                           acme_account_last_problem(account));
            unlink(side);
        } else if (acme_key_save_file(fresh, key_file) != ACME_OK) {
            error_msg("rollover: the CA switched to the new key but %s could not be replaced "
                      "(%s); the new key is in %s: move it there", key_file, acme_last_error(),
                      side);
            rc = EXIT_FAIL;
        } else {
            unlink(side);
            say("account %s now signs with a new %s key (%s)", acme_account_url(account),
                acme_key_type_name(type), key_file);
            printf("%s\n", acme_account_url(account));
        }
    }
    acme_free(side);
    acme_free(pem);
    acme_key_free(fresh);
    free(key_file);
    return rc;
}

int cmd_rollover(cli *c, int argc, char **argv)
{
    if (token_rollover_wanted(argc, argv))
        return cmd_token_rollover(c, argc, argv);
    return on_account(c, argc, argv, 0, 0, "", rollover);
}

static int deactivate(cli *c, acct_args *a)
{
    acme_account *account = a->account;
    int rc = EXIT_OK;
    char *key_file = cli_find_account_key_file(c, acme_account_key(account));
    if (acme_account_deactivate(account) != ACME_OK) {
        rc = fail_with("deactivate", acme_account_last_error(account),
                       acme_account_last_problem(account));
    } else {
        say("account %s deactivated", acme_account_url(account));
        printf("%s\n", acme_account_url(account));
        /* accounts/<CA>/<EMAIL>/ -> accounts/<CA>/<EMAIL>.deactivated-<time>/,
         * so that the stored account is not used again. */
        char *slash = key_file ? strrchr(key_file, '/') : NULL;
        if (slash) {
            *slash = '\0';
            char moved[4300];
            snprintf(moved, sizeof(moved), "%s.deactivated-%lld", key_file,
                     (long long)time(NULL));
            if (rename(key_file, moved) != 0)
                warn_msg("could not move %s aside: %s", key_file, strerror(errno));
            else
                say("moved its files to %s", moved);
        }
    }
    free(key_file);
    return rc;
}

int cmd_deactivate(cli *c, int argc, char **argv)
{
    return on_account(c, argc, argv, 0, 0, "", deactivate);
}
