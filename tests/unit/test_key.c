/* Private keys: PEM round trips for every type, atomic 0600 files, PKCS#8
 * input, and the errors for everything that is not a supported key. */
#include <acme.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/asn1.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/rsa.h>
#include <mbedtls/x509_crt.h>

#include "base/error.h"
#include "crypto/key.h"
#include "base/mbedcompat.h"
#include "base/rng.h"

#include "files.h"
#include "unit.h"

static const int all_types[] = { ACME_KEY_EC256, ACME_KEY_EC384, ACME_KEY_RSA2048,
                                 ACME_KEY_RSA3072, ACME_KEY_RSA4096 };
#define NTYPES (sizeof(all_types) / sizeof(all_types[0]))

static char tmpdir[] = "/tmp/libacme-test-key-XXXXXX";

static char *jwk_of(const acme_key *k)
{
    char *jwk = NULL;
    CHECK_OK(acme_key_jwk(k, &jwk));
    return jwk;
}

/* back is key read back: same type, same JWK. Frees back. */
static void check_same_key(const acme_key *key, acme_key *back)
{
    REQUIRE(back != NULL);
    CHECK(acme_key_get_type(back) == acme_key_get_type(key));
    char *a = jwk_of(key), *b = jwk_of(back);
    CHECK_STR(a, b);
    acme_free(a);
    acme_free(b);
    acme_key_free(back);
}

/* Number of entries in dir (without . and ..); the first one's name in
 * first (if given). */
static int count_entries(const char *dir, char *first, size_t first_size)
{
    DIR *d = opendir(dir);
    REQUIRE(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == 0 && first)
            snprintf(first, first_size, "%s", e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

/* Before a call that must fail: a known message, so the check after it can
 * tell that the call recorded its own. */
static void set_sentinel(void)
{
    acme__fail(NULL, ACME_ERR_INVALID, "sentinel");
}

static void check_own_error(const char *what)
{
    const char *msg = acme_last_error();
    CHECK_MSG(msg[0] != '\0' && strcmp(msg, "sentinel") != 0, "%s: no error message (\"%s\")",
              what, msg);
}

static void check_bad_pem(const char *what, const char *pem, size_t len)
{
    acme_key *k = (acme_key *)&k; /* anything but NULL */
    set_sentinel();
    CHECK_RC(acme_key_load_pem(&k, pem, len), ACME_ERR_KEY_FORMAT);
    CHECK_MSG(k == NULL, "%s: output not reset", what);
    check_own_error(what);
    if (k != (acme_key *)&k)
        acme_key_free(k);
}

/* The message says why an encrypted key is refused. */
static void check_says_encrypted(const char *what)
{
    char msg[600];
    snprintf(msg, sizeof(msg), "%s", acme_last_error());
    for (char *c = msg; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    CHECK_MSG(strstr(msg, "encrypt") != NULL, "%s: message does not say why: %s", what,
              acme_last_error());
}

static void test_pem_roundtrip(acme_key *key)
{
    int type = acme_key_get_type(key);
    char *pem = NULL;
    CHECK_OK(acme_key_to_pem(key, &pem));
    REQUIRE(pem != NULL);
    int ec = type == ACME_KEY_EC256 || type == ACME_KEY_EC384;
    /* SEC1 for EC, PKCS#1 for RSA, as documented. */
    CHECK_MSG(strncmp(pem, ec ? "-----BEGIN EC PRIVATE KEY-----\n"
                              : "-----BEGIN RSA PRIVATE KEY-----\n",
                      ec ? 31 : 32) == 0,
              "%s: unexpected PEM header: %.40s", acme_key_type_name(type), pem);

    acme_key *back = NULL;
    CHECK_OK(acme_key_load_pem(&back, pem, strlen(pem)));
    REQUIRE(back != NULL);
    CHECK(acme_key_get_type(back) == type);
    char *a = jwk_of(key), *b = jwk_of(back);
    CHECK_STR(a, b);
    /* The private halves match too. */
    CHECK(ACME__PK_CHECK_PAIR(&key->pk, &back->pk) == 0);

    /* PEM surrounded by other text (as files often are) still loads. */
    size_t plen = strlen(pem);
    char *wrapped = malloc(plen + 64);
    REQUIRE(wrapped != NULL);
    snprintf(wrapped, plen + 64, "comment line\n%s\ntrailing\n", pem);
    acme_key *w = NULL;
    CHECK_OK(acme_key_load_pem(&w, wrapped, strlen(wrapped)));
    acme_key_free(w);
    free(wrapped);

    /* Truncated PEM: half of it, and everything but the END line. */
    check_bad_pem("half a PEM", pem, plen / 2);
    const char *end = strstr(pem, "-----END");
    REQUIRE(end != NULL);
    check_bad_pem("PEM without END line", pem, (size_t)(end - pem));

    acme_free(a);
    acme_free(b);
    acme_key_free(back);
    acme_free(pem);
}

static void test_file_roundtrip(acme_key *key)
{
    const char *name = acme_key_type_name(acme_key_get_type(key));
    char dir[sizeof(tmpdir) + 32], path[sizeof(dir) + 32];
    snprintf(dir, sizeof(dir), "%s/%s", tmpdir, name);
    REQUIRE_ZERO(mkdir(dir, 0700));
    snprintf(path, sizeof(path), "%s/key.pem", dir);

    /* An existing, world-readable file is replaced by a 0600 one. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    CHECK(write(fd, "old\n", 4) == 4);
    close(fd);
    CHECK(chmod(path, 0644) == 0);

    CHECK_OK(acme_key_save_file(key, path));
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK_MSG((st.st_mode & 07777) == 0600, "%s: mode %o", name, (unsigned)(st.st_mode & 07777));
    CHECK(S_ISREG(st.st_mode));

    /* Saving again (over our own file) works too. */
    CHECK_OK(acme_key_save_file(key, path));
    CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);

    char first[256] = "";
    CHECK_MSG(count_entries(dir, first, sizeof(first)) == 1, "%s: leftover files", name);
    CHECK_STR(first, "key.pem");

    acme_key *back = NULL;
    CHECK_OK(acme_key_load_file(&back, path));
    check_same_key(key, back);

    /* The file holds exactly what acme_key_to_pem gives. */
    char *pem = NULL;
    CHECK_OK(acme_key_to_pem(key, &pem));
    char buf[8192];
    fd = open(path, O_RDONLY);
    REQUIRE(fd >= 0);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    CHECK(n > 0 && pem && (size_t)n == strlen(pem) && memcmp(buf, pem, (size_t)n) == 0);
    acme_free(pem);
}

/* PKCS#8 PrivateKeyInfo (RFC 5208 section 5) around the SEC1 / PKCS#1 DER
 * that mbedTLS writes:
 *   SEQUENCE { INTEGER 0,
 *              SEQUENCE { OID id-ecPublicKey, OID namedCurve }   (EC)
 *              SEQUENCE { OID rsaEncryption, NULL }              (RSA)
 *              OCTET STRING key } */
static char *pkcs8_pem(acme_key *key, const char *label)
{
    static unsigned char der[8192], out[16384];
    int key_len = mbedtls_pk_write_key_der(&key->pk, der, sizeof(der));
    REQUIRE(key_len > 0);
    /* mbedTLS writes the DER at the end of the buffer. */
    unsigned char *inner = der + sizeof(der) - key_len;

    unsigned char buf[8192];
    unsigned char *p = buf + sizeof(buf);
    int len = 0, r;
#define W(call)                                                                  \
    do {                                                                         \
        r = (call);                                                              \
        REQUIRE(r >= 0);                                                         \
        len += r;                                                                \
    } while (0)
    W(mbedtls_asn1_write_octet_string(&p, buf, inner, (size_t)key_len));
    if (mbedtls_pk_get_type(&key->pk) == MBEDTLS_PK_RSA) {
        W(mbedtls_asn1_write_algorithm_identifier(&p, buf, MBEDTLS_OID_PKCS1_RSA,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_PKCS1_RSA), 0));
    } else {
        const char *curve_oid;
        size_t curve_oid_len;
        REQUIRE_ZERO(mbedtls_oid_get_oid_by_ec_grp(ACME__EC_GROUP_ID(mbedtls_pk_ec(key->pk)),
                                              &curve_oid, &curve_oid_len));
        /* The parameters go first (DER is written backwards); the
         * AlgorithmIdentifier's length returned below includes them. */
        int par = mbedtls_asn1_write_oid(&p, buf, curve_oid, curve_oid_len);
        REQUIRE(par > 0);
        W(mbedtls_asn1_write_algorithm_identifier(
            &p, buf, MBEDTLS_OID_EC_ALG_UNRESTRICTED,
            MBEDTLS_OID_SIZE(MBEDTLS_OID_EC_ALG_UNRESTRICTED), (size_t)par));
    }
    W(mbedtls_asn1_write_int(&p, buf, 0));
    W(mbedtls_asn1_write_len(&p, buf, (size_t)len));
    W(mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
#undef W
    /* The outer SEQUENCE spans exactly what was written. */
    unsigned char *q = p;
    size_t seq_len = 0;
    REQUIRE_ZERO(mbedtls_asn1_get_tag(&q, buf + sizeof(buf), &seq_len,
                                      MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    REQUIRE(q + seq_len == buf + sizeof(buf) && p + len == buf + sizeof(buf));

    char header[80], footer[80];
    snprintf(header, sizeof(header), "-----BEGIN %s-----\n", label);
    snprintf(footer, sizeof(footer), "-----END %s-----\n", label);
    size_t olen = 0;
    REQUIRE_ZERO(mbedtls_pem_write_buffer(header, footer, p, (size_t)len, out, sizeof(out), &olen));
    mbedtls_platform_zeroize(der, sizeof(der));
    mbedtls_platform_zeroize(buf, sizeof(buf));
    char *s = strdup((char *)out);
    mbedtls_platform_zeroize(out, sizeof(out));
    REQUIRE(s != NULL);
    return s;
}

static void test_pkcs8(acme_key *key)
{
    char *pem = pkcs8_pem(key, "PRIVATE KEY");
    /* Sanity: mbedTLS itself reads what we built as the same key. */
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    CHECK(ACME__PK_PARSE_KEY(&pk, (const unsigned char *)pem, strlen(pem) + 1) == 0);
    CHECK(ACME__PK_CHECK_PAIR(&key->pk, &pk) == 0);
    mbedtls_pk_free(&pk);

    acme_key *back = NULL;
    CHECK_OK(acme_key_load_pem(&back, pem, strlen(pem)));
    check_same_key(key, back);
    free(pem);

    /* The same DER labelled as encrypted PKCS#8 is refused. */
    pem = pkcs8_pem(key, "ENCRYPTED PRIVATE KEY");
    check_bad_pem("ENCRYPTED PRIVATE KEY", pem, strlen(pem));
    check_says_encrypted("ENCRYPTED PRIVATE KEY");
    free(pem);
}

/* A PEM key that mbedTLS writes but libacme must refuse. */
static void check_unsupported(const char *what, mbedtls_pk_context *pk)
{
    static unsigned char buf[16000];
    REQUIRE_ZERO(mbedtls_pk_write_key_pem(pk, buf, sizeof(buf)));
    check_bad_pem(what, (const char *)buf, strlen((const char *)buf));
    mbedtls_platform_zeroize(buf, sizeof(buf));
}

static void test_unsupported_keys(void)
{
    static const struct {
        mbedtls_ecp_group_id id;
        const char *what;
    } curves[] = {
        { MBEDTLS_ECP_DP_SECP256K1, "secp256k1 key" },
        { MBEDTLS_ECP_DP_SECP521R1, "P-521 key" },
        { MBEDTLS_ECP_DP_SECP224R1, "P-224 key" },
    };
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        mbedtls_pk_context pk;
        mbedtls_pk_init(&pk);
        REQUIRE_ZERO(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)));
        REQUIRE_ZERO(mbedtls_ecp_gen_key(curves[i].id, mbedtls_pk_ec(pk), acme__rng, NULL));
        check_unsupported(curves[i].what, &pk);
        mbedtls_pk_free(&pk);
    }
    /* RSA of a size that is not 2048, 3072 or 4096. */
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    REQUIRE_ZERO(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)));
    REQUIRE_ZERO(mbedtls_rsa_gen_key(mbedtls_pk_rsa(pk), acme__rng, NULL, 1024, 65537));
    check_unsupported("RSA 1024 key", &pk);
    mbedtls_pk_free(&pk);
}

/* A real self-signed certificate in PEM: not a key. */
static void test_certificate_is_not_a_key(acme_key *key)
{
    mbedtls_x509write_cert crt;
    mbedtls_mpi serial;
    mbedtls_x509write_crt_init(&crt);
    mbedtls_mpi_init(&serial);
    REQUIRE_ZERO(mbedtls_mpi_lset(&serial, 1));
    mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, &key->pk);
    mbedtls_x509write_crt_set_issuer_key(&crt, &key->pk);
    REQUIRE_ZERO(mbedtls_x509write_crt_set_subject_name(&crt, "CN=example.com"));
    REQUIRE_ZERO(mbedtls_x509write_crt_set_issuer_name(&crt, "CN=example.com"));
    REQUIRE_ZERO(mbedtls_x509write_crt_set_serial(&crt, &serial));
    REQUIRE_ZERO(mbedtls_x509write_crt_set_validity(&crt, "20200101000000", "20400101000000"));
    static unsigned char pem[8192];
    REQUIRE_ZERO(mbedtls_x509write_crt_pem(&crt, pem, sizeof(pem), acme__rng, NULL));
    mbedtls_x509write_crt_free(&crt);
    mbedtls_mpi_free(&serial);

    /* It is a certificate that mbedTLS reads... */
    mbedtls_x509_crt parsed;
    mbedtls_x509_crt_init(&parsed);
    CHECK(mbedtls_x509_crt_parse(&parsed, pem, strlen((char *)pem) + 1) == 0);
    mbedtls_x509_crt_free(&parsed);
    CHECK(strncmp((char *)pem, "-----BEGIN CERTIFICATE-----", 27) == 0);
    /* ...but not a private key. */
    check_bad_pem("certificate", (const char *)pem, strlen((char *)pem));

    /* Nor is the public key alone. */
    REQUIRE_ZERO(mbedtls_pk_write_pubkey_pem(&key->pk, pem, sizeof(pem)));
    CHECK(strncmp((char *)pem, "-----BEGIN PUBLIC KEY-----", 26) == 0);
    check_bad_pem("public key", (const char *)pem, strlen((char *)pem));
}

static void test_bad_input(void)
{
    check_bad_pem("empty", "", 0);
    check_bad_pem("garbage", "this is not a key\n", 18);
    static const unsigned char binary[] = { 0x30, 0x82, 0x01, 0x00, 0xff, 0x00, 0x13 };
    check_bad_pem("binary", (const char *)binary, sizeof(binary));
    static const char bad_base64[] = "-----BEGIN EC PRIVATE KEY-----\n"
                                     "!!!! not base64 !!!!\n"
                                     "-----END EC PRIVATE KEY-----\n";
    check_bad_pem("bad base64", bad_base64, strlen(bad_base64));
    static const char empty_body[] = "-----BEGIN PRIVATE KEY-----\n"
                                     "-----END PRIVATE KEY-----\n";
    check_bad_pem("empty body", empty_body, strlen(empty_body));
    /* A legacy OpenSSL-encrypted PEM: refused, not misread. */
    static const char legacy[] = "-----BEGIN RSA PRIVATE KEY-----\n"
                                 "Proc-Type: 4,ENCRYPTED\n"
                                 "DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n"
                                 "\n"
                                 "AAAA\n"
                                 "-----END RSA PRIVATE KEY-----\n";
    check_bad_pem("legacy encrypted", legacy, strlen(legacy));
    check_says_encrypted("legacy encrypted");

    acme_key *k = NULL;
    CHECK_RC(acme_key_load_pem(NULL, "x", 1), ACME_ERR_INVALID);
    CHECK_RC(acme_key_load_pem(&k, NULL, 0), ACME_ERR_INVALID);
    CHECK_RC(acme_key_load_file(&k, NULL), ACME_ERR_INVALID);
    CHECK_RC(acme_key_save_file(NULL, "/tmp/x"), ACME_ERR_INVALID);
    char *pem = NULL;
    CHECK_RC(acme_key_to_pem(NULL, &pem), ACME_ERR_INVALID);
    CHECK(pem == NULL);
}

static void test_file_errors(acme_key *key)
{
    char path[sizeof(tmpdir) + 64];
    acme_key *k = NULL;

    /* A file that does not exist. */
    snprintf(path, sizeof(path), "%s/does-not-exist.pem", tmpdir);
    set_sentinel();
    CHECK_RC(acme_key_load_file(&k, path), ACME_ERR_IO);
    CHECK(k == NULL);
    check_own_error("missing file");
    CHECK(strstr(acme_last_error(), "does-not-exist.pem") != NULL);

    /* A directory is not a key file. */
    set_sentinel();
    CHECK_RC(acme_key_load_file(&k, tmpdir), ACME_ERR_IO);
    check_own_error("directory");

    /* An empty file and an oversized one hold no key. */
    snprintf(path, sizeof(path), "%s/empty.pem", tmpdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    close(fd);
    set_sentinel();
    CHECK_RC(acme_key_load_file(&k, path), ACME_ERR_KEY_FORMAT);
    check_own_error("empty file");
    CHECK(unlink(path) == 0);

    snprintf(path, sizeof(path), "%s/huge.pem", tmpdir);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    char block[4096];
    memset(block, 'A', sizeof(block));
    for (int i = 0; i < 128; i++) /* 512 KiB */
        CHECK(write(fd, block, sizeof(block)) == (ssize_t)sizeof(block));
    close(fd);
    set_sentinel();
    CHECK_RC(acme_key_load_file(&k, path), ACME_ERR_KEY_FORMAT);
    check_own_error("huge file");
    CHECK(unlink(path) == 0);

    /* Saving into a directory that does not exist fails and leaves nothing
     * behind: neither the directory nor a temporary file. */
    int before = count_entries(tmpdir, NULL, 0);
    snprintf(path, sizeof(path), "%s/no-such-dir/key.pem", tmpdir);
    set_sentinel();
    CHECK_RC(acme_key_save_file(key, path), ACME_ERR_IO);
    check_own_error("save into missing directory");
    snprintf(path, sizeof(path), "%s/no-such-dir", tmpdir);
    struct stat st;
    CHECK(stat(path, &st) != 0 && errno == ENOENT);
    CHECK(count_entries(tmpdir, NULL, 0) == before);

    /* A failure after the temporary file exists (rename over a directory)
     * removes it and leaves the target alone. */
    snprintf(path, sizeof(path), "%s/target-is-a-dir", tmpdir);
    REQUIRE_ZERO(mkdir(path, 0700));
    before = count_entries(tmpdir, NULL, 0);
    set_sentinel();
    CHECK_RC(acme_key_save_file(key, path), ACME_ERR_IO);
    check_own_error("save over a directory");
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(count_entries(path, NULL, 0) == 0);
    CHECK_MSG(count_entries(tmpdir, NULL, 0) == before, "temporary file left behind");
    CHECK(rmdir(path) == 0);
}

static void test_type_names(void)
{
    static const char *const names[] = { "ec256", "ec384", "rsa2048", "rsa3072", "rsa4096" };
    for (size_t i = 0; i < NTYPES; i++) {
        CHECK_STR(acme_key_type_name(all_types[i]), names[i]);
        CHECK(acme_key_type_from_name(names[i]) == all_types[i]);
        CHECK(acme_key_type_from_name(acme_key_type_name(all_types[i])) == all_types[i]);
    }
    /* The documented aliases. */
    CHECK(acme_key_type_from_name("p256") == ACME_KEY_EC256);
    CHECK(acme_key_type_from_name("p384") == ACME_KEY_EC384);
    CHECK(acme_key_type_from_name("ecdsa") == ACME_KEY_EC256);
    CHECK(acme_key_type_from_name("rsa") == ACME_KEY_RSA2048);
    /* Not supported, or not names at all. */
    CHECK(acme_key_type_from_name("ec521") == ACME_ERR_INVALID);
    CHECK(acme_key_type_from_name("p521") == ACME_ERR_INVALID);
    CHECK(acme_key_type_from_name("rsa1024") == ACME_ERR_INVALID);
    CHECK(acme_key_type_from_name("ed25519") == ACME_ERR_INVALID);
    CHECK(acme_key_type_from_name("") == ACME_ERR_INVALID);
    CHECK(acme_key_type_from_name("ec2560") == ACME_ERR_INVALID);
    CHECK(acme_key_type_from_name(NULL) == ACME_ERR_INVALID);
    CHECK(acme_key_type_name(0) == NULL);
    CHECK(acme_key_type_name(6) == NULL);
    CHECK(acme_key_type_name(-1) == NULL);

    acme_key *k = (acme_key *)&k;
    CHECK_RC(acme_key_generate(&k, 0), ACME_ERR_INVALID);
    CHECK(k == NULL);
    CHECK_RC(acme_key_generate(&k, 6), ACME_ERR_INVALID);
    CHECK_RC(acme_key_generate(NULL, ACME_KEY_EC256), ACME_ERR_INVALID);
    CHECK(acme_key_get_type(NULL) == 0);
    CHECK(acme_key_algorithm(NULL) == NULL);
    acme_key_free(NULL);
}

static void test_algorithms(acme_key *const *keys)
{
    static const char *const algs[] = { "ES256", "ES384", "RS256", "RS256", "RS256" };
    for (size_t i = 0; i < NTYPES; i++)
        if (keys[i])
            CHECK_STR(acme_key_algorithm(keys[i]), algs[i]);
}

static void test_refcount(acme_key *key)
{
    /* An extra reference keeps the key alive after the caller's free. */
    acme_key *ref = acme__key_ref(key);
    CHECK(ref == key);
    acme_key_free(key);
    char *jwk = NULL;
    CHECK_OK(acme_key_jwk(ref, &jwk));
    acme_free(jwk);
    acme_key_free(ref);
}

int main(void)
{
    char *made = mkdtemp(tmpdir);
    REQUIRE(made != NULL);

    test_type_names();
    test_bad_input();

    acme_key *keys[NTYPES];
    for (size_t i = 0; i < NTYPES; i++) {
        keys[i] = NULL;
        if (unit_slow_key(all_types[i]))
            continue;
        REQUIRE_OK(acme_key_generate(&keys[i], all_types[i]));
        CHECK(acme_key_get_type(keys[i]) == all_types[i]);
    }
    test_algorithms(keys);
    for (size_t i = 0; i < NTYPES; i++) {
        if (!keys[i])
            continue;
        test_pem_roundtrip(keys[i]);
        test_file_roundtrip(keys[i]);
        test_pkcs8(keys[i]);
    }
    test_certificate_is_not_a_key(keys[0]);
    test_unsupported_keys();
    test_file_errors(keys[0]);

    acme_key *spare = NULL;
    CHECK_OK(acme_key_generate(&spare, ACME_KEY_EC256));
    test_refcount(spare);

    for (size_t i = 0; i < NTYPES; i++)
        acme_key_free(keys[i]);
    CHECK_MSG(test_remove_tree(tmpdir) == 0, "cannot remove %s: %s", tmpdir, strerror(errno));
    return check_done();
}
