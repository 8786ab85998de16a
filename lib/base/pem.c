/* PEM block reading. */
#include "base/pem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/common.h"
#include "base/b64.h"

#define BEGIN "-----BEGIN "
#define DASHES "-----"

int acme__pem_next(const char *text, const char **next, char label[ACME__PEM_MAX_LABEL + 1],
                   unsigned char **der, size_t *der_len, const char **why)
{
    *der = NULL;
    *der_len = 0;
    *why = "";
    const char *begin = strstr(text, BEGIN);
    if (!begin)
        return ACME_ERR_NOT_FOUND;
    const char *l = begin + strlen(BEGIN);
    const char *l_end = strstr(l, DASHES);
    size_t l_len = l_end ? (size_t)(l_end - l) : 0;
    if (!l_end || l_len == 0 || l_len > ACME__PEM_MAX_LABEL || memchr(l, '\n', l_len)) {
        *why = "broken BEGIN line";
        return ACME_ERR_INVALID;
    }
    memcpy(label, l, l_len);
    label[l_len] = '\0';
    const char *body = l_end + strlen(DASHES);
    char footer[ACME__PEM_MAX_LABEL + 16];
    snprintf(footer, sizeof(footer), "-----END %s-----", label);
    const char *end = strstr(body, footer);
    const char *again = strstr(body, BEGIN);
    if (!end || (again && again < end)) {
        *why = "truncated (no END line)";
        return ACME_ERR_INVALID;
    }
    *next = end + strlen(footer);
    unsigned char *buf = NULL;
    size_t n = 0;
    int rc = acme__b64_decode(body, (size_t)(end - body), &buf, &n);
    if (rc != ACME_OK) {
        *why = rc == ACME_ERR_NOMEM ? "out of memory" : "not valid base64";
        return rc;
    }
    /* mbedTLS decodes 1 to 3 leftover characters to nothing: a body like
     * "C" is empty too. */
    if (n == 0) {
        free(buf);
        *why = "empty";
        return ACME_ERR_INVALID;
    }
    *der = buf;
    *der_len = n;
    return ACME_OK;
}
