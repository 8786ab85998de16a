/* Shared helpers for libacme's integration tests: the environment the
 * Pebble harness (tests/harness/) gives, a provider connected to
 * it, and a log recorder that tests grep (e.g. for leaked secrets). */
#ifndef ACME_TEST_UTIL_H
#define ACME_TEST_UTIL_H

#include <acme.h>

/* The value of an ACME_TEST_* variable; exits with a message when the test
 * was not started by the harness. */
const char *test_env(const char *name);

/* A provider for the harness's Pebble, logging at DEBUG into the recorder.
 * opts may be NULL; ca_bundle, log and log level are filled in. Exits on
 * failure. */
acme_provider *test_provider(acme_provider_options *opts);

/* Everything logged through test_provider() so far, one line per entry. */
const char *test_log(void);
/* Forget the recorded log. */
void test_log_clear(void);
/* Log callback that records (usable in other options structs). */
void test_log_record(int level, const char *msg, void *userdata);

/* A fresh key of the type; exits on failure. */
acme_key *test_key(int type);

/* A new account on p with key, the terms agreed to; exits on failure. */
acme_account *test_account(acme_provider *p, acme_key *key);

/* Desire options with a contact address and the terms agreed to. */
void test_desire_options(acme_desire_options *o, const char *email);

/* One ensure of the certificates names[0..n) (one identifier each, dns-01
 * through challtestsrv) on a filesystem store at dir, in this process, with
 * options o (the address and terms set by test_desire_options); force
 * renews names[0] even when not due. results[i] and messages[i] (either may
 * be NULL; messages are new strings, free()) get each name's result and
 * message; errors are printed. Returns what acme_desire_ensure (or the
 * setup) returned. */
int test_ensure_names(const char *dir, const char *const *names, size_t n,
                      const acme_desire_options *o, int force, int *results, char **messages);

/* POST a JSON body to pebble-challtestsrv's management API (e.g.
 * "add-http01", "{\"token\":...}"). Returns 0 on HTTP 200. */
int test_challtestsrv(const char *command, const char *json_body);

/* Add a dns-01 solver that publishes TXT records through challtestsrv. */
int test_add_dns_solver(acme_solvers *s);
/* That solver's callbacks, for solvers that wrap them. */
int test_dns_present(const acme_challenge *ch, void *userdata);
void test_dns_cleanup(const acme_challenge *ch, void *userdata);

/* GET a path of Pebble's management API (HTTPS) into a new string (free()),
 * or NULL. */
char *test_pebble_mgmt_get(const char *path);

/* Check an issued chain: its leaf names exactly the n identifiers in
 * names (any order; IPs as text) and holds key's public key. Reports
 * through the CHECK counters of the calling test; returns 0 when all hold. */
int test_leaf_matches(const char *chain_pem, acme_key *key, const char *const *names, size_t n);

/* Number of certificates in a PEM chain. */
size_t test_chain_length(const char *chain_pem);

/* A new temporary directory under ACME_TEST_TMPDIR (or /tmp); free(). */
char *test_tmpdir(void);

/* A whole file as a NUL-terminated string (free()), or NULL. Buffers
 * outgrown on the way are wiped first: the secrets test reads key files and
 * then searches freed memory for key material. */
char *test_read_file(const char *path);

/* Replace a file's content atomically (temporary file, rename), so that a
 * process polling it never reads half of it. Returns 0, or -1. */
int test_replace_file(const char *path, const char *text);
/* The same with printf-style text. */
int test_replace_filef(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
