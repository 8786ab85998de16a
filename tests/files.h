/* Helpers for tests that work in a temporary directory: paths, modes, the
 * filesystem store's temporaries, removing the tree, and values read back
 * through the public store API. Header-only so that every test counts its
 * checks in its own check.h counters. */
#ifndef ACME_TEST_FILES_H
#define ACME_TEST_FILES_H

#include <acme.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

/* "a/b" in a new string (free()). */
static inline char *test_path(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    REQUIRE(p != NULL);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static inline int test_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Permission bits of path, or -1. */
static inline int test_mode(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/* The next entry of d other than "." and "..", or NULL. */
static inline struct dirent *test_readdir(DIR *d)
{
    struct dirent *de;
    while ((de = readdir(d)) != NULL &&
           (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0))
        ;
    return de;
}

/* Remove dir and everything below it (made writable on the way, since
 * tests take permissions away); the result of the final rmdir(). */
static inline int test_remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = test_readdir(d)) != NULL) {
            char *p = test_path(dir, de->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
                chmod(p, 0700);
                test_remove_tree(p);
            } else {
                unlink(p);
            }
            free(p);
        }
        closedir(d);
    }
    return rmdir(dir);
}

/* Number of files named like the store's temporaries (".tmp-") under dir. */
static inline int test_count_temps(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = test_readdir(d)) != NULL) {
        if (strstr(de->d_name, ".tmp-"))
            n++;
        char *p = test_path(dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            n += test_count_temps(p);
        free(p);
    }
    closedir(d);
    return n;
}

/* acme_store_get through the public API, compared with a string. */
static inline void test_check_stored(acme_store *s, const char *key, const char *want)
{
    char *data = NULL;
    size_t len = 0;
    CHECK_OK(acme_store_get(s, key, &data, &len));
    CHECK_MSG(data && len == strlen(want) && memcmp(data, want, len) == 0,
              "%s holds \"%s\", wanted \"%s\"", key, data ? data : "(null)", want);
    acme_free(data);
}

/* Non-zero when name is one of the n names. */
static inline int test_has_name(char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

#endif
