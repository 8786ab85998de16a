/* Certificate chains (lib/cert.c, lib/pem.c) as the certificate download
 * reads them: PEM blocks one by one with acme__pem_next, then
 * acme__chain_inspect without a key, with the fixture key (the leaf of the
 * seed chains certifies it) and without the info out-parameter.
 *
 * Input: text, taken as the PEM chain; or a 0x00 byte followed by DER
 * certificates back to back, each wrapped into a CERTIFICATE block, so
 * that mutations reach mbedTLS's X.509 parser and the library's own DER
 * readers (subjectAltName, authorityKeyIdentifier) instead of breaking the
 * base64. */
#include "fuzz.h"

#include "base/ip.h"
#include "crypto/x509.h"
#include "fuzz_fixture.h"
#include "base/pem.h"

static void pem_blocks(const char *text)
{
    char label[ACME__PEM_MAX_LABEL + 1];
    const char *p = text, *why;
    for (int i = 0; i < 64; i++) {
        unsigned char *der = NULL;
        size_t len = 0;
        const char *next = NULL;
        int rc = acme__pem_next(p, &next, label, &der, &len, &why);
        FUZZ_ASSERT(why != NULL);
        if (rc != ACME_OK) {
            FUZZ_ASSERT(der == NULL);
            break;
        }
        FUZZ_ASSERT(der && len > 0 && strlen(label) >= 1 && strlen(label) <= ACME__PEM_MAX_LABEL);
        FUZZ_ASSERT(next > p && next <= p + strlen(p));
        free(der);
        p = next;
    }
}

static void check_info(const acme__chain_info *info)
{
    FUZZ_ASSERT(info->ncerts >= 1);
    FUZZ_ASSERT(info->serial_len <= sizeof(info->serial));
    FUZZ_ASSERT(info->aki_len <= sizeof(info->aki));
    for (size_t i = 0; i < info->nsans; i++) {
        FUZZ_ASSERT(info->san_types[i] && info->san_values[i]);
        FUZZ_ASSERT(strcmp(info->san_types[i], "dns") == 0 ||
                    strcmp(info->san_types[i], "ip") == 0);
        FUZZ_ASSERT(fuzz_touch(info->san_values[i]) > 0);
        if (strcmp(info->san_types[i], "ip") == 0) {
            unsigned char ip[16];
            FUZZ_ASSERT(acme__ip_parse(info->san_values[i], ip) != 0);
        }
    }
    fuzz_touch(info->top_issuer_cn);
    fuzz_touch(info->leaf_issuer_cn);
}

static void inspect(const char *pem, size_t len)
{
    acme__err err = { 0 };
    acme__chain_info info, with_key;
    int rc = acme__chain_inspect(pem, len, NULL, &info, &err);
    FUZZ_ASSERT(rc == ACME_OK || rc == ACME_ERR_CERTIFICATE || rc == ACME_ERR_NOMEM);
    if (rc == ACME_OK)
        check_info(&info);
    else
        FUZZ_ASSERT(info.ncerts == 0 && info.nsans == 0 && !info.san_types);
    acme__err_clear(&err);

    int rc_key = acme__chain_inspect(pem, len, fuzz_fixture_key(), &with_key, &err);
    /* The key only adds a check. */
    FUZZ_ASSERT(rc_key != ACME_OK || rc == ACME_OK);
    if (rc_key == ACME_OK) {
        check_info(&with_key);
        FUZZ_ASSERT(with_key.ncerts == info.ncerts && with_key.nsans == info.nsans &&
                    with_key.not_after == info.not_after);
    }
    acme__chain_info_free(&with_key);
    acme__err_clear(&err);

    int rc_noinfo = acme__chain_inspect(pem, len, NULL, NULL, &err);
    /* Without info the leaf's extensions are not read, so it may pass
     * where the full inspection refused. */
    FUZZ_ASSERT(rc != ACME_OK || rc_noinfo == ACME_OK);
    acme__chain_info_free(&info);
    acme__err_clear(&err);
}

int fuzz_pem_chain(const uint8_t *data, size_t size)
{
    if (size >= 1 && data[0] == 0) {
        acme__buf pem = ACME__BUF_INIT;
        const uint8_t *p = data + 1;
        size_t left = size - 1;
        while (left > 0) {
            size_t n = fuzz_der_tlv_len(p, left);
            if (n == 0)
                n = left;
            fuzz_pem_append(&pem, "CERTIFICATE", p, n);
            p += n;
            left -= n;
        }
        if (acme__buf_status(&pem) == ACME_OK && pem.len) {
            pem_blocks(pem.data);
            inspect(pem.data, pem.len);
        }
        acme__buf_free(&pem);
        return 0;
    }
    char *text = fuzz_cstr(data, size);
    if (!text)
        return 0;
    pem_blocks(text);
    free(text);
    inspect((const char *)data, size);
    return 0;
}

FUZZ_ENTRY(pem_chain);
