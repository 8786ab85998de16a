/* PKCS#11 URIs (RFC 7512): which module, token and key a "pkcs11:" string
 * names, and how to get the PIN. Plain C, no PKCS#11 headers: the parser
 * is built (and tested, and fuzzed) whether or not p11-kit is present.
 *
 *   pkcs11:token=acme;object=account;id=%01;type=private
 *       ?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/pin
 *
 * Path attributes (';'-separated) select; query attributes ('&'-separated)
 * say how to get there (module, PIN). Values are percent-decoded. */
#ifndef P11URI_H
#define P11URI_H

#include <stddef.h>

/* Longest URI accepted: real ones are a few hundred bytes. */
#define P11_URI_MAX 4096

/* type= */
enum {
    P11_TYPE_ANY = 0, /* not given */
    P11_TYPE_PRIVATE,
    P11_TYPE_PUBLIC,
    P11_TYPE_CERT,
    P11_TYPE_SECRET_KEY,
    P11_TYPE_DATA
};

/* The text attributes, in one array indexed by these (NULL: not given). */
enum {
    P11_ATTR_TOKEN = 0,            /* token label */
    P11_ATTR_MANUFACTURER,         /* token manufacturer */
    P11_ATTR_SERIAL,               /* token serial number */
    P11_ATTR_MODEL,                /* token model */
    P11_ATTR_LIBRARY_MANUFACTURER, /* module (library) manufacturer */
    P11_ATTR_LIBRARY_DESCRIPTION,  /* module description */
    P11_ATTR_LIBRARY_VERSION,      /* "M" or "M.m" */
    P11_ATTR_SLOT_DESCRIPTION,
    P11_ATTR_SLOT_MANUFACTURER,
    P11_ATTR_OBJECT,               /* object label (CKA_LABEL) */
    P11_ATTR_MODULE_NAME,          /* query: a configured module's name */
    P11_ATTR_MODULE_PATH,          /* query: the module's file */
    P11_ATTR_PIN_VALUE,            /* query: the PIN itself */
    P11_ATTR_PIN_SOURCE,           /* query: "file:PATH" or an absolute PATH */
    P11_ATTR_COUNT
};

typedef struct p11_uri {
    char *attr[P11_ATTR_COUNT];
    unsigned char *id; /* CKA_ID bytes (may hold NULs), or NULL */
    size_t id_len;
    int has_id;        /* "id=" with an empty value is an empty id */
    int type;          /* P11_TYPE_* */
    int has_slot_id;
    unsigned long slot_id;
} p11_uri;

/*
 * Parse `text` into *out (zeroed first). Returns 0, or -1 with a one-line
 * reason in err (naming the offending attribute) and *out left empty.
 * Refused: a scheme other than "pkcs11:", unknown attributes (vendor
 * "x-" attributes are ignored), an attribute given twice, a bad percent
 * escape, a NUL in a text value, an unknown type, a slot-id that is not a
 * number, pin-value together with pin-source, and URIs over P11_URI_MAX.
 */
int p11_uri_parse(const char *text, p11_uri *out, char *err, size_t errlen);
void p11_uri_free(p11_uri *u);
/* The name of a text attribute ("token", "module-path", ...). */
const char *p11_uri_attr_name(int attr);
/* The file pin-source names (after "file:"), or NULL when none is given. */
const char *p11_uri_pin_file(const p11_uri *u);

#endif
