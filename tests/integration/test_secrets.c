/* Secrets: private keys and the EAB HMAC key never reach the log callback,
 * and are wiped from memory before the memory is freed.
 *
 * A full flow against Pebble with External Account Binding required (harness
 * option --eab), logging at ACME_LOG_DEBUG into testutil's recorder: register
 * with EAB (after a refused try with the key's text plus a newline, as read
 * from a file); issue a certificate for a name through an order and the http
 * responder (an RSA certificate key, so that primes are covered too); ensure
 * a name with a desire (which makes its own account key and certificate key,
 * registers with EAB and stores them), then renew it with the stored key;
 * roll the account over to a new key; revoke with the account key and with a
 * certificate key.
 *
 * The log: every PEM body line of every private key (the test's own keys
 * through acme_key_to_pem, the desire's read back from the store), the EAB
 * key as given (base64url), its bytes in hex, and the bytes themselves must
 * not occur in it.
 *
 * Wiping: the test links libacme and mbedTLS statically with
 * -Wl,--wrap=free, so every free() made by libacme or by mbedTLS on its behalf
 * comes through __wrap_free below (libcurl, yajl and libc are shared
 * libraries and never see key material). While scanning is on, each freed
 * block (malloc_usable_size bytes) is searched for the material of every key
 * under test: 32 characters of the base64 text of its private key (as in its
 * PEM body, taken from the private part), and 16 bytes from the middle of each
 * private value (EC: d; RSA: d, p, q), big-endian as encoded and in reverse
 * (an mbedTLS MPI's limbs in memory on a little-endian machine); and for the
 * EAB key its base64url text and 16 of its bytes. Keys are registered the
 * moment they exist: acme_key_generate is wrapped too (-Wl,--wrap), which
 * catches the keys the desire makes inside the library. After everything is
 * freed (keys, account, order, desire), no freed block may have held any of
 * it. A block that did is reported with the address that freed it (for
 * addr2line). */
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pem.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/rsa.h>

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#endif
#endif
#ifndef VALGRIND_MAKE_MEM_DEFINED
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

#include "base/b64.h"
#include "check.h"
#include "crypto/key.h" /* libacme's internal struct acme_key: the mbedTLS context */
#include "testutil.h"

#define MAX_SECRETS 256
#define WINDOW 16 /* bytes of a private value searched for */
#define TEXT 32   /* characters of base64 text searched for */

/* ---- the scanner ---------------------------------------------------------- */

typedef struct secret {
    char what[96];
    unsigned char bytes[TEXT];
    size_t len;
    size_t hits;
    void *freed_from; /* return address of the first free() that held it */
} secret;

static pthread_mutex_t scan_lock = PTHREAD_MUTEX_INITIALIZER;
static secret secrets[MAX_SECRETS];
static size_t nsecrets;
static unsigned char first_bytes[256]; /* first byte of some secret */
static volatile int scanning;
static size_t frees_scanned, keys_registered;

void __real_free(void *p);
void __wrap_free(void *p);
int __real_acme_key_generate(acme_key **out, int type);
int __wrap_acme_key_generate(acme_key **out, int type);
int __real_acme__key_generate(acme_key **out, int type, acme__err *err);
int __wrap_acme__key_generate(acme_key **out, int type, acme__err *err);

void __wrap_free(void *p)
{
    if (p && scanning) {
        void *from = __builtin_return_address(0);
        const unsigned char *b = p;
        size_t n = malloc_usable_size(p);
        /* The block dies now; memcheck need not judge the bytes it holds. */
        VALGRIND_MAKE_MEM_DEFINED(p, n);
        pthread_mutex_lock(&scan_lock);
        frees_scanned++;
        for (size_t i = 0; i < n; i++) {
            if (!first_bytes[b[i]])
                continue;
            for (size_t s = 0; s < nsecrets; s++) {
                secret *x = &secrets[s];
                if (x->bytes[0] == b[i] && n - i >= x->len && memcmp(b + i, x->bytes, x->len) == 0) {
                    if (!x->hits++)
                        x->freed_from = from;
                }
            }
        }
        pthread_mutex_unlock(&scan_lock);
    }
    __real_free(p);
}

static void add_secret(const char *what, const void *bytes, size_t len)
{
    pthread_mutex_lock(&scan_lock);
    if (nsecrets < MAX_SECRETS && len >= 8 && len <= TEXT) {
        secret *x = &secrets[nsecrets];
        snprintf(x->what, sizeof(x->what), "%s", what);
        memcpy(x->bytes, bytes, len);
        x->len = len;
        x->hits = 0;
        first_bytes[x->bytes[0]] = 1;
        nsecrets++;
    }
    pthread_mutex_unlock(&scan_lock);
}

/* A private value: 16 bytes from its middle, as written and reversed. The
 * window is aligned to 8-byte limbs counted from the value's low end, so
 * that the reversed copy is what mbedTLS holds in memory whatever the
 * value's length (a P-256 scalar is 31 bytes about once in 256). */
static void add_value(const char *what, const char *name, const mbedtls_mpi *v)
{
    unsigned char be[1024], win[WINDOW];
    size_t n = mbedtls_mpi_size(v);
    char label[96];
    if (n < WINDOW || n > sizeof(be) || mbedtls_mpi_write_binary(v, be, n) != 0) {
        fprintf(stderr, "%s: cannot read %s\n", what, name);
        check_failures++;
        return;
    }
    size_t low_end = n / 2 / 8 * 8; /* limbs below the window */
    const unsigned char *mid = be + n - low_end - WINDOW / 2;
    snprintf(label, sizeof(label), "%s: %s (bytes)", what, name);
    add_secret(label, mid, WINDOW);
    for (size_t i = 0; i < WINDOW; i++)
        win[i] = mid[WINDOW - 1 - i];
    snprintf(label, sizeof(label), "%s: %s (MPI limbs)", what, name);
    add_secret(label, win, WINDOW);
    mbedtls_platform_zeroize(be, sizeof(be));
    mbedtls_platform_zeroize(win, sizeof(win));
}

/* Everything of a key worth searching for, without a heap copy of it
 * outside mbedTLS (whose MPIs are zeroized when freed). */
static void register_key(acme_key *k)
{
    char what[64];
    snprintf(what, sizeof(what), "key %zu (%s)", ++keys_registered,
             acme_key_type_name(acme_key_get_type(k)));
    unsigned char der[4096], b64[6000];
    int n = mbedtls_pk_write_key_der(&k->pk, der, sizeof(der));
    size_t blen = 0;
    int is_rsa = mbedtls_pk_get_type(&k->pk) == MBEDTLS_PK_RSA;
    if (n <= 0 || mbedtls_base64_encode(b64, sizeof(b64), &blen, der + sizeof(der) - n,
                                        (size_t)n) != 0) {
        fprintf(stderr, "%s: cannot encode it\n", what);
        check_failures++;
        return;
    }
    /* The base64 text of the private part, within one PEM line: for EC the
     * scalar d starts at byte 7 or 8 of the SEC1 DER (characters 10 on); for
     * RSA the middle of the PKCS#1 DER lies in the primes. */
    size_t off = is_rsa ? blen / 128 * 64 + 8 : 12;
    char label[96];
    snprintf(label, sizeof(label), "%s: PEM text", what);
    add_secret(label, b64 + off, TEXT);
    if (is_rsa) {
        mbedtls_mpi d, p, q;
        mbedtls_mpi_init(&d);
        mbedtls_mpi_init(&p);
        mbedtls_mpi_init(&q);
        if (mbedtls_rsa_export(mbedtls_pk_rsa(k->pk), NULL, &p, &q, &d, NULL) == 0) {
            add_value(what, "d", &d);
            add_value(what, "p", &p);
            add_value(what, "q", &q);
        } else {
            check_failures++;
        }
        mbedtls_mpi_free(&d);
        mbedtls_mpi_free(&p);
        mbedtls_mpi_free(&q);
    } else {
        unsigned char raw[66];
        mbedtls_ecp_keypair *ec = mbedtls_pk_ec(k->pk);
        size_t len = (mbedtls_pk_get_bitlen(&k->pk) + 7) / 8;
        mbedtls_mpi d;
        mbedtls_mpi_init(&d);
        if (len <= sizeof(raw) && mbedtls_ecp_write_key(ec, raw, len) == 0 &&
            mbedtls_mpi_read_binary(&d, raw, len) == 0)
            add_value(what, "d", &d);
        else
            check_failures++;
        mbedtls_mpi_free(&d);
        mbedtls_platform_zeroize(raw, sizeof(raw));
    }
    mbedtls_platform_zeroize(der, sizeof(der));
    mbedtls_platform_zeroize(b64, sizeof(b64));
}

/* Every key made through the public API (the test's, the desire's account
 * and certificate keys) is registered the moment it exists. */
int __wrap_acme_key_generate(acme_key **out, int type)
{
    int rc = __real_acme_key_generate(out, type);
    if (rc == ACME_OK)
        register_key(*out);
    return rc;
}

/* Keys the library makes for itself (the public function's own call
 * stays inside its object file, so no key is registered twice). */
int __wrap_acme__key_generate(acme_key **out, int type, acme__err *err)
{
    int rc = __real_acme__key_generate(out, type, err);
    if (rc == ACME_OK)
        register_key(*out);
    return rc;
}

static void reset_hits(void)
{
    for (size_t i = 0; i < nsecrets; i++)
        secrets[i].hits = 0;
}

/* ---- helpers ------------------------------------------------------------------ */

/* A whole file (also /proc files, which have no size), read without stdio
 * (whose buffers are freed unwiped inside libc); the caller wipes and frees
 * it with wipe_free(). Grown by copy, each old block wiped. */
static void wipe_free(char *s)
{
    if (s) {
        mbedtls_platform_zeroize(s, strlen(s));
        free(s);
    }
}

/* Check that no body line of a PEM private key occurs in the log. */
static size_t pem_lines_checked;
static void check_pem_not_logged(const char *pem, const char *what)
{
    const char *log = test_log();
    const char *p = strstr(pem, "-----\n");
    if (!p) {
        CHECK_MSG(0, "%s: not PEM", what);
        return;
    }
    for (p += 6; *p && strncmp(p, "-----", 5) != 0;) {
        size_t n = strcspn(p, "\n");
        if (n >= 16) {
            char line[128];
            snprintf(line, sizeof(line), "%.*s", (int)(n < 127 ? n : 127), p);
            CHECK_MSG(strstr(log, line) == NULL, "%s: PEM line \"%s\" is in the log", what,
                      line);
            pem_lines_checked++;
            mbedtls_platform_zeroize(line, sizeof(line));
        }
        p += n + (p[n] == '\n');
    }
}

static void check_key_not_logged(acme_key *k, const char *what)
{
    char *pem = NULL;
    REQUIRE_OK(acme_key_to_pem(k, &pem));
    check_pem_not_logged(pem, what);
    acme_free(pem);
}

/* Every key.pem in the store (account key, certificate key generations,
 * stable copies). */
static size_t store_keys_checked;
static void check_store_keys(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            check_store_keys(path);
        } else if (strcmp(e->d_name, "key.pem") == 0) {
            char *pem = test_read_file(path);
            CHECK_MSG(pem != NULL, "cannot read %s", path);
            if (pem)
                check_pem_not_logged(pem, path);
            wipe_free(pem);
            store_keys_checked++;
        }
    }
    if (d)
        closedir(d);
}

/* The file mapped at addr, from /proc/self/maps, into path ("" if none). */
static void mapping_of(uintptr_t addr, char *path, size_t size)
{
    char *maps = test_read_file("/proc/self/maps");
    path[0] = '\0';
    for (char *line = maps; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *end;
        uintptr_t start = (uintptr_t)strtoull(line, &end, 16);
        uintptr_t stop = *end == '-' ? (uintptr_t)strtoull(end + 1, NULL, 16) : 0;
        char *file = strchr(line, '/');
        if (addr >= start && addr < stop) {
            snprintf(path, size, "%s", file ? file : "");
            break;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(maps);
}

/* Whether mbedTLS's code is part of this program (so that its own free()
 * calls come through __wrap_free) rather than a shared library's. */
static int mbedtls_is_static(void)
{
    char exe[1024], where[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return 0;
    exe[n] = '\0';
    mapping_of((uintptr_t)mbedtls_pk_free, where, sizeof(where));
    return strcmp(where, exe) == 0;
}

/* Where this program is loaded (its lowest mapping), so that a freeing
 * address can be given to addr2line. */
static uintptr_t load_base(void)
{
    char exe[1024], *maps = test_read_file("/proc/self/maps");
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    uintptr_t base = 0;
    if (n > 0 && maps) {
        exe[n] = '\0';
        for (char *line = maps; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            size_t len = strlen(line), elen = strlen(exe);
            uintptr_t start = (uintptr_t)strtoull(line, NULL, 16);
            if (len > elen && strcmp(line + len - elen, exe) == 0 && (!base || start < base))
                base = start;
            line = nl ? nl + 1 : NULL;
        }
    }
    free(maps);
    return base;
}

/* ---- the flow ------------------------------------------------------------------- */

int main(void)
{
    const char *kid = test_env("ACME_TEST_EAB_KID");
    const char *hmac = test_env("ACME_TEST_EAB_HMAC_KEY");
    unsigned char mac[128];
    size_t mac_len = 0; /* decoded into the stack: no heap copy of the key */
    REQUIRE(acme__b64url_decode_into(hmac, strlen(hmac), mac, sizeof(mac), &mac_len) == ACME_OK);
    REQUIRE(mac_len >= 2 * WINDOW && strlen(hmac) >= TEXT);
    add_secret("EAB HMAC key: base64url text", hmac, TEXT);
    add_secret("EAB HMAC key: bytes", mac + mac_len / 2 - WINDOW / 2, WINDOW);

    /* The scanner works: a block holding a secret is caught... */
    scanning = 1;
    void *(*volatile alloc)(size_t) = malloc; /* not optimised away */
    void (*volatile release)(void *) = free;
    char *probe = alloc(100);
    REQUIRE(probe != NULL);
    memset(probe, 'x', 100);
    memcpy(probe + 37, secrets[0].bytes, secrets[0].len);
    release(probe);
    CHECK_MSG(secrets[0].hits == 1, "the scanner missed a freed secret");
    /* ...and mbedTLS's own free() calls come through it. */
    int mbed_static = mbedtls_is_static();
    CHECK_MSG(mbed_static, "mbedTLS is a shared library here: its internal frees are not seen");
    /* mbedtls_pem_write_buffer() is what mbedtls_pk_write_key_pem() uses: in
     * mbedTLS 2.28 it frees its base64 copy of the data unwiped. libacme
     * must not hand it key material; here it gets a harmless marker, which
     * shows both that the scanner sees mbedTLS's frees and what it does. */
    reset_hits();
    {
        unsigned char marker[48], out[256];
        size_t olen;
        for (size_t i = 0; i < sizeof(marker); i++)
            marker[i] = (unsigned char)(i * 7 + 3);
        unsigned char text[80];
        size_t tlen;
        REQUIRE(mbedtls_base64_encode(text, sizeof(text), &tlen, marker, sizeof(marker)) == 0);
        add_secret("marker for mbedtls_pem_write_buffer", text, TEXT);
        REQUIRE(mbedtls_pem_write_buffer("-----BEGIN X-----\n", "-----END X-----\n", marker,
                                         sizeof(marker), out, sizeof(out), &olen) == 0);
        fprintf(stderr, "mbedTLS %s; mbedtls_pem_write_buffer %s its base64 copy before free()\n",
                mbed_static ? "linked statically (its frees are scanned)" : "shared (not scanned)",
                secrets[nsecrets - 1].hits ? "does NOT wipe" : "wipes (or is not seen)");
        nsecrets--; /* the marker is no secret */
    }
    reset_hits();

    acme_provider *p = test_provider(NULL); /* logs at DEBUG into the recorder */
    acme_http_responder *responder = NULL;
    REQUIRE_OK(acme_http_responder_start(&responder, "127.0.0.1",
                                         (unsigned int)atoi(test_env("ACME_TEST_HTTP_PORT"))));
    acme_solvers *solvers = NULL;
    REQUIRE_OK(acme_solvers_new(&solvers));
    REQUIRE_OK(acme_solvers_add_http_responder(solvers, responder));

    /* 1. Register with EAB: first with the key as read from a file, newline
     * and all (refused before any request: not base64url), then as given. */
    acme_key *account_key = test_key(ACME_KEY_EC256);
    acme_account_options ao;
    acme_account_options_init(&ao, ACME_ACCOUNT_OPTIONS_VERSION);
    char hmac_newline[512];
    snprintf(hmac_newline, sizeof(hmac_newline), "%s\n", hmac);
    ao.agree_tos = 1;
    ao.eab_kid = kid;
    ao.eab_hmac_key = hmac_newline;
    acme_account *account = NULL;
    CHECK_RC(acme_account_register(&account, p, account_key, &ao), ACME_ERR_INVALID);
    mbedtls_platform_zeroize(hmac_newline, sizeof(hmac_newline));
    const char *contacts[] = { "mailto:secrets@example.com" };
    ao.contacts = contacts;
    ao.contact_count = 1;
    ao.agree_tos = 1;
    ao.eab_kid = kid;
    ao.eab_hmac_key = hmac;
    REQUIRE_OK(acme_account_register(&account, p, account_key, &ao));

    /* 2. Issue for a name with the http responder (RSA: primes too). */
    acme_key *cert_key = test_key(ACME_KEY_RSA2048);
    acme_order *order = NULL;
    REQUIRE_OK(acme_order_new(&order, account));
    REQUIRE_OK(acme_order_add_dns(order, "order.secrets.example"));
    CHECK_OK(acme_order_issue(order, solvers, cert_key));
    char *chain = strdup(acme_order_certificate_pem(order) ? acme_order_certificate_pem(order) : "");
    acme_order_free(order);

    /* 3. Ensure a name with a desire: its own account (EAB) and keys, stored;
     * then a forced renewal with the key read back from the store. */
    char *dir = test_tmpdir();
    REQUIRE(dir != NULL);
    acme_store *store = NULL;
    REQUIRE_OK(acme_store_new_fs(&store, dir));
    acme_desire_options o;
    test_desire_options(&o, "desire@secrets.example");
    o.eab_kid = kid;
    o.eab_hmac_key = hmac;
    o.account_key_type = ACME_KEY_EC384;
    acme_desire *desire = NULL;
    REQUIRE_OK(acme_desire_new(&desire, p, store, solvers, &o));
    const char *names[] = { "desire.secrets.example" };
    REQUIRE_OK(acme_desire_add(desire, NULL, names, 1, ACME_KEY_EC256, NULL));
    CHECK_OK(acme_desire_ensure(desire));
    CHECK(acme_desire_result(desire, 0) == ACME_RESULT_OBTAINED);
    REQUIRE_OK(acme_desire_set_force(desire, names[0], 1));
    CHECK_OK(acme_desire_ensure(desire));
    CHECK(acme_desire_result(desire, 0) == ACME_RESULT_RENEWED);

    /* 4. Key rollover. */
    acme_key *new_key = test_key(ACME_KEY_EC384);
    CHECK_OK(acme_account_rollover(account, new_key));

    /* 5. Revoke: with the (new) account key, and with the certificate key. */
    CHECK_OK(acme_account_revoke(account, chain, ACME_REASON_SUPERSEDED));
    CHECK_OK(acme_desire_revoke(desire, names[0], ACME_REASON_CESSATION_OF_OPERATION, 1));

    /* The log: no key and no EAB key in it. */
    const char *log = test_log();
    CHECK_MSG(strstr(log, "POST") != NULL && strlen(log) > 1000, "the log is nearly empty");
    check_key_not_logged(account_key, "account key");
    check_key_not_logged(cert_key, "certificate key (order)");
    check_key_not_logged(new_key, "rollover key");
    check_store_keys(dir);
    CHECK_MSG(store_keys_checked >= 4, "%zu keys in the store", store_keys_checked);
    CHECK_MSG(strstr(log, hmac) == NULL, "the EAB key (base64url) is in the log");
    char hex_lower[300] = "", hex_upper[300] = "";
    for (size_t i = 0; i < mac_len && 2 * i + 2 < sizeof(hex_lower); i++) {
        snprintf(hex_lower + 2 * i, 3, "%02x", mac[i]);
        snprintf(hex_upper + 2 * i, 3, "%02X", mac[i]);
    }
    CHECK_MSG(strstr(log, hex_lower) == NULL && strstr(log, hex_upper) == NULL,
              "the EAB key (hex) is in the log");
    CHECK_MSG(!strstr(log, hmac + strlen(hmac) / 2), "half of the EAB key is in the log");
    size_t loglen = strlen(log);
    int raw_found = 0;
    for (size_t i = 0; i + WINDOW <= loglen && !raw_found; i++)
        raw_found = memcmp(log + i, mac + mac_len / 2 - WINDOW / 2, WINDOW) == 0;
    CHECK_MSG(!raw_found, "EAB key bytes are in the log");
    mbedtls_platform_zeroize(hex_lower, sizeof(hex_lower));
    mbedtls_platform_zeroize(hex_upper, sizeof(hex_upper));
    fprintf(stderr, "log: %zu bytes, %zu PEM lines of %zu keys checked (%zu from the store)\n",
            loglen, pem_lines_checked, keys_registered, store_keys_checked);

    /* Free everything that held a key: keys, account, desire. */
    acme_key_free(account_key);
    acme_key_free(cert_key);
    acme_key_free(new_key);
    acme_account_free(account);
    acme_desire_free(desire);
    acme_store_free(store);
    acme_solvers_free(solvers);
    acme_http_responder_stop(responder);
    acme_provider_free(p);
    free(chain);
    free(dir);
    test_log_clear();
    scanning = 0;

    CHECK_MSG(keys_registered >= 5, "only %zu keys were made", keys_registered);
    fprintf(stderr, "%zu freed blocks scanned for %zu pieces of secret material\n",
            frees_scanned, nsecrets);
    CHECK(frees_scanned > 1000);
    uintptr_t base = load_base();
    for (size_t i = 0; i < nsecrets; i++) {
        secret *x = &secrets[i];
        CHECK_MSG(x->hits == 0,
                  "%s: in %zu freed block%s, the first freed from offset 0x%lx "
                  "(addr2line -f -i -e test-secrets 0x%lx)",
                  x->what, x->hits, x->hits == 1 ? "" : "s",
                  (unsigned long)((uintptr_t)x->freed_from - base),
                  (unsigned long)((uintptr_t)x->freed_from - base));
    }
    mbedtls_platform_zeroize(mac, sizeof(mac));
    return check_done();
}
