/* RFC 7807 problem documents as reference-counted, immutable objects. */
#ifndef ACME_LIB_PROBLEM_H
#define ACME_LIB_PROBLEM_H

#include "acme/common.h"

/* At most this many subproblems are kept from a (possibly hostile) reply. */
#define ACME__MAX_SUBPROBLEMS 256

/* Build a problem from fields (for errors the library itself detects). */
acme_problem *acme__problem_new(const char *type, const char *detail, int http_status);
/* Attach the identifier a problem is about (both strings copied). */
int acme__problem_set_identifier(acme_problem *p, const char *type, const char *value);
/* Append sub (the reference passes to p, also on failure); past
 * ACME__MAX_SUBPROBLEMS it is dropped. */
int acme__problem_add_subproblem(acme_problem *p, acme_problem *sub);
/* The Retry-After of the reply that carried the problem, in seconds from
 * when it arrived: set once, by the reader, before the problem is shared. */
void acme__problem_set_retry_after(acme_problem *p, int64_t seconds);
/* ACME_OK and *seconds when the reply had a usable Retry-After, else
 * ACME_ERR_NOT_FOUND (also for NULL). */
int acme__problem_retry_after(const acme_problem *p, int64_t *seconds);
acme_problem *acme__problem_ref(acme_problem *p);
void acme__problem_unref(acme_problem *p);
/* "type: detail" plus a count of subproblems, for error messages. */
void acme__problem_describe(const acme_problem *p, char *out, size_t size);

#endif
