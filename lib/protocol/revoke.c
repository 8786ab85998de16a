/* Revocation (RFC 8555 7.6): revokeCert signed by the account or by the
 * certificate's own key. */
#include "protocol/revoke.h"

#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "base/buf.h"
#include "base/pem.h"
#include "crypto/x509.h"
#include "protocol/account.h"
#include "protocol/provider.h"

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

/* RFC 5280 5.3.1: reason codes run from 0 (unspecified) to 10
 * (aACompromise); 7 is not used. */
#define REASON_MAX 10
#define REASON_UNUSED 7

static int reason_valid(int reason)
{
    return reason >= 0 && reason <= REASON_MAX && reason != REASON_UNUSED;
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
        return acme__fail(a ? acme__account_err(a) : NULL, ACME_ERR_INVALID,
                          "revocation: NULL argument");
    return revoke(acme_account_provider(a), acme_account_key(a), acme_account_url(a), pem,
                  reason, acme__account_err(a));
}

int acme__revoke_with_key(acme_provider *p, acme_key *cert_key, const char *pem, int reason,
                          acme__err *err)
{
    if (!p || !cert_key || !pem)
        return acme__fail(err, ACME_ERR_INVALID, "revocation: NULL argument");
    return revoke(p, cert_key, NULL, pem, reason, err);
}

int acme_revoke_with_key(acme_provider *p, acme_key *cert_key, const char *pem, int reason)
{
    acme__err why = { 0 };
    int rc = acme__revoke_with_key(p, cert_key, pem, reason, &why);
    return acme__provider_record(p, rc, &why);
}
