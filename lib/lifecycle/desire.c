/* The desire: wanted certificates and the idempotent ensure that obtains,
 * renews and stores them, in parallel when asked. */
#include "acme/desire.h"

#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/certificate.h"
#include "acme/revoke.h"
#include "acme/order.h"
#include "store/account_store.h"
#include "base/clock.h"
#include "protocol/account.h"
#include "protocol/identifier.h"
#include "base/mem.h"
#include "base/options.h"
#include "base/problem.h"
#include "protocol/provider.h"
#include "protocol/revoke.h"
#include "crypto/key.h"
#include "lifecycle/renewal.h"
#include "solvers/solver.h"
#include "store/cert_store.h"

#define DEFAULT_PARALLEL 4
#define MAX_PARALLEL 64
#define DEFAULT_LOCK_TIMEOUT_S 60

typedef struct want {
    char *name;
    char **ids;
    size_t nids;
    int key_type;
    acme_solvers *solvers; /* a reference, or NULL */
    int force;
    int reuse_key; /* -1: as the desire's option says; else 0 or 1 */
    /* outcome of the last ensure */
    int result;
    int error;
    char message[512];
    acme_problem *problem; /* the CA's, when it failed with one (a reference) */
} want;

struct acme_desire {
    acme_provider *provider;
    acme_store *store;
    acme_solvers *solvers; /* a reference, or NULL */
    acme_desire_options o; /* string members point at the copies below */
    char *email;
    char *eab_kid;
    char *eab_hmac_key;
    char *eab_algorithm;
    char *preferred_chain;
    char *profile;
    want *wants;
    size_t nwants;
    acme_account *account;
    acme_key *account_key; /* the host's (acme_desire_set_account_key), or NULL */
    pthread_mutex_t account_lock;
    pthread_mutex_t event_lock;
    acme__err err;
};

struct acme_event {
    int type;
    const char *name;
    char *chain_key;
    char *key_key;
    char *chain_path;
    char *key_path;
    int error;
    const char *message;
    const acme_problem *problem;
};

/* The bytes of each version of acme_desire_options, oldest first: a field
 * appended as a new version appends its line (doc/ABI.md). */
ACME__OPTIONS_DEFINE(options_versions, ACME_DESIRE_OPTIONS_VERSION, "desire options",
                     "acme_desire_options_init",
                     ACME__OPTIONS_END(acme_desire_options, profile),    /* 1 */
                     ACME__OPTIONS_END(acme_desire_options, reuse_key)); /* 2 */

int acme_desire_options_init(acme_desire_options *opts, unsigned int version)
{
    return acme__options_init(&options_versions, opts, version, NULL);
}

/* ---- events ---------------------------------------------------------------- */

/* A NULL event reads as one with no fields, so that every getter is
 * NULL-safe without testing for it. */
static const acme_event no_event;

static const acme_event *event_view(const acme_event *e)
{
    return e ? e : &no_event;
}

int acme_event_get_type(const acme_event *e)
{
    return event_view(e)->type;
}

const char *acme_event_name(const acme_event *e)
{
    return event_view(e)->name;
}

const char *acme_event_chain_key(const acme_event *e)
{
    return event_view(e)->chain_key;
}

const char *acme_event_key_key(const acme_event *e)
{
    return event_view(e)->key_key;
}

const char *acme_event_chain_path(const acme_event *e)
{
    return event_view(e)->chain_path;
}

const char *acme_event_key_path(const acme_event *e)
{
    return event_view(e)->key_path;
}

int acme_event_error(const acme_event *e)
{
    return event_view(e)->error;
}

const char *acme_event_message(const acme_event *e)
{
    return e && e->message ? e->message : "";
}

const acme_problem *acme_event_problem(const acme_event *e)
{
    return event_view(e)->problem;
}

/* Tell the host; events are serialised so its callback needs no lock. */
static void emit(acme_desire *d, int type, const char *name, int error, const char *message,
                 const acme_problem *problem)
{
    if (!d->o.on_event)
        return;
    acme_event e = { type, name, NULL, NULL, NULL, NULL, error, message, problem };
    if (type != ACME_EVENT_FAILED) {
        e.chain_key = acme__store_cert_key(name, ACME__FILE_CHAIN);
        e.key_key = acme__store_cert_key(name, ACME__FILE_KEY);
        if (e.chain_key && acme__store_path(d->store, e.chain_key, &e.chain_path, NULL) != ACME_OK)
            e.chain_path = NULL;
        if (e.key_key && acme__store_path(d->store, e.key_key, &e.key_path, NULL) != ACME_OK)
            e.key_path = NULL;
    }
    pthread_mutex_lock(&d->event_lock);
    d->o.on_event(&e, d->o.event_userdata);
    pthread_mutex_unlock(&d->event_lock);
    free(e.chain_key);
    free(e.key_key);
    acme_free(e.chain_path);
    acme_free(e.key_path);
}

/* ---- setup --------------------------------------------------------------------- */

static int copy_opt(char **slot, const char *v)
{
    *slot = acme__strdup(v);
    return v && !*slot ? ACME_ERR_NOMEM : ACME_OK;
}

int acme_desire_new(acme_desire **out, acme_provider *provider, acme_store *store,
                    const acme_solvers *solvers, const acme_desire_options *opts)
{
    if (!out)
        return acme__fail(NULL, ACME_ERR_INVALID, "desire: NULL output");
    *out = NULL;
    if (!provider || !store)
        return acme__fail(NULL, ACME_ERR_INVALID, "desire: a provider and a store are required");
    acme_desire_options own;
    int rc = acme__options_copy(&options_versions, &own, sizeof(own), opts, NULL);
    if (rc != ACME_OK)
        return rc;
    opts = &own;
    acme_desire *d = calloc(1, sizeof(*d));
    if (!d)
        return acme__fail(NULL, ACME_ERR_NOMEM, "desire: out of memory");
    d->provider = acme__provider_ref(provider);
    d->store = acme__store_ref(store);
    d->solvers = acme__solvers_ref(solvers);
    d->o = own;
    pthread_mutex_init(&d->account_lock, NULL);
    pthread_mutex_init(&d->event_lock, NULL);
    rc = copy_opt(&d->email, opts->email) | copy_opt(&d->eab_kid, opts->eab_kid) |
         copy_opt(&d->eab_hmac_key, opts->eab_hmac_key) |
         copy_opt(&d->eab_algorithm, opts->eab_algorithm) |
         copy_opt(&d->preferred_chain, opts->preferred_chain) |
         copy_opt(&d->profile, opts->profile);
    if (rc != ACME_OK) {
        acme_desire_free(d);
        return acme__fail(NULL, ACME_ERR_NOMEM, "desire: out of memory");
    }
    if (!d->o.parallel)
        d->o.parallel = DEFAULT_PARALLEL;
    if (d->o.parallel > MAX_PARALLEL)
        d->o.parallel = MAX_PARALLEL;
    if (!d->o.lock_timeout_s)
        d->o.lock_timeout_s = DEFAULT_LOCK_TIMEOUT_S;
    *out = d;
    return ACME_OK;
}

static void want_clear(want *w)
{
    free(w->name);
    acme__free_strv(w->ids, w->nids);
    acme_solvers_free(w->solvers);
    acme__problem_unref(w->problem);
    memset(w, 0, sizeof(*w));
}

void acme_desire_free(acme_desire *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nwants; i++)
        want_clear(&d->wants[i]);
    free(d->wants);
    acme_account_free(d->account);
    acme_key_free(d->account_key);
    acme_provider_free(d->provider);
    acme_store_free(d->store);
    acme_solvers_free(d->solvers);
    free(d->email);
    free(d->eab_kid);
    acme__free_secret_str(d->eab_hmac_key);
    free(d->eab_algorithm);
    free(d->preferred_chain);
    free(d->profile);
    pthread_mutex_destroy(&d->account_lock);
    pthread_mutex_destroy(&d->event_lock);
    acme__err_clear(&d->err);
    free(d);
}

static want *find_want(acme_desire *d, const char *name)
{
    for (size_t i = 0; i < d->nwants; i++)
        if (strcmp(d->wants[i].name, name) == 0)
            return &d->wants[i];
    return NULL;
}

static int push_id(char ***ids, size_t *n, const char *id)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*ids)[i], id) == 0)
            return ACME_OK;
    char **grown = realloc(*ids, (*n + 1) * sizeof(char *));
    if (!grown)
        return ACME_ERR_NOMEM;
    *ids = grown;
    if (!((*ids)[*n] = acme__strdup(id)))
        return ACME_ERR_NOMEM;
    (*n)++;
    return ACME_OK;
}

/* Checked, normalised identifiers, with "www.X" bringing "X" along. */
static int wanted_ids(acme_desire *d, const char *const *in, size_t n, char ***out,
                      size_t *nout)
{
    *out = NULL;
    *nout = 0;
    int rc = ACME_OK;
    for (size_t i = 0; rc == ACME_OK && i < n; i++) {
        char *type, *value;
        rc = acme__identifier_normalize(NULL, in[i], &type, &value, &d->err);
        if (rc != ACME_OK)
            break;
        rc = push_id(out, nout, value);
        if (rc == ACME_OK && !d->o.no_www_base && strcmp(type, "dns") == 0 &&
            strncmp(value, "www.", 4) == 0 && strchr(value + 4, '.'))
            rc = push_id(out, nout, value + 4);
        if (rc == ACME_ERR_NOMEM)
            acme__fail(&d->err, rc, "out of memory");
        free(type);
        free(value);
    }
    if (rc != ACME_OK) {
        acme__free_strv(*out, *nout);
        *out = NULL;
        *nout = 0;
    }
    return rc;
}

static int add_want(acme_desire *d, const char *name, char **ids, size_t nids, int key_type,
                    const acme_solvers *solvers)
{
    want *w = find_want(d, name);
    if (!w) {
        want *grown = realloc(d->wants, (d->nwants + 1) * sizeof(*grown));
        if (!grown)
            return ACME_ERR_NOMEM;
        d->wants = grown;
        w = &d->wants[d->nwants];
        memset(w, 0, sizeof(*w));
        w->reuse_key = -1;
        if (!(w->name = acme__strdup(name)))
            return ACME_ERR_NOMEM;
        d->nwants++;
    } else {
        acme__free_strv(w->ids, w->nids);
    }
    w->ids = ids;
    w->nids = nids;
    w->key_type = key_type ? key_type : ACME_KEY_EC256;
    acme_solvers *old = w->solvers;
    w->solvers = acme__solvers_ref(solvers);
    acme_solvers_free(old);
    return ACME_OK;
}

int acme_desire_add(acme_desire *d, const char *name, const char *const *identifiers, size_t n,
                    int key_type, const acme_solvers *solvers)
{
    if (!d)
        return acme__fail(NULL, ACME_ERR_INVALID, "desire: NULL handle");
    if (!identifiers || n == 0)
        return acme__fail(&d->err, ACME_ERR_INVALID, "desire: no identifiers");
    if (key_type && !acme_key_type_name(key_type))
        return acme__fail(&d->err, ACME_ERR_INVALID, "desire: unknown key type %d", key_type);
    char **ids;
    size_t nids;
    int rc = wanted_ids(d, identifiers, n, &ids, &nids);
    if (rc != ACME_OK)
        return rc;
    char default_name[256];
    if (!name) {
        snprintf(default_name, sizeof(default_name), "%s", ids[0]);
        for (char *p = default_name; *p; p++)
            if (*p == '*' || *p == ':')
                *p = '_';
        name = default_name;
    }
    if (!acme__store_cert_name_valid(name)) {
        acme__free_strv(ids, nids);
        return acme__fail(&d->err, ACME_ERR_INVALID,
                          "desire: \"%s\" is not a usable certificate name (letters, digits, "
                          "\"._-@+\")", name);
    }
    rc = add_want(d, name, ids, nids, key_type, solvers);
    if (rc != ACME_OK) {
        acme__free_strv(ids, nids);
        return acme__fail(&d->err, rc, "out of memory");
    }
    return ACME_OK;
}

int acme_desire_name_valid(const char *name)
{
    return acme__store_cert_name_valid(name);
}

int acme_desire_add_stored(acme_desire *d, size_t *count)
{
    if (!d)
        return acme__fail(NULL, ACME_ERR_INVALID, "desire: NULL handle");
    if (count)
        *count = 0;
    char **names = NULL;
    size_t n = 0;
    int rc = acme__store_list(d->store, ACME__CERTS_DIR, &names, &n, &d->err);
    for (size_t i = 0; rc == ACME_OK && i < n; i++) {
        if (!acme__store_cert_name_valid(names[i]))
            continue;
        acme__stored_cert c;
        acme__err lerr = ACME__ERR_QUIET;
        int lrc = acme__stored_load(d->store, names[i], &c, &lerr);
        acme__err_clear(&lerr);
        char **ids = NULL;
        size_t nids = 0;
        int key_type = 0;
        if (lrc == ACME_OK) {
            ids = c.ids;
            nids = c.nids;
            key_type = c.key_type;
            c.ids = NULL;
            c.nids = 0;
            acme__stored_free(&c);
        } else if (lrc == ACME_ERR_NOT_FOUND) {
            continue; /* a directory without metadata: not a certificate */
        }
        /* A corrupt one is still wanted: ensure reports it by its path. */
        if (add_want(d, names[i], ids, nids, key_type, NULL) != ACME_OK) {
            acme__free_strv(ids, nids);
            rc = acme__fail(&d->err, ACME_ERR_NOMEM, "out of memory");
        } else if (count) {
            (*count)++;
        }
    }
    acme__free_strv(names, n);
    return rc;
}

/* Set the int member at `member` (offsetof want) of the wanted
 * certificate `name` to on != 0: what every per-name setting does. */
static int set_per_name(acme_desire *d, const char *name, size_t member, int on)
{
    if (!d || !name)
        return acme__fail(d ? &d->err : NULL, ACME_ERR_INVALID, "desire: NULL argument");
    want *w = find_want(d, name);
    if (!w)
        return acme__fail(&d->err, ACME_ERR_NOT_FOUND, "desire: no certificate called %s", name);
    *(int *)((char *)w + member) = on != 0;
    return ACME_OK;
}

int acme_desire_set_force(acme_desire *d, const char *name, int on)
{
    return set_per_name(d, name, offsetof(want, force), on);
}

int acme_desire_set_reuse_key(acme_desire *d, const char *name, int on)
{
    return set_per_name(d, name, offsetof(want, reuse_key), on);
}

/* ---- account ---------------------------------------------------------------- */

int acme_desire_set_account_key(acme_desire *d, acme_key *key)
{
    if (!d || !key)
        return acme__fail(d ? &d->err : NULL, ACME_ERR_INVALID, "desire: NULL argument");
    pthread_mutex_lock(&d->account_lock);
    int started = d->account != NULL;
    if (!started) {
        acme_key_free(d->account_key);
        d->account_key = acme__key_ref(key);
    }
    pthread_mutex_unlock(&d->account_lock);
    return started ? acme__fail(&d->err, ACME_ERR_STATE,
                                "desire: the account key is set before the first ensure")
                   : ACME_OK;
}

static int ensure_account(acme_desire *d, acme__err *err)
{
    pthread_mutex_lock(&d->account_lock);
    int rc = ACME_OK;
    if (!d->account) {
        acme_account_options reg = ACME_ACCOUNT_OPTIONS_INIT;
        const char *contacts[1] = { d->email };
        if (d->email) {
            reg.contacts = contacts;
            reg.contact_count = 1;
        }
        reg.agree_tos = d->o.agree_tos;
        reg.eab_kid = d->eab_kid;
        reg.eab_hmac_key = d->eab_hmac_key;
        reg.eab_algorithm = d->eab_algorithm;
        rc = d->account_key
                 ? acme__account_ensure_host(d->provider, d->store, d->account_key, &reg,
                                             d->o.lock_timeout_s, &d->account, err)
                 : acme__account_ensure(d->provider, d->store, d->email, &reg,
                                        d->o.account_key_type, d->o.lock_timeout_s, &d->account,
                                        err);
    }
    pthread_mutex_unlock(&d->account_lock);
    return rc;
}

int acme_desire_account(acme_desire *d, acme_account **out)
{
    if (!d || !out)
        return acme__fail(d ? &d->err : NULL, ACME_ERR_INVALID, "desire: NULL argument");
    *out = NULL;
    int rc = ensure_account(d, &d->err);
    if (rc == ACME_OK)
        *out = acme__account_ref(d->account);
    return rc;
}

/* ---- ensure one --------------------------------------------------------------- */

static int64_t now_of(const acme_desire *d)
{
    return d->o.clock ? d->o.clock(d->o.clock_userdata) : acme__now();
}

/* The same identifiers, in any order. */
static int same_ids(char **a, size_t na, char **b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++) {
        int found = 0;
        for (size_t j = 0; j < nb && !found; j++)
            found = strcmp(a[i], b[j]) == 0;
        if (!found)
            return 0;
    }
    return 1;
}

/* At least one identifier in common. */
static int share_id(char **a, size_t na, char **b, size_t nb)
{
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            if (strcmp(a[i], b[j]) == 0)
                return 1;
    return 0;
}

/* Whether the CA refused the newOrder for its "replaces": alreadyReplaced
 * (RFC 9773 5), or the 409 malformed of CAs that predate that type (Pebble
 * before 2.10, older Boulder), which would otherwise fail every renewal. */
static int replaces_refused(const acme_problem *p)
{
    return acme_problem_is(p, "alreadyReplaced") ||
           (acme_problem_is(p, "malformed") && acme_problem_status(p) == 409);
}

/* Order a certificate for w with key; when the CA refuses "replaces", once
 * more without it. */
static int order_for(acme_desire *d, want *w, acme_key *key, const char *replaces,
                     char **chain_out, acme__err *err)
{
    const acme_solvers *solvers = w->solvers ? w->solvers : d->solvers;
    if (!solvers)
        return acme__fail(err, ACME_ERR_NO_SOLVER, "no solvers were given for %s", w->name);
    for (int attempt = 0; attempt < 2; attempt++) {
        acme_order *o = NULL;
        int rc = acme_order_new(&o, d->account);
        for (size_t i = 0; rc == ACME_OK && i < w->nids; i++)
            rc = acme_order_add_identifier(o, w->ids[i]);
        if (rc == ACME_OK && replaces && attempt == 0)
            rc = acme_order_set_replaces(o, replaces);
        if (rc == ACME_OK && d->preferred_chain)
            rc = acme_order_set_preferred_chain(o, d->preferred_chain);
        if (rc == ACME_OK && d->profile)
            rc = acme_order_set_profile(o, d->profile);
        if (rc == ACME_OK && d->o.order_timeout_s)
            rc = acme_order_set_timeout(o, d->o.order_timeout_s);
        if (rc == ACME_OK)
            rc = acme_order_issue(o, solvers, key);
        if (rc == ACME_OK) {
            *chain_out = acme__strdup(acme_order_certificate_pem(o));
            acme_order_free(o);
            return *chain_out ? ACME_OK : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
        }
        const acme_problem *p = o ? acme_order_last_problem(o) : NULL;
        int retry = attempt == 0 && replaces && o && !acme_order_url(o) && replaces_refused(p);
        if (o)
            acme__fail_problem(err, rc, (acme_problem *)p, "%s", acme_order_last_error(o));
        else /* only arguments or memory fail before there is an order */
            acme__fail(err, rc, "%s: cannot create an order (%s)", w->name, acme_strerror(rc));
        acme_order_free(o);
        if (!retry)
            return rc;
        acme__log(d->provider, ACME_LOG_INFO,
                  "%s: already replaced (the CA refused \"replaces\"); ordering without it",
                  w->name);
    }
    return ACME_ERR_STATE; /* not reached */
}

static void set_outcome(want *w, int result, int error, const char *message)
{
    w->result = result;
    w->error = error;
    snprintf(w->message, sizeof(w->message), "%s", message ? message : "");
    acme__problem_unref(w->problem); /* a failure sets its own after this */
    w->problem = NULL;
}

static int ensure_want(acme_desire *d, want *w)
{
    acme__err err = { 0 };
    char why[256] = "";
    int rc = ensure_account(d, &err);
    char *lock = acme__store_cert_key(w->name, NULL);
    if (rc == ACME_OK && !lock)
        rc = acme__fail(&err, ACME_ERR_NOMEM, "out of memory");
    int locked = 0;
    if (rc == ACME_OK && (rc = acme__store_lock_wait(d->store, lock, d->o.lock_timeout_s, &err)) == ACME_OK)
        locked = 1;

    acme__stored_cert c;
    memset(&c, 0, sizeof(c));
    int have = 0, due = 0, meta_changed = 0, compromised = 0;
    if (rc == ACME_OK) {
        /* Loaded under the lock: another process may have just renewed. */
        rc = acme__stored_load(d->store, w->name, &c, &err);
        if (rc == ACME_OK)
            have = 1;
        else if (rc == ACME_ERR_NOT_FOUND)
            rc = ACME_OK;
    }
    if (rc == ACME_OK && !w->nids)
        rc = acme__fail(&err, ACME_ERR_INVALID, "%s: no identifiers wanted", w->name);
    if (rc == ACME_OK && have)
        rc = acme__compromised_check(d->store, c.key, &compromised, &err);
    int64_t now = now_of(d);
    if (rc == ACME_OK) {
        if (!have) {
            due = 1;
            snprintf(why, sizeof(why), "no certificate yet");
        } else if (c.revoked >= 0) {
            due = 1;
            snprintf(why, sizeof(why), "revoked");
        } else if (compromised) {
            /* Revoked for keyCompromise under another name, or the
             * revocation itself failed: the key must go all the same. */
            due = 1;
            snprintf(why, sizeof(why), "its key was revoked for keyCompromise");
        } else if (!same_ids(w->ids, w->nids, c.ids, c.nids)) {
            due = 1;
            snprintf(why, sizeof(why), "the wanted names changed");
        } else if (w->key_type != c.key_type) {
            due = 1;
            snprintf(why, sizeof(why), "the wanted key type changed");
        } else if (c.directory &&
                   strcmp(c.directory, acme_provider_directory_url(d->provider)) != 0) {
            /* E.g. staging then production: the host now wants this CA's. */
            due = 1;
            snprintf(why, sizeof(why), "issued by another CA (%.150s)", c.directory);
        } else if (w->force) {
            due = 1;
            snprintf(why, sizeof(why), "renewal forced");
        } else {
            due = acme__renewal_due(d->provider, &c, now, &meta_changed, why, sizeof(why));
        }
    }
    if (rc == ACME_OK && !due) {
        if (meta_changed)
            rc = acme__stored_save_meta(d->store, &c, &err);
        if (rc == ACME_OK)
            rc = acme__stored_sync_copies(d->store, &c, &err);
        if (rc == ACME_OK)
            set_outcome(w, ACME_RESULT_NOT_DUE, 0, why);
    }
    if (rc == ACME_OK && due) {
        acme__log(d->provider, ACME_LOG_INFO, "%s: ordering (%s)", w->name, why);
        acme_key *key = NULL;
        int reuse = w->reuse_key >= 0 ? w->reuse_key : d->o.reuse_key;
        int keep_key = have && reuse && !d->o.fresh_key_on_renewal && w->key_type == c.key_type;
        if (keep_key && compromised) {
            keep_key = 0;
            acme__log(d->provider, ACME_LOG_WARN,
                      "%s: the stored key was revoked for keyCompromise; using a fresh key",
                      w->name);
        }
        if (keep_key) {
            key = acme__key_ref(c.key);
        } else {
            rc = acme__key_generate(&key, w->key_type, &err);
        }
        /* "replaces" names the certificate being renewed, if the CA does ARI,
         * issued it (same directory) and the order keeps one of its names:
         * RFC 9773 5 lets a CA refuse anything else, and a refusal of the
         * field (alreadyReplaced, or an older CA's 409 malformed) is retried
         * without it. */
        const char *replaces =
            have && c.revoked < 0 && share_id(w->ids, w->nids, c.ids, c.nids) &&
                    (!c.directory ||
                     strcmp(c.directory, acme_provider_directory_url(d->provider)) == 0)
                ? c.ari_id
                : NULL;
        char *chain = NULL;
        if (rc == ACME_OK)
            rc = order_for(d, w, key, replaces, &chain, &err);
        if (rc == ACME_OK) {
            acme__stored_cert next;
            memset(&next, 0, sizeof(next));
            next.name = acme__strdup(w->name);
            next.ids = acme__strv_dup((const char *const *)w->ids, w->nids);
            next.nids = next.ids ? w->nids : 0;
            next.key_type = w->key_type;
            next.generation = have ? c.generation : 0;
            next.revoked = -1;
            next.obtained_at = now;
            next.directory = acme__strdup(acme_provider_directory_url(d->provider));
            next.key = acme__key_ref(key);
            next.chain_pem = chain;
            chain = NULL;
            if (!next.name || !next.ids || !next.directory)
                rc = acme__fail(&err, ACME_ERR_NOMEM, "out of memory");
            if (rc == ACME_OK)
                rc = acme__stored_describe(&next, &err);
            /* A CA (or a proxy) handing back the very certificate being
             * renewed would otherwise be stored as a renewal. */
            if (rc == ACME_OK && have && c.serial && next.serial &&
                strcmp(c.serial, next.serial) == 0)
                rc = acme__fail(&err, ACME_ERR_CERTIFICATE,
                                "%s: the CA returned the certificate being replaced (serial %s)",
                                w->name, c.serial);
            /* The order took time: if the lease went meanwhile, another
             * node may own the name now, so stop before writing. */
            if (rc == ACME_OK)
                rc = acme__store_lease_check(d->store, lock, &err);
            if (rc == ACME_OK)
                rc = acme__stored_save_new(d->store, &next, &err);
            acme__stored_free(&next);
        }
        free(chain);
        acme_key_free(key);
        if (rc == ACME_OK) {
            set_outcome(w, have ? ACME_RESULT_RENEWED : ACME_RESULT_OBTAINED, 0, why);
            acme__log(d->provider, ACME_LOG_INFO, "%s: %s", w->name,
                      have ? "renewed" : "obtained");
        }
    }
    if (have)
        acme__stored_free(&c);
    if (locked)
        acme__store_unlock(d->store, lock);
    free(lock);
    if (rc != ACME_OK) {
        set_outcome(w, ACME_RESULT_FAILED, rc, err.msg);
        w->problem = acme__problem_ref(err.problem);
        acme__log(d->provider, ACME_LOG_ERROR, "%s: %s", w->name, err.msg);
        emit(d, ACME_EVENT_FAILED, w->name, rc, err.msg, err.problem);
    } else if (w->result != ACME_RESULT_NOT_DUE) {
        w->force = 0;
        emit(d, w->result == ACME_RESULT_RENEWED ? ACME_EVENT_RENEWED : ACME_EVENT_OBTAINED,
             w->name, 0, NULL, NULL);
    }
    acme__err_clear(&err);
    return rc;
}

int acme_desire_ensure_one(acme_desire *d, const char *name)
{
    if (!d || !name)
        return acme__fail(d ? &d->err : NULL, ACME_ERR_INVALID, "desire: NULL argument");
    want *w = find_want(d, name);
    if (!w)
        return acme__fail(&d->err, ACME_ERR_NOT_FOUND, "desire: no certificate called %s", name);
    int rc = ensure_want(d, w);
    if (rc != ACME_OK)
        acme__fail_problem(&d->err, rc, w->problem, "%s: %s", w->name, w->message);
    return rc;
}

/* ---- ensure all, in parallel ----------------------------------------------------- */

typedef struct pool {
    acme_desire *d;
    atomic_size_t next;
} pool;

static void *worker(void *arg)
{
    pool *pl = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&pl->next, 1);
        if (i >= pl->d->nwants)
            return NULL;
        ensure_want(pl->d, &pl->d->wants[i]);
    }
}

int acme_desire_ensure(acme_desire *d)
{
    if (!d)
        return acme__fail(NULL, ACME_ERR_INVALID, "desire: NULL handle");
    for (size_t i = 0; i < d->nwants; i++)
        set_outcome(&d->wants[i], ACME_RESULT_NONE, 0, NULL);
    /* The account first, once: every certificate needs it. */
    acme__err err = { 0 };
    int rc = ensure_account(d, &err);
    if (rc != ACME_OK) {
        for (size_t i = 0; i < d->nwants; i++) {
            set_outcome(&d->wants[i], ACME_RESULT_FAILED, rc, err.msg);
            d->wants[i].problem = acme__problem_ref(err.problem);
            emit(d, ACME_EVENT_FAILED, d->wants[i].name, rc, err.msg, err.problem);
        }
        acme__err_forward(&d->err, &err);
        acme__err_clear(&err);
        return rc;
    }
    acme__err_clear(&err);

    pool pl = { d, 0 };
    /* The calling thread is one of the `parallel` workers: it starts one
     * thread fewer, so that no more certificates are in flight than asked. */
    size_t nworkers = d->o.parallel < d->nwants ? d->o.parallel : d->nwants;
    pthread_t threads[MAX_PARALLEL];
    size_t started = 0;
    for (; started + 1 < nworkers; started++)
        if (pthread_create(&threads[started], NULL, worker, &pl) != 0)
            break;
    worker(&pl); /* alone if no thread could start */
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);

    for (size_t i = 0; i < d->nwants; i++) {
        if (d->wants[i].result == ACME_RESULT_FAILED) {
            rc = acme__fail_problem(&d->err, d->wants[i].error, d->wants[i].problem, "%s: %s",
                                    d->wants[i].name, d->wants[i].message);
            break;
        }
    }
    return rc;
}

/* ---- results ----------------------------------------------------------------------- */

size_t acme_desire_count(const acme_desire *d)
{
    return d ? d->nwants : 0;
}

const char *acme_desire_name(const acme_desire *d, size_t i)
{
    return d && i < d->nwants ? d->wants[i].name : NULL;
}

int acme_desire_result(const acme_desire *d, size_t i)
{
    return d && i < d->nwants ? d->wants[i].result : ACME_RESULT_NONE;
}

const char *acme_desire_message(const acme_desire *d, size_t i)
{
    return d && i < d->nwants ? d->wants[i].message : NULL;
}

int acme_desire_error(const acme_desire *d, size_t i)
{
    return d && i < d->nwants ? d->wants[i].error : 0;
}

void acme_desire_summary(const acme_desire *d, size_t *obtained, size_t *renewed,
                         size_t *not_due, size_t *failed)
{
    /* One count per acme_result, which runs from NONE to FAILED. */
    size_t counts[ACME_RESULT_FAILED + 1] = { 0 };
    for (size_t i = 0; d && i < d->nwants; i++)
        if (d->wants[i].result >= ACME_RESULT_NONE && d->wants[i].result <= ACME_RESULT_FAILED)
            counts[d->wants[i].result]++;
    if (obtained)
        *obtained = counts[ACME_RESULT_OBTAINED];
    if (renewed)
        *renewed = counts[ACME_RESULT_RENEWED];
    if (not_due)
        *not_due = counts[ACME_RESULT_NOT_DUE];
    if (failed)
        *failed = counts[ACME_RESULT_FAILED];
}

const char *acme_desire_last_error(const acme_desire *d)
{
    return d ? d->err.msg : "";
}

const acme_problem *acme_desire_last_problem(const acme_desire *d)
{
    return d ? d->err.problem : NULL;
}

/* ---- revocation --------------------------------------------------------------------- */

int acme_desire_revoke(acme_desire *d, const char *name, int reason, int with_cert_key)
{
    if (!d || !name)
        return acme__fail(d ? &d->err : NULL, ACME_ERR_INVALID, "revoke: NULL argument");
    acme__stored_cert c;
    int rc = acme__stored_load(d->store, name, &c, &d->err);
    if (rc == ACME_ERR_NOT_FOUND)
        return acme__fail(&d->err, rc, "revoke: no stored certificate called %s", name);
    if (rc != ACME_OK)
        return rc;
    /* A compromised key is recorded whatever the CA answers: a refusal (or
     * no answer) makes the key no safer. The request still goes out if
     * the record cannot be written. */
    acme__err record_err = { 0 };
    int record_rc = ACME_OK;
    if (reason == ACME_REASON_KEY_COMPROMISE)
        record_rc = acme__compromised_add(d->store, c.key, name, c.serial, now_of(d),
                                          &record_err);
    if (with_cert_key) {
        rc = acme__revoke_with_key(d->provider, c.key, c.chain_pem, reason, &d->err);
    } else {
        rc = ensure_account(d, &d->err); /* records its own failure */
        if (rc == ACME_OK) {
            rc = acme_account_revoke(d->account, c.chain_pem, reason);
            if (rc != ACME_OK) /* the account's record has the CA's answer */
                acme__err_forward(&d->err, acme__account_err(d->account));
        }
    }
    if (rc == ACME_OK && record_rc != ACME_OK)
        rc = acme__err_forward(&d->err, &record_err);
    acme__err_clear(&record_err);
    if (rc == ACME_OK) {
        c.revoked = reason;
        rc = acme__stored_save_meta(d->store, &c, &d->err);
    }
    acme__stored_free(&c);
    if (rc == ACME_OK)
        emit(d, ACME_EVENT_REVOKED, name, 0, NULL, NULL);
    return rc;
}
