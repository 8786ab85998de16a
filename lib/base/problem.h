/* RFC 7807 problem documents as reference-counted, immutable objects. */
#ifndef ACME_LIB_PROBLEM_H
#define ACME_LIB_PROBLEM_H

#include <yajl/yajl_tree.h>

#include "acme/common.h"

/* At most this many subproblems are kept from a (possibly hostile) reply. */
#define ACME__MAX_SUBPROBLEMS 256

/* Build a problem from a parsed JSON object; NULL when v is not an object
 * or memory runs out. http_status may be 0. */
acme_problem *acme__problem_from_json(const yajl_val v, int http_status);
/* Build a problem from fields (for errors the library itself detects). */
acme_problem *acme__problem_new(const char *type, const char *detail, int http_status);
acme_problem *acme__problem_ref(acme_problem *p);
void acme__problem_unref(acme_problem *p);
/* "type: detail" plus a count of subproblems, for error messages. */
void acme__problem_describe(const acme_problem *p, char *out, size_t size);

#endif
