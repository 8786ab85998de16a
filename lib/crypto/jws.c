/* JWS for ACME requests and the External Account Binding. */
#include "crypto/jws.h"

#include <string.h>

#include <mbedtls/md.h>

#include "base/b64.h"
#include "net/json.h"
#include "base/mem.h"

/* Append "protected" and "payload" and return the signing input
 * (protected "." payload) in input. */
static void append_signing_input(acme__buf *out, acme__buf *input, const acme__buf *header,
                                 const char *payload)
{
    acme__b64url_append(input, header->data, header->len);
    acme__buf_putc(input, '.');
    size_t protected_len = input->len - 1;
    if (payload)
        acme__b64url_append(input, payload, strlen(payload));
    acme__buf_puts(out, "{\"protected\":\"");
    acme__buf_append(out, input->data, protected_len);
    acme__buf_puts(out, "\",\"payload\":\"");
    acme__buf_append(out, input->data + protected_len + 1, input->len - protected_len - 1);
    acme__buf_puts(out, "\",\"signature\":\"");
}

int acme__jws_sign(acme_key *key, const char *kid, const char *nonce, const char *url,
                   const char *payload, acme__buf *out, acme__err *err)
{
    size_t start = out->len; /* on failure, out is cut back to this */
    acme__buf header = ACME__BUF_INIT, input = ACME__BUF_INIT;
    acme__buf_printf(&header, "{\"alg\":\"%s\",", acme_key_algorithm(key));
    if (kid) {
        acme__buf_puts(&header, "\"kid\":");
        acme__json_put_string(&header, kid);
    } else {
        acme__buf_puts(&header, "\"jwk\":");
        if (acme__key_append_jwk(key, &header) != ACME_OK) {
            acme__buf_free(&header);
            return acme__fail(err, ACME_ERR_CRYPTO, "JWS: cannot encode the JWK");
        }
    }
    if (nonce) {
        acme__buf_puts(&header, ",\"nonce\":");
        acme__json_put_string(&header, nonce);
    }
    acme__buf_puts(&header, ",\"url\":");
    acme__json_put_string(&header, url);
    acme__buf_putc(&header, '}');

    append_signing_input(out, &input, &header, payload);
    int rc = acme__buf_status(&header) | acme__buf_status(&input) | acme__buf_status(out);
    if (rc != ACME_OK) {
        rc = acme__fail(err, ACME_ERR_NOMEM, "JWS: out of memory");
    } else {
        unsigned char sig[ACME__MAX_SIG];
        size_t sig_len = 0;
        rc = acme__key_sign(key, input.data, input.len, sig, &sig_len, err);
        if (rc == ACME_OK) {
            acme__b64url_append(out, sig, sig_len);
            acme__buf_puts(out, "\"}");
            if (acme__buf_status(out) != ACME_OK)
                rc = acme__fail(err, ACME_ERR_NOMEM, "JWS: out of memory");
        }
    }
    acme__buf_free(&header);
    acme__buf_free(&input);
    if (rc != ACME_OK && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}

int acme__jws_eab(const char *kid, const unsigned char *mac_key, size_t mac_key_len,
                  const char *alg, const acme_key *account_key, const char *url,
                  acme__buf *out, acme__err *err)
{
    mbedtls_md_type_t md_type;
    if (!alg || strcmp(alg, "HS256") == 0) {
        alg = "HS256";
        md_type = MBEDTLS_MD_SHA256;
    } else if (strcmp(alg, "HS384") == 0) {
        md_type = MBEDTLS_MD_SHA384;
    } else if (strcmp(alg, "HS512") == 0) {
        md_type = MBEDTLS_MD_SHA512;
    } else {
        return acme__fail(err, ACME_ERR_INVALID,
                          "EAB: unknown MAC algorithm \"%s\" (HS256, HS384, HS512)", alg);
    }
    acme__buf header = ACME__BUF_INIT, jwk = ACME__BUF_INIT, input = ACME__BUF_INIT;
    acme__buf_printf(&header, "{\"alg\":\"%s\",\"kid\":", alg);
    acme__json_put_string(&header, kid);
    acme__buf_puts(&header, ",\"url\":");
    acme__json_put_string(&header, url);
    acme__buf_putc(&header, '}');
    int rc = acme__key_append_jwk(account_key, &jwk);
    if (rc == ACME_OK) {
        append_signing_input(out, &input, &header, jwk.data);
        rc = acme__buf_status(&header) | acme__buf_status(&jwk) | acme__buf_status(&input) |
             acme__buf_status(out);
    }
    unsigned char mac[MBEDTLS_MD_MAX_SIZE];
    if (rc == ACME_OK) {
        const mbedtls_md_info_t *md = mbedtls_md_info_from_type(md_type);
        if (mbedtls_md_hmac(md, mac_key, mac_key_len, (const unsigned char *)input.data,
                            input.len, mac) != 0) {
            rc = acme__fail(err, ACME_ERR_CRYPTO, "EAB: HMAC failed");
        } else {
            acme__b64url_append(out, mac, mbedtls_md_get_size(md));
            acme__buf_puts(out, "\"}");
            if (acme__buf_status(out) != ACME_OK)
                rc = acme__fail(err, ACME_ERR_NOMEM, "EAB: out of memory");
        }
        acme__wipe(mac, sizeof(mac));
    } else {
        rc = acme__fail(err, rc, "EAB: cannot encode the binding");
    }
    acme__buf_free(&header);
    acme__buf_free(&jwk);
    acme__buf_free(&input);
    return rc;
}
