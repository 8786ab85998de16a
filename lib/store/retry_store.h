/* What a store remembers between runs so that failures are not retried
 * blindly: per certificate name, its consecutive failures and the earliest
 * next attempt (backoff/<name>); per CA and account, a rate limit the CA
 * announced and until when it holds (ratelimits/<ca>/<account>). Every
 * process and host sharing the store honours them. */
#ifndef ACME_LIB_RETRY_STORE_H
#define ACME_LIB_RETRY_STORE_H

#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

#define ACME__RECORD_TEXT 512

typedef struct acme__backoff {
    unsigned int failures;  /* consecutive failures; 0: no record */
    int64_t last_failure;
    int64_t next_attempt;   /* no automatic attempt before this */
    int held;               /* non-zero: no automatic attempt until reset */
    int error;              /* acme_error of the last failure */
    char problem[160];      /* the CA's problem type of the last failure, or "" */
    char detail[ACME__RECORD_TEXT]; /* the last failure's message */
} acme__backoff;

typedef struct acme__rate_limit {
    int64_t until;          /* 0: no record */
    int64_t recorded_at;
    char limit[128];        /* the limit's name when the CA gave one, or "" */
    char unpause[ACME__RECORD_TEXT]; /* an unpause URL when the CA gave one, or "" */
    char detail[ACME__RECORD_TEXT];  /* the CA's detail */
} acme__rate_limit;

/* Parse a backoff record (JSON). ACME_ERR_CORRUPT on anything but an
 * object of the expected fields; *out is zeroed first. */
int acme__backoff_parse(const char *data, size_t len, acme__backoff *out);
int acme__rate_limit_parse(const char *data, size_t len, acme__rate_limit *out);

/* Load name's record; no record gives a zeroed *out and ACME_OK. A
 * corrupt record is an error naming its key (left in place). */
int acme__backoff_load(acme_store *s, const char *name, acme__backoff *out, acme__err *err);
int acme__backoff_save(acme_store *s, const char *name, const acme__backoff *b, acme__err *err);
/* Remove name's record (no record is fine). */
int acme__backoff_clear(acme_store *s, const char *name, acme__err *err);

/* The same for the rate limit of the account `email` at directory_url. */
int acme__rate_limit_load(acme_store *s, const char *directory_url, const char *email,
                          acme__rate_limit *out, acme__err *err);
int acme__rate_limit_save(acme_store *s, const char *directory_url, const char *email,
                          const acme__rate_limit *r, acme__err *err);

#endif
