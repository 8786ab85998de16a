/* Want files: what `acmectl ensure --wants PATH` should hold.
 *
 * A want FILE has one certificate per line:
 *
 *   # comment
 *   [NAME:] IDENTIFIER... [key=TYPE] [reuse-key=yes|no] [solver=SOLVER]
 *           [profile=NAME | prefer-profile=NAME]
 *                         [challenge=TYPE[,TYPE...]] [webroot=DIR] [hook=PROG]
 *
 *   www.example.com                      -> certificate "www.example.com" for
 *                                           www.example.com and example.com
 *   shop: shop.example.com api.example.com key=rsa2048
 *   wild: *.example.net solver=hook hook=/etc/acmectl/dns-hook challenge=dns-01
 *
 * NAME (letters, digits, "._-@+") is the certificate's name in the state
 * dir; without it the first identifier is the name ("*" written "_").
 * IDENTIFIERs are DNS names, wildcards "*.example.com" or IP addresses.
 * key= is the certificate key type (ec256, ec384, rsa2048, rsa3072,
 * rsa4096); reuse-key=yes keeps the certificate key across renewals
 * (reuse-key=no: a new key for each, the default, whatever --reuse-key
 * says); solver=, challenge=, webroot= and hook= override the command's
 * --solver, --challenge, --webroot and --hook for this certificate (hook=
 * implies solver=hook and webroot= implies solver=webroot).
 *
 * A want DIRECTORY holds one certificate per file: every "*.want" file in
 * it (other files are ignored), named after the file without ".want"; its
 * non-comment lines are joined, so identifiers may be one per line, and a
 * "NAME:" prefix is not allowed.
 *
 * Every error names FILE:LINE and nothing is done (exit status 2). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "acmectl.h"

/* Far above any real want file: a wrong path is refused rather than read whole. */
#define MAX_WANT_FILE (1024 * 1024)
/* In a want directory only these files count, so others can sit beside them. */
#define WANT_SUFFIX ".want"
#define WANT_SUFFIX_LEN (sizeof(WANT_SUFFIX) - 1)

static const char *keep(want *w, const char *s)
{
    w->strings = xrealloc(w->strings, w->nstrings + 1, sizeof(char *));
    return w->strings[w->nstrings++] = xstrdup(s);
}

static void want_clear(want *w)
{
    free(w->name);
    for (size_t i = 0; i < w->nids; i++)
        free(w->ids[i]);
    free(w->ids);
    for (size_t i = 0; i < w->nstrings; i++)
        free(w->strings[i]);
    free(w->strings);
    free(w->where);
    memset(w, 0, sizeof(*w));
}

void wants_free(want_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        want_clear(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* One token of a want line into w; EXIT_OK or EXIT_USAGE. */
static int take_token(want *w, char *tok, const char *where, int first, int allow_name)
{
    size_t len = strlen(tok);
    char *eq = strchr(tok, '=');
    if (eq) {
        *eq = '\0';
        const char *k = tok, *v = eq + 1;
        if (!*v)
            return usage_error("%s: %s= needs a value", where, k);
        if (strcmp(k, "key") == 0) {
            int t = acme_key_type_from_name(v);
            if (t < 0)
                return usage_error("%s: unknown key type \"%s\"", where, v);
            w->key_type = t;
        } else if (strcmp(k, "reuse-key") == 0) {
            if (strcmp(v, "yes") == 0)
                w->reuse_key = WANT_REUSE_YES;
            else if (strcmp(v, "no") == 0)
                w->reuse_key = WANT_REUSE_NO;
            else
                return usage_error("%s: reuse-key= takes yes or no, not \"%s\"", where, v);
        } else if (strcmp(k, "solver") == 0) {
            w->sc.kind = solver_kind_from_name(v);
            if (!w->sc.kind)
                return usage_error("%s: unknown solver \"%s\" (standalone, webroot, hook)", where,
                                   v);
        } else if (strcmp(k, "challenge") == 0) {
            char *list = (char *)keep(w, v), *save = NULL;
            for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                int rc = solver_add_type(&w->sc, t, where);
                if (rc != EXIT_OK)
                    return rc;
            }
        } else if (strcmp(k, "webroot") == 0) {
            w->sc.webroot = keep(w, v);
        } else if (strcmp(k, "hook") == 0) {
            w->sc.hook = keep(w, v);
        } else if (strcmp(k, "profile") == 0 || strcmp(k, "prefer-profile") == 0) {
            w->profile = keep(w, v);
            w->profile_mandatory = strcmp(k, "profile") == 0;
        } else {
            return usage_error("%s: unknown setting \"%s=\" (key, reuse-key, solver, challenge, "
                               "webroot, hook, profile, prefer-profile)", where, k);
        }
        return EXIT_OK;
    }
    /* "NAME:" first; an IPv6 address ending in "::" is no name. */
    if (first && len > 1 && tok[len - 1] == ':' && !memchr(tok, ':', len - 1)) {
        tok[len - 1] = '\0';
        if (!allow_name)
            return usage_error("%s: \"%s:\": in a want directory the file name is the "
                               "certificate name", where, tok);
        if (!cert_name_ok(tok))
            return usage_error("%s: \"%s\" is not a usable certificate name (letters, digits, "
                               "\"._-@+\")", where, tok);
        w->name = xstrdup(tok);
        return EXIT_OK;
    }
    if (acme_identifier_check(NULL, tok) != ACME_OK)
        return usage_error("%s: %s", where, acme_last_error());
    w->ids = xrealloc(w->ids, w->nids + 1, sizeof(char *));
    w->ids[w->nids++] = xstrdup(tok);
    return EXIT_OK;
}

static int add_want(want_list *l, want *w)
{
    if (!w->nids)
        return usage_error("%s: no identifiers", w->where);
    if (!w->name)
        w->name = derive_cert_name(w->ids[0]);
    if (!cert_name_ok(w->name))
        return usage_error("%s: \"%s\" is not a usable certificate name", w->where, w->name);
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].name, w->name) == 0)
            return usage_error("%s: certificate \"%s\" is already wanted at %s", w->where, w->name,
                               l->v[i].where);
    l->v = xrealloc(l->v, l->n + 1, sizeof(*l->v));
    l->v[l->n++] = *w;
    memset(w, 0, sizeof(*w));
    return EXIT_OK;
}

static void set_where(want *w, const char *file, unsigned int line)
{
    char buf[4200];
    snprintf(buf, sizeof(buf), "%s:%u", file, line);
    free(w->where);
    w->where = xstrdup(buf);
}

/* Parse `text` of `file`: one certificate per line (per_line), or the
 * whole file as one certificate called `name`. */
static int parse_text(want_list *l, const char *file, char *text, int per_line, const char *name)
{
    want w;
    memset(&w, 0, sizeof(w));
    unsigned int lineno = 0;
    int rc = EXIT_OK;
    char *line = text;
    while (rc == EXIT_OK && line) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *save = NULL;
        int first = 1;
        int any = 0;
        for (char *tok = strtok_r(line, " \t\r\f\v", &save); rc == EXIT_OK && tok;
             tok = strtok_r(NULL, " \t\r\f\v", &save)) {
            if (!any && (per_line || !w.where))
                set_where(&w, file, lineno);
            any = 1;
            char where[4200];
            snprintf(where, sizeof(where), "%s:%u", file, lineno);
            rc = take_token(&w, tok, where, first, per_line);
            first = 0;
        }
        if (rc == EXIT_OK && any && per_line)
            rc = add_want(l, &w);
        line = next;
    }
    if (rc == EXIT_OK && !per_line) {
        if (!w.where)
            set_where(&w, file, 1);
        w.name = xstrdup(name);
        rc = add_want(l, &w);
    }
    want_clear(&w);
    return rc;
}

static int load_file(want_list *l, const char *path, int per_line, const char *name)
{
    char *text = read_text_file(path, MAX_WANT_FILE, NULL);
    if (!text)
        return usage_error("want file %s: %s", path, strerror(errno));
    int rc = parse_text(l, path, text, per_line, name);
    free(text);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int wants_load(const char *path, want_list *out)
{
    memset(out, 0, sizeof(*out));
    struct stat st;
    if (stat(path, &st) != 0)
        return usage_error("wants %s: %s", path, strerror(errno));
    int rc = EXIT_OK;
    if (!S_ISDIR(st.st_mode)) {
        rc = load_file(out, path, 1, NULL);
    } else {
        DIR *d = opendir(path);
        if (!d)
            return usage_error("wants %s: %s", path, strerror(errno));
        char **files = NULL;
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (e->d_name[0] == '.' || len <= WANT_SUFFIX_LEN ||
                strcmp(e->d_name + len - WANT_SUFFIX_LEN, WANT_SUFFIX) != 0)
                continue;
            files = xrealloc(files, n + 1, sizeof(char *));
            files[n++] = xstrdup(e->d_name);
        }
        closedir(d);
        qsort(files, n, sizeof(char *), by_name);
        for (size_t i = 0; i < n; i++) {
            char full[4200];
            snprintf(full, sizeof(full), "%s/%s", path, files[i]);
            files[i][strlen(files[i]) - WANT_SUFFIX_LEN] = '\0';
            if (rc == EXIT_OK && (stat(full, &st) != 0 || !S_ISREG(st.st_mode)))
                continue;
            if (rc == EXIT_OK && !cert_name_ok(files[i]))
                rc = usage_error("%s: \"%s\" is not a usable certificate name (letters, digits, "
                                 "\"._-@+\")", full, files[i]);
            if (rc == EXIT_OK)
                rc = load_file(out, full, 0, files[i]);
        }
        for (size_t i = 0; i < n; i++)
            free(files[i]);
        free(files);
    }
    if (rc == EXIT_OK && out->n == 0)
        rc = usage_error("wants %s: no certificates wanted", path);
    if (rc != EXIT_OK)
        wants_free(out);
    return rc;
}
