/* A PKCS#11 signer on p11-kit: see p11key.h. */
#include "p11key.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>

#include "p11uri.h"

/* A PIN file holds one line; anything longer is not a PIN file. */
#define PIN_MAX 256

typedef struct p11key {
    CK_FUNCTION_LIST *mod;      /* the module holding the key */
    CK_FUNCTION_LIST **modules; /* the configured modules, when loaded that way */
    CK_SESSION_HANDLE session;
    int have_session;
    CK_OBJECT_HANDLE key;
    CK_KEY_TYPE key_type;
    int alg;                    /* the one ACME_SIG_* this key makes */
    size_t coord;               /* EC: octets of r (and of s) */
    pthread_mutex_t mu;         /* one signature at a time on the session */
} p11key;

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- DER for the SubjectPublicKeyInfo ------------------------------------- */

typedef struct der {
    unsigned char *p;
    size_t len, cap;
    int oom;
} der;

static void der_put(der *d, const void *src, size_t n)
{
    /* n == 0 comes with src NULL (no prefix), which memcpy may not get. */
    if (d->oom || n == 0)
        return;
    if (d->len + n > d->cap) {
        size_t cap = (d->len + n) * 2;
        unsigned char *p = realloc(d->p, cap);
        if (!p) {
            d->oom = 1;
            return;
        }
        d->p = p;
        d->cap = cap;
    }
    memcpy(d->p + d->len, src, n);
    d->len += n;
}

/* A tag and a definite length. */
static void der_head(der *d, unsigned char tag, size_t len)
{
    unsigned char h[2 + sizeof(size_t)];
    size_t n = 0, octets = 0;
    h[n++] = tag;
    if (len < 0x80) {
        h[n++] = (unsigned char)len;
    } else {
        for (size_t v = len; v; v >>= 8)
            octets++;
        h[n++] = (unsigned char)(0x80 | octets);
        while (octets--)
            h[n++] = (unsigned char)(len >> (8 * octets));
    }
    der_put(d, h, n);
}

/* Wrap what `inner` holds in a TLV appended to d; `prefix` octets (the
 * BIT STRING's unused-bits count) go before it. */
static void der_wrap(der *d, unsigned char tag, const der *inner, const unsigned char *prefix,
                     size_t plen)
{
    if (inner->oom) {
        d->oom = 1;
        return;
    }
    der_head(d, tag, inner->len + plen);
    der_put(d, prefix, plen);
    der_put(d, inner->p, inner->len);
}

/* An unsigned big-endian number as a DER INTEGER. */
static void der_uint(der *d, const unsigned char *v, size_t n)
{
    while (n > 1 && v[0] == 0) {
        v++;
        n--;
    }
    int pad = n == 0 || (v[0] & 0x80);
    der_head(d, 0x02, n + (size_t)pad);
    if (pad)
        der_put(d, "", 1);
    der_put(d, v, n);
}

static const unsigned char oid_ec_public_key[] = { 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce,
                                                   0x3d, 0x02, 0x01 };
static const unsigned char oid_rsa_alg[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                             0x0d, 0x01, 0x01, 0x01, 0x05, 0x00 };

static const struct curve {
    unsigned char oid[10];
    size_t oid_len;
    size_t coord;
    int alg;
    const char *name;
} curves[] = {
    { { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 }, 10, 32, ACME_SIG_ES256,
      "P-256" },
    { { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 }, 7, 48, ACME_SIG_ES384, "P-384" },
    { { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 }, 7, 66, ACME_SIG_ES512, "P-521" },
};

/* SEQUENCE { SEQUENCE { alg }, BIT STRING { key } } */
static int spki(const unsigned char *alg, size_t alg_len, const der *key, der *out)
{
    der algid = { 0 }, body = { 0 }, bits = { 0 };
    der_put(&algid, alg, alg_len);
    der_wrap(&body, 0x30, &algid, NULL, 0);
    der_wrap(&bits, 0x03, key, (const unsigned char *)"", 1);
    der_put(&body, bits.p, bits.len);
    body.oom |= bits.oom;
    der_wrap(out, 0x30, &body, NULL, 0);
    free(algid.p);
    free(body.p);
    free(bits.p);
    return out->oom ? -1 : 0;
}

/* ---- attributes ------------------------------------------------------------ */

/* An attribute's value (malloc'd, *len octets), or NULL when the object
 * lacks it or hides it. */
static unsigned char *get_attr(p11key *k, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                               size_t *len)
{
    CK_ATTRIBUTE a = { type, NULL, 0 };
    if (k->mod->C_GetAttributeValue(k->session, obj, &a, 1) != CKR_OK ||
        a.ulValueLen == (CK_ULONG)-1)
        return NULL;
    unsigned char *v = malloc(a.ulValueLen ? a.ulValueLen : 1);
    if (!v)
        return NULL;
    a.pValue = v;
    if (k->mod->C_GetAttributeValue(k->session, obj, &a, 1) != CKR_OK) {
        free(v);
        return NULL;
    }
    *len = a.ulValueLen;
    return v;
}

/* Find objects matching the template: how many (0, 1 or 2 meaning "more
 * than one"), and the first in *obj. */
static int find(p11key *k, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *obj)
{
    CK_OBJECT_HANDLE found[2];
    CK_ULONG count = 0;
    if (k->mod->C_FindObjectsInit(k->session, tmpl, n) != CKR_OK)
        return -1;
    CK_RV rv = k->mod->C_FindObjects(k->session, found, 2, &count);
    k->mod->C_FindObjectsFinal(k->session);
    if (rv != CKR_OK)
        return -1;
    if (count)
        *obj = found[0];
    return (int)count;
}

/* CKA_EC_POINT is a DER OCTET STRING holding the point (PKCS#11 2.40);
 * some tokens give the bare point. Either way, the bare point. */
static const unsigned char *ec_point(const unsigned char *v, size_t n, size_t *len)
{
    if (n >= 2 && v[0] == 0x04) {
        size_t l = v[1], h = 2;
        if (l == 0x81 && n >= 3) {
            l = v[2];
            h = 3;
        }
        /* A bare uncompressed point is odd in length; the wrapped one's
         * content is. */
        if (h + l == n && l % 2 == 1 && v[h] == 0x04) {
            *len = l;
            return v + h;
        }
    }
    *len = n;
    return v;
}

/* The key's public half as a SubjectPublicKeyInfo. */
static int public_key(p11key *k, der *out, char *err, size_t errlen)
{
    size_t id_len = 0;
    unsigned char *id = get_attr(k, k->key, CKA_ID, &id_len);
    CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &pub_class, sizeof(pub_class) },
                            { CKA_ID, id, id_len } };
    CK_OBJECT_HANDLE pub = 0;
    int have_pub = id && id_len && find(k, tmpl, 2, &pub) == 1;
    free(id);
    int rc = -1;
    der key = { 0 };
    if (k->key_type == CKK_EC) {
        size_t plen = 0, qlen = 0, raw_len = 0;
        unsigned char *params = get_attr(k, k->key, CKA_EC_PARAMS, &plen);
        if (!params && have_pub)
            params = get_attr(k, pub, CKA_EC_PARAMS, &plen);
        unsigned char *q = have_pub ? get_attr(k, pub, CKA_EC_POINT, &qlen) : NULL;
        if (!q)
            q = get_attr(k, k->key, CKA_EC_POINT, &qlen);
        const struct curve *cv = NULL;
        for (size_t i = 0; params && i < sizeof(curves) / sizeof(curves[0]); i++)
            if (plen == curves[i].oid_len && memcmp(params, curves[i].oid, plen) == 0)
                cv = &curves[i];
        const unsigned char *point = q ? ec_point(q, qlen, &raw_len) : NULL;
        if (!params)
            fail(err, errlen, "the EC key has no CKA_EC_PARAMS");
        else if (!cv)
            fail(err, errlen, "the EC key's curve is not P-256, P-384 or P-521");
        else if (!q)
            fail(err, errlen, "no public key object with the private key's CKA_ID, so no "
                              "CKA_EC_POINT: import or generate the key pair together");
        else if (raw_len != 1 + 2 * cv->coord || point[0] != 0x04)
            fail(err, errlen, "CKA_EC_POINT is not an uncompressed %s point", cv->name);
        else {
            k->coord = cv->coord;
            k->alg = cv->alg;
            der alg = { 0 };
            der_put(&alg, oid_ec_public_key, sizeof(oid_ec_public_key));
            der_put(&alg, params, plen);
            der_put(&key, point, raw_len);
            rc = alg.oom ? -1 : spki(alg.p, alg.len, &key, out);
            if (rc)
                fail(err, errlen, "out of memory");
            free(alg.p);
        }
        free(params);
        free(q);
    } else {
        size_t nlen = 0, elen = 0;
        unsigned char *n = get_attr(k, k->key, CKA_MODULUS, &nlen);
        unsigned char *e = get_attr(k, k->key, CKA_PUBLIC_EXPONENT, &elen);
        if ((!n || !e) && have_pub) {
            free(n);
            free(e);
            n = get_attr(k, pub, CKA_MODULUS, &nlen);
            e = get_attr(k, pub, CKA_PUBLIC_EXPONENT, &elen);
        }
        if (!n || !e || !nlen || !elen) {
            fail(err, errlen, "the RSA key shows no CKA_MODULUS and CKA_PUBLIC_EXPONENT, and "
                              "no public key object has its CKA_ID");
        } else {
            der ints = { 0 };
            der_uint(&ints, n, nlen);
            der_uint(&ints, e, elen);
            der_wrap(&key, 0x30, &ints, NULL, 0);
            free(ints.p);
            k->alg = ACME_SIG_RS256;
            rc = spki(oid_rsa_alg, sizeof(oid_rsa_alg), &key, out);
            if (rc)
                fail(err, errlen, "out of memory");
        }
        free(n);
        free(e);
    }
    free(key.p);
    return rc;
}

/* ---- signing ---------------------------------------------------------------- */

/* DigestInfo prefix for SHA-256 (RFC 8017 9.2, note 1). */
static const unsigned char sha256_prefix[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                               0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                               0x01, 0x05, 0x00, 0x04, 0x20 };

static CK_RV sign_once(p11key *k, CK_MECHANISM_TYPE mech, const unsigned char *data, size_t len,
                       unsigned char *sig, size_t sig_size, size_t *sig_len)
{
    CK_MECHANISM m = { mech, NULL, 0 };
    CK_RV rv = k->mod->C_SignInit(k->session, &m, k->key);
    if (rv != CKR_OK)
        return rv;
    CK_ULONG out = (CK_ULONG)sig_size;
    rv = k->mod->C_Sign(k->session, (CK_BYTE_PTR)data, (CK_ULONG)len, sig, &out);
    if (rv == CKR_OK)
        *sig_len = out;
    return rv;
}

static int p11_sign(int alg, const unsigned char *msg, size_t msg_len,
                    const unsigned char *digest, size_t digest_len, unsigned char *sig,
                    size_t sig_size, size_t *sig_len, void *userdata)
{
    p11key *k = userdata;
    if (alg != k->alg)
        return ACME_ERR_UNSUPPORTED;
    CK_RV rv;
    pthread_mutex_lock(&k->mu);
    if (k->key_type == CKK_EC) {
        rv = sign_once(k, CKM_ECDSA, digest, digest_len, sig, sig_size, sig_len);
        /* r||s each of the curve's size, as the library expects. */
        if (rv == CKR_OK && *sig_len != 2 * k->coord)
            rv = CKR_GENERAL_ERROR;
    } else {
        rv = sign_once(k, CKM_SHA256_RSA_PKCS, msg, msg_len, sig, sig_size, sig_len);
        if ((rv == CKR_MECHANISM_INVALID || rv == CKR_KEY_FUNCTION_NOT_PERMITTED) &&
            digest_len == 32) {
            unsigned char info[sizeof(sha256_prefix) + 32];
            memcpy(info, sha256_prefix, sizeof(sha256_prefix));
            memcpy(info + sizeof(sha256_prefix), digest, 32);
            rv = sign_once(k, CKM_RSA_PKCS, info, sizeof(info), sig, sig_size, sig_len);
        }
    }
    pthread_mutex_unlock(&k->mu);
    /* CK_RV codes are positive: the library reports them as the callback's. */
    return rv == CKR_OK ? 0 : (int)(rv & 0x7fffffff) ? (int)(rv & 0x7fffffff) : 1;
}

static void p11_release(void *userdata)
{
    p11key *k = userdata;
    if (!k)
        return;
    if (k->have_session)
        k->mod->C_CloseSession(k->session);
    if (k->modules) {
        p11_kit_modules_finalize_and_release(k->modules);
    } else if (k->mod) {
        p11_kit_module_finalize(k->mod);
        p11_kit_module_release(k->mod);
    }
    pthread_mutex_destroy(&k->mu);
    free(k);
}

/* ---- finding the token and the key ------------------------------------------------ */

/* A blank-padded PKCS#11 text field equals a URI value. */
static int field_is(const CK_UTF8CHAR *field, size_t size, const char *want)
{
    if (!want)
        return 1;
    size_t n = size;
    while (n && field[n - 1] == ' ')
        n--;
    return strlen(want) == n && memcmp(field, want, n) == 0;
}

static int module_matches(CK_FUNCTION_LIST *mod, const p11_uri *u)
{
    CK_INFO info;
    if (mod->C_GetInfo(&info) != CKR_OK)
        return 0;
    if (!field_is(info.manufacturerID, sizeof(info.manufacturerID),
                  u->attr[P11_ATTR_LIBRARY_MANUFACTURER]) ||
        !field_is(info.libraryDescription, sizeof(info.libraryDescription),
                  u->attr[P11_ATTR_LIBRARY_DESCRIPTION]))
        return 0;
    const char *ver = u->attr[P11_ATTR_LIBRARY_VERSION];
    if (ver) {
        unsigned int major = 0, minor = 0;
        sscanf(ver, "%u.%u", &major, &minor);
        if (info.libraryVersion.major != major || info.libraryVersion.minor != minor)
            return 0;
    }
    return 1;
}

static int slot_matches(CK_FUNCTION_LIST *mod, CK_SLOT_ID slot, const p11_uri *u)
{
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;
    if (u->has_slot_id && u->slot_id != slot)
        return 0;
    if (mod->C_GetSlotInfo(slot, &si) != CKR_OK || mod->C_GetTokenInfo(slot, &ti) != CKR_OK)
        return 0;
    if (!(ti.flags & CKF_TOKEN_INITIALIZED))
        return 0;
    return field_is(si.slotDescription, sizeof(si.slotDescription),
                    u->attr[P11_ATTR_SLOT_DESCRIPTION]) &&
           field_is(si.manufacturerID, sizeof(si.manufacturerID),
                    u->attr[P11_ATTR_SLOT_MANUFACTURER]) &&
           field_is(ti.label, sizeof(ti.label), u->attr[P11_ATTR_TOKEN]) &&
           field_is(ti.manufacturerID, sizeof(ti.manufacturerID),
                    u->attr[P11_ATTR_MANUFACTURER]) &&
           field_is(ti.serialNumber, sizeof(ti.serialNumber), u->attr[P11_ATTR_SERIAL]) &&
           field_is(ti.model, sizeof(ti.model), u->attr[P11_ATTR_MODEL]);
}

/* Open a session on slot, log in, and find the one private key. 1 found,
 * 0 not in this token, -1 an error (in err). */
static int key_in_slot(p11key *k, CK_SLOT_ID slot, const p11_uri *u, const char *pin, char *err,
                       size_t errlen)
{
    CK_RV rv = k->mod->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &k->session);
    if (rv != CKR_OK)
        return fail(err, errlen, "opening a session on slot %lu: PKCS#11 error 0x%lx",
                    (unsigned long)slot, (unsigned long)rv);
    k->have_session = 1;
    if (pin) {
        rv = k->mod->C_Login(k->session, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin));
        if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
            return fail(err, errlen, "login to the token: %s (PKCS#11 error 0x%lx)",
                        rv == CKR_PIN_INCORRECT ? "wrong PIN"
                        : rv == CKR_PIN_LOCKED  ? "the PIN is locked"
                                                : "refused",
                        (unsigned long)rv);
    }
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[3] = { { CKA_CLASS, &cls, sizeof(cls) } };
    CK_ULONG n = 1;
    if (u->has_id)
        tmpl[n++] = (CK_ATTRIBUTE){ CKA_ID, u->id, u->id_len };
    if (u->attr[P11_ATTR_OBJECT])
        tmpl[n++] = (CK_ATTRIBUTE){ CKA_LABEL, u->attr[P11_ATTR_OBJECT],
                                    strlen(u->attr[P11_ATTR_OBJECT]) };
    int count = find(k, tmpl, n, &k->key);
    if (count < 0)
        return fail(err, errlen, "searching the token for the key failed");
    if (count > 1)
        return fail(err, errlen, "the URI matches more than one private key: add id= or object=");
    if (count == 0) {
        k->mod->C_CloseSession(k->session);
        k->have_session = 0;
        return 0;
    }
    CK_ATTRIBUTE kt = { CKA_KEY_TYPE, &k->key_type, sizeof(k->key_type) };
    if (k->mod->C_GetAttributeValue(k->session, k->key, &kt, 1) != CKR_OK)
        return fail(err, errlen, "the key's CKA_KEY_TYPE cannot be read");
    if (k->key_type != CKK_EC && k->key_type != CKK_RSA)
        return fail(err, errlen, "the key is neither EC nor RSA (CKA_KEY_TYPE 0x%lx)",
                    (unsigned long)k->key_type);
    return 1;
}

/* The first matching token of mod holding the key: 1, 0 (none), -1. */
static int search_module(p11key *k, const p11_uri *u, const char *pin, char *err, size_t errlen,
                         int *tokens)
{
    if (!module_matches(k->mod, u))
        return 0;
    CK_ULONG count = 0;
    if (k->mod->C_GetSlotList(CK_TRUE, NULL, &count) != CKR_OK || count == 0)
        return 0;
    CK_SLOT_ID *slots = calloc(count, sizeof(*slots));
    if (!slots)
        return fail(err, errlen, "out of memory");
    int rc = 0;
    if (k->mod->C_GetSlotList(CK_TRUE, slots, &count) == CKR_OK) {
        for (CK_ULONG i = 0; rc == 0 && i < count; i++) {
            if (!slot_matches(k->mod, slots[i], u))
                continue;
            (*tokens)++;
            rc = key_in_slot(k, slots[i], u, pin, err, errlen);
        }
    }
    free(slots);
    return rc;
}

/* The PIN the URI gives (malloc'd), or NULL; -1 on a pin-source error. */
static int read_pin(const p11_uri *u, char **pin, char *err, size_t errlen)
{
    *pin = NULL;
    if (u->attr[P11_ATTR_PIN_VALUE]) {
        *pin = strdup(u->attr[P11_ATTR_PIN_VALUE]);
        return *pin ? 0 : fail(err, errlen, "out of memory");
    }
    const char *path = p11_uri_pin_file(u);
    if (!path)
        return 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return fail(err, errlen, "pin-source %s cannot be read", path);
    char buf[PIN_MAX + 2];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (n > PIN_MAX || !buf[0]) {
        memset(buf, 0, sizeof(buf));
        return fail(err, errlen, "pin-source %s: not one line holding the PIN", path);
    }
    *pin = strdup(buf);
    memset(buf, 0, sizeof(buf));
    return *pin ? 0 : fail(err, errlen, "out of memory");
}

static void forget(char *pin)
{
    if (pin) {
        memset(pin, 0, strlen(pin));
        free(pin);
    }
}

/* Load the module(s) the URI asks for into k and find the key. */
static int locate(p11key *k, const p11_uri *u, const char *pin, char *err, size_t errlen)
{
    int tokens = 0, rc = 0;
    const char *path = u->attr[P11_ATTR_MODULE_PATH];
    if (path) {
        k->mod = p11_kit_module_load(path, 0);
        if (!k->mod)
            return fail(err, errlen, "module-path %s: %s", path,
                        p11_kit_message() ? p11_kit_message() : "cannot be loaded");
        CK_RV rv = p11_kit_module_initialize(k->mod);
        if (rv != CKR_OK) {
            p11_kit_module_release(k->mod);
            k->mod = NULL;
            return fail(err, errlen, "module-path %s: initialisation failed (PKCS#11 error 0x%lx)",
                        path, (unsigned long)rv);
        }
        rc = search_module(k, u, pin, err, errlen, &tokens);
    } else {
        k->modules = p11_kit_modules_load_and_initialize(0);
        if (!k->modules)
            return fail(err, errlen, "loading the configured PKCS#11 modules failed: %s",
                        p11_kit_message() ? p11_kit_message() : "no reason given");
        const char *want = u->attr[P11_ATTR_MODULE_NAME];
        int named = 0;
        for (size_t i = 0; rc == 0 && k->modules[i]; i++) {
            if (want) {
                char *name = p11_kit_module_get_name(k->modules[i]);
                int same = name && strcmp(name, want) == 0;
                free(name);
                if (!same)
                    continue;
                named = 1;
            }
            k->mod = k->modules[i];
            rc = search_module(k, u, pin, err, errlen, &tokens);
        }
        if (rc == 0 && want && !named)
            return fail(err, errlen, "module-name %s: no configured module has that name", want);
    }
    if (rc == 0 && !tokens)
        return fail(err, errlen, "no token matches the URI");
    if (rc == 0)
        return fail(err, errlen, "no private key in the matching token%s matches the URI%s",
                    tokens == 1 ? "" : "s", pin ? "" : " (is a PIN needed? pin-value= or pin-source=)");
    return rc > 0 ? 0 : -1;
}

int p11_key_open(const char *uri, acme_key **out, char *err, size_t errlen)
{
    *out = NULL;
    p11_uri u;
    if (p11_uri_parse(uri, &u, err, errlen) != 0)
        return -1;
    if (u.type != P11_TYPE_ANY && u.type != P11_TYPE_PRIVATE) {
        p11_uri_free(&u);
        return fail(err, errlen, "the URI must name a private key (type=private)");
    }
    char *pin = NULL;
    if (read_pin(&u, &pin, err, errlen) != 0) {
        p11_uri_free(&u);
        return -1;
    }
    p11key *k = calloc(1, sizeof(*k));
    if (!k) {
        forget(pin);
        p11_uri_free(&u);
        return fail(err, errlen, "out of memory");
    }
    pthread_mutex_init(&k->mu, NULL);
    der pub = { 0 };
    int rc = locate(k, &u, pin, err, errlen);
    forget(pin);
    p11_uri_free(&u);
    if (rc == 0)
        rc = public_key(k, &pub, err, errlen);
    if (rc == 0) {
        acme_signer_ops ops = ACME_SIGNER_OPS_INIT;
        ops.sign = p11_sign;
        ops.release = p11_release;
        if (acme_key_from_signer(out, pub.p, pub.len, &ops, k) != ACME_OK)
            rc = fail(err, errlen, "%s", acme_last_error());
    }
    free(pub.p);
    if (rc != 0)
        p11_release(k); /* on failure acme_key_from_signer leaves k to us */
    return rc;
}
