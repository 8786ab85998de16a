/* Batches on bad days, one scenario per run, against the real Pebble
 * through tests/harness/hostile_proxy.py. Pebble 2.4 has no rate limits
 * and never stops answering, so the proxy makes up the 429s and the
 * silence; every other reply, and every validation, is Pebble's own.
 *   backoff     a name whose validation fails is in backoff, recorded in
 *               the store: a new process skips it and places no order;
 *               past the delay it is tried again; after hold_after
 *               failures it is held even past any delay, until forced or
 *               reset; a success clears the record
 *   ratelimit   a 429 rateLimited stops new orders at once, and a second
 *               run within its Retry-After places none; the limit's name
 *               is in the record; a paused identifier (unpause URL) holds
 *               the name instead
 *   dead-ca     200 names, the CA stops answering new orders after 20:
 *               the batch ends within 3 request timeouts, the other 180
 *               names skipped or failed, at most breaker_ca of them failed
 *   responder   every validation fails the same way (the solver does not
 *               answer): at most breaker_validation orders are placed
 *   failover    the first issuer (the proxy) drops every new order; a
 *               second (Pebble directly, another directory) issues every
 *               name; they are not due at the next run, and forced
 *               renewals go back to the first issuer */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"

#define TIMEOUT_MS 3000

static acme_provider *provider;
static acme_http_responder *responder;
static acme_solvers *good, *silent;
static const char *control_path, *log_path;
static int64_t fake_now;

#define control(...) REQUIRE(test_replace_filef(control_path, __VA_ARGS__) == 0)

static int64_t fake_clock(void *ud)
{
    (void)ud;
    return fake_now;
}

/* Accepts the challenge and publishes nothing: the CA's validation gets a
 * 404 from the responder, the same failure for every name. */
static int no_answer(const acme_challenge *ch, void *ud)
{
    (void)ch;
    (void)ud;
    return ACME_OK;
}

/* newOrder requests that reached the proxy (answered or forwarded; a
 * badNonce retry is not a new order). */
static size_t orders_seen(void)
{
    FILE *f = fopen(log_path, "r");
    size_t n = 0;
    char line[2048];
    while (f && fgets(line, sizeof(line), f))
        n += strstr(line, "\"step\":\"newOrder\"") && !strstr(line, "\"action\":\"badNonce\"");
    if (f)
        fclose(f);
    return n;
}

static acme_desire *new_desire(acme_store *store, unsigned int parallel, unsigned int hold_after)
{
    acme_desire *d = NULL;
    acme_desire_options o;
    test_desire_options(&o, "batch@example.com");
    o.parallel = parallel;
    o.clock = fake_clock;
    o.hold_after = hold_after;
    REQUIRE_OK(acme_desire_new(&d, provider, store, good, &o));
    return d;
}

static void add_names(acme_desire *d, const char *tag, int from, int to, acme_solvers *s)
{
    for (int i = from; i < to; i++) {
        char name[96];
        snprintf(name, sizeof(name), "n%03d.%s.example", i, tag);
        const char *ids[] = { name };
        REQUIRE_OK(acme_desire_add(d, NULL, ids, 1, 0, s));
    }
}

static size_t count_result(const acme_desire *d, int result)
{
    size_t n = 0;
    for (size_t i = 0; i < acme_desire_count(d); i++)
        n += acme_desire_result(d, i) == result;
    return n;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A filesystem store in a new directory (*dir, free()), the clock now. */
static acme_store *fresh_store(char **dir)
{
    *dir = test_tmpdir();
    REQUIRE(*dir);
    acme_store *store = NULL;
    REQUIRE_OK(acme_store_new_fs(&store, *dir));
    fake_now = (int64_t)time(NULL);
    return store;
}

/* ---- backoff ------------------------------------------------------------------------ */

static char *self_path;

/* The second process of the backoff scenario: the name is skipped, with
 * when in its message, and no order is placed. */
static void backoff_child(const char *dir, const char *now)
{
    acme_store *store = NULL;
    REQUIRE_OK(acme_store_new_fs(&store, dir));
    fake_now = strtoll(now, NULL, 10);
    acme_desire *d = new_desire(store, 1, 0);
    add_names(d, "backoff", 0, 1, silent);
    size_t before = orders_seen();
    CHECK(acme_desire_ensure(d) != ACME_OK);
    CHECK(acme_desire_result(d, 0) == ACME_RESULT_SKIPPED);
    CHECK_MSG(strstr(acme_desire_message(d, 0), "in backoff until") != NULL, "%s",
              acme_desire_message(d, 0));
    CHECK(orders_seen() == before);
    acme_desire_free(d);
    acme_store_free(store);
}

static void test_backoff(void)
{
    char *dir;
    acme_store *store = fresh_store(&dir);
    const char *name = "n000.backoff.example";

    acme_desire *d = new_desire(store, 1, 3);
    add_names(d, "backoff", 0, 1, silent);
    CHECK_RC(acme_desire_ensure(d), ACME_ERR_VALIDATION);
    unsigned int failures = 0;
    int64_t next = 0;
    int held = -1;
    char *last = NULL;
    CHECK_OK(acme_backoff_get(store, name, &failures, &next, &held, &last));
    CHECK(failures == 1 && held == 0);
    /* 300 s, less up to a quarter of jitter */
    CHECK_MSG(next >= fake_now + 225 && next <= fake_now + 300, "next %lld now %lld",
              (long long)next, (long long)fake_now);
    CHECK(last && strstr(last, "unauthorized"));
    acme_free(last);

    /* Another process honours it. */
    char now_text[32];
    snprintf(now_text, sizeof(now_text), "%lld", (long long)fake_now + 60);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        execl(self_path, self_path, "backoff-child", dir, now_text, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);

    /* Past the delay it is tried again: 600 s now, then held at 3. */
    size_t before = orders_seen();
    fake_now = next + 1;
    CHECK_RC(acme_desire_ensure(d), ACME_ERR_VALIDATION);
    CHECK_OK(acme_backoff_get(store, name, &failures, &next, &held, NULL));
    CHECK(failures == 2 && held == 0 && next >= fake_now + 450 && next <= fake_now + 600);
    CHECK(orders_seen() == before + 1);
    fake_now = next + 1;
    CHECK_RC(acme_desire_ensure(d), ACME_ERR_VALIDATION);
    CHECK_OK(acme_backoff_get(store, name, &failures, &next, &held, NULL));
    CHECK(failures == 3 && held == 1);
    /* Held: no order even a year later. */
    before = orders_seen();
    fake_now += 365 * 86400;
    CHECK(acme_desire_ensure(d) != ACME_OK);
    CHECK(acme_desire_result(d, 0) == ACME_RESULT_SKIPPED);
    CHECK_MSG(strstr(acme_desire_message(d, 0), "held after 3") != NULL, "%s",
              acme_desire_message(d, 0));
    CHECK(orders_seen() == before);
    /* Forcing overrides it (and fails again: still no answer). */
    CHECK_OK(acme_desire_set_force(d, name, 1));
    CHECK_RC(acme_desire_ensure(d), ACME_ERR_VALIDATION);
    CHECK(orders_seen() == before + 1);
    acme_desire_free(d);

    /* Reset, and a solver that answers: obtained, the record gone. */
    CHECK_OK(acme_backoff_reset(store, name));
    CHECK_OK(acme_backoff_get(store, name, &failures, NULL, NULL, NULL));
    CHECK(failures == 0);
    d = new_desire(store, 1, 3);
    add_names(d, "backoff", 0, 1, NULL);
    CHECK_RC(acme_desire_ensure(d), ACME_OK);
    CHECK(acme_desire_result(d, 0) == ACME_RESULT_OBTAINED);
    CHECK_OK(acme_backoff_get(store, name, &failures, NULL, NULL, NULL));
    CHECK(failures == 0);
    acme_desire_free(d);
    acme_store_free(store);
    free(dir);
}

/* ---- rate limits ------------------------------------------------------------------- */

static void test_ratelimit(void)
{
    char *dir;
    acme_store *store = fresh_store(&dir);

    control("{\"case\":\"rl\",\"newOrder\":\"ratelimited\"}");
    acme_desire *d = new_desire(store, 4, 0);
    add_names(d, "rl", 0, 12, NULL);
    size_t before = orders_seen();
    CHECK(acme_desire_ensure(d) != ACME_OK);
    size_t placed = orders_seen() - before;
    /* The first 429 stops new orders: only those already in flight went. */
    CHECK_MSG(placed >= 1 && placed <= 4, "%zu orders", placed);
    CHECK(count_result(d, ACME_RESULT_FAILED) == placed);
    CHECK(count_result(d, ACME_RESULT_SKIPPED) == 12 - placed);
    int64_t until = 0;
    char *msg = NULL;
    CHECK_OK(acme_rate_limit_get(store, acme_provider_directory_url(provider),
                                 "batch@example.com", &until, &msg));
    CHECK_MSG(until >= fake_now + 3590 && until <= fake_now + 3610, "until %lld",
              (long long)until);
    CHECK_MSG(msg && strstr(msg, "(limit new-orders-per-account)"), "%s", msg ? msg : "");
    acme_free(msg);
    acme_desire_free(d);

    /* A second run (within Retry-After, the proxy back to normal) sends
     * no order at all, and says why. */
    control("{}");
    fake_now += 1800;
    d = new_desire(store, 4, 0);
    add_names(d, "rl", 0, 12, NULL);
    before = orders_seen();
    CHECK(acme_desire_ensure(d) != ACME_OK);
    CHECK(orders_seen() == before);
    CHECK(count_result(d, ACME_RESULT_SKIPPED) == 12);
    CHECK_MSG(strstr(acme_desire_message(d, 0), "rate-limited this account until"), "%s",
              acme_desire_message(d, 0));
    /* After it: issued. */
    fake_now += 1801;
    CHECK_RC(acme_desire_ensure(d), ACME_OK);
    CHECK(count_result(d, ACME_RESULT_OBTAINED) == 12);
    acme_desire_free(d);

    /* A paused identifier holds the name, with the unpause URL. */
    control("{\"case\":\"paused\",\"newOrder\":\"paused\"}");
    d = new_desire(store, 1, 0);
    add_names(d, "paused", 0, 1, NULL);
    CHECK(acme_desire_ensure(d) == ACME_ERR_PROBLEM);
    unsigned int failures = 0;
    int held = 0;
    char *last = NULL;
    CHECK_OK(acme_backoff_get(store, "n000.paused.example", &failures, NULL, &held, &last));
    CHECK(failures == 1 && held == 1);
    CHECK_MSG(last && strstr(last, "unpause: https://portal.example/sfe/v1/unpause?jwt="), "%s",
              last ? last : "");
    acme_free(last);
    control("{}");
    acme_desire_free(d);
    acme_store_free(store);
    free(dir);
}

/* ---- a CA that stops answering ------------------------------------------------------ */

static void test_dead_ca(void)
{
    /* The first 20 names are issued; then the CA goes silent (counting
     * requests in the proxy would count Pebble's badNonce retries too). */
    control("{}");
    char *dir;
    acme_store *store = fresh_store(&dir);
    acme_desire *d = new_desire(store, 4, 0);
    add_names(d, "dead", 0, 20, NULL);
    CHECK_RC(acme_desire_ensure(d), ACME_OK);
    acme_desire_free(d);
    control("{\"case\":\"dead\",\"newOrder\":\"silent-after-0\"}");

    d = new_desire(store, 4, 0);
    add_names(d, "dead", 0, 200, NULL);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_RC(acme_desire_ensure(d), ACME_ERR_TIMEOUT);
    double took = seconds_since(&t0);
    size_t failed = count_result(d, ACME_RESULT_FAILED);
    size_t skipped = count_result(d, ACME_RESULT_SKIPPED);
    printf("dead-ca: 180 names after the CA went silent: %.1f s, %zu failed, %zu skipped\n",
           took, failed, skipped);
    CHECK_MSG(took < 3 * TIMEOUT_MS / 1000.0, "took %.1f s", took);
    CHECK(count_result(d, ACME_RESULT_NOT_DUE) == 20);
    CHECK(failed + skipped == 180);
    CHECK(failed >= 3 && failed <= 4); /* breaker_ca, or the parallel orders in flight */
    for (size_t i = 0; i < acme_desire_count(d); i++)
        if (acme_desire_result(d, i) == ACME_RESULT_SKIPPED) {
            CHECK(acme_desire_error(d, i) == ACME_ERR_TIMEOUT);
            CHECK_MSG(strstr(acme_desire_message(d, i), "consecutive failures caused by the CA"),
                      "%s", acme_desire_message(d, i));
            break;
        }
    control("{}");
    acme_desire_free(d);
    acme_store_free(store);
    free(dir);
}

/* ---- a responder that does not answer ----------------------------------------------- */

static void test_responder(void)
{
    char *dir;
    acme_store *store = fresh_store(&dir);
    acme_desire *d = new_desire(store, 4, 0);
    add_names(d, "responder", 0, 40, silent);
    size_t before = orders_seen();
    CHECK_RC(acme_desire_ensure(d), ACME_ERR_VALIDATION);
    size_t placed = orders_seen() - before;
    printf("responder: %zu orders placed for 40 names that all fail validation\n", placed);
    CHECK_MSG(placed == 5, "%zu orders", placed); /* breaker_validation, not one per name */
    CHECK(count_result(d, ACME_RESULT_FAILED) == 5);
    CHECK(count_result(d, ACME_RESULT_SKIPPED) == 35);
    for (size_t i = 0; i < acme_desire_count(d); i++)
        if (acme_desire_result(d, i) == ACME_RESULT_SKIPPED) {
            CHECK_MSG(strstr(acme_desire_message(d, i), "validation (unauthorized)"), "%s",
                      acme_desire_message(d, i));
            break;
        }
    acme_desire_free(d);
    acme_store_free(store);
    free(dir);
}

/* ---- failover ---------------------------------------------------------------------- */

/* Non-zero when the stored certificate `name` records directory `url`. */
static int issued_by(acme_store *s, const char *name, const char *url)
{
    char key[256], *meta = NULL;
    size_t len;
    snprintf(key, sizeof(key), "certs/%s/meta.json", name);
    if (acme_store_get(s, key, &meta, &len) != ACME_OK)
        return 0;
    char quoted[512];
    snprintf(quoted, sizeof(quoted), "\"directory\":\"%s\"", url);
    int yes = strstr(meta, quoted) != NULL;
    acme_free(meta);
    return yes;
}

static void test_failover(void)
{
    char *dir;
    acme_store *store = fresh_store(&dir);
    acme_provider *second = test_provider(NULL);
    const char *first_url = acme_provider_directory_url(provider);
    const char *second_url = acme_provider_directory_url(second);
    REQUIRE(strcmp(first_url, second_url) != 0);
    acme_desire *d = new_desire(store, 4, 0);
    CHECK_OK(acme_desire_add_issuer(d, second, NULL, NULL, NULL));
    CHECK_RC(acme_desire_add_issuer(d, second, NULL, NULL, NULL), ACME_ERR_INVALID);
    add_names(d, "failover", 0, 12, NULL);

    control("{\"case\":\"down\",\"newOrder\":\"close\"}");
    test_log_clear();
    CHECK_RC(acme_desire_ensure(d), ACME_OK);
    CHECK(count_result(d, ACME_RESULT_OBTAINED) == 12);
    /* The first issuer's breaker stopped asking it after breaker_ca
     * failures (or the parallel orders in flight). */
    size_t fell_over = 0, not_asked = 0;
    for (const char *p = test_log(); (p = strstr(p, "trying the next issuer")); p++)
        fell_over++;
    for (const char *p = test_log(); (p = strstr(p, ": not asking ")); p++)
        not_asked++;
    CHECK_MSG(fell_over >= 3 && fell_over <= 4 && fell_over + not_asked == 12,
              "fell over %zu, not asked %zu", fell_over, not_asked);
    for (size_t i = 0; i < acme_desire_count(d); i++)
        CHECK_MSG(issued_by(store, acme_desire_name(d, i), second_url), "%s",
                  acme_desire_name(d, i));

    /* Back up: nothing is due (a fallback's certificate is no other CA's). */
    control("{}");
    size_t before = orders_seen();
    CHECK_RC(acme_desire_ensure(d), ACME_OK);
    CHECK(count_result(d, ACME_RESULT_NOT_DUE) == 12);
    CHECK(orders_seen() == before);
    /* The next renewal goes to the first issuer again. */
    for (size_t i = 0; i < acme_desire_count(d); i++)
        CHECK_OK(acme_desire_set_force(d, acme_desire_name(d, i), 1));
    CHECK_RC(acme_desire_ensure(d), ACME_OK);
    CHECK(count_result(d, ACME_RESULT_RENEWED) == 12);
    CHECK(orders_seen() >= before + 12);
    for (size_t i = 0; i < acme_desire_count(d); i++)
        CHECK_MSG(issued_by(store, acme_desire_name(d, i), first_url), "%s",
                  acme_desire_name(d, i));
    acme_desire_free(d);
    acme_provider_free(second);
    acme_store_free(store);
    free(dir);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s backoff|ratelimit|dead-ca|responder|failover\n", argv[0]);
        return 2;
    }
    self_path = argv[0];
    control_path = test_env("ACME_TEST_HOSTILE_CONTROL");
    log_path = test_env("ACME_TEST_HOSTILE_LOG");
    /* Short request timeouts, so that a silent CA costs seconds. */
    acme_provider_options po = { .version = ACME_PROVIDER_OPTIONS_VERSION,
                                 .ca_bundle = test_env("ACME_TEST_CA_BUNDLE"),
                                 .timeout_ms = TIMEOUT_MS,
                                 .log = test_log_record,
                                 .log_level = ACME_LOG_INFO };
    if (acme_provider_new(&provider, test_env("ACME_TEST_HOSTILE_DIRECTORY"), &po) != ACME_OK) {
        fprintf(stderr, "cannot read the proxy's directory: %s\n", acme_last_error());
        return 1;
    }
    int child = strcmp(argv[1], "backoff-child") == 0;
    /* The child of the backoff scenario places no order: no responder (the
     * parent holds the port). */
    if (!child)
        REQUIRE_OK(acme_http_responder_start(&responder, "127.0.0.1",
                                             (unsigned int)atoi(test_env("ACME_TEST_HTTP_PORT"))));
    REQUIRE_OK(acme_solvers_new(&good));
    if (!child)
        REQUIRE_OK(acme_solvers_add_http_responder(good, responder));
    REQUIRE_OK(acme_solvers_new(&silent));
    REQUIRE_OK(acme_solvers_add(silent, "http-01", no_answer, NULL, NULL, NULL));
    if (child && argc == 4)
        backoff_child(argv[2], argv[3]);
    else if (strcmp(argv[1], "backoff") == 0)
        test_backoff();
    else if (strcmp(argv[1], "ratelimit") == 0)
        test_ratelimit();
    else if (strcmp(argv[1], "dead-ca") == 0)
        test_dead_ca();
    else if (strcmp(argv[1], "responder") == 0)
        test_responder();
    else if (strcmp(argv[1], "failover") == 0)
        test_failover();
    else
        return 2;
    acme_solvers_free(good);
    acme_solvers_free(silent);
    acme_http_responder_stop(responder);
    acme_provider_free(provider);
    test_log_clear();
    return check_done();
}
