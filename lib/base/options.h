/* Versioned structs that the caller allocates (acme_*_options,
 * acme_store_ops): each starts with `unsigned int version`, and fields are
 * only appended, so a program built against older headers hands the
 * library a shorter struct. The library keeps, per struct, how many bytes
 * each version has and never reads or writes past the caller's version. */
#ifndef ACME_LIB_OPTIONS_H
#define ACME_LIB_OPTIONS_H

#include <stddef.h>

#include "base/error.h"

/* The bytes of a struct up to and including `field`: the size of the
 * version whose last field it is. The caller's sizeof is never smaller
 * (it only adds trailing padding), so this much is always safe to touch. */
#define ACME__OPTIONS_END(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

typedef struct acme__options_versions {
    const char *what;    /* names the struct in messages ("desire options") */
    const char *init;    /* the init function to point the caller to */
    const size_t *sizes; /* sizes[v - 1]: the bytes of version v */
    unsigned int newest; /* entries in sizes: the newest version this library knows */
} acme__options_versions;

/* A table from an array of sizes, one entry per version, oldest first. */
#define ACME__OPTIONS_VERSIONS(what, init, sizes) \
    { (what), (init), (sizes), (unsigned int)(sizeof(sizes) / sizeof((sizes)[0])) }

/* Define the table `name` of a public struct: `newest` is its header's
 * version macro, `init` its init function, and the remaining arguments the
 * ACME__OPTIONS_END of each version's last field, oldest first. Appending a
 * field appends one argument; the build fails while the count and `newest`
 * disagree. Follow it with a semicolon. */
#define ACME__OPTIONS_DEFINE(name, newest, what, init, ...)                              \
    static const size_t name##_sizes[] = { __VA_ARGS__ };                                \
    _Static_assert(sizeof(name##_sizes) / sizeof(name##_sizes[0]) == (newest),           \
                   what ": one size per version");                                       \
    static const acme__options_versions name = ACME__OPTIONS_VERSIONS(what, init, name##_sizes)

/* Zero the caller's struct `opts` as far as `version` reaches and store the
 * version in it. ACME_ERR_INVALID for NULL, version 0 or a version newer
 * than the library's. */
int acme__options_init(const acme__options_versions *v, void *opts, unsigned int version,
                       acme__err *err);

/* Zero the library's struct `dst` (dst_size bytes, the newest version) and
 * copy into it the fields of the caller's version from `src`, so that
 * fields the caller's version lacks keep their zero defaults. `src` NULL
 * gives the defaults of the newest version. ACME_ERR_INVALID for version 0
 * or a version newer than the library's (dst is zeroed then too). */
int acme__options_copy(const acme__options_versions *v, void *dst, size_t dst_size,
                       const void *src, acme__err *err);

#endif
