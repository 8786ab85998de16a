/* The fuzz targets' code (tests/fuzz/fuzz_*.c, built here without the
 * libFuzzer entry point) over every input of their corpora
 * (tests/fuzz/corpus/<target>/): the hand-written seeds, and the inputs
 * that once crashed a target or broke an invariant, which stay there as
 * regression cases. Each target aborts on a finding, so a regression
 * fails this test in the ordinary build too, not only under clang.
 *
 * Usage: test-fuzz-regressions CORPUS_DIR */
#include <acme.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/file.h"
#include "fuzz.h"
#include "base/pem.h"

#include "unit.h"

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

static const struct target {
    const char *name;
    fuzz_fn fn;
} targets[] = {
#define FUZZ_TARGET_ENTRY(name) { #name, fuzz_##name },
    FUZZ_TARGETS(FUZZ_TARGET_ENTRY)
#undef FUZZ_TARGET_ENTRY
};

/* Inputs the fuzzers found, with what each one broke; they must stay in the
 * corpus (a missing file fails the test). */
static const struct regression {
    const char *target;
    const char *file;
    const char *what;
} regressions[] = {
    { "pem_chain", "regress-pem-body-decodes-to-nothing.pem",
      "acme__pem_next returned ACME_OK with an empty DER for a body of 1 to 3 base64 "
      "characters, which mbedTLS decodes to nothing" },
    { "etcd", "error-auth.json",
      "acme__etcd_parse_error copied 300 bytes of a shorter member message (a heap overread "
      "under ASan)" },
    { "etcd", "regress-child-with-newline.json",
      "acme__etcd_parse_children listed a child whose name held a newline, which split it "
      "into an empty line and a fragment" },
};

static fuzz_fn target_fn(const char *name)
{
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
        if (strcmp(targets[i].name, name) == 0)
            return targets[i].fn;
    return NULL;
}

/* Read a corpus file whole (inputs are small; 1 MB is plenty). */
static int run_file(const char *root, const char *target, const char *file)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s/%s", root, target, file);
    acme__buf b = ACME__BUF_INIT;
    acme__err err = { 0 };
    int rc = acme__file_read(path, 1024 * 1024, &b, &err);
    CHECK_MSG(rc == ACME_OK, "%s: %s", path, err.msg);
    acme__err_clear(&err);
    if (rc != ACME_OK) {
        acme__buf_free(&b);
        return 0;
    }
    fprintf(stderr, "%s/%s (%zu bytes)\n", target, file, b.len);
    fuzz_fn fn = target_fn(target);
    REQUIRE(fn != NULL);
    /* The bytes alone, without the buffer's terminator in reach. */
    uint8_t *copy = malloc(b.len ? b.len : 1);
    REQUIRE(copy != NULL);
    if (b.len)
        memcpy(copy, b.data, b.len);
    CHECK(fn(copy, b.len) == 0);
    free(copy);
    acme__buf_free(&b);
    return 1;
}

static void test_corpora(const char *root)
{
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/%s", root, targets[i].name);
        DIR *d = opendir(dir);
        CHECK_MSG(d != NULL, "no corpus for %s at %s", targets[i].name, dir);
        if (!d)
            continue;
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            n += (size_t)run_file(root, targets[i].name, e->d_name);
        }
        closedir(d);
        CHECK_MSG(n > 0, "the corpus of %s is empty", targets[i].name);
    }
}

static void test_regressions_present(const char *root)
{
    for (size_t i = 0; i < sizeof(regressions) / sizeof(regressions[0]); i++) {
        const struct regression *r = &regressions[i];
        if (!r->target)
            continue;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s/%s", root, r->target, r->file);
        CHECK_MSG(stat(path, &st) == 0 && S_ISREG(st.st_mode), "regression input %s (%s) is gone",
                  path, r->what);
        CHECK(target_fn(r->target) != NULL);
    }
}

/* The findings again, checked directly against the contract they broke. */
static void test_findings(void)
{
    /* acme__pem_next: a body that decodes to no bytes is "empty". */
    static const char *const bodies[] = { "C", "CC", "CCC", "C=", "C==", "=" };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        char text[128], label[ACME__PEM_MAX_LABEL + 1];
        snprintf(text, sizeof(text), "-----BEGIN CERTIFICATE-----%s-----END CERTIFICATE-----\n",
                 bodies[i]);
        unsigned char *der = (unsigned char *)1;
        size_t len = 1;
        const char *next = NULL, *why = NULL;
        CHECK_RC(acme__pem_next(text, &next, label, &der, &len, &why), ACME_ERR_INVALID);
        CHECK(der == NULL && len == 0);
        CHECK_STR(why, "empty");
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    test_findings();
    test_regressions_present(argv[1]);
    test_corpora(argv[1]);
    return check_done();
}
