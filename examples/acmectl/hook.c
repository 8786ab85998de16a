/* Hook programs.
 *
 * The challenge hook follows uacme's protocol, so that existing uacme hook
 * scripts work unchanged:
 *
 *   PROG begin  TYPE IDENT TOKEN AUTH   make the answer available; exit 0 to
 *                                       accept, anything else declines this
 *                                       challenge (the next preferred type
 *                                       is tried)
 *   PROG done   TYPE IDENT TOKEN AUTH   the order succeeded: remove it
 *   PROG failed TYPE IDENT TOKEN AUTH   the order failed: remove it
 *
 * IDENT is the identifier without "*." for a wildcard (as the CA's
 * authorization names it, and as uacme passes it); AUTH is the key
 * authorization for http-01, the TXT record value for dns-01 and the
 * base64url SHA-256 digest of the key authorization for tls-alpn-01 (the
 * key authorization for any other type).
 *
 * done/failed: the library calls a solver's cleanup without saying whether
 * that challenge was validated. acmectl therefore keeps every accepted
 * challenge of a certificate and, when the certificate is settled (the
 * desire's event for it), runs "done" for all of them if the certificate
 * was obtained or renewed (so each of them was validated), "failed" for all
 * of them if it was not (then some may have been validated and some not).
 * Declined challenges get neither, as in uacme. A certificate is ensured by
 * one thread from start to event, so the challenges are matched to their
 * certificate by the thread that presented them.
 *
 * Programs run without a shell (posix_spawn), with stdin from /dev/null and
 * their stdout sent to acmectl's stderr, so that acmectl's stdout stays
 * machine-readable. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acmectl.h"

extern char **environ;

int is_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int run_program(const char *const *argv, const char *const *env, int *status, char *err,
                size_t errlen)
{
    size_t nenv = 0, nextra = 0;
    while (environ && environ[nenv])
        nenv++;
    while (env && env[nextra])
        nextra++;
    char **envp = xcalloc(nenv + nextra + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++) {
        /* An extra entry replaces an inherited one of the same name. */
        const char *eq = strchr(environ[i], '=');
        size_t nlen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        int replaced = 0;
        for (size_t j = 0; j < nextra && !replaced; j++)
            replaced = strncmp(env[j], environ[i], nlen) == 0 && env[j][nlen] == '=';
        if (!replaced)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < nextra; j++)
        envp[k++] = (char *)env[j];
    envp[k] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    if (rc != 0) {
        snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(rc));
        return -1;
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            snprintf(err, errlen, "waiting for %s: %s", argv[0], strerror(errno));
            return -1;
        }
    }
    if (WIFEXITED(st))
        *status = WEXITSTATUS(st);
    else if (WIFSIGNALED(st))
        *status = 128 + WTERMSIG(st);
    else
        *status = 255;
    return 0;
}

/* ---- the challenge hook solver ---------------------------------------------------- */

typedef struct hook_item {
    char *type, *ident, *token, *auth;
    pthread_t thread; /* the thread that presented it: the one ensuring its certificate */
} hook_item;

struct hook_ctx {
    char *prog;
    char *cert;
    pthread_mutex_t mu;
    hook_item *items;
    size_t n;
};

hook_ctx *hook_ctx_new(const char *prog, const char *cert)
{
    hook_ctx *h = xcalloc(1, sizeof(*h));
    h->prog = xstrdup(prog);
    h->cert = xstrdup(cert);
    pthread_mutex_init(&h->mu, NULL);
    return h;
}

static void item_clear(hook_item *it)
{
    free(it->type);
    free(it->ident);
    free(it->token);
    free(it->auth);
}

void hook_ctx_free(hook_ctx *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        item_clear(&h->items[i]);
    free(h->items);
    free(h->prog);
    free(h->cert);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

const char *hook_ctx_cert(const hook_ctx *h)
{
    return h->cert;
}

static int run_hook(const hook_ctx *h, const char *method, const hook_item *it, int *status)
{
    const char *argv[] = { h->prog, method, it->type, it->ident, it->token, it->auth, NULL };
    detail("%s: running %s %s %s %s %s %s", h->cert, h->prog, method, it->type, it->ident,
           it->token, it->auth);
    char err[512];
    if (run_program(argv, NULL, status, err, sizeof(err)) != 0) {
        error_msg("%s: hook: %s", h->cert, err);
        return -1;
    }
    return 0;
}

int hook_present(const acme_challenge *ch, void *userdata)
{
    hook_ctx *h = userdata;
    const char *type = acme_challenge_type(ch);
    const char *auth = NULL;
    if (strcmp(type, "dns-01") == 0)
        auth = acme_challenge_dns_txt_value(ch);
    else if (strcmp(type, "tls-alpn-01") == 0)
        auth = acme_challenge_tls_alpn_digest(ch);
    else
        auth = acme_challenge_key_authorization(ch);
    hook_item it;
    it.type = xstrdup(type);
    it.ident = xstrdup(acme_challenge_identifier_value(ch));
    it.token = xstrdup(acme_challenge_token(ch) ? acme_challenge_token(ch) : "");
    it.auth = xstrdup(auth ? auth : "");
    it.thread = pthread_self();
    int status = 0;
    if (run_hook(h, "begin", &it, &status) != 0) {
        item_clear(&it);
        return ACME_ERR_CALLBACK;
    }
    if (status != 0) {
        say("%s: hook declined %s for %s%s (exit status %d)", h->cert, it.type,
            acme_challenge_wildcard(ch) ? "*." : "", it.ident, status);
        item_clear(&it);
        return ACME_ERR_DECLINED;
    }
    pthread_mutex_lock(&h->mu);
    h->items = xrealloc(h->items, h->n + 1, sizeof(*h->items));
    h->items[h->n++] = it;
    pthread_mutex_unlock(&h->mu);
    return ACME_OK;
}

void hook_finish(hook_ctx *h, int success, int all)
{
    if (!h)
        return;
    /* Take this thread's items (or all), run the hooks without the lock. */
    pthread_mutex_lock(&h->mu);
    hook_item *mine = xcalloc(h->n, sizeof(*mine));
    size_t n = 0, kept = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (all || pthread_equal(h->items[i].thread, pthread_self()))
            mine[n++] = h->items[i];
        else
            h->items[kept++] = h->items[i];
    }
    h->n = kept;
    pthread_mutex_unlock(&h->mu);
    const char *method = success ? "done" : "failed";
    for (size_t i = 0; i < n; i++) {
        int status = 0;
        if (run_hook(h, method, &mine[i], &status) == 0 && status != 0)
            warn_msg("%s: hook %s %s %s exited with status %d", h->cert, method, mine[i].type,
                     mine[i].ident, status);
        item_clear(&mine[i]);
    }
    free(mine);
}
