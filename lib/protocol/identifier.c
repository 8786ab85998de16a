/* DNS name and IP address identifiers. */
#include "protocol/identifier.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "acme/order.h"
#include "base/ip.h"
#include "base/mem.h"

#define MAX_NAME 253
#define MAX_LABEL 63
/* At most this much of a refused value is echoed into a message (it may be
 * anything the host was given). */
#define ECHO_MAX 200
#define ECHO_TYPE_MAX 50

static int dns_fail(acme__err *err, const char *name, const char *why)
{
    return acme__fail(err, ACME_ERR_IDENTIFIER, "invalid DNS name \"%.*s\": %s", ECHO_MAX, name,
                      why);
}

static int check_dns(const char *name, acme__err *err)
{
    size_t len = strlen(name);
    if (len == 0)
        return dns_fail(err, name, "empty");
    if (len > MAX_NAME)
        return dns_fail(err, name, "longer than 253 octets");
    unsigned char ip[ACME__IP_MAX_OCTETS];
    if (acme__ip_parse(name, ip))
        return dns_fail(err, name, "an IP address is not a DNS name (use an \"ip\" identifier)");
    if (name[len - 1] == '.')
        return dns_fail(err, name, "trailing dot");
    const char *label = name;
    for (int first = 1;; first = 0) {
        size_t n = strcspn(label, ".");
        if (n == 0)
            return dns_fail(err, name, "empty label");
        if (n > MAX_LABEL)
            return dns_fail(err, name, "label longer than 63 octets");
        if (n == 1 && label[0] == '*') {
            if (!first)
                return dns_fail(err, name, "\"*\" is only allowed as the whole leftmost label");
            if (label[1] == '\0')
                return dns_fail(err, name, "a wildcard needs a domain after \"*.\"");
        } else {
            for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)label[i];
                if (c == '*')
                    return dns_fail(err, name,
                                    "\"*\" is only allowed as the whole leftmost label");
                if (c >= 0x80)
                    return dns_fail(err, name,
                                    "non-ASCII characters (use the IDNA A-label, xn--...)");
                if (!isalnum(c) && c != '-')
                    return dns_fail(err, name, "characters other than letters, digits and '-'");
            }
            if (label[0] == '-' || label[n - 1] == '-')
                return dns_fail(err, name, "a label starts or ends with '-'");
        }
        if (label[n] == '\0')
            break;
        label += n + 1;
    }
    return ACME_OK;
}

int acme__identifier_normalize(const char *type, const char *value, char **type_out,
                               char **value_out, acme__err *err)
{
    *type_out = *value_out = NULL;
    if (!value)
        return acme__fail(err, ACME_ERR_IDENTIFIER, "identifier: NULL value");
    unsigned char ip[ACME__IP_MAX_OCTETS];
    size_t ip_len = acme__ip_parse(value, ip);
    if (!type)
        type = ip_len ? "ip" : "dns";
    char text[ACME__IP_TEXT_SIZE];
    const char *norm;
    if (strcmp(type, "ip") == 0) {
        if (!ip_len)
            return acme__fail(err, ACME_ERR_IDENTIFIER, "invalid IP address \"%.*s\"",
                              ECHO_MAX, value);
        if (acme__ip_format(ip, ip_len, text, sizeof(text)) != ACME_OK)
            return acme__fail(err, ACME_ERR_IDENTIFIER, "invalid IP address \"%.*s\"",
                              ECHO_MAX, value);
        norm = text;
    } else if (strcmp(type, "dns") == 0) {
        int rc = check_dns(value, err);
        if (rc != ACME_OK)
            return rc;
        norm = value;
    } else {
        return acme__fail(err, ACME_ERR_IDENTIFIER,
                          "unknown identifier type \"%.*s\" (\"dns\" or \"ip\")", ECHO_TYPE_MAX,
                          type);
    }
    *type_out = acme__strdup(type);
    *value_out = acme__strdup(norm);
    if (!*type_out || !*value_out) {
        free(*type_out);
        free(*value_out);
        *type_out = *value_out = NULL;
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    }
    if (strcmp(type, "dns") == 0)
        for (char *p = *value_out; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    return ACME_OK;
}

int acme_identifier_check(const char *type, const char *value)
{
    char *t, *v;
    int rc = acme__identifier_normalize(type, value, &t, &v, NULL);
    free(t);
    free(v);
    return rc;
}
