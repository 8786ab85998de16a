/* Bad days without a CA (lib/lifecycle/guard.c, lib/store/retry_store.c):
 * the backoff schedule (doubling from the base to the cap, jitter taking at
 * most a quarter); who a failure is about (the name, the CA, a rate limit,
 * validation) and which failures let another issuer try; a rateLimited
 * problem read into a record (Retry-After or the default, the limit's name
 * and the unpause URL of Let's Encrypt-style details); the records parsed
 * whole or not at all; and the circuit breaker: a run of one cause opens
 * it, another cause or a success restarts the count, and the deadline
 * opens it too. With a real CA: tests/integration/test_batch.c. */
#include <acme.h>

#include <stdint.h>
#include <string.h>

#include "base/clock.h"
#include "base/problem.h"
#include "lifecycle/guard.h"
#include "store/retry_store.h"

#include "unit.h"

static const char urn[] = "urn:ietf:params:acme:error:";

static acme_problem *problem(const char *name, const char *detail, int status)
{
    char type[128];
    snprintf(type, sizeof(type), "%s%s", urn, name);
    acme_problem *p = acme__problem_new(type, detail, status);
    REQUIRE(p != NULL);
    return p;
}

static void test_delay(void)
{
    /* No jitter (random 0): 300, 600, 1200, ... up to the cap. */
    CHECK(acme__backoff_delay(1, 300, 86400, 0) == 300);
    CHECK(acme__backoff_delay(2, 300, 86400, 0) == 600);
    CHECK(acme__backoff_delay(3, 300, 86400, 0) == 1200);
    CHECK(acme__backoff_delay(9, 300, 86400, 0) == 76800);
    CHECK(acme__backoff_delay(10, 300, 86400, 0) == 86400);
    CHECK(acme__backoff_delay(1000000, 300, 86400, 0) == 86400);
    /* Jitter takes at most a quarter. */
    for (uint32_t r = 0; r < 5000; r += 7) {
        int64_t d = acme__backoff_delay(4, 300, 86400, r * 2654435761u);
        CHECK_MSG(d >= 1800 && d <= 2400, "delay %lld", (long long)d);
    }
    /* A zero base starts at one second; a zero cap then clamps it to 0. */
    CHECK(acme__backoff_delay(1, 0, 0, 12345) == 0);
    CHECK(acme__backoff_delay(1, 0, 10, 12345) == 1);
}

static void test_causes(void)
{
    acme_problem *rl = problem("rateLimited", "slow down", 429);
    acme_problem *si = problem("serverInternal", "oops", 500);
    acme_problem *un = problem("unauthorized", "404 from the responder", 403);
    acme_problem *caa = problem("caa", "CAA forbids", 403);
    acme_problem *rej = problem("rejectedIdentifier", "no", 400);
    CHECK(acme__cause_of(ACME_ERR_PROBLEM, rl) == ACME__CAUSE_RATE_LIMIT);
    CHECK(acme__cause_of(ACME_ERR_PROBLEM, si) == ACME__CAUSE_CA);
    CHECK(acme__cause_of(ACME_ERR_TIMEOUT, NULL) == ACME__CAUSE_CA);
    CHECK(acme__cause_of(ACME_ERR_NETWORK, NULL) == ACME__CAUSE_CA);
    CHECK(acme__cause_of(ACME_ERR_VALIDATION, un) == ACME__CAUSE_VALIDATION);
    CHECK(acme__cause_of(ACME_ERR_NO_SOLVER, NULL) == ACME__CAUSE_NAME);
    CHECK(acme__cause_of(ACME_ERR_PROBLEM, rej) == ACME__CAUSE_NAME);
    /* Another issuer may serve after the CA's own refusals, not after the
     * name's. */
    CHECK(acme__issuer_refused(ACME_ERR_TIMEOUT, NULL));
    CHECK(acme__issuer_refused(ACME_ERR_PROBLEM, rl));
    CHECK(acme__issuer_refused(ACME_ERR_VALIDATION, caa));
    CHECK(acme__issuer_refused(ACME_ERR_PROBLEM, rej));
    CHECK(!acme__issuer_refused(ACME_ERR_VALIDATION, un));
    CHECK(!acme__issuer_refused(ACME_ERR_NO_SOLVER, NULL));
    acme__problem_unref(rl);
    acme__problem_unref(si);
    acme__problem_unref(un);
    acme__problem_unref(caa);
    acme__problem_unref(rej);
}

static void test_rate_limit_problem(void)
{
    acme__rate_limit r;
    acme_problem *p = problem("rateLimited",
                              "too many new orders (300) from this account in the last 3h0m0s, "
                              "retry after 2025-01-01 00:00:00 UTC: see "
                              "https://letsencrypt.org/docs/rate-limits/#new-orders-per-account",
                              429);
    acme__problem_set_retry_after(p, 1234);
    acme__rate_limit_from_problem(p, 1000, 3600, &r);
    CHECK(r.until == 2234 && r.recorded_at == 1000);
    CHECK_STR(r.limit, "new-orders-per-account");
    CHECK_STR(r.unpause, "");
    acme__problem_unref(p);

    p = problem("rateLimited",
                "Your account is temporarily prevented from requesting certificates for "
                "example.com and possibly others. Please visit: "
                "https://portal.letsencrypt.org/sfe/v1/unpause?jwt=a.b.c.", 429);
    acme__rate_limit_from_problem(p, 1000, 3600, &r);
    CHECK(r.until == 4600); /* no Retry-After: the default */
    CHECK_STR(r.unpause, "https://portal.letsencrypt.org/sfe/v1/unpause?jwt=a.b.c");
    CHECK_STR(r.limit, "");
    acme__problem_unref(p);
}

static void test_records(void)
{
    acme__backoff b;
    static const char good[] = "{\"failures\":2,\"last_failure\":10,\"next_attempt\":610,"
                               "\"held\":true,\"error\":-18,\"problem\":\"p\",\"detail\":\"d\"}";
    CHECK_OK(acme__backoff_parse(good, strlen(good), &b));
    CHECK(b.failures == 2 && b.next_attempt == 610 && b.held == 1 && b.error == -18);
    CHECK_STR(b.detail, "d");
    static const char *const bad[] = {
        "", "[]", "{}", "{\"failures\":0,\"last_failure\":1,\"next_attempt\":1,\"error\":-1}",
        "{\"failures\":1,\"last_failure\":-5,\"next_attempt\":1,\"error\":-1}",
        "{\"failures\":1,\"last_failure\":1,\"next_attempt\":1,\"error\":7}",
        "{\"failures\":\"1\",\"last_failure\":1,\"next_attempt\":1,\"error\":-1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_MSG(acme__backoff_parse(bad[i], strlen(bad[i]), &b) == ACME_ERR_CORRUPT, "%s",
                  bad[i]);
        CHECK(b.failures == 0 && b.detail[0] == '\0');
    }
    acme__rate_limit r;
    static const char rl[] = "{\"until\":99,\"recorded_at\":9,\"limit\":\"x\",\"detail\":\"y\"}";
    CHECK_OK(acme__rate_limit_parse(rl, strlen(rl), &r));
    CHECK(r.until == 99 && r.unpause[0] == '\0');
    CHECK(acme__rate_limit_parse("{\"until\":0}", 11, &r) == ACME_ERR_CORRUPT);
}

static void test_breaker(void)
{
    acme__breaker b;
    char why[512];
    acme_problem *un = problem("unauthorized", "404", 403);
    acme_problem *dns = problem("dns", "NXDOMAIN", 400);
    acme__breaker_init(&b, 3, 2, 0);
    /* CA failures, broken by a success: no run of three. */
    for (int i = 0; i < 2; i++) {
        CHECK_OK(acme__breaker_enter(&b, why, sizeof(why)));
        acme__breaker_done(&b, ACME_ERR_TIMEOUT, NULL, "timed out");
    }
    CHECK_OK(acme__breaker_enter(&b, why, sizeof(why)));
    acme__breaker_done(&b, ACME_OK, NULL, NULL);
    /* Two validations of different types: no run of two. */
    CHECK_OK(acme__breaker_enter(&b, why, sizeof(why)));
    acme__breaker_done(&b, ACME_ERR_VALIDATION, un, "a");
    CHECK_OK(acme__breaker_enter(&b, why, sizeof(why)));
    acme__breaker_done(&b, ACME_ERR_VALIDATION, dns, "b");
    CHECK(!acme__breaker_is_open(&b, NULL, NULL, 0));
    /* The same type twice: open, with the cause. */
    CHECK_OK(acme__breaker_enter(&b, why, sizeof(why)));
    acme__breaker_done(&b, ACME_ERR_VALIDATION, dns, "c");
    int error = 0;
    CHECK(acme__breaker_is_open(&b, &error, why, sizeof(why)));
    CHECK(error == ACME_ERR_VALIDATION);
    CHECK_MSG(strstr(why, "2 consecutive failures caused by validation (dns)"), "%s", why);
    CHECK(acme__breaker_enter(&b, why, sizeof(why)) == ACME_ERR_VALIDATION);
    acme__breaker_destroy(&b);

    /* A deadline in the past opens it at once. */
    acme__breaker_init(&b, 3, 5, acme__now() - 1);
    CHECK(acme__breaker_enter(&b, why, sizeof(why)) == ACME_ERR_TIMEOUT);
    CHECK_MSG(strstr(why, "deadline"), "%s", why);
    acme__breaker_destroy(&b);
    acme__problem_unref(un);
    acme__problem_unref(dns);
}

int main(void)
{
    test_delay();
    test_causes();
    test_rate_limit_problem();
    test_records();
    test_breaker();
    return check_done();
}
