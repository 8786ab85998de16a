/* The built-in filesystem store: one file per key under a private root
 * directory, atomic writes (acme__file_write_atomic), and flock(2) locks
 * under <root>/locks/ that the kernel drops when their holder dies. */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "base/mem.h"

/* Directories are private (the state holds private keys); secrets are
 * readable by the owner only; the rest (chains, metadata) by anyone who
 * can reach them, which the 0700 directories already restrict. */
#define DIR_MODE 0700
#define SECRET_MODE 0600
#define PUBLIC_MODE 0644
#define LOCK_MODE 0600

/* The top-level name that holds the lock files; not usable as a key. */
#define LOCKS "locks"

/* A temporary file of acme__file_write_atomic ("<name>.tmp-XXXXXX") older
 * than this was left by a writer that crashed: a live writer renames its
 * temporary within the time of one write and fsync. */
#define STALE_TEMP_S 60

/* Levels below a locked key's directory swept for temporaries: a
 * certificate keeps its generations one level down; one more is spare. */
#define LOCK_SWEEP_DEPTH 2

/* getcwd buffer: the first size tried, then doubled until it passes
 * CWD_MAX (far beyond any working directory seen in practice). */
#define CWD_FIRST 256
#define CWD_MAX 65536

typedef struct held {
    char *name;
    int fd;
    uint64_t token; /* its fencing token, 0 for a lock taken without a lease */
} held;

typedef struct fs {
    char *root;
    pthread_mutex_t mu; /* guards the table of held locks */
    held *held;
    size_t nheld;
    size_t capheld;
} fs;

/* root + "/" + key, or root itself for an empty key; NULL on OOM. */
static char *join(const char *root, const char *key)
{
    acme__buf b = ACME__BUF_INIT;
    if (!*key)
        acme__buf_puts(&b, root);
    else
        acme__buf_printf(&b, "%s%s%s", root, strcmp(root, "/") == 0 ? "" : "/", key);
    return acme__buf_detach(&b);
}

static int reserved(const char *key)
{
    size_t n = strlen(LOCKS);
    return strncmp(key, LOCKS, n) == 0 && (key[n] == '\0' || key[n] == '/');
}

static int check_reserved(const char *key, acme__err *err)
{
    if (reserved(key))
        return acme__fail(err, ACME_ERR_INVALID,
                          "the top-level name \"" LOCKS "\" is reserved for lock files");
    return ACME_OK;
}

static int oom(acme__err *err)
{
    return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
}

/* The path of a key a callback was given (not a reserved one) in *path. */
static int key_path(const fs *f, const char *key, char **path, acme__err *err)
{
    *path = NULL;
    int rc = check_reserved(key, err);
    if (rc != ACME_OK)
        return rc;
    *path = join(f->root, key);
    return *path ? ACME_OK : oom(err);
}

/* ---- temporary files ---------------------------------------------------- */

static int alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* "<something>.tmp-XXXXXX", the name mkstemp gives the temporaries of
 * acme__file_write_atomic. */
static int temp_name(const char *name)
{
    size_t n = strlen(name);
    const size_t suffix = sizeof(".tmp-XXXXXX") - 1;
    if (n <= suffix || strncmp(name + n - suffix, ".tmp-", 5) != 0)
        return 0;
    for (size_t i = n - 6; i < n; i++)
        if (!alnum(name[i]))
            return 0;
    return 1;
}

/* For a name that looks like a temporary: non-zero when it is a regular
 * file or a symbolic link (an alias not yet renamed into place), so not a
 * key's directory that happens to be named like one, and then removed if
 * it is stale. Best effort: errors are ignored. */
static int temp_file(int dfd, const char *name, time_t now, time_t max_age)
{
    struct stat st;
    if (!temp_name(name) || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
        return 0;
    if (now - st.st_mtime > max_age)
        (void)unlinkat(dfd, name, 0);
    return 1;
}

/* Remove the stale temporaries in dir, left by writers that crashed. */
static void clean_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        (void)temp_file(dirfd(d), de->d_name, now, STALE_TEMP_S);
    closedir(d);
}

/* Remove every temporary under dir (depth levels down), whatever its age:
 * called by the holder of dir's lock, the only one who writes there, so
 * they are all left by a holder that crashed. */
static void sweep_temps(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            temp_file(dirfd(d), de->d_name, now, -1))
            continue;
        struct stat st;
        if (depth > 0 && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode)) {
            char *sub = join(dir, de->d_name);
            if (sub)
                sweep_temps(sub, depth - 1);
            free(sub);
        }
    }
    closedir(d);
}

/* ---- callbacks ---------------------------------------------------------- */

static int fs_read(const char *key, acme_buffer *out, void *userdata, acme__err *err)
{
    char *path;
    int rc = key_path(userdata, key, &path, err);
    if (rc != ACME_OK)
        return rc;
    rc = acme__file_read(path, out->max, &out->buf, err);
    free(path);
    return rc;
}

/* Before a file is put at path (a key's path, so with a '/' after the
 * root): its directory exists, without the temporaries of crashed writers.
 * swept: the writer holds the lock of a directory above, whose taking swept
 * them all (sweep_temps), and nobody else writes there: no need to look. */
static int prepare_dir_of(char *path, int swept, acme__err *err)
{
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int rc = acme__file_mkdirs(path, DIR_MODE, err);
    if (rc == ACME_OK && !swept)
        clean_temps(path);
    *slash = '/';
    return rc;
}

/* Write key's file, fsynced and renamed into place; its directory is
 * fsynced too unless path_out is given, which then gets the file's path (a
 * new string) for the caller to sync its directory once for several files. */
static int put_file(fs *f, const char *key, const void *data, size_t len, int secret, int swept,
                    char **path_out, acme__err *err)
{
    char *path;
    int rc = key_path(f, key, &path, err);
    if (rc == ACME_OK)
        rc = prepare_dir_of(path, swept, err);
    mode_t mode = secret ? SECRET_MODE : PUBLIC_MODE;
    if (rc == ACME_OK && !path_out)
        rc = acme__file_write_atomic(path, data, len, mode, err);
    else if (rc == ACME_OK)
        rc = acme__file_write_synced(path, data, len, mode, err);
    if (rc == ACME_OK && path_out) {
        *path_out = path;
        path = NULL;
    }
    free(path);
    return rc;
}

static int fs_write(const char *key, const void *data, size_t len, int secret, void *userdata,
                    acme__err *err)
{
    return put_file(userdata, key, data, len, secret, 0, NULL, err);
}

static int fs_link(const char *from_key, const char *to_key, void *userdata, acme__err *err)
{
    char *from, *path = NULL;
    int rc = key_path(userdata, from_key, &from, err);
    if (rc == ACME_OK)
        rc = key_path(userdata, to_key, &path, err);
    if (rc == ACME_OK)
        rc = prepare_dir_of(path, 0, err);
    if (rc == ACME_OK)
        rc = acme__file_link_atomic(from, path, err);
    free(from);
    free(path);
    return rc;
}

static char *fs_path(const char *key, void *userdata)
{
    const fs *f = userdata;
    return join(f->root, key);
}

static int fs_remove(const char *key, void *userdata, acme__err *err)
{
    char *path;
    int rc = key_path(userdata, key, &path, err);
    if (rc != ACME_OK)
        return rc;
    /* A key with children is a directory here: removing it removes the
     * directory once its children are gone (a dropped generation goes
     * whole), and fails while it still has some. */
    int r = unlink(path);
    int e = r != 0 ? errno : 0;
    if (r != 0 && (e == EISDIR || e == EPERM)) {
        r = rmdir(path);
        if (r != 0 && errno != ENOTDIR) /* ENOTDIR: a file after all, keep unlink's reason */
            e = errno;
    }
    if (r != 0) {
        if (e == ENOENT || e == ENOTDIR)
            rc = ACME_OK; /* not there: nothing to do */
        else
            rc = acme__fail(err, ACME_ERR_IO, "cannot remove %s: %s", path, strerror(e));
    } else if (acme__file_sync_dir_of(path) != 0) {
        rc = acme__fail(err, ACME_ERR_IO, "cannot sync the directory of %s: %s", path,
                        strerror(errno));
    }
    free(path);
    return rc;
}

static int fs_list(const char *prefix, acme_buffer *out, void *userdata, acme__err *err)
{
    char *path;
    int rc = key_path(userdata, prefix, &path, err);
    if (rc != ACME_OK)
        return rc;
    DIR *d = opendir(path);
    if (!d) {
        int e = errno;
        rc = e == ENOENT || e == ENOTDIR
                 ? ACME_OK /* nothing there lists nothing */
                 : acme__fail(err, ACME_ERR_IO, "cannot open directory %s: %s", path,
                              strerror(e));
        free(path);
        return rc;
    }
    time_t now = time(NULL);
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno != 0)
                rc = acme__fail(err, ACME_ERR_IO, "cannot read directory %s: %s", path,
                                strerror(errno));
            break;
        }
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (!*prefix && strcmp(name, LOCKS) == 0)
            continue;
        /* Temporaries are skipped, and removed when a crash left them. */
        if (temp_file(dirfd(d), name, now, STALE_TEMP_S))
            continue;
        if (!acme__store_key_valid(name))
            continue;
        rc = acme_buffer_append(out, name, strlen(name));
        if (rc == ACME_OK)
            rc = acme_buffer_append(out, "\n", 1);
        if (rc != ACME_OK)
            break;
    }
    closedir(d);
    free(path);
    return rc;
}

/* The lock file of `name`: <root>/locks/<name, '/' -> '_'>.lock. Names
 * that differ only in '/' against '_' share a file, which can only make
 * locking stricter. */
static char *lock_path(const fs *f, const char *name)
{
    acme__buf b = ACME__BUF_INIT;
    acme__buf_printf(&b, "%s%s" LOCKS "/", f->root, strcmp(f->root, "/") == 0 ? "" : "/");
    size_t start = b.len;
    acme__buf_printf(&b, "%s.lock", name);
    if (acme__buf_status(&b) == ACME_OK)
        for (size_t i = start; i < b.len; i++)
            if (b.data[i] == '/')
                b.data[i] = '_';
    return acme__buf_detach(&b);
}

static held *find_held(fs *f, const char *name)
{
    for (size_t i = 0; i < f->nheld; i++)
        if (strcmp(f->held[i].name, name) == 0)
            return &f->held[i];
    return NULL;
}

/* With f->mu held. */
static int take_lock(fs *f, const char *name, acme__err *err)
{
    if (find_held(f, name))
        return acme__fail(err, ACME_ERR_LOCKED, "lock %s is already held by this process",
                          name);
    if (f->nheld == f->capheld) {
        size_t cap = f->capheld ? f->capheld * 2 : 4;
        held *h = realloc(f->held, cap * sizeof(*h));
        if (!h)
            return oom(err);
        f->held = h;
        f->capheld = cap;
    }
    char *copy = acme__strdup(name);
    char *path = lock_path(f, name);
    if (!copy || !path) {
        free(copy);
        free(path);
        return oom(err);
    }
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int rc = acme__file_mkdirs(path, DIR_MODE, err);
    *slash = '/';
    int fd = -1;
    if (rc == ACME_OK) {
        /* O_CLOEXEC: a hook the host runs does not inherit the lock. */
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, LOCK_MODE);
        if (fd < 0)
            rc = acme__fail(err, ACME_ERR_IO, "cannot open lock file %s: %s", path,
                            strerror(errno));
    }
    if (rc == ACME_OK) {
        int r;
        do
            r = flock(fd, LOCK_EX | LOCK_NB);
        while (r != 0 && errno == EINTR);
        if (r != 0) {
            int e = errno;
            if (e == EWOULDBLOCK || e == EAGAIN)
                rc = acme__fail(err, ACME_ERR_LOCKED,
                                "lock %s is held by another process or thread (%s)", name, path);
            else
                rc = acme__fail(err, ACME_ERR_IO, "cannot lock %s: %s", path, strerror(e));
            close(fd);
        }
    }
    free(path);
    if (rc != ACME_OK) {
        free(copy);
        return rc;
    }
    f->held[f->nheld].name = copy;
    f->held[f->nheld].fd = fd;
    f->held[f->nheld].token = 0;
    f->nheld++;
    char *dir = join(f->root, name);
    if (dir)
        sweep_temps(dir, LOCK_SWEEP_DEPTH);
    free(dir);
    return ACME_OK;
}

static int fs_lock(const char *name, void *userdata, acme__err *err)
{
    fs *f = userdata;
    pthread_mutex_lock(&f->mu);
    int rc = take_lock(f, name, err);
    pthread_mutex_unlock(&f->mu);
    return rc;
}

/* ---- leases and fencing ------------------------------------------------- */

static void release(held *h);

/* The token counter of a lock lives in its lock file: TOKEN_DIGITS decimal
 * digits at offset 0, rewritten in place by the flock holder with one
 * pwrite of the same length (no temporary file for a crash to leave
 * behind, and never a shorter, torn number). Empty: no token yet. */
#define TOKEN_DIGITS 20

static int token_parse(const char *buf, size_t n, uint64_t *token)
{
    *token = 0;
    if (n == 0)
        return ACME_OK;
    if (n < TOKEN_DIGITS)
        return ACME_ERR_CORRUPT;
    for (size_t i = 0; i < TOKEN_DIGITS; i++) {
        if (buf[i] < '0' || buf[i] > '9' || *token > (UINT64_MAX - 9) / 10)
            return ACME_ERR_CORRUPT;
        *token = *token * 10 + (uint64_t)(buf[i] - '0');
    }
    return ACME_OK;
}

static int token_read_fd(int fd, const char *name, uint64_t *token, acme__err *err)
{
    char buf[TOKEN_DIGITS];
    ssize_t n;
    do
        n = pread(fd, buf, sizeof(buf), 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return acme__fail(err, ACME_ERR_IO, "cannot read the token of lock %s: %s", name,
                          strerror(errno));
    if (token_parse(buf, (size_t)n, token) != ACME_OK)
        return acme__fail(err, ACME_ERR_CORRUPT, "the token of lock %s is corrupt", name);
    return ACME_OK;
}

/* The current token of lock `name`, as whoever holds it wrote it. */
static int token_read(const fs *f, const char *name, uint64_t *token, acme__err *err)
{
    *token = 0;
    char *path = lock_path(f, name);
    if (!path)
        return oom(err);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int rc = ACME_OK;
    if (fd < 0 && errno != ENOENT)
        rc = acme__fail(err, ACME_ERR_IO, "cannot open lock file %s: %s", path, strerror(errno));
    else if (fd >= 0)
        rc = token_read_fd(fd, name, token, err);
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

/* A lease on the filesystem is the flock (held until unlock or the
 * holder's death: ttl_s does not apply) plus the next token. */
static int fs_lease(const char *name, unsigned int ttl_s, uint64_t *token, void *userdata,
                    acme__err *err)
{
    (void)ttl_s;
    fs *f = userdata;
    pthread_mutex_lock(&f->mu);
    int rc = take_lock(f, name, err);
    held *h = rc == ACME_OK ? find_held(f, name) : NULL;
    uint64_t cur = 0;
    if (h)
        rc = token_read_fd(h->fd, name, &cur, err);
    if (rc == ACME_OK && cur == UINT64_MAX)
        rc = acme__fail(err, ACME_ERR_CORRUPT, "the token of lock %s is exhausted", name);
    if (rc == ACME_OK) {
        char num[TOKEN_DIGITS + 2];
        snprintf(num, sizeof(num), "%0*" PRIu64 "\n", TOKEN_DIGITS, cur + 1);
        ssize_t w;
        do
            w = pwrite(h->fd, num, TOKEN_DIGITS + 1, 0);
        while (w < 0 && errno == EINTR);
        /* Not fdatasync'ed: the counter only has to grow among the
         * processes of one boot, which all see the page cache; a power
         * loss that drops the last write leaves no earlier holder alive
         * to write with the token given again. */
        if (w != TOKEN_DIGITS + 1)
            rc = acme__fail(err, ACME_ERR_IO, "cannot write the token of lock %s: %s", name,
                            strerror(errno));
    }
    if (rc == ACME_OK) {
        h->token = cur + 1;
        *token = cur + 1;
    } else if (h) {
        release(h); /* taken above, but without a token it is no lease */
        *h = f->held[--f->nheld];
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

/* With f->mu held: ACME_ERR_LOCKED unless token is lock's current one.
 * *held_here (may be NULL) is set when this handle holds the lock with
 * that token. */
static int fence_check_held(fs *f, const char *lock, uint64_t token, int *held_here,
                            acme__err *err)
{
    const held *h = find_held(f, lock);
    if (held_here)
        *held_here = h && h->token == token;
    /* Holding the flock with that token: nobody else can have taken the
     * lock since, so the counter still is our token. */
    if (h && h->token == token)
        return ACME_OK;
    uint64_t cur;
    int rc = token_read(f, lock, &cur, err);
    if (rc == ACME_OK && cur != token)
        rc = acme__fail(err, ACME_ERR_LOCKED,
                        "lock %s has token %" PRIu64 " now; refusing the stale token %" PRIu64,
                        lock, cur, token);
    return rc;
}

static int fence_check(fs *f, const char *lock, uint64_t token, acme__err *err)
{
    return fence_check_held(f, lock, token, NULL, err);
}

/* The fence of a change under lock (none: lock NULL), and whether this
 * handle holds that lock, so that its directory was swept on taking. */
static int fence(fs *f, const char *lock, uint64_t token, int *swept, acme__err *err)
{
    *swept = 0;
    if (!lock)
        return ACME_OK;
    pthread_mutex_lock(&f->mu);
    int rc = fence_check_held(f, lock, token, swept, err);
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int fs_renew(const char *name, uint64_t token, unsigned int ttl_s, void *userdata,
                    acme__err *err)
{
    (void)ttl_s;
    fs *f = userdata;
    pthread_mutex_lock(&f->mu);
    held *h = find_held(f, name);
    int rc = !h || h->token != token
                 ? acme__fail(err, ACME_ERR_LOCKED, "lock %s is not held with token %" PRIu64,
                              name, token)
                 : fence_check(f, name, token, err);
    pthread_mutex_unlock(&f->mu);
    return rc;
}

/* The directories of several changes, fsynced once each at the end: a
 * path per directory (of a file in it). files NULL: each change synced
 * its own. */
typedef struct dirsync {
    char **files;
    size_t n;
} dirsync;

/* Take path (a new string, or NULL: nothing) unless its directory is in. */
static void dirsync_add(dirsync *ds, char *path)
{
    if (!path)
        return;
    size_t dlen = (size_t)(strrchr(path, '/') - path), j = 0;
    while (j < ds->n &&
           !(strncmp(ds->files[j], path, dlen + 1) == 0 && !strchr(ds->files[j] + dlen + 1, '/')))
        j++;
    if (j < ds->n)
        free(path);
    else
        ds->files[ds->n++] = path;
}

/* Sync them all (while rc is ACME_OK) and free ds: the result. */
static int dirsync_done(dirsync *ds, int rc, acme__err *err)
{
    for (size_t j = 0; j < ds->n; j++) {
        if (rc == ACME_OK && acme__file_sync_dir_of(ds->files[j]) != 0)
            rc = acme__fail(err, ACME_ERR_IO, "cannot sync the directory of %s: %s",
                            ds->files[j], strerror(errno));
        free(ds->files[j]);
    }
    free(ds->files);
    return rc;
}

/* An alias is a symbolic link holding the target's path relative to the
 * key's directory: a generation switches whole for readers when
 * certs/NAME/current is renamed to point at it (acme/store.h). */
static int fs_alias(size_t n, const char *const *keys, const char *const *targets,
                    const char *lock, uint64_t token, void *userdata, acme__err *err)
{
    fs *f = userdata;
    int swept = 0;
    int rc = fence(f, lock, token, &swept, err);
    dirsync ds = { rc == ACME_OK ? calloc(n, sizeof(char *)) : NULL, 0 };
    if (rc == ACME_OK && !ds.files)
        rc = oom(err);
    for (size_t i = 0; i < n && rc == ACME_OK; i++) {
        char *path;
        rc = key_path(f, keys[i], &path, err);
        if (rc == ACME_OK)
            rc = prepare_dir_of(path, swept, err);
        if (rc == ACME_OK)
            rc = acme__file_symlink_atomic(targets[i], path, 0, err);
        dirsync_add(&ds, rc == ACME_OK ? path : NULL);
        if (rc != ACME_OK)
            free(path);
    }
    return ds.files ? dirsync_done(&ds, rc, err) : rc;
}

/* Longest alias target read back: the library's are a generation number
 * or "current/<file>". */
#define ALIAS_MAX 256

static int fs_alias_target(const char *key, char **target, void *userdata, acme__err *err)
{
    char *path;
    *target = NULL;
    int rc = key_path(userdata, key, &path, err);
    if (rc != ACME_OK)
        return rc;
    char buf[ALIAS_MAX];
    ssize_t n = readlink(path, buf, sizeof(buf));
    if (n < 0 && (errno == ENOENT || errno == EINVAL || errno == ENOTDIR))
        rc = acme__fail(err, ACME_ERR_NOT_FOUND, "%s is no alias", path);
    else if (n < 0)
        rc = acme__fail(err, ACME_ERR_IO, "cannot read the link %s: %s", path, strerror(errno));
    else if ((size_t)n == sizeof(buf))
        rc = acme__fail(err, ACME_ERR_CORRUPT, "the link %s is longer than %d bytes", path,
                        ALIAS_MAX - 1);
    else if (!(*target = acme__strndup(buf, (size_t)n)))
        rc = oom(err);
    free(path);
    return rc;
}

/* In order, the last change being the switch that readers follow: one
 * rename each, so not one transaction (atomic_commit is 0). The written
 * files' directories are fsynced once each at the end, before the commit
 * counts as durable; removals sync theirs at once. */
static int fs_commit(const acme__store_put *puts, size_t n, const char *lock, uint64_t token,
                     void *userdata, acme__err *err)
{
    fs *f = userdata;
    int swept;
    int rc = fence(f, lock, token, &swept, err);
    dirsync ds = { rc == ACME_OK && n > 1 ? calloc(n, sizeof(char *)) : NULL, 0 };
    if (rc == ACME_OK && n > 1 && !ds.files)
        rc = oom(err);
    for (size_t i = 0; i < n && rc == ACME_OK; i++) {
        char *path = NULL;
        if (puts[i].remove) {
            rc = fs_remove(puts[i].key, userdata, err);
            continue;
        }
        rc = put_file(f, puts[i].key, puts[i].data, puts[i].len, puts[i].secret, swept,
                      ds.files ? &path : NULL, err);
        dirsync_add(&ds, path);
    }
    return dirsync_done(&ds, rc, err);
}

/* LOCK_UN before close: the lock goes even if a fork()ed child still
 * shares the open file description. */
static void release(held *h)
{
    flock(h->fd, LOCK_UN);
    close(h->fd);
    free(h->name);
}

static void fs_unlock(const char *name, void *userdata)
{
    fs *f = userdata;
    pthread_mutex_lock(&f->mu);
    held *h = find_held(f, name);
    if (h) {
        release(h);
        *h = f->held[--f->nheld];
    }
    pthread_mutex_unlock(&f->mu);
}

static void fs_free(void *userdata)
{
    fs *f = userdata;
    if (!f)
        return;
    for (size_t i = 0; i < f->nheld; i++)
        release(&f->held[i]);
    free(f->held);
    pthread_mutex_destroy(&f->mu);
    free(f->root);
    free(f);
}

/* ---- constructor -------------------------------------------------------- */

/* dir as an absolute path without trailing '/' (symbolic links are kept,
 * so that acme_store_path gives the paths the host configured). */
static int absolute(const char *dir, char **out)
{
    acme__buf b = ACME__BUF_INIT;
    if (dir[0] != '/') {
        size_t size = CWD_FIRST;
        for (;;) {
            char *cwd = malloc(size);
            if (!cwd)
                return acme__fail(NULL, ACME_ERR_NOMEM, "store: out of memory");
            if (getcwd(cwd, size)) {
                acme__buf_puts(&b, cwd);
                if (strcmp(cwd, "/") != 0)
                    acme__buf_putc(&b, '/');
                free(cwd);
                break;
            }
            int e = errno;
            free(cwd);
            if (e != ERANGE || size > CWD_MAX) {
                acme__buf_free(&b);
                return acme__fail(NULL, ACME_ERR_IO, "store: cannot get the current directory: %s",
                                  strerror(e));
            }
            size *= 2;
        }
    }
    acme__buf_puts(&b, dir);
    if (acme__buf_status(&b) == ACME_OK)
        while (b.len > 1 && b.data[b.len - 1] == '/')
            b.data[--b.len] = '\0';
    *out = acme__buf_detach(&b);
    return *out ? ACME_OK : acme__fail(NULL, ACME_ERR_NOMEM, "store: out of memory");
}

int acme_store_new_fs(acme_store **out, const char *dir)
{
    if (!out)
        return acme__fail(NULL, ACME_ERR_INVALID, "store: NULL output");
    *out = NULL;
    if (!dir || !*dir)
        return acme__fail(NULL, ACME_ERR_INVALID, "store: no directory given");
    char *root = NULL;
    int rc = absolute(dir, &root);
    if (rc != ACME_OK)
        return rc;
    acme__err why = ACME__ERR_QUIET;
    rc = acme__file_mkdirs(root, DIR_MODE, &why);
    if (rc != ACME_OK) {
        free(root);
        acme__fail(NULL, rc, "store: %s", why.msg);
        acme__err_clear(&why);
        return rc;
    }
    fs *f = calloc(1, sizeof(*f));
    if (!f || pthread_mutex_init(&f->mu, NULL) != 0) {
        free(f);
        free(root);
        return acme__fail(NULL, ACME_ERR_NOMEM, "store: out of memory");
    }
    f->root = root;
    static const acme__store_backend backend = {
        fs_read,  fs_write, fs_remove, fs_list,   fs_lock,   fs_unlock,
        fs_path,  fs_link,  fs_lease,  fs_renew,  fs_commit, 0,
        fs_alias, fs_alias_target,
    };
    return acme__store_new_backend(out, &backend, f, fs_free, NULL);
}
