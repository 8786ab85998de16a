/* Host-supplied CSRs (lib/csr.c, PKCS#10 / RFC 2986) through
 * acme__csr_parse, as acme_order_set_csr reads them: PEM, DER structure,
 * self-signature, extensionRequest / subjectAltName and the subject CN.
 *
 * Input, by its first byte:
 *   0x00  DER of a request, wrapped into a CERTIFICATE REQUEST block;
 *   0x01  L, then L bytes of subject (Name contents) and the rest as the
 *         attributes ([0] contents): the target builds a request around
 *         them with a fixed RSA key and signs it, so that the parsing
 *         behind the signature check (attributes, extensions, SAN, subject
 *         CN) is reached by mutations;
 *   else  text, taken as the PEM. */
#include "fuzz.h"

#include <mbedtls/md.h>
#include <mbedtls/pk.h>

#include "base/ip.h"
#include "crypto/csr.h"
#include "fuzz_fixture.h"
#include "base/mbedcompat.h"
#include "base/mem.h"
#include "base/rng.h"

#define SEQ 0x30

/* Append tag, DER length and len bytes. */
static void tlv(acme__buf *b, unsigned char tag, const void *v, size_t len)
{
    unsigned char hdr[6];
    size_t n = 0;
    hdr[n++] = tag;
    if (len < 0x80) {
        hdr[n++] = (unsigned char)len;
    } else if (len < 0x100) {
        hdr[n++] = 0x81;
        hdr[n++] = (unsigned char)len;
    } else if (len < 0x10000) {
        hdr[n++] = 0x82;
        hdr[n++] = (unsigned char)(len >> 8);
        hdr[n++] = (unsigned char)len;
    } else {
        hdr[n++] = 0x83;
        hdr[n++] = (unsigned char)(len >> 16);
        hdr[n++] = (unsigned char)(len >> 8);
        hdr[n++] = (unsigned char)len;
    }
    acme__buf_append(b, hdr, n);
    if (len)
        acme__buf_append(b, v, len);
}

/* The signer, parsed once (mbedTLS directly: acme_key takes no RSA 1024). */
static mbedtls_pk_context *signer(void)
{
    static mbedtls_pk_context pk;
    static int ready;
    if (!ready) {
        mbedtls_pk_init(&pk);
        if (ACME__PK_PARSE_KEY(&pk, (const unsigned char *)fuzz_csr_signer_pem,
                               sizeof(fuzz_csr_signer_pem)) != 0)
            abort();
        ready = 1;
    }
    return &pk;
}

/* A CSR around the given subject and attributes, signed by the signer
 * (sha256WithRSAEncryption). */
static int build_signed(const uint8_t *subject, size_t subject_len, const uint8_t *attrs,
                        size_t attrs_len, acme__buf *pem)
{
    static const unsigned char version[] = { 0x02, 0x01, 0x00 };
    static const unsigned char rsa_sha256[] = { 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                                0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00 };
    mbedtls_pk_context *key = signer();
    unsigned char spki[400];
    int spki_len = mbedtls_pk_write_pubkey_der(key, spki, sizeof(spki));
    if (spki_len <= 0)
        abort();

    acme__buf body = ACME__BUF_INIT, cri = ACME__BUF_INIT, outer = ACME__BUF_INIT,
              csr = ACME__BUF_INIT;
    acme__buf_append(&body, version, sizeof(version));
    tlv(&body, SEQ, subject, subject_len);
    acme__buf_append(&body, spki + sizeof(spki) - spki_len, (size_t)spki_len);
    tlv(&body, 0xa0, attrs, attrs_len);
    tlv(&cri, SEQ, body.data, body.len);
    int rc = acme__buf_status(&cri);

    unsigned char hash[32], sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE + 1];
    size_t sig_len = 0;
    if (rc == ACME_OK &&
        (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), (const unsigned char *)cri.data,
                    cri.len, hash) != 0 ||
         ACME__PK_SIGN(key, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig + 1,
                       sizeof(sig) - 1, &sig_len) != 0))
        rc = ACME_ERR_CRYPTO;
    if (rc == ACME_OK) {
        sig[0] = 0; /* no unused bits */
        acme__buf_append(&outer, cri.data, cri.len);
        acme__buf_append(&outer, rsa_sha256, sizeof(rsa_sha256));
        tlv(&outer, 0x03, sig, sig_len + 1);
        tlv(&csr, SEQ, outer.data, outer.len);
        rc = acme__buf_status(&csr);
    }
    if (rc == ACME_OK)
        fuzz_pem_append(pem, "CERTIFICATE REQUEST", (const uint8_t *)csr.data, csr.len);
    acme__buf_free(&body);
    acme__buf_free(&cri);
    acme__buf_free(&outer);
    acme__buf_free(&csr);
    return rc == ACME_OK ? acme__buf_status(pem) : rc;
}

static void parse(const char *pem)
{
    acme__buf der = ACME__BUF_INIT;
    char **types = (char **)1, **values = (char **)1;
    size_t n = 99;
    acme__err err = { 0 };
    int rc = acme__csr_parse(pem, &der, &types, &values, &n, &err);
    FUZZ_ASSERT(rc == ACME_OK || rc == ACME_ERR_INVALID || rc == ACME_ERR_NOMEM);
    if (rc == ACME_OK) {
        FUZZ_ASSERT(n >= 1 && der.len > 0);
        for (size_t i = 0; i < n; i++) {
            FUZZ_ASSERT(types[i] && values[i] && fuzz_touch(values[i]) > 0);
            if (strcmp(types[i], "ip") == 0) {
                unsigned char ip[16];
                FUZZ_ASSERT(acme__ip_parse(values[i], ip) != 0);
            } else {
                FUZZ_ASSERT(strcmp(types[i], "dns") == 0);
                for (const char *c = values[i]; *c; c++)
                    FUZZ_ASSERT(*c > 0x20 && *c < 0x7f);
            }
        }
    } else {
        FUZZ_ASSERT(types == NULL && values == NULL && n == 0 && err.msg[0]);
        FUZZ_ASSERT(der.len == 0);
    }
    acme__free_strv(types, n);
    acme__free_strv(values, n);
    acme__buf_free(&der);
    acme__err_clear(&err);
}

int fuzz_csr(const uint8_t *data, size_t size)
{
    acme__buf pem = ACME__BUF_INIT;
    if (size >= 1 && data[0] == 0) {
        fuzz_pem_append(&pem, "CERTIFICATE REQUEST", data + 1, size - 1);
    } else if (size >= 2 && data[0] == 1) {
        size_t subject_len = data[1] < size - 2 ? data[1] : size - 2;
        if (build_signed(data + 2, subject_len, data + 2 + subject_len,
                         size - 2 - subject_len, &pem) != ACME_OK) {
            acme__buf_free(&pem);
            return 0;
        }
    } else {
        acme__buf_append(&pem, data, size);
    }
    if (acme__buf_status(&pem) == ACME_OK)
        parse(acme__buf_str(&pem));
    acme__buf_free(&pem);
    return 0;
}

FUZZ_ENTRY(csr);
