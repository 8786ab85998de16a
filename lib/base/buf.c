/* Growable NUL-terminated byte buffer. */
#include "base/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/common.h"
#include "base/mem.h"

/* Most buffers hold a short string; doubling from here keeps appends
 * amortised constant. */
#define FIRST_CAPACITY 64

static int buf_grow(acme__buf *b, size_t extra)
{
    if (b->oom)
        return ACME_ERR_NOMEM;
    if (extra > (size_t)-1 / 2 - b->len) {
        b->oom = 1;
        return ACME_ERR_NOMEM;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return ACME_OK;
    size_t cap = b->cap ? b->cap : FIRST_CAPACITY;
    while (cap < need)
        cap *= 2;
    /* Grow by copy, not realloc, so the old block can be wiped: buffers
     * carry signing input and key PEM. */
    char *d = malloc(cap);
    if (!d) {
        b->oom = 1;
        return ACME_ERR_NOMEM;
    }
    if (b->data) {
        memcpy(d, b->data, b->len + 1);
        acme__wipe(b->data, b->cap);
        free(b->data);
    }
    b->data = d;
    b->cap = cap;
    return ACME_OK;
}

int acme__buf_append(acme__buf *b, const void *p, size_t n)
{
    if (buf_grow(b, n) != ACME_OK)
        return ACME_ERR_NOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return ACME_OK;
}

int acme__buf_puts(acme__buf *b, const char *s)
{
    return acme__buf_append(b, s, strlen(s));
}

int acme__buf_putc(acme__buf *b, char c)
{
    return acme__buf_append(b, &c, 1);
}

int acme__buf_vprintf(acme__buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || buf_grow(b, (size_t)n) != ACME_OK) {
        b->oom = 1;
        return ACME_ERR_NOMEM;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return ACME_OK;
}

int acme__buf_printf(acme__buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = acme__buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int acme__buf_status(const acme__buf *b)
{
    return b->oom ? ACME_ERR_NOMEM : ACME_OK;
}

const char *acme__buf_str(const acme__buf *b)
{
    return b->data && !b->oom ? b->data : "";
}

char *acme__buf_detach(acme__buf *b)
{
    if (b->oom) {
        acme__buf_wipe(b);
        return NULL;
    }
    char *d = b->data ? b->data : acme__strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

void acme__buf_free(acme__buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void acme__buf_wipe(acme__buf *b)
{
    acme__wipe(b->data, b->cap);
    acme__buf_free(b);
}
