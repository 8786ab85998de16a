/* Host signers against a real Pebble: keys whose private half only an
 * in-process signer holds (an mbedTLS key the test keeps; the library gets
 * its public key and a sign callback, nothing else).
 *   protocol  register an account with an external ES256 key; issue
 *             certificates whose keys are external (ES256, ES384, RS256)
 *             and whose leaves carry exactly the signer's public key; roll
 *             the account over to a second external key; revoke with an
 *             external certificate key (Pebble confirms)
 *   desire    a desire with an external account key ensures names: the
 *             account is registered once and found again by a second
 *             desire on the same store, whose account directory holds the
 *             URL and no key file; then a desire whose certificate key is
 *             the host's too (acme_desire_set_key) obtains and renews a
 *             name with that one key, stores no private key anywhere,
 *             refuses to replace it by a generated key, revokes with it
 *             (keyCompromise) and then refuses it before any request
 * Run by the harness. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "check.h"
#include "testutil.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define PRIV(f) MBEDTLS_PRIVATE(f)
#else
#define PRIV(f) f
#endif

static int rng(void *ctx, unsigned char *out, size_t len)
{
    (void)ctx;
    return getrandom(out, len, 0) == (ssize_t)len ? 0 : -1;
}

/* The in-process signer: the private key lives here, in the test. */
typedef struct signer {
    mbedtls_pk_context pk;
    unsigned char spki[1024];
    size_t spki_len;
    int calls;
    int released;
} signer;

static int sign_cb(int alg, const unsigned char *msg, size_t msg_len,
                   const unsigned char *digest, size_t digest_len, unsigned char *sig,
                   size_t sig_size, size_t *sig_len, void *userdata)
{
    (void)msg;
    (void)msg_len;
    signer *s = userdata;
    s->calls++;
    mbedtls_md_type_t md = alg == ACME_SIG_ES384 ? MBEDTLS_MD_SHA384 : MBEDTLS_MD_SHA256;
    if (alg == ACME_SIG_RS256) {
        size_t n = mbedtls_pk_get_len(&s->pk);
        if (n > sig_size)
            return 1;
        *sig_len = n;
        return mbedtls_rsa_pkcs1_sign(mbedtls_pk_rsa(s->pk), rng, NULL,
#if MBEDTLS_VERSION_NUMBER < 0x03000000
                                      MBEDTLS_RSA_PRIVATE,
#endif
                                      md, (unsigned int)digest_len, digest, sig) == 0 ? 0 : 2;
    }
    /* ECDSA over the digest alone, as a token does; r || s, padded. */
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(s->pk);
    size_t coord = (mbedtls_pk_get_bitlen(&s->pk) + 7) / 8;
    mbedtls_mpi r, t;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&t);
    int rc = mbedtls_ecdsa_sign(&ec->PRIV(grp), &r, &t, &ec->PRIV(d), digest, digest_len, rng,
                                NULL);
    if (rc == 0)
        rc = mbedtls_mpi_write_binary(&r, sig, coord) || mbedtls_mpi_write_binary(&t, sig + coord, coord);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&t);
    *sig_len = 2 * coord;
    return rc == 0 ? 0 : 3;
}

static void release_cb(void *userdata)
{
    ((signer *)userdata)->released++;
}

/* A new private key of type in s (made with the library, then taken out of
 * it as PEM, which the test alone keeps) and the external key on it. */
static acme_key *external_key(signer *s, int type)
{
    memset(s, 0, sizeof(*s));
    mbedtls_pk_init(&s->pk);
    acme_key *k = test_key(type);
    char *pem = NULL;
    REQUIRE_OK(acme_key_to_pem(k, &pem));
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    REQUIRE(mbedtls_pk_parse_key(&s->pk, (unsigned char *)pem, strlen(pem) + 1, NULL, 0, rng,
                                 NULL) == 0);
#else
    REQUIRE(mbedtls_pk_parse_key(&s->pk, (unsigned char *)pem, strlen(pem) + 1, NULL, 0) == 0);
#endif
    acme_free(pem);
    acme_key_free(k);
    int n = mbedtls_pk_write_pubkey_der(&s->pk, s->spki, sizeof(s->spki));
    REQUIRE(n > 0);
    memmove(s->spki, s->spki + sizeof(s->spki) - n, (size_t)n);
    s->spki_len = (size_t)n;
    acme_signer_ops ops;
    REQUIRE_OK(acme_signer_ops_init(&ops, ACME_SIGNER_OPS_VERSION));
    ops.sign = sign_cb;
    ops.release = release_cb;
    acme_key *ext = NULL;
    REQUIRE_OK(acme_key_from_signer(&ext, s->spki, s->spki_len, &ops, s));
    REQUIRE(acme_key_is_external(ext) == 1);
    return ext;
}

static void signer_free(signer *s)
{
    mbedtls_pk_free(&s->pk);
}

/* The leaf's SubjectPublicKeyInfo is exactly the signer's. */
static void check_leaf_key(const char *chain_pem, const signer *s, const char *what)
{
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    REQUIRE(chain_pem &&
            mbedtls_x509_crt_parse(&crt, (const unsigned char *)chain_pem, strlen(chain_pem) + 1) == 0);
    unsigned char buf[1024];
    int n = mbedtls_pk_write_pubkey_der(&crt.pk, buf, sizeof(buf));
    CHECK_MSG(n > 0 && (size_t)n == s->spki_len &&
                  memcmp(buf + sizeof(buf) - n, s->spki, s->spki_len) == 0,
              "%s: the leaf's public key is not the signer's", what);
    mbedtls_x509_crt_free(&crt);
}

static unsigned int env_port(const char *name)
{
    return (unsigned int)atoi(test_env(name));
}

/* Pebble's view of a serial: "Valid" or "Revoked" (management API). */
static int pebble_says(const char *serial, const char *status)
{
    char path[256], want[64];
    snprintf(path, sizeof(path), "/cert-status-by-serial/%s", serial);
    snprintf(want, sizeof(want), "\"%s\"", status);
    char *reply = test_pebble_mgmt_get(path);
    int yes = reply && strstr(reply, want);
    free(reply);
    return yes;
}

static void test_protocol(void)
{
    acme_provider *p = test_provider(NULL);
    signer acct;
    acme_key *acct_key = external_key(&acct, ACME_KEY_EC256);
    acme_account *a = test_account(p, acct_key);
    CHECK_MSG(acct.calls > 0, "the account signer was never called");
    char *url = strdup(acme_account_url(a));
    acme_account *found = NULL;
    REQUIRE_OK(acme_account_lookup(&found, p, acct_key));
    CHECK_STR(acme_account_url(found), url);
    acme_account_free(found);

    acme_http_responder *http = NULL;
    acme_solvers *solvers = NULL;
    REQUIRE_OK(acme_solvers_new(&solvers));
    REQUIRE_OK(acme_http_responder_start(&http, "127.0.0.1", env_port("ACME_TEST_HTTP_PORT")));
    REQUIRE_OK(acme_solvers_add_http_responder(solvers, http));

    /* One certificate per algorithm the signer contract names. */
    static const int types[] = { ACME_KEY_EC256, ACME_KEY_EC384, ACME_KEY_RSA2048 };
    static const char *const names[] = { "es256.signer.example", "es384.signer.example",
                                          "rs256.signer.example" };
    for (size_t i = 0; i < 3; i++) {
        signer cs;
        acme_key *cert_key = external_key(&cs, types[i]);
        acme_order *o = NULL;
        REQUIRE_OK(acme_order_new(&o, a));
        REQUIRE_OK(acme_order_add_dns(o, names[i]));
        int before = acct.calls;
        CHECK_OK(acme_order_issue(o, solvers, cert_key));
        CHECK_MSG(acct.calls > before, "%s: the account signer signed no request",
                  names[i]);
        CHECK_MSG(cs.calls == 1, "%s: the certificate signer was called %d times (the CSR)",
                  names[i], cs.calls);
        const char *pem = acme_order_certificate_pem(o);
        CHECK(test_leaf_matches(pem, NULL, &names[i], 1) == 0);
        check_leaf_key(pem, &cs, names[i]);
        acme_order_free(o);
        acme_key_free(cert_key);
        CHECK(cs.released == 1);
        signer_free(&cs);
    }

    /* Rollover to a second external key: the account answers to it alone. */
    signer acct2;
    acme_key *acct_key2 = external_key(&acct2, ACME_KEY_EC384);
    CHECK_OK(acme_account_rollover(a, acct_key2));
    CHECK(acct2.calls > 0);
    CHECK(acme_account_key(a) == acct_key2);
    REQUIRE_OK(acme_account_lookup(&found, p, acct_key2));
    CHECK_STR(acme_account_url(found), url);
    acme_account_free(found);
    found = NULL;
    CHECK(acme_account_lookup(&found, p, acct_key) != ACME_OK);
    acme_account_free(found);

    /* Revoke with an external certificate key (proof of possession). */
    signer rs;
    acme_key *rev_key = external_key(&rs, ACME_KEY_EC256);
    acme_order *o = NULL;
    const char *rev_name = "revoke.signer.example";
    REQUIRE_OK(acme_order_new(&o, a));
    REQUIRE_OK(acme_order_add_dns(o, rev_name));
    REQUIRE_OK(acme_order_issue(o, solvers, rev_key));
    char *pem = strdup(acme_order_certificate_pem(o));
    acme_order_free(o);
    acme_cert *c = NULL;
    REQUIRE_OK(acme_cert_parse(&c, pem, strlen(pem), rev_key));
    char *serial = strdup(acme_cert_serial(c));
    acme_cert_free(c);
    CHECK(pebble_says(serial, "Valid"));
    int before = rs.calls;
    CHECK_OK(acme_revoke_with_key(p, rev_key, pem, ACME_REASON_KEY_COMPROMISE));
    CHECK(rs.calls == before + 1);
    CHECK_MSG(pebble_says(serial, "Revoked"), "Pebble does not list %s as revoked", serial);
    free(serial);
    free(pem);
    acme_key_free(rev_key);
    signer_free(&rs);

    acme_account_free(a);
    acme_key_free(acct_key);
    acme_key_free(acct_key2);
    CHECK(acct.released == 1 && acct2.released == 1);
    signer_free(&acct);
    signer_free(&acct2);
    acme_solvers_free(solvers);
    acme_http_responder_stop(http);
    free(url);
    acme_provider_free(p);
}

/* Files under dir (recursively) whose name or content marks a private
 * key; each is reported with its path relative to dir. */
static size_t private_key_files(const char *dir, const char *rel, const char *skip)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    DIR *dh = opendir(path);
    if (!dh)
        return 0;
    size_t found = 0;
    struct dirent *e;
    while ((e = readdir(dh))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[1024], full[2048];
        snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(full, sizeof(full), "%s/%s", dir, sub);
        struct stat st;
        if (lstat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (!skip || strcmp(sub, skip) != 0)
                found += private_key_files(dir, sub, skip);
            continue;
        }
        char *text = test_read_file(full);
        if (strcmp(e->d_name, "key.pem") == 0 || (text && strstr(text, "PRIVATE KEY"))) {
            fprintf(stderr, "  private key file: %s\n", sub);
            found++;
        }
        free(text);
    }
    closedir(dh);
    return found;
}

/* What a desire test runs on: Pebble, a fresh filesystem store, and the
 * http-01 responder. */
typedef struct desire_env {
    acme_provider *p;
    char *dir;
    acme_store *store;
    acme_http_responder *http;
    acme_solvers *solvers;
} desire_env;

static void env_open(desire_env *env)
{
    memset(env, 0, sizeof(*env));
    env->p = test_provider(NULL);
    REQUIRE((env->dir = test_tmpdir()));
    REQUIRE_OK(acme_store_new_fs(&env->store, env->dir));
    REQUIRE_OK(acme_solvers_new(&env->solvers));
    REQUIRE_OK(acme_http_responder_start(&env->http, "127.0.0.1",
                                         env_port("ACME_TEST_HTTP_PORT")));
    REQUIRE_OK(acme_solvers_add_http_responder(env->solvers, env->http));
}

static void env_close(desire_env *env)
{
    acme_store_free(env->store);
    acme_solvers_free(env->solvers);
    acme_http_responder_stop(env->http);
    free(env->dir);
    acme_provider_free(env->p);
}

/* A desire whose account key is the host's: registered once, found again
 * by a second desire on the same store, and no account key file stored. */
static void test_desire(void)
{
    desire_env env;
    env_open(&env);
    acme_provider *p = env.p;
    acme_store *store = env.store;
    acme_solvers *solvers = env.solvers;
    const char *dir = env.dir;

    signer acct;
    acme_key *acct_key = external_key(&acct, ACME_KEY_EC256);
    acme_desire_options o;
    test_desire_options(&o, "host-key@example.com");
    char *url = NULL;
    for (int round = 0; round < 2; round++) {
        acme_desire *d = NULL;
        REQUIRE_OK(acme_desire_new(&d, p, store, solvers, &o));
        REQUIRE_OK(acme_desire_set_account_key(d, acct_key));
        const char *name = round == 0 ? "desire.signer.example" : "again.signer.example";
        REQUIRE_OK(acme_desire_add(d, NULL, &name, 1, ACME_KEY_EC256, NULL));
        int before = acct.calls;
        CHECK_OK(acme_desire_ensure(d));
        CHECK_MSG(acct.calls > before, "round %d: the account signer signed nothing", round);
        acme_account *a = NULL;
        REQUIRE_OK(acme_desire_account(d, &a));
        CHECK(acme_account_key(a) == acct_key);
        if (round == 0)
            url = strdup(acme_account_url(a));
        else
            CHECK_STR(acme_account_url(a), url); /* found again, not registered anew */
        acme_account_free(a);
        /* Too late once the account is there. */
        CHECK_RC(acme_desire_set_account_key(d, acct_key), ACME_ERR_STATE);
        acme_desire_free(d);
    }
    /* The account directory holds the URL and no key (the certificate
     * keys, made by the library, are under certs/). */
    CHECK_MSG(private_key_files(dir, "accounts", NULL) == 0, "an account key file was stored");
    CHECK_MSG(private_key_files(dir, "", "certs") == 0, "a private key file outside certs/");
    acme_key_free(acct_key);
    CHECK(acct.released == 1);
    signer_free(&acct);
    free(url);
    env_close(&env);
}

/* What the events of a desire said. */
typedef struct seen {
    int events;
    int with_key; /* events that named a key file */
    char chain_path[1024];
} seen;

static void on_event(const acme_event *e, void *userdata)
{
    seen *s = userdata;
    if (acme_event_get_type(e) == ACME_EVENT_FAILED)
        return;
    s->events++;
    if (acme_event_key_key(e) || acme_event_key_path(e))
        s->with_key++;
    if (acme_event_chain_path(e))
        snprintf(s->chain_path, sizeof(s->chain_path), "%s", acme_event_chain_path(e));
}

static char *serial_of(const char *pem)
{
    acme_cert *c = NULL;
    REQUIRE(pem);
    REQUIRE_OK(acme_cert_parse(&c, pem, strlen(pem), NULL));
    char *serial = strdup(acme_cert_serial(c));
    acme_cert_free(c);
    return serial;
}

/* Both keys the host's: the certificate key is used as it is for the first
 * order and for every renewal, and no private key is ever written. */
static void test_desire_host_key(void)
{
    desire_env env;
    env_open(&env);

    signer acct, cs;
    acme_key *acct_key = external_key(&acct, ACME_KEY_EC256);
    /* P-384 while the name asks for P-256: the host's key decides. */
    acme_key *cert_key = external_key(&cs, ACME_KEY_EC384);
    seen ev;
    memset(&ev, 0, sizeof(ev));
    acme_desire_options o;
    test_desire_options(&o, "cert-host-key@example.com");
    o.on_event = on_event;
    o.event_userdata = &ev;
    const char *name = "hostkey.signer.example";
    acme_desire *d = NULL;
    REQUIRE_OK(acme_desire_new(&d, env.p, env.store, env.solvers, &o));
    REQUIRE_OK(acme_desire_set_account_key(d, acct_key));
    CHECK_RC(acme_desire_set_key(d, name, cert_key), ACME_ERR_NOT_FOUND); /* not wanted yet */
    REQUIRE_OK(acme_desire_add(d, NULL, &name, 1, ACME_KEY_EC256, NULL));
    REQUIRE_OK(acme_desire_set_key(d, name, cert_key));

    CHECK_OK(acme_desire_ensure(d));
    CHECK(acme_desire_result(d, 0) == ACME_RESULT_OBTAINED);
    CHECK_MSG(cs.calls == 1, "the certificate signer signed %d times (the CSR)", cs.calls);
    CHECK(ev.events == 1 && ev.with_key == 0);
    char *chain = test_read_file(ev.chain_path);
    check_leaf_key(chain, &cs, "obtained");
    char *serial1 = serial_of(chain);
    free(chain);

    /* Forced renewal: the same host key again, no fresh one. */
    REQUIRE_OK(acme_desire_set_force(d, name, 1));
    CHECK_OK(acme_desire_ensure(d));
    CHECK(acme_desire_result(d, 0) == ACME_RESULT_RENEWED);
    CHECK_MSG(cs.calls == 2, "the renewal did not sign with the host key (%d)", cs.calls);
    CHECK(ev.events == 2 && ev.with_key == 0);
    chain = test_read_file(ev.chain_path);
    check_leaf_key(chain, &cs, "renewed");
    char *serial2 = serial_of(chain);
    free(chain);
    CHECK_MSG(strcmp(serial1, serial2) != 0, "the renewal stored the same certificate");
    CHECK_MSG(private_key_files(env.dir, "", NULL) == 0, "a private key file was stored");
    acme_desire_free(d);

    /* As a CLI's renew: the stored names, the host key not given. Not due:
     * nothing to do; forced: refused, and the stored chain stays. */
    REQUIRE_OK(acme_desire_new(&d, env.p, env.store, env.solvers, &o));
    REQUIRE_OK(acme_desire_set_account_key(d, acct_key));
    size_t n = 0;
    REQUIRE_OK(acme_desire_add_stored(d, &n));
    CHECK(n == 1);
    CHECK_OK(acme_desire_ensure(d));
    CHECK(acme_desire_result(d, 0) == ACME_RESULT_NOT_DUE);
    REQUIRE_OK(acme_desire_set_force(d, name, 1));
    CHECK_RC(acme_desire_ensure(d), ACME_ERR_STATE);
    CHECK_MSG(strstr(acme_desire_message(d, 0), "acme_desire_set_key") != NULL, "message: %s",
              acme_desire_message(d, 0));
    CHECK(cs.calls == 2);
    CHECK_MSG(private_key_files(env.dir, "", NULL) == 0, "a key was generated in place of the host's");
    /* Revoking with the certificate key needs the host key. */
    CHECK_RC(acme_desire_revoke(d, name, ACME_REASON_KEY_COMPROMISE, 1), ACME_ERR_STATE);
    CHECK(pebble_says(serial2, "Valid"));

    /* With the key: revoked for keyCompromise, signed by the host key. */
    REQUIRE_OK(acme_desire_set_key(d, name, cert_key));
    CHECK_OK(acme_desire_revoke(d, name, ACME_REASON_KEY_COMPROMISE, 1));
    CHECK_MSG(cs.calls == 3, "the revocation was not signed by the host key (%d)", cs.calls);
    CHECK_MSG(pebble_says(serial2, "Revoked"), "Pebble does not list %s as revoked", serial2);
    CHECK(ev.events == 3 && ev.with_key == 0);

    /* The key is recorded as compromised: ensure refuses it before any
     * request (neither signer is called: no order, nothing signed). */
    int acct_before = acct.calls;
    CHECK_RC(acme_desire_ensure(d), ACME_ERR_INVALID);
    CHECK(acme_desire_result(d, 0) == ACME_RESULT_FAILED);
    CHECK_MSG(strstr(acme_desire_message(d, 0), "keyCompromise") != NULL, "message: %s",
              acme_desire_message(d, 0));
    CHECK_MSG(acct.calls == acct_before && cs.calls == 3,
              "a request was signed for a compromised host key");
    CHECK_MSG(private_key_files(env.dir, "", NULL) == 0, "a private key file was stored");
    acme_desire_free(d);

    CHECK(cs.released == 0); /* the host's own reference */
    acme_key_free(cert_key);
    acme_key_free(acct_key);
    CHECK(acct.released == 1 && cs.released == 1);
    signer_free(&acct);
    signer_free(&cs);
    free(serial1);
    free(serial2);
    env_close(&env);
}

int main(int argc, char **argv)
{
    const char *scenario = argc > 1 ? argv[1] : "protocol";
    if (strcmp(scenario, "protocol") == 0)
        test_protocol();
    else if (strcmp(scenario, "desire") == 0) {
        test_desire();
        test_desire_host_key();
    }
    else {
        fprintf(stderr, "unknown scenario %s\n", scenario);
        return 2;
    }
    return check_done();
}
