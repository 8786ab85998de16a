/* Crypto micro-benchmark: what one ACME client pays per key type for key
 * generation (acme_key_generate), one JWS signature (acme__jws_sign, what
 * every POST to the CA costs) and one CSR (acme__csr_build, once per order).
 * For EC keys it also times a bare ECDSA signature made on the key's own
 * mbedTLS group ("EC sign, own group"), which keeps the precomputed table
 * for the base point between signatures; mbedtls_pk_sign copies the group
 * for every signature and so recomputes that table each time.
 *
 *     micro [--quick] [--json]
 *
 * Each figure is the median of several timed batches (a batch is a few
 * operations, timed with CLOCK_MONOTONIC); RSA 4096 generation gets fewer
 * repetitions because one takes seconds in mbedTLS. --json prints one JSON
 * object (what bench/bench.py reads); otherwise a table. Not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/md.h>

#include "acme.h"
#include "base/buf.h"
#include "crypto/csr.h"
#include "base/error.h"
#include "crypto/jws.h"
#include "crypto/key.h"
#include "base/rng.h"

typedef struct kind {
    int type;
    const char *name;
    int gen_reps;  /* key generations timed, one per batch */
    int sign_reps; /* batches of SIGN_BATCH signatures */
} kind;

#define SIGN_BATCH 20
#define CSR_BATCH 5

static const kind kinds[] = {
    { ACME_KEY_EC256, "EC P-256", 31, 15 },
    { ACME_KEY_EC384, "EC P-384", 21, 11 },
    { ACME_KEY_RSA2048, "RSA 2048", 11, 9 },
    { ACME_KEY_RSA4096, "RSA 4096", 3, 5 },
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of n per-operation times; sorts v. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "micro: %s: %s\n", what, acme_strerror(rc));
    exit(1);
}

typedef struct result {
    double gen_s, sign_s, csr_s; /* median seconds per operation */
    double own_group_sign_s;     /* EC only, else 0 */
    double gen_min_s, gen_max_s;
    int gen_n, sign_n, csr_n;    /* operations timed */
} result;

static void run_kind(const kind *k, int quick, result *r)
{
    int gen_reps = quick ? (k->gen_reps + 2) / 3 : k->gen_reps;
    int sign_reps = quick ? (k->sign_reps + 2) / 3 : k->sign_reps;
    double *t = calloc((size_t)(gen_reps + sign_reps + 16), sizeof(double));
    if (!t)
        die("calloc", ACME_ERR_NOMEM);
    acme_key *key = NULL;
    int rc;

    for (int i = 0; i < gen_reps; i++) {
        acme_key *g;
        double t0 = now_s();
        if ((rc = acme_key_generate(&g, k->type)) != ACME_OK)
            die("acme_key_generate", rc);
        t[i] = now_s() - t0;
        if (key)
            acme_key_free(g);
        else
            key = g; /* the first key is the one that signs below */
    }
    r->gen_n = gen_reps;
    r->gen_s = median(t, gen_reps);
    r->gen_min_s = t[0];
    r->gen_max_s = t[gen_reps - 1];

    /* A POST-as-GET and a typical small payload, as in an issuance. */
    const char *kid = "https://ca.example/acme/acct/1234567890";
    const char *url = "https://ca.example/acme/authz/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
    const char *nonce = "oFvnlFP1wIhRlYS2jTaXbA";
    for (int i = 0; i < sign_reps; i++) {
        double t0 = now_s();
        for (int j = 0; j < SIGN_BATCH; j++) {
            acme__buf out = ACME__BUF_INIT;
            acme__err err = ACME__ERR_QUIET;
            rc = acme__jws_sign(key, kid, nonce, url, j % 2 ? NULL : "{}", &out, &err);
            acme__buf_free(&out);
            acme__err_clear(&err);
            if (rc != ACME_OK)
                die("acme__jws_sign", rc);
        }
        t[i] = (now_s() - t0) / SIGN_BATCH;
    }
    r->sign_n = sign_reps * SIGN_BATCH;
    r->sign_s = median(t, sign_reps);

    r->own_group_sign_s = 0;
    if (mbedtls_pk_get_type(&key->pk) == MBEDTLS_PK_ECKEY) {
        mbedtls_ecp_keypair *ec = mbedtls_pk_ec(key->pk);
        unsigned char hash[32] = { 1, 2, 3 }, sig[MBEDTLS_ECDSA_MAX_LEN];
        for (int i = 0; i < sign_reps; i++) {
            double t0 = now_s();
            for (int j = 0; j < SIGN_BATCH; j++) {
                size_t slen = 0;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
                rc = mbedtls_ecdsa_write_signature(ec, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig,
                                                   sizeof(sig), &slen, acme__rng, NULL);
#else
                rc = mbedtls_ecdsa_write_signature(ec, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig,
                                                   &slen, acme__rng, NULL);
#endif
                if (rc != 0)
                    die("mbedtls_ecdsa_write_signature", ACME_ERR_CRYPTO);
            }
            t[i] = (now_s() - t0) / SIGN_BATCH;
        }
        r->own_group_sign_s = median(t, sign_reps);
    }

    const char *types[] = { "dns", "dns" };
    const char *values[] = { "www.example.com", "example.com" };
    int csr_reps = sign_reps;
    for (int i = 0; i < csr_reps; i++) {
        double t0 = now_s();
        for (int j = 0; j < CSR_BATCH; j++) {
            acme__buf der = ACME__BUF_INIT;
            acme__err err = ACME__ERR_QUIET;
            rc = acme__csr_build(key, types, values, 2, &der, &err);
            acme__buf_free(&der);
            acme__err_clear(&err);
            if (rc != ACME_OK)
                die("acme__csr_build", rc);
        }
        t[i] = (now_s() - t0) / CSR_BATCH;
    }
    r->csr_n = csr_reps * CSR_BATCH;
    r->csr_s = median(t, csr_reps);
    acme_key_free(key);
    free(t);
}

int main(int argc, char **argv)
{
    int quick = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else {
            fprintf(stderr, "usage: micro [--quick] [--json]\n");
            return 2;
        }
    }
    size_t n = sizeof(kinds) / sizeof(kinds[0]);
    result r[sizeof(kinds) / sizeof(kinds[0])];
    for (size_t i = 0; i < n; i++)
        run_kind(&kinds[i], quick, &r[i]);

    if (json) {
        printf("{\"library\":\"%s\",\"results\":[", acme_version_string());
        for (size_t i = 0; i < n; i++)
            printf("%s{\"key\":\"%s\",\"keygen_median_s\":%.6g,\"keygen_min_s\":%.6g,"
                   "\"keygen_max_s\":%.6g,\"keygen_n\":%d,\"sign_median_s\":%.6g,"
                   "\"sign_n\":%d,\"csr_median_s\":%.6g,\"csr_n\":%d,"
                   "\"ec_own_group_sign_median_s\":%.6g}",
                   i ? "," : "", kinds[i].name, r[i].gen_s, r[i].gen_min_s, r[i].gen_max_s,
                   r[i].gen_n, r[i].sign_s, r[i].sign_n, r[i].csr_s, r[i].csr_n,
                   r[i].own_group_sign_s);
        printf("]}\n");
        return 0;
    }
    printf("%-9s %12s %12s %12s %12s %18s\n", "key", "keygen ms", "keygen/s", "JWS sign/s",
           "CSR/s", "EC sign/s own grp");
    for (size_t i = 0; i < n; i++) {
        printf("%-9s %12.2f %12.1f %12.0f %12.0f", kinds[i].name, r[i].gen_s * 1e3,
               1 / r[i].gen_s, 1 / r[i].sign_s, 1 / r[i].csr_s);
        if (r[i].own_group_sign_s > 0)
            printf(" %18.0f", 1 / r[i].own_group_sign_s);
        printf("\n");
    }
    return 0;
}
