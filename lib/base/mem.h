/* Memory helpers shared by every layer: strings, wiping. */
#ifndef ACME_LIB_MEM_H
#define ACME_LIB_MEM_H

#include <stddef.h>

/* strdup that accepts NULL (and returns NULL for it). */
char *acme__strdup(const char *s);
/* Copy of the first n bytes of s, NUL-terminated. */
char *acme__strndup(const char *s, size_t n);
/* Zero n bytes in a way the compiler keeps. */
void acme__wipe(void *p, size_t n);
/* Wipe a NUL-terminated string, then free it. NULL is allowed. */
void acme__free_secret_str(char *s);
/* Free an array of n strings and the array itself. */
void acme__free_strv(char **v, size_t n);
/* Copy an array of n strings (NULL entries are not allowed); NULL on OOM. */
char **acme__strv_dup(const char *const *v, size_t n);

#endif
