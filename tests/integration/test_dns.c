/* The built-in DNS pieces (include/acme/dns.h) through the public API,
 * against the Knot server of pebble_harness.py --knot (zone.test, updatable
 * with the key acme-key), which Pebble validates against.
 *   update   acme_solvers_add_dns_update() + acme_solvers_add_dns_wait()
 *            issue "*.zone.test" and "zone.test" through acme_order_issue();
 *            afterwards no TXT value is left; a wrong secret is refused and
 *            the message names the key.
 *   late     a host dns-01 solver that publishes only seconds after its
 *            present returned (knsupdate from a child process), with
 *            acme_solvers_add_dns_wait(): the CA is told to look only once
 *            Knot serves the value, so the order succeeds; one that never
 *            publishes times out with a message naming the nameserver.
 *   account  dns-account-01 through the update solver. Pebble 2.4 offers no
 *            dns-account-01, so the scripted CA plays the CA (run with
 *            --offer dns-01,dns-account-01 --dns-var ACME_TEST_KNOT_RESOLVER:
 *            it offers both DNS types and validates against Knot); the
 *            solver's `types` order picks the one answered.
 * Built without the dns feature, each scenario checks the refusal instead. */
#include <acme.h>
#include <acme/dns.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"

static const char key_name[] = "acme-key";

static unsigned int knot_port(void)
{
    return (unsigned int)strtoul(test_env("ACME_TEST_KNOT_PORT"), NULL, 10);
}

static void update_options(acme_dns_update_options *o)
{
    acme_dns_update_options_init(o, ACME_DNS_UPDATE_OPTIONS_VERSION);
    o->server = "127.0.0.1";
    o->port = knot_port();
    o->tsig_name = key_name;
    o->tsig_secret = test_env("ACME_TEST_KNOT_SECRET");
    o->resolver = test_env("ACME_TEST_KNOT_RESOLVER");
}

static void wait_options(acme_dns_wait_options *w, unsigned int timeout_ms)
{
    acme_dns_wait_options_init(w, ACME_DNS_WAIT_OPTIONS_VERSION);
    w->resolver = test_env("ACME_TEST_KNOT_RESOLVER");
    w->nameserver_port = knot_port();
    w->interval_ms = 200;
    w->timeout_ms = timeout_ms;
}

/* The TXT values Knot serves at name, one per line ("" for none). */
static char *knot_txt(const char *name)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "kdig +short +timeout=2 +retry=1 @127.0.0.1 -p %u %s TXT",
             knot_port(), name);
    FILE *f = popen(cmd, "r");
    REQUIRE(f != NULL);
    char *out = calloc(1, 4096);
    REQUIRE(out != NULL);
    size_t n = fread(out, 1, 4095, f);
    out[n] = '\0';
    CHECK_MSG(pclose(f) == 0, "kdig failed: %s", out);
    return out;
}

/* Send one TSIG-signed update to Knot with knsupdate ("add" or "delete"). */
static int knsupdate(const char *op, const char *name, const char *value)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "knsupdate -y hmac-sha256:%s:%s", key_name,
             test_env("ACME_TEST_KNOT_SECRET"));
    FILE *f = popen(cmd, "w");
    if (!f)
        return -1;
    fprintf(f, "server 127.0.0.1 %u\nzone zone.test.\nupdate %s %s. 60 TXT \"%s\"\nsend\nquit\n",
            knot_port(), op, name, value);
    return pclose(f) == 0 ? 0 : -1;
}

/* A provider, an account on it and a certificate key. */
typedef struct session {
    acme_provider *p;
    acme_key *account_key, *cert_key;
    acme_account *a;
} session;

static void session_open(session *ss, acme_provider *p)
{
    ss->p = p;
    ss->account_key = test_key(ACME_KEY_EC256);
    ss->a = test_account(p, ss->account_key);
    ss->cert_key = test_key(ACME_KEY_EC256);
}

static void session_close(session *ss)
{
    acme_key_free(ss->cert_key);
    acme_account_free(ss->a);
    acme_key_free(ss->account_key);
    acme_provider_free(ss->p);
}

/* The update solver for Knot, then the propagation check. */
/* The update solver for `types` in that order (NULL: the default order),
 * with the propagation check. */
static acme_solvers *update_solvers_for(const char *const *types, size_t ntypes)
{
    acme_solvers *s = NULL;
    REQUIRE_OK(acme_solvers_new(&s));
    acme_dns_update_options o;
    update_options(&o);
    o.types = types;
    o.type_count = ntypes;
    REQUIRE_OK(acme_solvers_add_dns_update(s, &o));
    acme_dns_wait_options w;
    wait_options(&w, 30000);
    REQUIRE_OK(acme_solvers_add_dns_wait(s, &w));
    return s;
}

static acme_solvers *update_solvers(void)
{
    return update_solvers_for(NULL, 0);
}

/* Issue "*.base" and "base" (one TXT name, two values at once). */
static void issue_pair(session *ss, acme_solvers *s, const char *base)
{
    char wild[256];
    snprintf(wild, sizeof(wild), "*.%s", base);
    const char *const names[] = { wild, base };
    acme_order *ord = NULL;
    REQUIRE_OK(acme_order_new(&ord, ss->a));
    for (size_t i = 0; i < 2; i++)
        CHECK_OK(acme_order_add_dns(ord, names[i]));
    int rc = acme_order_issue(ord, s, ss->cert_key);
    CHECK_MSG(rc == ACME_OK, "issue: %s", acme_order_last_error(ord));
    if (rc == ACME_OK)
        CHECK(test_leaf_matches(acme_order_certificate_pem(ord), ss->cert_key, names, 2) == 0);
    acme_order_free(ord);
}

/* Without the dns feature both calls are refused and say why. */
static int check_refusal(void)
{
    acme_solvers *s = NULL;
    REQUIRE_OK(acme_solvers_new(&s));
    acme_dns_update_options o;
    acme_dns_update_options_init(&o, ACME_DNS_UPDATE_OPTIONS_VERSION);
    o.tsig_name = key_name;
    o.tsig_secret = "c2VjcmV0";
    CHECK_RC(acme_solvers_add_dns_update(s, &o), ACME_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(acme_solvers_last_error(s), "DNS") != NULL, "%s",
              acme_solvers_last_error(s));
    CHECK_RC(acme_solvers_add_dns_wait(s, NULL), ACME_ERR_UNSUPPORTED);
    CHECK(acme_solvers_count(s) == 0);
    acme_solvers_free(s);
    return check_done();
}

/* ---- update ----------------------------------------------------------- */

static void test_update(void)
{
    session ss;
    session_open(&ss, test_provider(NULL));
    acme_solvers *s = update_solvers();
    issue_pair(&ss, s, "zone.test");
    /* Both values shared one name; cleanup took both away. */
    char *left = knot_txt("_acme-challenge.zone.test");
    CHECK_MSG(left[0] == '\0', "TXT left after cleanup: %s", left);
    free(left);
    acme_solvers_free(s);

    /* A secret Knot does not know: refused, and the key is named. */
    REQUIRE_OK(acme_solvers_new(&s));
    acme_dns_update_options o;
    update_options(&o);
    o.tsig_secret = "bm90IHRoZSBrZXkgS25vdCBrbm93cyBhdCBhbGwhISE=";
    REQUIRE_OK(acme_solvers_add_dns_update(s, &o));
    acme_order *ord = NULL;
    REQUIRE_OK(acme_order_new(&ord, ss.a));
    CHECK_OK(acme_order_add_dns(ord, "wrongkey.zone.test"));
    CHECK(acme_order_issue(ord, s, ss.cert_key) != ACME_OK);
    CHECK_MSG(strstr(acme_order_last_error(ord), key_name) != NULL, "key not named: %s",
              acme_order_last_error(ord));
    acme_order_free(ord);
    acme_solvers_free(s);
    session_close(&ss);
}

/* ---- late ------------------------------------------------------------- */

typedef struct late_state {
    unsigned int delay_s; /* 0: never publish */
    pid_t kids[4];
    size_t nkids;
    int presented, cleaned;
} late_state;

static int late_present(const acme_challenge *ch, void *ud)
{
    late_state *st = ud;
    st->presented++;
    if (!st->delay_s)
        return ACME_OK;
    /* Publish later, from another process, as a slow DNS provider would. */
    pid_t pid = fork();
    if (pid == 0) {
        sleep(st->delay_s);
        _exit(knsupdate("add", acme_challenge_dns_txt_name(ch),
                        acme_challenge_dns_txt_value(ch)) == 0 ? 0 : 1);
    }
    if (pid < 0 || st->nkids == sizeof(st->kids) / sizeof(st->kids[0]))
        return ACME_ERR_CALLBACK;
    st->kids[st->nkids++] = pid;
    return ACME_OK;
}

static void late_cleanup(const acme_challenge *ch, void *ud)
{
    late_state *st = ud;
    st->cleaned++;
    for (size_t i = 0; i < st->nkids; i++) {
        int status = 0;
        CHECK(waitpid(st->kids[i], &status, 0) == st->kids[i]);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "knsupdate add failed");
    }
    st->nkids = 0;
    if (st->delay_s)
        CHECK(knsupdate("delete", acme_challenge_dns_txt_name(ch),
                        acme_challenge_dns_txt_value(ch)) == 0);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_late(void)
{
    session ss;
    session_open(&ss, test_provider(NULL));

    /* Published 3 s after present: without the check Pebble (which
     * validates at once) would find nothing and the order would fail. */
    late_state st = { .delay_s = 3 };
    acme_solvers *s = NULL;
    REQUIRE_OK(acme_solvers_new(&s));
    REQUIRE_OK(acme_solvers_add(s, "dns-01", late_present, NULL, late_cleanup, &st));
    acme_dns_wait_options w;
    wait_options(&w, 30000);
    REQUIRE_OK(acme_solvers_add_dns_wait(s, &w));
    acme_order *ord = NULL;
    REQUIRE_OK(acme_order_new(&ord, ss.a));
    CHECK_OK(acme_order_add_dns(ord, "late.zone.test"));
    double t0 = now_s();
    int rc = acme_order_issue(ord, s, ss.cert_key);
    double took = now_s() - t0;
    CHECK_MSG(rc == ACME_OK, "issue: %s", acme_order_last_error(ord));
    CHECK_MSG(took >= 3.0, "the order did not wait for the record: %.1f s", took);
    CHECK(st.presented == 1 && st.cleaned == 1);
    acme_order_free(ord);
    acme_solvers_free(s);

    /* Never published: the check gives up and names the server. */
    late_state never = { .delay_s = 0 };
    REQUIRE_OK(acme_solvers_new(&s));
    REQUIRE_OK(acme_solvers_add(s, "dns-01", late_present, NULL, late_cleanup, &never));
    wait_options(&w, 1500);
    REQUIRE_OK(acme_solvers_add_dns_wait(s, &w));
    REQUIRE_OK(acme_order_new(&ord, ss.a));
    CHECK_OK(acme_order_add_dns(ord, "never.zone.test"));
    CHECK_RC(acme_order_issue(ord, s, ss.cert_key), ACME_ERR_TIMEOUT);
    const char *why = acme_order_last_error(ord);
    CHECK_MSG(strstr(why, "ns1.zone.test") && strstr(why, "_acme-challenge.never.zone.test"),
              "message: %s", why);
    CHECK(never.presented == 1 && never.cleaned == 1);
    acme_order_free(ord);
    acme_solvers_free(s);
    session_close(&ss);
}

/* ---- account ---------------------------------------------------------- */

static void test_account_type(void)
{
    acme_provider_options po;
    acme_provider_options_init(&po, ACME_PROVIDER_OPTIONS_VERSION);
    char url[512];
    snprintf(url, sizeof(url), "%s/ca/dir", test_env("ACME_TEST_SCRIPTED"));
    acme_provider *p = NULL;
    po.ca_bundle = test_env("ACME_TEST_CA_BUNDLE");
    po.log = test_log_record;
    po.log_level = ACME_LOG_DEBUG;
    REQUIRE_OK(acme_provider_new(&p, url, &po));
    session ss;
    session_open(&ss, p);
    /* The CA offers both DNS types: the solver's order decides. */
    static const char *const account_first[] = { "dns-account-01", "dns-01" };
    acme_solvers *s = update_solvers_for(account_first, 2);
    test_log_clear();
    issue_pair(&ss, s, "acct.zone.test");
    CHECK_MSG(strstr(test_log(), "presented dns-account-01") != NULL &&
                  strstr(test_log(), "presented dns-01") == NULL,
              "%s", test_log());
    acme_solvers_free(s);
    s = update_solvers();
    test_log_clear();
    issue_pair(&ss, s, "plain.zone.test");
    CHECK_MSG(strstr(test_log(), "presented dns-01") != NULL &&
                  strstr(test_log(), "presented dns-account-01") == NULL,
              "default order, dns-01 first: %s", test_log());
    acme_solvers_free(s);
    /* Only DNS types the update answers, each once. */
    static const char *const bad[][2] = { { "http-01", NULL }, { "dns-01", "dns-01" } };
    for (size_t i = 0; i < 2; i++) {
        acme_solvers *t = NULL;
        REQUIRE_OK(acme_solvers_new(&t));
        acme_dns_update_options o;
        update_options(&o);
        o.types = bad[i];
        o.type_count = bad[i][1] ? 2 : 1;
        CHECK_RC(acme_solvers_add_dns_update(t, &o), ACME_ERR_INVALID);
        acme_solvers_free(t);
    }
    session_close(&ss);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*run)(void);
    } scenarios[] = { { "update", test_update },
                      { "late", test_late },
                      { "account", test_account_type } };
    for (size_t i = 0; argc == 2 && i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        if (strcmp(argv[1], scenarios[i].name) != 0)
            continue;
        if (!acme_dns_available())
            return check_refusal();
        scenarios[i].run();
        return check_done();
    }
    fprintf(stderr, "usage: %s update|late|account\n", argv[0]);
    return 2;
}
