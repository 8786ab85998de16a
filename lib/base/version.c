/* Run-time version of the library. */
#include "acme/version.h"

unsigned int acme_version(void)
{
    return ACME_VERSION_NUM;
}

const char *acme_version_string(void)
{
    return ACME_VERSION_STRING;
}
