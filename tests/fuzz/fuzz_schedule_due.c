/* What a store (possibly shared, possibly tampered with) hands the
 * schedule index as its due summary: acme__sched_due_parse on any bytes.
 * Accepted whole or not at all (a rejected one leaves the output zeroed, so
 * it claims nothing); an accepted one has a known state, at most
 * ACME__DUE_MAX_DIRS directories and a slot per shard, and written back
 * out parses to the same. */
#include "fuzz.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/common.h"
#include "base/buf.h"
#include "store/schedule.h"

int fuzz_schedule_due(const uint8_t *data, size_t size)
{
    acme__sched_due *d = malloc(sizeof(*d));
    acme__sched_due *again = malloc(sizeof(*again));
    FUZZ_ASSERT(d && again);
    acme__err err = ACME__ERR_QUIET;
    int rc = acme__sched_due_parse((const char *)data, size, d, &err);
    acme__err_clear(&err);
    FUZZ_ASSERT(rc == ACME_OK || rc == ACME_ERR_CORRUPT || rc == ACME_ERR_NOMEM);
    if (rc != ACME_OK) {
        FUZZ_ASSERT(d->state == ACME__DUE_INCOMPLETE && d->ndirs == 0);
    } else {
        FUZZ_ASSERT(d->state >= ACME__DUE_INCOMPLETE && d->state <= ACME__DUE_BUILDING);
        FUZZ_ASSERT(d->ndirs <= ACME__DUE_MAX_DIRS);
        acme__buf b = ACME__BUF_INIT;
        acme__buf_printf(&b, "acme-schedule-due 1\n%d %016" PRIx64 " %zu\n", d->state,
                         d->bad_fp, d->ndirs);
        for (size_t i = 0; i < d->ndirs; i++)
            acme__buf_printf(&b, "%016" PRIx64 "\n", d->dirs[i]);
        for (unsigned int k = 0; k < ACME__SCHEDULE_SHARDS; k++) {
            FUZZ_ASSERT(d->next[k] >= 0 && d->set[k] <= 1);
            acme__buf_printf(&b, "%lld %lu %d\n", (long long)d->next[k],
                             (unsigned long)d->count[k], d->set[k]);
        }
        FUZZ_ASSERT(acme__buf_status(&b) != ACME_OK ||
                    (acme__sched_due_parse(b.data, b.len, again, &err) == ACME_OK &&
                     memcmp(d, again, sizeof(*d)) == 0));
        acme__err_clear(&err);
        acme__buf_free(&b);
    }
    free(again);
    free(d);
    return 0;
}

FUZZ_ENTRY(schedule_due);
