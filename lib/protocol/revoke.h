/* Revocation inside the library. */
#ifndef ACME_LIB_REVOKE_H
#define ACME_LIB_REVOKE_H

#include "acme/revoke.h"
#include "base/error.h"

/* acme_revoke_with_key, recording failures (and the CA's problem) in err. */
int acme__revoke_with_key(acme_provider *p, acme_key *cert_key, const char *pem, int reason,
                          acme__err *err);

#endif
