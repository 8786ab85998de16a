/* Versioned caller-allocated structs: the caller's version decides how many
 * bytes the library reads or writes (base/options.h). */
#include "base/options.h"

#include <string.h>

static int check_version(const acme__options_versions *v, unsigned int version, acme__err *err)
{
    if (version >= 1 && version <= v->newest)
        return ACME_OK;
    return acme__fail(err, ACME_ERR_INVALID,
                      "%s: version %u is not one this library knows (1 to %u); "
                      "initialise them with %s(&opts, VERSION) from the headers",
                      v->what, version, v->newest, v->init);
}

int acme__options_init(const acme__options_versions *v, void *opts, unsigned int version,
                       acme__err *err)
{
    if (!opts)
        return acme__fail(err, ACME_ERR_INVALID, "%s: NULL argument", v->what);
    int rc = check_version(v, version, err);
    if (rc != ACME_OK)
        return rc;
    memset(opts, 0, v->sizes[version - 1]);
    memcpy(opts, &version, sizeof(version));
    return ACME_OK;
}

int acme__options_copy(const acme__options_versions *v, void *dst, size_t dst_size,
                       const void *src, acme__err *err)
{
    memset(dst, 0, dst_size);
    unsigned int version = v->newest;
    if (src)
        memcpy(&version, src, sizeof(version));
    int rc = check_version(v, version, err);
    if (rc != ACME_OK)
        return rc;
    if (src)
        memcpy(dst, src, v->sizes[version - 1]);
    else
        memcpy(dst, &version, sizeof(version));
    return ACME_OK;
}
