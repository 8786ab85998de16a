/* PEM block reading on mbedTLS's base64. */
#include "base/pem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "acme/common.h"

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
    const unsigned char *b64 = (const unsigned char *)body;
    size_t b64_len = (size_t)(end - body), n = 0;
    int mrc = mbedtls_base64_decode(NULL, 0, &n, b64, b64_len);
    if (mrc != 0 && mrc != MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL) {
        *why = "not valid base64";
        return ACME_ERR_INVALID;
    }
    if (n == 0) {
        *why = "empty";
        return ACME_ERR_INVALID;
    }
    unsigned char *buf = malloc(n);
    if (!buf)
        return ACME_ERR_NOMEM;
    if (mbedtls_base64_decode(buf, n, &n, b64, b64_len) != 0) {
        free(buf);
        *why = "not valid base64";
        return ACME_ERR_INVALID;
    }
    /* mbedTLS sizes the buffer for any 1 to 3 leftover characters, then
     * decodes them to nothing: a body like "C" is empty too. */
    if (n == 0) {
        free(buf);
        *why = "empty";
        return ACME_ERR_INVALID;
    }
    *der = buf;
    *der_len = n;
    return ACME_OK;
}
