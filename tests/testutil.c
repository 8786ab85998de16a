/* Integration-test helpers; see testutil.h. Uses libcurl directly for the
 * harness's management APIs, which are not ACME and so not libacme's job. */
#include "testutil.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <mbedtls/platform_util.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char *log_text;
static size_t log_len;

const char *test_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "%s is not set: run this test through "
                "tests/harness/pebble_harness.py\n", name);
        exit(1);
    }
    return v;
}

void test_log_record(int level, const char *msg, void *userdata)
{
    (void)userdata;
    static const char *const names[] = { "error", "warn", "info", "debug" };
    size_t n = strlen(msg) + 16;
    pthread_mutex_lock(&log_lock);
    char *grown = realloc(log_text, log_len + n + 1);
    if (grown) {
        log_text = grown;
        log_len += (size_t)snprintf(log_text + log_len, n + 1, "%s: %s\n",
                                    level >= 0 && level <= 3 ? names[level] : "?", msg);
    }
    pthread_mutex_unlock(&log_lock);
    if (getenv("ACME_TEST_VERBOSE"))
        fprintf(stderr, "[libacme] %s\n", msg);
}

const char *test_log(void)
{
    return log_text ? log_text : "";
}

void test_log_clear(void)
{
    pthread_mutex_lock(&log_lock);
    free(log_text);
    log_text = NULL;
    log_len = 0;
    pthread_mutex_unlock(&log_lock);
}

acme_provider *test_provider(acme_provider_options *opts)
{
    acme_provider_options local;
    if (!opts) {
        acme_provider_options_init(&local, ACME_PROVIDER_OPTIONS_VERSION);
        opts = &local;
    }
    opts->ca_bundle = test_env("ACME_TEST_CA_BUNDLE");
    opts->log = test_log_record;
    opts->log_level = ACME_LOG_DEBUG;
    acme_provider *p = NULL;
    int rc = acme_provider_new(&p, test_env("ACME_TEST_DIRECTORY"), opts);
    if (rc != ACME_OK) {
        fprintf(stderr, "cannot connect to Pebble: %s\n", acme_last_error());
        exit(1);
    }
    return p;
}

acme_key *test_key(int type)
{
    acme_key *k = NULL;
    if (acme_key_generate(&k, type) != ACME_OK) {
        fprintf(stderr, "key generation failed: %s\n", acme_last_error());
        exit(1);
    }
    return k;
}

acme_account *test_account(acme_provider *p, acme_key *key)
{
    acme_account_options o;
    acme_account_options_init(&o, ACME_ACCOUNT_OPTIONS_VERSION);
    o.agree_tos = 1;
    acme_account *a = NULL;
    if (acme_account_register(&a, p, key, &o) != ACME_OK) {
        fprintf(stderr, "account registration failed: %s\n", acme_last_error());
        exit(1);
    }
    return a;
}

void test_desire_options(acme_desire_options *o, const char *email)
{
    acme_desire_options_init(o, ACME_DESIRE_OPTIONS_VERSION);
    o->email = email;
    o->agree_tos = 1;
}

int test_ensure_names(const char *dir, const char *const *names, size_t n,
                      const acme_desire_options *o, int force, int *results, char **messages)
{
    acme_provider *p = test_provider(NULL);
    acme_store *store = NULL;
    acme_solvers *s = NULL;
    acme_desire *d = NULL;
    int rc = acme_store_new_fs(&store, dir);
    if (rc == ACME_OK)
        rc = acme_solvers_new(&s);
    if (rc == ACME_OK)
        rc = test_add_dns_solver(s);
    if (rc == ACME_OK)
        rc = acme_desire_new(&d, p, store, s, o);
    for (size_t i = 0; rc == ACME_OK && i < n; i++)
        rc = acme_desire_add(d, NULL, &names[i], 1, 0, NULL);
    if (rc == ACME_OK && force)
        rc = acme_desire_set_force(d, names[0], 1);
    if (rc == ACME_OK)
        rc = acme_desire_ensure(d);
    for (size_t i = 0; i < n; i++) {
        if (results)
            results[i] = d ? acme_desire_result(d, i) : 0;
        const char *m = d ? acme_desire_message(d, i) : NULL;
        if (messages)
            messages[i] = strdup(m ? m : "");
    }
    if (rc != ACME_OK)
        fprintf(stderr, "ensure: %s\n", d ? acme_desire_last_error(d) : acme_last_error());
    acme_desire_free(d);
    acme_solvers_free(s);
    acme_store_free(store);
    acme_provider_free(p);
    return rc;
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
    char **buf = ud;
    size_t old = *buf ? strlen(*buf) : 0, n = size * nmemb;
    char *grown = realloc(*buf, old + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + old, ptr, n);
    grown[old + n] = '\0';
    *buf = grown;
    return n;
}

/* One request with libcurl: a POST of body when given, else a GET; trusts
 * ca_bundle when given. The reply (free()) on HTTP 200, else NULL. */
static char *fetch(const char *url, const char *body, const char *ca_bundle)
{
    CURL *c = curl_easy_init();
    char *reply = NULL;
    long status = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (ca_bundle)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca_bundle);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK || status != 200) {
        free(reply);
        return NULL;
    }
    return reply ? reply : strdup("");
}

int test_challtestsrv(const char *command, const char *json_body)
{
    char url[512];
    snprintf(url, sizeof(url), "%s/%s", test_env("ACME_TEST_CHALLTESTSRV"), command);
    char *reply = fetch(url, json_body, NULL);
    int ok = reply != NULL;
    free(reply);
    return ok ? 0 : -1;
}

int test_dns_present(const acme_challenge *ch, void *ud)
{
    (void)ud;
    char body[1024];
    snprintf(body, sizeof(body), "{\"host\":\"%s.\",\"value\":\"%s\"}",
             acme_challenge_dns_txt_name(ch), acme_challenge_dns_txt_value(ch));
    return test_challtestsrv("set-txt", body) == 0 ? ACME_OK : ACME_ERR_CALLBACK;
}

void test_dns_cleanup(const acme_challenge *ch, void *ud)
{
    (void)ud;
    char body[512];
    snprintf(body, sizeof(body), "{\"host\":\"%s.\"}", acme_challenge_dns_txt_name(ch));
    test_challtestsrv("clear-txt", body);
}

int test_add_dns_solver(acme_solvers *s)
{
    return acme_solvers_add(s, "dns-01", test_dns_present, NULL, test_dns_cleanup, NULL);
}

char *test_pebble_mgmt_get(const char *path)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", test_env("ACME_TEST_PEBBLE_MGMT"), path);
    return fetch(url, NULL, test_env("ACME_TEST_CA_BUNDLE"));
}

char *test_tmpdir(void)
{
    const char *base = getenv("ACME_TEST_TMPDIR");
    char tmpl[1024];
    snprintf(tmpl, sizeof(tmpl), "%s/t-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

char *test_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0, n;
    char *buf = calloc(1, cap);
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *grown = calloc(1, cap * 2);
            if (grown)
                memcpy(grown, buf, len);
            mbedtls_platform_zeroize(buf, cap);
            free(buf);
            buf = grown;
            cap *= 2;
        }
    }
    fclose(f);
    return buf;
}

int test_replace_file(const char *path, const char *text)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.test-tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    ok = fclose(f) == 0 && ok;
    return ok && rename(tmp, path) == 0 ? 0 : -1;
}

int test_replace_filef(const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!text)
        return -1;
    va_start(ap, fmt);
    vsnprintf(text, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = test_replace_file(path, text);
    free(text);
    return rc;
}

/* ---- certificate checks (mbedTLS directly: the test must not trust the
 * library's own parser to judge the library's output) ---------------- */

#include <arpa/inet.h>
#include <sys/random.h>
#include <mbedtls/asn1.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

static int pubkey_der(mbedtls_pk_context *pk, unsigned char *buf, size_t size,
                      const unsigned char **der)
{
    int n = mbedtls_pk_write_pubkey_der(pk, buf, size);
    if (n <= 0)
        return -1;
    *der = buf + size - (size_t)n;
    return n;
}

/* SANs of a certificate from its raw extensions, as text. */
static size_t leaf_sans(const mbedtls_x509_crt *crt, char out[][128], size_t max)
{
    unsigned char *p = crt->v3_ext.p, *end = p + crt->v3_ext.len;
    size_t len, count = 0;
    if (!p || mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
        return 0;
    while (p < end) {
        size_t ext_len, oid_len;
        if (mbedtls_asn1_get_tag(&p, end, &ext_len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
            return count;
        unsigned char *ext_end = p + ext_len;
        if (mbedtls_asn1_get_tag(&p, ext_end, &oid_len, MBEDTLS_ASN1_OID))
            return count;
        int is_san = oid_len == MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME) &&
                     memcmp(p, MBEDTLS_OID_SUBJECT_ALT_NAME, oid_len) == 0;
        p += oid_len;
        if (is_san) {
            int critical;
            if (mbedtls_asn1_get_bool(&p, ext_end, &critical) == 0) { /* optional */ }
            size_t os_len, seq_len;
            if (mbedtls_asn1_get_tag(&p, ext_end, &os_len, MBEDTLS_ASN1_OCTET_STRING) ||
                mbedtls_asn1_get_tag(&p, ext_end, &seq_len,
                                     MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
                return count;
            unsigned char *seq_end = p + seq_len;
            while (p < seq_end && count < max) {
                unsigned char tag = *p++;
                size_t n;
                if (mbedtls_asn1_get_len(&p, seq_end, &n))
                    return count;
                if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2) && n < 128) {
                    memcpy(out[count], p, n);
                    out[count++][n] = '\0';
                } else if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && (n == 4 || n == 16)) {
                    inet_ntop(n == 4 ? AF_INET : AF_INET6, p, out[count++], 128);
                }
                p += n;
            }
        }
        p = ext_end;
    }
    return count;
}

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
static int test_rng(void *ctx, unsigned char *out, size_t len)
{
    (void)ctx;
    return getrandom(out, len, 0) == (ssize_t)len ? 0 : -1;
}
#define PARSE_KEY(pk, pem, len) mbedtls_pk_parse_key((pk), (pem), (len), NULL, 0, test_rng, NULL)
#else
#define PARSE_KEY(pk, pem, len) mbedtls_pk_parse_key((pk), (pem), (len), NULL, 0)
#endif

#define LEAF_FAIL(...) (fprintf(stderr, "leaf check: " __VA_ARGS__), fputc('\n', stderr), ok = 0)

int test_leaf_matches(const char *chain_pem, acme_key *key, const char *const *names, size_t n)
{
    int ok = 1;
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    int rc = chain_pem ? mbedtls_x509_crt_parse(&crt, (const unsigned char *)chain_pem,
                                                strlen(chain_pem) + 1)
                       : -1;
    if (rc != 0)
        LEAF_FAIL("the chain does not parse (%d)", rc);
    if (rc == 0) {
        char sans[32][128];
        size_t nsans = leaf_sans(&crt, sans, 32);
        if (nsans != n)
            LEAF_FAIL("the leaf has %zu SANs, wanted %zu", nsans, n);
        for (size_t i = 0; i < n; i++) {
            int found = 0;
            for (size_t j = 0; j < nsans && !found; j++)
                found = strcmp(sans[j], names[i]) == 0;
            if (!found)
                LEAF_FAIL("the leaf lacks SAN %s", names[i]);
        }
        if (key) {
            char *pem = NULL;
            mbedtls_pk_context pk;
            mbedtls_pk_init(&pk);
            if (acme_key_to_pem(key, &pem) != ACME_OK ||
                PARSE_KEY(&pk, (unsigned char *)pem, strlen(pem) + 1) != 0) {
                LEAF_FAIL("cannot read the certificate key");
            } else {
                unsigned char a[2048], b[2048];
                const unsigned char *da = NULL, *db = NULL;
                int la = pubkey_der(&pk, a, sizeof(a), &da);
                int lb = pubkey_der(&crt.pk, b, sizeof(b), &db);
                if (la <= 0 || la != lb || memcmp(da, db, (size_t)la) != 0)
                    LEAF_FAIL("the leaf's public key is not the certificate key");
            }
            mbedtls_pk_free(&pk);
            acme_free(pem);
        }
    }
    mbedtls_x509_crt_free(&crt);
    return ok ? 0 : -1;
}

size_t test_chain_length(const char *chain_pem)
{
    size_t n = 0;
    for (const char *p = chain_pem; p && (p = strstr(p, "-----BEGIN CERTIFICATE-----")); p++)
        n++;
    return n;
}
