/* Errors recorded on the handle a call was made on, against a real Pebble:
 * what a binding whose threads move (Go's goroutines) reads instead of the
 * thread's last error.
 *   provider  acme_revoke_with_key() and the account constructors record on
 *             the provider; its record is read as copies, whole while other
 *             threads fail on the same provider; a problem copy outlives
 *             later failures
 *   desire    a failed ensure / ensure_one keeps the CA's problem on the
 *             desire (acme_desire_last_problem()), as a refused revocation
 *             does
 *   key       acme_key_last_error_copy() while threads fail on a shared key */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

static acme_provider *provider;

/* The provider's message, copied. */
static const char *provider_msg(void)
{
    static char buf[ACME_ERROR_MAX];
    int n = acme_provider_last_error_copy(provider, buf, sizeof(buf));
    CHECK_MSG(n >= 0 && (size_t)n < sizeof(buf), "length %d", n);
    return buf;
}

/* The type of the provider's problem copy ("" for none). */
static void provider_problem_is(const char *type)
{
    acme_problem *p = (acme_problem *)1;
    CHECK_OK(acme_provider_last_problem_copy(provider, &p));
    if (!*type)
        CHECK_MSG(p == NULL, "unexpected problem %s", acme_problem_type(p));
    else
        CHECK_MSG(acme_problem_is(p, type), "want %s, got %s (%s)", type,
                  p ? acme_problem_type(p) : "no problem", provider_msg());
    acme_problem_free(p);
}

/* http-01 "presented" without anything served: the CA's validation fails. */
static int silent_present(const acme_challenge *ch, void *ud)
{
    (void)ch;
    (void)ud;
    return ACME_OK;
}

static char *store_get(acme_store *s, const char *key)
{
    char *data = NULL;
    size_t len;
    return acme_store_get(s, key, &data, &len) == ACME_OK ? data : NULL;
}

/* ---- threads on one provider, one key ---------------------------------------- */

#define THREADS 4
#define ROUNDS 300
#define LOAD_MSG "account: the URL must be an https URL"
#define KEY_MSG "key: NULL output"

typedef struct worker_arg {
    acme_key *key;
    int torn; /* copies that were not one whole message */
} worker_arg;

static void *worker(void *arg)
{
    worker_arg *w = arg;
    char buf[ACME_ERROR_MAX];
    for (int i = 0; i < ROUNDS; i++) {
        acme_account *a = NULL;
        if (acme_account_load(&a, provider, w->key, "http://not-https.example") !=
            ACME_ERR_INVALID)
            w->torn++;
        acme_provider_last_error_copy(provider, buf, sizeof(buf));
        if (strcmp(buf, LOAD_MSG) != 0)
            w->torn++;
        if (acme_key_thumbprint(w->key, NULL) != ACME_ERR_INVALID)
            w->torn++;
        acme_key_last_error_copy(w->key, buf, sizeof(buf));
        if (strcmp(buf, KEY_MSG) != 0)
            w->torn++;
    }
    return NULL;
}

static void test_provider_record(void)
{
    /* Nothing failed yet. */
    CHECK(acme_provider_last_error_copy(provider, NULL, 0) == 0);
    CHECK_STR(provider_msg(), "");
    provider_problem_is("");
    char small[8];
    CHECK_RC(acme_provider_last_error_copy(NULL, small, sizeof(small)), ACME_ERR_INVALID);
    CHECK_RC(acme_provider_last_error_copy(provider, NULL, 4), ACME_ERR_INVALID);
    CHECK_RC(acme_provider_last_problem_copy(provider, NULL), ACME_ERR_INVALID);

    /* A constructor has no account yet: the provider it was given records. */
    acme_key *stranger = test_key(ACME_KEY_EC256);
    acme_account *a = NULL;
    CHECK_RC(acme_account_lookup(&a, provider, stranger), ACME_ERR_PROBLEM);
    CHECK(a == NULL);
    CHECK_MSG(strstr(provider_msg(), "looking up the account") != NULL, "%s", provider_msg());
    provider_problem_is("accountDoesNotExist");
    /* A problem copy is the caller's: later failures leave it alone. */
    acme_problem *kept = NULL;
    CHECK_OK(acme_provider_last_problem_copy(provider, &kept));
    CHECK_RC(acme_account_load(&a, provider, stranger, "http://x.example"), ACME_ERR_INVALID);
    CHECK_STR(provider_msg(), LOAD_MSG);
    provider_problem_is("");
    CHECK(acme_problem_is(kept, "accountDoesNotExist"));
    acme_problem_free(kept);

    /* Cut to the buffer, with the whole length returned, as snprintf. */
    int n = acme_provider_last_error_copy(provider, small, sizeof(small));
    CHECK(n == (int)strlen(LOAD_MSG));
    CHECK_STR(small, "account");

    /* Restore, which reads the store first. */
    char *dir = test_tmpdir();
    REQUIRE(dir);
    acme_store *store = NULL;
    REQUIRE_OK(acme_store_new_fs(&store, dir));
    CHECK_RC(acme_account_restore(&a, provider, store, "nobody@example.com"),
             ACME_ERR_NOT_FOUND);
    CHECK_MSG(strstr(provider_msg(), "nobody@example.com") != NULL, "%s", provider_msg());

    /* Threads failing on one provider and one key read whole messages. */
    pthread_t t[THREADS];
    worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i].key = stranger;
        args[i].torn = 0;
        REQUIRE(pthread_create(&t[i], NULL, worker, &args[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        REQUIRE(pthread_join(t[i], NULL) == 0);
        CHECK_MSG(args[i].torn == 0, "thread %d: %d torn or wrong copies", i, args[i].torn);
    }
    acme_key_free(stranger);
    acme_store_free(store);
    free(dir);
}

/* ---- revocation and ensure ------------------------------------------------------ */

static void test_desire(void)
{
    char *dir = test_tmpdir();
    REQUIRE(dir);
    acme_store *store = NULL;
    REQUIRE_OK(acme_store_new_fs(&store, dir));
    acme_solvers *dns = NULL, *silent = NULL;
    REQUIRE_OK(acme_solvers_new(&dns));
    REQUIRE_OK(test_add_dns_solver(dns));
    REQUIRE_OK(acme_solvers_new(&silent));
    REQUIRE_OK(acme_solvers_add(silent, "http-01", silent_present, NULL, NULL, NULL));
    acme_desire_options o;
    test_desire_options(&o, "errors@example.com");
    acme_desire *d = NULL;
    REQUIRE_OK(acme_desire_new(&d, provider, store, dns, &o));
    CHECK(acme_desire_last_problem(d) == NULL);
    CHECK(acme_desire_last_problem(NULL) == NULL);

    const char *ids[] = { "revoked.errors.example" };
    REQUIRE_OK(acme_desire_add(d, "rev", ids, 1, 0, NULL));
    REQUIRE_OK(acme_desire_ensure(d));
    char *chain = store_get(store, "certs/rev/chain.pem");
    char *key_pem = store_get(store, "certs/rev/key.pem");
    REQUIRE(chain && key_pem);
    acme_key *cert_key = NULL;
    REQUIRE_OK(acme_key_load_pem(&cert_key, key_pem, strlen(key_pem)));

    /* Refused by the CA: alreadyRevoked, on the desire with its problem. */
    CHECK_OK(acme_desire_revoke(d, "rev", ACME_REASON_SUPERSEDED, 0));
    CHECK_RC(acme_desire_revoke(d, "rev", ACME_REASON_SUPERSEDED, 1), ACME_ERR_PROBLEM);
    CHECK_MSG(acme_problem_is(acme_desire_last_problem(d), "alreadyRevoked"), "%s",
              acme_desire_last_error(d));
    /* And with the certificate key straight on the provider. */
    CHECK_RC(acme_revoke_with_key(provider, cert_key, chain, ACME_REASON_SUPERSEDED),
             ACME_ERR_PROBLEM);
    CHECK_MSG(strstr(provider_msg(), "revoking the certificate") != NULL, "%s", provider_msg());
    provider_problem_is("alreadyRevoked");
    CHECK_RC(acme_revoke_with_key(provider, NULL, chain, 0), ACME_ERR_INVALID);
    CHECK_MSG(strstr(provider_msg(), "NULL argument") != NULL, "%s", provider_msg());
    provider_problem_is("");

    /* A name whose validation fails: ensure_one and ensure keep the CA's
     * problem on the desire, not only its message. */
    const char *bad[] = { "unanswered.errors.example" };
    REQUIRE_OK(acme_desire_add(d, "bad", bad, 1, 0, silent));
    CHECK_RC(acme_desire_ensure_one(d, "bad"), ACME_ERR_VALIDATION);
    const acme_problem *p = acme_desire_last_problem(d);
    CHECK_MSG(p && (acme_problem_is(p, "connection") || acme_problem_is(p, "unauthorized") ||
                    acme_problem_is(p, "incorrectResponse") || acme_problem_is(p, "dns")),
              "ensure_one: %s (%s)", p ? acme_problem_type(p) : "no problem",
              acme_desire_last_error(d));
    /* Forced past the name's backoff, so that ensure meets the CA again. */
    REQUIRE_OK(acme_desire_set_force(d, "bad", 1));
    CHECK_RC(acme_desire_ensure(d), ACME_ERR_VALIDATION);
    p = acme_desire_last_problem(d);
    CHECK_MSG(p != NULL && strstr(acme_desire_last_error(d), "bad: ") != NULL, "ensure: %s",
              acme_desire_last_error(d));
    /* A failure without a CA problem replaces it. */
    CHECK_RC(acme_desire_set_force(d, "none", 1), ACME_ERR_NOT_FOUND);
    CHECK(acme_desire_last_problem(d) == NULL);

    acme_key_free(cert_key);
    acme_free(chain);
    acme_free(key_pem);
    acme_desire_free(d);
    acme_solvers_free(dns);
    acme_solvers_free(silent);
    acme_store_free(store);
    free(dir);
}

int main(int argc, char **argv)
{
    const char *which = argc == 2 ? argv[1] : "";
    int on_provider = strcmp(which, "provider") == 0;
    if (!on_provider && strcmp(which, "desire") != 0) {
        fprintf(stderr, "usage: %s provider|desire\n", argv[0]);
        return 2;
    }
    provider = test_provider(NULL);
    if (on_provider)
        test_provider_record();
    else
        test_desire();
    acme_provider_free(provider);
    return check_done();
}
