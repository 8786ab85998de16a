/* Kernel randomness as an mbedTLS RNG callback. */
#include "base/rng.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <mbedtls/entropy.h>

#include "base/mbedcompat.h"

/* mbedTLS 3.x may route key operations through PSA crypto, which must be
 * initialised once before any of them; on 2.28 this does nothing. Done at
 * load time so that no entry point can forget it. */
__attribute__((constructor)) static void crypto_init(void)
{
    (void)ACME__PSA_INIT();
}

/* /dev/urandom for kernels without getrandom (ENOSYS). */
static int urandom_fill(unsigned char *out, size_t len)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
    while (len > 0) {
        ssize_t n = read(fd, out, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
        }
        out += n;
        len -= (size_t)n;
    }
    close(fd);
    return 0;
}

int acme__rng(void *ctx, unsigned char *out, size_t len)
{
    (void)ctx;
    while (len > 0) {
        ssize_t n = getrandom(out, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == ENOSYS)
            return urandom_fill(out, len);
        if (n <= 0)
            return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
        out += n;
        len -= (size_t)n;
    }
    return 0;
}
