/* Retention of generations: see store/retention.h. */
#include "store/retention.h"

#include <errno.h>
#include <stdlib.h>

#include "base/mem.h"
#include "store/store_layout.h"

/* A generation's segment: decimal digits only, no leading zero. */
static int generation_of(const char *seg, unsigned long *g)
{
    if (seg[0] < '1' || seg[0] > '9')
        return 0;
    char *end;
    errno = 0;
    *g = strtoul(seg, &end, 10);
    return !*end && !errno;
}

/* Remove one generation: each child, then the generation itself. */
static int drop_generation(acme_store *s, const char *name, unsigned long g, acme__err *err)
{
    char *dir = acme__store_generation_key(name, g, NULL);
    char **files = NULL;
    size_t n = 0;
    int rc = dir ? acme__store_list(s, dir, &files, &n, err)
                 : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == ACME_OK && i < n; i++) {
        char *k = acme__store_generation_key(name, g, files[i]);
        rc = k ? acme__store_remove(s, k, err) : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
        free(k);
    }
    if (rc == ACME_OK)
        rc = acme__store_remove(s, dir, err);
    acme__free_strv(files, n);
    free(dir);
    return rc;
}

int acme__stored_prune(acme_store *s, const char *name, unsigned long current, unsigned int keep,
                       size_t *removed, acme__err *err)
{
    if (removed)
        *removed = 0;
    if (!keep)
        keep = ACME__KEEP_DEFAULT;
    char *prefix = acme__store_cert_key(name, NULL);
    char **names = NULL;
    size_t n = 0;
    int rc = prefix ? acme__store_list(s, prefix, &names, &n, err)
                    : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    int first = ACME_OK;
    for (size_t i = 0; rc == ACME_OK && i < n; i++) {
        unsigned long g;
        if (!generation_of(names[i], &g))
            continue; /* meta.json, the stable copies */
        if (g <= current && current - g < keep)
            continue;
        acme__err one = ACME__ERR_QUIET;
        int r = drop_generation(s, name, g, &one);
        if (r == ACME_OK && removed)
            (*removed)++;
        if (r != ACME_OK && first == ACME_OK) {
            first = r;
            acme__err_forward(err, &one);
        }
        acme__err_clear(&one);
    }
    acme__free_strv(names, n);
    free(prefix);
    return rc != ACME_OK ? rc : first;
}
