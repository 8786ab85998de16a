/* Shared by the libFuzzer targets (fuzz_<name>.c) and by the unit test that
 * replays their corpora (tests/unit/test_fuzz_regressions.c).
 *
 * Each target is a function fuzz_<name>(data, size) that must never crash,
 * leak or fail an invariant for any input. Built for libFuzzer, each file
 * also defines LLVMFuzzerTestOneInput; built with FUZZ_NO_ENTRY (the unit
 * test links them all into one program) it does not. */
#ifndef ACME_FUZZ_H
#define ACME_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "base/buf.h"

#define FUZZ_TARGETS(X)                                                          \
    X(json) X(problem) X(directory) X(account) X(order) X(authz) X(pem_chain)    \
    X(key) X(csr) X(link) X(retry_after) X(ari) X(rfc3339) X(spki) X(retry_record) \
    X(p11uri) X(tsig_key) X(etcd) X(schedule) X(schedule_due)

#define FUZZ_DECLARE(name) int fuzz_##name(const uint8_t *data, size_t size);
FUZZ_TARGETS(FUZZ_DECLARE)
#undef FUZZ_DECLARE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FUZZ_ENTRY(name); at file scope gives libFuzzer its entry point. */
#ifdef FUZZ_NO_ENTRY
#define FUZZ_ENTRY(name) int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
#else
#define FUZZ_ENTRY(name)                                                         \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                 \
    {                                                                            \
        return fuzz_##name(data, size);                                          \
    }                                                                            \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
#endif

/* An invariant of the code under test: a failure is a finding. */
#define FUZZ_ASSERT(cond)                                                        \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__,      \
                    __LINE__, #cond);                                            \
            abort();                                                             \
        }                                                                        \
    } while (0)

/* Read every byte of a string the library handed out, so that ASan sees
 * a missing terminator or a freed buffer. */
static inline size_t fuzz_touch(const char *s)
{
    if (!s)
        return 0;
    volatile size_t n = strlen(s);
    return n;
}

/* The input as a NUL-terminated string (NULs inside are kept; C string
 * parsers stop at the first). NULL when memory runs out. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return NULL;
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Append der as a PEM block with the given label (64-column base64). */
static inline void fuzz_pem_append(acme__buf *b, const char *label, const uint8_t *der,
                                   size_t len)
{
    size_t n = 0;
    mbedtls_base64_encode(NULL, 0, &n, der, len);
    unsigned char *text = malloc(n + 1);
    if (!text || mbedtls_base64_encode(text, n + 1, &n, der, len) != 0) {
        free(text);
        b->oom = 1;
        return;
    }
    acme__buf_printf(b, "-----BEGIN %s-----\n", label);
    for (size_t i = 0; i < n; i += 64)
        acme__buf_printf(b, "%.*s\n", (int)(n - i < 64 ? n - i : 64), (const char *)text + i);
    acme__buf_printf(b, "-----END %s-----\n", label);
    free(text);
}

/* The length of the DER TLV at the start of p (tag, length, contents), or
 * 0 when it does not fit in n bytes: used to cut an input into several
 * DER objects. */
static inline size_t fuzz_der_tlv_len(const uint8_t *p, size_t n)
{
    if (n < 2)
        return 0;
    size_t len = p[1], hdr = 2;
    if (len & 0x80) {
        size_t k = len & 0x7f;
        if (k == 0 || k > 3 || n < 2 + k)
            return 0;
        len = 0;
        for (size_t i = 0; i < k; i++)
            len = len << 8 | p[2 + i];
        hdr += k;
    }
    return hdr + len <= n ? hdr + len : 0;
}

#endif
