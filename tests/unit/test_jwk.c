/* JWKs in the canonical form of RFC 7638 and their thumbprints: the RFC's
 * own example, an EC key from RFC 7515, and generated keys of every type. */
#include <acme.h>

#include <string.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>

#include "base/b64.h"
#include "base/buf.h"
#include "net/json.h"
#include "crypto/key.h"

#include "unit.h"

/* RFC 7638 section 3.1: the example RSA key's modulus and exponent. */
static const char rfc7638_n[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAt"
    "VT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn6"
    "4tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FD"
    "W2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n9"
    "1CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINH"
    "aQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
static const char rfc7638_e[] = "AQAB";
/* RFC 7638 section 3.1: the thumbprint of that key. */
static const char rfc7638_thumbprint[] = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

/* RFC 7515 appendix A.3.1: the ES256 example key's public coordinates. */
static const char rfc7515_x[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
static const char rfc7515_y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

static unsigned char *decode(const char *text, size_t *len)
{
    unsigned char *d = NULL;
    *len = 0;
    int rc = acme__b64url_decode(text, strlen(text), &d, len);
    CHECK_MSG(rc == ACME_OK, "cannot decode %s", text);
    return d;
}

/* A test vector that must decode to want bytes; exits if it does not decode. */
static unsigned char *decode_vector(const char *text, size_t want, size_t *len)
{
    unsigned char *d = decode(text, len);
    REQUIRE(d != NULL);
    CHECK_MSG(*len == want, "%s decodes to %zu bytes, wanted %zu", text, *len, want);
    return d;
}

static char *sha256_b64(const char *s, size_t len)
{
    unsigned char digest[32];
    REQUIRE_ZERO(mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), (const unsigned char *)s,
                       len, digest));
    char *out = NULL;
    CHECK_OK(acme_base64url_encode(digest, sizeof(digest), &out));
    return out;
}

static void test_rfc7638(void)
{
    size_t n_len, e_len;
    unsigned char *n = decode_vector(rfc7638_n, 256, &n_len);
    unsigned char *e = decode_vector(rfc7638_e, 3, &e_len);

    acme__buf b = ACME__BUF_INIT;
    CHECK_OK(acme__jwk_append_rsa(&b, n, n_len, e, e_len));
    /* RFC 7638 section 3.3: required members, sorted, no white space. */
    acme__buf want = ACME__BUF_INIT;
    acme__buf_printf(&want, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", rfc7638_e, rfc7638_n);
    CHECK_STR(acme__buf_str(&b), acme__buf_str(&want));

    char *tp = NULL;
    CHECK_OK(acme__jwk_thumbprint(b.data, b.len, &tp));
    CHECK_STR(tp, rfc7638_thumbprint);
    acme_free(tp);

    /* Integers are written without leading zero octets (RFC 7518 6.3.1):
     * the same key given with zero-padded n and e gives the same JWK. */
    unsigned char n0[260], e0[8];
    memset(n0, 0, sizeof(n0));
    memset(e0, 0, sizeof(e0));
    memcpy(n0 + 4, n, n_len);
    memcpy(e0 + 5, e, e_len);
    acme__buf b2 = ACME__BUF_INIT;
    CHECK_OK(acme__jwk_append_rsa(&b2, n0, n_len + 4, e0, e_len + 5));
    CHECK_STR(acme__buf_str(&b2), acme__buf_str(&want));
    tp = NULL;
    CHECK_OK(acme__jwk_thumbprint(b2.data, b2.len, &tp));
    CHECK_STR(tp, rfc7638_thumbprint);
    acme_free(tp);

    /* A JWK that differs in one byte has a different thumbprint. */
    n[n_len - 1] ^= 1;
    acme__buf b3 = ACME__BUF_INIT;
    CHECK_OK(acme__jwk_append_rsa(&b3, n, n_len, e, e_len));
    tp = NULL;
    CHECK_OK(acme__jwk_thumbprint(b3.data, b3.len, &tp));
    CHECK(tp && strcmp(tp, rfc7638_thumbprint) != 0);
    acme_free(tp);

    acme__buf_free(&b);
    acme__buf_free(&b2);
    acme__buf_free(&b3);
    acme__buf_free(&want);
    free(n);
    free(e);
}

static void test_rfc7515_ec(void)
{
    size_t x_len, y_len;
    unsigned char *x = decode_vector(rfc7515_x, 32, &x_len);
    unsigned char *y = decode_vector(rfc7515_y, 32, &y_len);

    /* The vectors are a real P-256 point (so the check below is about a
     * real key, not a typo). */
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    CHECK(mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0);
    CHECK(mbedtls_mpi_read_binary(&q.X, x, x_len) == 0);
    CHECK(mbedtls_mpi_read_binary(&q.Y, y, y_len) == 0);
    CHECK(mbedtls_mpi_lset(&q.Z, 1) == 0);
    CHECK(mbedtls_ecp_check_pubkey(&grp, &q) == 0);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);

    acme__buf b = ACME__BUF_INIT;
    CHECK_OK(acme__jwk_append_ec(&b, "P-256", x, y, 32));
    acme__buf want = ACME__BUF_INIT;
    acme__buf_printf(&want, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                     rfc7515_x, rfc7515_y);
    CHECK_STR(acme__buf_str(&b), acme__buf_str(&want));

    char *tp = NULL, *want_tp = sha256_b64(want.data, want.len);
    CHECK_OK(acme__jwk_thumbprint(b.data, b.len, &tp));
    CHECK_STR(tp, want_tp);
    CHECK(tp && strlen(tp) == 43);
    acme_free(tp);
    acme_free(want_tp);

    /* Coordinates keep their full width, leading zero octets included
     * (RFC 7518 section 6.2.1.2). */
    unsigned char zx[32] = { 0 }, zy[32];
    zx[31] = 1;
    memset(zy, 0xff, sizeof(zy));
    acme__buf z = ACME__BUF_INIT;
    CHECK_OK(acme__jwk_append_ec(&z, "P-256", zx, zy, 32));
    CHECK_STR(acme__buf_str(&z), "{\"crv\":\"P-256\",\"kty\":\"EC\","
                                 "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\","
                                 "\"y\":\"__________________________________________8\"}");

    acme__buf_free(&z);
    acme__buf_free(&b);
    acme__buf_free(&want);
    free(x);
    free(y);
}

/* Member i of a parsed object must be `name`; returns its value. */
static yajl_val member(yajl_val obj, size_t i, const char *name)
{
    if (!obj || !YAJL_IS_OBJECT(obj) || i >= obj->u.object.len) {
        CHECK_MSG(0, "no member %zu (%s)", i, name);
        return NULL;
    }
    CHECK_MSG(strcmp(obj->u.object.keys[i], name) == 0, "member %zu is \"%s\", wanted \"%s\"", i,
              obj->u.object.keys[i], name);
    return obj->u.object.values[i];
}

/* Decode a base64url string member into an mpi. */
static int member_mpi(yajl_val obj, size_t i, const char *name, mbedtls_mpi *x, size_t *len)
{
    const char *s = acme__json_as_string(member(obj, i, name));
    CHECK_MSG(s != NULL, "%s is not a string", name);
    if (!s)
        return -1;
    CHECK_MSG(acme__b64url_valid(s), "%s is not base64url: %s", name, s);
    size_t n = 0;
    unsigned char *d = decode(s, &n);
    *len = n;
    int rc = d ? mbedtls_mpi_read_binary(x, d, n) : -1;
    free(d);
    return rc;
}

static void check_generated(int type)
{
    acme_key *key = NULL;
    CHECK_OK(acme_key_generate(&key, type));
    REQUIRE(key != NULL);
    CHECK(acme_key_get_type(key) == type);

    char *jwk = NULL;
    CHECK_OK(acme_key_jwk(key, &jwk));
    REQUIRE(jwk != NULL);
    CHECK_MSG(strpbrk(jwk, " \t\r\n") == NULL, "white space in %s", jwk);

    yajl_val v = NULL;
    acme__err err = { 0 };
    CHECK_OK(acme__json_parse_object(jwk, strlen(jwk), "JWK", &v, &err));
    REQUIRE(v != NULL);

    mbedtls_mpi a, b2;
    mbedtls_mpi_init(&a);
    mbedtls_mpi_init(&b2);
    size_t a_len = 0, b_len = 0;
    if (type == ACME_KEY_EC256 || type == ACME_KEY_EC384) {
        size_t coord = type == ACME_KEY_EC256 ? 32 : 48;
        /* Exactly crv, kty, x, y in this order. */
        CHECK(v->u.object.len == 4);
        CHECK_STR(acme__json_as_string(member(v, 0, "crv")),
                  type == ACME_KEY_EC256 ? "P-256" : "P-384");
        CHECK_STR(acme__json_as_string(member(v, 1, "kty")), "EC");
        CHECK(member_mpi(v, 2, "x", &a, &a_len) == 0);
        CHECK(member_mpi(v, 3, "y", &b2, &b_len) == 0);
        CHECK_MSG(a_len == coord && b_len == coord, "coordinates of %zu/%zu bytes", a_len,
                  b_len);
        /* The coordinates are the key's public point. */
        mbedtls_ecp_keypair *ec = mbedtls_pk_ec(key->pk);
        CHECK(mbedtls_mpi_cmp_mpi(&a, &ec->Q.X) == 0);
        CHECK(mbedtls_mpi_cmp_mpi(&b2, &ec->Q.Y) == 0);
    } else {
        size_t bits = type == ACME_KEY_RSA2048 ? 2048 : type == ACME_KEY_RSA3072 ? 3072 : 4096;
        /* Exactly e, kty, n in this order. */
        CHECK(v->u.object.len == 3);
        CHECK(member_mpi(v, 0, "e", &a, &a_len) == 0);
        CHECK_STR(acme__json_as_string(member(v, 1, "kty")), "RSA");
        CHECK(member_mpi(v, 2, "n", &b2, &b_len) == 0);
        /* No leading zero octets: the encoded length is the minimal one. */
        CHECK(a_len == 3 && mbedtls_mpi_cmp_int(&a, 65537) == 0);
        CHECK_MSG(b_len == bits / 8, "n of %zu bytes", b_len);
        mbedtls_mpi N, E;
        mbedtls_mpi_init(&N);
        mbedtls_mpi_init(&E);
        CHECK(mbedtls_rsa_export(mbedtls_pk_rsa(key->pk), &N, NULL, NULL, NULL, &E) == 0);
        CHECK(mbedtls_mpi_cmp_mpi(&b2, &N) == 0);
        CHECK(mbedtls_mpi_cmp_mpi(&a, &E) == 0);
        mbedtls_mpi_free(&N);
        mbedtls_mpi_free(&E);
    }
    mbedtls_mpi_free(&a);
    mbedtls_mpi_free(&b2);
    acme__json_free(v);

    char *tp = NULL;
    CHECK_OK(acme_key_thumbprint(key, &tp));
    REQUIRE(tp != NULL);
    CHECK_MSG(strlen(tp) == 43 && acme__b64url_valid(tp), "thumbprint \"%s\"", tp);
    char *want = sha256_b64(jwk, strlen(jwk));
    CHECK_STR(tp, want);
    /* Stable: asking again gives the same answer. */
    char *tp2 = NULL;
    CHECK_OK(acme_key_thumbprint(key, &tp2));
    CHECK_STR(tp2, tp);
    acme_free(tp2);

    /* A different key of the same type has a different JWK and thumbprint
     * (not for the big RSA sizes: slow to generate, RSA 2048 covers it). */
    if (type != ACME_KEY_RSA3072 && type != ACME_KEY_RSA4096) {
        acme_key *other = NULL;
        CHECK_OK(acme_key_generate(&other, type));
        char *ojwk = NULL, *otp = NULL;
        CHECK_OK(acme_key_jwk(other, &ojwk));
        CHECK_OK(acme_key_thumbprint(other, &otp));
        CHECK(ojwk && strcmp(ojwk, jwk) != 0);
        CHECK(otp && strcmp(otp, tp) != 0);
        acme_free(ojwk);
        acme_free(otp);
        acme_key_free(other);
    }

    acme_free(want);
    acme_free(tp);
    acme_free(jwk);
    acme_key_free(key);
}

static void test_args(void)
{
    char *s = NULL;
    CHECK_RC(acme_key_jwk(NULL, &s), ACME_ERR_INVALID);
    CHECK_RC(acme_key_thumbprint(NULL, &s), ACME_ERR_INVALID);
    CHECK(s == NULL);
}

int main(void)
{
    test_rfc7638();
    test_rfc7515_ec();
    test_args();
    static const int types[] = { ACME_KEY_EC256, ACME_KEY_EC384, ACME_KEY_RSA2048,
                                 ACME_KEY_RSA3072, ACME_KEY_RSA4096 };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (!unit_slow_key(types[i]))
            check_generated(types[i]);
    return check_done();
}
