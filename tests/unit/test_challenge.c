/* Challenge views of the DNS types (lib/solvers/challenge.c): the record
 * name and value of dns-01, dns-account-01 (draft-ietf-acme-dns-account-label)
 * and dns-persist-01 (draft-ietf-acme-dns-persist), and the response a
 * solver may set. No CA: the challenge objects are written here. */
#include <acme.h>

#include <string.h>

#include "base/error.h"
#include "net/json.h"
#include "solvers/solver.h"

#include "unit.h"

static const char account[] = "https://example.com/acme/acct/ExampleAccount";
static const char thumb[] = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
static const char token[] = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
/* base64url(SHA-256(token "." thumb)): the value of dns-01 and dns-account-01. */
static const char digest[] = "xJgiYqv4IvEUkgnDxBIiCeaa_vmftPMmQkEtfvHfT7k";

static int make(acme_challenge **ch, const char *json, const char *value, int wildcard)
{
    yajl_val v = NULL;
    acme__err err = ACME__ERR_QUIET;
    REQUIRE(acme__json_parse_object(json, strlen(json), "challenge", &v, &err) == ACME_OK);
    int rc = acme__challenge_new(ch, v, "https://ca.test/authz/1", "dns", value, wildcard, thumb,
                                 account, &err);
    acme__json_free(v);
    acme__err_clear(&err);
    return rc;
}

static void test_label(void)
{
    /* Worked by hand: SHA-256 of the account URL begins
     * a2 58 c7 54 ba ab 7b d9 9b 04; in five-bit groups
     * 10100 01001 01100 01100 01110 10101 00101 11010 10101 01101 11101
     * 11101 10011 00110 11000 00100, i.e. u j m m o v f 2 v n 5 5 t g y e. */
    char label[ACME__ACCOUNT_LABEL_LEN + 1];
    CHECK_RC(acme__dns_account_label(account, label), ACME_OK);
    CHECK_STR(label, "ujmmovf2vn55tgye");
    CHECK_RC(acme__dns_account_label(NULL, label), ACME_ERR_INVALID);
}

static void test_dns_account(void)
{
    acme_challenge *ch = NULL;
    CHECK_RC(make(&ch,
                  "{\"type\":\"dns-account-01\",\"url\":\"https://ca.test/ch/1\","
                  "\"token\":\"evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA\"}",
                  "example.org", 1),
             ACME_OK);
    REQUIRE(ch != NULL);
    /* A wildcard uses its base name, as dns-01 does. */
    CHECK_STR(acme_challenge_dns_txt_name(ch), "_ujmmovf2vn55tgye._acme-challenge.example.org");
    CHECK_STR(acme_challenge_dns_txt_value(ch), digest);
    CHECK_STR(acme_challenge_account_uri(ch), account);
    CHECK(acme_challenge_issuer_domain_name(ch, 0) == NULL);
    CHECK_STR(acme_challenge_response(ch), "{}");
    acme__challenge_free(ch);

    /* The same token under dns-01: the same value, the plain name. */
    CHECK_RC(make(&ch,
                  "{\"type\":\"dns-01\",\"url\":\"https://ca.test/ch/2\","
                  "\"token\":\"evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA\"}",
                  "example.org", 0),
             ACME_OK);
    CHECK_STR(acme_challenge_dns_txt_name(ch), "_acme-challenge.example.org");
    CHECK_STR(acme_challenge_dns_txt_value(ch), digest);
    acme__challenge_free(ch);
    (void)token;
}

static const char persist_json[] =
    "{\"type\":\"dns-persist-01\",\"url\":\"https://ca.test/ch/3\",\"status\":\"pending\","
    "\"accounturi\":\"https://ca.test/acme/acct/7\","
    "\"issuer-domain-names\":[\"ca.test\",\"other.test\"]}";

static void test_persist(void)
{
    acme_challenge *ch = NULL;
    CHECK_RC(make(&ch, persist_json, "www.example.org", 0), ACME_OK);
    REQUIRE(ch != NULL);
    CHECK_STR(acme_challenge_dns_txt_name(ch), "_validation-persist.www.example.org");
    CHECK_STR(acme_challenge_dns_txt_value(ch), "ca.test; accounturi=https://ca.test/acme/acct/7");
    /* The challenge's own accounturi, not the order's account URL. */
    CHECK_STR(acme_challenge_account_uri(ch), "https://ca.test/acme/acct/7");
    CHECK_STR(acme_challenge_issuer_domain_name(ch, 0), "ca.test");
    CHECK_STR(acme_challenge_issuer_domain_name(ch, 1), "other.test");
    CHECK(acme_challenge_issuer_domain_name(ch, 2) == NULL);
    CHECK(acme_challenge_token(ch) == NULL);
    acme__challenge_free(ch);

    /* A wildcard: the base name, and the record says policy=wildcard. */
    CHECK_RC(make(&ch, persist_json, "example.org", 1), ACME_OK);
    CHECK_STR(acme_challenge_dns_txt_name(ch), "_validation-persist.example.org");
    CHECK_STR(acme_challenge_dns_txt_value(ch),
              "ca.test; accounturi=https://ca.test/acme/acct/7; policy=wildcard");
    acme__challenge_free(ch);

    /* What would break the record is refused, with nothing built. */
    static const char *const bad[] = {
        "{\"type\":\"dns-persist-01\",\"url\":\"u\",\"issuer-domain-names\":[\"ca.test\"]}",
        "{\"type\":\"dns-persist-01\",\"url\":\"u\",\"accounturi\":\"https://a/1\"}",
        "{\"type\":\"dns-persist-01\",\"url\":\"u\",\"accounturi\":\"https://a/1\","
        "\"issuer-domain-names\":[]}",
        "{\"type\":\"dns-persist-01\",\"url\":\"u\",\"accounturi\":\"https://a/1; policy=wildcard\","
        "\"issuer-domain-names\":[\"ca.test\"]}",
        "{\"type\":\"dns-persist-01\",\"url\":\"u\",\"accounturi\":\"https://a/1\","
        "\"issuer-domain-names\":[\"CA.test\"]}",
        "{\"type\":\"dns-persist-01\",\"url\":\"u\",\"accounturi\":\"https://a/1\","
        "\"issuer-domain-names\":[\"ca.test\",7]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ch = NULL;
        CHECK_RC(make(&ch, bad[i], "example.org", 0), ACME_ERR_PROTOCOL);
        CHECK(ch == NULL);
    }
}

static void test_response(void)
{
    acme_challenge *ch = NULL;
    REQUIRE(make(&ch, "{\"type\":\"made-up-01\",\"url\":\"https://ca.test/ch/4\"}", "a.test",
                 0) == ACME_OK);
    CHECK_STR(acme_challenge_response(ch), "{}");
    CHECK_RC(acme_challenge_set_response(ch, "{\"proof\":\"abc\"}"), ACME_OK);
    CHECK_STR(acme_challenge_response(ch), "{\"proof\":\"abc\"}");
    /* Not an object: refused, the response kept. */
    CHECK_RC(acme_challenge_set_response(ch, "[1]"), ACME_ERR_INVALID);
    CHECK_RC(acme_challenge_set_response(ch, "{\"proof\":"), ACME_ERR_INVALID);
    CHECK_STR(acme_challenge_response(ch), "{\"proof\":\"abc\"}");
    CHECK_RC(acme_challenge_set_response(ch, NULL), ACME_OK);
    CHECK_STR(acme_challenge_response(ch), "{}");
    CHECK_RC(acme_challenge_set_response(NULL, "{}"), ACME_ERR_INVALID);
    CHECK_STR(acme_challenge_response(NULL), "{}");
    CHECK(acme_challenge_account_uri(NULL) == NULL);
    CHECK(acme_challenge_issuer_domain_name(NULL, 0) == NULL);
    acme__challenge_free(ch);
}

int main(void)
{
    test_label();
    test_dns_account();
    test_persist();
    test_response();
    return check_done();
}
