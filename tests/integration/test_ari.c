/* ARI (RFC 9773) end to end, through the public desire and order APIs.
 *
 * Pebble 2.4.0 has no renewalInfo resource and ignores "replaces", so this
 * test runs behind tests/harness/ari_proxy.py: a reverse proxy in front of the
 * harness's real Pebble that adds renewalInfo to the directory, answers
 * renewalInfo from a control file this test rewrites between steps (window,
 * Retry-After, errors, malformed bodies), can answer one newOrder with
 * alreadyReplaced, and logs every renewalInfo request and every newOrder's
 * "replaces". Everything else (accounts, orders, validation, issuance) is
 * Pebble's own. The desire runs on an injected clock.
 *
 *   directory      renewalInfo is offered through the proxy, not without it
 *   obtain         a first certificate; its ARI id (checked against an
 *                  independent computation) is what the proxy is later asked for
 *   window         a future window: NOT_DUE naming the moment, which lies in the
 *                  window and is kept while the window stays the same
 *   retry-after    honoured, clamped to 60 s and one day, six hours without
 *                  one, HTTP-date form
 *   past window    renews at once with "replaces" = the old certificate's id
 *   the moment     not due just before the chosen moment, due at the window's end
 *   malformed      end before/equal start, fields missing, not JSON, bad times,
 *                  HTTP errors: the lifetime rule, logged, retried after an hour
 *   stored window  renewalInfo unavailable, an earlier window decides: the
 *                  log names that window, not the lifetime rule
 *   alreadyReplaced one 409, then the same order without "replaces"; the same
 *                  for a 409 malformed (CAs that predate alreadyReplaced)
 *   replaces rules not sent when no name is kept, or when another directory
 *                  issued the certificate
 *   order API      acme_order_set_replaces through the ARI directory and through
 *                  the same Pebble without renewalInfo (not sent there)
 *   empty URL      a directory with "renewalInfo": "" falls back, no crash
 *
 * The scenario "scale" (argument) is ARI over some dozens of names at once
 * (parallel > 1): renewalInfo is asked only for names whose stored next
 * check has passed, once each, never again within Retry-After, with the
 * requests of a run in flight together, through acme_desire_ensure and
 * acme_desire_ensure_stored. The proxy speaks HTTP/1.1 only, so requests in
 * flight together each take a connection there: the test bounds the
 * connections by `parallel`; that they share one HTTP/2 connection against a
 * CA that speaks it is test-provider-threads' (against Pebble). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include "check.h"
#include "testutil.h"

#define DAY 86400LL
#define HOUR 3600LL
#define NAME "ari.example.com"

static const char *control_path, *log_path;
static acme_provider *provider; /* the ARI directory */
static acme_store *store;
static acme_desire *desire;
static acme_solvers *solvers;
static int64_t fake_now;

/* What the last ensure() did: renewalInfo requests the proxy saw, newOrders,
 * and requests the provider sent. */
static size_t asked, ordered;
static uint64_t requests;

static int64_t fake_clock(void *ud)
{
    (void)ud;
    return fake_now;
}

/* ---- the proxy: control file and log -------------------------------------- */

/* What the proxy does next: its control file (printf-style). */
#define control(...) REQUIRE(test_replace_filef(control_path, __VA_ARGS__) == 0)

/* RFC 3339 in UTC; with `fancy`, as a +02:00 offset with a fraction. */
static const char *rfc3339(int64_t t, int fancy, char *buf, size_t size)
{
    time_t tt = (time_t)(fancy ? t + 2 * HOUR : t);
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, size, fancy ? "%Y-%m-%dT%H:%M:%S.250+02:00" : "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* The window [start, end) as control, with a Retry-After value or none. */
static void set_window(int64_t start, int64_t end, const char *retry_after)
{
    char s[64], e[64], ra[64] = "";
    if (retry_after)
        snprintf(ra, sizeof(ra), ",\"retry_after\":\"%s\"", retry_after);
    control("{\"window\":{\"start\":\"%s\",\"end\":\"%s\"}%s}", rfc3339(start, 0, s, sizeof(s)),
            rfc3339(end, 0, e, sizeof(e)), ra);
}

/* Whether a log line is an entry of a kind ("renewalInfo", "newOrder").
 * Pebble refuses a share of good nonces (PEBBLE_WFE_NONCEREJECT, 5 % by
 * default) and the client sends the request again: such entries do not
 * count. */
static int log_is(const char *line, const char *kind)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "\"kind\":\"%s\"", kind);
    return strstr(line, needle) && !strstr(line, "\"problem\":\"urn:ietf:params:acme:error:badNonce\"");
}

/* Number of log entries of a kind. */
static size_t log_count(const char *kind)
{
    char *log = test_read_file(log_path);
    size_t n = 0;
    for (char *line = log; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        n += log_is(line, kind) != 0;
        line = nl ? nl + 1 : NULL;
    }
    free(log);
    return n;
}

/* Field of the index-th entry of a kind: 1 and the value in out when it is a
 * string, 0 when null or absent, -1 when there is no such entry. */
static int log_field(const char *kind, size_t index, const char *field, char *out, size_t size)
{
    char key[64];
    snprintf(key, sizeof(key), "\"%s\":\"", field);
    char *log = test_read_file(log_path);
    int found = -1;
    size_t i = 0;
    for (char *line = log; line && *line && found < 0;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (log_is(line, kind) && i++ == index) {
            char *v = strstr(line, key);
            found = 0;
            out[0] = '\0';
            if (v) {
                v += strlen(key);
                size_t n = strcspn(v, "\"");
                snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), v);
                found = 1;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    free(log);
    return found;
}

/* ---- the desire ------------------------------------------------------------- */

static acme_provider *new_provider(const char *directory)
{
    acme_provider_options o;
    acme_provider_options_init(&o, ACME_PROVIDER_OPTIONS_VERSION);
    o.ca_bundle = test_env("ACME_TEST_CA_BUNDLE");
    o.log = test_log_record;
    o.log_level = ACME_LOG_DEBUG;
    acme_provider *p = NULL;
    if (acme_provider_new(&p, directory, &o) != ACME_OK) {
        fprintf(stderr, "cannot read %s: %s\n", directory, acme_last_error());
        exit(1);
    }
    return p;
}

static acme_desire *new_desire(acme_provider *p)
{
    acme_desire_options o;
    test_desire_options(&o, "ari@example.com");
    o.clock = fake_clock;
    o.parallel = 1;
    acme_desire *d = NULL;
    REQUIRE_OK(acme_desire_new(&d, p, store, solvers, &o));
    return d;
}

/* Ensure the one wanted name; returns its acme_result and sets asked,
 * ordered and requests. */
static int ensure_with(acme_desire *d, acme_provider *p)
{
    size_t ri0 = log_count("renewalInfo"), no0 = log_count("newOrder");
    uint64_t r0, r1;
    acme_provider_stats(p, &r0, NULL);
    int rc = acme_desire_ensure(d);
    acme_provider_stats(p, &r1, NULL);
    asked = log_count("renewalInfo") - ri0;
    ordered = log_count("newOrder") - no0;
    requests = r1 - r0;
    int result = acme_desire_result(d, 0);
    /* One wanted name: ensure returns that name's error, which is set
     * exactly when it failed. */
    int err = acme_desire_error(d, 0);
    CHECK_MSG(rc == err && (rc != ACME_OK) == (result == ACME_RESULT_FAILED),
              "ensure returned %d, the name's error is %d, its result %d", rc, err, result);
    if (result == ACME_RESULT_FAILED)
        fprintf(stderr, "ensure failed: %s\n", acme_desire_message(d, 0));
    return result;
}

static int ensure(void)
{
    return ensure_with(desire, provider);
}

static const char *message(void)
{
    return acme_desire_message(desire, 0);
}

/* "...renewal at N..." in the last message, or -1. */
static int64_t message_time(void)
{
    const char *p = strstr(message(), "renewal at ");
    return p ? strtoll(p + 11, NULL, 10) : -1;
}

static char *stored_of(const char *name, const char *file)
{
    char key[256], *data = NULL;
    size_t len;
    snprintf(key, sizeof(key), "certs/%s/%s", name, file);
    return acme_store_get(store, key, &data, &len) == ACME_OK ? data : NULL;
}

static char *stored(const char *file)
{
    return stored_of(NAME, file);
}

/* A number of the stored ARI state ("start", "end", "renew_at", "next_check"). */
static int64_t ari_state(const char *field)
{
    char *meta = stored("meta.json"), key[64];
    snprintf(key, sizeof(key), "\"%s\":", field);
    char *ari = meta ? strstr(meta, "\"ari\":") : NULL;
    char *v = ari ? strstr(ari, key) : NULL;
    int64_t n = v ? strtoll(v + strlen(key), NULL, 10) : -1;
    acme_free(meta);
    return n;
}

/* ---- the ARI certificate id, computed without libacme ------------------------ */

static void b64url(const unsigned char *in, size_t n, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = abc[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = abc[v & 63];
    }
    out[o] = '\0';
}

/* base64url(AKI keyIdentifier) "." base64url(serial content octets) of the
 * leaf, from mbedTLS's raw fields; 0 on success. */
static int expected_ari_id(const char *chain_pem, char *out)
{
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    int ok = 0;
    if (mbedtls_x509_crt_parse(&crt, (const unsigned char *)chain_pem, strlen(chain_pem) + 1) ==
        0) {
        unsigned char *p = crt.v3_ext.p, *end = p + crt.v3_ext.len;
        size_t len;
        if (p && !mbedtls_asn1_get_tag(&p, end, &len,
                                       MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) {
            while (p < end && !ok) {
                size_t ext_len, oid_len, os_len, seq_len, kid_len;
                int critical;
                if (mbedtls_asn1_get_tag(&p, end, &ext_len,
                                         MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
                    break;
                unsigned char *ext_end = p + ext_len;
                if (mbedtls_asn1_get_tag(&p, ext_end, &oid_len, MBEDTLS_ASN1_OID))
                    break;
                if (oid_len == MBEDTLS_OID_SIZE(MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER) &&
                    memcmp(p, MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER, oid_len) == 0) {
                    p += oid_len;
                    (void)mbedtls_asn1_get_bool(&p, ext_end, &critical); /* optional */
                    if (!mbedtls_asn1_get_tag(&p, ext_end, &os_len, MBEDTLS_ASN1_OCTET_STRING) &&
                        !mbedtls_asn1_get_tag(&p, ext_end, &seq_len,
                                              MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) &&
                        !mbedtls_asn1_get_tag(&p, ext_end, &kid_len,
                                              MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0)) {
                        b64url(p, kid_len, out);
                        strcat(out, ".");
                        b64url(crt.serial.p, crt.serial.len, out + strlen(out));
                        ok = 1;
                    }
                }
                p = ext_end;
            }
        }
    }
    mbedtls_x509_crt_free(&crt);
    return ok ? 0 : -1;
}

/* The stored certificate's ARI id (libacme's), checked against the
 * independent computation; a new string. */
static char *current_ari_id(void)
{
    char *chain = stored("chain.pem");
    REQUIRE(chain != NULL);
    acme_cert *c = NULL;
    REQUIRE_OK(acme_cert_parse(&c, chain, strlen(chain), NULL));
    const char *id = acme_cert_ari_id(c);
    CHECK_MSG(id != NULL, "Pebble's leaf has an AKI, so it has an ARI id");
    char want[256] = "";
    CHECK(expected_ari_id(chain, want) == 0);
    CHECK_STR(id, want);
    char *copy = id ? strdup(id) : NULL;
    acme_cert_free(c);
    acme_free(chain);
    REQUIRE(copy != NULL);
    return copy;
}

/* ---- the scenarios ------------------------------------------------------------ */

static void test_directory(acme_provider *plain)
{
    const char *ri = acme_provider_endpoint(provider, "renewalInfo");
    CHECK_MSG(ri != NULL, "the proxy's directory offers renewalInfo");
    CHECK(ri && strstr(ri, "/renewal-info") != NULL);
    CHECK(acme_provider_endpoint(plain, "renewalInfo") == NULL);
    /* Pebble built its URLs from the Host header, i.e. the proxy's address. */
    const char *dir = test_env("ACME_TEST_ARI_DIRECTORY");
    size_t base = strlen(dir) - strlen("/dir");
    const char *no = acme_provider_endpoint(provider, "newOrder");
    CHECK_MSG(no && strncmp(no, dir, base) == 0, "newOrder %s", no ? no : "(null)");
    no = acme_provider_endpoint(plain, "newOrder");
    CHECK_MSG(no && strncmp(no, dir, base) == 0, "newOrder %s", no ? no : "(null)");
}

static char *test_obtain(void)
{
    control("{\"window\":{\"start\":\"2000-01-01T00:00:00Z\",\"end\":\"2000-01-02T00:00:00Z\"}}");
    const char *ids[] = { NAME };
    REQUIRE_OK(acme_desire_add(desire, NAME, ids, 1, ACME_KEY_EC256, NULL));
    CHECK(ensure() == ACME_RESULT_OBTAINED);
    CHECK_MSG(asked == 0, "%zu renewalInfo requests for a first certificate", asked);
    CHECK(ordered == 1);
    char nb[256] = "x";
    CHECK(log_field("newOrder", 0, "replaces", nb, sizeof(nb)) == 0); /* nothing to replace */
    char *id = current_ari_id();
    char *meta = stored("meta.json");
    CHECK(meta && strstr(meta, id));
    acme_free(meta);
    return id;
}

/* A future window; then Retry-After: honoured and clamped. */
static void test_window(const char *id)
{
    int64_t t0 = fake_now, s = t0 + 10 * DAY, e = t0 + 12 * DAY;
    set_window(s, e, "3600");
    CHECK(ensure() == ACME_RESULT_NOT_DUE);
    CHECK_MSG(asked == 1, "%zu renewalInfo requests", asked);
    char got[256] = "";
    size_t n = log_count("renewalInfo");
    CHECK(log_field("renewalInfo", n - 1, "certID", got, sizeof(got)) == 1);
    CHECK_STR(got, id);
    int64_t at = message_time();
    CHECK_MSG(strstr(message(), "ARI") && at >= s && at < e, "message \"%s\", window %lld..%lld",
              message(), (long long)s, (long long)e);
    CHECK(ari_state("start") == s && ari_state("end") == e);
    CHECK(ari_state("renew_at") == at);
    CHECK(ari_state("next_check") == t0 + 3600);

    /* Before next_check: nothing is asked, nothing at all is sent. */
    fake_now = t0 + 1800;
    CHECK(ensure() == ACME_RESULT_NOT_DUE);
    CHECK_MSG(asked == 0 && requests == 0, "asked %zu, %llu requests", asked,
              (unsigned long long)requests);
    /* Left alone on its schedule index entry, its record unopened. */
    CHECK_MSG(strstr(message(), "schedule index") != NULL, "message \"%s\"", message());
    CHECK(ari_state("renew_at") == at);

    /* At next_check it asks again; the same window keeps its moment. Now
     * Retry-After 5 counts as a minute. */
    fake_now = t0 + 3600;
    set_window(s, e, "5");
    CHECK(ensure() == ACME_RESULT_NOT_DUE);
    CHECK(asked == 1);
    CHECK_MSG(message_time() == at, "the moment moved from %lld to %lld", (long long)at,
              (long long)message_time());
    CHECK(ari_state("next_check") == fake_now + 60);
    int64_t t1 = fake_now;
    fake_now = t1 + 30;
    CHECK(ensure() == ACME_RESULT_NOT_DUE);
    CHECK_MSG(asked == 0, "asked again 30 s after Retry-After: 5");
    fake_now = t1 + 61;
    set_window(s, e, "999999");
    CHECK(ensure() == ACME_RESULT_NOT_DUE);
    CHECK_MSG(asked == 1, "not asked again 61 s after Retry-After: 5");

    /* Retry-After 999999 counts as a day. */
    int64_t t2 = fake_now;
    CHECK(ari_state("next_check") == t2 + DAY);
    control("{\"window\":{\"start\":\"%s\",\"end\":\"%s\"}}", "1999-01-01T00:00:00Z",
            "1999-01-02T00:00:00Z"); /* would renew at once if asked */
    fake_now = t2 + DAY - 1;
    CHECK(ensure() == ACME_RESULT_NOT_DUE);
    CHECK(asked == 0 && ordered == 0);

    /* No Retry-After: six hours. */
    fake_now = t2 + DAY;
    set_window(s, e, NULL);
    CHECK(ensure() == ACME_RESULT_NOT_DUE);
    CHECK(asked == 1);
    int64_t t3 = fake_now;
    CHECK(ari_state("next_check") == t3 + 6 * HOUR);
    fake_now = t3 + 6 * HOUR - 1;
    CHECK(ensure() == ACME_RESULT_NOT_DUE);
    CHECK(asked == 0);

    /* Retry-After as an HTTP-date (RFC 9110), two hours on; a new window
     * written with an offset and fractions gets a new moment inside it. */
    fake_now = t3 + 6 * HOUR;
    int64_t s2 = fake_now + 20 * DAY, e2 = s2 + 2 * DAY;
    char date[64], bs[64], be[64];
    time_t when = (time_t)(fake_now + 2 * HOUR);
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    control("{\"window\":{\"start\":\"%s\",\"end\":\"%s\"},\"retry_after\":\"%s\"}",
            rfc3339(s2, 1, bs, sizeof(bs)), rfc3339(e2, 1, be, sizeof(be)), date);
    CHECK(ensure() == ACME_RESULT_NOT_DUE);
    CHECK(asked == 1);
    CHECK_MSG(ari_state("next_check") == fake_now + 2 * HOUR, "next_check %lld, wanted %lld",
              (long long)ari_state("next_check"), (long long)(fake_now + 2 * HOUR));
    CHECK(ari_state("start") == s2 && ari_state("end") == e2);
    at = message_time();
    CHECK(at >= s2 && at < e2);

    /* The moment is random: several new windows give different offsets. */
    int64_t first = -1;
    int differ = 0;
    for (int i = 0; i < 8; i++) {
        fake_now = ari_state("next_check");
        int64_t ws = fake_now + 30 * DAY + i * HOUR, we = ws + 2 * DAY;
        set_window(ws, we, "60");
        CHECK(ensure() == ACME_RESULT_NOT_DUE);
        at = message_time();
        CHECK_MSG(asked == 1 && at >= ws && at < we, "moment %lld, window %lld..%lld",
                  (long long)at, (long long)ws, (long long)we);
        if (first < 0)
            first = at - ws;
        else if (at - ws != first)
            differ = 1;
    }
    CHECK_MSG(differ, "eight windows, the same offset %lld each time", (long long)first);
}

/* A window in the past: renew at once, replacing the old certificate. */
static char *test_past_window(const char *id)
{
    fake_now = ari_state("next_check");
    set_window(fake_now - 3 * DAY, fake_now - DAY, "3600");
    size_t orders = log_count("newOrder");
    CHECK(ensure() == ACME_RESULT_RENEWED);
    CHECK(asked == 1);
    CHECK_MSG(strstr(message(), "ARI") != NULL, "%s", message());
    CHECK(ordered == 1);
    char got[256] = "";
    CHECK(log_field("newOrder", orders, "replaces", got, sizeof(got)) == 1);
    CHECK_STR(got, id);
    char *id2 = current_ari_id();
    CHECK(strcmp(id2, id) != 0);
    /* A new certificate starts without ARI state: asked at the next ensure. */
    CHECK(ari_state("next_check") == 0 && ari_state("end") == 0);
    return id2;
}

/* Due from the chosen moment on, not before: just before the window (not
 * due), the second before the moment (not due), the window's end (due). */
static char *test_moment(const char *id)
{
    int64_t s = fake_now + HOUR, e = s + 2 * HOUR;
    fake_now = s - 1;
    set_window(s, e, "86400");
    CHECK(ensure() == ACME_RESULT_NOT_DUE);
    CHECK(asked == 1);
    int64_t at = message_time();
    CHECK(at >= s && at < e);
    if (at > s) {
        fake_now = at - 1;
        CHECK(ensure() == ACME_RESULT_NOT_DUE);
        CHECK(asked == 0 && ordered == 0);
    }
    fake_now = e;
    size_t orders = log_count("newOrder");
    CHECK(ensure() == ACME_RESULT_RENEWED);
    CHECK_MSG(asked == 0, "decided on the stored moment, without asking");
    char got[256] = "";
    CHECK(log_field("newOrder", orders, "replaces", got, sizeof(got)) == 1);
    CHECK_STR(got, id);
    return current_ari_id();
}

/* Answers that are no window: the lifetime rule, a warning, an hour's wait. */
static void test_malformed(void)
{
    char *chain = stored("chain.pem");
    acme_cert *c = NULL;
    REQUIRE(chain && acme_cert_parse(&c, chain, strlen(chain), NULL) == ACME_OK);
    int64_t life = acme_cert_not_after(c) - acme_cert_not_before(c);
    int64_t lifetime_at = acme_cert_not_after(c) - (life < 10 * DAY ? life / 2 : life / 3);
    acme_cert_free(c);
    acme_free(chain);

    char s[64], e[64], e0[64];
    rfc3339(fake_now + 10 * DAY, 0, s, sizeof(s));
    rfc3339(fake_now + 9 * DAY, 0, e, sizeof(e));
    rfc3339(fake_now + 10 * DAY, 0, e0, sizeof(e0));
    char cases[10][512];
    int n = 0;
    /* end before start, end equal to start */
    snprintf(cases[n++], 512, "{\"window\":{\"start\":\"%s\",\"end\":\"%s\"}}", s, e);
    snprintf(cases[n++], 512, "{\"window\":{\"start\":\"%s\",\"end\":\"%s\"}}", s, e0);
    /* end missing; no suggestedWindow; not JSON; not an object */
    snprintf(cases[n++], 512, "{\"window\":{\"start\":\"%s\"}}", s);
    snprintf(cases[n++], 512, "{\"body\":\"{\\\"explanationURL\\\":\\\"https://x.example/\\\"}\"}");
    snprintf(cases[n++], 512, "{\"body\":\"<html>maintenance</html>\"}");
    snprintf(cases[n++], 512, "{\"body\":\"[1,2,3]\"}");
    /* times that are no RFC 3339: words, a 30th of February, no zone */
    snprintf(cases[n++], 512, "{\"window\":{\"start\":\"tomorrow\",\"end\":\"%s\"}}", e);
    snprintf(cases[n++], 512,
             "{\"window\":{\"start\":\"2031-02-30T00:00:00Z\",\"end\":\"2031-03-05T00:00:00Z\"}}");
    snprintf(cases[n++], 512,
             "{\"window\":{\"start\":\"2031-02-01T00:00:00\",\"end\":\"2031-03-05T00:00:00Z\"}}");
    /* an error status */
    snprintf(cases[n++], 512, "{\"status\":404}");
    for (int i = 0; i < n; i++) {
        test_log_clear();
        control("%s", cases[i]);
        int64_t t = fake_now = i == 0 ? fake_now : fake_now + HOUR;
        CHECK_MSG(ensure() == ACME_RESULT_NOT_DUE, "control %s", cases[i]);
        CHECK_MSG(asked == 1, "control %s: asked %zu times", cases[i], asked);
        CHECK_MSG(strstr(message(), "ARI") == NULL && message_time() == lifetime_at,
                  "control %s: \"%s\", wanted the lifetime rule (renewal at %lld)", cases[i],
                  message(), (long long)lifetime_at);
        CHECK_MSG(strstr(test_log(), "renewalInfo unavailable") != NULL &&
                      strstr(test_log(), "using the lifetime rule") != NULL,
                  "control %s: the failure was not logged", cases[i]);
        CHECK(ari_state("end") == 0 && ari_state("next_check") == t + HOUR);
        /* Not asked again within the hour. */
        fake_now = t + HOUR - 1;
        CHECK(ensure() == ACME_RESULT_NOT_DUE);
        CHECK(asked == 0);
        fake_now = t;
    }
    /* A good answer again: ARI again. */
    fake_now += HOUR;
    set_window(fake_now + 10 * DAY, fake_now + 11 * DAY, "3600");
    CHECK(ensure() == ACME_RESULT_NOT_DUE);
    CHECK(asked == 1 && strstr(message(), "ARI") != NULL);
}

/* renewalInfo unavailable while a window from an earlier answer is stored:
 * that window decides, and the log says so (not "the lifetime rule"). */
static void test_unavailable_stored_window(void)
{
    int64_t s = ari_state("start"), e = ari_state("end");
    REQUIRE(e > s);
    fake_now = ari_state("next_check");
    int64_t t = fake_now;
    control("{\"status\":404}");
    test_log_clear();
    CHECK(ensure() == ACME_RESULT_NOT_DUE);
    CHECK(asked == 1);
    CHECK_MSG(strstr(message(), "ARI") != NULL, "message: %s", message());
    char want[128];
    snprintf(want, sizeof(want), "renewalInfo unavailable (");
    CHECK(strstr(test_log(), want) != NULL);
    snprintf(want, sizeof(want), "using the stored ARI window %lld..%lld", (long long)s,
             (long long)e);
    CHECK_MSG(strstr(test_log(), want) != NULL, "the log lacks \"%s\":\n%s", want, test_log());
    CHECK_MSG(strstr(test_log(), "lifetime rule") == NULL, "the log names the lifetime rule:\n%s",
              test_log());
    CHECK(ari_state("start") == s && ari_state("end") == e);
    CHECK(ari_state("next_check") == t + HOUR);
}

/* The CA refuses the renewal's "replaces" once, with a 409 whose problem
 * is `problem` (the control key `once` asks the proxy for it): the same
 * order goes once more without "replaces". Besides alreadyReplaced, CAs
 * that predate it (Pebble before 2.10, older Boulder) answer malformed;
 * without the retry every renewal, forced ones included, would fail.
 * Pebble 2.4.0 ignores "replaces", so the proxy gives both answers. */
static char *test_replaces_refused(const char *id, const char *once, const char *problem)
{
    fake_now = ari_state("next_check") > fake_now ? ari_state("next_check") : fake_now;
    control("{\"window\":{\"start\":\"2001-01-01T00:00:00Z\",\"end\":\"2001-01-02T00:00:00Z\"},"
            "\"%s\":true}",
            once);
    size_t orders = log_count("newOrder");
    char *log = test_read_file(log_path);
    size_t log_len = log ? strlen(log) : 0;
    free(log);
    test_log_clear();
    CHECK_MSG(ensure() == ACME_RESULT_RENEWED, "%s: %s", once, message());
    CHECK_MSG(ordered == 2, "%s: %zu newOrders", once, ordered);
    char got[256] = "", want[128];
    CHECK(log_field("newOrder", orders, "replaces", got, sizeof(got)) == 1);
    CHECK_STR(got, id);
    snprintf(want, sizeof(want), "\"problem\":\"urn:ietf:params:acme:error:%s\"", problem);
    log = test_read_file(log_path);
    CHECK_MSG(log && strlen(log) > log_len && strstr(log + log_len, want) &&
                  strstr(log + log_len, "\"status\":409"),
              "%s: no 409 %s in the proxy's log", once, problem);
    free(log);
    CHECK_MSG(log_field("newOrder", orders + 1, "replaces", got, sizeof(got)) == 0,
              "%s: the second newOrder carried replaces=%s", once, got);
    CHECK(strstr(test_log(), "refused \"replaces\"") != NULL);
    snprintf(want, sizeof(want), "\"%s\": false", once);
    char *ctl = test_read_file(control_path);
    CHECK(ctl && strstr(ctl, want));
    free(ctl);
    char *id2 = current_ari_id();
    CHECK(strcmp(id2, id) != 0);
    return id2;
}

/* "replaces" only when a name is kept and this directory issued it. */
static char *test_replaces_rules(const char *id, acme_provider *plain)
{
    char got[256] = "";
    /* Another name too: a name is kept, so it replaces. */
    const char *more[] = { NAME, "more." NAME };
    REQUIRE_OK(acme_desire_add(desire, NAME, more, 2, ACME_KEY_EC256, NULL));
    size_t orders = log_count("newOrder");
    CHECK(ensure() == ACME_RESULT_RENEWED);
    CHECK(strstr(message(), "names") != NULL);
    CHECK(log_field("newOrder", orders, "replaces", got, sizeof(got)) == 1);
    CHECK_STR(got, id);
    char *id2 = current_ari_id();

    /* No name kept: a CA may refuse "replaces" (RFC 9773 5), so none. */
    const char *other[] = { "other.example.org" };
    REQUIRE_OK(acme_desire_add(desire, NAME, other, 1, ACME_KEY_EC256, NULL));
    orders = log_count("newOrder");
    CHECK(ensure() == ACME_RESULT_RENEWED);
    CHECK_MSG(log_field("newOrder", orders, "replaces", got, sizeof(got)) == 0,
              "replaces=%s for a certificate with none of the names", got);
    free(id2);
    id2 = current_ari_id();

    /* Issued through another directory (here the same Pebble without
     * renewalInfo; the library cannot tell): not replaced by this one. */
    acme_desire *d2 = new_desire(plain);
    REQUIRE_OK(acme_desire_add(d2, NAME, other, 1, ACME_KEY_EC384, NULL));
    CHECK(ensure_with(d2, plain) == ACME_RESULT_RENEWED); /* the key type changed */
    CHECK_MSG(asked == 0 && ordered == 1, "asked %zu, %zu newOrders", asked, ordered);
    CHECK(log_field("newOrder", log_count("newOrder") - 1, "replaces", got, sizeof(got)) == 0);
    acme_desire_free(d2);
    free(id2);
    id2 = current_ari_id();
    char *meta = stored("meta.json");
    CHECK(meta && strstr(meta, test_env("ACME_TEST_ARI_PLAIN_DIRECTORY")));
    acme_free(meta);
    REQUIRE_OK(acme_desire_add(desire, NAME, other, 1, ACME_KEY_EC384, NULL));
    fake_now = ari_state("next_check") > fake_now ? ari_state("next_check") : fake_now;
    set_window(fake_now - 2 * DAY, fake_now - DAY, NULL);
    orders = log_count("newOrder");
    CHECK(ensure() == ACME_RESULT_RENEWED);
    /* A certificate from another directory is replaced by this CA's. */
    CHECK_MSG(strstr(message(), "another CA") != NULL, "message: %s", message());
    CHECK_MSG(log_field("newOrder", orders, "replaces", got, sizeof(got)) == 0,
              "replaces=%s for a certificate from another directory", got);
    free(id2);
    return current_ari_id();
}

/* acme_order_set_replaces directly. */
static void test_order_api(const char *id, acme_provider *plain)
{
    acme_account *account = NULL;
    REQUIRE_OK(acme_desire_account(desire, &account));
    acme_order *o = NULL;
    char got[256] = "";

    REQUIRE_OK(acme_order_new(&o, account));
    CHECK_OK(acme_order_add_dns(o, "order-api.example.com"));
    CHECK_RC(acme_order_set_replaces(o, "no-dot-here"), ACME_ERR_INVALID);
    CHECK_OK(acme_order_set_replaces(o, id));
    size_t orders = log_count("newOrder");
    CHECK_OK(acme_order_submit(o));
    CHECK(log_field("newOrder", orders, "replaces", got, sizeof(got)) == 1);
    CHECK_STR(got, id);
    acme_order_free(o);

    /* NULL clears it. */
    REQUIRE_OK(acme_order_new(&o, account));
    CHECK_OK(acme_order_add_dns(o, "order-api.example.com"));
    CHECK_OK(acme_order_set_replaces(o, id));
    CHECK_OK(acme_order_set_replaces(o, NULL));
    orders = log_count("newOrder");
    CHECK_OK(acme_order_submit(o));
    CHECK(log_field("newOrder", orders, "replaces", got, sizeof(got)) == 0);
    acme_order_free(o);

    /* alreadyReplaced reaches the caller as the CA's problem; the provider
     * goes on (the 409 carried a good nonce). */
    control("{\"already_replaced_once\":true}");
    REQUIRE_OK(acme_order_new(&o, account));
    CHECK_OK(acme_order_add_dns(o, "order-api.example.com"));
    CHECK_OK(acme_order_set_replaces(o, id));
    CHECK_RC(acme_order_submit(o), ACME_ERR_PROBLEM);
    const acme_problem *pr = acme_order_last_problem(o);
    CHECK(acme_problem_is(pr, "alreadyReplaced"));
    CHECK(acme_problem_status(pr) == 409);
    acme_order_free(o);
    REQUIRE_OK(acme_order_new(&o, account));
    CHECK_OK(acme_order_add_dns(o, "order-api.example.com"));
    CHECK_OK(acme_order_set_replaces(o, id));
    CHECK_OK(acme_order_submit(o));
    acme_order_free(o);

    /* The same Pebble without renewalInfo: "replaces" is not sent. */
    acme_key *key = test_key(ACME_KEY_EC256);
    acme_account *plain_account = test_account(plain, key);
    REQUIRE_OK(acme_order_new(&o, plain_account));
    CHECK_OK(acme_order_add_dns(o, "order-api.example.com"));
    CHECK_OK(acme_order_set_replaces(o, id));
    orders = log_count("newOrder");
    CHECK_OK(acme_order_submit(o));
    CHECK(log_count("newOrder") == orders + 1);
    CHECK_MSG(log_field("newOrder", orders, "replaces", got, sizeof(got)) == 0,
              "replaces=%s sent to a CA without renewalInfo", got);
    acme_order_free(o);
    acme_account_free(plain_account);
    acme_account_free(account);
    acme_key_free(key);
}

/* "renewalInfo": "" in the directory: no URL to ask, so the lifetime rule. */
static void test_empty_url(void)
{
    control("{\"directory_extra\":{\"renewalInfo\":\"\"}}");
    acme_provider *p = new_provider(test_env("ACME_TEST_ARI_DIRECTORY"));
    CHECK_STR(acme_provider_endpoint(p, "renewalInfo"), "");
    acme_desire *d = new_desire(p);
    const char *other[] = { "other.example.org" };
    REQUIRE_OK(acme_desire_add(d, NAME, other, 1, ACME_KEY_EC384, NULL));
    fake_now += HOUR; /* the stored certificate is new: no ARI state yet */
    CHECK(ari_state("next_check") == 0);
    test_log_clear();
    CHECK(ensure_with(d, p) == ACME_RESULT_NOT_DUE);
    CHECK(asked == 0 && requests == 0);
    CHECK(strstr(acme_desire_message(d, 0), "ARI") == NULL);
    CHECK(strstr(test_log(), "renewalInfo unavailable") != NULL);
    acme_desire_free(d);
    acme_provider_free(p);
    control("{}");
}

/* ---- scale: dozens of names, in parallel ------------------------------------- */

#define SCALE_N 24
#define SCALE_PARALLEL 4

static char scale_names[SCALE_N][64];
static char *scale_ids[SCALE_N]; /* each stored certificate's ARI id */

/* The renewalInfo requests of one run, from the proxy's log. */
typedef struct scale_run {
    size_t asked;             /* requests */
    size_t per_name[SCALE_N]; /* requests per name */
    size_t strangers;         /* requests for no name of ours */
    long max_in_flight;
    size_t conns;             /* distinct connections they came on */
    uint64_t connections;     /* connections the provider opened in the run */
    uint64_t requests;        /* requests the provider sent in the run */
} scale_run;

static size_t log_size(void)
{
    char *log = test_read_file(log_path);
    size_t n = log ? strlen(log) : 0;
    free(log);
    return n;
}

/* A number after "field": in line, or -1. */
static long line_number(const char *line, const char *field)
{
    char key[64];
    snprintf(key, sizeof(key), "\"%s\":", field);
    const char *v = strstr(line, key);
    return v ? strtol(v + strlen(key), NULL, 10) : -1;
}

/* The renewalInfo entries the proxy logged from byte `from` on. */
static void scale_tally(size_t from, scale_run *r)
{
    char *log = test_read_file(log_path);
    REQUIRE(log != NULL && strlen(log) >= from);
    long ports[64];
    for (char *line = log + from; *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (log_is(line, "renewalInfo")) {
            r->asked++;
            const char *c = strstr(line, "\"certID\":\"");
            size_t i = 0;
            while (c && i < SCALE_N &&
                   !(strncmp(c + 10, scale_ids[i], strlen(scale_ids[i])) == 0 &&
                     c[10 + strlen(scale_ids[i])] == '"'))
                i++;
            if (c && i < SCALE_N)
                r->per_name[i]++;
            else
                r->strangers++;
            long n = line_number(line, "in_flight"), port = line_number(line, "conn");
            if (n > r->max_in_flight)
                r->max_in_flight = n;
            size_t k = 0;
            while (k < r->conns && ports[k] != port)
                k++;
            if (k == r->conns && r->conns < 64)
                ports[r->conns++] = port;
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    free(log);
}

/* One run of `run` (an ensure of d), tallied. */
static scale_run scale_step(acme_desire *d, int (*run)(acme_desire *))
{
    scale_run r;
    memset(&r, 0, sizeof(r));
    size_t from = log_size();
    uint64_t q0, q1, c0, c1;
    acme_provider_stats(provider, &q0, &c0);
    int rc = run(d);
    CHECK_MSG(rc == ACME_OK, "ensure: %s", acme_desire_last_error(d));
    acme_provider_stats(provider, &q1, &c1);
    r.requests = q1 - q0;
    r.connections = c1 - c0;
    scale_tally(from, &r);
    fprintf(stderr,
            "scale run: %zu renewalInfo requests, %ld at most in flight, %zu connections seen "
            "by the proxy, %llu opened, %llu requests in all\n",
            r.asked, r.max_in_flight, r.conns, (unsigned long long)r.connections,
            (unsigned long long)r.requests);
    return r;
}

/* Exactly the names i with want(i) were asked, once each. */
static void scale_expect(const scale_run *r, int (*want)(size_t i), const char *what)
{
    CHECK_MSG(r->strangers == 0, "%s: %zu requests for other certificates", what, r->strangers);
    for (size_t i = 0; i < SCALE_N; i++)
        CHECK_MSG(r->per_name[i] == (want(i) ? 1u : 0u), "%s: %s asked %zu times", what,
                  scale_names[i], r->per_name[i]);
}

/* Requests in flight together, each on a connection of its own at most
 * (HTTP/1.1), and never more than `parallel` of either. */
static void scale_concurrent(const scale_run *r, const char *what)
{
    CHECK_MSG(r->max_in_flight >= 2 && r->max_in_flight <= SCALE_PARALLEL,
              "%s: %ld renewalInfo requests at most in flight", what, r->max_in_flight);
    CHECK_MSG(r->conns >= 1 && r->conns <= SCALE_PARALLEL && r->connections <= SCALE_PARALLEL,
              "%s: %zu connections seen, %llu opened", what, r->conns,
              (unsigned long long)r->connections);
}

/* The names asked first (next check in an hour), second (two hours),
 * and the others (a day). */
static int in_s1(size_t i)
{
    return i % 3 == 0;
}

static int in_s2(size_t i)
{
    return i % 3 == 1;
}

static int everyone(size_t i)
{
    (void)i;
    return 1;
}

static int nobody(size_t i)
{
    (void)i;
    return 0;
}

/* The window a day ahead for all, Retry-After a day, or for S1 / S2 the
 * values given (NULL: the day). */
static void scale_control(const char *ra1, const char *ra2)
{
    char s[64], e[64], per[4096] = "";
    size_t used = 0;
    for (size_t i = 0; i < SCALE_N; i++) {
        const char *ra = in_s1(i) ? ra1 : in_s2(i) ? ra2 : NULL;
        if (ra)
            used += (size_t)snprintf(per + used, sizeof(per) - used, "%s\"%s\":\"%s\"",
                                     used ? "," : "", scale_ids[i], ra);
        REQUIRE(used < sizeof(per));
    }
    control("{\"window\":{\"start\":\"%s\",\"end\":\"%s\"},\"retry_after\":\"86400\","
            "\"retry_after_for\":{%s},\"delay\":0.2}",
            rfc3339(fake_now + 30 * DAY, 0, s, sizeof(s)),
            rfc3339(fake_now + 32 * DAY, 0, e, sizeof(e)), per);
}

static int run_ensure(acme_desire *d)
{
    return acme_desire_ensure(d);
}

static int run_ensure_stored(acme_desire *d)
{
    return acme_desire_ensure_stored(d);
}

static acme_desire *scale_desire(void)
{
    acme_desire_options o;
    test_desire_options(&o, "ari-scale@example.com");
    o.clock = fake_clock;
    o.parallel = SCALE_PARALLEL;
    acme_desire *d = NULL;
    REQUIRE_OK(acme_desire_new(&d, provider, store, solvers, &o));
    return d;
}

static void test_scale(void)
{
    acme_desire *d = scale_desire();
    for (size_t i = 0; i < SCALE_N; i++) {
        snprintf(scale_names[i], sizeof(scale_names[i]), "s%02zu.ari-scale.example.com", i);
        const char *ids[] = { scale_names[i] };
        REQUIRE_OK(acme_desire_add(d, scale_names[i], ids, 1, ACME_KEY_EC256, NULL));
    }
    /* The certificates, issued by Pebble (new ones: nothing asked). */
    control("{}");
    scale_run r = scale_step(d, run_ensure);
    scale_expect(&r, nobody, "first issuance");
    for (size_t i = 0; i < SCALE_N; i++) {
        CHECK_MSG(acme_desire_result(d, i) == ACME_RESULT_OBTAINED, "%s: %s", scale_names[i],
                  acme_desire_message(d, i));
        char *chain = stored_of(scale_names[i], "chain.pem");
        acme_cert *c = NULL;
        REQUIRE(chain && acme_cert_parse(&c, chain, strlen(chain), NULL) == ACME_OK);
        REQUIRE(acme_cert_ari_id(c) != NULL);
        scale_ids[i] = strdup(acme_cert_ari_id(c));
        REQUIRE(scale_ids[i] != NULL);
        acme_cert_free(c);
        acme_free(chain);
    }

    /* No ARI state yet: every name is asked, once, the requests together.
     * S1 is to look again in an hour, S2 in two, the others in a day. */
    int64_t t0 = fake_now;
    scale_control("3600", "7200");
    r = scale_step(d, run_ensure);
    scale_expect(&r, everyone, "first check");
    scale_concurrent(&r, "first check");
    for (size_t i = 0; i < SCALE_N; i++)
        CHECK_MSG(acme_desire_result(d, i) == ACME_RESULT_NOT_DUE &&
                      strstr(acme_desire_message(d, i), "ARI") != NULL,
                  "%s: %s", scale_names[i], acme_desire_message(d, i));

    /* Before any next check: nothing at all is sent, every name left alone
     * on its schedule index entry. */
    fake_now = t0 + 1800;
    scale_control(NULL, NULL);
    r = scale_step(d, run_ensure);
    scale_expect(&r, nobody, "before the next checks");
    CHECK_MSG(r.requests == 0, "%llu requests before any next check",
              (unsigned long long)r.requests);
    for (size_t i = 0; i < SCALE_N; i++)
        CHECK_MSG(strstr(acme_desire_message(d, i), "schedule index") != NULL, "%s: %s",
                  scale_names[i], acme_desire_message(d, i));

    /* An hour on: S1 only, once each, together. */
    fake_now = t0 + HOUR;
    r = scale_step(d, run_ensure);
    scale_expect(&r, in_s1, "S1's next check");
    scale_concurrent(&r, "S1's next check");

    /* Within Retry-After (a day for S1 now): none again. */
    fake_now = t0 + HOUR + 60;
    r = scale_step(d, run_ensure);
    scale_expect(&r, nobody, "within Retry-After");
    CHECK(r.requests == 0);

    /* The same through acme_desire_ensure_stored: a full pass first (the
     * summary is built by it), which finds nothing due. */
    acme_desire *ds = scale_desire();
    fake_now = t0 + HOUR + 120;
    r = scale_step(ds, run_ensure_stored);
    scale_expect(&r, nobody, "ensure_stored, full pass");
    test_log_clear();
    r = scale_step(ds, run_ensure_stored);
    scale_expect(&r, nobody, "ensure_stored, nothing due");
    CHECK_MSG(strstr(test_log(), "reading what is due only") != NULL, "no fast path:\n%s",
              test_log());
    CHECK_MSG(acme_desire_count(ds) == 0, "%zu names read with nothing due",
              acme_desire_count(ds));

    /* Two hours on: S2 only, read from the due shards alone. */
    fake_now = t0 + 2 * HOUR;
    test_log_clear();
    r = scale_step(ds, run_ensure_stored);
    scale_expect(&r, in_s2, "ensure_stored, S2's next check");
    scale_concurrent(&r, "ensure_stored, S2's next check");
    CHECK(strstr(test_log(), "reading what is due only") != NULL);
    size_t n2 = 0;
    for (size_t i = 0; i < SCALE_N; i++)
        n2 += in_s2(i) != 0;
    CHECK_MSG(acme_desire_count(ds) == n2, "%zu names read, %zu due", acme_desire_count(ds), n2);
    for (size_t i = 0; i < acme_desire_count(ds); i++)
        CHECK_MSG(acme_desire_result(ds, i) == ACME_RESULT_NOT_DUE, "%s: %s",
                  acme_desire_name(ds, i), acme_desire_message(ds, i));

    /* Within Retry-After: none again, through either call. */
    fake_now = t0 + 2 * HOUR + 60;
    r = scale_step(ds, run_ensure_stored);
    scale_expect(&r, nobody, "ensure_stored, within Retry-After");
    r = scale_step(d, run_ensure);
    scale_expect(&r, nobody, "ensure, within Retry-After");
    CHECK(r.requests == 0);

    acme_desire_free(ds);
    acme_desire_free(d);
    for (size_t i = 0; i < SCALE_N; i++)
        free(scale_ids[i]);
}

/* The scenarios of the header, one after the other on the one name. */
static void test_sequence(acme_provider *plain)
{
    test_directory(plain);
    char *id = test_obtain();
    test_window(id);
    char *id2 = test_past_window(id);
    char *id3 = test_moment(id2);
    test_malformed();
    test_unavailable_stored_window();
    char *id4 = test_replaces_refused(id3, "already_replaced_once", "alreadyReplaced");
    char *id4b = test_replaces_refused(id4, "replaces_malformed_once", "malformed");
    char *id5 = test_replaces_rules(id4b, plain);
    test_order_api(id5, plain);
    test_empty_url();

    free(id);
    free(id2);
    free(id3);
    free(id4);
    free(id4b);
    free(id5);
}

int main(int argc, char **argv)
{
    control_path = test_env("ACME_TEST_ARI_CONTROL");
    log_path = test_env("ACME_TEST_ARI_LOG");
    control("{}");
    provider = new_provider(test_env("ACME_TEST_ARI_DIRECTORY"));
    acme_provider *plain = new_provider(test_env("ACME_TEST_ARI_PLAIN_DIRECTORY"));
    acme_http_responder *responder = NULL;
    REQUIRE_OK(acme_http_responder_start(&responder, "127.0.0.1",
                                         (unsigned int)atoi(test_env("ACME_TEST_HTTP_PORT"))));
    REQUIRE_OK(acme_solvers_new(&solvers));
    REQUIRE_OK(acme_solvers_add_http_responder(solvers, responder));
    char *dir = test_tmpdir();
    REQUIRE(dir != NULL);
    REQUIRE_OK(acme_store_new_fs(&store, dir));
    fake_now = (int64_t)time(NULL);
    desire = new_desire(provider);

    if (argc > 1 && strcmp(argv[1], "scale") == 0)
        test_scale();
    else if (argc == 1)
        test_sequence(plain);
    else
        REQUIRE(!"the scenario is \"scale\" or none");
    acme_desire_free(desire);
    acme_store_free(store);
    free(dir);
    acme_solvers_free(solvers);
    acme_http_responder_stop(responder);
    acme_provider_free(plain);
    acme_provider_free(provider);
    test_log_clear();
    return check_done();
}
