/* Error recording: each handle embeds an acme__err; every failure is also
 * copied to the calling thread's last error (acme_last_error()). */
#ifndef ACME_LIB_ERROR_H
#define ACME_LIB_ERROR_H

#include "acme/common.h"

typedef struct acme__err {
    int code;
    char msg[ACME_ERROR_MAX];
    acme_problem *problem; /* own reference, or NULL */
    int quiet;             /* set: record here only, not in the thread's last error */
} acme__err;

/* For probes whose failure is an expected answer (a key not in the store):
 * the failure stays in the record and does not become acme_last_error(). */
#define ACME__ERR_QUIET { 0, "", NULL, 1 }

/* Record a failure in e (may be NULL) and in the thread's last error;
 * returns code so that callers can write `return acme__fail(...)`. */
int acme__fail(acme__err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* As acme__fail, attaching a CA problem (a new reference is taken). */
int acme__fail_problem(acme__err *e, int code, acme_problem *problem, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Copy a failure recorded elsewhere (e.g. in a temporary) into e and the
 * thread's last error; returns src->code. */
int acme__err_forward(acme__err *e, const acme__err *src);
/* Prefix the recorded message with context ("registering account: ..."). */
void acme__err_prefix(acme__err *e, const char *prefix);
void acme__err_clear(acme__err *e);
const char *acme__err_msg(const acme__err *e);
/* Copy e's message into buf of size bytes (cut, NUL-terminated; nothing
 * written when size is 0): what the copy-out getters give. Returns the
 * whole message's length. The caller holds whatever lock guards e. */
int acme__err_copy_msg(const acme__err *e, char *buf, size_t size);

#endif
