/* IP address literals: text to network octets and back. */
#ifndef ACME_LIB_IP_H
#define ACME_LIB_IP_H

#include <stddef.h>

/* Octets of an IPv6 address, the longest kind. */
#define ACME__IP_MAX_OCTETS 16
/* Room for any canonical IP text with its NUL (INET6_ADDRSTRLEN). */
#define ACME__IP_TEXT_SIZE 46

/* Textual IP (v4 or v6) to network octets: 4 or 16 bytes in out;
 * returns the length, or 0 when text is not an IP literal. */
size_t acme__ip_parse(const char *text, unsigned char out[ACME__IP_MAX_OCTETS]);
/* Network octets (4 or 16) to canonical text in out (ACME__IP_TEXT_SIZE
 * bytes are always enough). */
int acme__ip_format(const unsigned char *ip, size_t len, char *out, size_t size);

#endif
