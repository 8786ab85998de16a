/* One provider shared by many threads. All requests of a provider run on
 * one libcurl multi handle that the waiting threads take turns to drive
 * (lib/http.c); this checks that every request of every thread completes
 * with its own reply, over one HTTP/2 connection against Pebble (which
 * speaks HTTP/2), over several HTTP/1.1 connections against
 * tests/harness/scripted_server.py (no multiplexing), and that a stalled
 * transfer holds up nobody else's. Linked against the library's internals
 * for acme__provider_get, the smallest request there is. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "acme/provider.h"
#include "base/error.h"
#include "protocol/provider.h"

#define THREADS 8
#define PER_THREAD 25

typedef struct worker {
    acme_provider *p;
    const char *url;
    const char *expect; /* a string every reply body must contain */
    int ok;
    int failed;
    char first_error[256];
} worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        acme__response res;
        acme__err err = ACME__ERR_QUIET;
        int rc = acme__provider_get(w->p, w->url, 0, &res, &err);
        int good = rc == ACME_OK && res.status == 200 && res.body.data &&
                   strstr(acme__buf_str(&res.body), w->expect) != NULL;
        if (good) {
            w->ok++;
        } else {
            if (!w->failed)
                snprintf(w->first_error, sizeof(w->first_error), "rc %d status %ld: %s", rc,
                         res.status, rc != ACME_OK ? acme__err_msg(&err) : "(wrong body)");
            w->failed++;
        }
        acme__response_free(&res);
        acme__err_clear(&err);
    }
    return NULL;
}

static acme_provider *provider(const char *url, long timeout_ms)
{
    acme_provider_options o;
    acme_provider_options_init(&o, ACME_PROVIDER_OPTIONS_VERSION);
    o.ca_bundle = getenv("ACME_TEST_CA_BUNDLE");
    if (timeout_ms)
        o.timeout_ms = timeout_ms;
    acme_provider *p = NULL;
    int rc = acme_provider_new(&p, url, &o);
    CHECK_MSG(rc == ACME_OK, "%s: %s", url, acme_last_error());
    return p;
}

/* THREADS threads, PER_THREAD GETs of url each; returns the connections
 * the provider opened. */
static uint64_t hammer(acme_provider *p, const char *url, const char *expect)
{
    worker w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){ .p = p, .url = url, .expect = expect };
        REQUIRE(pthread_create(&t[i], NULL, run_worker, &w[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK_MSG(w[i].ok == PER_THREAD && w[i].failed == 0, "thread %d: %d ok, %d failed (%s)",
                  i, w[i].ok, w[i].failed, w[i].first_error);
    }
    uint64_t requests = 0, connections = 0;
    acme_provider_stats(p, &requests, &connections);
    /* The directory fetch of acme_provider_new, then ours. */
    CHECK_MSG(requests == 1 + THREADS * PER_THREAD, "%llu requests",
              (unsigned long long)requests);
    return connections;
}

static void test_pebble_http2(void)
{
    const char *dir = getenv("ACME_TEST_DIRECTORY");
    acme_provider *p = provider(dir, 0);
    REQUIRE(p != NULL);
    uint64_t conns = hammer(p, dir, "newNonce");
    CHECK_MSG(conns == 1, "%llu connections to Pebble: concurrent requests must share one "
                          "HTTP/2 connection", (unsigned long long)conns);
    acme_provider_free(p);
}

static void test_scripted_http1(void)
{
    char url[512];
    snprintf(url, sizeof(url), "%s/dir/full", getenv("ACME_TEST_SCRIPTED"));
    acme_provider *p = provider(url, 0);
    REQUIRE(p != NULL);
    uint64_t conns = hammer(p, url, "renewalInfo");
    /* HTTP/1.1: one connection per request in flight at most, kept and
     * reused afterwards, so never more than the threads (plus the first). */
    CHECK_MSG(conns >= 1 && conns <= THREADS + 1, "%llu connections",
              (unsigned long long)conns);
    acme_provider_free(p);
}

typedef struct staller {
    acme_provider *p;
    const char *url;
    int rc;
    atomic_int *finished; /* order of completion */
    int position;
} staller;

static void *run_staller(void *arg)
{
    staller *s = arg;
    acme__response res;
    acme__err err = ACME__ERR_QUIET;
    s->rc = acme__provider_get(s->p, s->url, 0, &res, &err);
    s->position = atomic_fetch_add(s->finished, 1);
    acme__response_free(&res);
    acme__err_clear(&err);
    return NULL;
}

/* A reply that stalls until the provider's timeout must not hold up the
 * other threads' requests, whichever thread happens to drive. */
static void test_stall_blocks_nobody(void)
{
    char full[512], stall[512];
    snprintf(full, sizeof(full), "%s/dir/full", getenv("ACME_TEST_SCRIPTED"));
    snprintf(stall, sizeof(stall), "%s/dir/stall", getenv("ACME_TEST_SCRIPTED"));
    acme_provider *p = provider(full, 4000);
    REQUIRE(p != NULL);
    atomic_int finished = 0;
    staller s = { .p = p, .url = stall, .finished = &finished };
    pthread_t st;
    REQUIRE(pthread_create(&st, NULL, run_staller, &s) == 0);
    /* Let the stalled reply start before the others ask. */
    struct timespec pause = { 0, 300 * 1000000L };
    nanosleep(&pause, NULL);
    worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){ .p = p, .url = full, .expect = "renewalInfo" };
        REQUIRE(pthread_create(&t[i], NULL, run_worker, &w[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_MSG(w[i].ok == PER_THREAD, "thread %d: %d ok (%s)", i, w[i].ok, w[i].first_error);
        atomic_fetch_add(&finished, 1);
    }
    pthread_join(st, NULL);
    CHECK_MSG(s.rc == ACME_ERR_TIMEOUT, "the stalled request: %s", acme_strerror(s.rc));
    CHECK_MSG(s.position == 4, "the stalled request finished in place %d of 5: it held up "
                               "the others", s.position + 1);
    acme_provider_free(p);
}

int main(void)
{
    REQUIRE(getenv("ACME_TEST_DIRECTORY") && getenv("ACME_TEST_SCRIPTED"));
    test_pebble_http2();
    test_scripted_http1();
    test_stall_blocks_nobody();
    return check_done();
}
