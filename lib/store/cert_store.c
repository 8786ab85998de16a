/* Stored certificates: metadata record, generations, stable copies. */
#include "store/cert_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/certificate.h"
#include "net/json.h"
#include "crypto/key.h"
#include "crypto/x509.h"
#include "base/b64.h"
#include "base/clock.h"
#include "base/mem.h"
#include "store/retention.h"

/* Store key of a file of c's current generation. */
static char *current_key(const acme__stored_cert *c, const char *file)
{
    return acme__store_generation_key(c->name, c->generation, file);
}

void acme__stored_free(acme__stored_cert *c)
{
    if (!c)
        return;
    free(c->name);
    acme__free_strv(c->ids, c->nids);
    free(c->serial);
    free(c->ari_id);
    free(c->directory);
    free(c->profile);
    free(c->chain_pem);
    acme_key_free(c->key);
    memset(c, 0, sizeof(*c));
}

static long long int_or(yajl_val v, const char *key, long long dflt)
{
    long long x;
    return acme__json_int(v, key, &x) == ACME_OK ? x : dflt;
}

static int corrupt(acme__err *err, const char *key, const char *why)
{
    return acme__fail(err, ACME_ERR_CORRUPT, "store: %s is corrupt or foreign (%s); left as it is",
                      key, why);
}

/* Parse the metadata record into c. */
static int meta_parse(acme__stored_cert *c, const char *key, const acme__buf *b, acme__err *err)
{
    yajl_val v;
    acme__err perr = ACME__ERR_QUIET;
    int rc = acme__json_parse_object(b->data, b->len, key, &v, &perr);
    if (rc != ACME_OK) {
        rc = corrupt(err, key, perr.msg);
        acme__err_clear(&perr);
        return rc;
    }
    yajl_val ids = acme__json_array(v, "identifiers");
    const char *kt = acme__json_string(v, "key_type");
    long long gen = int_or(v, "generation", -1);
    rc = ACME_OK;
    if (!ids || !acme__json_len(ids) || !kt || acme_key_type_from_name(kt) < 0 || gen < 1)
        rc = corrupt(err, key, "identifiers, key_type or generation missing");
    if (rc == ACME_OK && !(c->ids = calloc(acme__json_len(ids), sizeof(char *))))
        rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == ACME_OK && i < acme__json_len(ids); i++) {
        const char *id = acme__json_as_string(acme__json_at(ids, i));
        if (!id)
            rc = corrupt(err, key, "an identifier is not a string");
        else if (!(c->ids[c->nids++] = acme__strdup(id)))
            rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    }
    if (rc == ACME_OK) {
        c->key_type = acme_key_type_from_name(kt);
        c->host_key = acme__json_bool(v, "host_key", 0);
        c->generation = (unsigned long)gen;
        c->revoked = (int)int_or(v, "revoked", -1);
        c->obtained_at = int_or(v, "obtained_at", 0);
        c->directory = acme__strdup(acme__json_string(v, "directory"));
        c->profile = acme__strdup(acme__json_string(v, "profile"));
        c->profile_mandatory = acme__json_bool(v, "profile_mandatory", 0);
        yajl_val ari = acme__json_object(v, "ari");
        c->ari_start = int_or(ari, "start", 0);
        c->ari_end = int_or(ari, "end", 0);
        c->ari_renew_at = int_or(ari, "renew_at", 0);
        c->ari_next_check = int_or(ari, "next_check", 0);
    }
    acme__json_free(v);
    return rc;
}

int acme__stored_describe(acme__stored_cert *c, acme__err *err)
{
    acme_cert *cert;
    int rc = acme__cert_parse(&cert, c->chain_pem, strlen(c->chain_pem), c->key, err);
    if (rc != ACME_OK)
        return rc;
    c->not_before = acme_cert_not_before(cert);
    c->not_after = acme_cert_not_after(cert);
    free(c->serial);
    free(c->ari_id);
    c->serial = acme__strdup(acme_cert_serial(cert));
    c->ari_id = acme__strdup(acme_cert_ari_id(cert));
    acme_cert_free(cert);
    if (!c->serial)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    return ACME_OK;
}

int acme__stored_load(acme_store *s, const char *name, acme__stored_cert *out, acme__err *err)
{
    memset(out, 0, sizeof(*out));
    out->revoked = -1;
    char *meta_key = acme__store_cert_key(name, ACME__FILE_META);
    if (!(out->name = acme__strdup(name)) || !meta_key) {
        free(meta_key);
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    }
    acme__buf b = ACME__BUF_INIT;
    acme__err probe = ACME__ERR_QUIET; /* "not stored yet" is an answer, not a failure */
    int rc = acme__store_read(s, meta_key, &b, &probe);
    if (rc != ACME_OK && rc != ACME_ERR_NOT_FOUND)
        acme__err_forward(err, &probe);
    acme__err_clear(&probe);
    if (rc == ACME_OK)
        rc = meta_parse(out, meta_key, &b, err);
    acme__buf_free(&b);
    free(meta_key);
    if (rc != ACME_OK) {
        acme__stored_free(out);
        return rc;
    }

    char *key_key = current_key(out, ACME__FILE_KEY);
    char *chain_key = current_key(out, ACME__FILE_CHAIN);
    if (!key_key || !chain_key)
        rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    else if (!out->host_key) /* a host key is the host's to bring */
        rc = acme__store_read(s, key_key, &b, err);
    if (rc == ACME_ERR_NOT_FOUND)
        rc = corrupt(err, key_key, "the metadata names a key that is missing");
    if (rc == ACME_OK && !out->host_key) {
        acme__err why = ACME__ERR_QUIET;
        if (acme__key_load_pem(&out->key, b.data, b.len, &why) != ACME_OK)
            rc = corrupt(err, key_key, why.msg);
        acme__err_clear(&why);
    }
    acme__buf_wipe(&b);
    if (rc == ACME_OK) {
        rc = acme__store_read(s, chain_key, &b, err);
        if (rc == ACME_ERR_NOT_FOUND)
            rc = corrupt(err, chain_key, "the metadata names a chain that is missing");
        if (rc == ACME_OK && !(out->chain_pem = acme__buf_detach(&b)))
            rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
        acme__buf_free(&b);
    }
    /* The chain must parse and hold the key: a mismatch is never used.
     * (A host key is checked against the chain by whoever brings it.) */
    if (rc == ACME_OK) {
        acme__err derr = { 0 };
        if (acme__stored_describe(out, &derr) != ACME_OK)
            rc = corrupt(err, chain_key, derr.msg);
        acme__err_clear(&derr);
    }
    free(key_key);
    free(chain_key);
    if (rc != ACME_OK)
        acme__stored_free(out);
    return rc;
}

/* Tries when the generation read is dropped before its files are (two
 * renewals in between): the next read finds the new one. */
#define READ_CURRENT_TRIES 5

int acme__stored_read_current(acme_store *s, const char *name, char **chain_pem, char **key_pem,
                              acme__err *err)
{
    *chain_pem = NULL;
    if (key_pem)
        *key_pem = NULL;
    int rc = ACME_ERR_CORRUPT;
    for (int tries = 0; tries < READ_CURRENT_TRIES && rc == ACME_ERR_CORRUPT; tries++) {
        acme__err one = ACME__ERR_QUIET;
        acme__stored_cert c;
        /* The load checks that the chain holds the key; a generation's
         * files never change once written, so its key read again is the
         * same key, or gone with the generation. */
        rc = acme__stored_load(s, name, &c, &one);
        if (rc == ACME_ERR_NOT_FOUND) /* an answer to the load, a failure here */
            rc = acme__fail(&one, rc, "store: no certificate stored as %s", name);
        acme__buf b = ACME__BUF_INIT;
        char *key_key = rc == ACME_OK ? current_key(&c, ACME__FILE_KEY) : NULL;
        if (rc == ACME_OK && !key_key)
            rc = acme__fail(&one, ACME_ERR_NOMEM, "out of memory");
        if (rc == ACME_OK && key_pem && !c.host_key) {
            rc = acme__store_read(s, key_key, &b, &one);
            if (rc == ACME_ERR_NOT_FOUND)
                rc = corrupt(&one, key_key, "the generation was dropped while it was read");
            if (rc == ACME_OK && !(*key_pem = acme__buf_detach(&b)))
                rc = acme__fail(&one, ACME_ERR_NOMEM, "out of memory");
        }
        if (rc == ACME_OK) {
            *chain_pem = c.chain_pem;
            c.chain_pem = NULL;
        }
        acme__buf_wipe(&b);
        free(key_key);
        if (rc == ACME_OK)
            acme__stored_free(&c);
        if (rc != ACME_OK && (rc != ACME_ERR_CORRUPT || tries + 1 == READ_CURRENT_TRIES))
            acme__err_forward(err, &one);
        acme__err_clear(&one);
    }
    return rc;
}

static int store_read_current_recorded(acme_store *s, const char *name, char **chain_pem,
                                       char **key_pem, acme__err *rec)
{
    if (chain_pem)
        *chain_pem = NULL;
    if (key_pem)
        *key_pem = NULL;
    if (!s || !name || !chain_pem)
        return acme__fail(rec, ACME_ERR_INVALID, "store: NULL argument");
    if (!acme__store_cert_name_valid(name))
        return acme__fail(rec, ACME_ERR_INVALID, "store: \"%.200s\" is not a certificate name",
                          name);
    return acme__stored_read_current(s, name, chain_pem, key_pem, rec);
}

int acme_store_read_current(acme_store *s, const char *name, char **chain_pem, char **key_pem)
{
    acme__err e = { 0 };
    return acme__store_publish(s, store_read_current_recorded(s, name, chain_pem, key_pem, &e), &e);
}

static int meta_build(const acme__stored_cert *c, acme__buf *out);

static int meta_write(acme_store *s, const acme__stored_cert *c, acme__err *err)
{
    acme__buf b = ACME__BUF_INIT;
    meta_build(c, &b);
    return acme__store_write_built(s, acme__store_cert_key(c->name, ACME__FILE_META), &b, 0, err);
}

/* On a store that commits in one transaction: the generation, the switch
 * of meta.json to it and the stable copies land together, so no reader
 * ever sees a chain with another generation's key, even at the stable
 * paths. */
static int commit_generation(acme_store *s, const acme__stored_cert *c, const char *key_key,
                             const char *key_pem, const char *chain_key, acme__err *err)
{
    acme__buf meta = ACME__BUF_INIT;
    meta_build(c, &meta);
    char *meta_key = acme__store_cert_key(c->name, ACME__FILE_META);
    char *stable_key = acme__store_cert_key(c->name, ACME__FILE_KEY);
    char *stable_chain = acme__store_cert_key(c->name, ACME__FILE_CHAIN);
    int rc;
    if (acme__buf_status(&meta) != ACME_OK || !meta_key || !stable_key || !stable_chain) {
        rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    } else {
        /* A host key (key_pem NULL) has no key file: the generation is the
         * chain alone, and a stable key copy left from an earlier stored
         * key goes in the same commit, since it no longer matches. */
        size_t klen = key_pem ? strlen(key_pem) : 0, clen = strlen(c->chain_pem);
        const acme__store_put puts[] = {
            { chain_key, c->chain_pem, clen, 0, 0 },
            { stable_chain, c->chain_pem, clen, 0, 0 },
            { meta_key, meta.data, meta.len, 0, 0 },
            { stable_key, key_pem, klen, 1, key_pem == NULL },
            { key_key, key_pem, klen, 1, 0 },
        };
        rc = acme__store_commit(s, puts, sizeof(puts) / sizeof(puts[0]) - (key_pem == NULL), err);
    }
    acme__buf_free(&meta);
    free(meta_key);
    free(stable_key);
    free(stable_chain);
    return rc;
}

static int meta_build(const acme__stored_cert *c, acme__buf *out)
{
    acme__buf b = ACME__BUF_INIT;
    acme__buf_puts(&b, "{\"name\":");
    acme__json_put_string(&b, c->name);
    acme__buf_puts(&b, ",\"identifiers\":");
    acme__json_put_strings(&b, (const char *const *)c->ids, c->nids);
    acme__buf_printf(&b, ",\"key_type\":\"%s\",\"generation\":%lu", acme_key_type_name(c->key_type),
                     c->generation);
    if (c->host_key)
        acme__buf_puts(&b, ",\"host_key\":true");
    acme__buf_printf(&b, ",\"not_before\":%lld,\"not_after\":%lld,\"obtained_at\":%lld",
                     (long long)c->not_before, (long long)c->not_after,
                     (long long)c->obtained_at);
    acme__buf_puts(&b, ",\"serial\":");
    acme__json_put_string(&b, c->serial ? c->serial : "");
    if (c->ari_id) {
        acme__buf_puts(&b, ",\"ari_id\":");
        acme__json_put_string(&b, c->ari_id);
    }
    if (c->directory) {
        acme__buf_puts(&b, ",\"directory\":");
        acme__json_put_string(&b, c->directory);
    }
    if (c->profile) {
        acme__buf_puts(&b, ",\"profile\":");
        acme__json_put_string(&b, c->profile);
        acme__buf_printf(&b, ",\"profile_mandatory\":%s", c->profile_mandatory ? "true" : "false");
    }
    acme__buf_printf(&b, ",\"revoked\":%d", c->revoked);
    acme__buf_printf(&b,
                     ",\"ari\":{\"start\":%lld,\"end\":%lld,\"renew_at\":%lld,\"next_check\":%lld}}\n",
                     (long long)c->ari_start, (long long)c->ari_end, (long long)c->ari_renew_at,
                     (long long)c->ari_next_check);
    *out = b;
    return acme__buf_status(out);
}

int acme__stored_save_meta(acme_store *s, const acme__stored_cert *c, acme__err *err)
{
    return meta_write(s, c, err);
}

/* Make the stable copy of one file of the current generation hold what
 * that file holds, unless it already does: a hard link to it where the
 * store can link (no second file to write), else a written copy. */
static int sync_copy(acme_store *s, const acme__stored_cert *c, const char *file, int secret,
                     acme__err *err)
{
    char *key = acme__store_cert_key(c->name, file);
    char *current = current_key(c, file);
    acme__buf want = ACME__BUF_INIT, have = ACME__BUF_INIT;
    int rc = key && current ? acme__store_read(s, current, &want, err)
                            : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    if (rc == ACME_OK) {
        acme__err ignore = ACME__ERR_QUIET;
        int same = acme__store_read(s, key, &have, &ignore) == ACME_OK &&
                   have.len == want.len &&
                   (want.len == 0 || memcmp(have.data, want.data, want.len) == 0);
        acme__err_clear(&ignore);
        if (!same)
            rc = acme__store_write_same(s, current, key, want.data ? want.data : "", want.len,
                                        secret, err);
    }
    acme__buf_wipe(&want);
    acme__buf_wipe(&have);
    free(key);
    free(current);
    return rc;
}

/* On a store with aliases (the filesystem): certs/NAME/current names the
 * current generation, and the stable names go through it, so that one
 * rename switches the whole pair for a reader who resolves current once.
 * A store written before (stable files or hard links, no current) is
 * moved to this layout here, one rename per name, current first. Only the
 * aliases that do not name their target yet are made, in one call (one
 * directory sync). ACME_ERR_UNSUPPORTED (nothing changed) where the store
 * cannot make aliases. */
static int sync_aliases(acme_store *s, const acme__stored_cert *c, acme__err *err)
{
    char gen[24];
    snprintf(gen, sizeof(gen), "%lu", c->generation);
    char *keys[3] = { acme__store_cert_key(c->name, ACME__CURRENT),
                      acme__store_cert_key(c->name, ACME__FILE_CHAIN),
                      acme__store_cert_key(c->name, ACME__FILE_KEY) };
    const char *targets[3] = { gen, ACME__CURRENT "/" ACME__FILE_CHAIN,
                               ACME__CURRENT "/" ACME__FILE_KEY };
    /* A host key has no stable key: one left from an earlier stored key
     * would no longer match, and goes below. */
    size_t want = c->host_key ? 2 : 3, n = 0;
    const char *set_keys[3], *set_targets[3];
    int rc = keys[0] && keys[1] && keys[2] ? ACME_OK
                                           : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < want && rc == ACME_OK; i++) {
        char *have = NULL;
        acme__err probe = ACME__ERR_QUIET; /* not an alias yet (a 1.0 store): made now */
        if (acme__store_alias_target(s, keys[i], &have, &probe) != ACME_OK ||
            strcmp(have, targets[i]) != 0) {
            set_keys[n] = keys[i];
            set_targets[n++] = targets[i];
        }
        acme__err_clear(&probe);
        free(have);
    }
    if (rc == ACME_OK && n)
        rc = acme__store_alias(s, n, set_keys, set_targets, err);
    if (rc == ACME_OK && c->host_key)
        rc = acme__store_remove(s, keys[2], err);
    for (size_t i = 0; i < 3; i++)
        free(keys[i]);
    return rc;
}

int acme__stored_sync_copies(acme_store *s, const acme__stored_cert *c, acme__err *err)
{
    if (acme__store_has_alias(s)) {
        acme__err why = ACME__ERR_QUIET;
        int rc = sync_aliases(s, c, &why);
        if (rc != ACME_ERR_UNSUPPORTED)
            acme__err_forward(err, &why);
        acme__err_clear(&why);
        if (rc != ACME_ERR_UNSUPPORTED)
            return rc;
    }
    /* Copies, key first: a web server reloading between the two writes
     * then sees a new key with the old chain only if it reads during this
     * window. A stable key copy beside a host key's chain would be a stale
     * key that no longer matches: it goes. */
    int rc;
    if (c->host_key) {
        char *key = acme__store_cert_key(c->name, ACME__FILE_KEY);
        rc = key ? acme__store_remove(s, key, err)
                 : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
        free(key);
    } else {
        rc = sync_copy(s, c, ACME__FILE_KEY, 1, err);
    }
    if (rc == ACME_OK)
        rc = sync_copy(s, c, ACME__FILE_CHAIN, 0, err);
    return rc;
}

int acme__stored_save_new(acme_store *s, acme__stored_cert *c, acme__err *err)
{
    unsigned long old = c->generation;
    c->generation = old + 1;
    char *pem = NULL;
    /* A host key is never exported: its generation is the chain alone. */
    int rc = c->host_key ? ACME_OK : acme__key_to_pem(c->key, &pem, err);
    if (rc != ACME_OK) {
        c->generation = old;
        return rc;
    }
    char *key_key = current_key(c, ACME__FILE_KEY);
    char *chain_key = current_key(c, ACME__FILE_CHAIN);
    if (!key_key || !chain_key)
        rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    else if (acme__store_commit_atomic(s))
        rc = commit_generation(s, c, key_key, pem, chain_key, err);
    else {
        /* The generation's files in one call, so that a store that writes
         * them in order syncs their directory once; a host key has none. */
        const acme__store_put puts[] = {
            { chain_key, c->chain_pem, strlen(c->chain_pem), 0, 0 },
            { key_key, pem, pem ? strlen(pem) : 0, 1, 0 },
        };
        rc = acme__store_commit(s, puts, pem ? 2 : 1, err);
    }
    acme__free_secret_str(pem);
    /* The switch: until this write lands, the old generation is current. */
    if (rc == ACME_OK && !acme__store_commit_atomic(s))
        rc = meta_write(s, c, err);
    free(key_key);
    free(chain_key);
    if (rc != ACME_OK) {
        c->generation = old;
        return rc;
    }
    rc = acme__stored_sync_copies(s, c, err);
    /* Best effort: what stays is removed by the next run that loads it. */
    acme__err ignore = ACME__ERR_QUIET;
    acme__stored_prune(s, c->name, c->generation, c->keep, NULL, &ignore);
    acme__err_clear(&ignore);
    return rc;
}

/* ---- compromised keys ---------------------------------------------------- */

/* A JWK thumbprint as the library writes them: SHA-256, base64url, no
 * padding. Anything else would name no record the library ever writes. */
#define THUMBPRINT_LEN 43

static int thumbprint_check(const char *thumbprint, acme__err *err)
{
    if (!thumbprint || strlen(thumbprint) != THUMBPRINT_LEN || !acme__b64url_valid(thumbprint))
        return acme__fail(err, ACME_ERR_INVALID,
                          "store: \"%.60s\" is not a JWK thumbprint (43 base64url characters)",
                          thumbprint ? thumbprint : "(null)");
    return ACME_OK;
}

/* The RFC 7638 thumbprint of key's public key, which names its record. */
static int thumbprint_of(const acme_key *key, char **out, acme__err *err)
{
    *out = NULL;
    int rc = key ? acme__key_thumbprint(key, out) : ACME_ERR_INVALID;
    return rc == ACME_OK ? ACME_OK
                         : acme__fail(err, rc,
                                      "store: cannot compute the thumbprint of a certificate key");
}

static int record_add(acme_store *s, const char *thumbprint, const char *name,
                      const char *serial, int64_t at, acme__err *err)
{
    char *record_key = acme__store_compromised_key(thumbprint);
    if (!record_key)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    /* What the record holds is for whoever reads the store; its presence
     * is what counts. */
    acme__buf b = ACME__BUF_INIT;
    acme__buf_puts(&b, "{\"name\":");
    acme__json_put_string(&b, name ? name : "");
    acme__buf_puts(&b, ",\"serial\":");
    acme__json_put_string(&b, serial ? serial : "");
    acme__buf_printf(&b, ",\"revoked_at\":%lld}\n", (long long)at);
    int rc = acme__buf_status(&b) == ACME_OK
                 ? acme__store_write(s, record_key, b.data, b.len, 0, err)
                 : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    acme__buf_free(&b);
    free(record_key);
    return rc;
}

static int record_check(acme_store *s, const char *thumbprint, int *compromised,
                        acme__err *err)
{
    char *record_key = acme__store_compromised_key(thumbprint);
    if (!record_key)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    acme__buf b = ACME__BUF_INIT;
    acme__err probe = ACME__ERR_QUIET; /* no record is the usual answer */
    int rc = acme__store_read(s, record_key, &b, &probe);
    if (rc == ACME_OK)
        *compromised = 1;
    else if (rc == ACME_ERR_NOT_FOUND)
        rc = ACME_OK;
    else
        acme__err_forward(err, &probe);
    acme__err_clear(&probe);
    acme__buf_free(&b);
    free(record_key);
    return rc;
}

int acme__compromised_add(acme_store *s, const acme_key *key, const char *name,
                          const char *serial, int64_t at, acme__err *err)
{
    char *thumbprint;
    int rc = thumbprint_of(key, &thumbprint, err);
    if (rc == ACME_OK)
        rc = record_add(s, thumbprint, name, serial, at, err);
    free(thumbprint);
    return rc;
}

int acme__compromised_check(acme_store *s, const acme_key *key, int *compromised,
                            acme__err *err)
{
    *compromised = 0;
    char *thumbprint;
    int rc = thumbprint_of(key, &thumbprint, err);
    if (rc == ACME_OK)
        rc = record_check(s, thumbprint, compromised, err);
    free(thumbprint);
    return rc;
}

static int store_key_compromised_recorded(acme_store *s, const char *thumbprint, int *compromised,
                                          acme__err *rec)
{
    if (compromised)
        *compromised = 0;
    if (!s || !compromised)
        return acme__fail(rec, ACME_ERR_INVALID, "store: NULL argument");
    int rc = thumbprint_check(thumbprint, rec);
    return rc == ACME_OK ? record_check(s, thumbprint, compromised, rec) : rc;
}

int acme_store_key_compromised(acme_store *s, const char *thumbprint, int *compromised)
{
    acme__err e = { 0 };
    return acme__store_publish(
        s, store_key_compromised_recorded(s, thumbprint, compromised, &e), &e);
}

static int store_mark_key_compromised_recorded(acme_store *s, const char *thumbprint,
                                               const char *serial, acme__err *rec)
{
    if (!s)
        return acme__fail(rec, ACME_ERR_INVALID, "store: NULL argument");
    int rc = thumbprint_check(thumbprint, rec);
    return rc == ACME_OK ? record_add(s, thumbprint, NULL, serial, acme__now(), rec) : rc;
}

int acme_store_mark_key_compromised(acme_store *s, const char *thumbprint, const char *serial)
{
    acme__err e = { 0 };
    return acme__store_publish(
        s, store_mark_key_compromised_recorded(s, thumbprint, serial, &e), &e);
}
