/* The provider inside the library: directory, nonce pool, and the request
 * machinery every ACME resource uses (signed POST, POST-as-GET, retries,
 * problem documents). */
#ifndef ACME_LIB_PROVIDER_H
#define ACME_LIB_PROVIDER_H

#include <pthread.h>
#include <stdatomic.h>

#include <yajl/yajl_tree.h>

#include "acme/provider.h"
#include "base/error.h"
#include "net/http.h"
#include "crypto/key.h"

/* Nonces kept for later requests; the oldest are dropped beyond this. */
#define ACME__NONCE_POOL 64 /* enough for the widest parallel ensure (64 threads) */

struct acme_provider {
    atomic_int refs;
    char *directory_url;
    yajl_val directory; /* the parsed directory; getters read from it */
    acme__http *http;
    pthread_mutex_t nonce_lock;
    char *nonces[ACME__NONCE_POOL];
    size_t nnonces;
    unsigned int max_retry_after_s;
    unsigned int max_retries;
    unsigned int max_bad_nonce_retries;
    acme_log_fn log;
    void *log_userdata;
    int log_level;
    /* The last failure of a public call on the provider. Threads share the
     * provider, so it is written and read only under err_lock, and read
     * out only as copies (acme_provider_last_error_copy). */
    pthread_mutex_t err_lock;
    acme__err err;
};

/* Room for a problem's description (acme__problem_describe) in an error
 * message: its type, detail and subproblem count, cut beyond this. */
#define ACME__PROBLEM_DESC_LEN 400

acme_provider *acme__provider_ref(acme_provider *p);

/* The end of a public call on p that returns rc with its failure in why:
 * a failure is recorded on p (when p is not NULL); why is cleared either
 * way. Returns rc. */
int acme__provider_record(acme_provider *p, int rc, acme__err *why);

/* Check a parsed directory (url names it in messages): newNonce, newAccount
 * and newOrder must be https URLs. ACME_ERR_PROTOCOL otherwise. The
 * provider's getters read the other members straight from the tree. */
int acme__directory_check(yajl_val dir, const char *url, acme__err *err);

/* Log through the provider's callback (no-op when none or too verbose). */
void acme__log(const acme_provider *p, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Unsigned GET (or HEAD when head is set), with 429/5xx retries. Any non-2xx
 * reply is an error: ACME_ERR_PROBLEM when it carried a problem document,
 * else ACME_ERR_HTTP. res is filled in both cases; free it always. */
int acme__provider_get(acme_provider *p, const char *url, int head, acme__response *res,
                       acme__err *err);

/* Signed POST of payload (NULL: POST-as-GET) to url, signed by key with
 * "kid" (account URL) or, when kid is NULL, with the key's "jwk". Takes a
 * nonce from the pool (asking newNonce when empty), keeps the reply's nonce,
 * retries badNonce and 429/5xx within the provider's bounds. Errors as for
 * acme__provider_get. accept may be NULL. */
int acme__provider_post(acme_provider *p, acme_key *key, const char *kid, const char *url,
                        const char *payload, const char *accept, acme__response *res,
                        acme__err *err);

/* Parse a reply body that must be a JSON object of content type
 * application/json; `what` names it in error messages. */
int acme__provider_json(const acme__response *res, const char *what, yajl_val *out,
                        acme__err *err);

#endif
