/* PEM blocks (RFC 7468), read once for certificates, chains and CSRs. */
#ifndef ACME_LIB_PEM_H
#define ACME_LIB_PEM_H

#include <stddef.h>

/* Longest label accepted ("NEW CERTIFICATE REQUEST" is 23). */
#define ACME__PEM_MAX_LABEL 64

/* Decode the first PEM block in text (NUL-terminated): its label goes to
 * label, its body to a new buffer *der of *der_len bytes (free()), and
 * *next points after its END line. Returns ACME_OK; ACME_ERR_NOT_FOUND when
 * there is no BEGIN line; ACME_ERR_INVALID for a broken block (bad BEGIN
 * line, no matching END line, a second BEGIN before END, bad base64, empty),
 * with a reason in *why; ACME_ERR_NOMEM. */
int acme__pem_next(const char *text, const char **next, char label[ACME__PEM_MAX_LABEL + 1],
                   unsigned char **der, size_t *der_len, const char **why);

#endif
