/* External Account Binding against a Pebble started with
 * externalAccountBindingRequired (harness option --eab): registration
 * without a binding, with a wrong MAC key, and with the right one under
 * each MAC algorithm. The HMAC key must never reach the log. */
#include <string.h>

#include "check.h"
#include "testutil.h"

static int register_with(acme_provider *p, const char *kid, const char *hmac, const char *alg,
                         acme_account **out)
{
    acme_key *key = test_key(ACME_KEY_EC256);
    acme_account_options o;
    acme_account_options_init(&o, ACME_ACCOUNT_OPTIONS_VERSION);
    o.agree_tos = 1;
    o.eab_kid = kid;
    o.eab_hmac_key = hmac;
    o.eab_algorithm = alg;
    int rc = acme_account_register(out, p, key, &o);
    acme_key_free(key);
    return rc;
}

int main(void)
{
    const char *kid = test_env("ACME_TEST_EAB_KID");
    const char *hmac = test_env("ACME_TEST_EAB_HMAC_KEY");
    acme_provider *p = test_provider(NULL);
    CHECK(acme_provider_external_account_required(p) == 1);

    /* Without a binding: refused before any request, with a clear reason. */
    acme_account *a = NULL;
    uint64_t before, after;
    acme_provider_stats(p, &before, NULL);
    CHECK_RC(register_with(p, NULL, NULL, NULL, &a), ACME_ERR_INVALID);
    CHECK(strstr(acme_last_error(), "External Account Binding") != NULL);
    acme_provider_stats(p, &after, NULL);
    CHECK(before == after);
    CHECK(a == NULL);

    /* Half a binding, or a key that is not base64url. */
    CHECK_RC(register_with(p, kid, NULL, NULL, &a), ACME_ERR_INVALID);
    CHECK_RC(register_with(p, NULL, hmac, NULL, &a), ACME_ERR_INVALID);
    CHECK_RC(register_with(p, kid, "not base64url!", NULL, &a), ACME_ERR_INVALID);
    CHECK_RC(register_with(p, kid, hmac, "HS1", &a), ACME_ERR_INVALID);

    /* A wrong MAC key or an unknown key id: the CA refuses. */
    CHECK_RC(register_with(p, kid, "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktISE", NULL, &a),
             ACME_ERR_PROBLEM);
    CHECK(acme_last_problem() != NULL);
    CHECK_RC(register_with(p, "no-such-kid", hmac, NULL, &a), ACME_ERR_PROBLEM);

    /* The right binding under every MAC algorithm. */
    static const char *const algs[] = { NULL, "HS256", "HS384", "HS512" };
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        a = NULL;
        CHECK_OK(register_with(p, kid, hmac, algs[i], &a));
        if (a)
            CHECK_STR(acme_account_status(a), "valid");
        acme_account_free(a);
    }

    CHECK_MSG(strstr(test_log(), hmac) == NULL, "the EAB HMAC key reached the log");
    acme_provider_free(p);
    test_log_clear();
    return check_done();
}
