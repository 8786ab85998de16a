/* Problem documents (RFC 7807) read from a CA's JSON reply. */
#ifndef ACME_LIB_PROBLEM_JSON_H
#define ACME_LIB_PROBLEM_JSON_H

#include <yajl/yajl_tree.h>

#include "base/problem.h"

/* Build a problem from a parsed JSON object; NULL when v is not an object
 * or memory runs out. http_status may be 0 (then the document's "status"
 * is used). At most ACME__MAX_SUBPROBLEMS subproblems are kept. */
acme_problem *acme__problem_from_json(const yajl_val v, int http_status);

#endif
