/* A growable byte buffer, always NUL-terminated, with a sticky OOM flag so
 * that long chains of appends need one check at the end. */
#ifndef ACME_LIB_BUF_H
#define ACME_LIB_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct acme__buf {
    char *data;   /* NULL until the first append; NUL-terminated after */
    size_t len;
    size_t cap;
    int oom;      /* set once an allocation failed; later appends do nothing */
} acme__buf;

#define ACME__BUF_INIT { NULL, 0, 0, 0 }

int acme__buf_append(acme__buf *b, const void *p, size_t n);
int acme__buf_puts(acme__buf *b, const char *s);
int acme__buf_putc(acme__buf *b, char c);
int acme__buf_printf(acme__buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int acme__buf_vprintf(acme__buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* ACME_OK, or ACME_ERR_NOMEM when any earlier append failed. */
int acme__buf_status(const acme__buf *b);
/* Contents as a string ("" when empty); never NULL. */
const char *acme__buf_str(const acme__buf *b);
/* Hand the string to the caller (who frees it) and reset the buffer.
 * Returns NULL after an allocation failure (the buffer is freed then). */
char *acme__buf_detach(acme__buf *b);
void acme__buf_free(acme__buf *b);
/* Free after wiping: for buffers that held secrets or signing input. */
void acme__buf_wipe(acme__buf *b);

#endif
