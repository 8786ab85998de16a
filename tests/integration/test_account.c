/* Accounts against a real Pebble: register, idempotent re-registration,
 * lookup by key, contacts, rollover, deactivation, every key type, one
 * reused connection, and no private key in the log. Run by the harness,
 * also with PEBBLE_WFE_NONCEREJECT=50 (half of all nonces refused). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

static void test_directory(acme_provider *p)
{
    CHECK(acme_provider_endpoint(p, "newNonce") != NULL);
    CHECK(acme_provider_endpoint(p, "keyChange") != NULL);
    CHECK(acme_provider_endpoint(p, "revokeCert") != NULL);
    /* Pebble 2.4.0 offers neither ARI nor newAuthz nor profiles. */
    CHECK(acme_provider_endpoint(p, "renewalInfo") == NULL);
    CHECK(acme_provider_endpoint(p, "meta") == NULL);
    CHECK(acme_provider_terms_of_service(p) != NULL);
    CHECK(acme_provider_external_account_required(p) == 0);
    CHECK(acme_provider_profile_count(p) == 0);
    CHECK_STR(acme_provider_directory_url(p), test_env("ACME_TEST_DIRECTORY"));
}

/* The key's PEM body must never reach the log callback. */
static void check_key_not_logged(acme_key *key)
{
    char *pem = NULL;
    REQUIRE_OK(acme_key_to_pem(key, &pem));
    const char *body = strchr(pem, '\n') + 1; /* first line of base64 */
    char line[65] = "";
    strncpy(line, body, 64);
    CHECK_MSG(strstr(test_log(), line) == NULL, "private key material in the log");
    acme_free(pem);
}

static void test_register_and_lookup(acme_provider *p)
{
    acme_key *key = test_key(ACME_KEY_EC256);
    const char *contacts[] = { "alice@example.com" };
    acme_account_options o;
    acme_account_options_init(&o, ACME_ACCOUNT_OPTIONS_VERSION);
    o.contacts = contacts;
    o.contact_count = 1;
    o.agree_tos = 1;

    acme_account *a = NULL;
    REQUIRE_OK(acme_account_register(&a, p, key, &o));
    CHECK(strncmp(acme_account_url(a), "https://", 8) == 0);
    CHECK_STR(acme_account_status(a), "valid");
    CHECK(acme_account_contact_count(a) == 1);
    CHECK_STR(acme_account_contact(a, 0), "mailto:alice@example.com");
    CHECK(acme_account_contact(a, 1) == NULL);
    CHECK(acme_account_key(a) == key);
    CHECK(acme_account_provider(a) == p);

    /* Registering the same key again returns the same account. */
    acme_account *again = NULL;
    REQUIRE_OK(acme_account_register(&again, p, key, &o));
    CHECK_STR(acme_account_url(again), acme_account_url(a));
    acme_account_free(again);

    /* Recovery from the key alone. */
    acme_account *found = NULL;
    REQUIRE_OK(acme_account_lookup(&found, p, key));
    CHECK_STR(acme_account_url(found), acme_account_url(a));
    CHECK_STR(acme_account_status(found), "valid");
    acme_account_free(found);

    /* A handle made from a stored URL works after a refresh. */
    acme_account *loaded = NULL;
    REQUIRE_OK(acme_account_load(&loaded, p, key, acme_account_url(a)));
    CHECK_STR(acme_account_status(loaded), "");
    CHECK_OK(acme_account_refresh(loaded));
    CHECK_STR(acme_account_status(loaded), "valid");
    CHECK_STR(acme_account_contact(loaded, 0), "mailto:alice@example.com");
    acme_account_free(loaded);

    /* Contacts: replace with two, then check the CA kept them. */
    const char *two[] = { "mailto:ops@example.com", "bob@example.org" };
    CHECK_OK(acme_account_update_contacts(a, two, 2));
    CHECK(acme_account_contact_count(a) == 2);
    CHECK_STR(acme_account_contact(a, 0), "mailto:ops@example.com");
    CHECK_STR(acme_account_contact(a, 1), "mailto:bob@example.org");
    CHECK_OK(acme_account_refresh(a));
    CHECK(acme_account_contact_count(a) == 2);

    /* A bad contact is refused before any request is sent. */
    uint64_t before, after;
    acme_provider_stats(p, &before, NULL);
    const char *bad[] = { "not an address" };
    CHECK_RC(acme_account_update_contacts(a, bad, 1), ACME_ERR_INVALID);
    CHECK(strstr(acme_account_last_error(a), "not an address") != NULL);
    const char *bad2[] = { "mailto:a@example.com,b@example.com" };
    CHECK_RC(acme_account_update_contacts(a, bad2, 1), ACME_ERR_INVALID);
    acme_provider_stats(p, &after, NULL);
    CHECK(after == before);

    check_key_not_logged(key);
    acme_account_free(a);
    acme_key_free(key);
}

static void test_unknown_key(acme_provider *p)
{
    acme_key *key = test_key(ACME_KEY_EC256);
    acme_account *a = NULL;
    CHECK_RC(acme_account_lookup(&a, p, key), ACME_ERR_PROBLEM);
    CHECK(a == NULL);
    CHECK(acme_problem_is(acme_last_problem(), "accountDoesNotExist"));
    CHECK_MSG(strstr(acme_last_error(), "accountDoesNotExist") != NULL, "message: %s",
              acme_last_error());
    CHECK(acme_problem_status(acme_last_problem()) >= 400);
    acme_key_free(key);
}

static void test_rollover(acme_provider *p)
{
    acme_key *old_key = test_key(ACME_KEY_EC256);
    acme_key *new_key = test_key(ACME_KEY_EC384);
    acme_account *a = test_account(p, old_key);
    char *url = strdup(acme_account_url(a));

    CHECK_RC(acme_account_rollover(a, old_key), ACME_ERR_INVALID);
    CHECK_OK(acme_account_rollover(a, new_key));
    CHECK(acme_account_key(a) == new_key);
    /* The handle signs with the new key now. */
    CHECK_OK(acme_account_refresh(a));

    acme_account *found = NULL;
    CHECK_OK(acme_account_lookup(&found, p, new_key));
    if (found)
        CHECK_STR(acme_account_url(found), url);
    acme_account_free(found);
    found = NULL;
    CHECK_RC(acme_account_lookup(&found, p, old_key), ACME_ERR_PROBLEM);
    CHECK(acme_problem_is(acme_last_problem(), "accountDoesNotExist"));

    /* Rolling over to a key that has its own account is refused by the CA,
     * and the handle keeps signing with its current key. */
    acme_key *taken = test_key(ACME_KEY_EC256);
    acme_account *other = test_account(p, taken);
    CHECK_RC(acme_account_rollover(a, taken), ACME_ERR_PROBLEM);
    CHECK(acme_account_last_problem(a) != NULL);
    CHECK(acme_account_key(a) == new_key);
    CHECK_OK(acme_account_refresh(a));

    free(url);
    acme_account_free(other);
    acme_account_free(a);
    acme_key_free(taken);
    acme_key_free(old_key);
    acme_key_free(new_key);
}

static void test_deactivate(acme_provider *p)
{
    acme_key *key = test_key(ACME_KEY_EC256);
    acme_account *a = test_account(p, key);
    CHECK_OK(acme_account_deactivate(a));
    CHECK_STR(acme_account_status(a), "deactivated");
    CHECK_RC(acme_account_refresh(a), ACME_ERR_PROBLEM);
    CHECK_MSG(acme_problem_is(acme_account_last_problem(a), "unauthorized"), "problem %s",
              acme_problem_type(acme_account_last_problem(a)));
    CHECK(acme_account_last_problem(a) == acme_last_problem());
    acme_account_free(a);
    acme_key_free(key);
}

/* Every key type can hold an account (JWS ES256, ES384, RS256). */
static void test_key_types(acme_provider *p)
{
    static const int types[] = { ACME_KEY_EC384, ACME_KEY_RSA2048, ACME_KEY_RSA3072 };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        acme_key *key = test_key(types[i]);
        acme_account_options o;
        acme_account_options_init(&o, ACME_ACCOUNT_OPTIONS_VERSION);
        o.agree_tos = 1;
        acme_account *a = NULL;
        CHECK_OK(acme_account_register(&a, p, key, &o));
        if (a)
            CHECK_OK(acme_account_refresh(a));
        acme_account_free(a);
        acme_key_free(key);
    }
}

int main(void)
{
    acme_provider *p = test_provider(NULL);
    test_directory(p);
    test_register_and_lookup(p);
    test_unknown_key(p);
    test_rollover(p);
    test_deactivate(p);
    test_key_types(p);

    /* One provider, one thread: every request went over one connection. */
    uint64_t requests = 0, connections = 0;
    acme_provider_stats(p, &requests, &connections);
    CHECK(requests > 20);
    CHECK_MSG(connections == 1, "%llu connections for %llu requests",
              (unsigned long long)connections, (unsigned long long)requests);
    acme_provider_free(p);
    test_log_clear();
    return check_done();
}
