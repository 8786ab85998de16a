/* Scale benchmark, part 1: fill a state directory with N stored
 * certificates, as the library stores them, without a CA.
 *
 *     scale_synth DIR FROM TO DIRECTORY_URL
 *
 * adds the certificates sNNNNNNN.scale.test for FROM <= i < TO (so a store
 * grows from 10k to 100k to 1M without starting over) and writes their
 * schedule index entries, as issuing them through ensure would have. A
 * local test CA (EC P-256, mbedTLS) signs a pool of POOL leaf certificates,
 * each with its own key, valid for 90 days from now; certificate i holds
 * pool entry i % POOL, stored as generation 1 through acme__stored_save_new
 * (the library's own writer: metadata, generation, stable copies). Signing
 * a million leaves would take longer than the benchmark; an idle ensure
 * never opens them anyway.
 *
 * The store is a host store (acme_store_new) on the same directory layout
 * as the filesystem store, writing without fsync and making the stable
 * copies hard links, so that a million names are written in minutes; the
 * idle run (scale_idle) then reads it with the built-in filesystem store.
 * Not a test. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "acme.h"
#include "base/error.h"
#include "base/mem.h"
#include "crypto/key.h"
#include "store/cert_store.h"
#include "store/schedule.h"
#include "store/store.h"

#define POOL 64
#define LIFETIME_S (90 * 86400LL)
#define PEM_MAX 4096

/* ---- a host store without fsync ---------------------------------------- */

static char root[4096];

static void path_of(const char *key, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", root, key);
}

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(path, 0700);
        *p = '/';
        if (r != 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

static int h_read(const char *key, acme_buffer *out, void *ud)
{
    (void)ud;
    char path[8192];
    path_of(key, path, sizeof(path));
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? ACME_ERR_NOT_FOUND : ACME_ERR_IO;
    char buf[PEM_MAX];
    ssize_t n;
    int rc = ACME_OK;
    while (rc == ACME_OK && (n = read(fd, buf, sizeof(buf))) > 0)
        rc = acme_buffer_append(out, buf, (size_t)n);
    close(fd);
    return rc;
}

/* certs/NAME/FILE (three segments): a stable copy, linked to generation 1,
 * which holds the same bytes (the only generation this store ever has). */
static int stable_copy(const char *key, char *from, size_t size)
{
    const char *a = strchr(key, '/');
    const char *b = a ? strchr(a + 1, '/') : NULL;
    if (strncmp(key, "certs/", 6) != 0 || !b || strchr(b + 1, '/') ||
        (strcmp(b + 1, "key.pem") != 0 && strcmp(b + 1, "chain.pem") != 0))
        return 0;
    snprintf(from, size, "%s/%.*s/1/%s", root, (int)(b - key), key, b + 1);
    return 1;
}

static int h_write(const char *key, const void *data, size_t len, int secret, void *ud)
{
    (void)ud;
    char path[8192], from[8192];
    path_of(key, path, sizeof(path));
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int r = mkdirs(path);
    *slash = '/';
    if (r != 0)
        return ACME_ERR_IO;
    if (stable_copy(key, from, sizeof(from))) {
        unlink(path);
        if (link(from, path) == 0)
            return ACME_OK;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, secret ? 0600 : 0644);
    if (fd < 0)
        return ACME_ERR_IO;
    int ok = write(fd, data, len) == (ssize_t)len;
    return close(fd) == 0 && ok ? ACME_OK : ACME_ERR_IO;
}

static int h_remove(const char *key, void *ud)
{
    (void)ud;
    char path[8192];
    path_of(key, path, sizeof(path));
    if (unlink(path) != 0 && rmdir(path) != 0 && errno != ENOENT)
        return ACME_ERR_IO;
    return ACME_OK;
}

static int h_list(const char *prefix, acme_buffer *out, void *ud)
{
    (void)ud;
    char path[8192];
    path_of(prefix, path, sizeof(path));
    DIR *d = opendir(path);
    if (!d)
        return ACME_OK;
    struct dirent *de;
    int rc = ACME_OK;
    while (rc == ACME_OK && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        rc = acme_buffer_append(out, de->d_name, strlen(de->d_name));
        if (rc == ACME_OK)
            rc = acme_buffer_append(out, "\n", 1);
    }
    closedir(d);
    return rc;
}

/* One process writes the store alone: locks are trivially its own. */
static int h_lock(const char *name, void *ud)
{
    (void)name;
    (void)ud;
    return ACME_OK;
}

static void h_unlock(const char *name, void *ud)
{
    (void)name;
    (void)ud;
}

/* ---- the test CA ---------------------------------------------------------- */

static mbedtls_ctr_drbg_context drbg;

static int rng(void *ctx, unsigned char *out, size_t len)
{
    (void)ctx;
    return mbedtls_ctr_drbg_random(&drbg, out, len);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "scale_synth: %s failed (%d)\n", what, rc);
    exit(1);
}

static void gen_key(mbedtls_pk_context *pk)
{
    mbedtls_pk_init(pk);
    int rc = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (rc == 0)
        rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk), rng, NULL);
    if (rc != 0)
        die("key generation", rc);
}

static void utc(char out[16], time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

/* A certificate for subject_key, signed by issuer_key, as PEM in out. */
static void make_cert(mbedtls_pk_context *subject_key, mbedtls_pk_context *issuer_key,
                      const char *subject, const char *issuer, int ca, unsigned serial,
                      char *out, size_t size)
{
    mbedtls_x509write_cert w;
    mbedtls_mpi sn;
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&sn);
    char nb[16], na[16];
    time_t now = time(NULL);
    utc(nb, now - 86400);
    utc(na, now - 86400 + LIFETIME_S);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, subject_key);
    mbedtls_x509write_crt_set_issuer_key(&w, issuer_key);
    int rc = mbedtls_mpi_lset(&sn, (mbedtls_mpi_sint)serial);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_serial(&w, &sn);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_subject_name(&w, subject);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_issuer_name(&w, issuer);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_validity(&w, nb, na);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_basic_constraints(&w, ca, -1);
    if (rc == 0)
        rc = mbedtls_x509write_crt_pem(&w, (unsigned char *)out, size, rng, NULL);
    if (rc != 0)
        die("certificate", rc);
    mbedtls_x509write_crt_free(&w);
    mbedtls_mpi_free(&sn);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: scale_synth DIR FROM TO DIRECTORY_URL\n");
        return 2;
    }
    snprintf(root, sizeof(root), "%s", argv[1]);
    unsigned long from = strtoul(argv[2], NULL, 10), to = strtoul(argv[3], NULL, 10);
    const char *directory = argv[4];

    mbedtls_entropy_context entropy;
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) != 0)
        die("seeding", -1);
    mbedtls_pk_context ca;
    gen_key(&ca);
    static char ca_pem[PEM_MAX];
    make_cert(&ca, &ca, "CN=scale bench CA", "CN=scale bench CA", 1, 1, ca_pem, sizeof(ca_pem));

    /* The pool: each leaf's key (as the library's key) and chain, and what
     * acme__stored_describe reads from it. */
    acme__stored_cert pool[POOL];
    for (unsigned k = 0; k < POOL; k++) {
        mbedtls_pk_context leaf;
        gen_key(&leaf);
        char leaf_pem[PEM_MAX], key_pem[PEM_MAX];
        char cn[64];
        snprintf(cn, sizeof(cn), "CN=pool%u.scale.test", k);
        make_cert(&leaf, &ca, cn, "CN=scale bench CA", 0, 100 + k, leaf_pem, sizeof(leaf_pem));
        if (mbedtls_pk_write_key_pem(&leaf, (unsigned char *)key_pem, sizeof(key_pem)) != 0)
            die("key PEM", -1);
        memset(&pool[k], 0, sizeof(pool[k]));
        acme__err err = { 0 };
        size_t n = strlen(leaf_pem) + strlen(ca_pem) + 1;
        pool[k].chain_pem = malloc(n);
        snprintf(pool[k].chain_pem, n, "%s%s", leaf_pem, ca_pem);
        if (acme__key_load_pem(&pool[k].key, key_pem, strlen(key_pem), &err) != ACME_OK ||
            acme__stored_describe(&pool[k], &err) != ACME_OK)
            die(err.msg, -1);
        mbedtls_pk_free(&leaf);
    }

    acme_store_ops ops = ACME_STORE_OPS_INIT;
    ops.read = h_read;
    ops.write = h_write;
    ops.remove = h_remove;
    ops.list = h_list;
    ops.lock = h_lock;
    ops.unlock = h_unlock;
    acme_store *store = NULL;
    char certs[8192];
    snprintf(certs, sizeof(certs), "%s/certs", root);
    if (mkdirs(certs) != 0 || acme_store_new(&store, &ops, NULL) != ACME_OK)
        die("store", -1);

    /* Index entries by shard: the names added now, and the entries the
     * shards already hold (an earlier, smaller run). */
    size_t n = to > from ? to - from : 0;
    acme__sched_entry *entries = calloc(n ? n : 1, sizeof(*entries));
    char **names = calloc(n ? n : 1, sizeof(*names));
    time_t t0 = time(NULL);
    for (size_t i = 0; i < n; i++) {
        acme__stored_cert *p = &pool[(from + i) % POOL];
        char name[64];
        snprintf(name, sizeof(name), "s%07lu.scale.test", (unsigned long)(from + i));
        char *id = name;
        acme__stored_cert c = *p;
        c.name = name;
        c.ids = &id;
        c.nids = 1;
        c.key_type = ACME_KEY_EC256;
        c.generation = 0;
        c.revoked = -1;
        c.obtained_at = (int64_t)t0;
        c.directory = (char *)directory;
        acme__err err = { 0 };
        if (acme__stored_save_new(store, &c, &err) != ACME_OK)
            die(err.msg, -1);
        names[i] = acme__strdup(name);
        /* No AKI in these leaves, so no ARI: the lifetime rule decides. */
        int64_t life = c.not_after - c.not_before;
        acme__sched_entry_of(&c, c.not_after - life / 3, &entries[i], &err);
        entries[i].name = names[i];
        if (i % 100000 == 99999)
            fprintf(stderr, "%zu certificates in %lds\n", i + 1, (long)(time(NULL) - t0));
    }

    /* The index: each shard's earlier entries and the new ones (the new
     * ones grouped by shard first: a counting sort). */
    size_t *start = calloc(ACME__SCHEDULE_SHARDS + 1, sizeof(*start));
    unsigned *shard = calloc(n ? n : 1, sizeof(*shard));
    size_t *order = calloc(n ? n : 1, sizeof(*order));
    for (size_t i = 0; i < n; i++)
        start[(shard[i] = acme__sched_shard_of(names[i])) + 1]++;
    for (unsigned k = 0; k < ACME__SCHEDULE_SHARDS; k++)
        start[k + 1] += start[k];
    size_t *fill = calloc(ACME__SCHEDULE_SHARDS, sizeof(*fill));
    for (size_t i = 0; i < n; i++)
        order[start[shard[i]] + fill[shard[i]]++] = i;
    for (unsigned k = 0; k < ACME__SCHEDULE_SHARDS; k++) {
        acme__sched_shard old;
        acme__err err = { 0 };
        if (acme__sched_load(store, k, &old, &err) != ACME_OK)
            memset(&old, 0, sizeof(old));
        acme__err_clear(&err);
        acme__sched_entry *v = calloc(old.n + fill[k] + 1, sizeof(*v));
        size_t m = 0;
        for (size_t j = 0; j < old.n; j++)
            v[m++] = old.v[j];
        for (size_t j = start[k]; j < start[k + 1]; j++)
            v[m++] = entries[order[j]];
        if (acme__sched_put_shard(store, k, v, m, &err) != ACME_OK)
            die(err.msg, -1);
        free(v);
        acme__sched_shard_free(&old);
    }
    fprintf(stderr, "%zu certificates and the index written in %lds\n", n,
            (long)(time(NULL) - t0));
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(entries);
    free(start);
    free(shard);
    free(order);
    free(fill);
    for (unsigned k = 0; k < POOL; k++) {
        pool[k].name = NULL;
        acme__stored_free(&pool[k]);
    }
    acme_store_free(store);
    mbedtls_pk_free(&ca);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    return 0;
}
