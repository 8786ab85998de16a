/* Whole-file reads and atomic writes. */
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acme/common.h"
#include "base/mem.h"
#include "base/rng.h"

/* Random link names collide only if another writer races for the same
 * name; a few tries make a failure that is not a collision certain. */
#define LINK_NAME_ATTEMPTS 16

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int acme__file_sync_dir_of(const char *path)
{
    char *dir = acme__strdup(path);
    if (!dir)
        return -1;
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* "<path>.tmp-XXXXXX", the temporary name beside path (the store's sweeps
 * know the pattern), or NULL. */
static char *temp_template(const char *path)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof(".tmp-XXXXXX"));
    if (tmp) {
        memcpy(tmp, path, plen);
        memcpy(tmp + plen, ".tmp-XXXXXX", sizeof(".tmp-XXXXXX"));
    }
    return tmp;
}

/* durable: fsync the file before the rename; sync_dir: then fsync the
 * directory too (else the caller does, once for several files). */
static int write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                        int durable, int sync_dir, acme__err *err)
{
    char *tmp = temp_template(path);
    if (!tmp)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    /* mkstemp creates 0600; fchmod sets the wanted mode before any data. */
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return acme__fail(err, ACME_ERR_IO, "cannot create a temporary file beside %s: %s",
                          path, strerror(e));
    }
    const char *step = "write";
    if (fchmod(fd, mode) != 0)
        step = "chmod";
    else if (write_all(fd, data, len) != 0)
        step = "write";
    else if (durable && fsync(fd) != 0)
        step = "fsync";
    else
        step = NULL;
    int e = errno;
    if (close(fd) != 0 && !step) {
        step = "close";
        e = errno;
    }
    if (!step && rename(tmp, path) != 0) {
        step = "rename";
        e = errno;
    }
    if (step) {
        unlink(tmp);
        free(tmp);
        return acme__fail(err, ACME_ERR_IO, "cannot write %s (%s: %s)", path, step,
                          strerror(e));
    }
    free(tmp);
    if (sync_dir && acme__file_sync_dir_of(path) != 0)
        return acme__fail(err, ACME_ERR_IO, "cannot sync the directory of %s: %s", path,
                          strerror(errno));
    return ACME_OK;
}

int acme__file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                            acme__err *err)
{
    return write_atomic(path, data, len, mode, 1, 1, err);
}

int acme__file_write_synced(const char *path, const void *data, size_t len, mode_t mode,
                            acme__err *err)
{
    return write_atomic(path, data, len, mode, 1, 0, err);
}

int acme__file_write_visible(const char *path, const void *data, size_t len, mode_t mode,
                             acme__err *err)
{
    return write_atomic(path, data, len, mode, 0, 0, err);
}

/* Put a new name at path in one step: make it (a hard link to `from`, or
 * a symbolic link holding `from`) under a random temporary name beside
 * path, rename that over path, fsync the directory (unless !sync_dir). */
static int name_atomic(const char *from, const char *path, int symbolic, int sync_dir,
                       acme__err *err)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t plen = strlen(path);
    char *tmp = temp_template(path);
    if (!tmp)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    /* mkstemp cannot make a link: fill in the XXXXXX as it would. */
    int r = -1, e = EEXIST;
    for (int attempt = 0; attempt < LINK_NAME_ATTEMPTS && r != 0 && e == EEXIST; attempt++) {
        unsigned char rnd[6];
        if (acme__rng(NULL, rnd, sizeof(rnd)) != 0) {
            free(tmp);
            return acme__fail(err, ACME_ERR_IO, "cannot link %s: no random bytes", path);
        }
        for (size_t i = 0; i < 6; i++)
            tmp[plen + 5 + i] = alnum[rnd[i] % (sizeof(alnum) - 1)];
        r = symbolic ? symlink(from, tmp) : link(from, tmp);
        e = r == 0 ? 0 : errno;
    }
    if (r != 0) {
        free(tmp);
        int unsupported = e == EPERM || e == EXDEV || e == EMLINK || e == ENOTSUP ||
                          e == EOPNOTSUPP || e == ENOSYS;
        return acme__fail(err, unsupported ? ACME_ERR_UNSUPPORTED : ACME_ERR_IO,
                          "cannot link %s to %s: %s", path, from, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        free(tmp);
        return acme__fail(err, ACME_ERR_IO, "cannot write %s (rename: %s)", path, strerror(e));
    }
    /* rename() does nothing when both names are hard links to one file
     * already; the temporary name must not stay behind then. (A new
     * symbolic link is its own inode: the rename always moved it.) */
    if (!symbolic)
        (void)unlink(tmp);
    free(tmp);
    if (sync_dir && acme__file_sync_dir_of(path) != 0)
        return acme__fail(err, ACME_ERR_IO, "cannot sync the directory of %s: %s", path,
                          strerror(errno));
    return ACME_OK;
}

int acme__file_link_atomic(const char *from, const char *path, acme__err *err)
{
    return name_atomic(from, path, 0, 1, err);
}

int acme__file_symlink_atomic(const char *target, const char *path, int sync_dir,
                              acme__err *err)
{
    return name_atomic(target, path, 1, sync_dir, err);
}

int acme__file_read(const char *path, size_t max, acme__buf *out, acme__err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return acme__fail(err, e == ENOENT ? ACME_ERR_NOT_FOUND : ACME_ERR_IO,
                          "cannot open %s: %s", path, strerror(e));
    }
    char chunk[4096];
    int rc = ACME_OK;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = acme__fail(err, ACME_ERR_IO, "cannot read %s: %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if (out->len + (size_t)n > max) {
            rc = acme__fail(err, ACME_ERR_TOO_LARGE, "%s is larger than %zu bytes", path, max);
            break;
        }
        if (acme__buf_append(out, chunk, (size_t)n) != ACME_OK) {
            rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory reading %s", path);
            break;
        }
    }
    acme__wipe(chunk, sizeof(chunk));
    close(fd);
    return rc;
}

/* mkdir dir, making its missing parents first: from the deepest level
 * up, so that an existing store costs no failing mkdir of / and each
 * directory above it. 0: made, 1: something was there already, -1: errno. */
static int mkdir_up(char *dir, mode_t mode)
{
    if (mkdir(dir, mode) == 0)
        return 0;
    if (errno == EEXIST)
        return 1;
    char *slash = strrchr(dir, '/');
    if (errno != ENOENT || !slash || slash == dir)
        return -1;
    *slash = '\0';
    int r = mkdir_up(dir, mode);
    *slash = '/';
    if (r < 0)
        return -1;
    if (mkdir(dir, mode) == 0)
        return 0;
    return errno == EEXIST ? 1 : -1;
}

int acme__file_mkdirs(const char *dir, mode_t mode, acme__err *err)
{
    struct stat st;
    /* The common case, an existing directory, costs one call. */
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return ACME_OK;
    char *p = acme__strdup(dir);
    if (!p)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    int r = mkdir_up(p, mode);
    int e = errno;
    free(p);
    if (r < 0)
        return acme__fail(err, ACME_ERR_IO, "cannot create directory %s: %s", dir, strerror(e));
    /* Something already there (a racing mkdir, or a file): it must be a
     * directory. */
    if (r == 1 && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        return acme__fail(err, ACME_ERR_IO, "%s is not a directory", dir);
    return ACME_OK;
}
