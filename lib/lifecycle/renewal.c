/* When to renew: ARI (RFC 9773) when the CA offers renewalInfo, else a
 * share of the certificate's lifetime. */
#include "lifecycle/renewal.h"

#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "net/json.h"
#include "protocol/provider.h"
#include "base/rng.h"

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
    int64_t renew_at = c->not_after - (life < SHORT_LIVED ? life / 2 : life / 3);
    if (now >= renew_at) {
        snprintf(why, why_size, "less than %s of its lifetime left",
                 life < SHORT_LIVED ? "half" : "a third");
        return 1;
    }
    snprintf(why, why_size, "not due: renewal at %lld", (long long)renew_at);
    return 0;
}
