/* Public certificate reading (acme_cert) and revocation (RFC 8555 7.6). */
#include "acme/certificate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "crypto/x509.h"
#include "net/json.h"
#include "base/mem.h"
#include "base/pem.h"
#include "protocol/provider.h"

struct acme_cert {
    acme__chain_info info;
    char serial_hex[2 * sizeof(((acme__chain_info *)0)->serial) + 1];
    char *ari_id;
};

int acme_cert_parse(acme_cert **out, const char *pem, size_t len, acme_key *key)
{
    if (!out || !pem)
        return acme__fail(NULL, ACME_ERR_INVALID, "certificate: NULL argument");
    *out = NULL;
    acme_cert *c = calloc(1, sizeof(*c));
    if (!c)
        return acme__fail(NULL, ACME_ERR_NOMEM, "certificate: out of memory");
    int rc = acme__chain_inspect(pem, len, key, &c->info, NULL);
    if (rc != ACME_OK) {
        free(c);
        return rc;
    }
    /* Hex of the serial without leading zero octets (as CAs print it). */
    size_t skip = 0;
    while (skip + 1 < c->info.serial_len && c->info.serial[skip] == 0)
        skip++;
    for (size_t i = skip; i < c->info.serial_len; i++)
        snprintf(c->serial_hex + 2 * (i - skip), 3, "%02x", c->info.serial[i]);
    if (c->info.aki_len) {
        /* RFC 9773 4.1: base64url(AKI keyIdentifier) "." base64url(serial
         * DER content octets, leading zero included). */
        acme__buf b = ACME__BUF_INIT;
        acme__b64url_append(&b, c->info.aki, c->info.aki_len);
        acme__buf_putc(&b, '.');
        acme__b64url_append(&b, c->info.serial, c->info.serial_len);
        if (!(c->ari_id = acme__buf_detach(&b))) {
            acme_cert_free(c);
            return acme__fail(NULL, ACME_ERR_NOMEM, "certificate: out of memory");
        }
    }
    *out = c;
    return ACME_OK;
}

int64_t acme_cert_not_before(const acme_cert *c)
{
    return c ? c->info.not_before : 0;
}

int64_t acme_cert_not_after(const acme_cert *c)
{
    return c ? c->info.not_after : 0;
}

size_t acme_cert_name_count(const acme_cert *c)
{
    return c ? c->info.nsans : 0;
}

const char *acme_cert_name(const acme_cert *c, size_t i)
{
    return c && i < c->info.nsans ? c->info.san_values[i] : NULL;
}

const char *acme_cert_serial(const acme_cert *c)
{
    return c ? c->serial_hex : NULL;
}

const char *acme_cert_issuer(const acme_cert *c)
{
    return c ? c->info.leaf_issuer_cn : NULL;
}

size_t acme_cert_chain_length(const acme_cert *c)
{
    return c ? c->info.ncerts : 0;
}

const char *acme_cert_ari_id(const acme_cert *c)
{
    return c ? c->ari_id : NULL;
}

void acme_cert_free(acme_cert *c)
{
    if (!c)
        return;
    acme__chain_info_free(&c->info);
    free(c->ari_id);
    free(c);
}

/* The leaf's DER (the first PEM block), base64url-encoded into b. */
static int leaf_der_b64(const char *pem, acme__buf *b, acme__err *err)
{
    char label[ACME__PEM_MAX_LABEL + 1];
    const char *next, *why;
    unsigned char *der;
    size_t len;
    int rc = acme__pem_next(pem, &next, label, &der, &len, &why);
    if (rc == ACME_ERR_NOMEM)
        return acme__fail(err, rc, "out of memory");
    if (rc != ACME_OK || strcmp(label, "CERTIFICATE") != 0) {
        if (rc == ACME_OK)
            free(der);
        return acme__fail(err, ACME_ERR_CERTIFICATE, "revocation: no PEM certificate to revoke");
    }
    acme__b64url_append(b, der, len);
    free(der);
    return acme__buf_status(b) == ACME_OK ? ACME_OK
                                          : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
}

/* RFC 5280 5.3.1: 0-10, 7 unused. */
static int reason_valid(int reason)
{
    return reason >= 0 && reason <= 10 && reason != 7;
}

/* POST revokeCert, signed by key with kid (account) or its JWK (cert key). */
static int revoke(acme_provider *p, acme_key *key, const char *kid, const char *pem, int reason,
                  acme__err *err)
{
    if (!reason_valid(reason))
        return acme__fail(err, ACME_ERR_INVALID, "revocation: %d is not an RFC 5280 reason code",
                          reason);
    const char *url = acme_provider_endpoint(p, "revokeCert");
    if (!url)
        return acme__fail(err, ACME_ERR_UNSUPPORTED, "revocation: the CA has no revokeCert");
    /* When signing with the certificate key, the leaf must hold it: the
     * CA would refuse otherwise, and this says why. */
    int rc = acme__chain_inspect(pem, strlen(pem), kid ? NULL : key, NULL, err);
    acme__buf payload = ACME__BUF_INIT;
    if (rc == ACME_OK) {
        acme__buf_puts(&payload, "{\"certificate\":\"");
        rc = leaf_der_b64(pem, &payload, err);
    }
    if (rc == ACME_OK) {
        acme__buf_printf(&payload, "\",\"reason\":%d}", reason);
        acme__response res;
        rc = acme__provider_post(p, key, kid, url, payload.data, NULL, &res, err);
        acme__response_free(&res);
    }
    acme__buf_free(&payload);
    if (rc != ACME_OK)
        acme__err_prefix(err, "revoking the certificate");
    else
        acme__log(p, ACME_LOG_INFO, "certificate revoked (reason %d, signed by the %s key)",
                  reason, kid ? "account" : "certificate");
    return rc;
}

int acme_account_revoke(acme_account *a, const char *pem, int reason)
{
    if (!a || !pem)
        return acme__fail(NULL, ACME_ERR_INVALID, "revocation: NULL argument");
    acme__err err = { 0 };
    int rc = revoke(acme_account_provider(a), acme_account_key(a), acme_account_url(a), pem,
                    reason, &err);
    acme__err_clear(&err);
    return rc;
}

int acme_revoke_with_key(acme_provider *p, acme_key *cert_key, const char *pem, int reason)
{
    if (!p || !cert_key || !pem)
        return acme__fail(NULL, ACME_ERR_INVALID, "revocation: NULL argument");
    acme__err err = { 0 };
    int rc = revoke(p, cert_key, NULL, pem, reason, &err);
    acme__err_clear(&err);
    return rc;
}
