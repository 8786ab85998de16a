/* Authorization objects (lib/order.c, RFC 8555 7.1.4) and their challenges
 * (lib/challenge.c, 7.1.5 / 8): acme__authz_parse on any JSON, then
 * acme__challenge_new for every challenge as the solvers get them (token
 * check, key authorization, http-01 path, dns-01 and dns-account-01 TXT
 * records, dns-persist-01's accounturi and issuer-domain-names, tls-alpn-01
 * digest) with every accessor; the tls-alpn-01 certificate for the first
 * such challenge (the identifier comes from the CA); and each challenge's
 * "error" problem as a failed authorization reports it. */
#include "fuzz.h"

#include <acme.h>

#include "base/b64.h"
#include "net/json.h"
#include "protocol/order_parse.h"
#include "net/problem_json.h"
#include "solvers/solver.h"

/* RFC 8555 8.1's key authorization needs the account key's thumbprint. */
static const char thumbprint[] = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
/* dns-account-01 derives its record name from the account URL. */
static const char account_url[] = "https://ca.example/acme/acct/1";

static void check_challenge(acme_challenge *ch, yajl_val cj, const char *type, int *alpn_budget)
{
    FUZZ_ASSERT(strcmp(acme_challenge_type(ch), type) == 0);
    fuzz_touch(acme_challenge_url(ch));
    fuzz_touch(acme_challenge_authorization_url(ch));
    fuzz_touch(acme_challenge_identifier_type(ch));
    fuzz_touch(acme_challenge_identifier_value(ch));
    const char *token = acme_challenge_token(ch);
    const char *ka = acme_challenge_key_authorization(ch);
    FUZZ_ASSERT((token == NULL) == (ka == NULL));
    if (token) {
        /* Tokens reach file names and URLs: only base64url gets through. */
        FUZZ_ASSERT(acme__b64url_valid(token));
        FUZZ_ASSERT(strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                  "0123456789-_") == strlen(token));
        size_t tl = strlen(token);
        FUZZ_ASSERT(strncmp(ka, token, tl) == 0 && ka[tl] == '.' &&
                    strcmp(ka + tl + 1, thumbprint) == 0);
    }
    const char *path = acme_challenge_http_path(ch);
    FUZZ_ASSERT(!path || (strcmp(type, "http-01") == 0 && token &&
                          strncmp(path, "/.well-known/acme-challenge/", 28) == 0 &&
                          strcmp(path + 28, token) == 0));
    const char *txt = acme_challenge_dns_txt_value(ch);
    fuzz_touch(acme_challenge_dns_txt_name(ch));
    int persist = strcmp(type, "dns-persist-01") == 0;
    FUZZ_ASSERT(!txt || persist ||
                ((strcmp(type, "dns-01") == 0 || strcmp(type, "dns-account-01") == 0) &&
                 strlen(txt) == 43));
    /* A persist record is "<issuer>; accounturi=<uri>...", its parts checked. */
    const char *issuer = acme_challenge_issuer_domain_name(ch, 0);
    FUZZ_ASSERT(persist == (issuer != NULL));
    if (persist) {
        const char *uri = acme_challenge_account_uri(ch);
        FUZZ_ASSERT(txt && uri && strncmp(txt, issuer, strlen(issuer)) == 0);
        FUZZ_ASSERT(strcmp(acme__json_string(cj, "accounturi"), uri) == 0);
        FUZZ_ASSERT(!strpbrk(uri, "; \t\r\n") && !strpbrk(issuer, "; \t\r\n"));
        for (size_t i = 0; acme_challenge_issuer_domain_name(ch, i); i++)
            fuzz_touch(acme_challenge_issuer_domain_name(ch, i));
    } else {
        FUZZ_ASSERT(strcmp(acme_challenge_account_uri(ch), account_url) == 0);
    }
    FUZZ_ASSERT(strcmp(acme_challenge_response(ch), "{}") == 0);
    const char *digest = acme_challenge_tls_alpn_digest(ch);
    FUZZ_ASSERT(!digest || (strcmp(type, "tls-alpn-01") == 0 && strlen(digest) == 43));
    /* The raw JSON handed to solvers of unknown types parses back. */
    const char *json = acme_challenge_json(ch);
    acme__err err = { 0 };
    yajl_val back = NULL;
    FUZZ_ASSERT(acme__json_parse(json, strlen(json), "challenge", &back, &err) == ACME_OK);
    FUZZ_ASSERT(YAJL_IS_OBJECT(back) && cj != NULL);
    acme__json_free(back);
    acme__err_clear(&err);
    /* The certificate costs a key generation: once per input. */
    if (digest && *alpn_budget > 0) {
        (*alpn_budget)--;
        const char *cert = acme_challenge_tls_alpn_cert_pem(ch);
        const char *key = acme_challenge_tls_alpn_key_pem(ch);
        FUZZ_ASSERT((cert == NULL) == (key == NULL));
        fuzz_touch(cert);
        fuzz_touch(key);
    }
}

int fuzz_authz(const uint8_t *data, size_t size)
{
    static const char url[] = "https://ca.example/acme/authz/PAniVnsZcis";
    acme__err err = { 0 };
    yajl_val v = NULL;
    if (acme__json_parse_object((const char *)data, size, "authorization", &v, &err) !=
        ACME_OK) {
        acme__err_clear(&err);
        return 0;
    }
    char *status = NULL, *type = NULL, *value = NULL;
    int wildcard = -1;
    int rc = acme__authz_parse(v, url, &status, &type, &value, &wildcard, &err);
    FUZZ_ASSERT(rc == ACME_OK || rc == ACME_ERR_PROTOCOL || rc == ACME_ERR_NOMEM);
    acme__err_clear(&err);
    if (rc == ACME_OK) {
        FUZZ_ASSERT(status && type && value && (wildcard == 0 || wildcard == 1));
        fuzz_touch(status);
        int alpn_budget = 1;
        yajl_val list = acme__json_array(v, "challenges");
        for (size_t i = 0; i < acme__json_len(list); i++) {
            yajl_val cj = acme__json_at(list, i);
            acme_challenge *ch = NULL;
            rc = acme__challenge_new(&ch, cj, url, type, value, wildcard, thumbprint, account_url,
                                     &err);
            FUZZ_ASSERT(rc == ACME_OK || rc == ACME_ERR_PROTOCOL || rc == ACME_ERR_NOMEM);
            FUZZ_ASSERT((rc == ACME_OK) == (ch != NULL));
            if (ch)
                check_challenge(ch, cj, acme__json_string(cj, "type"), &alpn_budget);
            acme__challenge_free(ch);
            acme__err_clear(&err);
            /* A failed challenge's problem, as authz_failed reports it. */
            yajl_val e = acme__json_object(cj, "error");
            if (e) {
                acme_problem *p = acme__problem_from_json(e, 0);
                char desc[400] = "no reason given";
                if (p)
                    acme__problem_describe(p, desc, sizeof(desc));
                acme__fail_problem(&err, ACME_ERR_VALIDATION, p, "authorization for %s%s is %s: %s",
                                   wildcard ? "*." : "", value, status, desc);
                acme__problem_unref(p);
                acme__err_clear(&err);
            }
        }
    }
    free(status);
    free(type);
    free(value);
    acme__json_free(v);
    return 0;
}

FUZZ_ENTRY(authz);
