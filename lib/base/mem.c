/* Memory helpers: strings, wiping, and the public acme_free(). */
#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "acme/common.h"

char *acme__strdup(const char *s)
{
    return s ? acme__strndup(s, strlen(s)) : NULL;
}

char *acme__strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void acme__wipe(void *p, size_t n)
{
    if (p && n)
        mbedtls_platform_zeroize(p, n);
}

void acme__free_secret_str(char *s)
{
    if (!s)
        return;
    acme__wipe(s, strlen(s));
    free(s);
}

void acme__free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

char **acme__strv_dup(const char *const *v, size_t n)
{
    char **d = calloc(n ? n : 1, sizeof(*d));
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!(d[i] = acme__strdup(v[i]))) {
            acme__free_strv(d, i);
            return NULL;
        }
    }
    return d;
}

/* Everything handed to the caller is a NUL-terminated string or a buffer
 * with a NUL after it, so the length for wiping is the string length. */
void acme_free(void *ptr)
{
    acme__free_secret_str(ptr);
}
