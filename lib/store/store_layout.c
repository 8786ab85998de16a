/* Store keys: the layout of acme/store.h in one place. */
#include "store/store_layout.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "store/store.h"

/* Longest segment acme__store_segment makes: below NAME_MAX (255) of
 * common filesystems, with room for the ".tmp-XXXXXX" suffix of atomic
 * writes. Longer labels are cut and get a hash of the whole label. */
#define SEGMENT_MAX 200
#define SEGMENT_KEEP (SEGMENT_MAX - 17) /* "_" + 16 hex digits */

/* Longest certificate name: a file name's limit on common filesystems. */
#define CERT_NAME_MAX 255

/* The account of an empty e-mail. */
#define DEFAULT_ACCOUNT "default"

/* A URI scheme followed by "://", or "mailto:" (ACME contacts): the
 * length to skip, else 0. */
static size_t scheme_len(const char *s)
{
    if (strncasecmp(s, "mailto:", 7) == 0)
        return 7;
    size_t i = 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
           (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '.' || s[i] == '-')
        i++;
    return strncmp(s + i, "://", 3) == 0 ? i + 3 : 0;
}

uint64_t acme__store_hash(uint64_t h, const char *s)
{
    for (const unsigned char *q = (const unsigned char *)s; *q; q++)
        h = (h ^ *q) * 0x100000001b3u;
    return h;
}

char *acme__store_segment(const char *label)
{
    if (!label)
        label = "";
    const char *p = *label ? label + scheme_len(label) : label;
    size_t n = strlen(p);
    int cut = n > SEGMENT_MAX;
    size_t keep = cut ? SEGMENT_KEEP : n;
    char *seg = malloc((cut ? SEGMENT_MAX : (n ? n : 2)) + 1);
    if (!seg)
        return NULL;
    for (size_t i = 0; i < keep; i++)
        seg[i] = acme__store_key_char((unsigned char)p[i]) ? p[i] : '_';
    seg[keep] = '\0';
    if (cut) {
        /* A hash of the whole label keeps distinct long labels apart. */
        uint64_t h = acme__store_hash(ACME__STORE_HASH_INIT, label);
        snprintf(seg + keep, SEGMENT_MAX + 1 - keep, "_%016llx", (unsigned long long)h);
    } else if (n == 0 || strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0) {
        /* Never empty, "." or "..": dots become '_' ("" gives "_"). */
        memset(seg, '_', n ? n : 1);
        seg[n ? n : 1] = '\0';
    }
    return seg;
}

int acme__store_cert_name_valid(const char *name)
{
    if (!name || !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        strcmp(name, "locks") == 0 || strlen(name) > CERT_NAME_MAX)
        return 0;
    for (const char *p = name; *p; p++)
        if (!acme__store_key_char((unsigned char)*p))
            return 0;
    return 1;
}

/* prefix/segments..., with NULL segments left out; NULL when out of memory. */
static char *join_key(const char *first, const char *second, const char *third,
                      const char *fourth)
{
    acme__buf b = ACME__BUF_INIT;
    const char *parts[] = { first, second, third, fourth };
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        if (parts[i])
            acme__buf_printf(&b, "%s%s", b.len ? "/" : "", parts[i]);
    return acme__buf_detach(&b);
}

/* prefix/<ca>/<email>[/file]: a record of one account at one CA. */
static char *ca_account_key(const char *prefix, const char *directory_url, const char *email,
                            const char *file)
{
    char *ca = acme__store_segment(directory_url);
    char *em = acme__store_segment(email && *email ? email : DEFAULT_ACCOUNT);
    char *key = ca && em ? join_key(prefix, ca, em, file) : NULL;
    free(ca);
    free(em);
    return key;
}

char *acme__store_account_key(const char *directory_url, const char *email, const char *file)
{
    return ca_account_key(ACME_STORE_ACCOUNTS, directory_url, email, file);
}

char *acme__store_cert_key(const char *name, const char *file)
{
    return join_key(ACME__CERTS_DIR, name, file, NULL);
}

char *acme__store_generation_key(const char *name, unsigned long generation, const char *file)
{
    char gen[24];
    snprintf(gen, sizeof(gen), "%lu", generation);
    return join_key(ACME__CERTS_DIR, name, gen, file);
}

char *acme__store_compromised_key(const char *thumbprint)
{
    return join_key(ACME__COMPROMISED_DIR, thumbprint, NULL, NULL);
}

char *acme__store_backoff_key(const char *name)
{
    return join_key(ACME__BACKOFF_DIR, name, NULL, NULL);
}

char *acme__store_rate_limit_key(const char *directory_url, const char *email)
{
    return ca_account_key(ACME__RATE_LIMIT_DIR, directory_url, email, NULL);
}

char *acme__store_schedule_key(unsigned int shard, const char *file)
{
    char seg[16];
    snprintf(seg, sizeof(seg), "%03x", shard);
    return join_key(ACME__SCHEDULE_DIR, seg, file, NULL);
}

int acme_store_cert_key(const char *name, int file, char **key_out)
{
    if (!key_out)
        return acme__fail(NULL, ACME_ERR_INVALID, "store: NULL output");
    *key_out = NULL;
    static const char *const files[] = {
        [ACME_STORE_FILE_KEY] = ACME__FILE_KEY,
        [ACME_STORE_FILE_CHAIN] = ACME__FILE_CHAIN,
        [ACME_STORE_FILE_META] = ACME__FILE_META,
    };
    if (file < ACME_STORE_FILE_KEY || file > ACME_STORE_FILE_META)
        return acme__fail(NULL, ACME_ERR_INVALID, "store: unknown certificate file %d", file);
    if (!acme__store_cert_name_valid(name))
        return acme__fail(NULL, ACME_ERR_INVALID, "store: \"%.200s\" is not a certificate name",
                          name ? name : "(null)");
    *key_out = acme__store_cert_key(name, files[file]);
    return *key_out ? ACME_OK : acme__fail(NULL, ACME_ERR_NOMEM, "store: out of memory");
}

int acme_store_account_key(const char *directory_url, const char *email, int file,
                           char **key_out)
{
    if (!key_out)
        return acme__fail(NULL, ACME_ERR_INVALID, "store: NULL output");
    *key_out = NULL;
    if (!directory_url)
        return acme__fail(NULL, ACME_ERR_INVALID, "store: NULL directory URL");
    if (file != ACME_STORE_FILE_KEY && file != ACME_STORE_FILE_META)
        return acme__fail(NULL, ACME_ERR_INVALID, "store: unknown account file %d", file);
    *key_out = acme__store_account_key(directory_url, email,
                                       file == ACME_STORE_FILE_KEY ? ACME__FILE_KEY
                                                                   : ACME__FILE_ACCOUNT);
    return *key_out ? ACME_OK : acme__fail(NULL, ACME_ERR_NOMEM, "store: out of memory");
}
