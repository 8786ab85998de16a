/* What CAs speak beyond RFC 8555, against the scripted CA
 * (tests/harness/scripted_server.py, MiniCA), which plays the CA here:
 * Pebble 2.4 offers neither profiles nor a challenge type that wants a
 * payload of its own.
 *   - a solver answers the made-up type "example-proof-01" with its own
 *     response object (the CA validates only {"keyAuthorization": ...});
 *   - a desire whose required profile the CA does not list fails with not
 *     one request after the directory;
 *   - a preferred profile the CA lacks: the order goes without it. */
#include <acme.h>

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

static const char proof_type[] = "example-proof-01";

static acme_provider *scripted_ca(void)
{
    acme_provider_options o;
    acme_provider_options_init(&o, ACME_PROVIDER_OPTIONS_VERSION);
    o.ca_bundle = test_env("ACME_TEST_CA_BUNDLE");
    o.log = test_log_record;
    o.log_level = ACME_LOG_DEBUG;
    char url[512];
    snprintf(url, sizeof(url), "%s/ca/dir", test_env("ACME_TEST_SCRIPTED"));
    acme_provider *p = NULL;
    REQUIRE(acme_provider_new(&p, url, &o) == ACME_OK);
    return p;
}

/* The type's payload: the key authorization, in a member the CA names. */
static int proof_present(const acme_challenge *ch, void *userdata)
{
    int *answer = userdata;
    if (!*answer)
        return ACME_OK; /* leaves the response at {} */
    char body[512];
    snprintf(body, sizeof(body), "{\"keyAuthorization\":\"%s\"}",
             acme_challenge_key_authorization(ch));
    /* Not an object: refused, and nothing changes. */
    CHECK_RC(acme_challenge_set_response(ch, "\"text\""), ACME_ERR_INVALID);
    CHECK_STR(acme_challenge_response(ch), "{}");
    return acme_challenge_set_response(ch, body);
}

static void test_own_payload(acme_provider *p, acme_account *a)
{
    int answer = 1;
    acme_solvers *s = NULL;
    REQUIRE(acme_solvers_new(&s) == ACME_OK);
    REQUIRE(acme_solvers_add(s, proof_type, proof_present, NULL, NULL, &answer) == ACME_OK);

    acme_key *cert_key = test_key(ACME_KEY_EC256);
    acme_order *o = NULL;
    REQUIRE(acme_order_new(&o, a) == ACME_OK);
    CHECK_OK(acme_order_add_identifier(o, "proof.example"));
    CHECK_OK(acme_order_issue(o, s, cert_key));
    CHECK(acme_order_certificate_pem(o) != NULL);
    acme_order_free(o);

    /* The same type answered with the default {}: the CA refuses it. */
    answer = 0;
    REQUIRE(acme_order_new(&o, a) == ACME_OK);
    CHECK_OK(acme_order_add_identifier(o, "noproof.example"));
    CHECK_RC(acme_order_issue(o, s, cert_key), ACME_ERR_VALIDATION);
    CHECK_MSG(strstr(acme_order_last_error(o), "keyAuthorization") != NULL,
              "the CA's reason is passed on: %s", acme_order_last_error(o));
    acme_order_free(o);
    acme_key_free(cert_key);
    acme_solvers_free(s);
    (void)p;
}

static void test_required_profile_missing(acme_provider *p)
{
    char *dir = test_tmpdir();
    acme_store *store = NULL;
    REQUIRE(acme_store_new_fs(&store, dir) == ACME_OK);
    acme_solvers *s = NULL;
    int answer = 1;
    REQUIRE(acme_solvers_new(&s) == ACME_OK);
    REQUIRE(acme_solvers_add(s, proof_type, proof_present, NULL, NULL, &answer) == ACME_OK);
    acme_desire_options o;
    test_desire_options(&o, "ops@example.com");
    acme_desire *d = NULL;
    REQUIRE(acme_desire_new(&d, p, store, s, &o) == ACME_OK);
    const char *ids[] = { "required.example" };
    REQUIRE(acme_desire_add(d, "required", ids, 1, 0, NULL) == ACME_OK);
    CHECK_RC(acme_desire_set_profile(d, "nope", "shortlived", 1), ACME_ERR_NOT_FOUND);
    CHECK_OK(acme_desire_set_profile(d, "required", "nosuch", 1));

    uint64_t before = 0, after = 0;
    acme_provider_stats(p, &before, NULL);
    CHECK(acme_desire_ensure(d) != ACME_OK);
    acme_provider_stats(p, &after, NULL);
    CHECK_MSG(after == before, "%llu requests after the directory",
              (unsigned long long)(after - before));
    CHECK(acme_desire_result(d, 0) == ACME_RESULT_FAILED);
    CHECK(acme_desire_error(d, 0) == ACME_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(acme_desire_message(d, 0), "nosuch") != NULL, "message: %s",
              acme_desire_message(d, 0));

    /* Preferred instead: ordered without it, and the result says so. */
    CHECK_OK(acme_desire_set_profile(d, "required", "nosuch", 0));
    CHECK_OK(acme_desire_ensure(d));
    CHECK(acme_desire_result(d, 0) == ACME_RESULT_OBTAINED);
    CHECK_MSG(strstr(acme_desire_message(d, 0), "ordered without it") != NULL, "message: %s",
              acme_desire_message(d, 0));
    /* Kept as wanted: the next ensure has nothing to do. */
    CHECK_OK(acme_desire_ensure(d));
    CHECK(acme_desire_result(d, 0) == ACME_RESULT_NOT_DUE);
    /* A profile the CA has, instead: the change reissues at once. */
    CHECK_OK(acme_desire_set_profile(d, "required", "shortlived", 1));
    CHECK_OK(acme_desire_ensure(d));
    CHECK(acme_desire_result(d, 0) == ACME_RESULT_RENEWED);
    CHECK_MSG(strstr(acme_desire_message(d, 0), "profile changed") != NULL, "message: %s",
              acme_desire_message(d, 0));
    acme_desire_free(d);

    /* A new desire over the store keeps the stored profile: nothing due. */
    REQUIRE(acme_desire_new(&d, p, store, s, &o) == ACME_OK);
    size_t n = 0;
    CHECK_OK(acme_desire_add_stored(d, &n));
    CHECK(n == 1);
    CHECK_OK(acme_desire_ensure(d));
    CHECK_MSG(acme_desire_result(d, 0) == ACME_RESULT_NOT_DUE, "message: %s",
              acme_desire_message(d, 0));
    acme_desire_free(d);
    acme_solvers_free(s);
    acme_store_free(store);
    free(dir);
}

int main(void)
{
    acme_provider *p = scripted_ca();
    CHECK(acme_provider_has_profile(p, "shortlived"));
    acme_key *key = test_key(ACME_KEY_EC256);
    acme_account *a = test_account(p, key);
    test_own_payload(p, a);
    test_required_profile_missing(p);
    acme_account_free(a);
    acme_key_free(key);
    acme_provider_free(p);
    return check_done();
}
