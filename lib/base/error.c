/* Error codes, per-handle error records and the per-thread last error. */
#include "base/error.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/problem.h"

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_destroy(void *p)
{
    acme__err *e = p;
    acme__err_clear(e);
    free(e);
}

static void tls_init(void)
{
    (void)pthread_key_create(&tls_key, tls_destroy);
}

/* The calling thread's record, created on first use; NULL only when memory
 * is exhausted, in which case the per-thread copy is skipped. */
static acme__err *tls_err(void)
{
    pthread_once(&tls_once, tls_init);
    acme__err *e = pthread_getspecific(tls_key);
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (e && pthread_setspecific(tls_key, e) != 0) {
            free(e);
            e = NULL;
        }
    }
    return e;
}

static void err_store(acme__err *e, int code, acme_problem *problem, const char *msg)
{
    if (!e)
        return;
    acme_problem *old = e->problem;
    e->code = code;
    e->problem = problem ? acme__problem_ref(problem) : NULL;
    acme__problem_unref(old);
    if (msg != e->msg)
        snprintf(e->msg, sizeof(e->msg), "%s", msg);
}

__attribute__((format(printf, 4, 0)))
static int vfail(acme__err *e, int code, acme_problem *problem, const char *fmt, va_list ap)
{
    char msg[sizeof(e->msg)];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    err_store(e, code, problem, msg);
    acme__err *t = e && e->quiet ? NULL : tls_err();
    if (t && t != e)
        err_store(t, code, problem, msg);
    return code;
}

int acme__fail(acme__err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(e, code, NULL, fmt, ap);
    va_end(ap);
    return code;
}

int acme__fail_problem(acme__err *e, int code, acme_problem *problem, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(e, code, problem, fmt, ap);
    va_end(ap);
    return code;
}

int acme__err_forward(acme__err *e, const acme__err *src)
{
    return acme__fail_problem(e, src->code, src->problem, "%s", src->msg);
}

void acme__err_prefix(acme__err *e, const char *prefix)
{
    if (!e)
        return;
    char msg[sizeof(e->msg)];
    /* Bounded so the compiler can see the copy fits; the tail is cut. */
    snprintf(msg, sizeof(msg), "%.200s: %.300s", prefix, e->msg);
    acme__fail_problem(e, e->code, e->problem, "%s", msg);
}

void acme__err_clear(acme__err *e)
{
    if (!e)
        return;
    acme__problem_unref(e->problem);
    e->problem = NULL;
    e->code = ACME_OK;
    e->msg[0] = '\0';
}

const char *acme__err_msg(const acme__err *e)
{
    return e ? e->msg : "";
}

int acme__err_copy_msg(const acme__err *e, char *buf, size_t size)
{
    if (size)
        snprintf(buf, size, "%s", e->msg);
    return (int)strlen(e->msg); /* below ACME_ERROR_MAX, so it fits */
}

const char *acme_last_error(void)
{
    acme__err *t = tls_err();
    return t ? t->msg : "out of memory";
}

const acme_problem *acme_last_problem(void)
{
    acme__err *t = tls_err();
    return t ? t->problem : NULL;
}

const char *acme_strerror(int code)
{
    switch (code) {
    case ACME_OK: return "success";
    case ACME_ERR_INVALID: return "invalid argument";
    case ACME_ERR_NOMEM: return "out of memory";
    case ACME_ERR_IO: return "file input/output error";
    case ACME_ERR_KEY_FORMAT: return "unknown or broken key format";
    case ACME_ERR_CRYPTO: return "cryptographic operation failed";
    case ACME_ERR_NETWORK: return "server unreachable";
    case ACME_ERR_TLS: return "TLS failure (for example an untrusted server certificate)";
    case ACME_ERR_TIMEOUT: return "timed out";
    case ACME_ERR_HTTP: return "unexpected HTTP status";
    case ACME_ERR_PROTOCOL: return "server reply breaks the ACME protocol";
    case ACME_ERR_TOO_LARGE: return "server reply too large";
    case ACME_ERR_PROBLEM: return "the CA returned an error (problem document)";
    case ACME_ERR_UNSUPPORTED: return "not supported by the CA or this build";
    case ACME_ERR_STATE: return "object is not in a state that allows this";
    case ACME_ERR_CALLBACK: return "a callback failed";
    case ACME_ERR_IDENTIFIER: return "invalid identifier";
    case ACME_ERR_NO_SOLVER: return "no solver accepted any offered challenge";
    case ACME_ERR_VALIDATION: return "the CA could not validate an identifier";
    case ACME_ERR_CERTIFICATE: return "certificate does not parse or does not match";
    case ACME_ERR_LOCKED: return "lock held by another process or thread";
    case ACME_ERR_CORRUPT: return "stored data is corrupt or foreign";
    case ACME_ERR_NOT_FOUND: return "not found";
    case ACME_ERR_DECLINED: return "declined";
    default: return "unknown error code";
    }
}
