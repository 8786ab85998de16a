/* The authorizations of an order (RFC 8555 7.5): fetched at newOrder,
 * then solved through the host's solvers by acme_order_authorize(). */
#ifndef ACME_LIB_AUTHZ_H
#define ACME_LIB_AUTHZ_H

#include <yajl/yajl_tree.h>

#include "acme/order.h"
#include "net/http.h"

typedef struct acme__authz {
    char *url;
    char *status;
    char *ident_type;
    char *ident_value;
    int wildcard;
    char *solved_by; /* challenge type used; "" when it was already valid */
    yajl_val json;
} acme__authz;

void acme__authz_clear(acme__authz *a);

/* POST-as-GET the authorization at a->url and take its fields (the JSON is
 * kept for its challenges). When res_out is given, the reply is kept there
 * on success for the caller to free. Errors go to the order's error. */
int acme__authz_fetch(acme_order *o, acme__authz *a, acme__response *res_out);

#endif
