/* Helpers shared by the unit tests, on top of ../check.h. */
#ifndef ACME_TEST_UNIT_H
#define ACME_TEST_UNIT_H

#include <stdlib.h>

#include "check.h"

/* REQUIRE evaluates its condition twice (once in CHECK, once to decide
 * whether to stop), so calls with side effects go through this instead:
 * the call runs once and must return 0. */
#define REQUIRE_ZERO(expr)                                                       \
    do {                                                                         \
        long long unit_v_ = (long long)(expr);                                   \
        CHECK_MSG(unit_v_ == 0, "%s returned %lld (-0x%04llx)", #expr, unit_v_,  \
                  (unsigned long long)-unit_v_);                                 \
        if (unit_v_ != 0)                                                        \
            exit(1);                                                             \
    } while (0)

/* Generating RSA 3072/4096 keys takes minutes under valgrind, and the
 * memory checks learn nothing from them that RSA 2048 does not show; with
 * ACME_TEST_FAST_KEYS set (the valgrind run of tests/run-all.sh), tests skip
 * those two sizes. The normal and sanitizer runs always cover them. */
static inline int unit_slow_key(int type)
{
    return getenv("ACME_TEST_FAST_KEYS") && (type == 4 /* RSA 3072 */ || type == 5 /* 4096 */);
}

#endif
