/* The header parsers of the HTTP layer, without any network: Retry-After
 * (RFC 9110 section 10.2.3), Link (RFC 8288) as ACME uses it (RFC 8555
 * sections 7.1 and 7.4.2), and relative reference resolution (RFC 3986). */
#include <acme.h>

#include <stdint.h>
#include <string.h>

#include "net/http.h"

#include "unit.h"

/* "Wed, 21 Oct 2015 07:28:00 GMT" (the RFC 9110 example) as Unix time. */
#define EXAMPLE_DATE 1445412480

static void check_retry(const char *value, int64_t now, int64_t want)
{
    int64_t delay = -12345;
    int rc = acme__http_parse_retry_after(value, now, &delay);
    CHECK_MSG(rc == ACME_OK, "\"%s\": rc %d", value ? value : "(null)", rc);
    CHECK_MSG(delay == want, "\"%s\": delay %lld, wanted %lld", value ? value : "(null)",
              (long long)delay, (long long)want);
}

static void check_retry_bad(const char *value)
{
    int64_t delay = -12345;
    int rc = acme__http_parse_retry_after(value, EXAMPLE_DATE, &delay);
    CHECK_MSG(rc == ACME_ERR_INVALID, "\"%s\" accepted (delay %lld)", value ? value : "(null)",
              (long long)delay);
}

static void test_retry_after(void)
{
    /* delay-seconds */
    check_retry("120", EXAMPLE_DATE, 120);
    check_retry(" 5 ", EXAMPLE_DATE, 5);
    check_retry("0", EXAMPLE_DATE, 0);
    check_retry("007", EXAMPLE_DATE, 7);
    check_retry("86400", 0, 86400);
    check_retry("922337203685477570", 0, 922337203685477570LL);

    /* HTTP-date, IMF-fixdate form: the delay is relative to now. */
    check_retry("Wed, 21 Oct 2015 07:28:00 GMT", EXAMPLE_DATE - 60, 60);
    check_retry("Wed, 21 Oct 2015 07:28:00 GMT", EXAMPLE_DATE - 86400, 86400);
    check_retry("Wed, 21 Oct 2015 07:28:00 GMT", EXAMPLE_DATE, 0);
    /* A date in the past means "now". */
    check_retry("Wed, 21 Oct 2015 07:28:00 GMT", EXAMPLE_DATE + 60, 0);
    check_retry("Thu, 01 Jan 1970 00:00:01 GMT", EXAMPLE_DATE, 0);
    /* The obsolete forms recipients must accept (RFC 9110 5.6.7). */
    check_retry("Wednesday, 21-Oct-15 07:28:00 GMT", EXAMPLE_DATE - 30, 30);
    check_retry("Wed Oct 21 07:28:00 2015", EXAMPLE_DATE - 30, 30);

    /* Not a delay: garbage, signs, fractions, trailing junk, overflow. */
    check_retry_bad(NULL);
    check_retry_bad("");
    check_retry_bad("   ");
    check_retry_bad("soon");
    check_retry_bad("-5");
    check_retry_bad("-1");
    check_retry_bad("+5");
    check_retry_bad("1.5");
    check_retry_bad("12abc");
    check_retry_bad("12 34");
    check_retry_bad("0x10");
    check_retry_bad("99999999999999999999");
    check_retry_bad("9223372036854775808");
    check_retry_bad("18446744073709551616");
    check_retry_bad("100000000000000000000000000000000000000000000000000000000000");
    check_retry_bad("Mon, 32 Oct 2015 07:28:00 GMT");
}

static void test_resolve(void)
{
    static const struct {
        const char *base, *ref, *want;
    } cases[] = {
        { "https://example.com/acme/cert/1", "https://example.com/acme/cert/1/1",
          "https://example.com/acme/cert/1/1" },
        { "https://example.com/acme/cert/1", "/acme/cert/2", "https://example.com/acme/cert/2" },
        { "https://example.com/acme/cert/1", "2", "https://example.com/acme/cert/2" },
        { "https://example.com/acme/cert/1", "1/2", "https://example.com/acme/cert/1/2" },
        { "https://example.com/acme/cert/1", "../chain", "https://example.com/acme/chain" },
        { "https://example.com/acme/cert/1", "//cdn.example.net/x", "https://cdn.example.net/x" },
        { "https://example.com/acme/cert/1", "https://other.example/y",
          "https://other.example/y" },
        { "https://example.com:14000/dir", "/nonce", "https://example.com:14000/nonce" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = acme__http_resolve(cases[i].base, cases[i].ref);
        CHECK_MSG(got && strcmp(got, cases[i].want) == 0, "%s + %s = %s, wanted %s",
                  cases[i].base, cases[i].ref, got ? got : "(null)", cases[i].want);
        free(got);
    }
    /* No usable base for a relative reference. */
    char *got = acme__http_resolve("not a url", "/x");
    CHECK_MSG(got == NULL, "resolved against garbage: %s", got);
    free(got);
}

static void test_link_basic(void)
{
    const char *base = "https://example.com/acme/cert/mAt3xBGaobw";
    acme__response res;
    memset(&res, 0, sizeof(res));

    /* RFC 8555 7.4.2: an alternate chain. */
    acme__http_parse_link("<https://example.com/acme/cert/mAt3xBGaobw/1>;rel=\"alternate\"", base,
                          &res);
    REQUIRE(res.nlinks == 1);
    CHECK_STR(res.links[0].url, "https://example.com/acme/cert/mAt3xBGaobw/1");
    CHECK_STR(res.links[0].rel, "alternate");
    CHECK_STR(acme__response_link(&res, "alternate", 0),
              "https://example.com/acme/cert/mAt3xBGaobw/1");
    CHECK(acme__response_link(&res, "alternate", 1) == NULL);
    CHECK(acme__response_link(&res, "index", 0) == NULL);
    /* Relation types compare case-insensitively (RFC 8288 2.1.1). */
    CHECK(acme__response_link(&res, "Alternate", 0) != NULL);
    CHECK(acme__response_link(&res, "alt", 0) == NULL);

    /* Several entries in one header; each call appends. */
    acme__http_parse_link("<https://example.com/acme/directory>;rel=\"index\", "
                          "<https://example.com/acme/cert/mAt3xBGaobw/2>; rel=\"alternate\","
                          "<https://example.com/acme/cert/mAt3xBGaobw/3> ; rel=alternate",
                          base, &res);
    REQUIRE(res.nlinks == 4);
    CHECK_STR(acme__response_link(&res, "index", 0), "https://example.com/acme/directory");
    CHECK_STR(acme__response_link(&res, "alternate", 1),
              "https://example.com/acme/cert/mAt3xBGaobw/2");
    CHECK_STR(acme__response_link(&res, "alternate", 2),
              "https://example.com/acme/cert/mAt3xBGaobw/3");
    CHECK(acme__response_link(&res, "alternate", 3) == NULL);

    /* rel=up unquoted (RFC 8555 7.5: the authorization's order). */
    acme__http_parse_link("<https://example.com/acme/order/TOlocE8rfgo>;rel=up", base, &res);
    REQUIRE(res.nlinks == 5);
    CHECK_STR(acme__response_link(&res, "up", 0), "https://example.com/acme/order/TOlocE8rfgo");
    CHECK_STR(res.links[4].rel, "up");

    acme__response_free(&res);
    CHECK(res.nlinks == 0);
}

static void test_link_details(void)
{
    const char *base = "https://example.com/acme/cert/1";
    acme__response res;
    memset(&res, 0, sizeof(res));

    static const struct {
        const char *what, *header;
        size_t nlinks;
        struct {
            const char *rel;
            size_t index;
            const char *url; /* NULL: no such link */
        } want[4];
    } cases[] = {
        { "relative references resolve against the request URL",
          "</acme/directory>;rel=\"index\", <1/2>;rel=\"alternate\","
          "<../chain/3>;rel=\"alternate\"",
          3,
          { { "index", 0, "https://example.com/acme/directory" },
            { "alternate", 0, "https://example.com/acme/cert/1/2" },
            { "alternate", 1, "https://example.com/acme/chain/3" } } },
        { "a comma inside <> or inside a quoted parameter does not split",
          "<https://example.com/a,b>;rel=\"alternate\";title=\"x, y\","
          "<https://example.com/c>;title=\"p,q\";rel=alternate",
          2,
          { { "alternate", 0, "https://example.com/a,b" },
            { "alternate", 1, "https://example.com/c" } } },
        /* RFC 8288 3.3: only the first rel counts. */
        { "several relation types in one rel, other parameters around it",
          "<https://example.com/x>; title=\"t\"; rel=\"alternate next\"; "
          "type=\"application/pem-certificate-chain\"; rel=\"index\"",
          1,
          { { "next", 0, "https://example.com/x" },
            { "alternate", 0, "https://example.com/x" },
            { "index", 0, NULL },
            { "alternate next", 0, NULL } } },
        { "upper-case parameter name, tabs as white space",
          "<https://example.com/y>;\tREL=\"up\"",
          1,
          { { "up", 0, "https://example.com/y" } } },
        { "an entry without rel is dropped, the next one kept",
          "<https://example.com/norel>;title=\"x\", <https://example.com/z>;rel=\"alternate\"",
          1,
          { { "alternate", 0, "https://example.com/z" } } },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        acme__http_parse_link(cases[i].header, base, &res);
        CHECK_MSG(res.nlinks == cases[i].nlinks, "%s: %zu links", cases[i].what, res.nlinks);
        for (size_t j = 0; j < 4 && cases[i].want[j].rel; j++) {
            const char *url = acme__response_link(&res, cases[i].want[j].rel,
                                                  cases[i].want[j].index);
            const char *want = cases[i].want[j].url;
            CHECK_MSG(want ? url && strcmp(url, want) == 0 : url == NULL,
                      "%s: rel %s #%zu is %s, wanted %s", cases[i].what, cases[i].want[j].rel,
                      cases[i].want[j].index, url ? url : "(none)", want ? want : "(none)");
        }
        acme__response_free(&res);
    }

    /* At most ACME__HTTP_MAX_LINKS are kept, whatever the server sends. */
    for (int i = 0; i < ACME__HTTP_MAX_LINKS + 10; i++)
        acme__http_parse_link("<https://example.com/many>;rel=\"alternate\", "
                              "<https://example.com/many2>;rel=\"alternate\"",
                              base, &res);
    CHECK(res.nlinks == ACME__HTTP_MAX_LINKS);
    CHECK(acme__response_link(&res, "alternate", ACME__HTTP_MAX_LINKS - 1) != NULL);
    CHECK(acme__response_link(&res, "alternate", ACME__HTTP_MAX_LINKS) == NULL);
    acme__response_free(&res);
    CHECK(res.nlinks == 0);
}

static void test_link_garbage(void)
{
    const char *base = "https://example.com/acme/cert/1";
    static const char *const garbage[] = {
        "",
        " ",
        ",,, ,",
        "garbage",
        "rel=\"alternate\"",
        ";rel=\"alternate\"",
        "https://example.com/x;rel=\"alternate\"",
        "<https://example.com/unterminated;rel=\"alternate\"",
        "<",
        ">",
        "><;rel=x",
        "<https://example.com/x>",
        "<https://example.com/x>;",
        "<https://example.com/x>;;;;",
        "<https://example.com/x>;rel",
        "<https://example.com/x>;=;=;=",
        "<https://example.com/x>;title=\"unterminated, rel=\"alternate\"",
        "<https://example.com/x> garbage \"\" ;; == ,",
        "<http://[::1>;rel=\"alternate\"",
        "<https://exa mple.com/x>;rel=\"alternate\"",
        "\xff\xfe<\x01>;rel=\x80",
    };
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        acme__response res;
        memset(&res, 0, sizeof(res));
        acme__http_parse_link(garbage[i], base, &res);
        CHECK_MSG(res.nlinks == 0, "\"%s\" gave %zu links (first %s)", garbage[i], res.nlinks,
                  res.nlinks ? res.links[0].url : "");
        CHECK(acme__response_link(&res, "alternate", 0) == NULL);
        acme__response_free(&res);
    }

    /* A valid entry before garbage is kept. */
    acme__response res;
    memset(&res, 0, sizeof(res));
    acme__http_parse_link("<https://example.com/ok>;rel=\"alternate\", garbage", base, &res);
    CHECK(res.nlinks == 1);
    CHECK_STR(acme__response_link(&res, "alternate", 0), "https://example.com/ok");
    acme__response_free(&res);

    /* Long hostile values do not crash or leak. */
    char big[20000];
    for (size_t i = 0; i < sizeof(big) - 1; i++)
        big[i] = "<>;,=\" rel"[i % 10];
    big[sizeof(big) - 1] = '\0';
    memset(&res, 0, sizeof(res));
    acme__http_parse_link(big, base, &res);
    CHECK(res.nlinks <= ACME__HTTP_MAX_LINKS);
    acme__response_free(&res);
}

int main(void)
{
    test_retry_after();
    test_resolve();
    test_link_basic();
    test_link_details();
    test_link_garbage();
    return check_done();
}
