/* etcd member replies (lib/store/store_etcd.c): the same bytes through
 * every reader the etcd store has (range value, children under a prefix,
 * txn, the holder of a taken lock, lease grant and keepalive, authenticate,
 * error), as a member or
 * anyone between it and the library could send them. */
#include "fuzz.h"

#include "store/store_etcd.h"

int fuzz_etcd(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    acme__err err = ACME__ERR_QUIET;

    acme__buf value = ACME__BUF_INIT;
    int rc = acme__etcd_parse_value(text, size, 64, &value, &err);
    FUZZ_ASSERT(rc == ACME_OK ? value.len <= 64 && !value.oom : value.len <= 64);
    acme__buf_free(&value);
    acme__err_clear(&err);

    acme__buf names = ACME__BUF_INIT;
    int more = 0;
    rc = acme__etcd_parse_children(text, size, "p/certs/", 4096, &names, &more, &err);
    if (rc == ACME_OK && names.len) {
        /* Names, one a line, none empty, none with a '/'. */
        FUZZ_ASSERT(names.data[names.len - 1] == '\n');
        FUZZ_ASSERT(names.data[0] != '\n' && !strstr(names.data, "\n\n"));
        FUZZ_ASSERT(!memchr(names.data, '/', names.len) && names.len <= 4096);
    }
    acme__buf_free(&names);
    acme__err_clear(&err);

    int ok = 0;
    int64_t rev = 0;
    rc = acme__etcd_parse_txn(text, size, &ok, &rev, &err);
    FUZZ_ASSERT(rc != ACME_OK || rev > 0);
    acme__err_clear(&err);

    int64_t lease = 0, created = 0;
    rc = acme__etcd_parse_holder(text, size, &lease, &created);
    FUZZ_ASSERT(rc == ACME_OK || (lease == 0 && created == 0)); /* no half answer */

    int64_t id = 0, ttl = 0;
    (void)acme__etcd_parse_lease(text, size, &id, &ttl, &err);
    acme__err_clear(&err);

    char *token = NULL;
    rc = acme__etcd_parse_auth(text, size, &token, &err);
    FUZZ_ASSERT(rc == ACME_OK ? token && *token && !strchr(token, '\n') : !token);
    free(token);
    acme__err_clear(&err);

    long long code = 0;
    char *msg = NULL;
    (void)acme__etcd_parse_error(text, size, &code, &msg);
    if (msg)
        FUZZ_ASSERT(strlen(msg) <= 300); /* MSG_MAX */
    free(msg);
    return 0;
}

FUZZ_ENTRY(etcd);
