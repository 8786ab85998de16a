/* base64url without padding (RFC 4648 section 5), as JOSE uses it, and
 * standard base64 (section 4), as PEM, etcd's gateway and TSIG secrets do. */
#ifndef ACME_LIB_B64_H
#define ACME_LIB_B64_H

#include <stddef.h>

#include "base/buf.h"

int acme__b64url_append(acme__buf *b, const void *data, size_t len);
/* Decode into a new buffer (NUL-terminated after *out_len bytes). Padding
 * '=' is accepted at the end only. ACME_ERR_INVALID on any other byte. */
int acme__b64url_decode(const char *text, size_t text_len, unsigned char **out, size_t *out_len);
/* The same into the caller's buffer (no heap copy, for secrets): at most
 * cap octets; ACME_ERR_NOMEM when they do not fit. On failure what was
 * written is wiped. */
int acme__b64url_decode_into(const char *text, size_t text_len, unsigned char *out, size_t cap,
                             size_t *out_len);
/* Non-zero when s is non-empty and only of base64url characters (no padding):
 * what a challenge token must be before it names a file or a URL path. */
int acme__b64url_valid(const char *s);

/* Standard base64 with padding, appended to b. */
int acme__b64_append(acme__buf *b, const void *data, size_t len);
/* Decode standard base64 (line breaks allowed between groups) into a new
 * buffer of *out_len bytes, which the caller wipes if secret and frees.
 * ACME_ERR_INVALID for bytes outside the alphabet or bad padding (an empty
 * result is not an error: callers that need bytes check *out_len),
 * ACME_ERR_NOMEM. */
int acme__b64_decode(const char *text, size_t text_len, unsigned char **out, size_t *out_len);

#endif
