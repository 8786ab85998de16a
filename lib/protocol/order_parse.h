/* Reading order and authorization objects (RFC 8555 7.1.3, 7.1.4) without
 * the order handle, so that the parsers can be tested and fuzzed alone. */
#ifndef ACME_LIB_ORDER_PARSE_H
#define ACME_LIB_ORDER_PARSE_H

#include <yajl/yajl_tree.h>

#include "acme/common.h"
#include "base/error.h"

/* Take status, finalize and certificate from the order object v into the
 * slots (each replaced by a new copy when v has the member, else kept as
 * it is). A problem in "error" (an invalid order) goes to *problem_out
 * (NULL when none; unref it). url names the order in messages.
 * ACME_ERR_PROTOCOL when v has no status, ACME_ERR_NOMEM. */
int acme__order_parse(yajl_val v, const char *url, char **status, char **finalize_url,
                      char **cert_url, acme_problem **problem_out, acme__err *err);

/* Take status, identifier (type and value) and wildcard from the
 * authorization object v: the strings replace the slots' contents, the
 * challenges stay in v for the caller. url names it in messages.
 * ACME_ERR_PROTOCOL when status or identifier is missing, ACME_ERR_NOMEM. */
int acme__authz_parse(yajl_val v, const char *url, char **status, char **ident_type,
                      char **ident_value, int *wildcard, acme__err *err);

#endif
