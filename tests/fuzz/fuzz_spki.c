/* Public keys a host hands to acme_key_from_signer (lib/crypto/signer.c):
 * any bytes as the SubjectPublicKeyInfo. A key that is accepted has a
 * supported type, gives a JWK and thumbprint, writes back the very bytes it
 * was made from, and refuses PEM export; the sign callback is never called
 * for it here, and release runs once, on free.
 *
 * Input: DER bytes. */
#include "fuzz.h"

#include <acme.h>

static int sign_never(int alg, const unsigned char *msg, size_t msg_len,
                      const unsigned char *digest, size_t digest_len, unsigned char *sig,
                      size_t sig_size, size_t *sig_len, void *userdata)
{
    (void)alg, (void)msg, (void)msg_len, (void)digest, (void)digest_len, (void)sig;
    (void)sig_size, (void)sig_len;
    ++*(int *)userdata;
    return 1;
}

static void released(void *userdata)
{
    *(int *)userdata += 1000;
}

int fuzz_spki(const uint8_t *data, size_t size)
{
    acme_signer_ops ops = ACME_SIGNER_OPS_INIT;
    ops.sign = sign_never;
    ops.release = released;
    int count = 0;
    acme_key *k = NULL;
    int rc = acme_key_from_signer(&k, data, size, &ops, &count);
    FUZZ_ASSERT(rc == ACME_OK || rc == ACME_ERR_KEY_FORMAT || rc == ACME_ERR_INVALID ||
                rc == ACME_ERR_NOMEM);
    FUZZ_ASSERT((rc == ACME_OK) == (k != NULL));
    if (k) {
        FUZZ_ASSERT(acme_key_is_external(k) == 1);
        FUZZ_ASSERT(acme_key_type_name(acme_key_get_type(k)) != NULL);
        char *jwk = NULL, *thumb = NULL, *pem = NULL;
        FUZZ_ASSERT(acme_key_jwk(k, &jwk) == ACME_OK);
        FUZZ_ASSERT(acme_key_thumbprint(k, &thumb) == ACME_OK && strlen(thumb) == 43);
        FUZZ_ASSERT(acme_key_to_pem(k, &pem) == ACME_ERR_INVALID && pem == NULL);
        unsigned char *der = NULL;
        size_t len = 0;
        FUZZ_ASSERT(acme_key_public_der(k, &der, &len) == ACME_OK);
        FUZZ_ASSERT(len == size && memcmp(der, data, size) == 0);
        acme_free(der);
        acme_free(jwk);
        acme_free(thumb);
    }
    acme_key_free(k);
    FUZZ_ASSERT(count == (rc == ACME_OK ? 1000 : 0));
    return 0;
}

FUZZ_ENTRY(spki);
