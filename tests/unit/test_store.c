/* The store: key rules and segments, the generic wrapper over host
 * callbacks, and the built-in filesystem store (atomic writes, modes,
 * lists, temporary-file cleanup). Everything lives in a mkdtemp directory.
 * What needs child processes (read-only directories, failing writes, locks
 * across processes) is tests/integration/test_store_processes.c. */
#include <acme.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/mem.h"
#include "store/cert_store.h"
#include "store/retention.h"
#include "store/store.h"
#include "store/store_layout.h"

#include "files.h"
#include "unit.h"

static char tmpdir[] = "/tmp/test-store-XXXXXX";

/* ---- helpers ------------------------------------------------------------ */

static void make_file(const char *path, const char *content, time_t age)
{
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs(content, f);
    fclose(f);
    if (age) {
        struct timespec ts[2];
        ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
        ts[0].tv_nsec = ts[1].tv_nsec = 0;
        REQUIRE_ZERO(utimensat(AT_FDCWD, path, ts, 0));
    }
}

/* A filesystem store in root/name; *state is that directory (free()). */
static acme_store *fs_store(const char *root, const char *name, char **state)
{
    *state = test_path(root, name);
    acme_store *s = NULL;
    REQUIRE_OK(acme_store_new_fs(&s, *state));
    return s;
}

/* ---- keys and segments -------------------------------------------------- */

static void test_keys(void)
{
    static const char *good[] = {
        "a", "certs", "certs/example.com/meta.json", "certs/example.com/3/key.pem",
        "accounts/127.0.0.1_14000_dir/admin@example.com/key.pem", "a/.../b", "x+y-z_@.",
        "...", ".a", "a.", "A/B/C/D/E/F",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        CHECK_MSG(acme__store_key_valid(good[i]), "\"%s\" should be valid", good[i]);

    static const char *bad[] = {
        "", "/a", "a/", "a//b", "a/../b", "a/./b", ".", "..", "../a", "a/..", "a b", "a\\b",
        "\xc3\xa4", "a\nb", "a:b", "a*b", "/", "//", "a\tb", "~user", "a/b/",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_MSG(!acme__store_key_valid(bad[i]), "\"%s\" should be invalid", bad[i]);
    CHECK(!acme__store_key_valid(NULL));

    /* Total length: 1024 is the most. */
    char longkey[1100];
    memset(longkey, 'a', sizeof(longkey));
    for (size_t i = 100; i < sizeof(longkey); i += 100)
        longkey[i] = '/';
    longkey[1024] = '\0';
    CHECK(acme__store_key_valid(longkey));
    longkey[1024] = 'b';
    longkey[1025] = '\0';
    CHECK(!acme__store_key_valid(longkey));
}

static void check_segment(const char *label, const char *want)
{
    char *seg = acme__store_segment(label);
    REQUIRE(seg != NULL);
    CHECK_STR(seg, want);
    CHECK_MSG(acme__store_key_valid(seg) && !strchr(seg, '/'), "\"%s\" is not a segment", seg);
    char *again = acme__store_segment(seg); /* a segment stays as it is */
    REQUIRE(again != NULL);
    CHECK_STR(again, seg);
    free(again);
    free(seg);
}

static void test_segments(void)
{
    check_segment("https://127.0.0.1:14000/dir", "127.0.0.1_14000_dir");
    check_segment("https://acme-v02.api.letsencrypt.org/directory",
                  "acme-v02.api.letsencrypt.org_directory");
    check_segment("HTTP://ca.example/", "ca.example_");
    check_segment("admin@example.com", "admin@example.com");
    check_segment("mailto:admin@example.com", "admin@example.com");
    check_segment("a b/c\\d:e", "a_b_c_d_e");
    check_segment("\xc3\xa4", "__");
    check_segment("", "_");
    check_segment(NULL, "_");
    check_segment(".", "_");
    check_segment("..", "__");
    check_segment("...", "...");
    check_segment("https://", "_");
    check_segment("://x", "___x");
    check_segment("1http://x", "1http___x");
    check_segment("a\nb", "a_b");

    /* Long labels are cut, and keep apart by a hash of the whole. */
    char a[400], b[400];
    memset(a, 'x', sizeof(a) - 1);
    a[sizeof(a) - 1] = '\0';
    memcpy(b, a, sizeof(a));
    b[sizeof(b) - 2] = 'y';
    char *sa = acme__store_segment(a);
    char *sb = acme__store_segment(b);
    REQUIRE(sa && sb);
    CHECK(strlen(sa) <= 200 && strlen(sb) <= 200);
    CHECK(strcmp(sa, sb) != 0);
    CHECK(acme__store_key_valid(sa) && acme__store_key_valid(sb));
    char *sa2 = acme__store_segment(a);
    CHECK_STR(sa, sa2);
    free(sa);
    free(sb);
    free(sa2);
}

/* rc and *key of a call that made *key: key passed by address, as it is
 * read after the call. */
static void check_key_rc(int rc, char **keyp, const char *want)
{
    char *key = *keyp;
    *keyp = NULL;
    CHECK_MSG(want ? rc == ACME_OK && key && strcmp(key, want) == 0 : rc == ACME_ERR_INVALID && !key,
              "rc %d, key \"%s\", wanted \"%s\"", rc, key ? key : "(null)", want ? want : "(null)");
    acme_free(key);
}

/* The layout as the public API gives it. */
static void test_layout(void)
{
    char *key = NULL;
    check_key_rc(acme_store_cert_key("www.example", ACME_STORE_FILE_CHAIN, &key), &key,
                 "certs/www.example/chain.pem");
    check_key_rc(acme_store_cert_key("www.example", ACME_STORE_FILE_KEY, &key), &key,
                 "certs/www.example/key.pem");
    check_key_rc(acme_store_cert_key("www.example", ACME_STORE_FILE_META, &key), &key,
                 "certs/www.example/meta.json");
    check_key_rc(acme_store_cert_key("a/b", ACME_STORE_FILE_KEY, &key), &key, NULL);
    check_key_rc(acme_store_cert_key("locks", ACME_STORE_FILE_KEY, &key), &key, NULL);
    check_key_rc(acme_store_cert_key("x", 0, &key), &key, NULL);
    check_key_rc(acme_store_cert_key(NULL, ACME_STORE_FILE_KEY, &key), &key, NULL);
    CHECK_RC(acme_store_cert_key("x", ACME_STORE_FILE_KEY, NULL), ACME_ERR_INVALID);

    check_key_rc(acme_store_account_key("https://ca.example/dir", "mailto:a@b.example",
                                        ACME_STORE_FILE_KEY, &key),
                 &key, "accounts/ca.example_dir/a@b.example/key.pem");
    check_key_rc(acme_store_account_key("https://ca.example/dir", NULL, ACME_STORE_FILE_META,
                                        &key),
                 &key, "accounts/ca.example_dir/default/account.json");
    /* Listed segments give the same keys. */
    check_key_rc(acme_store_account_key("ca.example_dir", "a@b.example", ACME_STORE_FILE_KEY, &key),
                 &key, "accounts/ca.example_dir/a@b.example/key.pem");
    check_key_rc(acme_store_account_key("https://ca.example/dir", "a@b.example",
                                        ACME_STORE_FILE_CHAIN, &key),
                 &key, NULL);
    check_key_rc(acme_store_account_key(NULL, "a@b.example", ACME_STORE_FILE_KEY, &key), &key,
                 NULL);

    char name[300];
    memset(name, 'n', sizeof(name));
    name[255] = '\0';
    CHECK(acme_desire_name_valid(name));
    name[255] = 'n';
    name[256] = '\0';
    CHECK(!acme_desire_name_valid(name));
    CHECK(acme_desire_name_valid("_.wild.example"));
    CHECK(!acme_desire_name_valid("*.wild.example"));
    CHECK(!acme_desire_name_valid(".."));
    CHECK(!acme_desire_name_valid(""));
    CHECK(!acme_desire_name_valid(NULL));
}

static void test_buffer(void)
{
    acme_buffer b = { ACME__BUF_INIT, 4, 0 };
    CHECK_OK(acme_buffer_append(&b, "abc", 3));
    CHECK_OK(acme_buffer_append(&b, "d", 1));
    CHECK_RC(acme_buffer_append(&b, "e", 1), ACME_ERR_TOO_LARGE);
    CHECK(b.too_large);
    CHECK(b.buf.len == 4 && memcmp(b.buf.data, "abcd", 4) == 0);
    CHECK_RC(acme_buffer_append(&b, "", 0), ACME_ERR_TOO_LARGE); /* sticky */
    CHECK_RC(acme_buffer_append(NULL, "x", 1), ACME_ERR_INVALID);
    acme_buffer c = { ACME__BUF_INIT, 10, 0 };
    CHECK_RC(acme_buffer_append(&c, NULL, 1), ACME_ERR_INVALID);
    CHECK_RC(acme_buffer_append(&c, "x", (size_t)-1), ACME_ERR_TOO_LARGE);
    acme__buf_free(&b.buf);
    acme__buf_free(&c.buf);
}

/* ---- filesystem store --------------------------------------------------- */

static void test_fs_basic(const char *root)
{
    CHECK_RC(acme_store_new_fs(NULL, root), ACME_ERR_INVALID);
    acme_store *s = (acme_store *)1;
    CHECK_RC(acme_store_new_fs(&s, ""), ACME_ERR_INVALID);
    CHECK(s == NULL);
    CHECK_RC(acme_store_new_fs(&s, NULL), ACME_ERR_INVALID);

    char *state = test_path(root, "state/deeper");
    REQUIRE_OK(acme_store_new_fs(&s, state));
    CHECK(test_mode(state) == 0700);

    /* Binary data with NUL bytes goes through unchanged, NUL-terminated. */
    static const char bin[] = { 'a', '\0', 'b', '\0', '\0', 'c', '\xff' };
    CHECK_OK(acme_store_put(s, "certs/x/bin", bin, sizeof(bin), 0));
    char *data = NULL;
    size_t len = 0;
    CHECK_OK(acme_store_get(s, "certs/x/bin", &data, &len));
    CHECK(len == sizeof(bin) && data && memcmp(data, bin, len) == 0 && data[len] == '\0');
    acme_free(data);

    /* An empty value is a value. */
    CHECK_OK(acme_store_put(s, "certs/x/empty", NULL, 0, 0));
    data = NULL;
    CHECK_OK(acme_store_get(s, "certs/x/empty", &data, &len));
    CHECK(data && len == 0 && data[0] == '\0');
    acme_free(data);
    CHECK_RC(acme_store_put(s, "certs/x/bad", NULL, 3, 0), ACME_ERR_INVALID);

    /* Overwrite. */
    CHECK_OK(acme_store_put(s, "certs/x/v", "one", 3, 0));
    CHECK_OK(acme_store_put(s, "certs/x/v", "two!", 4, 0));
    test_check_stored(s, "certs/x/v", "two!");
    /* get with no length wanted */
    data = NULL;
    CHECK_OK(acme_store_get(s, "certs/x/v", &data, NULL));
    CHECK_STR(data, "two!");
    acme_free(data);

    /* Missing keys. */
    data = (char *)1;
    CHECK_RC(acme_store_get(s, "certs/none/meta.json", &data, &len), ACME_ERR_NOT_FOUND);
    CHECK(data == NULL && len == 0);
    CHECK_MSG(strstr(acme_last_error(), "store: cannot read certs/none/meta.json") != NULL,
              "%s", acme_last_error());
    CHECK_RC(acme_store_get(s, "never", &data, &len), ACME_ERR_NOT_FOUND);
    acme__err err = { 0 };
    CHECK_OK(acme__store_remove(s, "certs/none/meta.json", &err));
    CHECK_OK(acme__store_remove(s, "certs/x/v/under-a-file", &err));
    CHECK_OK(acme__store_remove(s, "certs/x/v", &err));
    CHECK_RC(acme_store_get(s, "certs/x/v", &data, &len), ACME_ERR_NOT_FOUND);
    CHECK_OK(acme__store_remove(s, "certs/x/v", &err));

    /* Malformed keys never reach the filesystem. */
    CHECK_RC(acme_store_get(s, "../escape", &data, &len), ACME_ERR_INVALID);
    CHECK_MSG(strstr(acme_last_error(), "../escape") != NULL, "%s", acme_last_error());
    CHECK_RC(acme_store_put(s, "/etc/passwd", "x", 1, 0), ACME_ERR_INVALID);
    CHECK_RC(acme_store_put(s, "a//b", "x", 1, 0), ACME_ERR_INVALID);
    CHECK_RC(acme__store_remove(s, "a/../b", &err), ACME_ERR_INVALID);
    CHECK(err.code == ACME_ERR_INVALID);
    CHECK_RC(acme_store_get(NULL, "a", &data, &len), ACME_ERR_INVALID);
    CHECK_RC(acme_store_get(s, NULL, &data, &len), ACME_ERR_INVALID);
    CHECK_RC(acme_store_get(s, "a", NULL, &len), ACME_ERR_INVALID);
    CHECK_RC(acme_store_put(NULL, "a", "x", 1, 0), ACME_ERR_INVALID);

    /* The lock directory is not a key. */
    CHECK_RC(acme_store_put(s, "locks/x.lock", "x", 1, 0), ACME_ERR_INVALID);
    CHECK_RC(acme_store_put(s, "locks", "x", 1, 0), ACME_ERR_INVALID);
    CHECK_OK(acme_store_put(s, "locksmith/x", "x", 1, 0));

    /* A key that is a directory is an I/O error, not a value. */
    CHECK_RC(acme_store_get(s, "certs/x", &data, &len), ACME_ERR_IO);
    CHECK_RC(acme_store_put(s, "certs", "x", 1, 0), ACME_ERR_IO);

    /* Paths. */
    char *p = NULL;
    CHECK_OK(acme_store_path(s, "certs/x/1/chain.pem", &p));
    char *want = test_path(state, "certs/x/1/chain.pem");
    CHECK_STR(p, want);
    acme_free(p);
    free(want);
    p = (char *)1;
    CHECK_RC(acme_store_path(s, "certs/../x", &p), ACME_ERR_INVALID);
    CHECK(p == NULL);
    CHECK_RC(acme_store_path(s, "", &p), ACME_ERR_INVALID);
    CHECK_RC(acme_store_path(NULL, "a", &p), ACME_ERR_INVALID);
    CHECK_RC(acme_store_path(s, "a", NULL), ACME_ERR_INVALID);
    CHECK(test_count_temps(state) == 0);
    acme__err_clear(&err);
    acme_store_free(s);
    acme_store_free(NULL);

    /* Trailing slashes are dropped; a relative root becomes absolute. */
    char *slashed = test_path(root, "state2///");
    REQUIRE_OK(acme_store_new_fs(&s, slashed));
    CHECK_OK(acme_store_path(s, "k", &p));
    want = test_path(root, "state2/k");
    CHECK_STR(p, want);
    acme_free(p);
    free(want);
    acme_store_free(s);
    free(slashed);

    int cwd = open(".", O_RDONLY | O_DIRECTORY);
    REQUIRE(cwd >= 0);
    REQUIRE_ZERO(chdir(root));
    char real[PATH_MAX];
    REQUIRE_ZERO(getcwd(real, sizeof(real)) == NULL);
    REQUIRE_OK(acme_store_new_fs(&s, "rel/"));
    REQUIRE_ZERO(fchdir(cwd));
    close(cwd);
    CHECK_OK(acme_store_put(s, "k", "v", 1, 0));
    CHECK_OK(acme_store_path(s, "k", &p));
    want = test_path(real, "rel/k");
    CHECK_STR(p, want);
    CHECK(p && test_exists(p));
    acme_free(p);
    free(want);
    acme_store_free(s);
    free(state);
}

static void test_fs_modes(const char *root)
{
    char *state = NULL;
    acme_store *s = fs_store(root, "modes", &state);
    CHECK_OK(acme_store_put(s, "certs/x/1/key.pem", "SECRET", 6, 1));
    CHECK_OK(acme_store_put(s, "certs/x/1/chain.pem", "CHAIN", 5, 0));
    CHECK_OK(acme_store_put(s, "certs/x/meta.json", "{}", 2, 0));
    /* A secret rewritten stays a secret; a value rewritten as one becomes one. */
    CHECK_OK(acme_store_put(s, "certs/x/1/key.pem", "SECRET2", 7, 1));
    CHECK_OK(acme_store_put(s, "certs/x/now-secret", "a", 1, 0));
    CHECK_OK(acme_store_put(s, "certs/x/now-secret", "b", 1, 1));

    static const struct {
        const char *rel;
        int mode;
    } want[] = {
        { "", 0700 },
        { "certs", 0700 },
        { "certs/x", 0700 },
        { "certs/x/1", 0700 },
        { "certs/x/1/key.pem", 0600 },
        { "certs/x/1/chain.pem", 0644 },
        { "certs/x/meta.json", 0644 },
        { "certs/x/now-secret", 0600 },
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        char *p = *want[i].rel ? test_path(state, want[i].rel) : acme__strdup(state);
        int m = test_mode(p);
        CHECK_MSG(m == want[i].mode, "%s has mode %04o, wanted %04o", p, (unsigned)m,
                  (unsigned)want[i].mode);
        free(p);
    }
    test_check_stored(s, "certs/x/1/key.pem", "SECRET2");
    CHECK_MSG(test_count_temps(state) == 0, "temporary files left under %s", state);
    acme_store_free(s);
    free(state);
}

static void test_fs_list(const char *root)
{
    char *state = NULL;
    acme_store *s = fs_store(root, "list", &state);
    acme__err err = { 0 };
    char **names = NULL;
    size_t n = 99;

    /* Nothing there lists nothing. */
    CHECK_OK(acme__store_list(s, "certs", &names, &n, &err));
    CHECK(n == 0);
    acme__free_strv(names, n);

    CHECK_OK(acme_store_put(s, "certs/a/meta.json", "{}", 2, 0));
    CHECK_OK(acme_store_put(s, "certs/b/meta.json", "{}", 2, 0));
    char *certs = test_path(state, "certs");
    char *stale = test_path(certs, "x.tmp-123456");
    char *fresh = test_path(certs, "y.tmp-AbC123");
    char *bad = test_path(certs, "bad name");
    make_file(stale, "left by a crash", 3600);
    make_file(fresh, "being written", 0);
    make_file(bad, "not a key", 0);

    CHECK_OK(acme__store_list(s, "certs", &names, &n, &err));
    CHECK_MSG(n == 2, "listed %zu names", n);
    CHECK(test_has_name(names, n, "a") && test_has_name(names, n, "b"));
    CHECK(names && names[n] == NULL);
    acme__free_strv(names, n);
    CHECK_MSG(!test_exists(stale), "the stale temporary %s was not removed", stale);
    CHECK_MSG(test_exists(fresh), "a fresh temporary (a live writer's) was removed");
    CHECK(test_exists(bad));

    /* A directory named like a temporary is a key, not a temporary. */
    char *tmpdir_key = test_path(certs, "d.tmp-qwerty");
    REQUIRE_ZERO(mkdir(tmpdir_key, 0700));
    struct timespec old[2] = { { time(NULL) - 3600, 0 }, { time(NULL) - 3600, 0 } };
    REQUIRE_ZERO(utimensat(AT_FDCWD, tmpdir_key, old, 0));
    CHECK_OK(acme__store_list(s, "certs", &names, &n, &err));
    CHECK(n == 3 && test_has_name(names, n, "d.tmp-qwerty"));
    acme__free_strv(names, n);
    CHECK(test_exists(tmpdir_key));

    /* Files and directories are both children. */
    CHECK_OK(acme_store_put(s, "certs/a/1/key.pem", "k", 1, 1));
    CHECK_OK(acme__store_list(s, "certs/a", &names, &n, &err));
    CHECK(n == 2 && test_has_name(names, n, "meta.json") && test_has_name(names, n, "1"));
    acme__free_strv(names, n);

    /* A write cleans stale temporaries beside its target. */
    char *a_dir = test_path(certs, "a");
    char *stale2 = test_path(a_dir, "meta.json.tmp-OLD123");
    make_file(stale2, "{", 7200);
    CHECK_OK(acme_store_put(s, "certs/a/meta.json", "{\"n\":1}", 7, 0));
    CHECK_MSG(!test_exists(stale2), "the write left %s", stale2);

    /* A file, or nothing, as the prefix lists nothing; bad prefixes fail. */
    CHECK_OK(acme__store_list(s, "certs/a/meta.json", &names, &n, &err));
    CHECK(n == 0);
    acme__free_strv(names, n);
    CHECK_OK(acme__store_list(s, "no/such/prefix", &names, &n, &err));
    CHECK(n == 0);
    acme__free_strv(names, n);
    CHECK_RC(acme__store_list(s, "certs/", &names, &n, &err), ACME_ERR_INVALID);
    CHECK(names == NULL && n == 0);
    CHECK_RC(acme__store_list(s, "", &names, &n, &err), ACME_ERR_INVALID);
    CHECK_RC(acme__store_list(s, "locks", &names, &n, &err), ACME_ERR_INVALID);
    CHECK_RC(acme__store_list(s, "certs", NULL, &n, &err), ACME_ERR_INVALID);

    acme__err_clear(&err);
    acme_store_free(s);
    free(a_dir);
    free(stale2);
    free(tmpdir_key);
    free(stale);
    free(fresh);
    free(bad);
    free(certs);
    free(state);
}

/* ---- host stores -------------------------------------------------------- */

#define MEM_MAX 16

typedef struct mem_store {
    char *keys[MEM_MAX];
    char *vals[MEM_MAX];
    size_t lens[MEM_MAX];
    char *locks[MEM_MAX]; /* names of the locks held */
    int fail;      /* what the next callbacks return instead (0: behave) */
    int huge;      /* read: append past the limit and claim success */
    int junk;      /* list: return junk lines */
    int calls;
} mem_store;

static int mem_find(char **tab, const char *key)
{
    for (int i = 0; i < MEM_MAX; i++)
        if (tab[i] && strcmp(tab[i], key) == 0)
            return i;
    return -1;
}

static int mem_free_slot(char **tab)
{
    for (int i = 0; i < MEM_MAX; i++)
        if (!tab[i])
            return i;
    return -1;
}

static int mem_read(const char *key, acme_buffer *out, void *ud)
{
    mem_store *m = ud;
    m->calls++;
    if (m->fail)
        return m->fail;
    if (m->huge) {
        static const char chunk[4096] = { 0 };
        for (size_t i = 0; i < ACME__STORE_MAX_VALUE / sizeof(chunk) + 2; i++)
            (void)acme_buffer_append(out, chunk, sizeof(chunk));
        return ACME_OK;
    }
    int i = mem_find(m->keys, key);
    if (i < 0)
        return ACME_ERR_NOT_FOUND;
    return acme_buffer_append(out, m->vals[i], m->lens[i]);
}

static int mem_write(const char *key, const void *data, size_t len, int secret, void *ud)
{
    (void)secret;
    mem_store *m = ud;
    m->calls++;
    if (m->fail)
        return m->fail;
    int i = mem_find(m->keys, key);
    if (i < 0) {
        i = mem_free_slot(m->keys);
        if (i < 0)
            return ACME_ERR_NOMEM;
        m->keys[i] = acme__strdup(key);
    } else {
        free(m->vals[i]);
    }
    m->vals[i] = malloc(len ? len : 1);
    memcpy(m->vals[i], data, len);
    m->lens[i] = len;
    return ACME_OK;
}

static int mem_remove(const char *key, void *ud)
{
    mem_store *m = ud;
    m->calls++;
    if (m->fail)
        return m->fail;
    int i = mem_find(m->keys, key);
    if (i >= 0) {
        free(m->keys[i]);
        free(m->vals[i]);
        m->keys[i] = NULL;
        m->vals[i] = NULL;
    }
    return ACME_OK;
}

static int mem_list(const char *prefix, acme_buffer *out, void *ud)
{
    mem_store *m = ud;
    m->calls++;
    if (m->fail)
        return m->fail;
    if (m->junk) {
        static const char junk[] = "a\n\nb/c\n..\n.\nok\nbad name\n\n/x\nlast";
        return acme_buffer_append(out, junk, sizeof(junk) - 1);
    }
    size_t pl = strlen(prefix);
    for (int i = 0; i < MEM_MAX; i++) {
        const char *k = m->keys[i];
        if (!k || strncmp(k, prefix, pl) != 0 || k[pl] != '/')
            continue;
        const char *child = k + pl + 1;
        size_t cl = strcspn(child, "/");
        int rc = acme_buffer_append(out, child, cl);
        if (rc == ACME_OK)
            rc = acme_buffer_append(out, "\n", 1);
        if (rc != ACME_OK)
            return rc;
    }
    return ACME_OK;
}

static int mem_lock(const char *name, void *ud)
{
    mem_store *m = ud;
    m->calls++;
    if (m->fail)
        return m->fail;
    if (mem_find(m->locks, name) >= 0)
        return ACME_ERR_LOCKED;
    int i = mem_free_slot(m->locks);
    if (i < 0)
        return ACME_ERR_NOMEM;
    m->locks[i] = acme__strdup(name);
    return ACME_OK;
}

static void mem_unlock(const char *name, void *ud)
{
    mem_store *m = ud;
    m->calls++;
    int i = mem_find(m->locks, name);
    if (i >= 0) {
        free(m->locks[i]);
        m->locks[i] = NULL;
    }
}

static void mem_clear(mem_store *m)
{
    for (int i = 0; i < MEM_MAX; i++) {
        free(m->keys[i]);
        free(m->vals[i]);
        free(m->locks[i]);
    }
}

static void test_host_store(void)
{
    acme_store_ops ops;
    CHECK_RC(acme_store_ops_init(NULL, ACME_STORE_OPS_VERSION), ACME_ERR_INVALID);
    CHECK_RC(acme_store_ops_init(&ops, 0), ACME_ERR_INVALID);
    CHECK_RC(acme_store_ops_init(&ops, ACME_STORE_OPS_VERSION + 1), ACME_ERR_INVALID);
    CHECK(strstr(acme_last_error(), "acme_store_ops_init") != NULL);
    REQUIRE_OK(acme_store_ops_init(&ops, ACME_STORE_OPS_VERSION));
    CHECK(ops.version == ACME_STORE_OPS_VERSION && ops.read == NULL && ops.unlock == NULL);
    ops.read = mem_read;
    ops.write = mem_write;
    ops.remove = mem_remove;
    ops.list = mem_list;
    ops.lock = mem_lock;
    ops.unlock = mem_unlock;
    mem_store m;
    memset(&m, 0, sizeof(m));

    /* Construction is checked. */
    acme_store *s = (acme_store *)1;
    CHECK_RC(acme_store_new(&s, NULL, &m), ACME_ERR_INVALID);
    CHECK(s == NULL);
    CHECK_RC(acme_store_new(NULL, &ops, &m), ACME_ERR_INVALID);
    acme_store_ops bad = ops;
    bad.version = 0;
    CHECK_RC(acme_store_new(&s, &bad, &m), ACME_ERR_INVALID);
    bad.version = ACME_STORE_OPS_VERSION + 1;
    CHECK_RC(acme_store_new(&s, &bad, &m), ACME_ERR_INVALID);
    const size_t nfields = 6;
    for (size_t i = 0; i < nfields; i++) {
        bad = ops;
        switch (i) {
        case 0: bad.read = NULL; break;
        case 1: bad.write = NULL; break;
        case 2: bad.remove = NULL; break;
        case 3: bad.list = NULL; break;
        case 4: bad.lock = NULL; break;
        default: bad.unlock = NULL; break;
        }
        s = (acme_store *)1;
        CHECK_RC(acme_store_new(&s, &bad, &m), ACME_ERR_INVALID);
        CHECK(s == NULL);
    }

    REQUIRE_OK(acme_store_new(&s, &ops, &m));
    /* ops were copied: changing ours does not change the store's. */
    ops.read = NULL;

    static const char bin[] = { 'k', '\0', 'v' };
    CHECK_OK(acme_store_put(s, "accounts/ca/me/key.pem", bin, sizeof(bin), 1));
    char *data = NULL;
    size_t len = 0;
    CHECK_OK(acme_store_get(s, "accounts/ca/me/key.pem", &data, &len));
    CHECK(len == sizeof(bin) && data && memcmp(data, bin, len) == 0 && data[len] == '\0');
    acme_free(data);
    CHECK_RC(acme_store_get(s, "accounts/ca/me/none", &data, &len), ACME_ERR_NOT_FOUND);
    CHECK_MSG(strstr(acme_last_error(), "store: cannot read accounts/ca/me/none: "),
              "%s", acme_last_error());

    /* Internal read into a buffer that already holds something appends. */
    acme__buf b = ACME__BUF_INIT;
    acme__buf_puts(&b, "pre:");
    CHECK_OK(acme__store_read(s, "accounts/ca/me/key.pem", &b, NULL));
    CHECK(b.len == 4 + sizeof(bin) && memcmp(b.data + 4, bin, sizeof(bin)) == 0);
    acme__buf_free(&b);

    /* Keys are checked before the callback runs. */
    int calls = m.calls;
    CHECK_RC(acme_store_put(s, "a/../b", "x", 1, 0), ACME_ERR_INVALID);
    CHECK_RC(acme_store_get(s, "", &data, &len), ACME_ERR_INVALID);
    CHECK_RC(acme__store_lock(s, "/x", NULL), ACME_ERR_INVALID);
    acme__store_unlock(s, "a//b");
    CHECK(m.calls == calls);

    char *p = (char *)1;
    CHECK_RC(acme_store_path(s, "accounts/ca/me/key.pem", &p), ACME_ERR_UNSUPPORTED);
    CHECK(p == NULL);

    /* Lists. */
    CHECK_OK(acme_store_put(s, "certs/one/meta.json", "{}", 2, 0));
    CHECK_OK(acme_store_put(s, "certs/two/meta.json", "{}", 2, 0));
    char **names = NULL;
    size_t n = 0;
    CHECK_OK(acme__store_list(s, "certs", &names, &n, NULL));
    CHECK(n == 2 && test_has_name(names, n, "one") && test_has_name(names, n, "two"));
    acme__free_strv(names, n);
    m.junk = 1;
    CHECK_OK(acme__store_list(s, "certs", &names, &n, NULL));
    CHECK_MSG(n == 3 && test_has_name(names, n, "a") && test_has_name(names, n, "ok") &&
                  test_has_name(names, n, "last"),
              "junk gave %zu names", n);
    acme__free_strv(names, n);
    m.junk = 0;

    /* Locks. */
    CHECK_OK(acme__store_lock(s, "certs/one", NULL));
    CHECK_RC(acme__store_lock(s, "certs/one", NULL), ACME_ERR_LOCKED);
    CHECK_MSG(strstr(acme_last_error(), "store: cannot lock certs/one: "), "%s",
              acme_last_error());
    acme__store_unlock(s, "certs/one");
    CHECK_OK(acme__store_lock(s, "certs/one", NULL));
    acme__store_unlock(s, "certs/one");

    /* A callback's code comes back as it is; its message names the key and
     * does not borrow an older, unrelated error. */
    CHECK_RC(acme_store_get(s, "older/../error", &data, &len), ACME_ERR_INVALID);
    m.fail = ACME_ERR_CALLBACK;
    CHECK_RC(acme_store_put(s, "certs/one/meta.json", "x", 1, 0), ACME_ERR_CALLBACK);
    CHECK_STR(acme_last_error(), "store: cannot write certs/one/meta.json: a callback failed");
    m.fail = ACME_ERR_IO;
    acme__err err = { 0 };
    CHECK_RC(acme__store_remove(s, "certs/one/meta.json", &err), ACME_ERR_IO);
    CHECK(err.code == ACME_ERR_IO);
    CHECK_STR(err.msg, "store: cannot remove certs/one/meta.json: file input/output error");
    CHECK_RC(acme__store_list(s, "certs", &names, &n, &err), ACME_ERR_IO);
    CHECK(names == NULL && n == 0);
    m.fail = 7; /* not an acme_error */
    CHECK_RC(acme__store_lock(s, "certs/one", &err), ACME_ERR_CALLBACK);
    CHECK_RC(acme_store_get(s, "certs/one/meta.json", &data, &len), ACME_ERR_CALLBACK);
    CHECK(data == NULL);
    m.fail = 0;
    test_check_stored(s, "certs/one/meta.json", "{}");

    /* A read past the limit fails even when the callback claims success. */
    m.huge = 1;
    CHECK_RC(acme_store_get(s, "certs/one/meta.json", &data, &len), ACME_ERR_TOO_LARGE);
    CHECK(data == NULL);
    m.huge = 0;

    acme__err_clear(&err);
    acme_store_free(s);
    /* The host's userdata is the host's. */
    CHECK(m.keys[0] != NULL || m.keys[1] != NULL);
    mem_clear(&m);
}

/* The compromised-keys record through the public API, by thumbprint, is
 * the one the desire checks for its own keys (acme__compromised_check). */
static void test_compromised(const char *root)
{
    acme_store *s = NULL;
    REQUIRE_OK(acme_store_new_fs(&s, root));
    acme_key *key = NULL, *other = NULL;
    REQUIRE_OK(acme_key_generate(&key, ACME_KEY_EC256));
    REQUIRE_OK(acme_key_generate(&other, ACME_KEY_RSA2048));
    char *tp = NULL;
    REQUIRE_OK(acme_key_thumbprint(key, &tp));
    int c = -1;
    CHECK_OK(acme_store_key_compromised(s, tp, &c));
    CHECK(c == 0);
    CHECK_OK(acme_store_mark_key_compromised(s, tp, "0badc0de"));
    CHECK_OK(acme_store_key_compromised(s, tp, &c));
    CHECK(c == 1);
    CHECK_OK(acme_store_mark_key_compromised(s, tp, "0badc0de")); /* twice is harmless */
    acme__err err = { 0 };
    CHECK_OK(acme__compromised_check(s, key, &c, &err));
    CHECK(c == 1);
    CHECK_OK(acme__compromised_check(s, other, &c, &err));
    CHECK(c == 0);
    /* And what the desire records, the public check sees. */
    char *tp2 = NULL;
    REQUIRE_OK(acme_key_thumbprint(other, &tp2));
    CHECK_OK(acme__compromised_add(s, other, "site", "01", 0, &err));
    CHECK_OK(acme_store_key_compromised(s, tp2, &c));
    CHECK(c == 1);
    acme__err_clear(&err);
    char *record = NULL;
    size_t len = 0;
    char key_name[128];
    snprintf(key_name, sizeof(key_name), "compromised-keys/%s", tp);
    CHECK_OK(acme_store_get(s, key_name, &record, &len));
    CHECK(record && strstr(record, "\"serial\":\"0badc0de\"") != NULL);
    acme_free(record);

    /* Not a thumbprint: refused, with the reason on the store, nothing written. */
    static const char *const bad[] = { "", "short", "../../etc/passwd",
                                       "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF=",
                                       "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG_" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = -1;
        CHECK_RC(acme_store_key_compromised(s, bad[i], &c), ACME_ERR_INVALID);
        CHECK(c == 0);
        CHECK_MSG(strstr(acme_store_last_error(s), "not a JWK thumbprint") != NULL, "%s",
                  acme_store_last_error(s));
        CHECK_RC(acme_store_mark_key_compromised(s, bad[i], NULL), ACME_ERR_INVALID);
    }
    CHECK_RC(acme_store_key_compromised(s, NULL, &c), ACME_ERR_INVALID);
    CHECK_RC(acme_store_key_compromised(s, tp, NULL), ACME_ERR_INVALID);
    CHECK_RC(acme_store_key_compromised(NULL, tp, &c), ACME_ERR_INVALID);
    CHECK_RC(acme_store_mark_key_compromised(NULL, tp, NULL), ACME_ERR_INVALID);
    char **names = NULL;
    size_t n = 0;
    CHECK_OK(acme__store_list(s, "compromised-keys", &names, &n, &err));
    CHECK_MSG(n == 2, "%zu records", n);
    acme__free_strv(names, n);
    acme_free(tp);
    acme_free(tp2);
    acme_key_free(key);
    acme_key_free(other);
    acme_store_free(s);
}

/* A dropped generation goes whole: the filesystem store removes a key that
 * is a directory once its children are gone, and refuses while they are
 * there (the prune in store/retention.c removes the files first). */
static void test_fs_remove_dir(const char *root)
{
    char *state = NULL;
    acme_store *s = fs_store(root, "rmdir", &state);
    acme__err err = { 0 };
    CHECK_OK(acme_store_put(s, "certs/a/1/key.pem", "k", 1, 1));
    CHECK_OK(acme_store_put(s, "certs/a/1/chain.pem", "c", 1, 0));
    CHECK_OK(acme_store_put(s, "certs/a/2/chain.pem", "c", 1, 0));
    char *gen1 = test_path(state, "certs/a/1");
    CHECK_RC(acme__store_remove(s, "certs/a/1", &err), ACME_ERR_IO);
    CHECK(test_exists(gen1));
    acme__err_clear(&err);
    CHECK_OK(acme__store_remove(s, "certs/a/1/key.pem", &err));
    CHECK_OK(acme__store_remove(s, "certs/a/1/chain.pem", &err));
    CHECK_OK(acme__store_remove(s, "certs/a/1", &err));
    CHECK_MSG(!test_exists(gen1), "%s is still there", gen1);
    CHECK_OK(acme__store_remove(s, "certs/a/1", &err)); /* gone already: fine */
    /* The prune: generation 1 and a leftover 3 go, 2 stays with keep 1. */
    CHECK_OK(acme_store_put(s, "certs/a/1/chain.pem", "c", 1, 0));
    CHECK_OK(acme_store_put(s, "certs/a/3/key.pem", "k", 1, 1));
    size_t removed = 0;
    CHECK_OK(acme__stored_prune(s, "a", 2, 1, &removed, &err));
    CHECK(removed == 2);
    char *gen2 = test_path(state, "certs/a/2"), *gen3 = test_path(state, "certs/a/3");
    CHECK(!test_exists(gen1) && test_exists(gen2) && !test_exists(gen3));
    free(gen1);
    free(gen2);
    free(gen3);
    free(state);
    acme_store_free(s);
}

static int alias_one(acme_store *s, const char *key, const char *target, acme__err *err)
{
    return acme__store_alias(s, 1, &key, &target, err);
}

/* Aliases on the filesystem store: certs/NAME/current and the stable
 * names through it, what retention keeps, and the temporaries of a switch
 * a crash left. */
static void test_fs_alias(const char *root)
{
    char *state = NULL;
    acme_store *s = fs_store(root, "alias", &state);
    acme__err err = { 0 };
    CHECK(acme__store_has_alias(s));
    CHECK_OK(acme_store_put(s, "certs/a/1/chain.pem", "c1", 2, 0));
    CHECK_OK(acme_store_put(s, "certs/a/2/chain.pem", "c2", 2, 0));
    CHECK_OK(acme_store_put(s, "certs/a/3/chain.pem", "c3", 2, 0));
    char *target = NULL;
    CHECK_RC(acme__store_alias_target(s, "certs/a/current", &target, &err), ACME_ERR_NOT_FOUND);
    acme__err_clear(&err);
    /* A plain value is no alias either (a stable file of a 1.0 store). */
    CHECK_OK(acme_store_put(s, "certs/a/chain.pem", "c1", 2, 0));
    CHECK_RC(acme__store_alias_target(s, "certs/a/chain.pem", &target, &err), ACME_ERR_NOT_FOUND);
    acme__err_clear(&err);
    CHECK_OK(alias_one(s, "certs/a/current", "1", &err));
    CHECK_OK(alias_one(s, "certs/a/chain.pem", "current/chain.pem", &err));
    test_check_stored(s, "certs/a/chain.pem", "c1");
    CHECK_OK(alias_one(s, "certs/a/current", "2", &err));
    test_check_stored(s, "certs/a/chain.pem", "c2");
    CHECK_OK(acme__store_alias_target(s, "certs/a/current", &target, &err));
    CHECK(target && strcmp(target, "2") == 0);
    free(target);
    /* Targets are keys: nothing outside the store. */
    CHECK_RC(alias_one(s, "certs/a/current", "../../x", &err), ACME_ERR_INVALID);
    acme__err_clear(&err);
    CHECK_RC(alias_one(s, "certs/a/current", "/etc", &err), ACME_ERR_INVALID);
    acme__err_clear(&err);

    /* Retention keeps what current names even past keep (a crash between
     * the metadata's switch to 3 and the alias's), and lists no alias as
     * a generation. */
    size_t removed = 0;
    CHECK_OK(acme__stored_prune(s, "a", 3, 1, &removed, &err));
    CHECK(removed == 1);
    char *gen1 = test_path(state, "certs/a/1"), *gen2 = test_path(state, "certs/a/2");
    CHECK(!test_exists(gen1) && test_exists(gen2));
    test_check_stored(s, "certs/a/chain.pem", "c2");

    /* A switch killed before its rename leaves a temporary link: the
     * holder of the name's lock sweeps it, and lists never show it. */
    char *cur = test_path(state, "certs/a/current.tmp-AbC123");
    CHECK(symlink("3", cur) == 0);
    char **names = NULL;
    size_t n = 0;
    CHECK_OK(acme__store_list(s, "certs/a", &names, &n, &err));
    for (size_t i = 0; i < n; i++)
        CHECK_MSG(!strstr(names[i], ".tmp-"), "listed %s", names[i]);
    acme__free_strv(names, n);
    CHECK_OK(acme__store_lock(s, "certs/a", &err));
    CHECK_MSG(!test_exists(cur), "%s was not swept", cur);
    acme__store_unlock(s, "certs/a");
    free(cur);
    free(gen1);
    free(gen2);
    free(state);
    acme_store_free(s);
}

int main(void)
{
    REQUIRE_ZERO(mkdtemp(tmpdir) == NULL);
    test_keys();
    test_segments();
    test_layout();
    test_buffer();
    test_fs_basic(tmpdir);
    test_fs_modes(tmpdir);
    test_fs_list(tmpdir);
    test_fs_remove_dir(tmpdir);
    test_fs_alias(tmpdir);
    test_host_store();
    test_compromised(tmpdir);
    test_remove_tree(tmpdir);
    CHECK(!test_exists(tmpdir));
    return check_done();
}
