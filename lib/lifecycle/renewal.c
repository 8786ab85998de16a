/* When to renew: ARI (RFC 9773) when the CA offers renewalInfo, else a
 * share of the certificate's lifetime. */
#include "lifecycle/renewal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "net/json.h"
#include "protocol/provider.h"
#include "base/mem.h"
#include "base/rng.h"
#include "store/store_layout.h"

/* RFC 9773 4.3: Retry-After below a minute counts as a minute, above a day
 * as a day; without one, check again in six hours. */
#define ARI_MIN_RETRY ACME__MINUTE_S
#define ARI_MAX_RETRY ACME__DAY_S
#define ARI_DEFAULT_RETRY (6 * ACME__HOUR_S)
/* After a failed renewalInfo check: soon enough to see the CA recover, not
 * so soon that every run asks a CA that is down. */
#define ARI_FAILED_RETRY ACME__HOUR_S
/* Room for the name of the rule that decides, in the log. */
#define RULE_LEN 96
/* Short-lived certificates (under ten days) renew at half their life. */
#define SHORT_LIVED (10 * ACME__DAY_S)

/* A uniformly random moment in [start, end). */
static int64_t random_in(int64_t start, int64_t end)
{
    uint64_t r = 0;
    if (end <= start || acme__rng(NULL, (unsigned char *)&r, sizeof(r)) != 0)
        return start;
    return start + (int64_t)(r % (uint64_t)(end - start));
}

int acme__ari_parse(yajl_val v, const char *url, int64_t *start, int64_t *end, acme__err *err)
{
    yajl_val w = acme__json_object(v, "suggestedWindow");
    if (acme__parse_rfc3339(acme__json_string(w, "start"), start) != 0 ||
        acme__parse_rfc3339(acme__json_string(w, "end"), end) != 0)
        return acme__fail(err, ACME_ERR_PROTOCOL,
                          "renewalInfo%s%s: suggestedWindow start/end missing or malformed",
                          url ? " " : "", url ? url : "");
    if (*end <= *start)
        /* 4.2: such a window is to be treated as no answer at all. */
        return acme__fail(err, ACME_ERR_PROTOCOL,
                          "renewalInfo%s%s: the window ends before it starts", url ? " " : "",
                          url ? url : "");
    return ACME_OK;
}

int acme__renewal_fetch_ari(acme_provider *p, acme__stored_cert *c, int64_t now, acme__err *err)
{
    const char *base = acme_provider_endpoint(p, "renewalInfo");
    if (!base || !*base || !c->ari_id) /* "" would make base[-1] below */
        return ACME_ERR_UNSUPPORTED;
    char url[2048];
    snprintf(url, sizeof(url), "%s%s%s", base, base[strlen(base) - 1] == '/' ? "" : "/",
             c->ari_id);
    acme__response res;
    int rc = acme__provider_get(p, url, 0, &res, err);
    yajl_val v = NULL;
    if (rc == ACME_OK)
        rc = acme__provider_json(&res, "renewalInfo", &v, err);
    int64_t start = 0, end = 0;
    if (rc == ACME_OK)
        rc = acme__ari_parse(v, url, &start, &end, err);
    int64_t retry = ARI_DEFAULT_RETRY;
    if (rc == ACME_OK && res.retry_after &&
        acme__http_parse_retry_after(res.retry_after, now, &retry) == ACME_OK) {
        if (retry < ARI_MIN_RETRY)
            retry = ARI_MIN_RETRY;
        if (retry > ARI_MAX_RETRY)
            retry = ARI_MAX_RETRY;
    }
    acme__json_free(v);
    acme__response_free(&res);
    if (rc != ACME_OK)
        return rc;
    /* A new window gets a new random moment; the same window keeps it, so
     * that repeated checks do not drift towards its start. */
    if (start != c->ari_start || end != c->ari_end || c->ari_renew_at < start ||
        c->ari_renew_at >= end) {
        c->ari_start = start;
        c->ari_end = end;
        c->ari_renew_at = random_in(start, end);
    }
    c->ari_next_check = now + retry;
    acme__log(p, ACME_LOG_DEBUG, "renewalInfo %s: window %lld..%lld, renew at %lld, next check %lld",
              c->name, (long long)start, (long long)end, (long long)c->ari_renew_at,
              (long long)c->ari_next_check);
    return ACME_OK;
}

/* The lifetime rule's renewal moment. */
static int64_t lifetime_renew_at(const acme__stored_cert *c)
{
    int64_t life = c->not_after - c->not_before;
    return c->not_after - (life < SHORT_LIVED ? life / 2 : life / 3);
}

static int64_t earlier(int64_t a, int64_t b)
{
    return b < a ? b : a;
}

int64_t acme__renewal_next(acme_provider *p, const acme__stored_cert *c)
{
    int ari = c->ari_id && (!p || acme_provider_endpoint(p, "renewalInfo"));
    int window = ari && c->ari_end > c->ari_start;
    int64_t next = c->not_after;
    if (ari)
        next = earlier(next, c->ari_next_check);
    if (window)
        next = earlier(next, c->ari_renew_at);
    /* The lifetime rule decides without a window, and may decide when the
     * CA is not known. */
    if (!window || !p)
        next = earlier(next, lifetime_renew_at(c));
    return next;
}

int acme__renewal_due(acme_provider *p, acme__stored_cert *c, int64_t now, int *meta_changed,
                      char *why, size_t why_size)
{
    *meta_changed = 0;
    if (now >= c->not_after) {
        snprintf(why, why_size, "expired");
        return 1;
    }
    if (acme_provider_endpoint(p, "renewalInfo") && c->ari_id) {
        if (now >= c->ari_next_check) {
            acme__err err = ACME__ERR_QUIET; /* a fallback, reported in the log */
            int rc = acme__renewal_fetch_ari(p, c, now, &err);
            if (rc == ACME_OK) {
                *meta_changed = 1;
            } else {
                /* A window from an earlier answer, when there is one, still
                 * decides below: the log says which rule is used. */
                char rule[RULE_LEN] = "the lifetime rule";
                if (c->ari_end > c->ari_start)
                    snprintf(rule, sizeof(rule), "the stored ARI window %lld..%lld",
                             (long long)c->ari_start, (long long)c->ari_end);
                acme__log(p, ACME_LOG_WARN, "%s: renewalInfo unavailable (%s); using %s", c->name,
                          err.msg[0] ? err.msg : acme_strerror(rc), rule);
                c->ari_next_check = now + ARI_FAILED_RETRY;
                *meta_changed = 1;
            }
            acme__err_clear(&err);
        }
        if (c->ari_end > c->ari_start) {
            if (now >= c->ari_renew_at) {
                snprintf(why, why_size, "inside the CA's renewal window (ARI)");
                return 1;
            }
            snprintf(why, why_size, "not due: renewal at %lld (ARI window)",
                     (long long)c->ari_renew_at);
            return 0;
        }
    }
    int64_t life = c->not_after - c->not_before;
    int64_t renew_at = lifetime_renew_at(c);
    if (now >= renew_at) {
        snprintf(why, why_size, "less than %s of its lifetime left",
                 life < SHORT_LIVED ? "half" : "a third");
        return 1;
    }
    snprintf(why, why_size, "not due: renewal at %lld", (long long)renew_at);
    return 0;
}

/* ---- the schedule index ---------------------------------------------------- */

void acme__idle_free(acme__idle *ctx)
{
    free(ctx->dirs);
    free(ctx->bad_keys);
    memset(ctx, 0, sizeof(*ctx));
}

int acme__idle_init(acme__idle *ctx, acme_store *s, const char *const *dirs, size_t ndirs,
                    int64_t now, acme__err *err)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->now = now;
    char **keys = NULL;
    size_t nkeys = 0;
    int rc = acme__store_list(s, ACME__COMPROMISED_DIR, &keys, &nkeys, err);
    if (rc == ACME_OK && ((ndirs && !(ctx->dirs = calloc(ndirs, sizeof(*ctx->dirs)))) ||
                          (nkeys && !(ctx->bad_keys = calloc(nkeys, sizeof(*ctx->bad_keys))))))
        rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == ACME_OK && i < ndirs; i++)
        ctx->dirs[ctx->ndirs++] = acme__store_hash(ACME__STORE_HASH_INIT, dirs[i] ? dirs[i] : "");
    for (size_t i = 0; rc == ACME_OK && i < nkeys; i++)
        ctx->bad_keys[ctx->nbad++] = acme__store_hash(ACME__STORE_HASH_INIT, keys[i]);
    acme__free_strv(keys, nkeys);
    if (rc != ACME_OK)
        acme__idle_free(ctx);
    return rc;
}

static int among(uint64_t x, const uint64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return 1;
    return 0;
}

int acme__idle_skip(const acme__idle *ctx, const acme__sched_entry *e, char *const *ids,
                    size_t nids, int key_type, int as_stored, const char *profile,
                    int profile_any)
{
    if (!e || ctx->now >= e->next || !among(e->dir_fp, ctx->dirs, ctx->ndirs) ||
        (e->key_fp && among(e->key_fp, ctx->bad_keys, ctx->nbad)))
        return 0;
    /* Another wanted profile reissues: the record decides, not the index. */
    if (!profile_any && e->profile_fp != acme__sched_profile_fp(profile))
        return 0;
    return as_stored || (e->key_type == key_type && e->ids_fp == acme__sched_ids_fp(ids, nids));
}

void acme__idle_record(acme_store *s, acme_provider *p, const acme__stored_cert *c,
                       unsigned int lock_timeout_s)
{
    acme__sched_entry e;
    acme__err err = ACME__ERR_QUIET;
    int64_t next = c->revoked >= 0 ? 0 : acme__renewal_next(p, c);
    if (acme__sched_entry_of(c, next, &e, &err) != ACME_OK ||
        acme__sched_update(s, c->name, &e, lock_timeout_s, &err) != ACME_OK)
        acme__log(p, ACME_LOG_WARN, "%s: schedule index not updated (%s); it looks due next time",
                  c->name, err.msg);
    acme__err_clear(&err);
}

void acme__idle_forget(acme_store *s, acme_provider *p, const char *name, int64_t now,
                       unsigned int lock_timeout_s)
{
    acme__err err = ACME__ERR_QUIET;
    if (acme__sched_mark_due(s, name, now, lock_timeout_s, &err) != ACME_OK)
        acme__log(p, ACME_LOG_WARN, "%s: schedule index entry not marked due (%s)", name,
                  err.msg);
    acme__err_clear(&err);
}
