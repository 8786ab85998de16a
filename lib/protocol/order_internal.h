/* The order handle, shared by the files that work on an order: order.c
 * (newOrder, finalize, download) and authz.c (its authorizations). */
#ifndef ACME_LIB_ORDER_INTERNAL_H
#define ACME_LIB_ORDER_INTERNAL_H

#include <yajl/yajl_tree.h>

#include "acme/order.h"
#include "base/buf.h"
#include "base/error.h"
#include "net/http.h"
#include "protocol/provider.h"

/* At most this many alternate chains are fetched. */
#define ACME__MAX_CHAINS 8

typedef struct acme__chain {
    char *pem;
    char *issuer; /* issuer CN of the topmost certificate */
} acme__chain;

/* Where an order stands, so that each step refuses to run out of turn
 * instead of reading what an earlier, failed step left half set. Steps
 * only move it forward; a failed submit goes back to NEW. */
typedef enum acme__order_state {
    ACME__ORDER_NEW,        /* not placed: settings may change */
    ACME__ORDER_SUBMITTED,  /* placed, every authorization fetched */
    ACME__ORDER_AUTHORIZED, /* every authorization valid: ready to finalize */
    ACME__ORDER_FINALIZED,  /* valid, with a certificate URL */
    ACME__ORDER_DOWNLOADED, /* the chain is downloaded and checked */
    ACME__ORDER_FAILED      /* the CA says the order is invalid: only free() remains */
} acme__order_state;

struct acme_order {
    acme_provider *provider;
    acme_key *account_key;
    char *kid;
    char *thumbprint;
    char **id_types;
    char **id_values;
    size_t nids;
    int64_t not_before;
    int64_t not_after;
    char *profile;
    int profile_preferred; /* ordered without it when the CA does not list it */
    char *replaces;
    acme__buf csr_der;
    char *preferred_chain;
    unsigned int timeout_s;
    int deactivate_on_failure;

    acme__order_state state;
    char *url;
    char *status;
    char *finalize_url;
    char *cert_url;
    struct acme__authz *authz; /* protocol/authz.h */
    size_t nauthz;
    acme_key *cert_key; /* from finalize, to check the downloaded leaf */
    acme__chain chains[ACME__MAX_CHAINS];
    size_t nchains;
    size_t chosen;
    acme__err err;
};

/* Replace *slot by a copy of v; v NULL keeps the slot as it is.
 * ACME_ERR_NOMEM (slot untouched) when the copy fails. */
int acme__order_set_str(char **slot, const char *v);

/* Signed POST of payload (NULL: POST-as-GET) to url for the order's
 * account, and its JSON reply (named `what` in messages) into *out. When
 * res_out is given, a successful reply is kept there for the caller to
 * free. Errors go to o->err. */
int acme__order_post_json(acme_order *o, const char *url, const char *payload, const char *what,
                          yajl_val *out, acme__response *res_out);

/* Refuse a step in state `state` (ACME__ORDER_FAILED, or one before
 * `needed`) with ACME_ERR_STATE, naming the step `what`; ACME_OK otherwise. */
int acme__order_check_state(acme_order *o, acme__order_state needed, const char *what);

/* Move the order forward to `state` (never back). */
void acme__order_advance(acme_order *o, acme__order_state state);

/* The monotonic deadline for this order's wait, counted from now. */
int64_t acme__order_deadline(const acme_order *o);

#endif
