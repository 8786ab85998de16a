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
 * authorization for http-01, the TXT record value for dns-01,
 * dns-account-01 and dns-persist-01, and the base64url SHA-256 digest of
 * the key authorization for tls-alpn-01 (the key authorization for any
 * other type). For the DNS types, ACMECTL_TXT_NAME holds the record's name
 * (no trailing dot): dns-account-01's depends on the account, so IDENT
 * alone cannot give it. dns-persist-01 has no token (TOKEN is "").
 *
 * A dns-persist-01 record is meant to stay (it serves every later order),
 * so the hook gets "begin" only, never done/failed: begin may find the
 * record already published and just exit 0.
 *
 * done/failed run from the solver's cleanup, once per accepted challenge,
 * after the CA has decided: "done" when acme_challenge_status() says the
 * challenge was validated, "failed" otherwise (refused by the CA, or the
 * order stopped before it decided). Declined challenges get neither, as in
 * uacme.
 *
 * Programs run without a shell (posix_spawn), with stdin from /dev/null and
 * their stdout sent to acmectl's stderr, so that acmectl's stdout stays
 * machine-readable. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acmectl.h"

extern char **environ;

/* Exit status for a program killed by a signal: 128 + the signal, as shells report it. */
#define SIGNAL_STATUS_BASE 128
/* Exit status when it neither exited nor was killed: only a failure is certain. */
#define UNKNOWN_STATUS 255

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
        *status = SIGNAL_STATUS_BASE + WTERMSIG(st);
    else
        *status = UNKNOWN_STATUS;
    return 0;
}

/* ---- the challenge hook solver ---------------------------------------------------- */

struct hook_ctx {
    char *prog;
    char *cert; /* the certificate's name, for messages */
};

hook_ctx *hook_ctx_new(const char *prog, const char *cert)
{
    hook_ctx *h = xcalloc(1, sizeof(*h));
    h->prog = xstrdup(prog);
    h->cert = xstrdup(cert);
    return h;
}

void hook_ctx_free(hook_ctx *h)
{
    if (!h)
        return;
    free(h->prog);
    free(h->cert);
    free(h);
}

/* PROG METHOD TYPE IDENT TOKEN AUTH for one challenge. */
static int run_hook(const hook_ctx *h, const char *method, const acme_challenge *ch, int *status)
{
    const char *type = acme_challenge_type(ch);
    const char *auth = NULL;
    const char *txt_name = acme_challenge_dns_txt_name(ch);
    if (txt_name)
        auth = acme_challenge_dns_txt_value(ch);
    else if (strcmp(type, "tls-alpn-01") == 0)
        auth = acme_challenge_tls_alpn_digest(ch);
    else
        auth = acme_challenge_key_authorization(ch);
    const char *ident = acme_challenge_identifier_value(ch);
    const char *token = acme_challenge_token(ch) ? acme_challenge_token(ch) : "";
    if (!auth)
        auth = "";
    const char *argv[] = { h->prog, method, type, ident, token, auth, NULL };
    detail("%s: running %s %s %s %s %s %s", h->cert, h->prog, method, type, ident, token, auth);
    char err[512];
    char name_var[600];
    snprintf(name_var, sizeof(name_var), "ACMECTL_TXT_NAME=%s", txt_name ? txt_name : "");
    const char *env[] = { name_var, NULL };
    if (run_program(argv, txt_name ? env : NULL, status, err, sizeof(err)) != 0) {
        error_msg("%s: hook: %s", h->cert, err);
        return -1;
    }
    return 0;
}

int hook_present(const acme_challenge *ch, void *userdata)
{
    hook_ctx *h = userdata;
    int status = 0;
    if (run_hook(h, "begin", ch, &status) != 0)
        return ACME_ERR_CALLBACK;
    if (status != 0) {
        say("%s: hook declined %s for %s%s (exit status %d)", h->cert, acme_challenge_type(ch),
            acme_challenge_wildcard(ch) ? "*." : "", acme_challenge_identifier_value(ch), status);
        return ACME_ERR_DECLINED;
    }
    return ACME_OK;
}

void hook_cleanup(const acme_challenge *ch, void *userdata)
{
    hook_ctx *h = userdata;
    if (strcmp(acme_challenge_type(ch), "dns-persist-01") == 0)
        return; /* the record stays for later orders */
    const char *method = strcmp(acme_challenge_status(ch), "valid") == 0 ? "done" : "failed";
    int status = 0;
    if (run_hook(h, method, ch, &status) == 0 && status != 0)
        warn_msg("%s: hook %s %s %s exited with status %d", h->cert, method,
                 acme_challenge_type(ch), acme_challenge_identifier_value(ch), status);
}
