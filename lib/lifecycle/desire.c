/* The desire: wanted certificates and the idempotent ensure that obtains,
 * renews and stores them, in parallel when asked. */
#include "acme/desire.h"

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
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
#include "lifecycle/guard.h"
#include "crypto/x509.h"
#include "lifecycle/renewal.h"
#include "solvers/solver.h"
#include "store/cert_store.h"
#include "store/retention.h"
#include "store/schedule.h"
#include "store/store_layout.h"

#define DEFAULT_PARALLEL 4
#define MAX_PARALLEL 64
#define DEFAULT_LOCK_TIMEOUT_S 60
#define DEFAULT_BACKOFF_BASE_S 300
#define DEFAULT_BACKOFF_MAX_S 86400
/* Well below Let's Encrypt's pause after 1152 consecutive failures. */
#define DEFAULT_HOLD_AFTER 20
#define DEFAULT_BREAKER_CA 3
#define DEFAULT_BREAKER_VALIDATION 5
#define DEFAULT_ORDER_TIMEOUT_S 300
/* Fallback issuers a desire holds at most. */
#define MAX_ISSUERS 8
/* want.stored of a name acme_desire_ensure_stored added as due: the next
 * call may drop it (it is no want of the host's). */
#define STORED_DUE 2

/* Fields ordered so that no padding sits between them: a desire may hold a
 * million. */
typedef struct want {
    char *name;
    char **ids;
    size_t nids;
    acme_solvers *solvers; /* a reference, or NULL */
    int force;
    int reuse_key; /* -1: as the desire's option says; else 0 or 1 */
    acme_key *host_key; /* acme_desire_set_key: a reference, or NULL */
    int key_type;
    /* From acme_desire_add_stored (1), or from acme_desire_ensure_stored
     * reading what is due (STORED_DUE): identifiers and key type as stored
     * (ids may be NULL until ensure loads the record). */
    int stored;
    int idle; /* this ensure left it alone on its schedule index entry */
    /* Its own profile once set (acme_desire_set_profile or the store),
     * else the desire's option, which is mandatory. */
    int profile_set;
    char *profile;
    int profile_mandatory;
    /* outcome of the last ensure */
    int result;
    int error;
    int message_owned;
    /* Never NULL once an outcome is set: an owned copy (message_owned), or
     * a shared constant, so that a million names left alone by an idle
     * ensure hold no text of their own. */
    const char *message;
    acme_problem *problem; /* the CA's, when it failed with one (a reference) */
} want;

/* A fallback issuer (acme_desire_add_issuer()); the desire's own provider
 * and account are issuer 0. */
typedef struct issuer {
    acme_provider *provider; /* a reference */
    char *email;             /* NULL: the desire's */
    char *eab_kid;
    char *eab_hmac_key;
    acme_account *account;
    pthread_mutex_t lock;
} issuer;

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
    size_t capwants;
    /* Wanted names to their index + 1 (0: free), open addressing: a desire
     * of a million stored names finds each in constant time. */
    unsigned int *slots;
    size_t nslots; /* a power of two, at least twice nwants */
    acme_account *account;
    acme_key *account_key; /* the host's (acme_desire_set_account_key), or NULL */
    pthread_mutex_t account_lock;
    pthread_mutex_t event_lock;
    issuer *issuers;        /* the fallbacks, in order */
    size_t nissuers;
    acme__breaker *breaker; /* one per issuer, during acme_desire_ensure() only */
    size_t unseen; /* names the last ensure left alone without a want (not due) */
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
                     ACME__OPTIONS_END(acme_desire_options, reuse_key),  /* 2 */
                     ACME__OPTIONS_END(acme_desire_options, deadline_s),  /* 3 */
                     ACME__OPTIONS_END(acme_desire_options, keep_generations)); /* 4 */

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

/* Tell the host; events are serialised so its callback needs no lock.
 * no_key: the certificate's key is the host's, so no key file exists. */
static void emit_event(acme_desire *d, int type, const char *name, int no_key, int error,
                       const char *message, const acme_problem *problem)
{
    if (!d->o.on_event)
        return;
    acme_event e = { type, name, NULL, NULL, NULL, NULL, error, message, problem };
    if (type != ACME_EVENT_FAILED && type != ACME_EVENT_SKIPPED) {
        e.chain_key = acme__store_cert_key(name, ACME__FILE_CHAIN);
        e.key_key = no_key ? NULL : acme__store_cert_key(name, ACME__FILE_KEY);
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

static want *find_want(acme_desire *d, const char *name);

static void emit(acme_desire *d, int type, const char *name, int error, const char *message,
                 const acme_problem *problem)
{
    want *w = find_want(d, name);
    emit_event(d, type, name, w && w->host_key, error, message, problem);
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
    if (!d->o.backoff_base_s)
        d->o.backoff_base_s = DEFAULT_BACKOFF_BASE_S;
    if (!d->o.backoff_max_s)
        d->o.backoff_max_s = DEFAULT_BACKOFF_MAX_S;
    if (d->o.backoff_max_s < d->o.backoff_base_s)
        d->o.backoff_max_s = d->o.backoff_base_s;
    if (!d->o.hold_after)
        d->o.hold_after = DEFAULT_HOLD_AFTER;
    if (!d->o.breaker_ca)
        d->o.breaker_ca = DEFAULT_BREAKER_CA;
    if (!d->o.breaker_validation)
        d->o.breaker_validation = DEFAULT_BREAKER_VALIDATION;
    *out = d;
    return ACME_OK;
}

static void want_clear(want *w)
{
    if (w->message_owned)
        free((char *)w->message);
    free(w->name);
    acme__free_strv(w->ids, w->nids);
    free(w->profile);
    acme_solvers_free(w->solvers);
    acme__problem_unref(w->problem);
    acme_key_free(w->host_key);
    memset(w, 0, sizeof(*w));
}

void acme_desire_free(acme_desire *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nwants; i++)
        want_clear(&d->wants[i]);
    free(d->wants);
    free(d->slots);
    for (size_t i = 0; i < d->nissuers; i++) {
        issuer *is = &d->issuers[i];
        acme_account_free(is->account);
        acme_provider_free(is->provider);
        free(is->email);
        free(is->eab_kid);
        acme__free_secret_str(is->eab_hmac_key);
        pthread_mutex_destroy(&is->lock);
    }
    free(d->issuers);
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

/* The slot of name: its want's, or the free one where it would go. */
static unsigned int *name_slot(unsigned int *slots, size_t nslots, const want *wants,
                               const char *name)
{
    size_t i = (size_t)acme__store_hash(ACME__STORE_HASH_INIT, name) & (nslots - 1);
    while (slots[i] && strcmp(wants[slots[i] - 1].name, name) != 0)
        i = (i + 1) & (nslots - 1);
    return &slots[i];
}

static want *find_want(acme_desire *d, const char *name)
{
    if (!d->nslots)
        return NULL;
    unsigned int *slot = name_slot(d->slots, d->nslots, d->wants, name);
    return *slot ? &d->wants[*slot - 1] : NULL;
}

/* Room for one more want, in the array and the table of names. */
static int grow_wants(acme_desire *d)
{
    if (d->nwants == d->capwants) {
        size_t cap = d->capwants ? d->capwants * 2 : 8;
        want *grown = realloc(d->wants, cap * sizeof(*grown));
        if (!grown)
            return ACME_ERR_NOMEM;
        d->wants = grown;
        d->capwants = cap;
    }
    if (d->nwants >= UINT_MAX - 1)
        return ACME_ERR_NOMEM;
    if ((d->nwants + 1) * 2 > d->nslots) {
        size_t n = d->nslots ? d->nslots * 2 : 16;
        unsigned int *slots = calloc(n, sizeof(*slots));
        if (!slots)
            return ACME_ERR_NOMEM;
        for (size_t i = 0; i < d->nwants; i++)
            *name_slot(slots, n, d->wants, d->wants[i].name) = (unsigned int)i + 1;
        free(d->slots);
        d->slots = slots;
        d->nslots = n;
    }
    return ACME_OK;
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

/* With *take non-NULL (a copy of name), a new want keeps it rather than a
 * copy of its own (*take is then NULL). */
static int add_want(acme_desire *d, const char *name, char **take, char **ids, size_t nids,
                    int key_type, const acme_solvers *solvers)
{
    want *w = find_want(d, name);
    if (!w) {
        if (grow_wants(d) != ACME_OK)
            return ACME_ERR_NOMEM;
        w = &d->wants[d->nwants];
        memset(w, 0, sizeof(*w));
        w->reuse_key = -1;
        w->name = take && *take ? *take : acme__strdup(name);
        if (!w->name)
            return ACME_ERR_NOMEM;
        if (take)
            *take = NULL;
        *name_slot(d->slots, d->nslots, d->wants, name) = (unsigned int)++d->nwants;
    } else {
        acme__free_strv(w->ids, w->nids);
    }
    w->ids = ids;
    w->nids = nids;
    w->stored = 0;
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
    rc = add_want(d, name, NULL, ids, nids, key_type, solvers);
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

static int64_t next_look(const acme__stored_cert *c, void *userdata);

/* acme_desire_add_stored's walk over the schedule index. */
typedef struct stored_walk {
    acme_desire *d;
    char **names;
    const acme__sched_entry **found; /* borrowed only during the visit */
    int *key_type;                   /* an entry's key type, 0: no entry */
} stored_walk;

static const char *walk_name(size_t i, void *userdata)
{
    return ((stored_walk *)userdata)->names[i];
}

static void walk_visit(size_t i, const acme__sched_entry *e, void *userdata)
{
    ((stored_walk *)userdata)->key_type[i] = e ? e->key_type : 0;
}

int acme_desire_add_stored(acme_desire *d, size_t *count)
{
    if (!d)
        return acme__fail(NULL, ACME_ERR_INVALID, "desire: NULL handle");
    if (count)
        *count = 0;
    char **names = NULL;
    size_t n = 0, valid = 0;
    int rc = acme__store_list(d->store, ACME__CERTS_DIR, &names, &n, &d->err);
    for (size_t i = 0; rc == ACME_OK && i < n; i++)
        if (acme__store_cert_name_valid(names[i]))
            names[valid++] = names[i];
        else
            free(names[i]);
    n = valid;
    /* A name with an index entry has a record: it is wanted as stored
     * without reading it (ensure reads it only if it is due). */
    stored_walk sw = { d, names, NULL, NULL };
    if (rc == ACME_OK && n && !(sw.key_type = calloc(n, sizeof(*sw.key_type))))
        rc = acme__fail(&d->err, ACME_ERR_NOMEM, "out of memory");
    if (rc == ACME_OK && n) {
        acme__err quiet = ACME__ERR_QUIET; /* without the index, every record is read */
        acme__sched_visit(d->store, n, walk_name, walk_visit, &sw, next_look, d,
                          d->o.lock_timeout_s, &quiet);
        acme__err_clear(&quiet);
    }
    for (size_t i = 0; rc == ACME_OK && i < n; i++) {
        char **ids = NULL;
        size_t nids = 0;
        int key_type = sw.key_type[i];
        char *profile = NULL; /* kept on renewal; indexed names adopt it at ensure */
        int mandatory = 0;
        if (!key_type) {
            acme__stored_cert c;
            acme__err lerr = ACME__ERR_QUIET;
            int lrc = acme__stored_load(d->store, names[i], &c, &lerr);
            acme__err_clear(&lerr);
            if (lrc == ACME_OK) {
                ids = c.ids;
                nids = c.nids;
                key_type = c.key_type;
                profile = c.profile;
                mandatory = c.profile_mandatory;
                c.ids = NULL;
                c.nids = 0;
                c.profile = NULL;
                acme__stored_free(&c);
            } else if (lrc == ACME_ERR_NOT_FOUND) {
                continue; /* a directory without metadata: not a certificate */
            }
        }
        /* A corrupt one is still wanted: ensure reports it by its path. */
        /* The listed name becomes the want's: one copy of a million names. */
        char *name = names[i];
        if (add_want(d, name, &names[i], ids, nids, key_type, NULL) != ACME_OK) {
            acme__free_strv(ids, nids);
            rc = acme__fail(&d->err, ACME_ERR_NOMEM, "out of memory");
        } else {
            want *w = find_want(d, name);
            w->stored = 1;
            if (profile) {
                free(w->profile);
                w->profile = profile;
                w->profile_mandatory = mandatory;
                w->profile_set = 1;
                profile = NULL;
            }
            if (count)
                (*count)++;
        }
        free(profile);
    }
    free(sw.key_type);
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
    if (w->stored == STORED_DUE)
        w->stored = 1; /* the host's own now */
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

int acme_desire_set_key(acme_desire *d, const char *name, acme_key *key)
{
    if (!d || !name)
        return acme__fail(d ? &d->err : NULL, ACME_ERR_INVALID, "desire: NULL argument");
    want *w = find_want(d, name);
    if (!w)
        return acme__fail(&d->err, ACME_ERR_NOT_FOUND, "desire: no certificate called %s", name);
    acme_key *old = w->host_key;
    if (w->stored == STORED_DUE)
        w->stored = 1; /* the host's own now */
    w->host_key = acme__key_ref(key);
    acme_key_free(old);
    return ACME_OK;
}

int acme_desire_set_profile(acme_desire *d, const char *name, const char *profile,
                            int mandatory)
{
    int rc = set_per_name(d, name, offsetof(want, profile_set), 1);
    if (rc != ACME_OK)
        return rc;
    want *w = find_want(d, name);
    char *copy = NULL;
    if (profile && !(copy = acme__strdup(profile)))
        return acme__fail(&d->err, ACME_ERR_NOMEM, "out of memory");
    free(w->profile);
    w->profile = copy;
    w->profile_mandatory = profile && mandatory;
    return ACME_OK;
}

/* The profile to order w with, and whether the CA must list it. */
static const char *want_profile(const acme_desire *d, const want *w, int *mandatory)
{
    *mandatory = w->profile_set ? w->profile_mandatory : d->profile != NULL;
    return w->profile_set ? w->profile : d->profile;
}

/* draft-ietf-acme-profiles: the directory says which profiles there are,
 * so a required one that is missing fails w before any request. */
static int profile_refused(const acme_desire *d, const want *w)
{
    int mandatory;
    const char *profile = want_profile(d, w, &mandatory);
    return profile && mandatory && !acme_provider_has_profile(d->provider, profile);
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

/* The account of `email` at provider p in *account, loaded, recovered or
 * registered once (under lock). */
static int account_for(acme_desire *d, acme_provider *p, const char *email, const char *eab_kid,
                       const char *eab_hmac_key, pthread_mutex_t *lock, acme_account **account,
                       acme__err *err)
{
    pthread_mutex_lock(lock);
    int rc = ACME_OK;
    if (!*account) {
        acme_account_options reg = ACME_ACCOUNT_OPTIONS_INIT;
        const char *contacts[1] = { email };
        if (email) {
            reg.contacts = contacts;
            reg.contact_count = 1;
        }
        reg.agree_tos = d->o.agree_tos;
        reg.eab_kid = eab_kid;
        reg.eab_hmac_key = eab_hmac_key;
        reg.eab_algorithm = d->eab_algorithm;
        rc = d->account_key
                 ? acme__account_ensure_host(p, d->store, d->account_key, &reg,
                                             d->o.lock_timeout_s, account, err)
                 : acme__account_ensure(p, d->store, email, &reg, d->o.account_key_type,
                                        d->o.lock_timeout_s, account, err);
    }
    pthread_mutex_unlock(lock);
    return rc;
}

static int ensure_account(acme_desire *d, acme__err *err)
{
    return account_for(d, d->provider, d->email, d->eab_kid, d->eab_hmac_key, &d->account_lock,
                       &d->account, err);
}

/* ---- issuers ------------------------------------------------------------------ */

static acme_provider *issuer_provider(const acme_desire *d, size_t k)
{
    return k ? d->issuers[k - 1].provider : d->provider;
}

static long issuer_of(const acme_desire *d, const char *url);

/* The issuer of url, the desire's own when none is. */
static size_t issuer_index(const acme_desire *d, const char *url)
{
    long k = issuer_of(d, url);
    return k > 0 ? (size_t)k : 0;
}

/* When a record rebuilt into the schedule index is looked at next: as its
 * issuer (known to the desire) decides. */
static int64_t next_look(const acme__stored_cert *c, void *userdata)
{
    const acme_desire *d = userdata;
    return acme__renewal_next(issuer_provider(d, issuer_index(d, c->directory)), c);
}

static const char *issuer_email(const acme_desire *d, size_t k)
{
    return k && d->issuers[k - 1].email ? d->issuers[k - 1].email : d->email;
}

/* The issuer whose directory is url, or -1 for none of them. */
static long issuer_of(const acme_desire *d, const char *url)
{
    for (size_t k = 0; url && k <= d->nissuers; k++)
        if (strcmp(url, acme_provider_directory_url(issuer_provider(d, k))) == 0)
            return (long)k;
    return -1;
}

static int issuer_account(acme_desire *d, size_t k, acme_account **out, acme__err *err)
{
    int rc;
    if (k == 0) {
        rc = ensure_account(d, err);
        *out = d->account;
    } else {
        issuer *is = &d->issuers[k - 1];
        rc = account_for(d, is->provider, issuer_email(d, k), is->eab_kid, is->eab_hmac_key,
                         &is->lock, &is->account, err);
        *out = is->account;
    }
    return rc;
}

int acme_desire_add_issuer(acme_desire *d, acme_provider *provider, const char *email,
                           const char *eab_kid, const char *eab_hmac_key)
{
    if (!d || !provider)
        return acme__fail(d ? &d->err : NULL, ACME_ERR_INVALID, "desire: NULL argument");
    if (!eab_kid != !eab_hmac_key)
        return acme__fail(&d->err, ACME_ERR_INVALID,
                          "desire: an issuer's EAB needs both the key id and the MAC key");
    if (d->nissuers >= MAX_ISSUERS)
        return acme__fail(&d->err, ACME_ERR_INVALID, "desire: at most %d other issuers",
                          MAX_ISSUERS);
    if (issuer_of(d, acme_provider_directory_url(provider)) >= 0)
        return acme__fail(&d->err, ACME_ERR_INVALID, "desire: %s is an issuer already",
                          acme_provider_directory_url(provider));
    issuer *v = realloc(d->issuers, (d->nissuers + 1) * sizeof(*v));
    if (!v)
        return acme__fail(&d->err, ACME_ERR_NOMEM, "desire: out of memory");
    d->issuers = v;
    issuer *is = &v[d->nissuers];
    memset(is, 0, sizeof(*is));
    if (copy_opt(&is->email, email) | copy_opt(&is->eab_kid, eab_kid) |
        copy_opt(&is->eab_hmac_key, eab_hmac_key)) {
        free(is->email);
        free(is->eab_kid);
        acme__free_secret_str(is->eab_hmac_key);
        return acme__fail(&d->err, ACME_ERR_NOMEM, "desire: out of memory");
    }
    is->provider = acme__provider_ref(provider);
    pthread_mutex_init(&is->lock, NULL);
    d->nissuers++;
    return ACME_OK;
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

/* The order's timeout: the option's, cut to what is left of the ensure's
 * deadline (0: the library's default). */
static unsigned int order_timeout(const acme_desire *d)
{
    unsigned int t = d->o.order_timeout_s;
    if (!d->breaker || !d->breaker->deadline)
        return t;
    int64_t left = d->breaker->deadline - acme__now();
    if (left < 1)
        left = 1;
    if (!t)
        t = DEFAULT_ORDER_TIMEOUT_S;
    return left < (int64_t)t ? (unsigned int)left : t;
}

/* Order a certificate for w with key; when the CA refuses "replaces", once
 * more without it. */
static int order_for(acme_desire *d, want *w, acme_account *account, acme_key *key,
                     const char *replaces, char **chain_out, acme__err *err)
{
    const acme_solvers *solvers = w->solvers ? w->solvers : d->solvers;
    if (!solvers)
        return acme__fail(err, ACME_ERR_NO_SOLVER, "no solvers were given for %s", w->name);
    for (int attempt = 0; attempt < 2; attempt++) {
        acme_order *o = NULL;
        int rc = acme_order_new(&o, account);
        for (size_t i = 0; rc == ACME_OK && i < w->nids; i++)
            rc = acme_order_add_identifier(o, w->ids[i]);
        if (rc == ACME_OK && replaces && attempt == 0)
            rc = acme_order_set_replaces(o, replaces);
        if (rc == ACME_OK && d->preferred_chain)
            rc = acme_order_set_preferred_chain(o, d->preferred_chain);
        int mandatory;
        const char *profile = want_profile(d, w, &mandatory);
        if (rc == ACME_OK && profile)
            rc = mandatory ? acme_order_set_profile(o, profile)
                           : acme_order_set_profile_preferred(o, profile);
        unsigned int timeout_s = order_timeout(d);
        if (rc == ACME_OK && timeout_s)
            rc = acme_order_set_timeout(o, timeout_s);
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

/* Longest outcome message kept. */
#define MESSAGE_MAX 511

static void set_message(want *w, const char *message, int shared)
{
    if (w->message_owned)
        free((char *)w->message);
    char *copy = shared || !message || !*message
                     ? NULL
                     : acme__strndup(message, strnlen(message, MESSAGE_MAX));
    w->message = copy ? copy : shared && message ? message : "";
    w->message_owned = copy != NULL;
}

static void set_outcome(want *w, int result, int error, const char *message)
{
    w->result = result;
    w->error = error;
    set_message(w, message, 0);
    acme__problem_unref(w->problem); /* a failure sets its own after this */
    w->problem = NULL;
}

/* Record the outcome of an order from issuer k for later runs. Only
 * logged when the store refuses: the outcome itself stands. */
static void remember(acme_desire *d, want *w, size_t k, int rc, const acme__err *err,
                     int64_t now)
{
    const acme__backoff_conf conf = { d->o.backoff_base_s, d->o.backoff_max_s, d->o.hold_after };
    acme__err rerr = ACME__ERR_QUIET;
    if (acme__guard_record(d->store, w->name, acme_provider_directory_url(issuer_provider(d, k)),
                           issuer_email(d, k), &conf, rc, err->problem, err->msg, now,
                           &rerr) != ACME_OK)
        acme__log(d->provider, ACME_LOG_WARN, "%s: cannot record the outcome: %s", w->name,
                  rerr.msg);
    acme__err_clear(&rerr);
}

/* What ordering needs to know of the stored certificate being replaced. */
typedef struct renewing {
    const acme__stored_cert *c; /* NULL: none stored */
    int compromised;
    int ari_window;
} renewing;

/* The key for w's next certificate: the stored one when it is to be kept,
 * else a fresh one. */
static int make_key(acme_desire *d, want *w, const renewing *rn, acme_key **key, acme__err *err)
{
    const acme__stored_cert *c = rn->c;
    if (w->host_key) {
        *key = acme__key_ref(w->host_key); /* the same key at every renewal */
        return ACME_OK;
    }
    int reuse = w->reuse_key >= 0 ? w->reuse_key : d->o.reuse_key;
    int keep_key = c && reuse && !d->o.fresh_key_on_renewal && w->key_type == c->key_type;
    if (keep_key && rn->compromised) {
        keep_key = 0;
        acme__log(d->provider, ACME_LOG_WARN,
                  "%s: the stored key was revoked for keyCompromise; using a fresh key", w->name);
    }
    if (keep_key) {
        *key = acme__key_ref(c->key);
        return ACME_OK;
    }
    return acme__key_generate(key, w->key_type, err);
}

/* Order w from the first issuer that can serve it: one that is not
 * rate-limited and whose breaker is closed, falling over to the next when
 * one refuses for a reason of its own. ACME_OK with *chain and *used (the
 * issuer); 1 when no issuer could be asked (the outcome set: skipped); or
 * the error of the last attempt. */
static int order_any(acme_desire *d, want *w, const renewing *rn, int64_t now, acme_key **key,
                     char **chain, size_t *used, acme__err *err)
{
    char first_why[ACME__RECORD_TEXT] = "";
    int first_error = 0, attempted = 0, rc = ACME_OK;
    const acme__stored_cert *c = rn->c;
    for (size_t k = 0; k <= d->nissuers; k++) {
        const char *dir = acme_provider_directory_url(issuer_provider(d, k));
        char why[ACME__RECORD_TEXT];
        int error = 0;
        int r = acme__guard_rate_limit(d->store, dir, issuer_email(d, k), rn->ari_window, now,
                                       &error, why, sizeof(why), err);
        if (r < 0)
            return r;
        if (r == 0 && d->breaker) {
            error = acme__breaker_enter(&d->breaker[k], why, sizeof(why));
            r = error != ACME_OK;
        }
        if (r) {
            if (!first_why[0]) {
                snprintf(first_why, sizeof(first_why), "%s", why);
                first_error = error;
            }
            if (k < d->nissuers)
                acme__log(d->provider, ACME_LOG_WARN, "%s: not asking %s: %s", w->name, dir, why);
            continue;
        }
        acme_account *account = NULL;
        rc = issuer_account(d, k, &account, err);
        if (rc == ACME_OK && !*key)
            rc = make_key(d, w, rn, key, err);
        /* "replaces" names the certificate being renewed, if the CA does ARI,
         * issued it (same directory) and the order keeps one of its names:
         * RFC 9773 5 lets a CA refuse anything else, and a refusal of the
         * field (alreadyReplaced, or an older CA's 409 malformed) is retried
         * without it. */
        const char *replaces = c && c->revoked < 0 && share_id(w->ids, w->nids, c->ids, c->nids) &&
                                       (!c->directory || strcmp(c->directory, dir) == 0)
                                   ? c->ari_id
                                   : NULL;
        if (rc == ACME_OK)
            rc = order_for(d, w, account, *key, replaces, chain, err);
        if (d->breaker)
            acme__breaker_done(&d->breaker[k], rc, err->problem, err->msg);
        attempted = 1;
        remember(d, w, k, rc, err, now);
        if (rc == ACME_OK) {
            *used = k;
            return ACME_OK;
        }
        if (k == d->nissuers || !acme__issuer_refused(rc, err->problem))
            return rc;
        acme__log(d->provider, ACME_LOG_WARN, "%s: %s failed (%s); trying the next issuer",
                  w->name, dir, err->msg);
    }
    if (attempted)
        return rc;
    set_outcome(w, ACME_RESULT_SKIPPED, first_error, first_why);
    return 1;
}

/* A host key recorded as compromised is refused before anything is sent:
 * the library cannot make the host a new one. */
static int host_key_usable(acme_desire *d, const want *w, acme__err *err)
{
    int compromised = 0;
    int rc = w->host_key ? acme__compromised_check(d->store, w->host_key, &compromised, err)
                         : ACME_OK;
    if (rc == ACME_OK && compromised)
        rc = acme__fail(err, ACME_ERR_INVALID,
                        "%s: the host's certificate key was revoked for keyCompromise (recorded "
                        "in the store under " ACME__COMPROMISED_DIR "/); give this name another "
                        "key with acme_desire_set_key",
                        w->name);
    return rc;
}

/* Whether the stored chain's leaf holds key. */
static int chain_holds(const char *chain_pem, acme_key *key)
{
    acme_cert *cert = NULL;
    acme__err quiet = ACME__ERR_QUIET;
    int rc = acme__cert_parse(&cert, chain_pem, strlen(chain_pem), key, &quiet);
    acme__err_clear(&quiet);
    acme_cert_free(cert);
    return rc == ACME_OK;
}

/* Ensure one want under its name's lock. With busy non-NULL the lock is
 * only tried: when another process or node holds it, *busy is set and the
 * want is left as it was (no outcome, no event) for a later call that
 * waits. */
static int ensure_want(acme_desire *d, want *w, int *busy)
{
    acme__err err = { 0 };
    char why[256] = "";
    /* The key's type is the host key's when the host brings it. */
    acme_key *host = w->host_key;
    int key_type = host ? acme_key_get_type(host) : w->key_type;
    int profile_mandatory;
    const char *profile = want_profile(d, w, &profile_mandatory);
    int rc = host_key_usable(d, w, &err);
    if (rc == ACME_OK && profile_refused(d, w))
        rc = acme__fail(&err, ACME_ERR_UNSUPPORTED,
                        "%s: the CA offers no profile \"%s\", which is required", w->name,
                        profile);
    /* With other issuers, the first one's account is made when it is asked. */
    if (rc == ACME_OK && !d->nissuers)
        rc = ensure_account(d, &err);
    char *lock = acme__store_cert_key(w->name, NULL);
    if (rc == ACME_OK && !lock)
        rc = acme__fail(&err, ACME_ERR_NOMEM, "out of memory");
    int locked = 0;
    if (rc == ACME_OK && busy) {
        /* Any failure but a busy lock is met again, and reported, below. */
        acme__err probe = ACME__ERR_QUIET;
        int r = acme__store_lock(d->store, lock, &probe);
        acme__err_clear(&probe);
        if (r == ACME_ERR_LOCKED) {
            *busy = 1;
            free(lock);
            acme__err_clear(&err);
            return ACME_OK;
        }
        locked = r == ACME_OK;
    }
    if (rc == ACME_OK && !locked &&
        (rc = acme__store_lock_wait(d->store, lock, d->o.lock_timeout_s, &err)) == ACME_OK)
        locked = 1;

    acme__stored_cert c;
    memset(&c, 0, sizeof(c));
    int have = 0, due = 0, meta_changed = 0, compromised = 0, ari_window = 0, skipped = 0;
    if (rc == ACME_OK) {
        /* Loaded under the lock: another process may have just renewed. */
        rc = acme__stored_load(d->store, w->name, &c, &err);
        if (rc == ACME_OK)
            have = 1;
        else if (rc == ACME_ERR_NOT_FOUND)
            rc = ACME_OK;
    }
    if (rc == ACME_OK && !have && w->stored == STORED_DUE) {
        /* An entry without a record (a first issuance that never landed, a
         * record removed): nothing is stored under this name. */
        acme__err ignore = ACME__ERR_QUIET;
        acme__sched_update(d->store, w->name, NULL, d->o.lock_timeout_s, &ignore);
        acme__err_clear(&ignore);
        set_outcome(w, ACME_RESULT_NONE, 0, "not stored (its schedule index entry was removed)");
        rc = ACME_OK;
        goto done;
    }
    if (have && w->stored && !w->profile_set && c.profile) {
        /* Wanted as stored and read from the index, not the record: the
         * stored profile is kept, as acme_desire_add_stored does. */
        free(w->profile);
        w->profile = acme__strdup(c.profile);
        w->profile_mandatory = c.profile_mandatory;
        w->profile_set = w->profile != NULL;
        profile = want_profile(d, w, &profile_mandatory);
    }
    if (have && w->stored && !w->nids) {
        /* Wanted as stored: what it holds is what is wanted. */
        w->ids = acme__strv_dup((const char *const *)c.ids, c.nids);
        w->nids = w->ids ? c.nids : 0;
        w->key_type = c.key_type;
        if (!host)
            key_type = c.key_type;
    }
    if (have) {
        /* Under the lock, nobody writes a generation: what an interrupted
         * run left goes, never the current or the previous one. */
        unsigned int keep = d->o.keep_generations > 2 ? d->o.keep_generations : 2;
        acme__err ignore = ACME__ERR_QUIET;
        acme__stored_prune(d->store, w->name, c.generation, keep, NULL, &ignore);
        acme__err_clear(&ignore);
    }
    if (rc == ACME_OK && !w->nids)
        rc = acme__fail(&err, ACME_ERR_INVALID, "%s: no identifiers wanted", w->name);
    /* A stored host-key certificate has no key of its own (c.key NULL): its
     * key is the host's, checked above. */
    if (rc == ACME_OK && have && c.key)
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
        } else if (key_type != c.key_type) {
            due = 1;
            snprintf(why, sizeof(why), "the wanted key type changed");
        } else if (host && !c.host_key) {
            due = 1;
            snprintf(why, sizeof(why), "the certificate key is now the host's");
        } else if (host && !chain_holds(c.chain_pem, host)) {
            due = 1;
            snprintf(why, sizeof(why), "the host's certificate key changed");
        } else if (c.directory && issuer_of(d, c.directory) < 0) {
            /* E.g. staging then production: the host now wants this CA's. */
            due = 1;
            snprintf(why, sizeof(why), "issued by another CA (%.150s)", c.directory);
        } else if (profile ? !c.profile || strcmp(profile, c.profile) != 0 : c.profile != NULL) {
            due = 1;
            snprintf(why, sizeof(why), "the wanted profile changed (%.60s, was %.60s)",
                     profile ? profile : "none", c.profile ? c.profile : "none");
        } else if (w->force) {
            due = 1;
            snprintf(why, sizeof(why), "renewal forced");
        } else {
            due = acme__renewal_due(issuer_provider(d, issuer_index(d, c.directory)), &c, now,
                                    &meta_changed, why, sizeof(why));
            ari_window = due && c.ari_start > 0 && now >= c.ari_start;
        }
    }
    if (rc == ACME_OK && !due) {
        if (meta_changed)
            rc = acme__stored_save_meta(d->store, &c, &err);
        if (rc == ACME_OK)
            rc = acme__stored_sync_copies(d->store, &c, &err);
        if (rc == ACME_OK) {
            /* Loaded while not due: its index entry was missing or stale. */
            acme__idle_record(d->store, issuer_provider(d, issuer_index(d, c.directory)), &c,
                              d->o.lock_timeout_s);
            set_outcome(w, ACME_RESULT_NOT_DUE, 0, why);
        }
    }
    if (rc == ACME_OK && due) {
        char skip_why[ACME__RECORD_TEXT];
        int skip_error = 0;
        int r = acme__guard_backoff(d->store, w->name, w->force, now, &skip_error, skip_why,
                                    sizeof(skip_why), &err);
        if (r < 0)
            rc = r;
        else if (r > 0)
            set_outcome(w, ACME_RESULT_SKIPPED, skip_error, skip_why);
        skipped = r > 0;
    }
    if (rc == ACME_OK && due && !skipped && !host && have && c.host_key)
        /* Never a generated key in place of the host's without a word:
         * the host forgot its key rather than meant to drop it. */
        rc = acme__fail(&err, ACME_ERR_STATE,
                        "%s: due (%s), but its certificate key is the host's and none was "
                        "given (acme_desire_set_key)",
                        w->name, why);
    if (rc == ACME_OK && due && !skipped) {
        acme__log(d->provider, ACME_LOG_INFO, "%s: ordering (%s)", w->name, why);
        acme_key *key = NULL;
        const renewing rn = { have ? &c : NULL, compromised, ari_window };
        char *chain = NULL;
        size_t used = 0;
        rc = order_any(d, w, &rn, now, &key, &chain, &used, &err);
        if (rc == 1) {
            skipped = 1;
            rc = ACME_OK;
        }
        if (rc == ACME_OK && !skipped) {
            acme__stored_cert next;
            memset(&next, 0, sizeof(next));
            next.name = acme__strdup(w->name);
            next.ids = acme__strv_dup((const char *const *)w->ids, w->nids);
            next.nids = next.ids ? w->nids : 0;
            next.key_type = key_type;
            next.host_key = host != NULL;
            next.generation = have ? c.generation : 0;
            next.keep = d->o.keep_generations;
            next.revoked = -1;
            next.obtained_at = now;
            next.directory = acme__strdup(acme_provider_directory_url(issuer_provider(d, used)));
            next.profile = profile ? acme__strdup(profile) : NULL;
            next.profile_mandatory = profile_mandatory;
            next.key = acme__key_ref(key);
            next.chain_pem = chain;
            chain = NULL;
            if (!next.name || !next.ids || !next.directory || (profile && !next.profile))
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
            if (rc == ACME_OK) {
                acme__idle_forget(d->store, d->provider, w->name, now, d->o.lock_timeout_s);
                rc = acme__stored_save_new(d->store, &next, &err);
            }
            /* After the switch (and the sweep of what it dropped). */
            if (rc == ACME_OK)
                acme__idle_record(d->store, issuer_provider(d, used), &next,
                                  d->o.lock_timeout_s);
            acme__stored_free(&next);
        }
        free(chain);
        acme_key_free(key);
        if (rc == ACME_OK && !skipped && profile &&
            !acme_provider_has_profile(issuer_provider(d, used), profile)) {
            /* Only a preferred profile gets here: the host hears of it. */
            size_t len = strlen(why);
            snprintf(why + len, sizeof(why) - len,
                     "; the CA offers no profile \"%.60s\": ordered without it", profile);
        }
        if (rc == ACME_OK && !skipped) {
            set_outcome(w, have ? ACME_RESULT_RENEWED : ACME_RESULT_OBTAINED, 0, why);
            acme__log(d->provider, ACME_LOG_INFO, "%s: %s", w->name,
                      have ? "renewed" : "obtained");
        }
    }
done:
    if (have)
        acme__stored_free(&c);
    if (locked)
        acme__store_unlock(d->store, lock);
    free(lock);
    if (w->result == ACME_RESULT_NONE && rc == ACME_OK && !skipped) {
        acme__err_clear(&err);
        return rc;
    }
    if (skipped) {
        acme__log(d->provider, ACME_LOG_WARN, "%s: skipped: %s", w->name, w->message);
        emit(d, ACME_EVENT_SKIPPED, w->name, w->error, w->message, NULL);
    } else if (rc != ACME_OK) {
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
    int rc = ensure_want(d, w, NULL);
    if (rc != ACME_OK)
        acme__fail_problem(&d->err, rc, w->problem, "%s: %s", w->name, w->message);
    return rc;
}

/* ---- ensure all, in parallel ----------------------------------------------------- */

/* Names are taken in order, each only if its lock is free: one whose lock
 * another process or node holds is being ensured there, so the worker goes
 * on to the next and the busy ones wait at the back. Once every name has
 * been tried, the busy ones are ensured as acme_desire_ensure_one() does,
 * waiting for their locks: nothing is skipped, and nodes sharing a store
 * spread the orders between them instead of queueing on the same lock. */
typedef struct pool {
    acme_desire *d;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t next;    /* the next want to try */
    size_t *busy;   /* wants found busy, in the order found */
    size_t nbusy, capbusy;
    size_t retried; /* busy ones taken again */
    size_t trying;  /* workers trying a want: each may add a busy one */
} pool;

/* The schedule index lets ensure leave alone every name it says is not
 * due (store/schedule.h), without opening its record. */
#define IDLE_MESSAGE "not due (schedule index)"
typedef struct idle_walk {
    acme_desire *d;
    acme__idle ctx;
} idle_walk;

static const char *idle_name(size_t i, void *userdata)
{
    return ((idle_walk *)userdata)->d->wants[i].name;
}

static void idle_visit(size_t i, const acme__sched_entry *e, void *userdata)
{
    idle_walk *iw = userdata;
    want *w = &iw->d->wants[i];
    /* A name wanted as stored, with no profile asked for, keeps the stored
     * one; any other must want the profile the entry records. */
    int mandatory;
    const char *profile = want_profile(iw->d, w, &mandatory);
    int profile_any = w->stored && !w->profile_set && !iw->d->profile;
    if (w->force || w->host_key ||
        !acme__idle_skip(&iw->ctx, e, w->ids, w->nids, w->key_type, w->stored && !w->nids,
                         profile, profile_any))
        return;
    set_outcome(w, ACME_RESULT_NOT_DUE, 0, NULL);
    set_message(w, IDLE_MESSAGE, 1);
    w->idle = 1;
}

/* The index's view of d at `now`: its issuers' directories and the
 * compromised keys (lifecycle/renewal.c). */
static int idle_init(acme_desire *d, acme__idle *ctx, int64_t now, acme__err *err)
{
    const char *dirs[1 + MAX_ISSUERS];
    size_t ndirs = 0;
    for (size_t k = 0; k <= d->nissuers; k++)
        dirs[ndirs++] = acme_provider_directory_url(issuer_provider(d, k));
    return acme__idle_init(ctx, d->store, dirs, ndirs, now, err);
}

/* Best effort: without the index every name is looked at. */
static void idle_pass(acme_desire *d)
{
    idle_walk iw = { d, { 0 } };
    acme__err quiet = ACME__ERR_QUIET;
    if (idle_init(d, &iw.ctx, now_of(d), &quiet) == ACME_OK) {
        acme__sched_visit(d->store, d->nwants, idle_name, idle_visit, &iw, next_look, d,
                          d->o.lock_timeout_s, &quiet);
        acme__idle_free(&iw.ctx);
    }
    acme__err_clear(&quiet);
}

/* With pl->mu held: keep want i for the retry; 0 when out of memory. */
static int busy_push(pool *pl, size_t i)
{
    if (pl->nbusy == pl->capbusy) {
        size_t cap = pl->capbusy ? pl->capbusy * 2 : 16;
        size_t *grown = realloc(pl->busy, cap * sizeof(*grown));
        if (!grown)
            return 0;
        pl->busy = grown;
        pl->capbusy = cap;
    }
    pl->busy[pl->nbusy++] = i;
    return 1;
}

static void *worker(void *arg)
{
    pool *pl = arg;
    acme_desire *d = pl->d;
    pthread_mutex_lock(&pl->mu);
    for (;;) {
        if (pl->next < d->nwants) {
            size_t i = pl->next++;
            if (d->wants[i].idle)
                continue;
            pl->trying++;
            pthread_mutex_unlock(&pl->mu);
            int busy = 0;
            ensure_want(d, &d->wants[i], &busy);
            pthread_mutex_lock(&pl->mu);
            pl->trying--;
            if (busy && !busy_push(pl, i)) {
                /* No room to keep it for later: it waits now. */
                pthread_mutex_unlock(&pl->mu);
                ensure_want(d, &d->wants[i], NULL);
                pthread_mutex_lock(&pl->mu);
            }
            pthread_cond_broadcast(&pl->cv);
        } else if (pl->retried < pl->nbusy) {
            size_t i = pl->busy[pl->retried++];
            pthread_mutex_unlock(&pl->mu);
            ensure_want(d, &d->wants[i], NULL);
            pthread_mutex_lock(&pl->mu);
        } else if (pl->trying) {
            /* A name still being tried may yet turn out busy. */
            pthread_cond_wait(&pl->cv, &pl->mu);
        } else {
            pthread_mutex_unlock(&pl->mu);
            return NULL;
        }
    }
}

/* Ensure every want, after an idle pass over the index when `idle`. */
static int ensure_all(acme_desire *d, int idle)
{
    for (size_t i = 0; i < d->nwants; i++) {
        set_outcome(&d->wants[i], ACME_RESULT_NONE, 0, NULL);
        d->wants[i].idle = 0;
    }
    /* The account first, once: every certificate needs it, unless none
     * can be ordered at all. */
    size_t orderable = 0;
    for (size_t i = 0; i < d->nwants; i++)
        orderable += !profile_refused(d, &d->wants[i]);
    acme__err err = { 0 };
    int rc = orderable ? ensure_account(d, &err) : ACME_OK;
    if (rc != ACME_OK && d->nissuers) {
        /* The other issuers may serve; the first is asked again per name
         * until its breaker opens. */
        acme__log(d->provider, ACME_LOG_WARN, "account at %s: %s; trying the other issuers",
                  acme_provider_directory_url(d->provider), err.msg);
        rc = ACME_OK;
    }
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
    if (idle)
        idle_pass(d);

    acme__breaker breakers[1 + MAX_ISSUERS];
    size_t nbreakers = d->nissuers + 1;
    int64_t deadline = d->o.deadline_s ? acme__now() + d->o.deadline_s : 0;
    for (size_t k = 0; k < nbreakers; k++)
        acme__breaker_init(&breakers[k], d->o.breaker_ca, d->o.breaker_validation, deadline);
    d->breaker = breakers;
    pool pl;
    memset(&pl, 0, sizeof(pl));
    pl.d = d;
    pthread_mutex_init(&pl.mu, NULL);
    pthread_cond_init(&pl.cv, NULL);
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
    free(pl.busy);
    pthread_cond_destroy(&pl.cv);
    pthread_mutex_destroy(&pl.mu);
    d->breaker = NULL;
    for (size_t k = 0; k < nbreakers; k++)
        acme__breaker_destroy(&breakers[k]);

    for (int pass = 0; pass < 2 && rc == ACME_OK; pass++) {
        int result = pass == 0 ? ACME_RESULT_FAILED : ACME_RESULT_SKIPPED;
        for (size_t i = 0; i < d->nwants; i++) {
            if (d->wants[i].result == result) {
                rc = acme__fail_problem(&d->err, d->wants[i].error, d->wants[i].problem,
                                        "%s: %s", d->wants[i].name, d->wants[i].message);
                break;
            }
        }
    }
    return rc;
}

int acme_desire_ensure(acme_desire *d)
{
    if (!d)
        return acme__fail(NULL, ACME_ERR_INVALID, "desire: NULL handle");
    d->unseen = 0;
    return ensure_all(d, 1);
}

/* ---- ensure what is stored, reading what is due ------------------------------------ */

/* The fingerprint of the compromised keys as the summary records it. */
static uint64_t bad_fp_of(const acme__idle *ctx)
{
    return acme__sched_bad_fp(ctx->bad_keys, ctx->nbad);
}

/* Drop every want (all STORED_DUE: the caller checked). */
static void drop_wants(acme_desire *d)
{
    for (size_t i = 0; i < d->nwants; i++)
        want_clear(&d->wants[i]);
    d->nwants = 0;
    if (d->slots)
        memset(d->slots, 0, d->nslots * sizeof(*d->slots));
}

/* Can the fast path serve this desire? 1 yes, 0 no (full pass). */
static int fast_usable(const acme_desire *d, const acme__idle *ctx, const acme__sched_due *sum)
{
    if (d->profile || sum->state != ACME__DUE_COMPLETE || sum->bad_fp != bad_fp_of(ctx))
        return 0;
    for (size_t i = 0; i < d->nwants; i++) {
        const want *w = &d->wants[i];
        if (w->stored != STORED_DUE || w->force || w->host_key || w->reuse_key >= 0 ||
            w->solvers)
            return 0;
    }
    /* Every CA the entries name must be one of the desire's: another's
     * certificate is due, and the summary cannot say where it is. */
    for (size_t i = 0; i < sum->ndirs; i++) {
        int found = 0;
        for (size_t k = 0; k < ctx->ndirs && !found; k++)
            found = ctx->dirs[k] == sum->dirs[i];
        if (!found)
            return 0;
    }
    return 1;
}

/* The due names of shard k as wants (STORED_DUE); the others counted unseen. */
static int take_due(acme_desire *d, const acme__idle *ctx, unsigned int k, uint32_t counted,
                    int *any, acme__err *err)
{
    acme__sched_shard sh;
    int rc = acme__sched_load(d->store, k, &sh, err);
    if (rc == ACME_ERR_NOT_FOUND && !counted) /* none yet */
        return ACME_OK;
    for (size_t i = 0; rc == ACME_OK && i < sh.n; i++) {
        const acme__sched_entry *e = &sh.v[i];
        if (acme__idle_skip(ctx, e, NULL, 0, 0, 1, NULL, 1)) {
            d->unseen++;
            continue;
        }
        *any = 1;
        char *name = acme__strdup(e->name);
        if (!name || add_want(d, name, &name, NULL, 0, e->key_type, NULL) != ACME_OK) {
            free(name);
            rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
            break;
        }
        find_want(d, e->name)->stored = STORED_DUE;
    }
    acme__sched_shard_free(&sh);
    return rc;
}

int acme_desire_ensure_stored(acme_desire *d)
{
    if (!d)
        return acme__fail(NULL, ACME_ERR_INVALID, "desire: NULL handle");
    d->unseen = 0;
    int64_t now = now_of(d);
    acme__idle ctx;
    acme__sched_due *sum = malloc(sizeof(*sum));
    acme__err quiet = ACME__ERR_QUIET;
    int have_ctx = idle_init(d, &ctx, now, &quiet) == ACME_OK;
    int fast = sum && have_ctx && acme__sched_due_load(d->store, sum, &quiet) == ACME_OK &&
               fast_usable(d, &ctx, sum);
    acme__err_clear(&quiet);
    int rc = ACME_OK;
    if (fast) {
        drop_wants(d);
        acme__log(d->provider, ACME_LOG_DEBUG, "ensure stored: reading what is due only");
        for (unsigned int k = 0; fast && k < ACME__SCHEDULE_SHARDS; k++) {
            if (sum->set[k] && sum->next[k] > now) {
                d->unseen += sum->count[k];
                continue;
            }
            int any = 0;
            if (take_due(d, &ctx, k, sum->count[k], &any, &quiet) != ACME_OK)
                fast = 0; /* a shard that does not read: the full pass decides */
            else if (!any) /* its slot was early (a crash, a build): set it right */
                acme__sched_due_fix(d->store, k, d->o.lock_timeout_s, &quiet);
            acme__err_clear(&quiet);
        }
        if (fast)
            rc = ensure_all(d, 0);
        else
            drop_wants(d);
    }
    if (!fast) {
        /* The full pass: every stored name, then the summary again. */
        d->unseen = 0;
        acme__log(d->provider, ACME_LOG_DEBUG, "ensure stored: a full pass");
        /* Without wants of the host's, the names it adds are this call's
         * own, as the fast path's are: the next call drops them and can be
         * fast. */
        int own = 1;
        for (size_t i = 0; i < d->nwants; i++)
            own &= d->wants[i].stored == STORED_DUE;
        if (own)
            drop_wants(d);
        rc = acme_desire_add_stored(d, NULL);
        if (rc == ACME_OK) {
            rc = ensure_all(d, 1);
            for (size_t i = 0; own && i < d->nwants; i++)
                d->wants[i].stored = STORED_DUE;
            int clean = have_ctx;
            for (size_t i = 0; i < d->nwants; i++)
                clean &= d->wants[i].result != ACME_RESULT_FAILED &&
                         d->wants[i].result != ACME_RESULT_SKIPPED;
            if (have_ctx) {
                acme__sched_due_build(d->store, bad_fp_of(&ctx), clean, d->o.lock_timeout_s,
                                      &quiet);
                acme__err_clear(&quiet);
            }
        }
    }
    if (have_ctx)
        acme__idle_free(&ctx);
    free(sum);
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
    if (!d || i >= d->nwants)
        return NULL;
    return d->wants[i].message ? d->wants[i].message : "";
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
    if (not_due) /* with the names left alone unseen (acme_desire_ensure_stored) */
        *not_due = counts[ACME_RESULT_NOT_DUE] + (d ? d->unseen : 0);
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
    /* A host-key certificate has no stored key: its key is the one the host
     * set for the name, which must be the certificate's. */
    acme_key *cert_key = c.key;
    int host_key = c.host_key;
    if (host_key) {
        want *w = find_want(d, name);
        cert_key = w ? w->host_key : NULL;
        if (cert_key && !chain_holds(c.chain_pem, cert_key))
            rc = acme__fail(&d->err, ACME_ERR_CERTIFICATE,
                            "revoke: the key set for %s (acme_desire_set_key) is not the key of "
                            "its certificate",
                            name);
        else if (!cert_key && (with_cert_key || reason == ACME_REASON_KEY_COMPROMISE))
            rc = acme__fail(&d->err, ACME_ERR_STATE,
                            "revoke: the certificate key of %s is the host's; give it with "
                            "acme_desire_set_key to %s",
                            name, with_cert_key ? "sign with it" : "record it as compromised");
        if (rc != ACME_OK) {
            acme__stored_free(&c);
            return rc;
        }
    }
    /* A compromised key is recorded whatever the CA answers: a refusal (or
     * no answer) makes the key no safer. The request still goes out if
     * the record cannot be written. */
    acme__err record_err = { 0 };
    int record_rc = ACME_OK;
    if (reason == ACME_REASON_KEY_COMPROMISE)
        record_rc = acme__compromised_add(d->store, cert_key, name, c.serial, now_of(d),
                                          &record_err);
    if (with_cert_key) {
        rc = acme__revoke_with_key(d->provider, cert_key, c.chain_pem, reason, &d->err);
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
        /* Without an entry the name looks due: the next ensure replaces it. */
        acme__idle_forget(d->store, d->provider, name, now_of(d), d->o.lock_timeout_s);
        rc = acme__stored_save_meta(d->store, &c, &d->err);
    }
    acme__stored_free(&c);
    if (rc == ACME_OK)
        emit_event(d, ACME_EVENT_REVOKED, name, host_key, 0, NULL, NULL);
    return rc;
}
