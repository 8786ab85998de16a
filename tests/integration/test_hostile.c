/* Hostile server replies in the order flow (after the directory), through
 * the public desire API with a filesystem store in a temp dir.
 *
 * Pebble never misbehaves, so this runs behind tests/harness/hostile_proxy.py:
 * a small scripted proxy in front of the harness's real Pebble that forwards
 * every request and, for the one step a case names in its control file,
 * breaks Pebble's reply (or answers in its place): newAccount and newOrder
 * replies with a Location on another host or on http://, order objects with
 * "authorizations" missing or mistyped or "finalize" elsewhere, a status that
 * is a number; authorizations with challenge tokens "../../../etc/x", "a/b",
 * ".." and "", a challenge URL elsewhere, no identifier, 10 000 challenges,
 * deeply nested, truncated or text/html JSON; a challenge POST answered 503
 * twice (bounded retry succeeds) or 500 always (fails after the bound); a
 * finalize answered with 5000 subproblems, with invalid JSON, or stalled
 * mid-body (the request timeout fires); a valid order's certificate URL
 * elsewhere; a certificate download with another certificate's leaf
 * (an earlier order's, or Pebble's root), text/plain, over the size cap,
 * garbage base64, a redirect to itself, or a Link rel="alternate" on another
 * host (refused by the origin check, never sent).
 *
 * Each case uses a fresh name (Pebble reuses valid authorizations half of the
 * time; a new name has none) and checks: the exact error code, a message
 * naming the cause, a bounded problem, the time it took, that no file appeared
 * in the test's temp dir outside the store and the webroot (nothing at
 * <webroot>/../etc/x), that the webroot's challenge files were cleaned up, that
 * the store holds no certificate for a failed first issue (and the old one for
 * a failed renewal), and that the proxy never saw a request for a URL it
 * planted on another origin.
 *
 * Before the cases, through the order API: a submit whose authorization
 * reply is broken leaves the order new, and issuing it again succeeds. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "check.h"
#include "testutil.h"

#define EMAIL "hostile@example.com"
#define PREFERRED "hostile preferred issuer" /* matches no chain: alternates are fetched */

enum { RESPONDER = 0, WEBROOT = 1 };
enum {
    OPT_PREFERRED = 1,   /* a preferred chain is set */
    OPT_QUICK = 2,       /* a provider with a 3 s request timeout */
    OPT_NEW_ACCOUNT = 4, /* a new e-mail, hence a new account */
    OPT_RENEWAL = 8      /* renew a certificate obtained first without hostility */
};

typedef struct hostile_case {
    const char *step;
    const char *scenario;
    int solver;
    int options;
    int want;             /* error code, ACME_OK for cases that must still succeed */
    const char *want_msg; /* substring of the message */
    double max_seconds;
} hostile_case;

static const hostile_case cases[] = {
    /* newAccount replies */
    { "newAccount", "location-other-host", RESPONDER, OPT_NEW_ACCOUNT, ACME_ERR_PROTOCOL,
      "not on the CA's origin", 20 },
    { "newAccount", "location-http", RESPONDER, OPT_NEW_ACCOUNT, ACME_ERR_PROTOCOL,
      "not on the CA's origin", 20 },
    { "newAccount", "content-type-html", RESPONDER, OPT_NEW_ACCOUNT, ACME_ERR_PROTOCOL,
      "text/html", 20 },
    { "newAccount", "truncated-json", RESPONDER, OPT_NEW_ACCOUNT, ACME_ERR_PROTOCOL,
      "invalid JSON", 20 },
    /* newOrder replies */
    { "newOrder", "location-other-host", RESPONDER, 0, ACME_ERR_PROTOCOL,
      "not on the CA's origin", 20 },
    { "newOrder", "location-http", RESPONDER, 0, ACME_ERR_PROTOCOL, "not on the CA's origin", 20 },
    { "newOrder", "authorizations-missing", RESPONDER, 0, ACME_ERR_PROTOCOL, "no authorizations",
      20 },
    { "newOrder", "authorizations-object", RESPONDER, 0, ACME_ERR_PROTOCOL, "no authorizations",
      20 },
    { "newOrder", "authorizations-number", RESPONDER, 0, ACME_ERR_PROTOCOL, "no authorizations",
      20 },
    { "newOrder", "finalize-other-host", RESPONDER, 0, ACME_ERR_PROTOCOL,
      "not on the CA's origin", 20 },
    { "newOrder", "status-number", RESPONDER, 0, ACME_ERR_PROTOCOL, "no status", 20 },
    { "newOrder", "truncated-json", RESPONDER, 0, ACME_ERR_PROTOCOL, "invalid JSON", 20 },
    /* authorization replies; the token cases with the webroot solver */
    { "authz", "token-dotdot-path", WEBROOT, 0, ACME_ERR_PROTOCOL, "not base64url", 20 },
    { "authz", "token-slash", WEBROOT, 0, ACME_ERR_PROTOCOL, "not base64url", 20 },
    { "authz", "token-dotdot", WEBROOT, 0, ACME_ERR_PROTOCOL, "not base64url", 20 },
    { "authz", "token-empty", WEBROOT, 0, ACME_ERR_PROTOCOL, "not base64url", 20 },
    { "authz", "challenge-url-other-host", WEBROOT, 0, ACME_ERR_PROTOCOL,
      "not on the CA's origin", 20 },
    { "authz", "identifier-missing", RESPONDER, 0, ACME_ERR_PROTOCOL, "identifier missing", 20 },
    { "authz", "challenges-10000", RESPONDER, 0, ACME_ERR_NO_SOLVER, "no solver accepted", 20 },
    { "authz", "challenges-10000-and-real", RESPONDER, 0, ACME_OK, NULL, 30 },
    { "authz", "deep-json", RESPONDER, 0, ACME_ERR_PROTOCOL, "deeper", 20 },
    { "authz", "truncated-json", RESPONDER, 0, ACME_ERR_PROTOCOL, "invalid JSON", 20 },
    { "authz", "content-type-html", RESPONDER, 0, ACME_ERR_PROTOCOL, "text/html", 20 },
    /* challenge POST replies */
    { "challenge", "503-twice", RESPONDER, 0, ACME_OK, NULL, 20 },
    { "challenge", "500-always", RESPONDER, 0, ACME_ERR_PROBLEM, "HTTP 500", 20 },
    /* finalize replies */
    { "finalize", "problem-5000", RESPONDER, 0, ACME_ERR_PROBLEM, "5000 subproblems", 20 },
    { "finalize", "invalid-json", RESPONDER, 0, ACME_ERR_PROTOCOL, "invalid JSON", 20 },
    { "finalize", "stall", RESPONDER, OPT_QUICK, ACME_ERR_TIMEOUT, "timed out", 15 },
    /* order polls (a valid order's certificate URL) */
    { "order", "certificate-other-host", RESPONDER, 0, ACME_ERR_PROTOCOL,
      "not on the CA's origin", 20 },
    /* certificate downloads */
    { "cert", "other-leaf", RESPONDER, 0, ACME_ERR_CERTIFICATE, "another public key", 20 },
    { "cert", "root-leaf", RESPONDER, 0, ACME_ERR_CERTIFICATE, "another public key", 20 },
    { "cert", "other-leaf", RESPONDER, OPT_RENEWAL, ACME_ERR_CERTIFICATE, "another public key",
      30 },
    { "cert", "content-type-text", RESPONDER, 0, ACME_ERR_PROTOCOL, "text/plain", 20 },
    { "cert", "huge", RESPONDER, 0, ACME_ERR_TOO_LARGE, "larger than", 20 },
    { "cert", "garbage-base64", RESPONDER, 0, ACME_ERR_CERTIFICATE, "not valid base64", 20 },
    { "cert", "redirect-self", RESPONDER, 0, ACME_ERR_HTTP, "302", 20 },
    { "cert", "link-alternate-other-host", RESPONDER, OPT_PREFERRED, ACME_ERR_PROTOCOL,
      "not on the CA's origin", 20 },
};

static const char *control_path, *log_path;
static char *tmp, *store_dir, *webroot, *challenge_dir;
static acme_provider *provider, *quick_provider;
static acme_store *store;
static acme_solvers *responder_solvers, *webroot_solvers;

/* ---- small helpers ---------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What the proxy does next: its control file (printf-style). */
#define control(...) REQUIRE(test_replace_filef(control_path, __VA_ARGS__) == 0)

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    REQUIRE(p != NULL);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* Proxy log lines of a case with a given action (and status, if >= 0). */
static size_t log_count(const char *case_id, const char *action, int status)
{
    char *log = test_read_file(log_path);
    char want_case[64], want_action[64], want_status[32];
    snprintf(want_case, sizeof(want_case), "\"case\":\"%s\"", case_id);
    snprintf(want_action, sizeof(want_action), "\"action\":\"%s\"", action);
    snprintf(want_status, sizeof(want_status), "\"status\":%d,", status);
    size_t n = 0;
    for (char *line = log; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if ((!case_id || strstr(line, want_case)) && strstr(line, want_action) &&
            (status < 0 || strstr(line, want_status)))
            n++;
        line = nl ? nl + 1 : NULL;
    }
    free(log);
    return n;
}

/* ---- what is on disk outside the store and the webroot ------------------------ */

typedef struct listing {
    char *text;
    size_t len;
} listing;

static void list_add(listing *l, const char *path)
{
    size_t n = strlen(path);
    char *grown = realloc(l->text, l->len + n + 2);
    REQUIRE(grown != NULL);
    l->text = grown;
    memcpy(l->text + l->len, path, n);
    l->text[l->len + n] = '\n';
    l->len += n + 1;
    l->text[l->len] = '\0';
}

/* Every path under dir except the store and the webroot, depth first in
 * readdir order (stable between two listings of an unchanged tree). */
static void walk(const char *dir, listing *l)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = path_join(dir, e->d_name);
        if (strcmp(p, store_dir) != 0 && strcmp(p, webroot) != 0) {
            list_add(l, p);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                walk(p, l);
        }
        free(p);
    }
    closedir(d);
}

static char *outside_files(void)
{
    listing l = { NULL, 0 };
    list_add(&l, "(start)");
    walk(tmp, &l);
    return l.text;
}

/* Files left in the webroot's challenge directory. */
static size_t challenge_files(void)
{
    DIR *d = opendir(challenge_dir);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

static char *stored(const char *name, const char *file)
{
    char key[512], *data = NULL;
    size_t len;
    snprintf(key, sizeof(key), "certs/%s/%s", name, file);
    return acme_store_get(store, key, &data, &len) == ACME_OK ? data : NULL;
}

/* ---- the desire --------------------------------------------------------------- */

typedef struct capture {
    int failed;
    int error;
    char message[1024];
    size_t subproblems;
    int problem_status;
} capture;

static void on_event(const acme_event *e, void *ud)
{
    capture *c = ud;
    if (acme_event_get_type(e) != ACME_EVENT_FAILED)
        return;
    c->failed++;
    c->error = acme_event_error(e);
    snprintf(c->message, sizeof(c->message), "%s", acme_event_message(e));
    c->subproblems = acme_problem_subproblem_count(acme_event_problem(e));
    c->problem_status = acme_problem_status(acme_event_problem(e));
}

static acme_desire *new_desire(acme_provider *p, const char *email, const char *preferred,
                               capture *cap)
{
    acme_desire_options o;
    test_desire_options(&o, email);
    o.parallel = 1;
    o.order_timeout_s = 60;
    o.preferred_chain = preferred;
    o.on_event = on_event;
    o.event_userdata = cap;
    acme_desire *d = NULL;
    REQUIRE_OK(acme_desire_new(&d, p, store, NULL, &o));
    return d;
}

/* Ensure one name with one desire; returns the error code. */
static int ensure_name(acme_desire *d, const char *name, const acme_solvers *s)
{
    const char *ids[] = { name };
    REQUIRE_OK(acme_desire_add(d, name, ids, 1, ACME_KEY_EC256, s));
    return acme_desire_ensure_one(d, name);
}

/* ---- one case ------------------------------------------------------------------- */

static void run_case(size_t index, const hostile_case *c)
{
    char id[16], name[128], email[128];
    snprintf(id, sizeof(id), "c%02zu", index);
    snprintf(name, sizeof(name), "%s-%s.hostile.example", id, c->scenario);
    snprintf(email, sizeof(email), "%s@hostile.example", id);
    const char *what = c->scenario;
    capture cap;
    memset(&cap, 0, sizeof(cap));
    acme_desire *d = new_desire(c->options & OPT_QUICK ? quick_provider : provider,
                                c->options & OPT_NEW_ACCOUNT ? email : EMAIL,
                                c->options & OPT_PREFERRED ? PREFERRED : NULL, &cap);
    const acme_solvers *solvers = c->solver == WEBROOT ? webroot_solvers : responder_solvers;

    char *meta_before = NULL, *chain_before = NULL;
    if (c->options & OPT_RENEWAL) {
        control("{}");
        CHECK_MSG(ensure_name(d, name, solvers) == ACME_OK, "%s: first issue: %s", what,
                  acme_desire_last_error(d));
        meta_before = stored(name, "meta.json");
        chain_before = stored(name, "chain.pem");
        REQUIRE(meta_before && chain_before);
        REQUIRE_OK(acme_desire_set_force(d, name, 1));
        memset(&cap, 0, sizeof(cap));
    }

    char *before = outside_files();
    control("{\"case\":\"%s\",\"%s\":\"%s\"}", id, c->step, c->scenario);
    double t0 = now_s();
    int rc = ensure_name(d, name, solvers);
    double took = now_s() - t0;
    control("{}");
    const char *msg = acme_desire_message(d, 0);

    fprintf(stderr, "%s %-10s %-26s rc %d (%s) in %.2f s: %s\n", id, c->step, c->scenario, rc,
            acme_strerror(rc), took, msg);
    CHECK_MSG(rc == c->want, "%s %s: returned %d (%s), wanted %d (%s): %s", c->step, what, rc,
              acme_strerror(rc), c->want, acme_strerror(c->want), msg);
    CHECK_MSG(acme_desire_error(d, 0) == rc, "%s: the result records %d", what,
              acme_desire_error(d, 0));
    CHECK_MSG(took < c->max_seconds, "%s: took %.1f s (bound %.0f s)", what, took,
              c->max_seconds);
    /* The proxy really broke the step (the case tested what it says). */
    CHECK_MSG(log_count(id, "mutate", -1) + log_count(id, "answer", -1) > 0,
              "%s: the proxy never met step %s", what, c->step);
    if (c->want == ACME_OK) {
        CHECK(acme_desire_result(d, 0) == ACME_RESULT_OBTAINED);
        char *meta = stored(name, "meta.json");
        CHECK_MSG(meta != NULL, "%s: nothing stored", what);
        acme_free(meta);
    } else {
        CHECK(acme_desire_result(d, 0) == ACME_RESULT_FAILED);
        CHECK_MSG(c->want_msg && strstr(msg, c->want_msg), "%s: message \"%s\" lacks \"%s\"",
                  what, msg, c->want_msg ? c->want_msg : "");
        CHECK_MSG(cap.failed == 1 && cap.error == rc, "%s: FAILED events %d, error %d", what,
                  cap.failed, cap.error);
    }

    /* The store: nothing for a failed first issue, the old generation after
     * a failed renewal. */
    char *meta = stored(name, "meta.json"), *chain = stored(name, "chain.pem");
    if (c->options & OPT_RENEWAL) {
        CHECK_MSG(meta && strcmp(meta, meta_before) == 0, "%s: meta.json changed", what);
        CHECK_MSG(chain && strcmp(chain, chain_before) == 0, "%s: chain.pem changed", what);
    } else if (c->want != ACME_OK) {
        CHECK_MSG(meta == NULL && chain == NULL, "%s: a certificate was stored", what);
        char *dir = path_join(store_dir, "certs");
        char *cert_dir = path_join(dir, name);
        CHECK_MSG(!exists(cert_dir), "%s: %s exists", what, cert_dir);
        free(cert_dir);
        free(dir);
    }
    acme_free(meta);
    acme_free(chain);
    acme_free(meta_before);
    acme_free(chain_before);

    /* Nothing new on disk outside the store and the webroot, nothing left
     * in the webroot, and nothing where a token path would have led. */
    char *after = outside_files();
    CHECK_MSG(strcmp(before, after) == 0, "%s: files appeared outside the store:\n%s", what,
              after);
    free(before);
    free(after);
    CHECK_MSG(challenge_files() == 0, "%s: %zu challenge files left in the webroot", what,
              challenge_files());
    char *www = path_join(webroot, "..");
    const char *escapes[] = { "etc/x", "etc", "a", "x" };
    for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
        char *p = path_join(www, escapes[i]), *q = path_join(webroot, escapes[i]);
        CHECK_MSG(!exists(p) && !exists(q), "%s: %s or %s exists", what, p, q);
        free(p);
        free(q);
    }
    free(www);
    CHECK_MSG(log_count(NULL, "foreign", -1) == 0,
              "%s: a URL planted on another origin was requested", what);

    /* Case-specific checks. */
    if (strcmp(c->scenario, "503-twice") == 0) {
        CHECK_MSG(log_count(id, "answer", 503) == 2, "%s: %zu 503 answers", what,
                  log_count(id, "answer", 503));
    } else if (strcmp(c->scenario, "500-always") == 0) {
        /* The first try and max_retries (3) more, then the CA's problem. */
        CHECK_MSG(log_count(id, "answer", 500) == 4, "%s: %zu 500 answers", what,
                  log_count(id, "answer", 500));
        CHECK(cap.problem_status == 500);
    } else if (strcmp(c->scenario, "problem-5000") == 0) {
        CHECK_MSG(cap.subproblems == 256, "%s: %zu subproblems kept", what, cap.subproblems);
        CHECK(cap.problem_status == 403);
    }
    acme_desire_free(d);
}

/* The detection of requests to planted URLs works: a GET of one, made here
 * directly, is logged as "foreign". */
static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

static void check_foreign_detection(void)
{
    char url[512];
    snprintf(url, sizeof(url), "%s/evil/probe", test_env("ACME_TEST_HOSTILE_OTHER"));
    CURL *c = curl_easy_init();
    REQUIRE(c != NULL);
    long status = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, test_env("ACME_TEST_CA_BUNDLE"));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    CHECK_MSG(rc == CURLE_OK && status == 404, "GET %s: %s, HTTP %ld", url, curl_easy_strerror(rc),
              status);
    CHECK_MSG(log_count(NULL, "foreign", -1) == 1, "the proxy logged %zu foreign requests",
              log_count(NULL, "foreign", -1));
}

/* ---- the order API after a broken authorization ----------------------------------- */

/* A submit whose authorization fetch fails leaves the order as new (no URL,
 * no authorizations): the step-by-step calls refuse to run on it, and the
 * next issue places the order again and succeeds. */
static void check_resubmit(void)
{
    acme_key *account_key = test_key(ACME_KEY_EC256);
    acme_account *account = test_account(provider, account_key);
    acme_key *cert_key = test_key(ACME_KEY_EC256);
    const char *names[] = { "resubmit.hostile.example" };
    acme_order *o = NULL;
    REQUIRE_OK(acme_order_new(&o, account));
    CHECK_OK(acme_order_add_dns(o, names[0]));

    control("{\"case\":\"resubmit\",\"authz\":\"truncated-json\"}");
    CHECK_RC(acme_order_issue(o, responder_solvers, cert_key), ACME_ERR_PROTOCOL);
    CHECK_MSG(strstr(acme_order_last_error(o), "invalid JSON") != NULL, "message: %s",
              acme_order_last_error(o));
    CHECK_MSG(log_count("resubmit", "mutate", -1) > 0, "the proxy never broke the authorization");
    CHECK(acme_order_url(o) == NULL);
    CHECK_STR(acme_order_status(o), "");
    CHECK(acme_order_authorization_count(o) == 0);
    CHECK_RC(acme_order_submit(o), ACME_ERR_PROTOCOL);
    CHECK(acme_order_url(o) == NULL);
    CHECK_RC(acme_order_authorize(o, responder_solvers), ACME_ERR_STATE);
    CHECK_RC(acme_order_finalize(o, cert_key), ACME_ERR_STATE);
    CHECK_RC(acme_order_download(o), ACME_ERR_STATE);
    control("{}");

    /* The same order, placed afresh. */
    CHECK_MSG(acme_order_issue(o, responder_solvers, cert_key) == ACME_OK, "issue again: %s",
              acme_order_last_error(o));
    CHECK_STR(acme_order_status(o), "valid");
    CHECK(acme_order_url(o) != NULL);
    CHECK(test_leaf_matches(acme_order_certificate_pem(o), cert_key, names, 1) == 0);
    acme_order_free(o);
    acme_key_free(cert_key);
    acme_account_free(account);
    acme_key_free(account_key);
}

/* ---- setup ------------------------------------------------------------------------ */

static acme_provider *new_provider(long timeout_ms)
{
    acme_provider_options o;
    acme_provider_options_init(&o, ACME_PROVIDER_OPTIONS_VERSION);
    o.ca_bundle = test_env("ACME_TEST_CA_BUNDLE");
    o.log = test_log_record;
    o.log_level = ACME_LOG_DEBUG;
    o.timeout_ms = timeout_ms;
    acme_provider *p = NULL;
    if (acme_provider_new(&p, test_env("ACME_TEST_HOSTILE_DIRECTORY"), &o) != ACME_OK) {
        fprintf(stderr, "cannot read the proxy's directory: %s\n", acme_last_error());
        exit(1);
    }
    return p;
}

int main(void)
{
    control_path = test_env("ACME_TEST_HOSTILE_CONTROL");
    log_path = test_env("ACME_TEST_HOSTILE_LOG");
    control("{}");
    provider = new_provider(0);
    quick_provider = new_provider(3000);

    tmp = test_tmpdir();
    REQUIRE(tmp != NULL);
    store_dir = path_join(tmp, "store");
    char *www = path_join(tmp, "www");
    webroot = path_join(www, "root");
    challenge_dir = path_join(webroot, ".well-known/acme-challenge");
    REQUIRE(mkdir(www, 0755) == 0 && mkdir(webroot, 0755) == 0);
    REQUIRE_OK(acme_store_new_fs(&store, store_dir));

    acme_http_responder *responder = NULL;
    REQUIRE_OK(acme_http_responder_start(&responder, "127.0.0.1",
                                         (unsigned int)atoi(test_env("ACME_TEST_HTTP_PORT"))));
    REQUIRE_OK(acme_solvers_new(&responder_solvers));
    REQUIRE_OK(acme_solvers_add_http_responder(responder_solvers, responder));
    REQUIRE_OK(acme_solvers_new(&webroot_solvers));
    REQUIRE_OK(acme_solvers_add_webroot(webroot_solvers, webroot));

    /* A certificate issued without hostility: the account exists, and the
     * proxy has a chain of another key for "other-leaf". */
    capture cap;
    memset(&cap, 0, sizeof(cap));
    acme_desire *d = new_desire(provider, EMAIL, NULL, &cap);
    REQUIRE(ensure_name(d, "baseline.hostile.example", responder_solvers) == ACME_OK);
    acme_desire_free(d);

    check_resubmit();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(i, &cases[i]);
    check_foreign_detection();

    acme_solvers_free(webroot_solvers);
    acme_solvers_free(responder_solvers);
    acme_http_responder_stop(responder);
    acme_store_free(store);
    acme_provider_free(quick_provider);
    acme_provider_free(provider);
    free(challenge_dir);
    free(webroot);
    free(www);
    free(store_dir);
    free(tmp);
    test_log_clear();
    return check_done();
}
