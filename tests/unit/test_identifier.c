/* Identifier checks and normalisation (no network). */
#include <stdlib.h>
#include <string.h>

#include <acme.h>

#include "check.h"
#include "protocol/identifier.h"

static void check_norm(const char *type, const char *in, const char *want_type,
                       const char *want_value)
{
    char *t = NULL, *v = NULL;
    acme__err err = { 0 };
    CHECK_OK(acme__identifier_normalize(type, in, &t, &v, &err));
    CHECK_STR(t, want_type);
    CHECK_STR(v, want_value);
    free(t);
    free(v);
    acme__err_clear(&err);
}

int main(void)
{
    check_norm(NULL, "Example.COM", "dns", "example.com");
    check_norm(NULL, "*.example.com", "dns", "*.example.com");
    check_norm("dns", "xn--bcher-kva.example", "dns", "xn--bcher-kva.example");
    check_norm(NULL, "192.0.2.1", "ip", "192.0.2.1");
    check_norm(NULL, "2001:DB8:0:0:0:0:0:1", "ip", "2001:db8::1"); /* RFC 5952 */
    check_norm("ip", "::1", "ip", "::1");
    check_norm(NULL, "a", "dns", "a");

    static const char *const bad_dns[] = {
        "", "bad..name", ".example.com", "example.com.", "a*.example.com", "*",
        "*.", "*.*.example.com", "www.*.example.com", "-a.example.com", "a-.example.com",
        "a b.example.com", "caf\xc3\xa9.example.com", "a_b.example.com", "a/b.example.com",
        "127.0.0.1", "::1",
    };
    for (size_t i = 0; i < sizeof(bad_dns) / sizeof(bad_dns[0]); i++) {
        CHECK_RC(acme_identifier_check("dns", bad_dns[i]), ACME_ERR_IDENTIFIER);
        if (bad_dns[i][0])
            CHECK_MSG(strstr(acme_last_error(), bad_dns[i]) != NULL, "\"%s\" not named in: %s",
                      bad_dns[i], acme_last_error());
    }
    /* Label and name lengths: 63 and 253 octets pass, one more fails. */
    char label[80];
    memset(label, 'a', 63);
    strcpy(label + 63, ".com");
    CHECK_OK(acme_identifier_check("dns", label));
    memset(label, 'a', 64);
    strcpy(label + 64, ".com");
    CHECK_RC(acme_identifier_check("dns", label), ACME_ERR_IDENTIFIER);
    CHECK(strstr(acme_last_error(), "63") != NULL);
    char name[300];
    size_t len = 0;
    while (len < 253) {
        size_t n = 253 - len >= 50 ? 49 : 253 - len;
        memset(name + len, 'b', n);
        len += n;
        if (len < 253)
            name[len++] = '.';
    }
    name[253] = '\0';
    CHECK(strlen(name) == 253);
    CHECK_OK(acme_identifier_check("dns", name));
    name[253] = 'c';
    name[254] = '\0';
    CHECK_RC(acme_identifier_check("dns", name), ACME_ERR_IDENTIFIER);

    CHECK_RC(acme_identifier_check("ip", "example.com"), ACME_ERR_IDENTIFIER);
    CHECK_RC(acme_identifier_check("ip", "256.0.0.1"), ACME_ERR_IDENTIFIER);
    CHECK_RC(acme_identifier_check("ip", "1.2.3"), ACME_ERR_IDENTIFIER);
    CHECK_RC(acme_identifier_check("email", "a@example.com"), ACME_ERR_IDENTIFIER);
    CHECK_RC(acme_identifier_check(NULL, NULL), ACME_ERR_IDENTIFIER);
    return check_done();
}
