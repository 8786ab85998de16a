/* Private keys (lib/key.c) as a host or the store hands them over:
 * acme_key_load_pem on any bytes; a key that loads must have a supported
 * type, write itself back as PEM that loads to the same public key (same
 * JWK), and give a JWK, a thumbprint and a JWS signature.
 *
 * Input: text, taken as the PEM; or 0x00, a label selector byte and DER,
 * wrapped into a PEM block (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE
 * KEY) so that mutations reach mbedTLS's key parsers. */
#include "fuzz.h"

#include <acme.h>

#include "net/json.h"
#include "crypto/key.h"

static void check_key(acme_key *k)
{
    int type = acme_key_get_type(k);
    FUZZ_ASSERT(acme_key_type_name(type) != NULL);
    FUZZ_ASSERT(acme_key_algorithm(k) != NULL);

    char *jwk = NULL, *thumb = NULL, *pem = NULL;
    FUZZ_ASSERT(acme_key_jwk(k, &jwk) == ACME_OK);
    acme__err err = { 0 };
    yajl_val v = NULL;
    FUZZ_ASSERT(acme__json_parse_object(jwk, strlen(jwk), "jwk", &v, &err) == ACME_OK);
    FUZZ_ASSERT(acme__json_string(v, "kty") != NULL);
    acme__json_free(v);
    FUZZ_ASSERT(acme_key_thumbprint(k, &thumb) == ACME_OK && strlen(thumb) == 43);

    /* PEM round trip: the same public key comes back. */
    FUZZ_ASSERT(acme_key_to_pem(k, &pem) == ACME_OK);
    acme_key *again = NULL;
    FUZZ_ASSERT(acme_key_load_pem(&again, pem, strlen(pem)) == ACME_OK);
    FUZZ_ASSERT(acme_key_get_type(again) == type);
    char *jwk2 = NULL;
    FUZZ_ASSERT(acme_key_jwk(again, &jwk2) == ACME_OK && strcmp(jwk, jwk2) == 0);
    FUZZ_ASSERT(acme__key_matches(k, &again->pk));

    unsigned char sig[ACME__MAX_SIG];
    size_t sig_len = 0;
    if (acme__key_sign(k, "fuzz", 4, sig, &sig_len, &err) == ACME_OK)
        FUZZ_ASSERT(sig_len > 0 && sig_len <= ACME__MAX_SIG);
    acme__err_clear(&err);

    acme_key_free(again);
    acme_free(jwk);
    acme_free(jwk2);
    acme_free(thumb);
    acme_free(pem);
}

int fuzz_key(const uint8_t *data, size_t size)
{
    acme_key *k = NULL;
    int rc;
    if (size >= 2 && data[0] == 0) {
        static const char *const labels[] = { "PRIVATE KEY", "EC PRIVATE KEY",
                                              "RSA PRIVATE KEY" };
        acme__buf pem = ACME__BUF_INIT;
        fuzz_pem_append(&pem, labels[data[1] % 3], data + 2, size - 2);
        if (acme__buf_status(&pem) != ACME_OK) {
            acme__buf_free(&pem);
            return 0;
        }
        rc = acme_key_load_pem(&k, pem.data, pem.len);
        acme__buf_free(&pem);
    } else {
        rc = acme_key_load_pem(&k, (const char *)data, size);
    }
    FUZZ_ASSERT(rc == ACME_OK || rc == ACME_ERR_KEY_FORMAT || rc == ACME_ERR_NOMEM);
    FUZZ_ASSERT((rc == ACME_OK) == (k != NULL));
    if (k)
        check_key(k);
    acme_key_free(k);
    return 0;
}

FUZZ_ENTRY(key);
