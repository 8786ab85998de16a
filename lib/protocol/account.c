/* ACME accounts (RFC 8555 section 7.3): registration, lookup by key,
 * refresh, contact update, deactivation and key rollover. */
#include "protocol/account.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/account_parse.h"
#include "base/b64.h"
#include "net/json.h"
#include "crypto/jws.h"
#include "base/mem.h"
#include "base/options.h"
#include "protocol/provider.h"

struct acme_account {
    atomic_int refs;
    acme_provider *provider;
    acme_key *key;
    char *url;
    char *status;
    char **contacts;
    size_t ncontacts;
    char *orders;
    acme__err err;
};

/* The bytes of each version of acme_account_options, oldest first: a field
 * appended as a new version appends its line (doc/ABI.md). */
ACME__OPTIONS_DEFINE(options_versions, ACME_ACCOUNT_OPTIONS_VERSION, "account options",
                     "acme_account_options_init",
                     ACME__OPTIONS_END(acme_account_options, eab_algorithm)); /* 1 */

int acme_account_options_init(acme_account_options *opts, unsigned int version)
{
    return acme__options_init(&options_versions, opts, version, NULL);
}

static acme_account *account_alloc(acme_provider *p, acme_key *key)
{
    acme_account *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    atomic_init(&a->refs, 1);
    a->provider = acme__provider_ref(p);
    a->key = acme__key_ref(key);
    a->status = acme__strdup("");
    if (!a->status) {
        acme_account_free(a);
        return NULL;
    }
    return a;
}

acme_account *acme__account_ref(acme_account *a)
{
    if (a)
        atomic_fetch_add(&a->refs, 1);
    return a;
}

acme__err *acme__account_err(acme_account *a)
{
    return &a->err;
}

void acme_account_free(acme_account *a)
{
    if (!a || atomic_fetch_sub(&a->refs, 1) != 1)
        return;
    acme_provider_free(a->provider);
    acme_key_free(a->key);
    free(a->url);
    free(a->status);
    acme__free_strv(a->contacts, a->ncontacts);
    free(a->orders);
    acme__err_clear(&a->err);
    free(a);
}

/* A contact must be a URL; a bare e-mail address gets "mailto:". RFC 8555
 * 7.3: one address per mailto URL, no header fields. */
static int contact_append(acme__buf *b, const char *c, acme__err *err)
{
    int has_scheme = strchr(c, ':') != NULL;
    const char *addr = strncmp(c, "mailto:", 7) == 0 ? c + 7 : has_scheme ? NULL : c;
    int bad = c[0] == '\0' || strpbrk(c, " \t\r\n\"<>") != NULL;
    if (addr && (!strchr(addr, '@') || strpbrk(addr, ",?") || addr[0] == '@' ||
                 addr[strlen(addr) - 1] == '@'))
        bad = 1;
    if (bad)
        return acme__fail(err, ACME_ERR_INVALID, "invalid contact \"%s\" (want an e-mail address)",
                          c);
    acme__buf tmp = ACME__BUF_INIT;
    acme__buf_printf(&tmp, "%s%s", has_scheme ? "" : "mailto:", c);
    acme__json_put_string(b, acme__buf_str(&tmp));
    acme__buf_free(&tmp);
    return ACME_OK;
}

static int contacts_append(acme__buf *b, const char *const *contacts, size_t n, acme__err *err)
{
    if (n && !contacts)
        return acme__fail(err, ACME_ERR_INVALID, "contacts: NULL array with a count of %zu", n);
    acme__buf_puts(b, "\"contact\":[");
    for (size_t i = 0; i < n; i++) {
        if (!contacts[i])
            return acme__fail(err, ACME_ERR_INVALID, "contacts: entry %zu is NULL", i);
        if (i)
            acme__buf_putc(b, ',');
        int rc = contact_append(b, contacts[i], err);
        if (rc != ACME_OK)
            return rc;
    }
    return acme__buf_putc(b, ']');
}

int acme__account_parse(yajl_val v, acme__account_fields *out, acme__err *err)
{
    memset(out, 0, sizeof(*out));
    const char *status = acme__json_string(v, "status");
    const char *orders = acme__json_string(v, "orders");
    yajl_val contacts = acme__json_array(v, "contact");
    size_t n = acme__json_len(contacts);
    char **list = calloc(n ? n : 1, sizeof(*list));
    char *status_copy = acme__strdup(status ? status : "");
    char *orders_copy = acme__strdup(orders);
    size_t kept = 0;
    int oom = !list || !status_copy || (orders && !orders_copy);
    for (size_t i = 0; !oom && i < n; i++) {
        const char *c = acme__json_as_string(acme__json_at(contacts, i));
        if (c && !(list[kept++] = acme__strdup(c)))
            oom = 1;
    }
    if (oom) {
        acme__free_strv(list, kept);
        free(status_copy);
        free(orders_copy);
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    }
    out->contacts = list;
    out->ncontacts = kept;
    out->status = status_copy;
    out->orders = orders_copy;
    return ACME_OK;
}

void acme__account_fields_free(acme__account_fields *f)
{
    if (!f)
        return;
    acme__free_strv(f->contacts, f->ncontacts);
    free(f->status);
    free(f->orders);
    memset(f, 0, sizeof(*f));
}

/* Take status, contact and orders from an account object. */
static int account_parse(acme_account *a, const acme__response *res)
{
    yajl_val v;
    int rc = acme__provider_json(res, "account", &v, &a->err);
    if (rc != ACME_OK)
        return rc;
    acme__account_fields f;
    rc = acme__account_parse(v, &f, &a->err);
    acme__json_free(v);
    if (rc != ACME_OK)
        return rc;
    acme__free_strv(a->contacts, a->ncontacts);
    free(a->status);
    free(a->orders);
    a->contacts = f.contacts;
    a->ncontacts = f.ncontacts;
    a->status = f.status;
    a->orders = f.orders;
    return ACME_OK;
}

/* POST payload to newAccount signed with the key's JWK; on success the
 * Location header is the account URL. */
static int new_account(acme_account *a, const char *payload, const char *what)
{
    const char *url = acme_provider_endpoint(a->provider, "newAccount");
    acme__response res;
    int rc = acme__provider_post(a->provider, a->key, NULL, url, payload, NULL, &res, &a->err);
    if (rc == ACME_OK && !res.location)
        rc = acme__fail(&a->err, ACME_ERR_PROTOCOL, "newAccount reply has no Location header");
    if (rc == ACME_OK && !(a->url = acme__strdup(res.location)))
        rc = acme__fail(&a->err, ACME_ERR_NOMEM, "out of memory");
    if (rc == ACME_OK)
        rc = account_parse(a, &res);
    if (rc == ACME_OK)
        acme__log(a->provider, ACME_LOG_INFO, "%s: account %s (%s, HTTP %ld)", what, a->url,
                  a->status, res.status);
    acme__response_free(&res);
    if (rc != ACME_OK)
        acme__err_prefix(&a->err, what);
    return rc;
}

static int eab_append(acme__buf *b, acme_account *a, const acme_account_options *o)
{
    if (!o->eab_hmac_key)
        return acme__fail(&a->err, ACME_ERR_INVALID, "EAB: a key id needs an HMAC key");
    unsigned char *mac_key;
    size_t mac_len;
    int rc = acme__b64url_decode(o->eab_hmac_key, strlen(o->eab_hmac_key), &mac_key, &mac_len);
    if (rc != ACME_OK || mac_len == 0) {
        if (rc == ACME_OK)
            free(mac_key);
        /* The key itself is never echoed into a message. */
        return acme__fail(&a->err, rc == ACME_ERR_NOMEM ? rc : ACME_ERR_INVALID,
                          "EAB: the HMAC key is not base64url");
    }
    acme__buf_puts(b, ",\"externalAccountBinding\":");
    rc = acme__jws_eab(o->eab_kid, mac_key, mac_len, o->eab_algorithm, a->key,
                       acme_provider_endpoint(a->provider, "newAccount"), b, &a->err);
    acme__wipe(mac_key, mac_len);
    free(mac_key);
    return rc;
}

static int check_new_args(acme_account **out, acme_provider *p, acme_key *key, acme__err *err)
{
    if (!out)
        return acme__fail(err, ACME_ERR_INVALID, "account: NULL output");
    *out = NULL;
    if (!p || !key)
        return acme__fail(err, ACME_ERR_INVALID, "account: provider and key are required");
    return ACME_OK;
}

/* A new handle that failed: its error goes to err, then the handle. */
static int drop_new(acme_account *a, int rc, acme__err *err)
{
    if (err)
        acme__err_forward(err, &a->err);
    acme_account_free(a);
    return rc;
}

int acme__account_register(acme_account **out, acme_provider *p, acme_key *key,
                           const acme_account_options *opts, acme__err *err)
{
    int rc = check_new_args(out, p, key, err);
    if (rc != ACME_OK)
        return rc;
    acme_account_options own;
    rc = acme__options_copy(&options_versions, &own, sizeof(own), opts, err);
    if (rc != ACME_OK)
        return rc;
    opts = &own;
    acme_account *a = account_alloc(p, key);
    if (!a)
        return acme__fail(err, ACME_ERR_NOMEM, "account: out of memory");

    acme__buf payload = ACME__BUF_INIT;
    acme__buf_printf(&payload, "{\"termsOfServiceAgreed\":%s,",
                     opts->agree_tos ? "true" : "false");
    rc = contacts_append(&payload, opts->contacts, opts->contact_count, &a->err);
    if (rc == ACME_OK && opts->eab_hmac_key && !opts->eab_kid)
        rc = acme__fail(&a->err, ACME_ERR_INVALID, "EAB: an HMAC key needs a key id");
    else if (rc == ACME_OK && opts->eab_kid)
        rc = eab_append(&payload, a, opts);
    else if (rc == ACME_OK && acme_provider_external_account_required(p))
        rc = acme__fail(&a->err, ACME_ERR_INVALID,
                        "this CA requires External Account Binding: give an EAB key id and "
                        "HMAC key");
    acme__buf_putc(&payload, '}');
    if (rc == ACME_OK && acme__buf_status(&payload) != ACME_OK)
        rc = acme__fail(&a->err, ACME_ERR_NOMEM, "out of memory");
    if (rc == ACME_OK)
        rc = new_account(a, payload.data, "registering the account");
    acme__buf_wipe(&payload);
    if (rc != ACME_OK)
        return drop_new(a, rc, err);
    *out = a;
    return ACME_OK;
}

int acme_account_register(acme_account **out, acme_provider *p, acme_key *key,
                          const acme_account_options *opts)
{
    acme__err why = { 0 };
    int rc = acme__account_register(out, p, key, opts, &why);
    return acme__provider_record(p, rc, &why); /* no account to record on */
}

int acme__account_lookup(acme_account **out, acme_provider *p, acme_key *key, acme__err *err)
{
    int rc = check_new_args(out, p, key, err);
    if (rc != ACME_OK)
        return rc;
    acme_account *a = account_alloc(p, key);
    if (!a)
        return acme__fail(err, ACME_ERR_NOMEM, "account: out of memory");
    rc = new_account(a, "{\"onlyReturnExisting\":true}", "looking up the account of this key");
    if (rc != ACME_OK)
        return drop_new(a, rc, err);
    *out = a;
    return ACME_OK;
}

int acme_account_lookup(acme_account **out, acme_provider *p, acme_key *key)
{
    acme__err why = { 0 };
    int rc = acme__account_lookup(out, p, key, &why);
    return acme__provider_record(p, rc, &why);
}

int acme__account_load(acme_account **out, acme_provider *p, acme_key *key, const char *url,
                       acme__err *err)
{
    int rc = check_new_args(out, p, key, err);
    if (rc != ACME_OK)
        return rc;
    if (!url || strncmp(url, "https://", 8) != 0)
        return acme__fail(err, ACME_ERR_INVALID, "account: the URL must be an https URL");
    acme_account *a = account_alloc(p, key);
    if (!a || !(a->url = acme__strdup(url))) {
        acme_account_free(a);
        return acme__fail(err, ACME_ERR_NOMEM, "account: out of memory");
    }
    *out = a;
    return ACME_OK;
}

int acme_account_load(acme_account **out, acme_provider *p, acme_key *key, const char *url)
{
    acme__err why = { 0 };
    int rc = acme__account_load(out, p, key, url, &why);
    return acme__provider_record(p, rc, &why);
}

/* POST payload to the account URL and take the reply as the new state. */
static int account_post(acme_account *a, const char *payload, const char *what)
{
    acme__response res;
    int rc = acme__provider_post(a->provider, a->key, a->url, a->url, payload, NULL, &res,
                                 &a->err);
    if (rc == ACME_OK)
        rc = account_parse(a, &res);
    acme__response_free(&res);
    if (rc != ACME_OK)
        acme__err_prefix(&a->err, what);
    return rc;
}

int acme_account_refresh(acme_account *a)
{
    if (!a)
        return acme__fail(NULL, ACME_ERR_INVALID, "account: NULL handle");
    /* POST-as-GET (RFC 8555 6.3); Pebble refuses the older empty update. */
    return account_post(a, NULL, "refreshing the account");
}

int acme_account_update_contacts(acme_account *a, const char *const *contacts, size_t count)
{
    if (!a)
        return acme__fail(NULL, ACME_ERR_INVALID, "account: NULL handle");
    acme__buf payload = ACME__BUF_INIT;
    acme__buf_putc(&payload, '{');
    int rc = contacts_append(&payload, contacts, count, &a->err);
    acme__buf_putc(&payload, '}');
    if (rc == ACME_OK && acme__buf_status(&payload) != ACME_OK)
        rc = acme__fail(&a->err, ACME_ERR_NOMEM, "out of memory");
    if (rc == ACME_OK)
        rc = account_post(a, payload.data, "updating the contacts");
    acme__buf_free(&payload);
    return rc;
}

int acme_account_deactivate(acme_account *a)
{
    if (!a)
        return acme__fail(NULL, ACME_ERR_INVALID, "account: NULL handle");
    int rc = account_post(a, "{\"status\":\"deactivated\"}", "deactivating the account");
    if (rc == ACME_OK)
        acme__log(a->provider, ACME_LOG_INFO, "account %s deactivated", a->url);
    return rc;
}

int acme_account_rollover(acme_account *a, acme_key *new_key)
{
    if (!a || !new_key)
        return acme__fail(a ? &a->err : NULL, ACME_ERR_INVALID,
                          "rollover: account and new key are required");
    if (new_key == a->key || acme__key_matches(a->key, &new_key->pk))
        return acme__fail(&a->err, ACME_ERR_INVALID, "rollover: the new key is the current key");
    const char *url = acme_provider_endpoint(a->provider, "keyChange");
    if (!url)
        return acme__fail(&a->err, ACME_ERR_UNSUPPORTED, "rollover: the CA has no keyChange");
    /* RFC 8555 7.3.5: the inner JWS, signed by the new key with its JWK and
     * no nonce, names the account and the old key. */
    acme__buf inner_payload = ACME__BUF_INIT, inner = ACME__BUF_INIT;
    acme__buf_puts(&inner_payload, "{\"account\":");
    acme__json_put_string(&inner_payload, a->url);
    acme__buf_puts(&inner_payload, ",\"oldKey\":");
    int rc = acme__key_append_jwk(a->key, &inner_payload);
    acme__buf_putc(&inner_payload, '}');
    if (rc != ACME_OK || acme__buf_status(&inner_payload) != ACME_OK)
        rc = acme__fail(&a->err, ACME_ERR_NOMEM, "rollover: cannot encode the request");
    if (rc == ACME_OK)
        rc = acme__jws_sign(new_key, NULL, NULL, url, inner_payload.data, &inner, &a->err);
    acme__response res;
    memset(&res, 0, sizeof(res));
    if (rc == ACME_OK)
        rc = acme__provider_post(a->provider, a->key, a->url, url, inner.data, NULL, &res,
                                 &a->err);
    acme__response_free(&res);
    acme__buf_free(&inner_payload);
    acme__buf_free(&inner);
    if (rc != ACME_OK) {
        acme__err_prefix(&a->err, "key rollover");
        return rc;
    }
    acme_key_free(a->key);
    a->key = acme__key_ref(new_key);
    acme__log(a->provider, ACME_LOG_INFO, "account %s rolled over to a new %s key", a->url,
              acme_key_type_name(new_key->type));
    return ACME_OK;
}

const char *acme_account_url(const acme_account *a)
{
    return a ? a->url : NULL;
}

const char *acme_account_status(const acme_account *a)
{
    return a ? a->status : NULL;
}

size_t acme_account_contact_count(const acme_account *a)
{
    return a ? a->ncontacts : 0;
}

const char *acme_account_contact(const acme_account *a, size_t i)
{
    return a && i < a->ncontacts ? a->contacts[i] : NULL;
}

const char *acme_account_orders_url(const acme_account *a)
{
    return a ? a->orders : NULL;
}

acme_provider *acme_account_provider(const acme_account *a)
{
    return a ? a->provider : NULL;
}

acme_key *acme_account_key(const acme_account *a)
{
    return a ? a->key : NULL;
}

const char *acme_account_last_error(const acme_account *a)
{
    return a ? a->err.msg : "";
}

const acme_problem *acme_account_last_problem(const acme_account *a)
{
    return a ? a->err.problem : NULL;
}
