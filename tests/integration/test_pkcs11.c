/* The PKCS#11 signer example (examples/pkcs11/) with the library's own
 * calls, against Pebble: keys in a SoftHSM2 token that
 * tests/cli/test_pkcs11.py creates ("signer" mode) and names here.
 *
 *   test-pkcs11 ACCOUNT1_URI ACCOUNT2_URI CERT_URI CERT_SPKI_DER_FILE
 *
 * Register an account whose key is only in the token (JWS signed by
 * CKM_ECDSA), issue a certificate whose key is only in the token (the CSR
 * signed there), roll the account over to the second token key, revoke
 * with the certificate's key; the signer's public key is the token key's
 * as pkcs11-tool reads it, and the leaf holds it. */
#include <acme.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p11key.h"
#include "check.h"
#include "testutil.h"

static acme_key *open_key(const char *uri)
{
    acme_key *k = NULL;
    char err[512] = "";
    int rc = p11_key_open(uri, &k, err, sizeof(err));
    CHECK_MSG(rc == 0, "%s", err);
    if (rc != 0)
        exit(1);
    CHECK(acme_key_is_external(k) == 1);
    char *pem = NULL;
    CHECK(acme_key_to_pem(k, &pem) != ACME_OK); /* nothing to export */
    CHECK(pem == NULL);
    return k;
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 5);
    acme_provider *p = test_provider(NULL);
    acme_key *acct1 = open_key(argv[1]), *acct2 = open_key(argv[2]), *cert = open_key(argv[3]);

    /* The public key the signer built is the token's. */
    size_t want_len = 0;
    char *want = NULL;
    FILE *f = fopen(argv[4], "rb");
    REQUIRE(f != NULL);
    want = malloc(4096);
    want_len = fread(want, 1, 4096, f);
    fclose(f);
    unsigned char *der = NULL;
    size_t len = 0;
    REQUIRE_OK(acme_key_public_der(cert, &der, &len));
    CHECK(len == want_len && memcmp(der, want, len) == 0);
    acme_free(der);
    free(want);

    acme_account *a = test_account(p, acct1);
    char *url = strdup(acme_account_url(a));

    acme_solvers *s = NULL;
    REQUIRE_OK(acme_solvers_new(&s));
    REQUIRE_OK(test_add_dns_solver(s));
    acme_order *o = NULL;
    REQUIRE_OK(acme_order_new(&o, a));
    static const char *const names[] = { "token.example.com" };
    CHECK_OK(acme_order_add_identifier(o, names[0]));
    int rc = acme_order_issue(o, s, cert);
    CHECK_MSG(rc == ACME_OK, "issue: %s", acme_order_last_error(o));
    const char *chain = rc == ACME_OK ? acme_order_certificate_pem(o) : NULL;
    CHECK(chain != NULL);

    /* Rollover to the second token key: the account answers to it, and
     * the first key has no account any more. */
    CHECK_MSG(acme_account_rollover(a, acct2) == ACME_OK, "rollover: %s",
              acme_account_last_error(a));
    acme_account *again = NULL;
    CHECK_OK(acme_account_lookup(&again, p, acct2));
    CHECK(again && strcmp(acme_account_url(again), url) == 0);
    acme_account_free(again);
    again = NULL;
    CHECK(acme_account_lookup(&again, p, acct1) == ACME_ERR_PROBLEM);
    acme_account_free(again);

    /* Revocation signed by the certificate's key in the token. */
    if (chain) {
        acme_cert *again_cert = NULL;
        /* The leaf holds the token key (test_leaf_matches() needs the
         * private key's PEM, which a token key has not). */
        acme_cert *c = NULL;
        REQUIRE_OK(acme_cert_parse(&c, chain, strlen(chain), cert));
        CHECK(acme_cert_parse(&again_cert, chain, strlen(chain), acct1) == ACME_ERR_CERTIFICATE);
        CHECK_OK(acme_revoke_with_key(p, cert, chain, 4));
        char path[256];
        int n = snprintf(path, sizeof(path), "/cert-status-by-serial/%s", acme_cert_serial(c));
        for (int i = 0; i < n && i < (int)sizeof(path); i++)
            if (path[i] >= 'A' && path[i] <= 'F')
                path[i] = (char)(path[i] - 'A' + 'a');
        char *reply = test_pebble_mgmt_get(path);
        CHECK_MSG(reply && strstr(reply, "\"Revoked\""), "status: %s", reply ? reply : "-");
        free(reply);
        acme_cert_free(c);
        acme_cert_free(again_cert);
    }

    acme_order_free(o);
    acme_solvers_free(s);
    acme_account_free(a);
    free(url);
    acme_key_free(acct1);
    acme_key_free(acct2);
    acme_key_free(cert);
    acme_provider_free(p);
    return check_done();
}
