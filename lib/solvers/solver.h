/* Solvers and challenges inside the library. */
#ifndef ACME_LIB_SOLVER_H
#define ACME_LIB_SOLVER_H

#include <stdatomic.h>

#include <yajl/yajl_tree.h>

#include "acme/solver.h"
#include "base/error.h"

/* A built-in solver's present: as acme_solver_present_fn, recording why it
 * failed in err, so that the order tells the host the cause. */
typedef int (*acme__present_err_fn)(const acme_challenge *ch, void *userdata, acme__err *err);

/* A built-in wait (the DNS propagation check): as acme_solver_wait_fn,
 * recording why it failed in err. */
typedef int (*acme__wait_err_fn)(const acme_challenge *ch, void *userdata, acme__err *err);

typedef struct acme__solver {
    char *type;
    acme_solver_present_fn present;     /* a host's solver */
    acme__present_err_fn present_err;   /* or a built-in one */
    acme_solver_wait_fn wait;
    acme__wait_err_fn check;            /* run after wait; its userdata is the set's */
    void *check_userdata;
    acme_solver_cleanup_fn cleanup;
    void *userdata;
    void (*free_userdata)(void *); /* for built-in solvers that own it */
} acme__solver;

/* Reference-counted: a desire keeps the set it was given, so the host may
 * free its own handle at any time. The set is read-only once orders use
 * it; only calls on the set itself (adding) record errors in err. */
struct acme_solvers {
    atomic_int refs;
    acme__solver *v;
    size_t n;
    acme__err err;
    void *check_data;              /* what the solvers' check reads, owned */
    void (*free_check_data)(void *);
};

/* Take a reference. The count is the one part of a set that changes while
 * orders read it, so holders of a const set may take one too. */
acme_solvers *acme__solvers_ref(const acme_solvers *s);

/* Add a built-in solver whose userdata the set owns (freed with
 * free_userdata, also when adding fails). */
int acme__solvers_add_owned(acme_solvers *s, const char *type, acme__present_err_fn present,
                            acme_solver_cleanup_fn cleanup, void *userdata,
                            void (*free_userdata)(void *));
/* Run sv's present for ch; a built-in solver records its failure in err,
 * a host's leaves err alone. */
int acme__solver_present(const acme__solver *sv, const acme_challenge *ch, acme__err *err);

/* Give the solvers of `types` (n of them) the check, whose data the set
 * then owns (freed with free_data; on failure too, and so is a previous
 * check's). */
int acme__solvers_set_check(acme_solvers *s, const char *const *types, size_t n,
                            acme__wait_err_fn check, void *data, void (*free_data)(void *));
/* Non-zero when sv has a wait or a check to run before validation. */
int acme__solver_waits(const acme__solver *sv);
/* Run sv's wait, then its check; a failure is recorded in err (a host's
 * wait by its code, a check by its own message). */
int acme__solver_wait(const acme__solver *sv, const acme_challenge *ch, acme__err *err);

/* SHA-256 of a key authorization, which dns-01 (RFC 8555 8.4) and
 * tls-alpn-01 (RFC 8737 3) publish. */
#define ACME__KEY_AUTHZ_DIGEST_LEN 32

struct acme_challenge {
    char *type;
    char *url;
    char *authz_url;
    char *ident_type;
    char *ident_value;
    int wildcard;
    char *token;        /* checked base64url, or NULL */
    char *key_authz;    /* token "." thumbprint, or NULL */
    char *http_path;    /* http-01 only */
    char *txt_name;     /* dns-01, dns-account-01, dns-persist-01 */
    char *txt_value;
    char *account_uri;  /* the challenge's accounturi, else the order's account URL */
    char **issuers;     /* dns-persist-01: issuer-domain-names */
    size_t nissuers;
    char *response;     /* set by a solver: the body of the challenge POST */
    unsigned char alpn_digest[ACME__KEY_AUTHZ_DIGEST_LEN];
    char *alpn_digest_b64;  /* tls-alpn-01 only */
    char *alpn_cert_pem;    /* tls-alpn-01, built on first use */
    char *alpn_key_pem;
    int alpn_built;
    char *json;
    const char *status; /* a static string: "pending", "valid" or "invalid" */
};

/* Record the outcome of validation before the cleanup callbacks run. */
void acme__challenge_settle(acme_challenge *ch, const char *authz_status);

/* Build a challenge view from the CA's challenge object. thumbprint is the
 * account key's JWK thumbprint, account_url the account's URL (dns-account-01
 * derives its label from it; may be NULL for other types). A token that is
 * not base64url is refused (ACME_ERR_PROTOCOL): it would otherwise reach
 * file names and URLs; so is a dns-persist-01 challenge without accounturi
 * or issuer-domain-names. */
int acme__challenge_new(acme_challenge **out, yajl_val json, const char *authz_url,
                        const char *ident_type, const char *ident_value, int wildcard,
                        const char *thumbprint, const char *account_url, acme__err *err);
/* The label of dns-account-01 (draft-ietf-acme-dns-account-label): lowercase
 * unpadded base32 of the first 10 bytes of SHA-256(account URL), 16
 * characters, written with its NUL into out. */
#define ACME__ACCOUNT_LABEL_LEN 16
int acme__dns_account_label(const char *account_url, char out[ACME__ACCOUNT_LABEL_LEN + 1]);
void acme__challenge_free(acme_challenge *ch);

#endif
