/* Public certificate reading (acme_cert): dates, names, serial, ARI ID. */
#include "acme/certificate.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/b64.h"
#include "crypto/x509.h"

struct acme_cert {
    acme__chain_info info;
    char serial_hex[2 * sizeof(((acme__chain_info *)0)->serial) + 1];
    char *ari_id;
};

int acme__cert_parse(acme_cert **out, const char *pem, size_t len, acme_key *key,
                     acme__err *err)
{
    if (!out || !pem)
        return acme__fail(err, ACME_ERR_INVALID, "certificate: NULL argument");
    *out = NULL;
    acme_cert *c = calloc(1, sizeof(*c));
    if (!c)
        return acme__fail(err, ACME_ERR_NOMEM, "certificate: out of memory");
    int rc = acme__chain_inspect(pem, len, key, &c->info, err);
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
            return acme__fail(err, ACME_ERR_NOMEM, "certificate: out of memory");
        }
    }
    *out = c;
    return ACME_OK;
}

int acme_cert_parse(acme_cert **out, const char *pem, size_t len, acme_key *key)
{
    return acme__cert_parse(out, pem, len, key, NULL);
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
