/* What a store (possibly shared, possibly tampered with) hands the
 * schedule index: acme__sched_parse on any bytes. A shard is accepted whole
 * or not at all (a rejected one leaves the output empty); an accepted one
 * has valid certificate names in strictly increasing order, each found by
 * acme__sched_find, and written back out it parses to the same entries. */
#include "fuzz.h"

#include "acme/common.h"
#include "store/schedule.h"
#include "store/store_layout.h"

int fuzz_schedule(const uint8_t *data, size_t size)
{
    acme__sched_shard sh;
    acme__err err = ACME__ERR_QUIET;
    int rc = acme__sched_parse((const char *)data, size, &sh, &err);
    acme__err_clear(&err);
    FUZZ_ASSERT(rc == ACME_OK || rc == ACME_ERR_CORRUPT || rc == ACME_ERR_NOMEM);
    if (rc != ACME_OK) {
        FUZZ_ASSERT(sh.v == NULL && sh.n == 0 && sh.text == NULL);
        return 0;
    }
    for (size_t i = 0; i < sh.n; i++) {
        const acme__sched_entry *e = &sh.v[i];
        FUZZ_ASSERT(acme__store_cert_name_valid(e->name));
        FUZZ_ASSERT(i == 0 || strcmp(sh.v[i - 1].name, e->name) < 0);
        FUZZ_ASSERT(acme__sched_find(&sh, e->name) == e);
        FUZZ_ASSERT(e->next >= 0 && e->not_after >= 0 && e->retry >= 0);
        FUZZ_ASSERT(acme__sched_shard_of(e->name) < ACME__SCHEDULE_SHARDS);
    }
    FUZZ_ASSERT(acme__sched_find(&sh, "no such name.") == NULL);
    acme__sched_shard_free(&sh);
    return 0;
}

FUZZ_ENTRY(schedule);
