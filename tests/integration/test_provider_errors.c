/* The provider against bad servers: unreachable, untrusted, not a
 * directory, too large, truncated, stalled, flaky, rate limited. Uses the
 * real Pebble where it can answer and tests/harness/scripted_server.py (a
 * canned HTTPS server) for the replies Pebble never gives. Each case must fail
 * with its own error code and a message naming the cause. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "testutil.h"

static int try_directory(const char *url, acme_provider_options *o)
{
    acme_provider *p = NULL;
    int rc = acme_provider_new(&p, url, o);
    CHECK((rc == ACME_OK) == (p != NULL));
    acme_provider_free(p);
    return rc;
}

static acme_provider_options trusting(void)
{
    acme_provider_options o;
    acme_provider_options_init(&o, ACME_PROVIDER_OPTIONS_VERSION);
    o.ca_bundle = test_env("ACME_TEST_CA_BUNDLE");
    o.log = test_log_record;
    o.log_level = ACME_LOG_DEBUG;
    return o;
}

static void scripted(const char *path, char *url, size_t size)
{
    snprintf(url, size, "%s%s", test_env("ACME_TEST_SCRIPTED"), path);
}

#define CHECK_MSG_HAS(needle) \
    CHECK_MSG(strstr(acme_last_error(), needle) != NULL, "message \"%s\" lacks \"%s\"", \
              acme_last_error(), needle)

static void test_pebble_cases(void)
{
    acme_provider_options o = trusting();
    char url[512];

    /* Nothing listens on port 1. */
    CHECK_RC(try_directory("https://127.0.0.1:1/dir", &o), ACME_ERR_NETWORK);
    CHECK_MSG_HAS("127.0.0.1:1");

    /* Not https. */
    CHECK_RC(try_directory("http://127.0.0.1/dir", &o), ACME_ERR_INVALID);
    CHECK_MSG_HAS("https://");
    CHECK_RC(try_directory(NULL, &o), ACME_ERR_INVALID);

    /* Pebble's certificate is not trusted by the system store, nor by a
     * bundle holding some other CA. */
    acme_provider_options untrusted = o;
    untrusted.ca_bundle = NULL;
    CHECK_RC(try_directory(test_env("ACME_TEST_DIRECTORY"), &untrusted), ACME_ERR_TLS);
    CHECK_MSG_HAS("TLS");
    char *dir = test_tmpdir();
    char other_ca[1100];
    snprintf(other_ca, sizeof(other_ca), "%s/other-ca.pem", dir);
    char *root = test_pebble_mgmt_get("/roots/0"); /* Pebble's issuing root, not its TLS CA */
    REQUIRE(root != NULL);
    FILE *f = fopen(other_ca, "w");
    REQUIRE(f != NULL);
    fputs(root, f);
    fclose(f);
    untrusted.ca_bundle = other_ca;
    CHECK_RC(try_directory(test_env("ACME_TEST_DIRECTORY"), &untrusted), ACME_ERR_TLS);
    free(root);
    remove(other_ca);
    remove(dir);
    free(dir);

    /* An HTTPS resource that is not a directory: Pebble's root in PEM. */
    snprintf(url, sizeof(url), "%s/roots/0", test_env("ACME_TEST_PEBBLE_MGMT"));
    CHECK_RC(try_directory(url, &o), ACME_ERR_PROTOCOL);
    CHECK_MSG_HAS("application/json");

    /* A 404 from Pebble. */
    snprintf(url, sizeof(url), "%s-nope", test_env("ACME_TEST_DIRECTORY"));
    int rc = try_directory(url, &o);
    CHECK_MSG(rc == ACME_ERR_HTTP || rc == ACME_ERR_PROBLEM, "rc %d", rc);
    CHECK_MSG_HAS("404");

    /* The real directory over a 64-byte cap. */
    acme_provider_options small = o;
    small.max_response_bytes = 64;
    CHECK_RC(try_directory(test_env("ACME_TEST_DIRECTORY"), &small), ACME_ERR_TOO_LARGE);
    CHECK_MSG_HAS("64 bytes");

    /* Unknown options version. */
    acme_provider_options future = o;
    future.version = 99;
    CHECK_RC(try_directory(test_env("ACME_TEST_DIRECTORY"), &future), ACME_ERR_INVALID);
}

static void test_scripted_cases(void)
{
    acme_provider_options o = trusting();
    char url[512];

    /* Broken directories: the error code and what the message names. */
    static const struct {
        const char *path;
        int rc;
        const char *says; /* NULL: the code is enough */
    } broken[] = {
        { "/dir/truncated", ACME_ERR_PROTOCOL, "invalid JSON" },
        { "/dir/cut", ACME_ERR_NETWORK, "mid-reply" },
        { "/dir/notjson", ACME_ERR_PROTOCOL, "text/html" },
        { "/dir/wrongtype", ACME_ERR_PROTOCOL, "text/plain" },
        { "/dir/big", ACME_ERR_TOO_LARGE, NULL },
        { "/dir/missing", ACME_ERR_PROTOCOL, "newOrder" },
        { "/dir/http-urls", ACME_ERR_PROTOCOL, "newAccount" },
        { "/dir/redirect", ACME_ERR_HTTP, "302" },
        { "/dir/deep", ACME_ERR_PROTOCOL, "deeper" },
    };
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        scripted(broken[i].path, url, sizeof(url));
        int rc = try_directory(url, &o);
        CHECK_MSG(rc == broken[i].rc, "%s: returned %d, wanted %d: %s", broken[i].path, rc,
                  broken[i].rc, acme_last_error());
        if (broken[i].says)
            CHECK_MSG(strstr(acme_last_error(), broken[i].says) != NULL,
                      "%s: message \"%s\" lacks \"%s\"", broken[i].path, acme_last_error(),
                      broken[i].says);
    }

    /* The whole-request timeout fires on a server that stalls mid-reply. */
    acme_provider_options quick = o;
    quick.timeout_ms = 700;
    scripted("/dir/stall", url, sizeof(url));
    CHECK_RC(try_directory(url, &quick), ACME_ERR_TIMEOUT);

    /* 503 twice with Retry-After: 0, then success within the retry bound. */
    scripted("/dir/flaky", url, sizeof(url));
    CHECK_OK(try_directory(url, &o));
    CHECK(strstr(test_log(), "retrying") != NULL);

    /* Always 503: gives up after max_retries with the status in the message. */
    acme_provider_options once = o;
    once.max_retries = 1;
    scripted("/dir/always503", url, sizeof(url));
    CHECK_RC(try_directory(url, &once), ACME_ERR_HTTP);
    CHECK_MSG_HAS("503");

    /* Retries end with the request's timeout: 503 asking for 2 s each time,
     * three retries allowed, a 3 s timeout: one retry, not three (6 s). */
    acme_provider_options bounded = o;
    bounded.timeout_ms = 3000;
    scripted("/dir/slow503", url, sizeof(url));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_RC(try_directory(url, &bounded), ACME_ERR_PROBLEM);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK_MSG(took < 3.0, "retries took %.1f s, beyond the 3 s timeout", took);
    CHECK(acme_problem_is(acme_last_problem(), "serverInternal"));

    /* 429 asking for an hour: beyond max_retry_after_s, so no waiting. */
    scripted("/dir/ratelimited", url, sizeof(url));
    CHECK_RC(try_directory(url, &o), ACME_ERR_PROBLEM);
    CHECK(acme_problem_is(acme_last_problem(), "rateLimited"));
    CHECK(acme_problem_status(acme_last_problem()) == 429);

    /* A problem with thousands of subproblems is kept bounded. */
    scripted("/dir/problem-huge", url, sizeof(url));
    CHECK_RC(try_directory(url, &o), ACME_ERR_PROBLEM);
    CHECK(acme_problem_subproblem_count(acme_last_problem()) == 256);
    CHECK_STR(acme_problem_identifier_value(acme_problem_subproblem(acme_last_problem(), 255)),
              "n255.example");

    /* A directory with every optional part Pebble lacks. */
    acme_provider *p = NULL;
    scripted("/dir/full", url, sizeof(url));
    REQUIRE_OK(acme_provider_new(&p, url, &o));
    CHECK(acme_provider_endpoint(p, "renewalInfo") != NULL);
    CHECK(acme_provider_endpoint(p, "newAuthz") != NULL);
    CHECK_STR(acme_provider_terms_of_service(p), "https://example.com/tos.pdf");
    CHECK_STR(acme_provider_website(p), "https://example.com/");
    CHECK(acme_provider_caa_identity_count(p) == 2);
    CHECK_STR(acme_provider_caa_identity(p, 1), "ca.example.net");
    CHECK(acme_provider_caa_identity(p, 2) == NULL);
    CHECK(acme_provider_external_account_required(p) == 1);
    CHECK(acme_provider_profile_count(p) == 2);
    CHECK_STR(acme_provider_profile_name(p, 0), "classic");
    CHECK_STR(acme_provider_profile_description(p, 1), "Certificates for TLS servers only");
    CHECK(acme_provider_has_profile(p, "tlsserver"));
    CHECK(!acme_provider_has_profile(p, "shortlived"));
    acme_provider_free(p);
}

int main(void)
{
    test_pebble_cases();
    test_scripted_cases();
    test_log_clear();
    return check_done();
}
