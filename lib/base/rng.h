/* Random bytes for mbedTLS from the kernel (getrandom), which is
 * thread-safe and needs no seeding state of our own. */
#ifndef ACME_LIB_RNG_H
#define ACME_LIB_RNG_H

#include <stddef.h>

/* mbedTLS f_rng signature; ctx is unused. Returns 0 or an mbedTLS error. */
int acme__rng(void *ctx, unsigned char *out, size_t len);

#endif
