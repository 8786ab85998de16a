/* Renewal decisions without a network (lib/renewal.c): the lifetime rule
 * (renew when less than a third of the lifetime is left, half for
 * certificates under ten days; at once when expired), which is all that
 * applies without a CA offering renewalInfo; the parsing of renewalInfo
 * windows; and RFC 3339 times (lib/clock.c), as ARI windows carry them.
 * What needs a CA (fetching renewalInfo, Retry-After, the random moment,
 * "replaces") is tested against Pebble behind tests/harness/ari_proxy.py
 * (tests/integration/test_ari.c). */
#include <acme.h>

#include <stdint.h>
#include <string.h>

#include "base/clock.h"
#include "lifecycle/renewal.h"

#include "unit.h"

#define DAY 86400LL
#define NB 1700000000LL /* some notBefore */

/* acme__renewal_due without a provider, for a certificate valid from NB for
 * `life` seconds, at `now`. */
static char cert_name[] = "unit.example";

static int due(int64_t life, int64_t now, char *why, size_t size)
{
    acme__stored_cert c;
    memset(&c, 0, sizeof(c));
    c.name = cert_name;
    c.not_before = NB;
    c.not_after = NB + life;
    c.revoked = -1;
    int changed = -1;
    int d = acme__renewal_due(NULL, &c, now, &changed, why, size);
    CHECK_MSG(changed == 0, "life %lld, now %lld: meta changed", (long long)life, (long long)now);
    return d;
}

/* Not due one second before `at`, due at `at`, saying `share`. */
static void check_rule(int64_t life, int64_t at, const char *share)
{
    char why[256];
    CHECK_MSG(!due(life, at - 1, why, sizeof(why)), "life %lld: due at %lld already: %s",
              (long long)life, (long long)(at - 1), why);
    char want[64];
    snprintf(want, sizeof(want), "not due: renewal at %lld", (long long)at);
    CHECK_STR(why, want);
    CHECK_MSG(due(life, at, why, sizeof(why)), "life %lld: not due at %lld: %s",
              (long long)life, (long long)at, why);
    CHECK_MSG(strstr(why, share) != NULL, "\"%s\" does not say \"%s\"", why, share);
}

static void test_lifetime_rule(void)
{
    /* A third: 90 days renew 30 days before the end; Pebble's five years
     * twenty months before. */
    check_rule(90 * DAY, NB + 60 * DAY, "a third");
    check_rule(5 * 365 * DAY, NB + 5 * 365 * DAY - 5 * 365 * DAY / 3, "a third");
    /* Ten days is not short-lived yet; just under is (half). */
    check_rule(10 * DAY, NB + 10 * DAY - 10 * DAY / 3, "a third");
    check_rule(10 * DAY - 1, NB + 10 * DAY - 1 - (10 * DAY - 1) / 2, "half");
    check_rule(6 * DAY, NB + 3 * DAY, "half");
    check_rule(7 * 3600, NB + 7 * 3600 - 3 * 3600 - 1800, "half");

    /* Expired: at notAfter and after, whatever the rule says. */
    char why[256];
    CHECK(due(90 * DAY, NB + 90 * DAY, why, sizeof(why)));
    CHECK_STR(why, "expired");
    CHECK(due(90 * DAY, NB + 400 * DAY, why, sizeof(why)));
    CHECK_STR(why, "expired");
    CHECK(due(2 * 3600, NB + 2 * 3600, why, sizeof(why)));
    CHECK_STR(why, "expired");
    /* Fresh: not due, with the moment named. */
    CHECK(!due(90 * DAY, NB, why, sizeof(why)));
    CHECK(strstr(why, "not due") == why);
    /* A tiny buffer is cut, not overrun. */
    char small[8];
    memset(small, 'x', sizeof(small));
    CHECK(!due(90 * DAY, NB, small, sizeof(small)));
    CHECK(small[sizeof(small) - 1] == '\0');
}

/* Stored ARI state counts only while the CA offers renewalInfo: without a
 * provider the lifetime rule decides, and the state is left alone. */
static void test_ari_state_without_ari(void)
{
    char ari_id[] = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"; /* RFC 9773's example */
    acme__stored_cert c;
    memset(&c, 0, sizeof(c));
    c.name = cert_name;
    c.not_before = NB;
    c.not_after = NB + 90 * DAY;
    c.revoked = -1;
    c.ari_id = ari_id;
    c.ari_start = NB + DAY;
    c.ari_end = NB + 2 * DAY;
    c.ari_renew_at = NB + DAY + 100;
    c.ari_next_check = 0;
    char why[256];
    int changed = -1;
    CHECK(!acme__renewal_due(NULL, &c, NB + 3 * DAY, &changed, why, sizeof(why)));
    CHECK(changed == 0);
    CHECK(strstr(why, "ARI") == NULL);
    CHECK(c.ari_start == NB + DAY && c.ari_end == NB + 2 * DAY && c.ari_renew_at == NB + DAY + 100 &&
          c.ari_next_check == 0);
    acme__err err = { 0 };
    CHECK(acme__renewal_fetch_ari(NULL, &c, NB, &err) == ACME_ERR_UNSUPPORTED);
    acme__err_clear(&err);
}

static void check_time(const char *text, int64_t want)
{
    int64_t t = -12345;
    int rc = acme__parse_rfc3339(text, &t);
    CHECK_MSG(rc == 0 && t == want, "\"%s\": rc %d, %lld, wanted %lld", text, rc, (long long)t,
              (long long)want);
}

static void check_bad_time(const char *text)
{
    int64_t t = -12345;
    int rc = acme__parse_rfc3339(text, &t);
    CHECK_MSG(rc == -1, "\"%s\" accepted as %lld", text ? text : "(null)", (long long)t);
}

static void test_rfc3339(void)
{
    const int64_t T = 1735790400; /* 2025-01-02T04:00:00Z */
    check_time("2025-01-02T04:00:00Z", T);
    check_time("2025-01-02t04:00:00z", T);  /* RFC 3339 5.6: case-insensitive */
    check_time("2025-01-02 04:00:00Z", T);  /* 5.6 NOTE: a space instead of T */
    check_time("2025-01-02T04:00:00.5Z", T); /* fractions are dropped */
    check_time("2025-01-02T04:00:00.999999999Z", T);
    check_time("2025-01-02T04:00:00.000000000000000000001Z", T);
    check_time("2025-01-02T06:00:00+02:00", T);
    check_time("2025-01-01T22:30:00-05:30", T);
    check_time("2025-01-02T04:00:00+00:00", T);
    check_time("2025-01-02T04:00:00-00:00", T);
    check_time("2025-01-03T03:59:00+23:59", T);
    check_time("2025-01-02T06:00:00.25+02:00", T);
    check_time("1970-01-01T00:00:00Z", 0);
    check_time("1969-12-31T23:59:59Z", -1);
    check_time("2016-12-31T23:59:60Z", 1483228800); /* a leap second */
    check_time("2024-02-29T12:00:00Z", 1709208000);
    check_time("2000-02-29T00:00:00Z", 951782400); /* divisible by 400 */
    check_time("9999-12-31T23:59:59Z", 253402300799LL);
    CHECK(acme__civil_to_unix(2000, 3, 1, 0, 0, 0) == 951868800);
    CHECK(acme__civil_to_unix(1970, 1, 1, 0, 0, 0) == 0);

    check_bad_time(NULL);
    check_bad_time("");
    check_bad_time("garbage");
    check_bad_time("tomorrow");
    check_bad_time("2025-01-02");
    check_bad_time("2025-01-02T04:00Z");
    check_bad_time("2025-01-02T04:00:00");        /* no zone */
    check_bad_time("2025-01-02T04:00:00 Z");
    check_bad_time("2025-01-02T04:00:00Z ");
    check_bad_time(" 2025-01-02T04:00:00Z");
    check_bad_time("2025-01-02T04:00:00ZZ");
    check_bad_time("2025-01-02X04:00:00Z");
    check_bad_time("2025-1-02T04:00:00Z");
    check_bad_time("25-01-02T04:00:00Z");
    check_bad_time("+2025-01-02T04:00:00Z");
    check_bad_time("2025-00-02T04:00:00Z");
    check_bad_time("2025-13-02T04:00:00Z");
    check_bad_time("2025-01-00T04:00:00Z");
    check_bad_time("2025-01-32T04:00:00Z");
    check_bad_time("2025-04-31T04:00:00Z");
    check_bad_time("2025-02-29T04:00:00Z");       /* not a leap year */
    check_bad_time("1900-02-29T04:00:00Z");       /* divisible by 100 */
    check_bad_time("2025-02-30T04:00:00Z");
    check_bad_time("2025-01-02T24:00:00Z");
    check_bad_time("2025-01-02T04:60:00Z");
    check_bad_time("2025-01-02T04:00:61Z");
    check_bad_time("2025-01-02T04:00:00.Z");      /* a fraction needs a digit */
    check_bad_time("2025-01-02T04:00:00,5Z");
    check_bad_time("2025-01-02T04:00:00+0200");
    check_bad_time("2025-01-02T04:00:00+02");
    check_bad_time("2025-01-02T04:00:00+24:00");
    check_bad_time("2025-01-02T04:00:00+02:60");
    check_bad_time("2025-01-02T04:00:00+02:00Z");
    check_bad_time("2025-01-02T0a:00:00Z");
}

/* A renewalInfo reply body through the JSON reader and acme__ari_parse, as
 * the renewal check reads it. */
static int parse_window(const char *body, int64_t *s, int64_t *e, acme__err *err)
{
    yajl_val v = NULL;
    int rc = acme__json_parse_object(body, strlen(body), "renewalInfo", &v, err);
    if (rc == ACME_OK)
        rc = acme__ari_parse(v, NULL, s, e, err);
    acme__json_free(v);
    return rc;
}

static void check_window(const char *body, int64_t want_start, int64_t want_end)
{
    int64_t s = -1, e = -1;
    acme__err err = { 0 };
    int rc = parse_window(body, &s, &e, &err);
    CHECK_MSG(rc == ACME_OK && s == want_start && e == want_end, "%s: rc %d (%s), %lld..%lld",
              body, rc, err.msg, (long long)s, (long long)e);
    acme__err_clear(&err);
}

static void check_bad_window(const char *body)
{
    int64_t s = -1, e = -1;
    acme__err err = { 0 };
    int rc = parse_window(body, &s, &e, &err);
    CHECK_MSG(rc == ACME_ERR_PROTOCOL, "%s: rc %d", body, rc);
    CHECK_MSG(strstr(err.msg, "renewalInfo") != NULL, "%s: message \"%s\"", body, err.msg);
    acme__err_clear(&err);
}

static void test_window(void)
{
    const int64_t T = 1735790400, T1 = 1735876800; /* 2025-01-02/03T04:00:00Z */
    check_window("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\","
                 "\"end\":\"2025-01-03T04:00:00Z\"}}", T, T1);
    /* RFC 9773's example shape: explanationURL beside it, offsets, fractions. */
    check_window("{\"suggestedWindow\":{\"start\":\"2025-01-02T06:00:00.5+02:00\","
                 "\"end\":\"2025-01-02T23:00:00-05:00\"},"
                 "\"explanationURL\":\"https://acme.example.com/docs/ari\"}", T, T1);
    /* One second is a window. */
    check_window("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\","
                 "\"end\":\"2025-01-02T04:00:01Z\"}}", T, T + 1);

    check_bad_window("{\"suggestedWindow\":{\"start\":\"2025-01-03T04:00:00Z\","
                     "\"end\":\"2025-01-02T04:00:00Z\"}}"); /* ends before it starts */
    check_bad_window("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\","
                     "\"end\":\"2025-01-02T06:00:00+02:00\"}}"); /* empty: the same instant */
    check_bad_window("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\"}}");
    check_bad_window("{\"suggestedWindow\":{\"end\":\"2025-01-02T04:00:00Z\"}}");
    check_bad_window("{\"suggestedWindow\":{}}");
    check_bad_window("{\"explanationURL\":\"https://acme.example.com/docs/ari\"}");
    check_bad_window("{\"suggestedWindow\":[\"2025-01-02T04:00:00Z\",\"2025-01-03T04:00:00Z\"]}");
    check_bad_window("{\"suggestedWindow\":{\"start\":1735790400,\"end\":1735876800}}");
    check_bad_window("{\"suggestedWindow\":{\"start\":\"2025-02-30T04:00:00Z\","
                     "\"end\":\"2025-03-03T04:00:00Z\"}}");
    check_bad_window("[]");
    check_bad_window("<html>maintenance</html>");
    check_bad_window("");
}

int main(void)
{
    test_lifetime_rule();
    test_ari_state_without_ari();
    test_rfc3339();
    test_window();
    return check_done();
}
