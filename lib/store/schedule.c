/* The schedule index: see store/schedule.h.
 *
 * A shard is text, one line per name, because a million names are parsed
 * at every idle run and a line costs a few number conversions:
 *
 *   acme-schedule 2
 *   NAME NEXT NOT_AFTER ARI_START ARI_END RETRY KEY_TYPE IDS_FP DIR_FP KEY_FP PROFILE_FP
 *
 * times in Unix seconds, the fingerprints 16 hex digits. */
#include "store/schedule.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/key.h"
#include "base/buf.h"
#include "base/mem.h"
#include "crypto/key.h"
#include "store/store_layout.h"

#define HEADER "acme-schedule 2\n"
#define FIELDS 11
#define FP_DIGITS 16

unsigned int acme__sched_shard_of(const char *name)
{
    return (unsigned int)(acme__store_hash(ACME__STORE_HASH_INIT, name) % ACME__SCHEDULE_SHARDS);
}

uint64_t acme__sched_ids_fp(char *const *ids, size_t n)
{
    /* A sum of per-identifier hashes: the same set in any order. */
    uint64_t fp = n;
    for (size_t i = 0; i < n; i++)
        fp += acme__store_hash(ACME__STORE_HASH_INIT, ids[i]);
    return fp;
}

void acme__sched_shard_free(acme__sched_shard *sh)
{
    if (!sh)
        return;
    free(sh->v);
    free(sh->text);
    memset(sh, 0, sizeof(*sh));
}

/* ---- parsing ------------------------------------------------------------ */

/* Numbers by hand: a million lines are parsed at every idle run, and
 * strtoll/strtoull were a third of its CPU. */
static int parse_time(const char *tok, int64_t *out)
{
    if (!*tok)
        return -1;
    int64_t v = 0;
    for (const char *p = tok; *p; p++) {
        if (*p < '0' || *p > '9' || v > (INT64_MAX - (*p - '0')) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 0;
}

static int parse_fp(const char *tok, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; tok[i]; i++) {
        char c = tok[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0 || i >= FP_DIGITS)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    if (i != FP_DIGITS)
        return -1;
    *out = v;
    return 0;
}

/* One line (NUL-terminated, no newline) into e; names point into line. */
static int parse_line(char *line, acme__sched_entry *e)
{
    char *tok[FIELDS];
    size_t n = 0;
    for (char *p = line; n < FIELDS; n++) {
        tok[n] = p;
        char *sp = strchr(p, ' ');
        if (!sp) {
            n++;
            break;
        }
        *sp = '\0';
        p = sp + 1;
    }
    if (n != FIELDS || strchr(tok[FIELDS - 1], ' '))
        return -1;
    int64_t kt;
    if (!acme__store_cert_name_valid(tok[0]) || parse_time(tok[1], &e->next) ||
        parse_time(tok[2], &e->not_after) || parse_time(tok[3], &e->ari_start) ||
        parse_time(tok[4], &e->ari_end) || parse_time(tok[5], &e->retry) ||
        parse_time(tok[6], &kt) || kt > 1000 || !acme_key_type_name((int)kt) ||
        parse_fp(tok[7], &e->ids_fp) || parse_fp(tok[8], &e->dir_fp) ||
        parse_fp(tok[9], &e->key_fp) || parse_fp(tok[10], &e->profile_fp))
        return -1;
    e->name = tok[0];
    e->key_type = (int)kt;
    return 0;
}

int acme__sched_parse(const char *data, size_t len, acme__sched_shard *out, acme__err *err)
{
    memset(out, 0, sizeof(*out));
    size_t hl = strlen(HEADER);
    if (len < hl || memcmp(data, HEADER, hl) != 0 || data[len - 1] != '\n' ||
        memchr(data, '\0', len))
        return acme__fail(err, ACME_ERR_CORRUPT, "not a schedule index shard (header)");
    size_t lines = 0;
    for (size_t i = hl; i < len; i++)
        lines += data[i] == '\n';
    out->text = acme__strndup(data + hl, len - hl);
    out->v = lines ? calloc(lines, sizeof(*out->v)) : NULL;
    if (!out->text || (lines && !out->v)) {
        acme__sched_shard_free(out);
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    }
    char *p = out->text;
    for (size_t i = 0; i < lines; i++) {
        char *nl = strchr(p, '\n');
        *nl = '\0';
        acme__sched_entry *e = &out->v[i];
        if (parse_line(p, e) != 0 || (i && strcmp(out->v[i - 1].name, e->name) >= 0)) {
            acme__sched_shard_free(out);
            return acme__fail(err, ACME_ERR_CORRUPT,
                              "schedule index shard: line %zu is malformed or out of order",
                              i + 2);
        }
        p = nl + 1;
    }
    out->n = lines;
    return ACME_OK;
}

const acme__sched_entry *acme__sched_find(const acme__sched_shard *sh, const char *name)
{
    size_t lo = 0, hi = sh->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(sh->v[mid].name, name);
        if (c == 0)
            return &sh->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- the store ---------------------------------------------------------- */

int acme__sched_load(acme_store *s, unsigned int shard, acme__sched_shard *out, acme__err *err)
{
    memset(out, 0, sizeof(*out));
    char *key = acme__store_schedule_key(shard, ACME__SCHEDULE_ENTRIES);
    if (!key)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    acme__buf b = ACME__BUF_INIT;
    acme__err probe = ACME__ERR_QUIET; /* no shard yet is an answer */
    int rc = acme__store_read(s, key, &b, &probe);
    if (rc != ACME_OK && rc != ACME_ERR_NOT_FOUND)
        acme__err_forward(err, &probe);
    acme__err_clear(&probe);
    if (rc == ACME_OK) {
        acme__err why = ACME__ERR_QUIET;
        rc = acme__sched_parse(b.data ? b.data : "", b.len, out, &why);
        if (rc != ACME_OK)
            rc = acme__fail(err, rc, "store: %s: %s", key, why.msg);
        acme__err_clear(&why);
    }
    acme__buf_free(&b);
    free(key);
    return rc;
}

uint64_t acme__sched_profile_fp(const char *profile)
{
    return acme__store_hash(ACME__STORE_HASH_INIT, profile ? profile : "");
}

int acme__sched_entry_of(const acme__stored_cert *c, int64_t next, acme__sched_entry *out,
                         acme__err *err)
{
    memset(out, 0, sizeof(*out));
    out->name = c->name;
    out->next = next > 0 ? next : 0;
    out->not_after = c->not_after > 0 ? c->not_after : 0;
    out->ari_start = c->ari_start > 0 ? c->ari_start : 0;
    out->ari_end = c->ari_end > 0 ? c->ari_end : 0;
    out->key_type = c->key_type;
    out->ids_fp = acme__sched_ids_fp(c->ids, c->nids);
    out->dir_fp = acme__store_hash(ACME__STORE_HASH_INIT, c->directory ? c->directory : "");
    out->profile_fp = acme__sched_profile_fp(c->profile);
    if (c->key) {
        char *tp = NULL;
        if (acme__key_thumbprint(c->key, &tp) != ACME_OK)
            return acme__fail(err, ACME_ERR_NOMEM, "%s: cannot compute the key's thumbprint",
                              c->name);
        out->key_fp = acme__store_hash(ACME__STORE_HASH_INIT, tp);
        free(tp);
    }
    return ACME_OK;
}

static void put_entry(acme__buf *b, const acme__sched_entry *e)
{
    acme__buf_printf(b,
                     "%s %lld %lld %lld %lld %lld %d %016" PRIx64 " %016" PRIx64 " %016" PRIx64
                     " %016" PRIx64 "\n",
                     e->name, (long long)e->next, (long long)e->not_after,
                     (long long)e->ari_start, (long long)e->ari_end, (long long)e->retry,
                     e->key_type, e->ids_fp, e->dir_fp, e->key_fp, e->profile_fp);
}

/* Write the n sorted entries of v, skipping the one named `skip` (may be
 * NULL) and adding `add` (may be NULL) in its place in the order. */
static int write_shard(acme_store *s, unsigned int shard, const acme__sched_entry *v, size_t n,
                       const char *skip, const acme__sched_entry *add, acme__err *err)
{
    acme__buf b = ACME__BUF_INIT;
    acme__buf_puts(&b, HEADER);
    int added = 0;
    for (size_t i = 0; i < n; i++) {
        if (add && !added && strcmp(add->name, v[i].name) < 0) {
            put_entry(&b, add);
            added = 1;
        }
        if (!skip || strcmp(v[i].name, skip) != 0)
            put_entry(&b, &v[i]);
    }
    if (add && !added)
        put_entry(&b, add);
    return acme__store_write_built(s, acme__store_schedule_key(shard, ACME__SCHEDULE_ENTRIES), &b,
                                   0, err);
}

/* Take the lock of a shard (its writers'): *lock is its name, for
 * unlock_shard. */
static int lock_shard(acme_store *s, unsigned int shard, unsigned int timeout_s, char **lock,
                      acme__err *err)
{
    *lock = acme__store_schedule_key(shard, NULL);
    int rc = *lock ? acme__store_lock_wait(s, *lock, timeout_s, err)
                   : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    if (rc != ACME_OK) {
        free(*lock);
        *lock = NULL;
    }
    return rc;
}

static void unlock_shard(acme_store *s, char *lock)
{
    acme__store_unlock(s, lock);
    free(lock);
}

/* ---- the due summary ------------------------------------------------------ */

/*   acme-schedule-due 1
 *   STATE BAD_FP NDIRS
 *   DIR_FP            (NDIRS lines)
 *   then one line per shard: NEXT COUNT SET   (SET 1: known, 0: reset by a build) */
#define DUE_HEADER "acme-schedule-due 1\n"
#define DUE_LOCK ACME__SCHEDULE_DIR "/sum"
#define DUE_KEY DUE_LOCK "/due"

uint64_t acme__sched_bad_fp(const uint64_t *v, size_t n)
{
    uint64_t fp = n;
    for (size_t i = 0; i < n; i++)
        fp += v[i] * 0x9e3779b97f4a7c15ULL + (v[i] >> 29);
    return fp;
}

/* The next space- or newline-ended token at *p (below end), NUL-ended in
 * place; NULL when there is none. */
static char *due_token(char **p, char *end, char stop)
{
    char *t = *p;
    char *q = t;
    while (q < end && *q != ' ' && *q != '\n')
        q++;
    if (q == t || q >= end || *q != stop)
        return NULL;
    *q = '\0';
    *p = q + 1;
    return t;
}

int acme__sched_due_parse(const char *data, size_t len, acme__sched_due *out, acme__err *err)
{
    memset(out, 0, sizeof(*out));
    size_t hl = strlen(DUE_HEADER);
    if (len < hl || memcmp(data, DUE_HEADER, hl) != 0 || memchr(data, '\0', len))
        return acme__fail(err, ACME_ERR_CORRUPT, "not a schedule due summary (header)");
    char *text = acme__strndup(data + hl, len - hl);
    if (!text)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    char *p = text, *end = text + (len - hl);
    int64_t v;
    char *t;
    int ok = (t = due_token(&p, end, ' ')) && !parse_time(t, &v) && v <= ACME__DUE_BUILDING;
    out->state = (int)v;
    ok = ok && (t = due_token(&p, end, ' ')) && !parse_fp(t, &out->bad_fp) &&
         (t = due_token(&p, end, '\n')) && !parse_time(t, &v) && v <= ACME__DUE_MAX_DIRS;
    out->ndirs = ok ? (size_t)v : 0;
    for (size_t i = 0; ok && i < out->ndirs; i++)
        ok = (t = due_token(&p, end, '\n')) && !parse_fp(t, &out->dirs[i]);
    for (unsigned int k = 0; ok && k < ACME__SCHEDULE_SHARDS; k++) {
        int64_t c, set;
        ok = (t = due_token(&p, end, ' ')) && !parse_time(t, &out->next[k]) &&
             (t = due_token(&p, end, ' ')) && !parse_time(t, &c) && c <= UINT32_MAX &&
             (t = due_token(&p, end, '\n')) && !parse_time(t, &set) && set <= 1;
        out->count[k] = ok ? (uint32_t)c : 0;
        out->set[k] = ok ? (unsigned char)set : 0;
    }
    ok = ok && p == end;
    free(text);
    if (!ok) {
        memset(out, 0, sizeof(*out));
        return acme__fail(err, ACME_ERR_CORRUPT, "schedule due summary: malformed");
    }
    return ACME_OK;
}

int acme__sched_due_load(acme_store *s, acme__sched_due *out, acme__err *err)
{
    acme__buf b = ACME__BUF_INIT;
    acme__err probe = ACME__ERR_QUIET;
    int rc = acme__store_read(s, DUE_KEY, &b, &probe);
    if (rc != ACME_OK) {
        memset(out, 0, sizeof(*out));
        if (rc != ACME_ERR_NOT_FOUND)
            acme__err_forward(err, &probe);
        else
            rc = acme__fail(err, rc, "no schedule due summary");
    } else {
        rc = acme__sched_due_parse(b.data ? b.data : "", b.len, out, err);
    }
    acme__err_clear(&probe);
    acme__buf_free(&b);
    return rc;
}

static int due_write(acme_store *s, const acme__sched_due *d, acme__err *err)
{
    acme__buf b = ACME__BUF_INIT;
    acme__buf_printf(&b, DUE_HEADER "%d %016" PRIx64 " %zu\n", d->state, d->bad_fp, d->ndirs);
    for (size_t i = 0; i < d->ndirs; i++)
        acme__buf_printf(&b, "%016" PRIx64 "\n", d->dirs[i]);
    for (unsigned int k = 0; k < ACME__SCHEDULE_SHARDS; k++)
        acme__buf_printf(&b, "%lld %lu %d\n", (long long)d->next[k], (unsigned long)d->count[k],
                         d->set[k] ? 1 : 0);
    char *key = acme__strdup(DUE_KEY);
    return acme__store_write_built(s, key, &b, 0, err);
}

/* Add fp to the summary's directories; a full set makes it incomplete. */
static void due_add_dir(acme__sched_due *d, uint64_t fp)
{
    for (size_t i = 0; i < d->ndirs; i++)
        if (d->dirs[i] == fp)
            return;
    if (d->ndirs < ACME__DUE_MAX_DIRS)
        d->dirs[d->ndirs++] = fp;
    else if (d->state == ACME__DUE_COMPLETE)
        d->state = ACME__DUE_INCOMPLETE;
}

/* What a shard's entries say for its slot. */
typedef struct shard_view {
    int64_t next;
    uint32_t count;
} shard_view;

static shard_view view_of(const acme__sched_entry *v, size_t n, const char *skip,
                          const acme__sched_entry *add)
{
    shard_view sv = { ACME__DUE_NEVER, 0 };
    for (size_t i = 0; i < n; i++) {
        if (skip && strcmp(v[i].name, skip) == 0)
            continue;
        sv.count++;
        if (v[i].next < sv.next)
            sv.next = v[i].next;
    }
    if (add) {
        sv.count++;
        if (add->next < sv.next)
            sv.next = add->next;
    }
    return sv;
}

/* Under the summary's lock: slot `shard` becomes sv (exact) or, with
 * lower_only, no later than sv.next; dir (non-zero) joins the directories;
 * lost clears `complete`. A missing summary is left missing. */
static int due_note(acme_store *s, unsigned int shard, shard_view sv, int lower_only,
                    uint64_t dir, int lost, unsigned int timeout_s, acme__err *err)
{
    int rc = acme__store_lock_wait(s, DUE_LOCK, timeout_s, err);
    if (rc != ACME_OK)
        return rc;
    acme__sched_due *d = malloc(sizeof(*d));
    acme__err quiet = ACME__ERR_QUIET;
    rc = d ? acme__sched_due_load(s, d, &quiet) : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    if (rc == ACME_ERR_NOT_FOUND) {
        rc = ACME_OK; /* nothing claims anything */
    } else if (rc == ACME_ERR_CORRUPT) {
        /* Unreadable: it cannot be trusted, and must not be by a later
         * writer that fixes it either, so it goes. */
        rc = acme__store_remove(s, DUE_KEY, err);
    } else if (rc == ACME_OK) {
        uint32_t counted = d->count[shard];
        if (lower_only) {
            if (sv.next < d->next[shard])
                d->next[shard] = sv.next;
        } else {
            d->next[shard] = sv.next;
            d->count[shard] = sv.count;
        }
        d->set[shard] = 1;
        if (dir)
            due_add_dir(d, dir);
        /* Names the summary counted are gone from the shard: no more whole. */
        if (lost && counted && d->state != ACME__DUE_INCOMPLETE)
            d->state = ACME__DUE_INCOMPLETE;
        rc = due_write(s, d, err);
    } else if (d) {
        acme__err_forward(err, &quiet);
    }
    acme__err_clear(&quiet);
    free(d);
    acme__store_unlock(s, DUE_LOCK);
    return rc;
}

/* Does the summary need a word before shard's write, and after it? Read
 * without its lock: only the holder of the shard's lock changes the slot
 * other than downwards. */
static void due_plan(acme_store *s, unsigned int shard, shard_view sv, uint64_t dir, int *before,
                     int *after)
{
    acme__sched_due *d = malloc(sizeof(*d));
    acme__err quiet = ACME__ERR_QUIET;
    int rc = d ? acme__sched_due_load(s, d, &quiet) : ACME_ERR_NOMEM;
    acme__err_clear(&quiet);
    *before = *after = 0;
    if (rc == ACME_OK) {
        int known = 0;
        for (size_t i = 0; dir && i < d->ndirs; i++)
            known |= d->dirs[i] == dir;
        *before = sv.next < d->next[shard] || (dir && !known);
        *after = sv.next != d->next[shard] || sv.count != d->count[shard] || !d->set[shard];
    } else if (rc != ACME_ERR_NOT_FOUND) {
        *before = 1; /* let due_note deal with it */
    }
    free(d);
}

/* Write shard `shard` as v (n sorted entries) without `skip` and with
 * `add`, keeping the summary no later than it (the caller holds the
 * shard's lock). lost: the shard's earlier names, if it had any, are
 * gone. */
static int write_shard_noted(acme_store *s, unsigned int shard, const acme__sched_entry *v,
                             size_t n, const char *skip, const acme__sched_entry *add, int lost,
                             unsigned int timeout_s, acme__err *err)
{
    shard_view sv = view_of(v, n, skip, add);
    uint64_t dir = add && add->dir_fp ? add->dir_fp : 0;
    int before, after;
    due_plan(s, shard, sv, dir, &before, &after);
    int rc = before || lost ? due_note(s, shard, sv, 1, dir, lost, timeout_s, err) : ACME_OK;
    if (rc == ACME_OK)
        rc = write_shard(s, shard, v, n, skip, add, err);
    /* Exact once the shard landed; a failure only leaves it early. */
    if (rc == ACME_OK && after) {
        acme__err quiet = ACME__ERR_QUIET;
        due_note(s, shard, sv, 0, 0, 0, timeout_s, &quiet);
        acme__err_clear(&quiet);
    }
    return rc;
}

static int update_shard(acme_store *s, const char *name, const acme__sched_entry *e,
                        int mark_due, int64_t now, unsigned int lock_timeout_s, acme__err *err)
{
    unsigned int shard = acme__sched_shard_of(name);
    char *lock;
    int rc = lock_shard(s, shard, lock_timeout_s, &lock, err);
    if (rc != ACME_OK)
        return rc;
    acme__sched_shard sh;
    acme__err quiet = ACME__ERR_QUIET;
    rc = acme__sched_load(s, shard, &sh, &quiet);
    int lost = rc == ACME_ERR_CORRUPT || rc == ACME_ERR_NOT_FOUND;
    if (rc == ACME_ERR_NOT_FOUND || rc == ACME_ERR_CORRUPT)
        rc = ACME_OK; /* start over: what is lost looks due */
    else if (rc != ACME_OK)
        acme__err_forward(err, &quiet);
    acme__err_clear(&quiet);
    acme__sched_entry due;
    if (rc == ACME_OK && mark_due) {
        /* The entry kept with next 0, or a placeholder: the name stays
         * listed while its record changes or comes to be. */
        const acme__sched_entry *old = acme__sched_find(&sh, name);
        if (old && now > 0 && old->next <= now) {
            /* Already due, and due it stays for every later run: the
             * renewal that follows then rewrites the shard once, not twice. */
            acme__sched_shard_free(&sh);
            unlock_shard(s, lock);
            return ACME_OK;
        }
        if (old) {
            due = *old;
        } else {
            memset(&due, 0, sizeof(due));
            due.name = name;
            due.key_type = ACME_KEY_EC256;
        }
        due.next = 0;
        e = &due;
    }
    if (rc == ACME_OK)
        rc = write_shard_noted(s, shard, sh.v, sh.n, name, e, lost, lock_timeout_s, err);
    acme__sched_shard_free(&sh);
    unlock_shard(s, lock);
    return rc;
}

int acme__sched_update(acme_store *s, const char *name, const acme__sched_entry *e,
                       unsigned int lock_timeout_s, acme__err *err)
{
    return update_shard(s, name, e, 0, 0, lock_timeout_s, err);
}

int acme__sched_mark_due(acme_store *s, const char *name, int64_t now,
                         unsigned int lock_timeout_s, acme__err *err)
{
    return update_shard(s, name, NULL, 1, now, lock_timeout_s, err);
}

int acme__sched_due_fix(acme_store *s, unsigned int shard, unsigned int lock_timeout_s,
                        acme__err *err)
{
    char *lock;
    int rc = lock_shard(s, shard, lock_timeout_s, &lock, err);
    if (rc != ACME_OK)
        return rc;
    acme__sched_shard sh;
    rc = acme__sched_load(s, shard, &sh, err);
    if (rc == ACME_OK)
        rc = due_note(s, shard, view_of(sh.v, sh.n, NULL, NULL), 0, 0, 0, lock_timeout_s, err);
    acme__sched_shard_free(&sh);
    unlock_shard(s, lock);
    return rc;
}

int acme__sched_due_build(acme_store *s, uint64_t bad_fp, int clean, unsigned int lock_timeout_s,
                          acme__err *err)
{
    acme__sched_due *d = calloc(1, sizeof(*d));
    acme__sched_due *now = malloc(sizeof(*now));
    int rc = d && now ? ACME_OK : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    /* First every slot reset (due, unknown): from here on a writer's slot
     * is its own, and the scan below fills only the ones left unknown. */
    if (rc == ACME_OK) {
        d->state = ACME__DUE_BUILDING;
        d->bad_fp = bad_fp;
    }
    if (rc == ACME_OK && (rc = acme__store_lock_wait(s, DUE_LOCK, lock_timeout_s, err)) == ACME_OK) {
        rc = due_write(s, d, err);
        acme__store_unlock(s, DUE_LOCK);
    }
    int whole = clean;
    for (unsigned int k = 0; rc == ACME_OK && k < ACME__SCHEDULE_SHARDS; k++) {
        char *lock;
        if ((rc = lock_shard(s, k, lock_timeout_s, &lock, err)) != ACME_OK)
            break;
        acme__sched_shard sh;
        acme__err quiet = ACME__ERR_QUIET;
        int lrc = acme__sched_load(s, k, &sh, &quiet);
        acme__err_clear(&quiet);
        unlock_shard(s, lock);
        if (lrc == ACME_OK || lrc == ACME_ERR_NOT_FOUND) {
            shard_view sv = view_of(sh.v, sh.n, NULL, NULL);
            d->next[k] = sv.next;
            d->count[k] = sv.count;
            d->set[k] = 1;
            for (size_t i = 0; i < sh.n; i++)
                if (sh.v[i].dir_fp)
                    due_add_dir(d, sh.v[i].dir_fp);
            acme__sched_shard_free(&sh);
        } else {
            whole = 0; /* left due (0) */
        }
    }
    whole = whole && d->state == ACME__DUE_BUILDING; /* not too many directories */
    if (rc == ACME_OK && (rc = acme__store_lock_wait(s, DUE_LOCK, lock_timeout_s, err)) == ACME_OK) {
        acme__err quiet = ACME__ERR_QUIET;
        if (acme__sched_due_load(s, now, &quiet) == ACME_OK && now->state == ACME__DUE_BUILDING &&
            now->bad_fp == bad_fp) {
            for (unsigned int k = 0; k < ACME__SCHEDULE_SHARDS; k++)
                if (!now->set[k]) {
                    now->next[k] = d->next[k];
                    now->count[k] = d->count[k];
                    now->set[k] = d->set[k];
                }
            for (size_t i = 0; i < d->ndirs; i++)
                due_add_dir(now, d->dirs[i]);
            if (now->state == ACME__DUE_BUILDING)
                now->state = whole ? ACME__DUE_COMPLETE : ACME__DUE_INCOMPLETE;
            rc = due_write(s, now, err);
        }
        /* Else another build or a loss came between: its word stands. */
        acme__err_clear(&quiet);
        acme__store_unlock(s, DUE_LOCK);
    }
    free(now);
    free(d);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const acme__sched_entry *)a)->name, ((const acme__sched_entry *)b)->name);
}

int acme__sched_put_shard(acme_store *s, unsigned int shard, acme__sched_entry *v, size_t n,
                          acme__err *err)
{
    if (n)
        qsort(v, n, sizeof(*v), by_name);
    /* Names the shard held may be gone: no summary may call itself whole. */
    return write_shard_noted(s, shard, v, n, NULL, NULL, 1, 5, err);
}

int acme__sched_rebuild(acme_store *s, unsigned int shard, const char *const *names, size_t n,
                        acme__sched_next_fn next_of, void *next_userdata,
                        unsigned int lock_timeout_s, size_t *entries, acme__err *err)
{
    if (entries)
        *entries = 0;
    char *lock;
    int rc = lock_shard(s, shard, lock_timeout_s, &lock, err);
    if (rc != ACME_OK)
        return rc;
    acme__sched_entry *v = NULL;
    acme__stored_cert *certs = NULL;
    size_t nv = 0;
    if (n && (!(v = calloc(n, sizeof(*v))) || !(certs = calloc(n, sizeof(*certs)))))
        rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    /* Loaded under the shard's lock: a renewal that commits meanwhile
     * writes its entry after this shard, not under it. */
    for (size_t i = 0; rc == ACME_OK && i < n; i++) {
        if (!acme__store_cert_name_valid(names[i]) || acme__sched_shard_of(names[i]) != shard)
            continue;
        acme__err quiet = ACME__ERR_QUIET;
        if (acme__stored_load(s, names[i], &certs[nv], &quiet) == ACME_OK) {
            int64_t next = certs[nv].revoked >= 0 ? 0 : next_of(&certs[nv], next_userdata);
            if (acme__sched_entry_of(&certs[nv], next, &v[nv], &quiet) == ACME_OK)
                nv++;
            else
                acme__stored_free(&certs[nv]);
        }
        acme__err_clear(&quiet);
    }
    if (rc == ACME_OK)
        rc = acme__sched_put_shard(s, shard, v, nv, err);
    if (rc == ACME_OK && entries)
        *entries = nv;
    for (size_t i = 0; i < nv; i++)
        acme__stored_free(&certs[i]);
    free(certs);
    free(v);
    unlock_shard(s, lock);
    return rc;
}

int acme__sched_visit(acme_store *s, size_t n, const char *(*name_of)(size_t i, void *userdata),
                      void (*visit)(size_t i, const acme__sched_entry *e, void *userdata),
                      void *userdata, acme__sched_next_fn next_of, void *next_userdata,
                      unsigned int lock_timeout_s, acme__err *err)
{
    /* The names in shard order (a counting sort): one shard in memory at a
     * time, whatever n is. */
    size_t *start = calloc(ACME__SCHEDULE_SHARDS + 1, sizeof(*start));
    size_t *order = n ? malloc(n * sizeof(*order)) : NULL;
    unsigned short *shard_of = n ? malloc(n * sizeof(*shard_of)) : NULL;
    const char **names = NULL;
    int rc = start && (!n || (order && shard_of)) ? ACME_OK
                                                  : acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == ACME_OK && i < n; i++) {
        shard_of[i] = (unsigned short)acme__sched_shard_of(name_of(i, userdata));
        start[shard_of[i] + 1]++;
    }
    for (unsigned int k = 0; rc == ACME_OK && k < ACME__SCHEDULE_SHARDS; k++)
        start[k + 1] += start[k];
    for (size_t i = 0; rc == ACME_OK && i < n; i++) {
        size_t *slot = &start[shard_of[i]];
        order[(*slot)++] = i;
    }
    /* start[k] is now the end of shard k; shard k begins where k - 1 ends. */
    size_t begin = 0;
    for (unsigned int k = 0; rc == ACME_OK && k < ACME__SCHEDULE_SHARDS; k++) {
        size_t end = start[k];
        if (end == begin)
            continue;
        acme__sched_shard sh;
        acme__err quiet = ACME__ERR_QUIET;
        int lrc = acme__sched_load(s, k, &sh, &quiet);
        acme__err_clear(&quiet);
        if (lrc == ACME_ERR_NOT_FOUND || lrc == ACME_ERR_CORRUPT) {
            free(names);
            names = malloc((end - begin) * sizeof(*names));
            if (!names) {
                rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
                break;
            }
            for (size_t j = begin; j < end; j++)
                names[j - begin] = name_of(order[j], userdata);
            /* Best effort: without it the names only look due. */
            if (acme__sched_rebuild(s, k, names, end - begin, next_of, next_userdata,
                                    lock_timeout_s, NULL, &quiet) == ACME_OK)
                lrc = acme__sched_load(s, k, &sh, &quiet);
            acme__err_clear(&quiet);
        }
        for (size_t j = begin; j < end; j++)
            visit(order[j], lrc == ACME_OK ? acme__sched_find(&sh, name_of(order[j], userdata))
                                           : NULL,
                  userdata);
        if (lrc == ACME_OK)
            acme__sched_shard_free(&sh);
        begin = end;
    }
    free(names);
    free(shard_of);
    free(order);
    free(start);
    return rc;
}
