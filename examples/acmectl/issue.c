/* issue: one certificate now.
 *
 *   acmectl issue NAME... [--name CERT] [--force] [solver options]
 *       a desire with one want: the key and chain land in the state dir
 *       (<state>/certs/CERT/{key.pem,chain.pem}) and their paths are
 *       printed on stdout, chain first; a certificate that is not due is
 *       kept (--force renews it now); a renewal gets a new key unless
 *       --reuse-key is given
 *   acmectl issue --csr FILE [NAME...] [--out FILE]
 *       the host owns the key: the CSR is sent as it is, and the chain is
 *       written to --out FILE or <state>/csr/CERT.chain.pem (its path on
 *       stdout). The state dir keeps no key and nothing to renew: run it
 *       again to renew. A CSR of a key recorded as compromised is refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acmectl.h"

/* Far above any real CSR: a wrong path is refused rather than read whole. */
#define MAX_CSR_FILE (1024 * 1024)

/* ---- shared with ensure and renew (batch.c) ---------------------------- */

void batch_params_init(batch_params *bp)
{
    memset(bp, 0, sizeof(*bp));
    solver_opts_init(&bp->so);
}

const opt_spec batch_options[] = {
    { "email", 0, 1, B_EMAIL },
    { "deploy-hook", 0, 1, B_DEPLOY_HOOK },
    { "force", 0, 0, B_FORCE },
    { "reuse-key", 0, 0, B_REUSE_KEY },
    { "preferred-chain", 0, 1, B_PREFERRED_CHAIN },
    { NULL, 0, 0, 0 },
};

const opt_spec new_options[] = {
    { "agree-tos", 0, 0, B_AGREE_TOS },
    { "eab-kid", 0, 1, B_EAB_KID },
    { "eab-hmac-key", 0, 1, B_EAB_HMAC_KEY },
    { "no-www-base", 0, 0, B_NO_WWW_BASE },
    { "profile", 0, 1, B_PROFILE },
    { "prefer-profile", 0, 1, B_PREFER_PROFILE },
    { NULL, 0, 0, 0 },
};

/* ---- issue ---------------------------------------------------------------- */

static const opt_spec issue_options[] = {
    { "name", 0, 1, B_NAME },
    { "csr", 0, 1, B_CSR },
    { "out", 0, 1, B_OUT },
    { NULL, 0, 0, 0 },
};

int write_file_atomic(const char *path, const char *text, mode_t mode)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -1;
    size_t len = strlen(text), off = 0;
    int ok = fchmod(fd, mode) == 0;
    while (ok && off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        if (ok)
            off += (size_t)n;
    }
    ok = ok && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, path) == 0)
        return 0;
    int e = errno;
    unlink(tmp);
    errno = e;
    return -1;
}

/* Check the CSR (and that it matches the names given) before anything is
 * created: an order on a throw-away account handle does it without any
 * request. Gives the certificate name from the CSR when none was given. */
static int check_csr(cli *c, const char *csr, char **ids, size_t nids, char **name)
{
    acme_key *k = NULL;
    acme_account *a = NULL;
    acme_order *o = NULL;
    int rc = EXIT_OK;
    if (acme_key_generate(&k, ACME_KEY_EC256) != ACME_OK ||
        acme_account_load(&a, c->provider, k, "https://acmectl.invalid/csr-check") != ACME_OK ||
        acme_order_new(&o, a) != ACME_OK) {
        rc = fail_with("csr", acme_last_error(), NULL);
    }
    for (size_t i = 0; rc == EXIT_OK && i < nids; i++)
        if (acme_order_add_identifier(o, ids[i]) != ACME_OK)
            rc = usage_error("%s", acme_order_last_error(o));
    if (rc == EXIT_OK && acme_order_set_csr(o, csr) != ACME_OK)
        rc = usage_error("--csr: %s", acme_order_last_error(o));
    if (rc == EXIT_OK && acme_order_identifier_count(o) == 0)
        rc = usage_error("--csr: the CSR names no identifier");
    if (rc == EXIT_OK && !*name)
        *name = derive_cert_name(acme_order_identifier_value(o, 0));
    acme_order_free(o);
    acme_account_free(a);
    acme_key_free(k);
    return rc;
}

/* Refuse a CSR whose key the state dir records as compromised (revoked
 * for keyCompromise): the CA would certify a key that is known to leak. */
static int check_csr_key(cli *c, const char *csr)
{
    char *tp = NULL;
    int compromised = 0, rc = EXIT_OK;
    if (acme_csr_key_thumbprint(csr, &tp) != ACME_OK)
        rc = usage_error("--csr: %s", acme_last_error());
    else if (acme_store_key_compromised(c->store, tp, &compromised) != ACME_OK)
        rc = fail_with("csr", acme_store_last_error(c->store), NULL);
    else if (compromised) {
        error_msg("--csr: its key (thumbprint %s) was revoked for keyCompromise; make a new "
                  "key and CSR", tp);
        rc = EXIT_FAIL;
    }
    acme_free(tp);
    return rc;
}

static int run_csr(cli *c, const batch_params *bp, const char *csr, char **ids, size_t nids,
                   const solver_conf *sc, const char *name_opt, const char *out)
{
    const char *email = NULL;
    int rc;
    if ((rc = batch_check_account(c, bp, &email)) != EXIT_OK ||
        (rc = cli_open_provider(c)) != EXIT_OK)
        return rc;
    char *name = name_opt ? xstrdup(name_opt) : NULL;
    if ((rc = check_csr(c, csr, ids, nids, &name)) != EXIT_OK) {
        free(name);
        return rc;
    }
    if (!cert_name_ok(name)) {
        rc = usage_error("\"%s\" is not a usable certificate name (--name)", name);
        free(name);
        return rc;
    }
    if ((rc = batch_check_ca(c, bp, email)) != EXIT_OK || (rc = cli_open_store(c)) != EXIT_OK ||
        (rc = check_csr_key(c, csr)) != EXIT_OK) {
        free(name);
        return rc;
    }
    solver_env *env = solver_env_new(&bp->so);
    const solver_conf *confs[] = { sc };
    acme_desire *d = NULL;
    acme_order *o = NULL;
    acme_solvers *solvers = NULL;
    acme_account *account = NULL;
    rc = solver_env_start(env, confs, 1, 1);
    if (rc == EXIT_OK)
        rc = solver_env_build(env, sc, name, &solvers);
    if (rc == EXIT_OK) {
        acme_desire_options dopts;
        batch_desire_options(c, bp, email, &dopts);
        if (acme_desire_new(&d, c->provider, c->store, NULL, &dopts) != ACME_OK)
            rc = fail_with("desire", acme_last_error(), NULL);
        else if ((rc = token_apply(&bp->tk, d, c->store, c->directory)) == EXIT_OK &&
                 acme_desire_account(d, &account) != ACME_OK)
            rc = fail_with("account", acme_desire_last_error(d), acme_last_problem());
    }
    if (rc == EXIT_OK && bp->email)
        rc = cli_save_conf(c, bp->email);
    if (rc == EXIT_OK) {
        int arc = acme_order_new(&o, account);
        for (size_t i = 0; arc == ACME_OK && i < nids; i++)
            arc = acme_order_add_identifier(o, ids[i]);
        if (arc == ACME_OK)
            arc = acme_order_set_csr(o, csr);
        if (arc == ACME_OK && bp->preferred_chain)
            arc = acme_order_set_preferred_chain(o, bp->preferred_chain);
        if (arc == ACME_OK && bp->profile)
            arc = bp->profile_mandatory ? acme_order_set_profile(o, bp->profile)
                                        : acme_order_set_profile_preferred(o, bp->profile);
        if (arc == ACME_OK) {
            say("%s: ordering with the CSR", name);
            arc = acme_order_issue(o, solvers, NULL);
        }
        if (arc != ACME_OK)
            rc = fail_with(name, o ? acme_order_last_error(o) : acme_last_error(),
                           o ? acme_order_last_problem(o) : acme_last_problem());
    }
    if (rc == EXIT_OK) {
        const char *pem = acme_order_certificate_pem(o);
        char *path = NULL;
        if (out) {
            if (write_file_atomic(out, pem, 0644) != 0) {
                error_msg("%s: %s", out, strerror(errno));
                rc = EXIT_FAIL;
            } else {
                path = xstrdup(out);
            }
        } else {
            char key[600];
            char *p = NULL;
            snprintf(key, sizeof(key), "csr/%s.chain.pem", name);
            if (acme_store_put(c->store, key, pem, strlen(pem), 0) != ACME_OK ||
                !(p = cli_store_location(c, key))) {
                rc = EXIT_FAIL;
                error_msg("saving %s: %s", key, acme_last_error());
            } else {
                path = xstrdup(p);
            }
            free(p);
        }
        if (rc == EXIT_OK) {
            say("%s: saved chain %s", name, path);
            printf("%s\n", path);
            fflush(stdout);
            if (bp->deploy_hook)
                rc = run_deploy_hook(c, bp->deploy_hook, name, "obtained", path, "");
        }
        free(path);
    }
    acme_order_free(o);
    acme_account_free(account);
    acme_desire_free(d);
    solver_env_free(env);
    free(name);
    return rc;
}

int cmd_issue(cli *c, int argc, char **argv)
{
    batch_params bp;
    batch_params_init(&bp);
    const char *name_opt = NULL, *csr_path = NULL, *out = NULL;
    const opt_spec *const tables[] = { issue_options, batch_options, new_options,
                                       solver_options, global_options, token_options, NULL };
    arg_parser p;
    args_init(&p, argc, argv, 1, 1);
    char **ids = xcalloc((size_t)argc, sizeof(char *));
    size_t nids = 0;
    const char *v;
    int id, rc = EXIT_OK;
    while (rc == EXIT_OK && (id = args_next(&p, tables, &v)) != ARG_END) {
        if (id == ARG_ERROR)
            rc = EXIT_USAGE;
        else if (id == ARG_POSITIONAL)
            ids[nids++] = (char *)v;
        else if (id == B_NAME)
            name_opt = v;
        else if (id == B_CSR)
            csr_path = v;
        else if (id == B_OUT)
            out = v;
        else if (id >= G_DIRECTORY && id <= G_VERSION)
            rc = cli_global_option(c, id, v);
        else
            rc = batch_opt(&bp, id, v);
    }
    if (rc == EXIT_OK && !nids && !csr_path)
        rc = usage_error("issue needs at least one NAME (or --csr FILE)");
    for (size_t i = 0; rc == EXIT_OK && i < nids; i++)
        if (acme_identifier_check(NULL, ids[i]) != ACME_OK)
            rc = usage_error("%s", acme_last_error());
    if (rc == EXIT_OK && name_opt && !cert_name_ok(name_opt))
        rc = usage_error("--name \"%s\" is not a usable certificate name (letters, digits, "
                         "\"._-@+\")", name_opt);
    if (rc == EXIT_OK && csr_path && bp.tk.ncert_keys)
        rc = usage_error("--cert-key does not go with --csr (the CSR's key is the host's)");
    if (rc == EXIT_OK && out && !csr_path)
        rc = usage_error("--out goes with --csr (without it the chain is kept in the state dir)");
    char *csr = NULL;
    if (rc == EXIT_OK && csr_path) {
        csr = read_text_file(csr_path, MAX_CSR_FILE, NULL);
        if (!csr)
            rc = usage_error("--csr %s: %s", csr_path, strerror(errno));
        else if (!strstr(csr, "CERTIFICATE REQUEST-----"))
            rc = usage_error("--csr %s: not a PEM certificate request", csr_path);
    }
    solver_conf sc = bp.so.sc;
    if (rc == EXIT_OK) {
        solver_conf_merge(&sc, &bp.so.sc);
        rc = solver_conf_check(&sc, (const char *const *)ids, nids, "issue");
    }
    if (rc == EXIT_OK)
        rc = cli_resolve(c);
    if (rc == EXIT_OK && csr) {
        rc = run_csr(c, &bp, csr, ids, nids, &sc, name_opt, out);
    } else if (rc == EXIT_OK) {
        want_list wl;
        wl.n = 1;
        wl.v = xcalloc(1, sizeof(want));
        want *w = &wl.v[0];
        w->name = name_opt ? xstrdup(name_opt) : derive_cert_name(ids[0]);
        w->ids = xcalloc(nids, sizeof(char *));
        for (size_t i = 0; i < nids; i++)
            w->ids[w->nids++] = xstrdup(ids[i]);
        w->key_type = c->key_type;
        w->sc = sc;
        w->where = xstrdup("issue");
        rc = run_batch(c, &bp, &wl, MODE_ISSUE);
        wants_free(&wl);
    }
    free(csr);
    free(ids);
    return rc;
}
