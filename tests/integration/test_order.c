/* Orders against a real Pebble, one scenario per run (the argument), since
 * some need the harness to start pebble-challtestsrv differently:
 *   http-standalone  http-01 answered by the built-in HTTP responder, with
 *                    a DNS name and an IP identifier; bad identifiers first
 *   http-challtestsrv http-01 answered by a host solver that drives
 *                    challtestsrv (harness --http01 challtestsrv)
 *   dns              dns-01 via challtestsrv TXT records: a name and its
 *                    wildcard in one order; then a solver that declines
 *                    http-01 so that dns-01 is used; then a name and its
 *                    wildcard sharing one TXT name, each cleanup removing
 *                    only its own value
 *   tls-alpn         tls-alpn-01 answered by the built-in TLS responder
 *   failures         a solver that presents nothing (order invalid, CA's
 *                    problem surfaced, cleanup ran) and one that errors;
 *                    no certificate key: refused before any request
 *   chains           PEBBLE_ALTERNATE_ROOTS=1, PEBBLE_CHAIN_LENGTH=3:
 *                    the preferred chain is chosen by issuer CN
 *   csr              a host-supplied CSR made by openssl
 * Every issued leaf is parsed: its SANs and its public key are checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"

static acme_provider *provider;
static acme_account *account;

static void setup(void)
{
    provider = test_provider(NULL);
    acme_key *key = test_key(ACME_KEY_EC256);
    account = test_account(provider, key);
    acme_key_free(key);
}

static unsigned int env_port(const char *name)
{
    return (unsigned int)atoi(test_env(name));
}

/* Issue for names with solvers; checks the leaf; returns the order. */
static acme_order *issue(const char *const *names, size_t n, const acme_solvers *solvers,
                         acme_key *cert_key, int expect)
{
    acme_order *o = NULL;
    REQUIRE_OK(acme_order_new(&o, account));
    for (size_t i = 0; i < n; i++)
        CHECK_OK(acme_order_add_identifier(o, names[i]));
    int rc = acme_order_issue(o, solvers, cert_key);
    CHECK_MSG(rc == expect, "issue returned %d (%s), wanted %d: %s", rc, acme_strerror(rc), expect,
              acme_order_last_error(o));
    if (rc == ACME_OK) {
        CHECK_STR(acme_order_status(o), "valid");
        CHECK(test_leaf_matches(acme_order_certificate_pem(o), cert_key, names, n) == 0);
        CHECK(test_chain_length(acme_order_certificate_pem(o)) >= 2);
        CHECK(acme_order_chain_count(o) == 1);
    }
    return o;
}

/* ---- identifiers are checked before any request ---------------------- */

static void test_bad_identifiers(void)
{
    static const char *const bad[] = {
        "", "bad..name", ".lead.example", "a*.example.com", "www.*.example.com",
        "*.", "-x.example.com", "x-.example.com", "ex ample.com", "exämple.com",
        "trailing.example.com.", "under_score.example.com",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.com",
    };
    uint64_t before, after;
    acme_provider_stats(provider, &before, NULL);
    acme_order *o = NULL;
    REQUIRE_OK(acme_order_new(&o, account));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_RC(acme_order_add_dns(o, bad[i]), ACME_ERR_IDENTIFIER);
        CHECK_MSG(strstr(acme_order_last_error(o), bad[i]) != NULL, "message %s lacks %s",
                  acme_order_last_error(o), bad[i]);
    }
    char longname[300];
    memset(longname, 'a', sizeof(longname));
    for (size_t i = 60; i < sizeof(longname); i += 61)
        longname[i] = '.';
    longname[sizeof(longname) - 1] = '\0';
    CHECK_RC(acme_order_add_dns(o, longname), ACME_ERR_IDENTIFIER);
    CHECK_RC(acme_order_add_dns(o, "127.0.0.1"), ACME_ERR_IDENTIFIER);
    CHECK_RC(acme_order_add_ip(o, "example.com"), ACME_ERR_IDENTIFIER);
    CHECK_RC(acme_order_add_ip(o, "1.2.3"), ACME_ERR_IDENTIFIER);
    CHECK(acme_order_identifier_count(o) == 0);
    CHECK_RC(acme_order_submit(o), ACME_ERR_INVALID);
    CHECK_RC(acme_order_set_profile(o, "shortlived"), ACME_OK);
    CHECK_OK(acme_order_add_dns(o, "Profile.Example.com"));
    CHECK_STR(acme_order_identifier_value(o, 0), "profile.example.com");
    CHECK_RC(acme_order_submit(o), ACME_ERR_UNSUPPORTED);
    acme_provider_stats(provider, &after, NULL);
    CHECK_MSG(after == before, "%llu requests were sent for bad input",
              (unsigned long long)(after - before));
    acme_order_free(o);
}

/* Solvers holding one built-in responder on the harness's port: http-01
 * when http is given, else tls-alpn-01. */
static acme_solvers *responder_solvers(acme_http_responder **http, acme_tls_alpn_responder **tls)
{
    acme_solvers *s = NULL;
    REQUIRE_OK(acme_solvers_new(&s));
    if (http) {
        REQUIRE_OK(acme_http_responder_start(http, "127.0.0.1", env_port("ACME_TEST_HTTP_PORT")));
        REQUIRE_OK(acme_solvers_add_http_responder(s, *http));
    } else {
        REQUIRE_OK(acme_tls_alpn_responder_start(tls, "127.0.0.1", env_port("ACME_TEST_TLS_PORT")));
        REQUIRE_OK(acme_solvers_add_tls_alpn_responder(s, *tls));
    }
    return s;
}

/* ---- http-01 ------------------------------------------------------- */

static void test_http_standalone(void)
{
    test_bad_identifiers();
    acme_http_responder *r = NULL;
    acme_solvers *s = responder_solvers(&r, NULL);
    acme_key *cert_key = test_key(ACME_KEY_EC256);

    static const char *const names[] = { "http.example.com", "www.http.example.com" };
    acme_order_free(issue(names, 2, s, cert_key, ACME_OK));

    /* RFC 8738: an IP identifier; the leaf carries an iPAddress SAN. */
    static const char *const ip[] = { "127.0.0.1" };
    acme_order *o = issue(ip, 1, s, cert_key, ACME_OK);
    CHECK_STR(acme_order_identifier_type(o, 0), "ip");
    acme_order_free(o);

    /* An RSA certificate key works the same. */
    acme_key *rsa = test_key(ACME_KEY_RSA2048);
    static const char *const one[] = { "rsa.example.com" };
    acme_order_free(issue(one, 1, s, rsa, ACME_OK));
    acme_key_free(rsa);

    acme_key_free(cert_key);
    acme_solvers_free(s);
    acme_http_responder_stop(r);
}

typedef struct cts_state {
    int presented;
    int cleaned;
} cts_state;

static int cts_present(const acme_challenge *ch, void *ud)
{
    char body[1024];
    snprintf(body, sizeof(body), "{\"token\":\"%s\",\"content\":\"%s\"}", acme_challenge_token(ch),
             acme_challenge_key_authorization(ch));
    ((cts_state *)ud)->presented++;
    return test_challtestsrv("add-http01", body) == 0 ? ACME_OK : ACME_ERR_CALLBACK;
}

static void cts_cleanup(const acme_challenge *ch, void *ud)
{
    char body[512];
    snprintf(body, sizeof(body), "{\"token\":\"%s\"}", acme_challenge_token(ch));
    test_challtestsrv("del-http01", body);
    /* The order succeeds, so every presented challenge was validated. */
    CHECK_STR(acme_challenge_status(ch), "valid");
    ((cts_state *)ud)->cleaned++;
}

static void test_http_challtestsrv(void)
{
    cts_state st = { 0, 0 };
    acme_solvers *s = NULL;
    REQUIRE_OK(acme_solvers_new(&s));
    REQUIRE_OK(acme_solvers_add(s, "http-01", cts_present, NULL, cts_cleanup, &st));
    acme_key *cert_key = test_key(ACME_KEY_EC384);
    static const char *const names[] = { "cts.example.com", "a.cts.example.com",
                                         "b.cts.example.com" };
    acme_order *o = issue(names, 3, s, cert_key, ACME_OK);
    /* Every presented challenge was cleaned up; reused authorizations
     * (PEBBLE_AUTHZREUSE) needed no solver. */
    CHECK(st.presented == st.cleaned);
    size_t reused = 0;
    for (size_t i = 0; i < acme_order_authorization_count(o); i++) {
        CHECK_STR(acme_order_authorization_status(o, i), "valid");
        if (strcmp(acme_order_authorization_challenge(o, i), "") == 0)
            reused++;
        else
            CHECK_STR(acme_order_authorization_challenge(o, i), "http-01");
    }
    CHECK((size_t)st.presented + reused == acme_order_authorization_count(o));
    acme_order_free(o);
    acme_key_free(cert_key);
    acme_solvers_free(s);
}

/* ---- dns-01 -------------------------------------------------------- */

typedef struct dns_state {
    int presented;
    int waited;
    int cleaned;
    int declined;
} dns_state;

static int dns_present(const acme_challenge *ch, void *ud)
{
    char body[1024];
    snprintf(body, sizeof(body), "{\"host\":\"%s.\",\"value\":\"%s\"}",
             acme_challenge_dns_txt_name(ch), acme_challenge_dns_txt_value(ch));
    CHECK(strncmp(acme_challenge_dns_txt_name(ch), "_acme-challenge.", 16) == 0);
    CHECK(strlen(acme_challenge_dns_txt_value(ch)) == 43);
    ((dns_state *)ud)->presented++;
    return test_challtestsrv("set-txt", body) == 0 ? ACME_OK : ACME_ERR_CALLBACK;
}

static int dns_wait(const acme_challenge *ch, void *ud)
{
    (void)ch;
    ((dns_state *)ud)->waited++;
    return ACME_OK;
}

static void dns_cleanup(const acme_challenge *ch, void *ud)
{
    char body[512];
    snprintf(body, sizeof(body), "{\"host\":\"%s.\"}", acme_challenge_dns_txt_name(ch));
    test_challtestsrv("clear-txt", body);
    ((dns_state *)ud)->cleaned++;
}

static int decline(const acme_challenge *ch, void *ud)
{
    (void)ch;
    ((dns_state *)ud)->declined++;
    return ACME_ERR_DECLINED;
}

/* A dns-01 solver that keeps, as a zone would, the TXT values it published
 * per name, and publishes them through challtestsrv. challtestsrv can only
 * clear a whole name, so a cleanup clears it and publishes again the values
 * of the challenges not yet cleaned up: it removes only its own value, as
 * solver.h asks. */
#define ZONE_MAX 8
typedef struct txt_zone {
    char name[ZONE_MAX][300];
    char value[ZONE_MAX][64];
    int live[ZONE_MAX];
    size_t n;
    size_t most_shared; /* most values live at once on one name */
    int cleanups;
    int other_kept; /* cleanups that found another value live on their name */
} txt_zone;

static size_t zone_live(const txt_zone *z, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < z->n; i++)
        n += z->live[i] && strcmp(z->name[i], name) == 0;
    return n;
}

static int zone_publish(const char *name, const char *value)
{
    char body[1024];
    snprintf(body, sizeof(body), "{\"host\":\"%s.\",\"value\":\"%s\"}", name, value);
    return test_challtestsrv("set-txt", body);
}

static int zone_present(const acme_challenge *ch, void *ud)
{
    txt_zone *z = ud;
    const char *name = acme_challenge_dns_txt_name(ch), *value = acme_challenge_dns_txt_value(ch);
    REQUIRE(z->n < ZONE_MAX && strlen(name) < sizeof(z->name[0]) &&
            strlen(value) < sizeof(z->value[0]));
    snprintf(z->name[z->n], sizeof(z->name[0]), "%s", name);
    snprintf(z->value[z->n], sizeof(z->value[0]), "%s", value);
    z->live[z->n++] = 1;
    size_t shared = zone_live(z, name);
    z->most_shared = shared > z->most_shared ? shared : z->most_shared;
    return zone_publish(name, value) == 0 ? ACME_OK : ACME_ERR_CALLBACK;
}

static void zone_cleanup(const acme_challenge *ch, void *ud)
{
    txt_zone *z = ud;
    const char *name = acme_challenge_dns_txt_name(ch), *value = acme_challenge_dns_txt_value(ch);
    size_t mine = z->n;
    for (size_t i = 0; i < z->n && mine == z->n; i++)
        if (z->live[i] && strcmp(z->name[i], name) == 0 && strcmp(z->value[i], value) == 0)
            mine = i;
    CHECK_MSG(mine < z->n, "cleanup of %s = %s, which is not published", name, value);
    if (mine == z->n)
        return;
    size_t before = zone_live(z, name);
    z->live[mine] = 0;
    char body[512];
    snprintf(body, sizeof(body), "{\"host\":\"%s.\"}", name);
    CHECK(test_challtestsrv("clear-txt", body) == 0);
    for (size_t i = 0; i < z->n; i++)
        if (z->live[i] && strcmp(z->name[i], name) == 0)
            CHECK(zone_publish(name, z->value[i]) == 0);
    CHECK(zone_live(z, name) == before - 1);
    z->other_kept += before > 1;
    /* Both values were there when the CA looked: each was validated. */
    CHECK_STR(acme_challenge_status(ch), "valid");
    z->cleanups++;
}

/* A wildcard and its base name: two challenges, one TXT name, two values,
 * both published at once; the first cleanup leaves the other value in
 * place until its own cleanup. */
static void test_dns_shared_name(acme_key *cert_key)
{
    txt_zone z;
    memset(&z, 0, sizeof(z));
    acme_solvers *s = NULL;
    REQUIRE_OK(acme_solvers_new(&s));
    REQUIRE_OK(acme_solvers_add(s, "dns-01", zone_present, NULL, zone_cleanup, &z));
    static const char *const names[] = { "shared.example.com", "*.shared.example.com" };
    acme_order_free(issue(names, 2, s, cert_key, ACME_OK));
    CHECK_MSG(z.n == 2, "%zu challenges presented", z.n);
    if (z.n == 2) {
        CHECK_STR(z.name[0], "_acme-challenge.shared.example.com");
        CHECK_STR(z.name[1], z.name[0]);
        CHECK(strcmp(z.value[0], z.value[1]) != 0);
    }
    CHECK_MSG(z.most_shared == 2, "at most %zu values at once", z.most_shared);
    CHECK(z.cleanups == 2 && z.other_kept == 1);
    CHECK(zone_live(&z, "_acme-challenge.shared.example.com") == 0);
    acme_solvers_free(s);
}

static void test_dns(void)
{
    dns_state st = { 0, 0, 0, 0 };
    acme_solvers *s = NULL;
    REQUIRE_OK(acme_solvers_new(&s));
    REQUIRE_OK(acme_solvers_add(s, "dns-01", dns_present, dns_wait, dns_cleanup, &st));
    acme_key *cert_key = test_key(ACME_KEY_EC256);
    static const char *const names[] = { "dns.example.com", "*.dns.example.com" };
    acme_order *o = issue(names, 2, s, cert_key, ACME_OK);
    CHECK(st.presented >= 1 && st.presented == st.cleaned && st.presented == st.waited);
    int wildcards = 0;
    for (size_t i = 0; i < acme_order_identifier_count(o); i++)
        wildcards += acme_order_identifier_value(o, i)[0] == '*';
    CHECK(wildcards == 1);
    acme_order_free(o);
    acme_solvers_free(s);

    /* http-01 is preferred but declined: dns-01 answers instead. */
    dns_state st2 = { 0, 0, 0, 0 };
    REQUIRE_OK(acme_solvers_new(&s));
    REQUIRE_OK(acme_solvers_add(s, "http-01", decline, NULL, NULL, &st2));
    REQUIRE_OK(acme_solvers_add(s, "dns-01", dns_present, NULL, dns_cleanup, &st2));
    static const char *const fresh[] = { "declined.example.com" };
    o = issue(fresh, 1, s, cert_key, ACME_OK);
    CHECK(st2.declined == 1);
    CHECK(st2.presented == 1 && st2.cleaned == 1);
    CHECK_STR(acme_order_authorization_challenge(o, 0), "dns-01");
    acme_order_free(o);

    /* Only a declining solver: no solver for the authorization. */
    acme_solvers_free(s);
    REQUIRE_OK(acme_solvers_new(&s));
    REQUIRE_OK(acme_solvers_add(s, "http-01", decline, NULL, NULL, &st2));
    static const char *const other[] = { "nobody.example.com" };
    o = issue(other, 1, s, cert_key, ACME_ERR_NO_SOLVER);
    CHECK(strstr(acme_order_last_error(o), "dns-01") != NULL);
    acme_order_free(o);

    test_dns_shared_name(cert_key);
    acme_key_free(cert_key);
    acme_solvers_free(s);
}

/* ---- tls-alpn-01 ----------------------------------------------------- */

static void test_tls_alpn(void)
{
    acme_tls_alpn_responder *r = NULL;
    acme_solvers *s = responder_solvers(NULL, &r);
    acme_key *cert_key = test_key(ACME_KEY_EC256);
    static const char *const names[] = { "alpn.example.com", "www.alpn.example.com" };
    acme_order *o = issue(names, 2, s, cert_key, ACME_OK);
    for (size_t i = 0; i < acme_order_authorization_count(o); i++)
        CHECK(strcmp(acme_order_authorization_challenge(o, i), "tls-alpn-01") == 0 ||
              strcmp(acme_order_authorization_challenge(o, i), "") == 0);
    acme_order_free(o);
    static const char *const ip[] = { "127.0.0.1" };
    acme_order_free(issue(ip, 1, s, cert_key, ACME_OK));
    acme_key_free(cert_key);
    acme_solvers_free(s);
    acme_tls_alpn_responder_stop(r);
}

/* ---- failures ------------------------------------------------------------ */

typedef struct fail_state {
    int presented;
    int cleaned;
    char status[16]; /* acme_challenge_status() in the last cleanup */
} fail_state;

/* Says it presented, but publishes nothing: the CA cannot validate. */
static int fake_present(const acme_challenge *ch, void *ud)
{
    (void)ch;
    ((fail_state *)ud)->presented++;
    return ACME_OK;
}

/* Presents the first challenge it is given and fails on every later one:
 * which name's authorization comes first is the CA's choice. */
static int present_once(const acme_challenge *ch, void *ud)
{
    fail_state *st = ud;
    (void)ch;
    if (st->presented)
        return ACME_ERR_IO;
    st->presented++;
    return ACME_OK;
}

static void count_cleanup(const acme_challenge *ch, void *ud)
{
    fail_state *st = ud;
    snprintf(st->status, sizeof(st->status), "%s", acme_challenge_status(ch));
    st->cleaned++;
}

static void test_failures(void)
{
    fail_state st = { 0, 0, "" };
    acme_solvers *s = NULL;
    REQUIRE_OK(acme_solvers_new(&s));
    REQUIRE_OK(acme_solvers_add(s, "http-01", fake_present, NULL, count_cleanup, &st));
    acme_key *cert_key = test_key(ACME_KEY_EC256);
    static const char *const names[] = { "unanswered.example.com" };
    acme_order *o = NULL;
    REQUIRE_OK(acme_order_new(&o, account));
    CHECK_OK(acme_order_add_dns(o, names[0]));
    CHECK_OK(acme_order_set_deactivate_on_failure(o, 1));
    CHECK_RC(acme_order_issue(o, s, cert_key), ACME_ERR_VALIDATION);
    const acme_problem *p = acme_order_last_problem(o);
    CHECK(p != NULL);
    CHECK_MSG(acme_problem_is(p, "connection") || acme_problem_is(p, "unauthorized") ||
                  acme_problem_is(p, "incorrectResponse"),
              "problem type %s", acme_problem_type(p));
    CHECK(strstr(acme_order_last_error(o), "unanswered.example.com") != NULL);
    CHECK(strstr(acme_order_last_error(o), "http-01") != NULL);
    CHECK(st.presented == 1 && st.cleaned == 1);
    CHECK_STR(st.status, "invalid"); /* the CA refused it */
    CHECK(acme_last_problem() == p);
    acme_order_free(o);

    /* A solver that fails: a callback error, and the challenge already
     * presented for the other name is cleaned up. */
    acme_solvers_free(s);
    fail_state st2 = { 0, 0, "" };
    REQUIRE_OK(acme_solvers_new(&s));
    REQUIRE_OK(acme_solvers_add(s, "http-01", present_once, NULL, count_cleanup, &st2));
    REQUIRE_OK(acme_solvers_add(s, "dns-01", present_once, NULL, count_cleanup, &st2));
    REQUIRE_OK(acme_order_new(&o, account));
    CHECK_OK(acme_order_add_dns(o, "first.broken.example.com"));
    CHECK_OK(acme_order_add_dns(o, "*.broken.example.com"));
    CHECK_RC(acme_order_issue(o, s, cert_key), ACME_ERR_CALLBACK);
    CHECK_MSG(st2.presented == 1 && st2.cleaned == 1, "presented %d, cleaned up %d",
              st2.presented, st2.cleaned);
    /* Stopped before the CA was asked to validate: undecided. */
    CHECK_STR(st2.status, "pending");
    acme_order_free(o);

    /* The account key cannot be the certificate key. */
    REQUIRE_OK(acme_order_new(&o, account));
    CHECK_OK(acme_order_add_dns(o, "same-key.example.com"));
    CHECK_OK(acme_order_submit(o));
    CHECK_RC(acme_order_finalize(o, acme_account_key(account)), ACME_ERR_INVALID);
    acme_order_free(o);

    /* Neither a certificate key nor a CSR, or the account key: issue
     * refuses before it sends anything, not at finalize after the CA has
     * validated the challenges. */
    acme_solvers_free(s);
    fail_state st3 = { 0, 0, "" };
    REQUIRE_OK(acme_solvers_new(&s));
    REQUIRE_OK(acme_solvers_add(s, "http-01", fake_present, NULL, count_cleanup, &st3));
    acme_key *bad_keys[] = { NULL, acme_account_key(account) };
    for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
        uint64_t before, after;
        REQUIRE_OK(acme_order_new(&o, account));
        CHECK_OK(acme_order_add_dns(o, "no-key.example.com"));
        acme_provider_stats(provider, &before, NULL);
        CHECK_RC(acme_order_issue(o, s, bad_keys[i]), ACME_ERR_INVALID);
        acme_provider_stats(provider, &after, NULL);
        CHECK_MSG(after == before, "key %zu: %llu requests before the refusal", i,
                  (unsigned long long)(after - before));
        CHECK_MSG(strstr(acme_order_last_error(o), bad_keys[i] ? "account key" : "CSR") != NULL,
                  "message: %s", acme_order_last_error(o));
        CHECK(acme_order_url(o) == NULL && st3.presented == 0);
        acme_order_free(o);
    }

    acme_key_free(cert_key);
    acme_solvers_free(s);
}

/* ---- alternate chains ------------------------------------------------------- */

static void test_chains(void)
{
    acme_http_responder *r = NULL;
    acme_solvers *s = responder_solvers(&r, NULL);
    acme_key *cert_key = test_key(ACME_KEY_EC256);
    static const char *const names[] = { "chains.example.com" };

    /* No preference: one chain downloaded, no extra request. */
    acme_order *o = issue(names, 1, s, cert_key, ACME_OK);
    /* PEBBLE_CHAIN_LENGTH=3: the leaf and three intermediates. */
    CHECK_MSG(test_chain_length(acme_order_certificate_pem(o)) == 4, "%zu",
              test_chain_length(acme_order_certificate_pem(o)));
    acme_order_free(o);

    /* A preference nobody matches: all chains fetched, default kept. */
    REQUIRE_OK(acme_order_new(&o, account));
    CHECK_OK(acme_order_add_dns(o, names[0]));
    CHECK_OK(acme_order_set_preferred_chain(o, "No Such CA"));
    REQUIRE_OK(acme_order_issue(o, s, cert_key));
    CHECK(acme_order_chain_count(o) == 2);
    CHECK(acme_order_certificate_pem(o) == acme_order_chain_pem(o, 0));
    const char *alt_issuer = acme_order_chain_issuer(o, 1);
    REQUIRE(alt_issuer != NULL && acme_order_chain_issuer(o, 0) != NULL);
    CHECK(strcmp(alt_issuer, acme_order_chain_issuer(o, 0)) != 0);
    char *want = strdup(alt_issuer);
    CHECK(test_leaf_matches(acme_order_chain_pem(o, 1), cert_key, names, 1) == 0);
    acme_order_free(o);

    /* Prefer the alternate by its issuer's CN. */
    REQUIRE_OK(acme_order_new(&o, account));
    CHECK_OK(acme_order_add_dns(o, names[0]));
    CHECK_OK(acme_order_set_preferred_chain(o, want));
    REQUIRE_OK(acme_order_issue(o, s, cert_key));
    CHECK(acme_order_certificate_pem(o) == acme_order_chain_pem(o, 1));
    CHECK_STR(acme_order_chain_issuer(o, 1), want);
    CHECK(test_leaf_matches(acme_order_certificate_pem(o), cert_key, names, 1) == 0);
    acme_order_free(o);
    free(want);

    acme_key_free(cert_key);
    acme_solvers_free(s);
    acme_http_responder_stop(r);
}

/* ---- host-supplied CSR ------------------------------------------------------- */

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_csr(void)
{
    char *dir = test_tmpdir();
    REQUIRE(dir != NULL);
    char cmd[4096], key_path[1100], csr_path[1100];
    snprintf(key_path, sizeof(key_path), "%s/host.key", dir);
    snprintf(csr_path, sizeof(csr_path), "%s/host.csr", dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s "
             "-out %s -subj /CN=csr.example.com "
             "-addext subjectAltName=DNS:csr.example.com,DNS:www.csr.example.com 2>/dev/null",
             key_path, csr_path);
    REQUIRE(run(cmd) == 0);
    char *csr = test_read_file(csr_path);
    REQUIRE(csr != NULL);
    acme_key *host_key = NULL;
    REQUIRE_OK(acme_key_load_file(&host_key, key_path)); /* PKCS#8 from openssl */

    acme_http_responder *r = NULL;
    acme_solvers *s = responder_solvers(&r, NULL);

    /* Identifiers come from the CSR; no certificate key is given. */
    acme_order *o = NULL;
    REQUIRE_OK(acme_order_new(&o, account));
    CHECK_OK(acme_order_set_csr(o, csr));
    CHECK(acme_order_identifier_count(o) == 2);
    CHECK_OK(acme_order_issue(o, s, NULL));
    static const char *const names[] = { "csr.example.com", "www.csr.example.com" };
    CHECK(test_leaf_matches(acme_order_certificate_pem(o), host_key, names, 2) == 0);
    acme_order_free(o);

    /* A CSR that disagrees with the order's identifiers is refused. */
    REQUIRE_OK(acme_order_new(&o, account));
    CHECK_OK(acme_order_add_dns(o, "other.example.com"));
    CHECK_RC(acme_order_set_csr(o, csr), ACME_ERR_IDENTIFIER);
    CHECK_RC(acme_order_set_csr(o, "not a csr"), ACME_ERR_INVALID);
    acme_order_free(o);

    acme_solvers_free(s);
    acme_http_responder_stop(r);
    acme_key_free(host_key);
    free(csr);
    remove(key_path);
    remove(csr_path);
    remove(dir);
    free(dir);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } scenarios[] = {
        { "http-standalone", test_http_standalone }, { "http-challtestsrv", test_http_challtestsrv },
        { "dns", test_dns }, { "tls-alpn", test_tls_alpn }, { "failures", test_failures },
        { "chains", test_chains }, { "csr", test_csr },
    };
    if (argc != 2) {
        fprintf(stderr, "usage: %s SCENARIO\n", argv[0]);
        return 2;
    }
    setup();
    int ran = 0;
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        if (strcmp(argv[1], scenarios[i].name) == 0) {
            scenarios[i].fn();
            ran = 1;
        }
    }
    if (!ran) {
        fprintf(stderr, "unknown scenario %s\n", argv[1]);
        return 2;
    }
    acme_account_free(account);
    acme_provider_free(provider);
    test_log_clear();
    return check_done();
}
