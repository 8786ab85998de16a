/* Failure causes, backoff, rate limits and the circuit breaker
 * (lifecycle/guard.h). */
#include "lifecycle/guard.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/problem.h"
#include "base/rng.h"

static const char urn[] = "urn:ietf:params:acme:error:";

int acme__cause_of(int rc, const acme_problem *p)
{
    if (acme_problem_is(p, "rateLimited"))
        return ACME__CAUSE_RATE_LIMIT;
    if (rc == ACME_ERR_NETWORK || rc == ACME_ERR_TIMEOUT || rc == ACME_ERR_TLS ||
        acme_problem_is(p, "serverInternal") || acme_problem_status(p) >= 500)
        return ACME__CAUSE_CA;
    if (rc == ACME_ERR_HTTP || rc == ACME_ERR_PROTOCOL || rc == ACME_ERR_TOO_LARGE)
        return ACME__CAUSE_CA; /* a broken reply is the CA's (or a proxy's) */
    if (rc == ACME_ERR_VALIDATION)
        return ACME__CAUSE_VALIDATION;
    return ACME__CAUSE_NAME;
}

int64_t acme__backoff_delay(unsigned int failures, unsigned int base_s, unsigned int max_s,
                            uint32_t random)
{
    int64_t d = base_s ? base_s : 1;
    for (unsigned int i = 1; i < failures && d < (int64_t)max_s; i++)
        d *= 2;
    if (d > (int64_t)max_s)
        d = max_s;
    int64_t jitter = d / 4;
    return d - (jitter ? (int64_t)(random % (uint64_t)(jitter + 1)) : 0);
}

/* Copy the run of URL characters at s into out. */
static void copy_url(const char *s, char *out, size_t size)
{
    size_t n = strcspn(s, " \t\r\n\"'<>),;");
    if (n >= size)
        n = size - 1;
    memcpy(out, s, n);
    out[n] = '\0';
    /* A sentence's full stop is not part of the URL. */
    while (n && out[n - 1] == '.')
        out[--n] = '\0';
}

void acme__rate_limit_from_problem(const acme_problem *p, int64_t now, int64_t default_s,
                                   acme__rate_limit *out)
{
    memset(out, 0, sizeof(*out));
    int64_t delay;
    if (acme__problem_retry_after(p, &delay) != ACME_OK || delay <= 0)
        delay = default_s;
    out->recorded_at = now;
    out->until = now + delay;
    const char *detail = acme_problem_detail(p);
    snprintf(out->detail, sizeof(out->detail), "%s", detail ? detail : "");
    for (const char *s = detail; s && (s = strstr(s, "https://")) != NULL; s += 8) {
        char url[ACME__RECORD_TEXT];
        copy_url(s, url, sizeof(url));
        const char *frag = strchr(url, '#');
        if (strstr(url, "unpause") && !out->unpause[0])
            snprintf(out->unpause, sizeof(out->unpause), "%s", url);
        else if (frag && frag[1] && strstr(url, "rate-limits") && !out->limit[0])
            snprintf(out->limit, sizeof(out->limit), "%s", frag + 1);
    }
}

/* "2026-01-01 12:00 UTC" */
static void format_time(int64_t t, char *out, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(out, size, "%lld", (long long)t);
}

int acme__issuer_refused(int rc, const acme_problem *p)
{
    static const char *const policy[] = { "caa", "rejectedIdentifier", "unsupportedIdentifier",
                                          "externalAccountRequired", "userActionRequired",
                                          "accountDoesNotExist", "unsupportedContact" };
    int cause = acme__cause_of(rc, p);
    if (cause == ACME__CAUSE_CA || cause == ACME__CAUSE_RATE_LIMIT)
        return 1;
    for (size_t i = 0; i < sizeof(policy) / sizeof(policy[0]); i++) {
        if (acme_problem_is(p, policy[i]))
            return 1;
        for (size_t j = 0; j < acme_problem_subproblem_count(p); j++)
            if (acme_problem_is(acme_problem_subproblem(p, j), policy[i]))
                return 1;
    }
    return 0;
}

int acme__guard_backoff(acme_store *s, const char *name, int force, int64_t now, int *error,
                        char *why, size_t size, acme__err *err)
{
    char when[64];
    acme__backoff b;
    int rc = acme__backoff_load(s, name, &b, err);
    if (rc != ACME_OK)
        return rc;
    if (b.failures && !force && (b.held || b.next_attempt > now)) {
        *error = b.error ? b.error : ACME_ERR_STATE;
        format_time(b.next_attempt, when, sizeof(when));
        if (b.held)
            snprintf(why, size,
                     "held after %u consecutive failures (force it, or reset its backoff); "
                     "the last: %.300s", b.failures, b.detail);
        else
            snprintf(why, size, "in backoff until %s after %u failure%s; the last: %.300s", when,
                     b.failures, b.failures == 1 ? "" : "s", b.detail);
        return 1;
    }
    return ACME_OK;
}

int acme__guard_rate_limit(acme_store *s, const char *directory, const char *email,
                           int ari_window, int64_t now, int *error, char *why, size_t size,
                           acme__err *err)
{
    char when[64];
    acme__rate_limit r;
    int rc = acme__rate_limit_load(s, directory, email, &r, err);
    if (rc != ACME_OK)
        return rc;
    /* Let's Encrypt exempts renewals inside the ARI window from its rate
     * limits, but not an account whose identifiers are paused. */
    if (r.until > now && !(ari_window && !r.unpause[0])) {
        *error = ACME_ERR_PROBLEM;
        format_time(r.until, when, sizeof(when));
        snprintf(why, size, "%.150s rate-limited this account until %s%s%s%s%s: %.250s", directory,
                 when,
                 r.limit[0] ? " (limit " : "", r.limit, r.limit[0] ? ")" : "",
                 r.unpause[0] ? " (unpause it first)" : "", r.detail);
        return 1;
    }
    return ACME_OK;
}

int acme__guard_record(acme_store *s, const char *name, const char *directory, const char *email,
                       const acme__backoff_conf *conf, int rc, const acme_problem *p,
                       const char *msg, int64_t now, acme__err *err)
{
    acme__backoff b;
    int lrc = acme__backoff_load(s, name, &b, err);
    if (rc == ACME_OK)
        return lrc == ACME_OK && b.failures ? acme__backoff_clear(s, name, err) : lrc;
    int cause = acme__cause_of(rc, p);
    if (cause == ACME__CAUSE_CA)
        return ACME_OK;
    acme__rate_limit r;
    if (cause == ACME__CAUSE_RATE_LIMIT) {
        acme__rate_limit_from_problem(p, now, 3600, &r);
        if (!r.unpause[0])
            return acme__rate_limit_save(s, directory, email, &r, err);
    }
    if (lrc != ACME_OK)
        return lrc; /* a broken record is left for the operator to see */
    uint32_t random = 0;
    acme__rng(NULL, (unsigned char *)&random, sizeof(random));
    b.failures++;
    b.last_failure = now;
    b.next_attempt = now + acme__backoff_delay(b.failures, conf->base_s, conf->max_s, random);
    b.error = rc;
    /* A paused identifier waits for a person whatever the count. */
    b.held = b.failures >= conf->hold_after || (cause == ACME__CAUSE_RATE_LIMIT);
    const char *type = acme_problem_type(p);
    snprintf(b.problem, sizeof(b.problem), "%s", type ? type : "");
    if (cause == ACME__CAUSE_RATE_LIMIT)
        snprintf(b.detail, sizeof(b.detail), "%.200s (unpause: %.280s)", msg ? msg : "",
                 r.unpause);
    else
        snprintf(b.detail, sizeof(b.detail), "%s", msg ? msg : "");
    return acme__backoff_save(s, name, &b, err);
}

/* ---- the breaker ------------------------------------------------------------------ */

void acme__breaker_init(acme__breaker *b, unsigned int ca_threshold,
                        unsigned int validation_threshold, int64_t deadline)
{
    memset(b, 0, sizeof(*b));
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->ca_threshold = ca_threshold ? ca_threshold : 1;
    b->validation_threshold = validation_threshold ? validation_threshold : 1;
    b->deadline = deadline;
}

void acme__breaker_destroy(acme__breaker *b)
{
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
}

/* Called with mu held. */
static int check_deadline(acme__breaker *b)
{
    if (!b->open && b->deadline && acme__now() >= b->deadline) {
        b->open = 1;
        b->open_error = ACME_ERR_TIMEOUT;
        snprintf(b->open_why, sizeof(b->open_why), "the ensure's deadline passed");
        pthread_cond_broadcast(&b->cv);
    }
    return b->open;
}

int acme__breaker_is_open(acme__breaker *b, int *error, char *why, size_t size)
{
    pthread_mutex_lock(&b->mu);
    int open = check_deadline(b);
    if (open) {
        if (error)
            *error = b->open_error;
        if (why)
            snprintf(why, size, "%s", b->open_why);
    }
    pthread_mutex_unlock(&b->mu);
    return open;
}

int acme__breaker_enter(acme__breaker *b, char *why, size_t size)
{
    pthread_mutex_lock(&b->mu);
    /* While failures pile up, hold back so that the orders in flight
     * cannot carry the run past its threshold. */
    while (!check_deadline(b) && b->streak && b->streak + b->in_flight >= b->streak_threshold) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1; /* to notice the deadline */
        pthread_cond_timedwait(&b->cv, &b->mu, &ts);
    }
    int rc = ACME_OK;
    if (b->open) {
        rc = b->open_error;
        snprintf(why, size, "%s", b->open_why);
    } else {
        b->in_flight++;
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

void acme__breaker_done(acme__breaker *b, int rc, const acme_problem *p, const char *msg)
{
    pthread_mutex_lock(&b->mu);
    b->in_flight--;
    int cause = rc == ACME_OK ? -1 : acme__cause_of(rc, p);
    char key[sizeof(b->streak_key)] = "";
    unsigned int threshold = 0;
    if (cause == ACME__CAUSE_CA) {
        snprintf(key, sizeof(key), "the CA");
        threshold = b->ca_threshold;
    } else if (cause == ACME__CAUSE_RATE_LIMIT) {
        snprintf(key, sizeof(key), "a rate limit");
        threshold = 1; /* more orders only dig deeper */
    } else if (cause == ACME__CAUSE_VALIDATION) {
        const char *type = acme_problem_type(p);
        size_t n = strlen(urn);
        snprintf(key, sizeof(key), "validation (%s)",
                 type && strncmp(type, urn, n) == 0 ? type + n : type ? type : "no problem");
        threshold = b->validation_threshold;
    }
    if (!threshold) {
        b->streak = 0; /* a success, or a failure of the name alone */
        b->streak_key[0] = '\0';
    } else if (b->streak && strcmp(key, b->streak_key) == 0) {
        b->streak++;
    } else {
        b->streak = 1;
        b->streak_threshold = threshold;
        snprintf(b->streak_key, sizeof(b->streak_key), "%s", key);
    }
    if (threshold && b->streak >= b->streak_threshold && !b->open) {
        b->open = 1;
        b->open_error = rc;
        snprintf(b->open_why, sizeof(b->open_why),
                 "not attempted: %u consecutive failures caused by %s; the last: %.300s",
                 b->streak, b->streak_key, msg ? msg : "");
    }
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}
