/* The webroot solver for http-01: the key authorization goes into
 * <webroot>/.well-known/acme-challenge/<token> for a web server that already
 * serves <webroot>, and is removed again in cleanup (RFC 8555 8.3). */
#include "acme/responder.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/b64.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/file.h"
#include "base/mem.h"
#include "solvers/solver.h"

#define WELL_KNOWN "/.well-known"
#define ACME_CHALLENGE "/acme-challenge"
#define CHALLENGE_DIR WELL_KNOWN ACME_CHALLENGE

/* The token names a file: it must be base64url (no '/', no "..", not
 * empty) before any path is built from it. */
static int token_ok(const acme_challenge *ch, const char *what, acme__err *err)
{
    const char *token = acme_challenge_token(ch);
    if (!token || !acme_challenge_key_authorization(ch))
        return acme__fail(err, ACME_ERR_INVALID, "%s: the challenge has no token", what);
    if (!acme__b64url_valid(token))
        return acme__fail(err, ACME_ERR_INVALID,
                          "%s: challenge token is not base64url; refusing to use it as a file name",
                          what);
    return ACME_OK;
}

/* Create one directory level with exactly `mode` (mkdir is subject to the
 * umask, and the web server must be able to read the tree); levels that
 * already exist are left as they are. */
static int ensure_dir(const char *dir, mode_t mode, acme__err *err)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return acme__fail(err, ACME_ERR_IO, "webroot: %s exists and is not a directory", dir);
        return ACME_OK;
    }
    int rc = acme__file_mkdirs(dir, mode, err);
    if (rc != ACME_OK)
        return rc;
    if (chmod(dir, mode) != 0)
        return acme__fail(err, ACME_ERR_IO, "webroot: cannot set the mode of %s: %s", dir,
                          strerror(errno));
    return ACME_OK;
}

/* What goes before "/.well-known": the webroot, or nothing for "/". */
static const char *root_prefix(const char *webroot)
{
    return strcmp(webroot, "/") == 0 ? "" : webroot;
}

static int webroot_present(const acme_challenge *ch, void *userdata, acme__err *err)
{
    const char *webroot = userdata;
    int rc = token_ok(ch, "webroot", err);
    if (rc != ACME_OK)
        return rc;

    /* The webroot is the web server's document root: if it is missing the
     * file would never be served, so it is not created here. */
    struct stat st;
    if (stat(webroot, &st) != 0)
        return acme__fail(err, ACME_ERR_IO, "webroot %s cannot be used: %s (it must exist already)",
                          webroot, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return acme__fail(err, ACME_ERR_IO, "webroot %s is not a directory", webroot);

    acme__buf path = ACME__BUF_INIT;
    acme__buf_printf(&path, "%s" WELL_KNOWN, root_prefix(webroot));
    if (acme__buf_status(&path) != ACME_OK) {
        acme__buf_free(&path);
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    }
    rc = ensure_dir(acme__buf_str(&path), 0755, err);
    if (rc == ACME_OK) {
        acme__buf_puts(&path, ACME_CHALLENGE);
        rc = acme__buf_status(&path) == ACME_OK
                 ? ensure_dir(acme__buf_str(&path), 0755, err)
                 : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    }
    if (rc == ACME_OK) {
        acme__buf_printf(&path, "/%s", acme_challenge_token(ch));
        const char *ka = acme_challenge_key_authorization(ch);
        rc = acme__buf_status(&path) == ACME_OK
                 ? acme__file_write_visible(acme__buf_str(&path), ka, strlen(ka), 0644, err)
                 : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    }
    acme__buf_free(&path);
    return rc;
}

static void webroot_cleanup(const acme_challenge *ch, void *userdata)
{
    const char *webroot = userdata;
    if (token_ok(ch, "webroot cleanup", NULL) != ACME_OK)
        return;
    acme__buf path = ACME__BUF_INIT;
    acme__buf_printf(&path, "%s" CHALLENGE_DIR "/%s", root_prefix(webroot), acme_challenge_token(ch));
    if (acme__buf_status(&path) == ACME_OK) {
        if (unlink(acme__buf_str(&path)) == 0)
            acme__file_sync_dir_of(acme__buf_str(&path));
        else if (errno != ENOENT)
            acme__fail(NULL, ACME_ERR_IO, "webroot: cannot remove %s: %s", acme__buf_str(&path),
                       strerror(errno));
    }
    acme__buf_free(&path);
}

int acme_solvers_add_webroot(acme_solvers *s, const char *webroot)
{
    if (!s || !webroot || !*webroot)
        return acme__fail(s ? &s->err : NULL, ACME_ERR_INVALID,
                          "webroot solver: a solver set and a webroot are required");
    char *copy = acme__strdup(webroot);
    if (!copy)
        return acme__fail(&s->err, ACME_ERR_NOMEM, "out of memory");
    /* "/srv/www/" and "/srv/www" name the same directory; keep "/" as is. */
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = '\0';
    return acme__solvers_add_owned(s, "http-01", webroot_present, webroot_cleanup, copy, free);
}
