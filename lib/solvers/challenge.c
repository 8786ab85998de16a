/* Challenge views handed to solvers, with the values each known type
 * needs computed once: key authorization (RFC 8555 8.1), the dns-01 TXT
 * record (8.4), the dns-account-01 and dns-persist-01 records (their
 * drafts), the http-01 path (8.3) and the tls-alpn-01 certificate (RFC 8737,
 * built on first use since it costs a key generation). */
#include "solvers/solver.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>

#include "base/b64.h"
#include "crypto/tls_alpn_cert.h"
#include "net/json.h"
#include "base/mem.h"

void acme__challenge_free(acme_challenge *ch)
{
    if (!ch)
        return;
    free(ch->type);
    free(ch->url);
    free(ch->authz_url);
    free(ch->ident_type);
    free(ch->ident_value);
    free(ch->token);
    acme__free_secret_str(ch->key_authz);
    free(ch->http_path);
    free(ch->txt_name);
    free(ch->txt_value);
    free(ch->account_uri);
    for (size_t i = 0; i < ch->nissuers; i++)
        free(ch->issuers[i]);
    free(ch->issuers);
    free(ch->response);
    free(ch->alpn_digest_b64);
    free(ch->alpn_cert_pem);
    acme__free_secret_str(ch->alpn_key_pem);
    free(ch->json);
    free(ch);
}

static char *sha256_b64(const char *text, unsigned char digest[ACME__KEY_AUTHZ_DIGEST_LEN])
{
    if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), (const unsigned char *)text,
                   strlen(text), digest) != 0)
        return NULL;
    acme__buf b = ACME__BUF_INIT;
    acme__b64url_append(&b, digest, ACME__KEY_AUTHZ_DIGEST_LEN);
    return acme__buf_detach(&b);
}

static char *concat(const char *a, const char *b)
{
    acme__buf buf = ACME__BUF_INIT;
    acme__buf_puts(&buf, a);
    acme__buf_puts(&buf, b);
    return acme__buf_detach(&buf);
}

int acme__dns_account_label(const char *account_url, char out[ACME__ACCOUNT_LABEL_LEN + 1])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char digest[32];
    if (!account_url || mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                                   (const unsigned char *)account_url, strlen(account_url),
                                   digest) != 0)
        return ACME_ERR_INVALID;
    /* 10 bytes are 80 bits: exactly 16 groups of five, so no padding. */
    for (size_t i = 0; i < ACME__ACCOUNT_LABEL_LEN; i++) {
        size_t bit = i * 5;
        unsigned v = ((unsigned)digest[bit / 8] << 8) | digest[bit / 8 + 1];
        out[i] = alphabet[(v >> (11 - bit % 8)) & 0x1f];
    }
    out[ACME__ACCOUNT_LABEL_LEN] = '\0';
    return ACME_OK;
}

/* What may stand in a dns-persist-01 record unquoted: an issuer domain
 * name is letters, digits, '-' and '.'; an account URL has no ';' (the
 * record's separator), space or control character. */
static int persist_safe(const char *s, int domain)
{
    if (!s || !*s)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (domain ? !((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                       *p == '.')
                   : (*p <= ' ' || *p >= 0x7f || *p == ';'))
            return 0;
    }
    return 1;
}

/* dns-persist-01: accounturi and issuer-domain-names, and the record
 * "<first issuer>; accounturi=<uri>[; policy=wildcard]". */
static int persist_fill(acme_challenge *ch, yajl_val json, const char *authz_url,
                        acme__err *err)
{
    const char *uri = acme__json_string(json, "accounturi");
    yajl_val list = acme__json_array(json, "issuer-domain-names");
    size_t n = acme__json_len(list);
    if (!persist_safe(uri, 0) || n == 0)
        return acme__fail(err, ACME_ERR_PROTOCOL,
                          "authorization %s: dns-persist-01 challenge lacks a usable "
                          "\"accounturi\" or \"issuer-domain-names\"", authz_url);
    for (size_t i = 0; i < n; i++)
        if (!persist_safe(acme__json_as_string(acme__json_at(list, i)), 1))
            return acme__fail(err, ACME_ERR_PROTOCOL,
                              "authorization %s: dns-persist-01 issuer-domain-names[%zu] is not "
                              "a lowercase domain name", authz_url, i);
    free(ch->account_uri);
    ch->account_uri = acme__strdup(uri);
    ch->issuers = calloc(n, sizeof(*ch->issuers));
    if (!ch->account_uri || !ch->issuers)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    for (; ch->nissuers < n; ch->nissuers++)
        if (!(ch->issuers[ch->nissuers] =
                  acme__strdup(acme__json_as_string(acme__json_at(list, ch->nissuers)))))
            return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    acme__buf v = ACME__BUF_INIT;
    acme__buf_printf(&v, "%s; accounturi=%s%s", ch->issuers[0], uri,
                     ch->wildcard ? "; policy=wildcard" : "");
    ch->txt_value = acme__buf_detach(&v);
    ch->txt_name = concat("_validation-persist.", ch->ident_value);
    if (!ch->txt_value || !ch->txt_name)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    return ACME_OK;
}

int acme__challenge_new(acme_challenge **out, yajl_val json, const char *authz_url,
                        const char *ident_type, const char *ident_value, int wildcard,
                        const char *thumbprint, const char *account_url, acme__err *err)
{
    *out = NULL;
    const char *type = acme__json_string(json, "type");
    const char *url = acme__json_string(json, "url");
    const char *token = acme__json_string(json, "token");
    if (!type || !url)
        return acme__fail(err, ACME_ERR_PROTOCOL,
                          "authorization %s: a challenge lacks \"type\" or \"url\"", authz_url);
    if (token && !acme__b64url_valid(token))
        return acme__fail(err, ACME_ERR_PROTOCOL,
                          "authorization %s: %s challenge token is not base64url; refused",
                          authz_url, type);
    acme_challenge *ch = calloc(1, sizeof(*ch));
    if (!ch)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    acme__buf raw = ACME__BUF_INIT;
    acme__json_write(&raw, json);
    ch->json = acme__buf_detach(&raw);
    ch->type = acme__strdup(type);
    ch->url = acme__strdup(url);
    ch->authz_url = acme__strdup(authz_url);
    ch->ident_type = acme__strdup(ident_type);
    ch->ident_value = acme__strdup(ident_value);
    ch->wildcard = wildcard;
    ch->status = "pending";
    ch->account_uri = account_url ? acme__strdup(account_url) : NULL;
    int oom = !ch->json || !ch->type || !ch->url || !ch->authz_url || !ch->ident_type ||
              !ch->ident_value || (account_url && !ch->account_uri);
    if (!oom && token) {
        acme__buf ka = ACME__BUF_INIT;
        acme__buf_printf(&ka, "%s.%s", token, thumbprint);
        ch->token = acme__strdup(token);
        ch->key_authz = acme__buf_detach(&ka);
        oom = !ch->token || !ch->key_authz;
    }
    if (!oom && ch->key_authz) {
        unsigned char digest[ACME__KEY_AUTHZ_DIGEST_LEN];
        if (strcmp(type, "http-01") == 0) {
            oom = !(ch->http_path = concat("/.well-known/acme-challenge/", token));
        } else if (strcmp(type, "dns-01") == 0) {
            ch->txt_name = concat("_acme-challenge.", ident_value);
            ch->txt_value = sha256_b64(ch->key_authz, digest);
            oom = !ch->txt_name || !ch->txt_value;
        } else if (strcmp(type, "dns-account-01") == 0) {
            char label[ACME__ACCOUNT_LABEL_LEN + 1];
            if (acme__dns_account_label(account_url, label) != ACME_OK) {
                acme__challenge_free(ch);
                return acme__fail(err, ACME_ERR_PROTOCOL,
                                  "authorization %s: dns-account-01 needs the account URL",
                                  authz_url);
            }
            acme__buf name = ACME__BUF_INIT;
            acme__buf_printf(&name, "_%s._acme-challenge.%s", label, ident_value);
            ch->txt_name = acme__buf_detach(&name);
            ch->txt_value = sha256_b64(ch->key_authz, digest);
            oom = !ch->txt_name || !ch->txt_value;
        } else if (strcmp(type, "tls-alpn-01") == 0) {
            ch->alpn_digest_b64 = sha256_b64(ch->key_authz, ch->alpn_digest);
            oom = !ch->alpn_digest_b64;
        }
    }
    if (oom) {
        acme__challenge_free(ch);
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    }
    if (strcmp(type, "dns-persist-01") == 0) {
        int rc = persist_fill(ch, json, authz_url, err);
        if (rc != ACME_OK) {
            acme__challenge_free(ch);
            return rc;
        }
    }
    *out = ch;
    return ACME_OK;
}

/* A NULL challenge reads as one with no fields, so that every getter is
 * NULL-safe without testing for it. */
static const acme_challenge no_challenge;

static const acme_challenge *view(const acme_challenge *ch)
{
    return ch ? ch : &no_challenge;
}

const char *acme_challenge_type(const acme_challenge *ch)
{
    return view(ch)->type;
}

const char *acme_challenge_url(const acme_challenge *ch)
{
    return view(ch)->url;
}

const char *acme_challenge_authorization_url(const acme_challenge *ch)
{
    return view(ch)->authz_url;
}

const char *acme_challenge_identifier_type(const acme_challenge *ch)
{
    return view(ch)->ident_type;
}

const char *acme_challenge_identifier_value(const acme_challenge *ch)
{
    return view(ch)->ident_value;
}

int acme_challenge_wildcard(const acme_challenge *ch)
{
    return view(ch)->wildcard;
}

const char *acme_challenge_token(const acme_challenge *ch)
{
    return view(ch)->token;
}

const char *acme_challenge_key_authorization(const acme_challenge *ch)
{
    return view(ch)->key_authz;
}

const char *acme_challenge_http_path(const acme_challenge *ch)
{
    return view(ch)->http_path;
}

const char *acme_challenge_dns_txt_name(const acme_challenge *ch)
{
    return view(ch)->txt_name;
}

const char *acme_challenge_dns_txt_value(const acme_challenge *ch)
{
    return view(ch)->txt_value;
}

const char *acme_challenge_account_uri(const acme_challenge *ch)
{
    return view(ch)->account_uri;
}

const char *acme_challenge_issuer_domain_name(const acme_challenge *ch, size_t i)
{
    return i < view(ch)->nissuers ? ch->issuers[i] : NULL;
}

/* The view stays const for the callbacks that read it; the response is
 * the one part a solver writes, during its own present. */
int acme_challenge_set_response(const acme_challenge *cch, const char *json)
{
    acme_challenge *ch = (acme_challenge *)cch;
    if (!ch)
        return acme__fail(NULL, ACME_ERR_INVALID, "challenge response: no challenge");
    char *copy = NULL;
    if (json) {
        yajl_val v;
        acme__err quiet = ACME__ERR_QUIET;
        int rc = acme__json_parse_object(json, strlen(json), "challenge response", &v, &quiet);
        acme__err_clear(&quiet);
        if (rc != ACME_OK)
            return acme__fail(NULL, ACME_ERR_INVALID,
                              "challenge response: not a JSON object; the response stays %s",
                              acme_challenge_response(ch));
        acme__json_free(v);
        if (!(copy = acme__strdup(json)))
            return acme__fail(NULL, ACME_ERR_NOMEM, "challenge response: out of memory");
    }
    free(ch->response);
    ch->response = copy;
    return ACME_OK;
}

const char *acme_challenge_response(const acme_challenge *ch)
{
    return view(ch)->response ? ch->response : "{}";
}

const char *acme_challenge_tls_alpn_digest(const acme_challenge *ch)
{
    return view(ch)->alpn_digest_b64;
}

/* The certificate costs a key generation, so it is made only when a
 * solver asks; the view is logically const. */
static void alpn_build(const acme_challenge *cch)
{
    acme_challenge *ch = (acme_challenge *)cch;
    if (ch->alpn_built || !ch->alpn_digest_b64)
        return;
    ch->alpn_built = 1;
    acme__err err = { 0 };
    if (acme__tls_alpn_cert(ch->ident_type, ch->ident_value, ch->alpn_digest,
                            &ch->alpn_cert_pem, &ch->alpn_key_pem, &err) != ACME_OK) {
        ch->alpn_cert_pem = NULL;
        ch->alpn_key_pem = NULL;
    }
    acme__err_clear(&err);
}

const char *acme_challenge_tls_alpn_cert_pem(const acme_challenge *ch)
{
    if (!ch)
        return NULL;
    alpn_build(ch);
    return ch->alpn_cert_pem;
}

const char *acme_challenge_tls_alpn_key_pem(const acme_challenge *ch)
{
    if (!ch)
        return NULL;
    alpn_build(ch);
    return ch->alpn_key_pem;
}

const char *acme_challenge_json(const acme_challenge *ch)
{
    return view(ch)->json;
}

/* Only one challenge of an authorization is ever presented, so the
 * authorization's final status is that challenge's outcome. */
void acme__challenge_settle(acme_challenge *ch, const char *authz_status)
{
    if (authz_status && strcmp(authz_status, "valid") == 0)
        ch->status = "valid";
    else if (authz_status && strcmp(authz_status, "invalid") == 0)
        ch->status = "invalid";
    else
        ch->status = "pending";
}

const char *acme_challenge_status(const acme_challenge *ch)
{
    return view(ch)->status;
}
