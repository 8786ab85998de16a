/* The filesystem store where child processes are needed: a read-only
 * directory (the child drops root), a write that hits RLIMIT_FSIZE, and
 * flock locks across threads and forked processes, including a holder
 * killed with SIGKILL. Everything lives in a mkdtemp directory. */
#include <acme.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "base/mem.h"
#include "store/store.h"

#include "files.h"
#include "unit/unit.h"

/* Exit status of a child that had to skip its checks. */
#define SKIP 77

static char tmpdir[] = "/tmp/test-store-processes-XXXXXX";

/* ---- helpers ------------------------------------------------------------ */

/* fork(), with stderr flushed first so that the child does not print the
 * parent's buffered output again. */
static pid_t start_child(void)
{
    fflush(stderr);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    return pid;
}

/* One byte from fd, or 0 at EOF or on error. */
static char read_byte(int fd)
{
    char c = 0;
    while (read(fd, &c, 1) < 0 && errno == EINTR)
        ;
    return c;
}

/* Wait for a child; its exit status, or -1 when it did not exit. */
static int wait_child(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A child's checks: its failures decide its exit status. */
static void child_done(void)
{
    fprintf(stderr, "child %ld: %d checks, %d failed\n", (long)getpid(), check_count,
            check_failures);
    fflush(stderr);
    _exit(check_failures ? 1 : 0);
}

static void child_result(const char *what, int status)
{
    if (status == SKIP)
        fprintf(stderr, "SKIP: %s (see the child's message above)\n", what);
    else
        CHECK_MSG(status == 0, "%s: the child failed (status %d)", what, status);
}


/* ---- failing writes ----------------------------------------------------- */

/* A write into a directory the writer may not change fails with
 * ACME_ERR_IO and keeps the old value. Run in a child, which drops root
 * (where permissions would not bind) to nobody if it can. */
static void readonly_child(const char *dir)
{
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) {
        fprintf(stderr, "running as root and cannot drop to uid 65534 (%s): skipping the "
                        "read-only directory check\n", strerror(errno));
        _exit(SKIP);
    }
    acme_store *s = NULL;
    REQUIRE_OK(acme_store_new_fs(&s, dir));
    CHECK_OK(acme_store_put(s, "d/v", "old", 3, 0));
    char *d = test_path(dir, "d");
    REQUIRE_ZERO(chmod(d, 0500));
    char *probe = test_path(d, "probe");
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
        close(fd);
        unlink(probe);
        chmod(d, 0700);
        fprintf(stderr, "permissions do not bind for this user: skipping the read-only "
                        "directory check\n");
        _exit(SKIP);
    }
    CHECK_RC(acme_store_put(s, "d/v", "new", 3, 0), ACME_ERR_IO);
    const char *msg = acme_last_error();
    CHECK_MSG(strstr(msg, "store: cannot write d/v: ") && strstr(msg, "Permission denied"),
              "message: %s", msg);
    test_check_stored(s, "d/v", "old");
    acme__err err = { 0 };
    CHECK_RC(acme__store_remove(s, "d/v", &err), ACME_ERR_IO);
    CHECK_MSG(strstr(err.msg, "store: cannot remove d/v: "), "message: %s", err.msg);
    test_check_stored(s, "d/v", "old");
    CHECK(test_count_temps(dir) == 0);
    REQUIRE_ZERO(chmod(d, 0700));
    CHECK_OK(acme_store_put(s, "d/v", "new", 3, 0));
    test_check_stored(s, "d/v", "new");
    acme__err_clear(&err);
    acme_store_free(s);
    free(probe);
    free(d);
    child_done();
}

static void test_fs_readonly(const char *root)
{
    /* static: reachable (not leaked) in the child, which never returns */
    static char *dir;
    dir = test_path(root, "ro");
    REQUIRE_ZERO(mkdir(dir, 0700));
    if (geteuid() == 0) {
        /* nobody must reach it: traverse-only for the parent. */
        REQUIRE_ZERO(chmod(root, 0711));
        REQUIRE_ZERO(chown(dir, 65534, 65534));
    }
    pid_t pid = start_child();
    if (pid == 0)
        readonly_child(dir);
    child_result("read-only directory", wait_child(pid));
    if (geteuid() == 0)
        chmod(root, 0700);
    free(dir);
}

/* A write whose data cannot all be written (here: RLIMIT_FSIZE, which
 * binds root as well, in place of a full disk) fails cleanly: ACME_ERR_IO,
 * the old value intact, no temporary left behind. */
static void test_fs_write_fails(const char *root)
{
    char *dir = test_path(root, "full");
    pid_t pid = start_child();
    if (pid == 0) {
        acme_store *s = NULL;
        REQUIRE_OK(acme_store_new_fs(&s, dir));
        CHECK_OK(acme_store_put(s, "certs/x/chain.pem", "old", 3, 0));
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl;
        REQUIRE_ZERO(getrlimit(RLIMIT_FSIZE, &rl));
        rl.rlim_cur = 1000;
        REQUIRE_ZERO(setrlimit(RLIMIT_FSIZE, &rl));
        static char big[8192];
        memset(big, 'x', sizeof(big));
        CHECK_RC(acme_store_put(s, "certs/x/chain.pem", big, sizeof(big), 0), ACME_ERR_IO);
        const char *msg = acme_last_error();
        CHECK_MSG(strstr(msg, "store: cannot write certs/x/chain.pem: ") &&
                      strstr(msg, "File too large"),
                  "message: %s", msg);
        CHECK_RC(acme_store_put(s, "certs/x/new.pem", big, sizeof(big), 1), ACME_ERR_IO);
        test_check_stored(s, "certs/x/chain.pem", "old");
        char *none = NULL;
        CHECK_RC(acme_store_get(s, "certs/x/new.pem", &none, NULL), ACME_ERR_NOT_FOUND);
        CHECK(test_count_temps(dir) == 0);
        acme_store_free(s);
        free(dir);
        child_done();
    }
    child_result("failing write", wait_child(pid));
    free(dir);
}

/* ---- locks -------------------------------------------------------------- */

typedef struct lock_try {
    acme_store *s;
    const char *name;
    int rc;
    char msg[512];
} lock_try;

static void *lock_thread(void *arg)
{
    lock_try *t = arg;
    acme__err err = { 0 };
    t->rc = acme__store_lock(t->s, t->name, &err);
    snprintf(t->msg, sizeof(t->msg), "%s", acme_last_error());
    if (t->rc == ACME_OK)
        acme__store_unlock(t->s, t->name);
    acme__err_clear(&err);
    return NULL;
}

static int lock_in_thread(acme_store *s, const char *name, char *msg, size_t msgsize)
{
    lock_try t = { s, name, 12345, "" };
    pthread_t th;
    REQUIRE_ZERO(pthread_create(&th, NULL, lock_thread, &t));
    REQUIRE_ZERO(pthread_join(th, NULL));
    if (msg)
        snprintf(msg, msgsize, "%s", t.msg);
    return t.rc;
}

/* In a child: a fresh store on dir and one attempt at the lock; exits
 * 0 when the result is `want`. */
static int lock_in_child(const char *dir, const char *name, int want)
{
    pid_t pid = start_child();
    if (pid == 0) {
        acme_store *s = NULL;
        REQUIRE_OK(acme_store_new_fs(&s, dir));
        CHECK_RC(acme__store_lock(s, name, NULL), want);
        acme_store_free(s);
        child_done();
    }
    return wait_child(pid);
}

static void test_fs_locks(const char *root)
{
    /* static: reachable (not leaked) in the children, which never return */
    static char *dir, *lockfile, *lockdir;
    dir = test_path(root, "lockstate");
    acme_store *s = NULL, *s2 = NULL;
    REQUIRE_OK(acme_store_new_fs(&s, dir));
    REQUIRE_OK(acme_store_new_fs(&s2, dir));
    acme__err err = { 0 };
    const char *name = "certs/example.com";

    CHECK_OK(acme__store_lock(s, name, &err));
    lockfile = test_path(dir, "locks/certs_example.com.lock");
    lockdir = test_path(dir, "locks");
    CHECK_MSG(test_mode(lockfile) == 0600, "%s mode %04o", lockfile, (unsigned)test_mode(lockfile));
    CHECK(test_mode(lockdir) == 0700);

    /* Held: the same store, another store, another thread, another process. */
    CHECK_RC(acme__store_lock(s, name, &err), ACME_ERR_LOCKED);
    CHECK_MSG(strstr(err.msg, "store: cannot lock certs/example.com: "), "%s", err.msg);
    CHECK_RC(acme__store_lock(s2, name, &err), ACME_ERR_LOCKED);
    CHECK_MSG(strstr(err.msg, "held by another process or thread"), "%s", err.msg);
    char msg[512];
    CHECK_RC(lock_in_thread(s, name, msg, sizeof(msg)), ACME_ERR_LOCKED);
    CHECK_RC(lock_in_thread(s2, name, msg, sizeof(msg)), ACME_ERR_LOCKED);
    CHECK_MSG(strstr(msg, "certs/example.com"), "%s", msg);
    CHECK_MSG(lock_in_child(dir, name, ACME_ERR_LOCKED) == 0, "a child took a held lock");
    /* Other names are free. */
    CHECK_OK(lock_in_thread(s2, "certs/other.example", NULL, 0));
    CHECK_MSG(lock_in_child(dir, "accounts/x", ACME_OK) == 0, "a child could not lock");

    /* Released: everyone may take it. */
    acme__store_unlock(s, name);
    CHECK_OK(lock_in_thread(s2, name, NULL, 0));
    CHECK_MSG(lock_in_child(dir, name, ACME_OK) == 0, "a child could not take a free lock");
    CHECK_OK(acme__store_lock(s, name, &err));
    acme__store_unlock(s, name);
    acme__store_unlock(s, name); /* twice: nothing happens */
    acme__store_unlock(s, "never/locked");
    acme__store_unlock(s, "../bad");

    /* A lock taken while a fork()ed child shares the descriptor is still
     * released by unlock. */
    CHECK_OK(acme__store_lock(s, name, &err));
    int gate[2];
    REQUIRE_ZERO(pipe(gate));
    pid_t sharer = start_child();
    if (sharer == 0) {
        close(gate[1]);
        read_byte(gate[0]);
        _exit(0);
    }
    close(gate[0]);
    acme__store_unlock(s, name);
    CHECK_OK(lock_in_thread(s2, name, NULL, 0));
    close(gate[1]);
    CHECK(wait_child(sharer) == 0);

    /* A holder killed with SIGKILL leaves no stale lock. */
    int pfd[2];
    REQUIRE_ZERO(pipe(pfd));
    pid_t holder = start_child();
    if (holder == 0) {
        close(pfd[0]);
        acme_store *cs = NULL;
        char r = 'n';
        if (acme_store_new_fs(&cs, dir) == ACME_OK && acme__store_lock(cs, name, NULL) == ACME_OK)
            r = 'y';
        if (write(pfd[1], &r, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(pfd[1]);
    char r = read_byte(pfd[0]);
    close(pfd[0]);
    CHECK_MSG(r == 'y', "the child could not take the lock");
    CHECK_RC(acme__store_lock(s, name, &err), ACME_ERR_LOCKED);
    kill(holder, SIGKILL);
    CHECK(wait_child(holder) == -1);
    CHECK_OK(acme__store_lock(s, name, &err));
    acme__store_unlock(s, name);

    /* Freeing a store releases its locks. */
    CHECK_OK(acme__store_lock(s2, name, &err));
    CHECK_OK(acme__store_lock(s2, "accounts/a/b", &err));
    CHECK_RC(acme__store_lock(s, name, &err), ACME_ERR_LOCKED);
    acme_store_free(s2);
    CHECK_OK(acme__store_lock(s, name, &err));
    CHECK_OK(acme__store_lock(s, "accounts/a/b", &err));
    acme__store_unlock(s, "accounts/a/b");

    /* Bad names never touch the disk. */
    CHECK_RC(acme__store_lock(s, "../x", &err), ACME_ERR_INVALID);
    CHECK_RC(acme__store_lock(s, "", &err), ACME_ERR_INVALID);
    CHECK_RC(acme__store_lock(NULL, "x", &err), ACME_ERR_INVALID);

    /* Locks are not listed with the keys. */
    CHECK_OK(acme_store_put(s, "certs/a/meta.json", "{}", 2, 0));
    char **names = NULL;
    size_t n = 0;
    CHECK_OK(acme__store_list(s, "certs", &names, &n, &err));
    CHECK(n == 1 && test_has_name(names, n, "a"));
    acme__free_strv(names, n);

    acme__err_clear(&err);
    acme_store_free(s); /* still holds `name` */
    free(lockfile);
    free(lockdir);
    free(dir);
}


int main(void)
{
    REQUIRE_ZERO(mkdtemp(tmpdir) == NULL);
    test_fs_readonly(tmpdir);
    test_fs_write_fails(tmpdir);
    test_fs_locks(tmpdir);
    test_remove_tree(tmpdir);
    CHECK(!test_exists(tmpdir));
    return check_done();
}
