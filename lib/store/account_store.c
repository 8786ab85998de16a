/* Accounts kept in a store: accounts/<ca>/<email>/{key.pem,account.json}.
 * The key is stored before the account is registered, so that a crash in
 * between never leaves an account at the CA whose key is lost. */
#include "store/account_store.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/key.h"
#include "net/json.h"
#include "base/mem.h"
#include "protocol/account.h"
#include "protocol/provider.h"
#include "store/store_layout.h"

static char *account_key_of(acme_provider *p, const char *email, const char *file)
{
    return acme__store_account_key(acme_provider_directory_url(p), email, file);
}

/* The stored key, or ACME_ERR_NOT_FOUND. */
/* A missing file is an answer (ACME_ERR_NOT_FOUND), not recorded as a failure. */
static int probe_read(acme_store *s, const char *key, acme__buf *b, acme__err *err)
{
    acme__err probe = ACME__ERR_QUIET;
    int rc = acme__store_read(s, key, b, &probe);
    if (rc != ACME_OK && rc != ACME_ERR_NOT_FOUND)
        acme__err_forward(err, &probe);
    acme__err_clear(&probe);
    return rc;
}

static int read_key(acme_store *s, const char *key_key, acme_key **out, acme__err *err)
{
    acme__buf b = ACME__BUF_INIT;
    int rc = probe_read(s, key_key, &b, err);
    acme__err why = ACME__ERR_QUIET;
    if (rc == ACME_OK && acme__key_load_pem(out, b.data, b.len, &why) != ACME_OK)
        rc = acme__fail(err, ACME_ERR_CORRUPT, "store: %s is not a usable key (%s); left as it is",
                        key_key, why.msg);
    acme__err_clear(&why);
    acme__buf_wipe(&b);
    return rc;
}

/* The stored account URL, or ACME_ERR_NOT_FOUND. */
static int read_url(acme_store *s, const char *json_key, char **url, acme__err *err)
{
    acme__buf b = ACME__BUF_INIT;
    *url = NULL;
    int rc = probe_read(s, json_key, &b, err);
    yajl_val v = NULL;
    if (rc == ACME_OK) {
        acme__err perr = ACME__ERR_QUIET;
        const char *u = NULL;
        if (acme__json_parse_object(b.data, b.len, json_key, &v, &perr) != ACME_OK ||
            !(u = acme__json_string(v, "url")) || strncmp(u, "https://", 8) != 0)
            rc = acme__fail(err, ACME_ERR_CORRUPT,
                            "store: %s is corrupt or foreign (no https \"url\"); left as it is",
                            json_key);
        else if (!(*url = acme__strdup(u)))
            rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
        acme__err_clear(&perr);
    }
    acme__json_free(v);
    acme__buf_free(&b);
    return rc;
}

static int write_url(acme_store *s, acme_provider *p, const char *json_key, const char *url,
                     acme__err *err)
{
    acme__buf b = ACME__BUF_INIT;
    acme__buf_puts(&b, "{\"url\":");
    acme__json_put_string(&b, url);
    acme__buf_puts(&b, ",\"directory\":");
    acme__json_put_string(&b, acme_provider_directory_url(p));
    acme__buf_puts(&b, "}\n");
    int rc = acme__buf_status(&b) == ACME_OK
                 ? acme__store_write(s, json_key, b.data, b.len, 0, err)
                 : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    acme__buf_free(&b);
    return rc;
}

/* The account of key: loaded from url when the store knows it; else
 * recovered (onlyReturnExisting) or registered with reg, and its URL stored
 * as json_key. */
static int account_of_key(acme_provider *p, acme_store *s, acme_key *key, const char *url,
                          const char *json_key, const acme_account_options *reg,
                          acme_account **out, acme__err *err)
{
    if (url)
        return acme__account_load(out, p, key, url, err);
    acme__err look = ACME__ERR_QUIET; /* "no account for this key" is an answer */
    int rc = acme__account_lookup(out, p, key, &look);
    if (rc == ACME_ERR_PROBLEM && acme_problem_is(look.problem, "accountDoesNotExist"))
        rc = acme__account_register(out, p, key, reg, err);
    else if (rc != ACME_OK)
        acme__err_forward(err, &look);
    acme__err_clear(&look);
    if (rc == ACME_OK)
        rc = write_url(s, p, json_key, acme_account_url(*out), err);
    return rc;
}

int acme__account_ensure(acme_provider *p, acme_store *s, const char *email,
                         const acme_account_options *reg, int key_type,
                         unsigned int lock_timeout_s, acme_account **out, acme__err *err)
{
    *out = NULL;
    char *dir = account_key_of(p, email, NULL);
    char *key_key = account_key_of(p, email, ACME__FILE_KEY);
    char *json_key = account_key_of(p, email, ACME__FILE_ACCOUNT);
    int rc = dir && key_key && json_key ? acme__store_lock_wait(s, dir, lock_timeout_s, err)
                                        : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    if (rc != ACME_OK)
        goto done;
    acme_key *key = NULL;
    char *url = NULL;
    rc = read_key(s, key_key, &key, err);
    if (rc == ACME_ERR_NOT_FOUND) {
        rc = acme__key_generate(&key, key_type ? key_type : ACME_KEY_EC256, err);
        char *pem = NULL;
        if (rc == ACME_OK)
            rc = acme__key_to_pem(key, &pem, err);
        if (rc == ACME_OK)
            rc = acme__store_write(s, key_key, pem, strlen(pem), 1, err);
        acme__free_secret_str(pem);
        acme__log(p, ACME_LOG_INFO, "new account key stored as %s", key_key);
    } else if (rc == ACME_OK) {
        rc = read_url(s, json_key, &url, err);
        if (rc == ACME_ERR_NOT_FOUND)
            rc = ACME_OK;
    }
    if (rc == ACME_OK)
        rc = account_of_key(p, s, key, url, json_key, reg, out, err);
    if (rc != ACME_OK) {
        acme_account_free(*out);
        *out = NULL;
    }
    acme_key_free(key);
    free(url);
    acme__store_unlock(s, dir);
done:
    free(dir);
    free(key_key);
    free(json_key);
    return rc;
}

int acme_account_restore(acme_account **out, acme_provider *p, acme_store *store,
                         const char *email)
{
    if (!out || !p || !store)
        return acme__fail(NULL, ACME_ERR_INVALID, "restore: NULL argument");
    *out = NULL;
    char *key_key = account_key_of(p, email, ACME__FILE_KEY);
    char *json_key = account_key_of(p, email, ACME__FILE_ACCOUNT);
    acme__err err = { 0 };
    acme_key *key = NULL;
    char *url = NULL;
    int rc = key_key && json_key ? read_key(store, key_key, &key, &err)
                                 : acme__fail(&err, ACME_ERR_NOMEM, "out of memory");
    if (rc == ACME_ERR_NOT_FOUND)
        rc = acme__fail(&err, ACME_ERR_NOT_FOUND, "restore: no account stored for %s at %s",
                        email && *email ? email : "default", acme_provider_directory_url(p));
    if (rc == ACME_OK) {
        rc = read_url(store, json_key, &url, &err);
        if (rc == ACME_ERR_NOT_FOUND)
            rc = ACME_OK;
    }
    if (rc == ACME_OK)
        rc = acme_account_lookup(out, p, key);
    if (rc == ACME_OK && url && strcmp(url, acme_account_url(*out)) != 0)
        rc = acme__fail(&err, ACME_ERR_STATE,
                        "restore: the CA knows this key as %s, the store says %s",
                        acme_account_url(*out), url);
    if (rc == ACME_OK && !url)
        rc = write_url(store, p, json_key, acme_account_url(*out), &err);
    if (rc != ACME_OK) {
        acme_account_free(*out);
        *out = NULL;
    }
    acme__err_clear(&err);
    acme_key_free(key);
    free(url);
    free(key_key);
    free(json_key);
    return rc;
}

int acme__account_ensure_host(acme_provider *p, acme_store *s, acme_key *key,
                              const acme_account_options *reg, unsigned int lock_timeout_s,
                              acme_account **out, acme__err *err)
{
    *out = NULL;
    /* Keyed by the thumbprint: the store has no key file to find it by. */
    char *thumb = NULL;
    acme__buf jwk = ACME__BUF_INIT;
    int rc = acme__key_append_jwk(key, &jwk);
    if (rc == ACME_OK)
        rc = acme__jwk_thumbprint(jwk.data, jwk.len, &thumb);
    acme__buf_free(&jwk);
    acme__buf seg = ACME__BUF_INIT;
    if (rc == ACME_OK)
        acme__buf_printf(&seg, "host-key-%s", thumb);
    free(thumb);
    char *dir = rc == ACME_OK && seg.data ? account_key_of(p, seg.data, NULL) : NULL;
    char *json_key = dir ? account_key_of(p, seg.data, ACME__FILE_ACCOUNT) : NULL;
    acme__buf_free(&seg);
    rc = dir && json_key ? acme__store_lock_wait(s, dir, lock_timeout_s, err)
                         : acme__fail(err, rc != ACME_OK ? rc : ACME_ERR_NOMEM,
                                      "account: cannot name the host key's account");
    if (rc == ACME_OK) {
        char *url = NULL;
        rc = read_url(s, json_key, &url, err);
        if (rc == ACME_OK || rc == ACME_ERR_NOT_FOUND)
            rc = account_of_key(p, s, key, url, json_key, reg, out, err);
        if (rc != ACME_OK) {
            acme_account_free(*out);
            *out = NULL;
        }
        free(url);
        acme__store_unlock(s, dir);
    }
    free(dir);
    free(json_key);
    return rc;
}
