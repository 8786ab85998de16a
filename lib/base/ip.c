/* IP address literals: text to network octets and back (RFC 8738
 * identifiers, iPAddress SANs, tls-alpn-01 certificates). */
#include "base/ip.h"

#include <arpa/inet.h>
#include <string.h>

#include "base/error.h"

#define IPV4_OCTETS 4

_Static_assert(ACME__IP_TEXT_SIZE >= INET6_ADDRSTRLEN, "IP text buffer too small");

size_t acme__ip_parse(const char *text, unsigned char out[ACME__IP_MAX_OCTETS])
{
    if (!text || !out)
        return 0;
    if (strchr(text, ':'))
        return inet_pton(AF_INET6, text, out) == 1 ? ACME__IP_MAX_OCTETS : 0;
    return inet_pton(AF_INET, text, out) == 1 ? IPV4_OCTETS : 0;
}

int acme__ip_format(const unsigned char *ip, size_t len, char *out, size_t size)
{
    if (!ip || !out || (len != IPV4_OCTETS && len != ACME__IP_MAX_OCTETS))
        return acme__fail(NULL, ACME_ERR_INVALID, "IP address: %zu octets (want 4 or 16)", len);
    if (!inet_ntop(len == IPV4_OCTETS ? AF_INET : AF_INET6, ip, out, (socklen_t)size))
        return acme__fail(NULL, ACME_ERR_INVALID, "IP address: output buffer too small");
    return ACME_OK;
}
