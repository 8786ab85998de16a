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

/* The generation the alias certs/NAME/current names (0: none), which
 * readers of the stable names may be inside: it stays whatever keep says,
 * even when a crash came between the metadata's switch and the alias's. */
static unsigned long aliased_generation(acme_store *s, const char *name)
{
    unsigned long g = 0;
    char *key = acme__store_has_alias(s) ? acme__store_cert_key(name, ACME__CURRENT) : NULL;
    char *target = NULL;
    acme__err probe = ACME__ERR_QUIET; /* no alias (a 1.0 store): nothing more to keep */
    if (key && acme__store_alias_target(s, key, &target, &probe) == ACME_OK &&
        !generation_of(target, &g))
        g = 0;
    acme__err_clear(&probe);
    free(target);
    free(key);
    return g;
}

int acme__stored_prune(acme_store *s, const char *name, unsigned long current, unsigned int keep,
                       size_t *removed, acme__err *err)
{
    if (removed)
        *removed = 0;
    if (!keep)
        keep = ACME__KEEP_DEFAULT;
    unsigned long aliased = aliased_generation(s, name);
    char *prefix = acme__store_cert_key(name, NULL);
    char **names = NULL;
    size_t n = 0;
    int rc = prefix ? acme__store_list(s, prefix, &names, &n, err)
                    : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    int first = ACME_OK;
    for (size_t i = 0; rc == ACME_OK && i < n; i++) {
        unsigned long g;
        /* meta.json, the stable names and the alias current are no
         * generations (and removing an alias would not touch its target). */
        if (!generation_of(names[i], &g))
            continue;
        if ((g <= current && current - g < keep) || g == aliased)
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
