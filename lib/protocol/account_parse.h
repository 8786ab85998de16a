/* Reading an account object (RFC 8555 7.1.2) without the handle, so that
 * the parser can be tested and fuzzed on its own. (include/acme/account.h
 * is the public header; this one is internal.) */
#ifndef ACME_LIB_ACCOUNT_PARSE_H
#define ACME_LIB_ACCOUNT_PARSE_H

#include <stddef.h>

#include <yajl/yajl_tree.h>

#include "base/error.h"

/* What the library keeps from an account object. */
typedef struct acme__account_fields {
    char *status;    /* "" when absent */
    char **contacts; /* the string entries of "contact", in order */
    size_t ncontacts;
    char *orders;    /* NULL when absent */
} acme__account_fields;

/* Take status, contact and orders from the account object v into *out
 * (zeroed first; free with acme__account_fields_free). Members of the
 * wrong type count as absent. Fails only for ACME_ERR_NOMEM. */
int acme__account_parse(yajl_val v, acme__account_fields *out, acme__err *err);
void acme__account_fields_free(acme__account_fields *f);

#endif
