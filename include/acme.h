/**
 * @file
 * libacme: an ACME (RFC 8555) client library. This umbrella header includes
 * every public module header; what is not declared in these headers is not
 * part of the API.
 */
#ifndef ACME_H
#define ACME_H

#include "acme/common.h"
#include "acme/version.h"
#include "acme/key.h"
#include "acme/signer.h"
#include "acme/provider.h"
#include "acme/account.h"
#include "acme/solver.h"
#include "acme/order.h"
#include "acme/responder.h"
#include "acme/dns.h"
#include "acme/certificate.h"
#include "acme/revoke.h"
#include "acme/store.h"
#include "acme/desire.h"

#endif
