/* Challenge views handed to solvers, with the values each known type
 * needs computed once: key authorization (RFC 8555 8.1), the dns-01 TXT
 * record (8.4), the http-01 path (8.3) and the tls-alpn-01 certificate
 * (RFC 8737, built on first use since it costs a key generation). */
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

int acme__challenge_new(acme_challenge **out, yajl_val json, const char *authz_url,
                        const char *ident_type, const char *ident_value, int wildcard,
                        const char *thumbprint, acme__err *err)
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
    int oom = !ch->json || !ch->type || !ch->url || !ch->authz_url || !ch->ident_type ||
              !ch->ident_value;
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
        } else if (strcmp(type, "tls-alpn-01") == 0) {
            ch->alpn_digest_b64 = sha256_b64(ch->key_authz, ch->alpn_digest);
            oom = !ch->alpn_digest_b64;
        }
    }
    if (oom) {
        acme__challenge_free(ch);
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
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
