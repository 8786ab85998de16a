/* Account objects (lib/account.c, RFC 8555 7.1.2): acme__account_parse on
 * any JSON, as account registration, lookup and refresh read the reply. */
#include "fuzz.h"

#include "protocol/account_parse.h"
#include "net/json.h"

int fuzz_account(const uint8_t *data, size_t size)
{
    acme__err err = { 0 };
    yajl_val v = NULL;
    if (acme__json_parse_object((const char *)data, size, "account", &v, &err) != ACME_OK) {
        acme__err_clear(&err);
        return 0;
    }
    acme__account_fields f;
    int rc = acme__account_parse(v, &f, &err);
    FUZZ_ASSERT(rc == ACME_OK || rc == ACME_ERR_NOMEM);
    if (rc == ACME_OK) {
        FUZZ_ASSERT(f.status != NULL);
        fuzz_touch(f.status);
        fuzz_touch(f.orders);
        FUZZ_ASSERT((f.orders != NULL) == (acme__json_string(v, "orders") != NULL));
        FUZZ_ASSERT(f.ncontacts <= acme__json_len(acme__json_array(v, "contact")));
        for (size_t i = 0; i < f.ncontacts; i++) {
            FUZZ_ASSERT(f.contacts[i] != NULL);
            fuzz_touch(f.contacts[i]);
        }
    }
    acme__account_fields_free(&f);
    acme__account_fields_free(&f); /* idempotent */
    acme__json_free(v);
    acme__err_clear(&err);
    return 0;
}

FUZZ_ENTRY(account);
