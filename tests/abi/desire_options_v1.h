/* acme_desire_options as version 1 of include/acme/desire.h declared it:
 * the struct without `reuse_key`, which version 2 appended. It stands for
 * the header an older program was built with; test_grown_struct.c compiles
 * against it instead of acme/desire.h and runs against today's library.
 * The struct must stay as it is (that is the point of the test); the
 * functions are declared as today's library has them. */
#ifndef ACME_TEST_DESIRE_OPTIONS_V1_H
#define ACME_TEST_DESIRE_OPTIONS_V1_H

#include "acme/common.h"
#include "acme/provider.h"
#include "acme/solver.h"
#include "acme/store.h"

typedef struct acme_event acme_event;
typedef void (*acme_event_fn)(const acme_event *e, void *userdata);

#define ACME_DESIRE_OPTIONS_VERSION 1

typedef struct acme_desire_options {
    unsigned int version;
    const char *email;
    int agree_tos;
    const char *eab_kid;
    const char *eab_hmac_key;
    const char *eab_algorithm;
    int account_key_type;
    int no_www_base;
    unsigned int parallel;
    int fresh_key_on_renewal;
    acme_clock_fn clock;
    void *clock_userdata;
    acme_event_fn on_event;
    void *event_userdata;
    unsigned int order_timeout_s;
    unsigned int lock_timeout_s;
    const char *preferred_chain;
    const char *profile;
} acme_desire_options;

typedef struct acme_desire acme_desire;

ACME_API int acme_desire_options_init(acme_desire_options *opts, unsigned int version);
ACME_API int acme_desire_new(acme_desire **out, acme_provider *provider, acme_store *store,
                             const acme_solvers *solvers, const acme_desire_options *opts);
ACME_API void acme_desire_free(acme_desire *d);

#endif
