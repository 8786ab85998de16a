/* Keys: generation and PEM on mbedTLS, JWK, thumbprint, and the one signing
 * function for mbedTLS keys and host signers alike. */
#include "crypto/key.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/base64.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/rsa.h>

#include "base/b64.h"
#include "base/file.h"
#include "net/json.h"
#include "base/mbedcompat.h"
#include "base/mem.h"

/* Large enough for an RSA 4096 key in PEM (about 3.3 KB). */
#define PEM_BUF_SIZE 16000
/* Key files are small; anything bigger is not a key. */
#define MAX_KEY_FILE (256 * 1024)
/* F4, the exponent every CA and TLS stack expects. */
#define RSA_PUBLIC_EXPONENT 65537
/* PEM body line width (RFC 7468 section 2). */
#define PEM_LINE 64

static const struct key_kind {
    int type;
    const char *name;
    const char *alg;
    int rsa_bits;                  /* 0 for EC */
    mbedtls_ecp_group_id curve;    /* MBEDTLS_ECP_DP_NONE for RSA */
    const char *crv;               /* JWK curve name */
    size_t coord;                  /* EC coordinate size in bytes */
    mbedtls_md_type_t md;
    int sig_alg;                   /* ACME_SIG_*, what a host signer is asked for */
} kinds[] = {
    { ACME_KEY_EC256, "ec256", "ES256", 0, MBEDTLS_ECP_DP_SECP256R1, "P-256", 32, MBEDTLS_MD_SHA256,
      ACME_SIG_ES256 },
    { ACME_KEY_EC384, "ec384", "ES384", 0, MBEDTLS_ECP_DP_SECP384R1, "P-384", 48, MBEDTLS_MD_SHA384,
      ACME_SIG_ES384 },
    { ACME_KEY_RSA2048, "rsa2048", "RS256", 2048, MBEDTLS_ECP_DP_NONE, NULL, 0, MBEDTLS_MD_SHA256,
      ACME_SIG_RS256 },
    { ACME_KEY_RSA3072, "rsa3072", "RS256", 3072, MBEDTLS_ECP_DP_NONE, NULL, 0, MBEDTLS_MD_SHA256,
      ACME_SIG_RS256 },
    { ACME_KEY_RSA4096, "rsa4096", "RS256", 4096, MBEDTLS_ECP_DP_NONE, NULL, 0, MBEDTLS_MD_SHA256,
      ACME_SIG_RS256 },
};

static const struct key_kind *kind_of(int type)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (kinds[i].type == type)
            return &kinds[i];
    return NULL;
}

static acme_key *key_alloc(void)
{
    acme_key *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    atomic_init(&k->refs, 1);
    pthread_mutex_init(&k->lock, NULL);
    mbedtls_pk_init(&k->pk);
    return k;
}

acme_key *acme__key_ref(acme_key *k)
{
    if (k)
        atomic_fetch_add(&k->refs, 1);
    return k;
}

void acme_key_free(acme_key *k)
{
    if (!k || atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    if (k->external && k->signer.release)
        k->signer.release(k->signer_data);
    mbedtls_pk_free(&k->pk); /* mbedTLS zeroizes the key material */
    pthread_mutex_destroy(&k->lock);
    acme__err_clear(&k->err);
    acme__wipe(k, sizeof(*k));
    free(k);
}

int acme__key_generate(acme_key **out, int type, acme__err *err)
{
    if (!out)
        return acme__fail(err, ACME_ERR_INVALID, "key generation: NULL output");
    *out = NULL;
    const struct key_kind *kind = kind_of(type);
    if (!kind)
        return acme__fail(err, ACME_ERR_INVALID, "key generation: unknown key type %d", type);
    acme_key *k = key_alloc();
    if (!k)
        return acme__fail(err, ACME_ERR_NOMEM, "key generation: out of memory");
    k->type = type;
    int rc;
    if (kind->rsa_bits) {
        rc = mbedtls_pk_setup(&k->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA));
        if (rc == 0)
            rc = mbedtls_rsa_gen_key(mbedtls_pk_rsa(k->pk), acme__rng, NULL,
                                     (unsigned int)kind->rsa_bits, RSA_PUBLIC_EXPONENT);
    } else {
        rc = mbedtls_pk_setup(&k->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
        if (rc == 0)
            rc = mbedtls_ecp_gen_key(kind->curve, mbedtls_pk_ec(k->pk), acme__rng, NULL);
    }
    if (rc != 0) {
        acme_key_free(k);
        return acme__fail(err, ACME_ERR_CRYPTO, "key generation (%s) failed: mbedTLS -0x%04x",
                          kind->name, (unsigned)-rc);
    }
    *out = k;
    return ACME_OK;
}

int acme_key_generate(acme_key **out, int type)
{
    return acme__key_generate(out, type, NULL);
}

/* The acme_key_type of a parsed key, or 0 when it is not one we support. */
static int type_of_pk(mbedtls_pk_context *pk)
{
    mbedtls_pk_type_t t = mbedtls_pk_get_type(pk);
    if (t == MBEDTLS_PK_RSA) {
        size_t bits = mbedtls_pk_get_bitlen(pk);
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
            if (kinds[i].rsa_bits && (size_t)kinds[i].rsa_bits == bits)
                return kinds[i].type;
        return 0;
    }
    if (t == MBEDTLS_PK_ECKEY || t == MBEDTLS_PK_ECDSA) {
        mbedtls_ecp_group_id id = ACME__EC_GROUP_ID(mbedtls_pk_ec(*pk));
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
            if (!kinds[i].rsa_bits && kinds[i].curve == id)
                return kinds[i].type;
    }
    return 0;
}

int acme__key_from_pk(acme_key **out, mbedtls_pk_context *pk, acme__err *err)
{
    *out = NULL;
    int type = type_of_pk(pk);
    if (!type) {
        mbedtls_pk_type_t t = mbedtls_pk_get_type(pk);
        return acme__fail(err, ACME_ERR_KEY_FORMAT,
                          "unsupported key: %s of %zu bits (supported: EC P-256, P-384, "
                          "RSA 2048, 3072, 4096)",
                          t == MBEDTLS_PK_RSA ? "RSA" : t == MBEDTLS_PK_NONE ? "none" : "EC",
                          mbedtls_pk_get_bitlen(pk));
    }
    acme_key *k = key_alloc();
    if (!k)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    k->type = type;
    k->pk = *pk; /* take the context over */
    mbedtls_pk_init(pk);
    *out = k;
    return ACME_OK;
}

int acme__key_load_pem(acme_key **out, const char *pem, size_t len, acme__err *err)
{
    if (!out || !pem)
        return acme__fail(err, ACME_ERR_INVALID, "key: NULL argument");
    *out = NULL;
    /* mbedTLS wants PEM NUL-terminated, with the NUL counted. */
    char *copy = acme__strndup(pem, len);
    if (!copy)
        return acme__fail(err, ACME_ERR_NOMEM, "key: out of memory");
    const char *why = NULL;
    if (!strstr(copy, "-----BEGIN "))
        why = "key: not PEM (no BEGIN line)";
    else if (strstr(copy, "ENCRYPTED"))
        why = "key: encrypted keys are not supported";
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int rc = why ? -1 : ACME__PK_PARSE_KEY(&pk, (unsigned char *)copy, len + 1);
    acme__wipe(copy, len + 1);
    free(copy);
    if (rc != 0) {
        mbedtls_pk_free(&pk);
        if (why)
            return acme__fail(err, ACME_ERR_KEY_FORMAT, "%s", why);
        return acme__fail(err, ACME_ERR_KEY_FORMAT,
                          "key: not a PKCS#8, SEC1 or PKCS#1 private key in PEM (mbedTLS -0x%04x)",
                          (unsigned)-rc);
    }
    /* A key whose stored public part is not its private part's would sign
     * requests the CA rejects for reasons hard to trace; mbedTLS does not
     * check this on parsing. */
    if (ACME__PK_CHECK_PAIR(&pk, &pk) != 0) {
        mbedtls_pk_free(&pk);
        return acme__fail(err, ACME_ERR_KEY_FORMAT,
                          "key: its public part does not match its private part");
    }
    rc = acme__key_from_pk(out, &pk, err);
    mbedtls_pk_free(&pk);
    return rc;
}

int acme_key_load_pem(acme_key **out, const char *pem, size_t len)
{
    return acme__key_load_pem(out, pem, len, NULL);
}

int acme_key_load_file(acme_key **out, const char *path)
{
    if (!out || !path)
        return acme__fail(NULL, ACME_ERR_INVALID, "key: NULL argument");
    *out = NULL;
    acme__buf b = ACME__BUF_INIT;
    acme__err err = { 0 };
    int rc = acme__file_read(path, MAX_KEY_FILE, &b, &err);
    if (rc == ACME_ERR_NOT_FOUND || rc == ACME_ERR_TOO_LARGE)
        rc = rc == ACME_ERR_NOT_FOUND ? ACME_ERR_IO : ACME_ERR_KEY_FORMAT;
    if (rc != ACME_OK) {
        acme__fail(NULL, rc, "%s", err.msg);
    } else {
        acme__err why = ACME__ERR_QUIET;
        rc = acme__key_load_pem(out, b.data ? b.data : "", b.len, &why);
        if (rc != ACME_OK) {
            acme__err_prefix(&why, path);
            acme__fail(NULL, rc, "%s", why.msg);
        }
        acme__err_clear(&why);
    }
    acme__buf_wipe(&b);
    acme__err_clear(&err);
    return rc;
}

int acme__key_to_pem(const acme_key *key, char **pem_out, acme__err *err)
{
    if (!key || !pem_out)
        return acme__fail(err, ACME_ERR_INVALID, "key: NULL argument");
    *pem_out = NULL;
    if (key->external)
        return acme__fail(err, ACME_ERR_INVALID,
                          "key: the private key is held by a signer and cannot be exported");
    unsigned char *der = calloc(1, PEM_BUF_SIZE);
    if (!der)
        return acme__fail(err, ACME_ERR_NOMEM, "key: out of memory");
    acme_key *k = (acme_key *)key;
    pthread_mutex_lock(&k->lock);
    int n = mbedtls_pk_write_key_der(&k->pk, der, PEM_BUF_SIZE);
    pthread_mutex_unlock(&k->lock);
    /* The PEM is written here rather than by mbedtls_pk_write_key_pem():
     * mbedtls_pem_write_buffer() frees its base64 copy of the key without
     * wiping it (mbedTLS 2.28). Same output: SEC1 or PKCS#1, 64 per line. */
    const char *label = mbedtls_pk_get_type(&k->pk) == MBEDTLS_PK_RSA ? "RSA" : "EC";
    int mrc = n < 0 ? n : 0;
    unsigned char *b64 = NULL;
    size_t b64_cap = 0, b64_len = 0;
    acme__buf pem = ACME__BUF_INIT;
    if (n > 0) {
        const unsigned char *der_start = der + PEM_BUF_SIZE - n;
        mbedtls_base64_encode(NULL, 0, &b64_cap, der_start, (size_t)n); /* the size needed */
        if ((b64 = calloc(1, b64_cap)))
            mrc = mbedtls_base64_encode(b64, b64_cap, &b64_len, der_start, (size_t)n);
        else
            pem.oom = 1;
    }
    if (b64 && mrc == 0) {
        acme__buf_printf(&pem, "-----BEGIN %s PRIVATE KEY-----\n", label);
        for (size_t i = 0; i < b64_len; i += PEM_LINE) {
            acme__buf_append(&pem, b64 + i, b64_len - i < PEM_LINE ? b64_len - i : PEM_LINE);
            acme__buf_putc(&pem, '\n');
        }
        acme__buf_printf(&pem, "-----END %s PRIVATE KEY-----\n", label);
    }
    acme__wipe(b64, b64_cap);
    free(b64);
    acme__wipe(der, PEM_BUF_SIZE);
    free(der);
    int rc = mrc != 0 || n <= 0 ? ACME_ERR_CRYPTO : acme__buf_status(&pem);
    if (rc != ACME_OK) {
        acme__buf_wipe(&pem);
        return rc == ACME_ERR_CRYPTO
                   ? acme__fail(err, rc, "key: PEM encoding failed (mbedTLS -0x%04x)",
                                (unsigned)-(mrc ? mrc : n))
                   : acme__fail(err, ACME_ERR_NOMEM, "key: out of memory");
    }
    *pem_out = acme__buf_detach(&pem);
    return ACME_OK;
}

/* Record the failure in why on the key as well (see struct acme_key). */
int acme__key_record(const acme_key *key, acme__err *why)
{
    acme_key *k = (acme_key *)key;
    pthread_mutex_lock(&k->lock);
    int rc = acme__err_forward(&k->err, why);
    pthread_mutex_unlock(&k->lock);
    acme__err_clear(why);
    return rc;
}

int acme_key_to_pem(const acme_key *key, char **pem_out)
{
    if (!key)
        return acme__fail(NULL, ACME_ERR_INVALID, "key: NULL argument");
    acme__err why = ACME__ERR_QUIET;
    int rc = acme__key_to_pem(key, pem_out, &why);
    return rc == ACME_OK ? ACME_OK : acme__key_record(key, &why);
}

const char *acme_key_last_error(const acme_key *key)
{
    return key ? acme__err_msg(&key->err) : "";
}

int acme_key_save_file(const acme_key *key, const char *path)
{
    if (!key)
        return acme__fail(NULL, ACME_ERR_INVALID, "key: NULL argument");
    acme__err why = ACME__ERR_QUIET;
    char *pem = NULL;
    int rc = path ? acme__key_to_pem(key, &pem, &why)
                  : acme__fail(&why, ACME_ERR_INVALID, "key: NULL path");
    if (rc == ACME_OK)
        rc = acme__file_write_atomic(path, pem, strlen(pem), 0600, &why);
    acme__free_secret_str(pem);
    return rc == ACME_OK ? ACME_OK : acme__key_record(key, &why);
}

int acme_key_get_type(const acme_key *key)
{
    return key ? key->type : 0;
}

const char *acme_key_algorithm(const acme_key *key)
{
    const struct key_kind *kind = key ? kind_of(key->type) : NULL;
    return kind ? kind->alg : NULL;
}

int acme_key_type_from_name(const char *name)
{
    static const struct { const char *alias; int type; } aliases[] = {
        { "p256", ACME_KEY_EC256 }, { "p384", ACME_KEY_EC384 },
        { "ecdsa", ACME_KEY_EC256 }, { "ec", ACME_KEY_EC256 }, { "rsa", ACME_KEY_RSA2048 },
    };
    if (!name)
        return ACME_ERR_INVALID;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(name, kinds[i].name) == 0)
            return kinds[i].type;
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (strcmp(name, aliases[i].alias) == 0)
            return aliases[i].type;
    return ACME_ERR_INVALID;
}

const char *acme_key_type_name(int type)
{
    const struct key_kind *kind = kind_of(type);
    return kind ? kind->name : NULL;
}

static int mpi_bytes(const mbedtls_mpi *x, unsigned char *out, size_t cap, size_t *len)
{
    *len = mbedtls_mpi_size(x);
    return *len && *len <= cap && mbedtls_mpi_write_binary(x, out, *len) == 0 ? ACME_OK
                                                                             : ACME_ERR_CRYPTO;
}

int acme__jwk_append_rsa(acme__buf *b, const unsigned char *n, size_t n_len,
                         const unsigned char *e, size_t e_len)
{
    /* RFC 7638: required members only, in lexicographic order, no white
     * space; integers big-endian without leading zero octets. */
    while (n_len > 1 && *n == 0) {
        n++;
        n_len--;
    }
    while (e_len > 1 && *e == 0) {
        e++;
        e_len--;
    }
    acme__buf_puts(b, "{\"e\":\"");
    acme__b64url_append(b, e, e_len);
    acme__buf_puts(b, "\",\"kty\":\"RSA\",\"n\":\"");
    acme__b64url_append(b, n, n_len);
    return acme__buf_puts(b, "\"}");
}

int acme__jwk_append_ec(acme__buf *b, const char *crv, const unsigned char *x,
                        const unsigned char *y, size_t coord)
{
    acme__buf_puts(b, "{\"crv\":");
    acme__json_put_string(b, crv);
    acme__buf_puts(b, ",\"kty\":\"EC\",\"x\":\"");
    acme__b64url_append(b, x, coord);
    acme__buf_puts(b, "\",\"y\":\"");
    acme__b64url_append(b, y, coord);
    return acme__buf_puts(b, "\"}");
}

int acme__key_append_jwk(const acme_key *k, acme__buf *b)
{
    const struct key_kind *kind = kind_of(k->type);
    if (!kind)
        return ACME_ERR_INVALID;
    if (kind->rsa_bits) {
        unsigned char n[1024], e[16];
        size_t n_len, e_len;
        mbedtls_mpi N, E;
        mbedtls_mpi_init(&N);
        mbedtls_mpi_init(&E);
        int rc = mbedtls_rsa_export(mbedtls_pk_rsa(k->pk), &N, NULL, NULL, NULL, &E) == 0
                     ? ACME_OK : ACME_ERR_CRYPTO;
        if (rc == ACME_OK)
            rc = mpi_bytes(&N, n, sizeof(n), &n_len);
        if (rc == ACME_OK)
            rc = mpi_bytes(&E, e, sizeof(e), &e_len);
        mbedtls_mpi_free(&N);
        mbedtls_mpi_free(&E);
        return rc == ACME_OK ? acme__jwk_append_rsa(b, n, n_len, e, e_len) : rc;
    }
    /* mbedtls_pk_write_pubkey writes the EC point (0x04 || X || Y) at the
     * end of the buffer. */
    unsigned char point[1 + 2 * 66];
    unsigned char *p = point + sizeof(point);
    int len = mbedtls_pk_write_pubkey(&p, point, &((acme_key *)k)->pk);
    if (len != (int)(1 + 2 * kind->coord) || p[0] != 0x04)
        return ACME_ERR_CRYPTO;
    return acme__jwk_append_ec(b, kind->crv, p + 1, p + 1 + kind->coord, kind->coord);
}

int acme__jwk_thumbprint(const char *jwk, size_t len, char **b64_out)
{
    unsigned char digest[32];
    if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), (const unsigned char *)jwk,
                   len, digest) != 0)
        return ACME_ERR_CRYPTO;
    acme__buf b = ACME__BUF_INIT;
    acme__b64url_append(&b, digest, sizeof(digest));
    *b64_out = acme__buf_detach(&b);
    return *b64_out ? ACME_OK : ACME_ERR_NOMEM;
}

/* A failure of a public call on `key`, recorded on the key. */
static int key_fail(const acme_key *key, int code, const char *what)
{
    acme__err why = ACME__ERR_QUIET;
    acme__fail(&why, code, "key: %s", what);
    return acme__key_record(key, &why);
}

int acme_key_jwk(const acme_key *key, char **json_out)
{
    if (!key)
        return acme__fail(NULL, ACME_ERR_INVALID, "key: NULL argument");
    if (!json_out)
        return key_fail(key, ACME_ERR_INVALID, "NULL output");
    acme__buf b = ACME__BUF_INIT;
    int rc = acme__key_append_jwk(key, &b);
    if (rc != ACME_OK) {
        acme__buf_free(&b);
        return key_fail(key, rc, "cannot encode the JWK");
    }
    *json_out = acme__buf_detach(&b);
    return *json_out ? ACME_OK : key_fail(key, ACME_ERR_NOMEM, "out of memory");
}

int acme_key_thumbprint(const acme_key *key, char **b64_out)
{
    if (!key)
        return acme__fail(NULL, ACME_ERR_INVALID, "key: NULL argument");
    if (!b64_out)
        return key_fail(key, ACME_ERR_INVALID, "NULL output");
    *b64_out = NULL;
    acme__buf jwk = ACME__BUF_INIT;
    int rc = acme__key_append_jwk(key, &jwk);
    if (rc == ACME_OK)
        rc = acme__jwk_thumbprint(jwk.data, jwk.len, b64_out);
    acme__buf_free(&jwk);
    return rc == ACME_OK ? ACME_OK : key_fail(key, rc, "cannot compute the JWK thumbprint");
}

/* DER ECDSA-Sig-Value (SEQUENCE { r INTEGER, s INTEGER }) to JWS r || s,
 * each left-padded to the coordinate size (RFC 7518 section 3.4). */
int acme__ecdsa_der_to_raw(const unsigned char *der, size_t der_len, size_t coord,
                           unsigned char *raw)
{
    unsigned char *p = (unsigned char *)der;
    const unsigned char *end = der + der_len;
    size_t len;
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
        return -1;
    for (int i = 0; i < 2; i++) {
        if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_INTEGER))
            return -1;
        const unsigned char *v = p;
        size_t n = len;
        while (n > 0 && *v == 0) {
            v++;
            n--;
        }
        if (n > coord)
            return -1;
        memset(raw + i * coord, 0, coord - n);
        memcpy(raw + i * coord + (coord - n), v, n);
        p += len;
    }
    return 0;
}

int acme__ecdsa_raw_to_der(const unsigned char *raw, size_t coord, unsigned char *der,
                           size_t *der_len)
{
    if (coord == 0 || coord > 66)
        return -1;
    mbedtls_mpi r, s;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    /* mbedTLS writes back to front and minimal (a 0x00 before a high bit). */
    unsigned char *p = der + ACME__ECDSA_DER_MAX;
    size_t len = 0;
    int rc = mbedtls_mpi_read_binary(&r, raw, coord) || mbedtls_mpi_read_binary(&s, raw + coord, coord);
    int n;
    if (rc == 0 && (n = mbedtls_asn1_write_mpi(&p, der, &s)) > 0)
        len += (size_t)n;
    else
        rc = -1;
    if (rc == 0 && (n = mbedtls_asn1_write_mpi(&p, der, &r)) > 0)
        len += (size_t)n;
    else
        rc = -1;
    if (rc == 0 && (n = mbedtls_asn1_write_len(&p, der, len)) > 0)
        len += (size_t)n;
    else
        rc = -1;
    if (rc == 0 && (n = mbedtls_asn1_write_tag(&p, der, MBEDTLS_ASN1_CONSTRUCTED |
                                                            MBEDTLS_ASN1_SEQUENCE)) > 0)
        len += (size_t)n;
    else
        rc = -1;
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    if (rc != 0)
        return -1;
    memmove(der, p, len);
    *der_len = len;
    return 0;
}

mbedtls_md_type_t acme__key_md(const acme_key *k)
{
    const struct key_kind *kind = kind_of(k->type);
    return kind ? kind->md : MBEDTLS_MD_NONE;
}

/* A host signer's signature, checked against the public key: a signer on
 * the wrong key or writing DER instead of r||s fails here, by name, rather
 * than at the CA as a bare badSignature. */
static int sign_external(acme_key *k, const struct key_kind *kind, const void *data,
                         size_t len, const unsigned char *hash, size_t hash_len,
                         unsigned char *sig, size_t *sig_len, acme__err *err)
{
    size_t want = kind->rsa_bits ? mbedtls_pk_get_len(&k->pk) : 2 * kind->coord;
    int rc = acme__signer_call(k, kind->sig_alg, data, len, hash, hash_len, want, sig, sig_len,
                               err);
    if (rc != ACME_OK)
        return rc;
    unsigned char der[ACME__ECDSA_DER_MAX];
    size_t der_len = 0;
    if (!kind->rsa_bits && acme__ecdsa_raw_to_der(sig, kind->coord, der, &der_len) != 0)
        return acme__fail(err, ACME_ERR_CRYPTO, "signer: malformed %s signature", kind->alg);
    /* Verifying caches values in the public key (EC base point table, RSA
     * Montgomery constant), so it is serialised like private operations. */
    pthread_mutex_lock(&k->lock);
    int vrc = mbedtls_pk_verify(&k->pk, kind->md, hash, hash_len,
                                kind->rsa_bits ? sig : der, kind->rsa_bits ? *sig_len : der_len);
    pthread_mutex_unlock(&k->lock);
    if (vrc != 0)
        return acme__fail(err, ACME_ERR_CRYPTO,
                          "signer: its %s signature does not verify with the key's public key "
                          "(another key, or %s)",
                          kind->alg,
                          kind->rsa_bits ? "not PKCS#1 v1.5"
                                         : "DER instead of raw r||s");
    return ACME_OK;
}

int acme__key_sign(acme_key *k, const void *data, size_t len, unsigned char *sig,
                   size_t *sig_len, acme__err *err)
{
    const struct key_kind *kind = kind_of(k->type);
    if (!kind)
        return acme__fail(err, ACME_ERR_INVALID, "sign: unknown key type");
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(kind->md);
    unsigned char hash[MBEDTLS_MD_MAX_SIZE];
    if (mbedtls_md(md, data, len, hash) != 0)
        return acme__fail(err, ACME_ERR_CRYPTO, "sign: hashing failed");
    if (k->external)
        return sign_external(k, kind, data, len, hash, mbedtls_md_get_size(md), sig, sig_len,
                             err);
    unsigned char der[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t der_len = 0;
    pthread_mutex_lock(&k->lock);
    /* EC: sign on the key's own group, which keeps the precomputed table of
     * the base point across signatures; mbedtls_pk_sign copies the group
     * each time and so rebuilds it (about 40% of a signature). */
    int rc = kind->rsa_bits
                 ? ACME__PK_SIGN(&k->pk, kind->md, hash, mbedtls_md_get_size(md), der, sizeof(der),
                                 &der_len)
                 : ACME__ECDSA_SIGN(mbedtls_pk_ec(k->pk), kind->md, hash,
                                    mbedtls_md_get_size(md), der, sizeof(der), &der_len);
    pthread_mutex_unlock(&k->lock);
    if (rc != 0)
        return acme__fail(err, ACME_ERR_CRYPTO, "sign: signing failed (mbedTLS -0x%04x)",
                          (unsigned)-rc);
    if (kind->rsa_bits) {
        if (der_len > ACME__MAX_SIG)
            return acme__fail(err, ACME_ERR_CRYPTO, "sign: RSA signature too long");
        memcpy(sig, der, der_len);
        *sig_len = der_len;
        return ACME_OK;
    }
    if (acme__ecdsa_der_to_raw(der, der_len, kind->coord, sig) != 0)
        return acme__fail(err, ACME_ERR_CRYPTO, "sign: malformed ECDSA signature");
    *sig_len = 2 * kind->coord;
    return ACME_OK;
}

int acme__key_matches(acme_key *k, mbedtls_pk_context *pub)
{
    unsigned char a[2048], b[2048];
    int la = mbedtls_pk_write_pubkey_der(&k->pk, a, sizeof(a));
    int lb = mbedtls_pk_write_pubkey_der(pub, b, sizeof(b));
    /* DER is written at the end of the buffers. */
    return la > 0 && la == lb && memcmp(a + sizeof(a) - la, b + sizeof(b) - lb, (size_t)la) == 0;
}
