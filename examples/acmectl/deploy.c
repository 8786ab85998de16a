/*
 * deploy: write the current certificate of each name from the store to
 * local files (DIR/NAME/chain.pem and key.pem) and run the deploy hook
 * where they changed. In a cluster every node runs `ensure` and then
 * `deploy` from its timer, so a node that did not order a renewal still
 * serves the new certificate and reloads its server.
 *
 * The library reads the store (acme_store_read_current): chain and key
 * always come from one generation, and the leaf must hold the key's public
 * key, or nothing is written. The files on disk, and DIR/NAME/deployed (the
 * serial whose hook ran), are the node's record of what it deployed:
 * unchanged contents mean no write and no hook; a hook that failed runs
 * again next time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acmectl.h"

enum { D_TO = 7000, D_WANTS, D_DEPLOY_HOOK };

static const opt_spec deploy_options[] = {
    { "to", 0, 1, D_TO },
    { "wants", 0, 1, D_WANTS },
    { "deploy-hook", 0, 1, D_DEPLOY_HOOK },
    { NULL, 0, 0, 0 },
};

/* Free what read_current gave, the key wiped first. */
static void current_free(char *chain, char *key, char *serial)
{
    free(chain);
    if (key)
        memset(key, 0, strlen(key));
    free(key);
    free(serial);
}

/* The current chain and key of name, from one generation (the library
 * reads them so, acme_store_read_current), and the leaf's serial. */
static int read_current(const cli *c, const char *name, char **chain, char **key, char **serial)
{
    *chain = *key = *serial = NULL;
    char *ch = NULL, *k = NULL;
    if (acme_store_read_current(c->store, name, &ch, &k) != ACME_OK)
        return fail_with(name, acme_store_last_error(c->store), NULL);
    acme_key *pk = NULL;
    acme_cert *cert = NULL;
    int rc = EXIT_FAIL;
    if (k && acme_key_load_pem(&pk, k, strlen(k)) != ACME_OK)
        error_msg("%s: key: %s", name, acme_last_error());
    else if (acme_cert_parse(&cert, ch, strlen(ch), pk) != ACME_OK)
        error_msg("%s: %s", name, acme_last_error());
    else
        rc = EXIT_OK;
    if (rc == EXIT_OK) {
        const char *sn = acme_cert_serial(cert);
        *serial = xstrdup(sn ? sn : "");
        *chain = xstrdup(ch);
        *key = k ? xstrdup(k) : NULL;
    }
    acme_cert_free(cert);
    acme_key_free(pk);
    if (k)
        memset(k, 0, strlen(k));
    acme_free(k);
    acme_free(ch);
    return rc;
}

int run_deploy_hook_from_store(const cli *c, const char *cmd, const char *name,
                               const char *event)
{
    char *chain, *key, *serial;
    if (read_current(c, name, &chain, &key, &serial) != EXIT_OK)
        return EXIT_FAIL;
    /* A private directory: the hook reads files, and the key is secret. */
    const char *tmp = getenv("TMPDIR");
    char dir[4096], chain_path[4200], key_path[4200];
    snprintf(dir, sizeof(dir), "%s/acmectl-deploy-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int rc = EXIT_OK;
    if (!mkdtemp(dir)) {
        error_msg("%s: deploy hook: a private directory in %s: %s", name,
                  tmp && *tmp ? tmp : "/tmp", strerror(errno));
        rc = EXIT_FAIL;
    } else {
        snprintf(chain_path, sizeof(chain_path), "%s/chain.pem", dir);
        snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
        if ((key && write_file_atomic(key_path, key, 0600) != 0) ||
            write_file_atomic(chain_path, chain, 0600) != 0) {
            error_msg("%s: deploy hook: writing %s: %s", name, dir, strerror(errno));
            rc = EXIT_FAIL;
        } else {
            rc = run_deploy_hook(c, cmd, name, event, chain_path, key ? key_path : "");
        }
        unlink(key_path);
        unlink(chain_path);
        rmdir(dir);
    }
    current_free(chain, key, serial);
    return rc;
}

/* Non-zero when path holds exactly text. */
static int holds(const char *path, const char *text)
{
    size_t len = 0;
    char *have = read_text_file(path, RECORD_MAX, &len);
    int same = have && len == strlen(text) && memcmp(have, text, len) == 0;
    if (have)
        memset(have, 0, len);
    free(have);
    return same;
}

static int deploy_one(const cli *c, const char *name, const char *to, const char *hook)
{
    char *chain, *key, *serial;
    if (read_current(c, name, &chain, &key, &serial) != EXIT_OK)
        return EXIT_FAIL;
    char dir[4096], chain_path[4200], key_path[4200], done_path[4200];
    snprintf(dir, sizeof(dir), "%s/%s", to, name);
    snprintf(chain_path, sizeof(chain_path), "%s/chain.pem", dir);
    snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
    snprintf(done_path, sizeof(done_path), "%s/deployed", dir);
    char record[256];
    snprintf(record, sizeof(record), "%s\n", serial ? serial : "");
    int rc = EXIT_OK;
    int files_same = holds(chain_path, chain) && (!key || holds(key_path, key));
    if (files_same && holds(done_path, record)) {
        say("%s: serial %s deployed already", name, serial);
    } else if (!files_same && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        error_msg("%s: %s: %s", name, dir, strerror(errno));
        rc = EXIT_FAIL;
    } else if (!files_same && ((key && write_file_atomic(key_path, key, 0600) != 0) ||
                               write_file_atomic(chain_path, chain, 0644) != 0)) {
        /* The key first: the chain, which names the new serial, lands last. */
        error_msg("%s: writing %s: %s", name, dir, strerror(errno));
        rc = EXIT_FAIL;
    } else {
        if (!files_same)
            say("%s: deployed serial %s to %s", name, serial, dir);
        printf("%s\n", chain_path);
        if (hook)
            rc = run_deploy_hook(c, hook, name, "deployed", chain_path, key ? key_path : "");
        /* Recorded once the hook ran, so a failed hook runs again next time. */
        if (rc == EXIT_OK && write_file_atomic(done_path, record, 0644) != 0) {
            error_msg("%s: writing %s: %s", name, done_path, strerror(errno));
            rc = EXIT_FAIL;
        }
    }
    current_free(chain, key, serial);
    return rc;
}

int cmd_deploy(cli *c, int argc, char **argv)
{
    const opt_spec *const tables[] = { deploy_options, global_options, NULL };
    const char *to = NULL, *wants_path = NULL, *hook = NULL, *v;
    char **names = xcalloc((size_t)argc + 1, sizeof(*names));
    size_t n = 0;
    arg_parser p;
    args_init(&p, argc, argv, 1, 1);
    int id, rc = EXIT_OK;
    while (rc == EXIT_OK && (id = args_next(&p, tables, &v)) != ARG_END) {
        if (id == ARG_ERROR)
            rc = EXIT_USAGE;
        else if (id == ARG_POSITIONAL && !acme_desire_name_valid(v))
            rc = usage_error("deploy: \"%s\" is no certificate name", v);
        else if (id == ARG_POSITIONAL)
            names[n++] = (char *)v;
        else if (id == D_TO)
            to = v;
        else if (id == D_WANTS)
            wants_path = v;
        else if (id == D_DEPLOY_HOOK)
            hook = *v ? v : NULL;
        else
            rc = cli_global_option(c, id, v);
    }
    want_list wants = { NULL, 0 };
    if (rc == EXIT_OK && !to)
        rc = usage_error("deploy needs --to DIR");
    if (rc == EXIT_OK && wants_path)
        rc = wants_load(wants_path, &wants);
    if (rc == EXIT_OK && !n && !wants.n)
        rc = usage_error("deploy needs certificate names or --wants FILE");
    struct stat st;
    if (rc == EXIT_OK && (stat(to, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = usage_error("--to %s is not a directory", to);
    if (rc == EXIT_OK && (rc = cli_resolve(c)) == EXIT_OK && (rc = cli_require_state(c)) == EXIT_OK)
        rc = cli_open_store(c);
    for (size_t i = 0; c->store && i < n + wants.n; i++)
        if (deploy_one(c, i < n ? names[i] : wants.v[i - n].name, to, hook) != EXIT_OK)
            rc = EXIT_FAIL;
    fflush(stdout);
    wants_free(&wants);
    free(names);
    return rc;
}
