/* ensure and renew: the periodic batch, on the library's desire.
 *
 *   ensure --wants FILE|DIR   every wanted certificate: issued when
 *                             missing, renewed when due (ARI or the
 *                             lifetime rule), reissued when its names,
 *                             key type or profile changed
 *   renew                     the same over every certificate already in
 *                             the state dir, with the names it has; it
 *                             reads only what is due when it can
 *                             (acme_desire_ensure_stored)
 *
 * Every renewal gets a new certificate key unless --reuse-key (or a want's
 * reuse-key=yes) keeps it; a key revoked for keyCompromise is never kept.
 *
 * Running either again with nothing due changes nothing and places no
 * order. The deploy hook runs once per new or renewed certificate, after
 * the batch, with ACMECTL_NAME, ACMECTL_EVENT (obtained|renewed),
 * ACMECTL_CHAIN, ACMECTL_KEY and ACMECTL_STATE in its environment (on a
 * store without paths, etcd, chain and key are a private copy). */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acmectl.h"

/* --parallel: the most certificates the library ensures at once. */
#define PARALLEL_MAX 64

/* --deadline: at most a day, what a timer job's period would be. */
#define DEADLINE_MAX 86400

static const opt_spec ensure_options[] = {
    { "wants", 0, 1, B_WANTS },
    { "parallel", 0, 1, B_PARALLEL },
    { "deadline", 0, 1, B_DEADLINE },
    { NULL, 0, 0, 0 },
};

static const opt_spec renew_options[] = {
    { "parallel", 0, 1, B_PARALLEL },
    { "deadline", 0, 1, B_DEADLINE },
    { NULL, 0, 0, 0 },
};

int batch_opt(batch_params *bp, int id, const char *value)
{
    unsigned long n;
    switch (id) {
    case B_EMAIL:
        bp->email = value;
        return check_email(value);
    case B_AGREE_TOS:
        bp->agree_tos = 1;
        return EXIT_OK;
    case B_EAB_KID:
        bp->eab_kid = value;
        return EXIT_OK;
    case B_EAB_HMAC_KEY:
        bp->eab_hmac_key = value;
        return EXIT_OK;
    case B_PARALLEL:
        if (parse_ulong(value, 1, PARALLEL_MAX, &n) != 0)
            return usage_error("--parallel needs a number from 1 to %d, not \"%s\"", PARALLEL_MAX,
                               value);
        bp->parallel = (unsigned int)n;
        return EXIT_OK;
    case B_DEADLINE:
        if (parse_ulong(value, 1, DEADLINE_MAX, &n) != 0)
            return usage_error("--deadline needs seconds from 1 to %d, not \"%s\"", DEADLINE_MAX,
                               value);
        bp->deadline_s = (unsigned int)n;
        return EXIT_OK;
    case B_DEPLOY_HOOK:
        if (!*value)
            return usage_error("--deploy-hook needs a command");
        bp->deploy_hook = value;
        return EXIT_OK;
    case B_FORCE:
        bp->force = 1;
        return EXIT_OK;
    case B_REUSE_KEY:
        bp->reuse_key = 1;
        return EXIT_OK;
    case B_NO_WWW_BASE:
        bp->no_www_base = 1;
        return EXIT_OK;
    case B_PROFILE:
    case B_PREFER_PROFILE:
        if (!*value)
            return usage_error("--%s needs a profile name", id == B_PROFILE ? "profile"
                                                                          : "prefer-profile");
        bp->profile = value;
        bp->profile_mandatory = id == B_PROFILE;
        return EXIT_OK;
    case B_PREFERRED_CHAIN:
        if (!*value)
            return usage_error("--preferred-chain needs an issuer common name");
        bp->preferred_chain = value;
        return EXIT_OK;
    default:
        if (id >= S_SOLVER && id <= S_LISTEN)
            return solver_opt(&bp->so, id, value);
        if (id == T_ACCOUNT_KEY || id == T_CERT_KEY)
            return token_opt(&bp->tk, id, value);
        return usage_error("internal: unknown option");
    }
}

int batch_check_account(cli *c, const batch_params *bp, const char **email)
{
    if (!bp->eab_kid != !bp->eab_hmac_key)
        return usage_error("--eab-kid and --eab-hmac-key go together");
    if ((bp->eab_kid || bp->email) && !bp->agree_tos && !cli_account_stored(c, cli_email(c, bp->email)))
        return usage_error("registering a new account needs --agree-tos");
    *email = cli_email(c, bp->email);
    if (!*email)
        return usage_error("no account e-mail: give --email EMAIL --agree-tos, or run "
                           "acmectl register EMAIL --agree-tos first");
    /* A token account key has no key file to find: the CA knows it or not. */
    if (!bp->agree_tos && !bp->tk.account_key && !token_account_remembered(c) &&
        !cli_account_stored(c, *email)) {
        error_msg("no account for %s at %s (run: acmectl register %s --agree-tos)", *email,
                  c->directory, *email);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int batch_check_ca(cli *c, const batch_params *bp, const char *email)
{
    if (cli_account_stored(c, email))
        return EXIT_OK;
    const char *tos = acme_provider_terms_of_service(c->provider);
    if (tos)
        say("terms of service of %s: %s (agreed with --agree-tos)", c->directory, tos);
    if (acme_provider_external_account_required(c->provider) && !bp->eab_kid)
        return usage_error("%s requires external account binding: give --eab-kid and "
                           "--eab-hmac-key", c->directory);
    return EXIT_OK;
}

/* ---- events and the deploy hook -------------------------------------------------- */

typedef struct deploy_item {
    char *name, *event, *chain, *key;
} deploy_item;

struct batch_events {
    pthread_mutex_t mu;
    deploy_item *deploys;
    size_t ndeploys;
};

/* Can renew read only what is due? Not when a name needs more than its
 * record: --force, a --cert-key, or a token key remembered by an earlier
 * run (looked for in the state directory; on etcd, assumed). */
static int renew_due_only(const cli *c, const batch_params *bp)
{
    if (bp->force || bp->tk.ncert_keys || cli_store_remote(c))
        return 0;
    char path[4200];
    snprintf(path, sizeof(path), "%s/token-keys/cert", c->state_dir);
    DIR *dir = opendir(path);
    if (!dir)
        return 1;
    int empty = 1;
    struct dirent *e;
    while (empty && (e = readdir(dir)) != NULL)
        empty = e->d_name[0] == '.';
    closedir(dir);
    return empty;
}

void batch_on_event(const acme_event *e, void *userdata)
{
    batch_events *be = userdata;
    const char *name = acme_event_name(e);
    int type = acme_event_get_type(e);
    switch (type) {
    case ACME_EVENT_OBTAINED:
    case ACME_EVENT_RENEWED: {
        const char *what = type == ACME_EVENT_OBTAINED ? "obtained" : "renewed";
        const char *chain = acme_event_chain_path(e) ? acme_event_chain_path(e)
                                                     : acme_event_chain_key(e);
        const char *key = acme_event_key_path(e) ? acme_event_key_path(e) : acme_event_key_key(e);
        say("%s: saved chain %s and key %s", name, chain, key && *key ? key : "(in the token)");
        pthread_mutex_lock(&be->mu);
        be->deploys = xrealloc(be->deploys, be->ndeploys + 1, sizeof(*be->deploys));
        deploy_item *d = &be->deploys[be->ndeploys++];
        d->name = xstrdup(name);
        d->event = xstrdup(what);
        d->chain = xstrdup(chain);
        d->key = xstrdup(key ? key : ""); /* none for a key in a token */
        pthread_mutex_unlock(&be->mu);
        break;
    }
    case ACME_EVENT_FAILED:
        fail_with(name, acme_event_message(e), acme_event_problem(e));
        break;
    case ACME_EVENT_REVOKED:
        say("%s: revoked", name);
        break;
    case ACME_EVENT_SKIPPED:
        warn_msg("%s: skipped: %s", name, acme_event_message(e));
        break;
    default:
        break;
    }
}

int run_deploy_hook(const cli *c, const char *cmd, const char *name, const char *event,
                    const char *chain, const char *key)
{
    char e_name[512], e_event[64], e_chain[4200], e_key[4200], e_state[4200];
    snprintf(e_name, sizeof(e_name), "ACMECTL_NAME=%s", name);
    snprintf(e_event, sizeof(e_event), "ACMECTL_EVENT=%s", event);
    snprintf(e_chain, sizeof(e_chain), "ACMECTL_CHAIN=%s", chain);
    snprintf(e_key, sizeof(e_key), "ACMECTL_KEY=%s", key);
    snprintf(e_state, sizeof(e_state), "ACMECTL_STATE=%s", c->state_dir);
    const char *env[] = { e_name, e_event, e_chain, e_key, e_state, NULL };
    const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
    say("%s: running deploy hook", name);
    detail("%s: /bin/sh -c '%s' with ACMECTL_EVENT=%s", name, cmd, event);
    int status = 0;
    char err[512];
    if (run_program(argv, env, &status, err, sizeof(err)) != 0) {
        error_msg("%s: deploy hook: %s", name, err);
        return EXIT_FAIL;
    }
    if (status != 0) {
        error_msg("%s: deploy hook exited with status %d", name, status);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* ---- the batch --------------------------------------------------------------------- */

static int64_t fixed_clock(void *userdata)
{
    return *(const int64_t *)userdata;
}

/* "not due: renewal at 1767225600" reads better with a date. */
static void say_not_due(const char *name, const char *message)
{
    static const char renewal_at[] = "renewal at ";
    const size_t skip = sizeof(renewal_at) - 1;
    const char *at = strstr(message, renewal_at);
    unsigned long t;
    char digits[32];
    if (at && sscanf(at + skip, "%31[0-9]", digits) == 1 &&
        parse_ulong(digits, 0, TIME_MAX, &t) == 0) {
        time_t tt = (time_t)t;
        struct tm tm;
        char date[64];
        gmtime_r(&tt, &tm);
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm);
        say("%s: %.*s%s%s", name, (int)(at + skip - message), message, date,
            at + skip + strlen(digits));
    } else {
        say("%s: %s", name, message);
    }
}

/* Whether the state dir holds any certificate (without opening the store). */
static int any_stored(const cli *c)
{
    if (cli_store_remote(c))
        return 1; /* the desire counts them in the store */
    char *path = cli_state_path(c, ACME_STORE_CERTS);
    DIR *d = opendir(path);
    free(path);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        char *meta = cli_cert_file(c, e->d_name, ACME_STORE_FILE_META);
        FILE *f = meta ? fopen(meta, "r") : NULL;
        if (f) {
            found = 1;
            fclose(f);
        }
        free(meta);
    }
    closedir(d);
    return found;
}

/* The chain's path, then the key's; no key line for a key in a token,
 * which has no file. */
static void print_paths(const cli *c, const char *name)
{
    static const int files[] = { ACME_STORE_FILE_CHAIN, ACME_STORE_FILE_KEY };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *key = NULL, *path = NULL;
        if (acme_store_cert_key(name, files[i], &key) == ACME_OK &&
            (path = cli_store_location(c, key)) != NULL &&
            (files[i] != ACME_STORE_FILE_KEY || cli_store_remote(c) || access(path, F_OK) == 0))
            printf("%s\n", path);
        acme_free(key);
        free(path);
    }
    fflush(stdout);
}

/* The fallback issuers of a repeated --directory, with the account of the
 * same e-mail (registered there when first needed). One that cannot be
 * reached now is left out with a warning: it is a fallback. */
static void add_fallbacks(const cli *c, acme_desire *d)
{
    for (size_t i = 0; i < c->nfallbacks; i++) {
        acme_provider_options po;
        cli_provider_options(c, &po);
        acme_provider *p = NULL;
        if (acme_provider_new(&p, c->fallbacks[i], &po) != ACME_OK)
            warn_msg("fallback %s: %s (left out)", c->fallbacks[i], acme_last_error());
        else if (acme_desire_add_issuer(d, p, NULL, NULL, NULL) != ACME_OK)
            warn_msg("fallback %s: %s (left out)", c->fallbacks[i], acme_desire_last_error(d));
        else
            detail("fallback issuer %s", c->fallbacks[i]);
        acme_provider_free(p);
    }
}

void batch_desire_options(const cli *c, const batch_params *bp, const char *email,
                          acme_desire_options *o)
{
    cli_desire_options(c, o);
    o->email = email;
    o->agree_tos = bp->agree_tos;
    o->eab_kid = bp->eab_kid;
    o->eab_hmac_key = bp->eab_hmac_key;
}

int run_batch(cli *c, const batch_params *bp, const want_list *wants, int mode)
{
    const char *email = NULL;
    int rc = batch_check_account(c, bp, &email);
    if (rc != EXIT_OK)
        return rc;
    if ((rc = cli_open_provider(c)) != EXIT_OK)
        return rc;
    if ((rc = batch_check_ca(c, bp, email)) != EXIT_OK)
        return rc;
    /* A required profile the directory does not list: refused before the
     * account or any order costs a request. */
    for (size_t i = 0; wants && i < wants->n; i++) {
        const want *w = &wants->v[i];
        const char *profile = w->profile ? w->profile : bp->profile;
        int mandatory = w->profile ? w->profile_mandatory : bp->profile_mandatory;
        if (profile && mandatory && !acme_provider_has_profile(c->provider, profile)) {
            error_msg("%s: %s offers no profile \"%s\" (acmectl directory lists them; "
                      "--prefer-profile orders without it)", w->where, c->directory, profile);
            return EXIT_FAIL;
        }
    }
    if ((rc = cli_open_store(c)) != EXIT_OK)
        return rc;

    solver_conf renew_sc;
    memset(&renew_sc, 0, sizeof(renew_sc));
    size_t nconfs = wants ? wants->n : 1;
    const solver_conf **confs = xcalloc(nconfs, sizeof(*confs));
    if (wants) {
        for (size_t i = 0; i < wants->n; i++)
            confs[i] = &wants->v[i].sc;
    } else {
        renew_sc = bp->so.sc;
        solver_conf_merge(&renew_sc, &bp->so.sc);
        confs[0] = &renew_sc;
    }
    solver_env *env = solver_env_new(&bp->so);
    batch_events be;
    memset(&be, 0, sizeof(be));
    pthread_mutex_init(&be.mu, NULL);
    acme_desire *d = NULL;
    acme_solvers *shared = NULL;
    int64_t now = c->now;

    rc = solver_env_start(env, confs, nconfs, mode == MODE_ISSUE);
    if (rc == EXIT_OK && !wants)
        rc = solver_env_build(env, &renew_sc, "renew", &shared);
    if (rc == EXIT_OK) {
        acme_desire_options o;
        batch_desire_options(c, bp, email, &o);
        o.no_www_base = bp->no_www_base;
        o.parallel = bp->parallel;
        o.preferred_chain = bp->preferred_chain;
        o.reuse_key = bp->reuse_key;
        o.deadline_s = bp->deadline_s;
        o.on_event = batch_on_event;
        o.event_userdata = &be;
        if (c->have_clock) {
            o.clock = fixed_clock;
            o.clock_userdata = &now;
            warn_msg("ACMECTL_NOW: deciding renewals as if it were %lld (testing aid)",
                     (long long)now);
        }
        if (acme_desire_new(&d, c->provider, c->store, shared, &o) != ACME_OK)
            rc = fail_with("desire", acme_last_error(), NULL);
    }
    if (rc == EXIT_OK)
        add_fallbacks(c, d);
    for (size_t i = 0; rc == EXIT_OK && wants && i < wants->n; i++) {
        const want *w = &wants->v[i];
        acme_solvers *s = NULL;
        rc = solver_env_build(env, &w->sc, w->name, &s);
        if (rc == EXIT_OK &&
            acme_desire_add(d, w->name, (const char *const *)w->ids, w->nids,
                            w->key_type ? w->key_type : c->key_type, s) != ACME_OK)
            rc = fail_with(w->where, acme_desire_last_error(d), NULL);
        if (rc == EXIT_OK && w->reuse_key != WANT_REUSE_UNSET &&
            acme_desire_set_reuse_key(d, w->name, w->reuse_key == WANT_REUSE_YES) != ACME_OK)
            rc = fail_with(w->where, acme_desire_last_error(d), NULL);
        /* The want's profile, else the command's; none lets the CA choose. */
        const char *profile = w->profile ? w->profile : bp->profile;
        int mandatory = w->profile ? w->profile_mandatory : bp->profile_mandatory;
        if (rc == EXIT_OK && acme_desire_set_profile(d, w->name, profile, mandatory) != ACME_OK)
            rc = fail_with(w->where, acme_desire_last_error(d), NULL);
    }
    size_t count = 0;
    int due_only = !wants && renew_due_only(c, bp);
    if (rc == EXIT_OK && !wants && !due_only) {
        if (acme_desire_add_stored(d, &count) != ACME_OK)
            rc = fail_with("state", acme_desire_last_error(d), NULL);
        else
            detail("%zu certificate%s in %s", count, count == 1 ? "" : "s", c->state_dir);
    }
    for (size_t i = 0; rc == EXIT_OK && bp->force && i < acme_desire_count(d); i++)
        acme_desire_set_force(d, acme_desire_name(d, i), 1);
    if (rc == EXIT_OK)
        rc = token_apply(&bp->tk, d, c->store, c->directory);
    if (rc == EXIT_OK) {
        acme_account *account = NULL;
        if (acme_desire_account(d, &account) != ACME_OK)
            rc = fail_with("account", acme_desire_last_error(d), acme_last_problem());
        else
            say("account %s (%s)", acme_account_url(account), email);
        acme_account_free(account);
    }
    if (rc == EXIT_OK && bp->email)
        rc = cli_save_conf(c, bp->email);

    if (rc == EXIT_OK) {
        int erc = due_only ? acme_desire_ensure_stored(d) : acme_desire_ensure(d);
        size_t obtained = 0, renewed = 0, not_due = 0, failed = 0;
        acme_desire_summary(d, &obtained, &renewed, &not_due, &failed);
        size_t skipped = 0;
        for (size_t i = 0; i < acme_desire_count(d); i++) {
            if (acme_desire_result(d, i) == ACME_RESULT_NOT_DUE)
                say_not_due(acme_desire_name(d, i), acme_desire_message(d, i));
            skipped += acme_desire_result(d, i) == ACME_RESULT_SKIPPED;
        }
        if (mode != MODE_ISSUE)
            say("%s: %zu obtained, %zu renewed, %zu not due, %zu failed, %zu skipped",
                mode == MODE_RENEW ? "renew" : "ensure", obtained, renewed, not_due, failed,
                skipped);
        if (failed || skipped || erc != ACME_OK)
            rc = EXIT_FAIL;
        /* A skipped name may have no certificate at all: no paths then. */
        if (mode == MODE_ISSUE && !failed && !skipped && acme_desire_count(d) == 1) {
            if (acme_desire_result(d, 0) == ACME_RESULT_NOT_DUE && !bp->force)
                say("%s: nothing ordered (--force renews now)", acme_desire_name(d, 0));
            print_paths(c, acme_desire_name(d, 0));
        }
        for (size_t i = 0; bp->deploy_hook && i < be.ndeploys; i++) {
            const deploy_item *it = &be.deploys[i];
            /* A store without paths (etcd): the hook gets a private copy. */
            int hrc = cli_store_remote(c)
                          ? run_deploy_hook_from_store(c, bp->deploy_hook, it->name, it->event)
                          : run_deploy_hook(c, bp->deploy_hook, it->name, it->event, it->chain,
                                            it->key);
            if (hrc != EXIT_OK)
                rc = EXIT_FAIL;
        }
        uint64_t requests = 0, connections = 0;
        acme_provider_stats(c->provider, &requests, &connections);
        detail("%llu requests over %llu connection%s", (unsigned long long)requests,
               (unsigned long long)connections, connections == 1 ? "" : "s");
    }

    acme_desire_free(d);
    solver_env_free(env);
    free(confs);
    for (size_t i = 0; i < be.ndeploys; i++) {
        free(be.deploys[i].name);
        free(be.deploys[i].event);
        free(be.deploys[i].chain);
        free(be.deploys[i].key);
    }
    free(be.deploys);
    pthread_mutex_destroy(&be.mu);
    return rc;
}

/* ---- the commands ------------------------------------------------------------------ */

/* `shared` may be NULL: as the last table it then just ends the list.
 * wants_path is NULL for a command without --wants. */
static int parse_batch_args(cli *c, int argc, char **argv, const opt_spec *own,
                            const opt_spec *shared, batch_params *bp, const char **wants_path)
{
    const opt_spec *const tables[] = { own, batch_options, solver_options, global_options,
                                       token_options, shared, NULL };
    arg_parser p;
    args_init(&p, argc, argv, 1, 1);
    const char *v;
    int id;
    while ((id = args_next(&p, tables, &v)) != ARG_END) {
        int rc = EXIT_OK;
        if (id == ARG_ERROR)
            return EXIT_USAGE;
        if (id == ARG_POSITIONAL)
            return usage_error("%s: unexpected argument \"%s\"", argv[0], v);
        if (id == B_WANTS && wants_path)
            *wants_path = v;
        else if (id >= G_DIRECTORY && id <= G_VERSION)
            rc = cli_global_option(c, id, v);
        else
            rc = batch_opt(bp, id, v);
        if (rc != EXIT_OK)
            return rc;
    }
    return EXIT_OK;
}

int cmd_ensure(cli *c, int argc, char **argv)
{
    batch_params bp;
    batch_params_init(&bp);
    const char *wants_path = NULL;
    int rc = parse_batch_args(c, argc, argv, ensure_options, new_options, &bp, &wants_path);
    if (rc != EXIT_OK)
        return rc;
    if (!wants_path)
        return usage_error("ensure needs --wants FILE|DIR");
    want_list wants;
    if ((rc = wants_load(wants_path, &wants)) != EXIT_OK)
        return rc;
    for (size_t i = 0; rc == EXIT_OK && i < wants.n; i++) {
        want *w = &wants.v[i];
        solver_conf_merge(&w->sc, &bp.so.sc);
        rc = solver_conf_check(&w->sc, (const char *const *)w->ids, w->nids, w->where);
    }
    if (rc == EXIT_OK)
        rc = cli_resolve(c);
    if (rc == EXIT_OK)
        rc = run_batch(c, &bp, &wants, MODE_ENSURE);
    wants_free(&wants);
    return rc;
}

int cmd_renew(cli *c, int argc, char **argv)
{
    batch_params bp;
    batch_params_init(&bp);
    int rc = parse_batch_args(c, argc, argv, renew_options, NULL, &bp, NULL);
    if (rc != EXIT_OK)
        return rc;
    solver_conf sc = bp.so.sc;
    solver_conf_merge(&sc, &bp.so.sc);
    if ((rc = solver_conf_check(&sc, NULL, 0, "renew")) != EXIT_OK)
        return rc;
    if ((rc = cli_resolve(c)) != EXIT_OK)
        return rc;
    if (!c->state_exists || !any_stored(c)) {
        say("renew: no certificates in %s", c->state_dir);
        return EXIT_OK;
    }
    return run_batch(c, &bp, NULL, MODE_RENEW);
}

/* ---- status ------------------------------------------------------------------------ */

static void format_time(int64_t t, char *out, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, size, "%Y-%m-%d %H:%M UTC", &tm))
        snprintf(out, size, "%lld", (long long)t);
}

/* One line for certificate name: its failures, next attempt and last error. */
static int status_of(const cli *c, const char *name, int64_t now)
{
    unsigned int failures = 0;
    int64_t next = 0;
    int held = 0;
    char *last = NULL;
    if (acme_backoff_get(c->store, name, &failures, &next, &held, &last) != ACME_OK)
        return fail_with(name, acme_store_last_error(c->store), NULL);
    char when[64];
    format_time(next, when, sizeof(when));
    if (!failures)
        printf("%s: no failures\n", name);
    else if (held)
        printf("%s: held after %u failures (acmectl status --reset %s, or --force); "
               "last error: %s\n", name, failures, name, last);
    else
        printf("%s: %u failure%s, next attempt %s%s; last error: %s\n", name, failures,
               failures == 1 ? "" : "s", next > now ? "" : "due since ", when, last);
    acme_free(last);
    return EXIT_OK;
}

/* Names listed under a folder of the state dir (certs/, backoff/). */
static void list_names(const cli *c, const char *folder, char ***names, size_t *n)
{
    char *path = cli_state_path(c, folder);
    DIR *d = opendir(path);
    free(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!acme_desire_name_valid(e->d_name) || strchr(e->d_name, '.') == e->d_name)
            continue;
        int seen = 0;
        for (size_t i = 0; i < *n && !seen; i++)
            seen = strcmp((*names)[i], e->d_name) == 0;
        if (seen || (strcmp(folder, "backoff") != 0 && !cert_name_ok(e->d_name)))
            continue;
        *names = xrealloc(*names, *n + 1, sizeof(**names));
        (*names)[(*n)++] = xstrdup(e->d_name);
    }
    if (d)
        closedir(d);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const opt_spec status_options[] = {
    { "reset", 0, 1, B_RESET },
    { "email", 0, 1, B_EMAIL },
    { NULL, 0, 0, 0 },
};

int cmd_status(cli *c, int argc, char **argv)
{
    const opt_spec *const tables[] = { status_options, global_options, NULL };
    const char *reset = NULL, *email_opt = NULL, *v;
    arg_parser p;
    args_init(&p, argc, argv, 1, 1);
    int id, rc = EXIT_OK;
    while ((id = args_next(&p, tables, &v)) != ARG_END) {
        if (id == ARG_ERROR)
            return EXIT_USAGE;
        if (id == ARG_POSITIONAL)
            return usage_error("status: unexpected argument \"%s\"", v);
        if (id == B_RESET) {
            if (!acme_desire_name_valid(v))
                return usage_error("--reset needs a certificate name, not \"%s\"", v);
            reset = v;
        } else if (id == B_EMAIL) {
            email_opt = v;
            if ((rc = check_email(v)) != EXIT_OK)
                return rc;
        } else if ((rc = cli_global_option(c, id, v)) != EXIT_OK) {
            return rc;
        }
    }
    if ((rc = cli_resolve(c)) != EXIT_OK || (rc = cli_require_state(c)) != EXIT_OK)
        return rc;
    if ((rc = cli_open_store(c)) != EXIT_OK)
        return rc;
    int64_t now = c->have_clock ? c->now : (int64_t)time(NULL);
    if (reset) {
        if (acme_backoff_reset(c->store, reset) != ACME_OK)
            return fail_with(reset, acme_store_last_error(c->store), NULL);
        say("%s: failures forgotten; the next ensure tries it", reset);
        return EXIT_OK;
    }
    const char *email = cli_email(c, email_opt);
    int64_t until = 0;
    char *message = NULL;
    if (acme_rate_limit_get(c->store, c->directory, email, &until, &message) != ACME_OK)
        return fail_with("rate limit", acme_store_last_error(c->store), NULL);
    if (until > now) {
        char when[64];
        format_time(until, when, sizeof(when));
        printf("rate-limited by %s until %s: %s\n", c->directory, when, message);
    }
    acme_free(message);
    char **names = NULL;
    size_t n = 0;
    list_names(c, ACME_STORE_CERTS, &names, &n);
    list_names(c, "backoff", &names, &n);
    if (n)
        qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        if (status_of(c, names[i], now) != EXIT_OK)
            rc = EXIT_FAIL;
        free(names[i]);
    }
    free(names);
    fflush(stdout);
    return rc;
}
