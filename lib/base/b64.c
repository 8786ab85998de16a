/* base64url encoding and decoding; standard base64 on mbedTLS's. */
#include "base/b64.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "acme/common.h"
#include "base/error.h"
#include "base/mem.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int acme__b64url_append(acme__buf *b, const void *data, size_t len)
{
    const unsigned char *p = data;
    char q[4];
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        q[0] = alphabet[p[i] >> 2];
        q[1] = alphabet[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
        q[2] = alphabet[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
        q[3] = alphabet[p[i + 2] & 63];
        acme__buf_append(b, q, 4);
    }
    if (len - i == 1) {
        q[0] = alphabet[p[i] >> 2];
        q[1] = alphabet[(p[i] & 3) << 4];
        acme__buf_append(b, q, 2);
    } else if (len - i == 2) {
        q[0] = alphabet[p[i] >> 2];
        q[1] = alphabet[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
        q[2] = alphabet[(p[i + 1] & 15) << 2];
        acme__buf_append(b, q, 3);
    }
    return acme__buf_status(b);
}

int acme__b64url_decode_into(const char *text, size_t n, unsigned char *out, size_t cap,
                             size_t *out_len)
{
    *out_len = 0;
    while (n > 0 && text[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return ACME_ERR_INVALID;
    size_t o = 0;
    unsigned int acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)text[i]);
        if (v < 0 || (bits >= 2 && o >= cap)) {
            acme__wipe(out, o); /* what was decoded may be a secret (an EAB key) */
            return v < 0 ? ACME_ERR_INVALID : ACME_ERR_NOMEM;
        }
        acc = (acc << 6) | (unsigned int)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    *out_len = o;
    return ACME_OK;
}

int acme__b64url_decode(const char *text, size_t n, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    /* Room for every whole group, the last partial one, and a NUL. */
    size_t cap = n / 4 * 3 + 3;
    unsigned char *d = malloc(cap);
    if (!d)
        return ACME_ERR_NOMEM;
    int rc = acme__b64url_decode_into(text, n, d, cap - 1, out_len);
    if (rc != ACME_OK) {
        free(d);
        return rc;
    }
    d[*out_len] = '\0';
    *out = d;
    return ACME_OK;
}

int acme__b64url_valid(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (b64_value((unsigned char)*s) < 0)
            return 0;
    return 1;
}

int acme_base64url_encode(const void *data, size_t len, char **out)
{
    if (!out || (!data && len))
        return acme__fail(NULL, ACME_ERR_INVALID, "base64url: NULL argument");
    acme__buf b = ACME__BUF_INIT;
    acme__b64url_append(&b, data, len);
    *out = acme__buf_detach(&b);
    return *out ? ACME_OK : acme__fail(NULL, ACME_ERR_NOMEM, "base64url: out of memory");
}

int acme_base64url_decode(const char *text, unsigned char **out, size_t *out_len)
{
    if (!text || !out || !out_len)
        return acme__fail(NULL, ACME_ERR_INVALID, "base64url: NULL argument");
    int rc = acme__b64url_decode(text, strlen(text), out, out_len);
    if (rc == ACME_ERR_INVALID)
        return acme__fail(NULL, rc, "base64url: invalid character or length");
    if (rc != ACME_OK)
        return acme__fail(NULL, rc, "base64url: out of memory");
    return ACME_OK;
}

int acme__b64_append(acme__buf *b, const void *data, size_t len)
{
    size_t n = 0;
    (void)mbedtls_base64_encode(NULL, 0, &n, data, len);
    unsigned char *tmp = malloc(n ? n : 1);
    if (!tmp || mbedtls_base64_encode(tmp, n ? n : 1, &n, data, len) != 0) {
        free(tmp);
        b->oom = 1;
        return ACME_ERR_NOMEM;
    }
    acme__buf_append(b, tmp, n);
    free(tmp);
    return acme__buf_status(b);
}

int acme__b64_decode(const char *text, size_t text_len, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    const unsigned char *in = (const unsigned char *)text;
    size_t n = 0;
    int mrc = mbedtls_base64_decode(NULL, 0, &n, in, text_len);
    if (mrc != 0 && mrc != MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL)
        return ACME_ERR_INVALID;
    unsigned char *d = malloc(n ? n : 1);
    if (!d)
        return ACME_ERR_NOMEM;
    if (mbedtls_base64_decode(d, n ? n : 1, &n, in, text_len) != 0) {
        free(d);
        return ACME_ERR_INVALID;
    }
    *out = d;
    *out_len = n;
    return ACME_OK;
}
