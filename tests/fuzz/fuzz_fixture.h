/* Throwaway keys made for the fuzz targets only (used nowhere else); not
 * secrets.
 *
 * fuzz_fixture_key_pem, EC P-256: the leaf certificate of the seeds in
 * corpus/pem_chain/ certifies it (the with-key pass of fuzz_pem_chain).
 *
 * fuzz_csr_signer_pem, RSA 1024: fuzz_csr signs the requests it builds
 * with it. Small RSA because signing and verifying it costs well under a
 * millisecond, where ECDSA under the sanitizers' allocator costs tens. */
#ifndef ACME_FUZZ_FIXTURE_H
#define ACME_FUZZ_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "crypto/key.h"

static const char fuzz_fixture_key_pem[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIJyPDiMdC3XYifpBMaiK3O+cWPcbUzvtPN3gELF5J0jxoAoGCCqGSM49\n"
    "AwEHoUQDQgAEj1VCkkpu6eXQsxpur2gntNXkcb54pDi25J0Lw6BMAkHhJXxkwjpd\n"
    "KCrcKoySYYsTXAoT5ekU6QAXwD8bTmLDLg==\n"
    "-----END EC PRIVATE KEY-----\n";

static const char fuzz_csr_signer_pem[] =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIICXAIBAAKBgQDbhL64ek6LIfgzP1MZ56tB3RQR8TN3iyb7dJ+18J3twqEnaY/q\n"
    "wICQ0mGwqAWZkzmLWYmkD9YLfk4eJB2+4iUYq2qK6RLfYWjfasge4BtNgw71a+qZ\n"
    "LWigpTVm8xlfNqS0hrD6aUZ0naTApcWhupr2mBsi9eqU6fxGXnRJJ9ghdwIDAQAB\n"
    "AoGACffdMUNcjbTdMHaPr311qWgAoU/yplsLSh/hoMFsan+MEd4ZSu+y5uCmzv7S\n"
    "QkcNNea6+Vg+wAbcRUIel6xtQrvxN2/twf5lVo+YHnDFwP12Hrl6krmtk9+fsAbP\n"
    "snu+ZRYZwdhmidtn8UZhIYAHdaofuCFc5FYw3hr1t09/xAECQQD+Aq8WyjMY65Kv\n"
    "A6BKDAnXiB/eHPTbAUFe4hbI2uHvfTqpJ58m9NqK5okHX+4uFJsnI9bSfgz7JeHq\n"
    "Q5vdXvhxAkEA3Tzmu9DEAwqjBNPNpjcG1ZTs/HzDnLNIHhrpwaprxxQixNyhRFmq\n"
    "bAz0Un3MOSxnsTDo8tHj4gCwgwBPQDrsZwJAJtAGLPdMg3xLd46YSXg5cMOOCwRl\n"
    "raktcfAeByba6xs5gWtaeDtlwV+khIn1/PiNFJf3VUaJeT66nG8kO9ktIQJAJtaX\n"
    "JueKUYJfhexs0L4ePAZt6BE7AdpTUb2lxbLWQtedFvQod2hKS7emeIjO/kZ2WZvd\n"
    "eSsxly5JzmWShBMUBwJBAKJITg27nAwJRCp37xPRGl7frr38WCmVGH2iee49pY5I\n"
    "6rlCCKLiG/4l5leGH4RcOkxjkAAse3teuSzfqby5f3g=\n"
    "-----END RSA PRIVATE KEY-----\n";

/* The fixture key, loaded once and kept for the life of the process. */
static inline acme_key *fuzz_fixture_key(void)
{
    static acme_key *key;
    if (!key && acme_key_load_pem(&key, fuzz_fixture_key_pem,
                                  strlen(fuzz_fixture_key_pem)) != ACME_OK)
        abort();
    return key;
}

#endif
