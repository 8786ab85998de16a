/* The session: where the state lives, what was remembered there, and the
 * provider, store and account every command needs.
 *
 * Nothing here creates anything until cli_open_store(): commands validate
 * their whole command line first, so that a bad invocation leaves no trace. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acmectl.h"

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        error_msg("out of memory");
        exit(EXIT_FAIL);
    }
    return p;
}

void *xrealloc(void *p, size_t n, size_t size)
{
    if (size && n > (size_t)-1 / size) {
        error_msg("out of memory");
        exit(EXIT_FAIL);
    }
    size_t bytes = n * size;
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q) {
        error_msg("out of memory");
        exit(EXIT_FAIL);
    }
    return q;
}

char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d) {
        error_msg("out of memory");
        exit(EXIT_FAIL);
    }
    return d;
}

char *read_text_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = xcalloc(1, cap + 1);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        if (cap >= max) {
            free(buf);
            fclose(f);
            errno = EFBIG;
            return NULL;
        }
        cap *= 2;
        buf = xrealloc(buf, cap + 1, 1);
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char *derive_cert_name(const char *first_id)
{
    char *name = xstrdup(first_id);
    for (char *p = name; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
        else if (*p == '*' || *p == ':')
            *p = '_';
    }
    return name;
}

int cert_name_ok(const char *name)
{
    return acme_desire_name_valid(name);
}

int check_email(const char *email)
{
    const char *at = email ? strchr(email, '@') : NULL;
    if (!at || at == email || !at[1] || strchr(at + 1, '@'))
        return usage_error("\"%s\" is not an e-mail address", email ? email : "");
    for (const char *p = email; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == ',' || *p == '"' || *p == '<' || *p == '>')
            return usage_error("\"%s\" is not an e-mail address", email);
    if (strncmp(email, "mailto:", 7) == 0)
        return usage_error("give the e-mail address without \"mailto:\"");
    return EXIT_OK;
}

/* ---- global options ------------------------------------------------------------- */

const opt_spec global_options[] = {
    { "directory", 0, 1, G_DIRECTORY },
    { "staging", 0, 0, G_STAGING },
    { "ca-bundle", 0, 1, G_CA_BUNDLE },
    { "state", 0, 1, G_STATE },
    { "key-type", 0, 1, G_KEY_TYPE },
    { "verbose", 'v', 0, G_VERBOSE },
    { "quiet", 'q', 0, G_QUIET },
    { "help", 'h', 0, G_HELP },
    { "version", 'V', 0, G_VERSION },
    /* store_url.c */
    { "store", 0, 1, G_STORE },         { "etcd-ca", 0, 1, G_ETCD_CA },
    { "etcd-cert", 0, 1, G_ETCD_CERT }, { "etcd-key", 0, 1, G_ETCD_KEY },
    { "etcd-user", 0, 1, G_ETCD_USER }, { "etcd-lease-ttl", 0, 1, G_ETCD_LEASE_TTL },
    { NULL, 0, 0, 0 },
};

int cli_global_option(cli *c, int id, const char *value)
{
    switch (id) {
    case G_DIRECTORY:
        if (strncmp(value, "https://", 8) != 0)
            return usage_error("--directory needs an https:// URL, not \"%s\"", value);
        if (c->directory_opt) { /* again: the next issuer when the first cannot serve */
            if (c->nfallbacks == MAX_FALLBACKS)
                return usage_error("--directory: at most %d fallback directories", MAX_FALLBACKS);
            c->fallbacks[c->nfallbacks++] = value;
            return EXIT_OK;
        }
        c->directory_opt = value;
        return EXIT_OK;
    case G_STAGING:
        c->directory_opt = LE_STAGING;
        return EXIT_OK;
    case G_CA_BUNDLE:
        if (access(value, R_OK) != 0)
            return usage_error("--ca-bundle %s: %s", value, strerror(errno));
        c->ca_bundle_opt = value;
        return EXIT_OK;
    case G_STATE:
        if (!*value)
            return usage_error("--state needs a directory");
        c->state_opt = value;
        return EXIT_OK;
    case G_KEY_TYPE: {
        int t = acme_key_type_from_name(value);
        if (t < 0)
            return usage_error("unknown key type \"%s\" (ec256, ec384, rsa2048, rsa3072, rsa4096)",
                               value);
        c->key_type = t;
        return EXIT_OK;
    }
    case G_VERBOSE:
        c->verbosity = c->verbosity < V_NORMAL ? V_NORMAL : V_VERBOSE;
        out_init(c->verbosity);
        return EXIT_OK;
    case G_QUIET:
        c->verbosity = V_QUIET;
        out_init(c->verbosity);
        return EXIT_OK;
    case G_HELP:
        print_usage();
        exit(EXIT_OK);
    case G_VERSION:
        printf("acmectl %s (libacme %s)\n", ACME_VERSION_STRING, acme_version_string());
        exit(EXIT_OK);
    default:
        return cli_store_option(c, id, value);
    }
}

/* ---- state dir and remembered settings ---------------------------------------------------- */

static char *default_state_dir(void)
{
    const char *env = getenv("ACMECTL_STATE");
    if (env && *env)
        return xstrdup(env);
    if (geteuid() == 0)
        return xstrdup("/var/lib/acmectl");
    char buf[4096];
    const char *xdg = getenv("XDG_STATE_HOME");
    if (xdg && xdg[0] == '/') {
        snprintf(buf, sizeof(buf), "%s/acmectl", xdg);
        return xstrdup(buf);
    }
    const char *home = getenv("HOME");
    if (home && home[0] == '/') {
        snprintf(buf, sizeof(buf), "%s/.local/state/acmectl", home);
        return xstrdup(buf);
    }
    return NULL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* <state>/acmectl.conf: "key = value" lines, '#' comments. Unknown keys
 * are ignored (a later acmectl may add some). */
static int read_conf(cli *c)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", c->state_dir, CONF_FILE);
    char *text = cli_store_remote(c) ? cli_store_read(c, CONF_FILE)
                                     : read_text_file(path, RECORD_MAX, NULL);
    if (!text) {
        if (cli_store_remote(c) || errno == ENOENT)
            return EXIT_OK;
        error_msg("%s: %s", path, strerror(errno));
        return EXIT_FAIL;
    }
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *l = trim(line);
        if (!*l || *l == '#')
            continue;
        char *eq = strchr(l, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *k = trim(l), *v = trim(eq + 1);
        char **slot = strcmp(k, "email") == 0       ? &c->conf.email
                      : strcmp(k, "directory") == 0 ? &c->conf.directory
                      : strcmp(k, "ca-bundle") == 0 ? &c->conf.ca_bundle
                                                    : NULL;
        if (slot && *v) {
            free(*slot);
            *slot = xstrdup(v);
        }
    }
    free(text);
    return EXIT_OK;
}

int cli_resolve(cli *c)
{
    c->state_dir = cli_store_remote(c) ? xstrdup(c->store_url)
                   : c->state_opt      ? xstrdup(c->state_opt)
                                       : default_state_dir();
    if (!c->state_dir) {
        error_msg("no state directory: give --state DIR or set ACMECTL_STATE");
        return EXIT_USAGE;
    }
    struct stat st;
    if (cli_store_remote(c)) {
        int rc = cli_open_remote(c);
        if (rc == EXIT_OK)
            rc = read_conf(c);
        if (rc != EXIT_OK)
            return rc;
    } else if (stat(c->state_dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return usage_error("state %s is not a directory", c->state_dir);
        c->state_exists = 1;
        int rc = read_conf(c);
        if (rc != EXIT_OK)
            return rc;
    }
    c->directory = c->directory_opt ? c->directory_opt
                   : c->conf.directory ? c->conf.directory
                                       : LE_PRODUCTION;
    /* The remembered CA bundle belongs to the remembered directory. */
    if (c->ca_bundle_opt)
        c->ca_bundle = c->ca_bundle_opt;
    else if (c->conf.ca_bundle && c->conf.directory && strcmp(c->directory, c->conf.directory) == 0)
        c->ca_bundle = c->conf.ca_bundle;
    const char *now = getenv("ACMECTL_NOW");
    if (now && *now) {
        unsigned long v;
        if (parse_ulong(now, 1, TIME_MAX, &v) != 0)
            return usage_error("ACMECTL_NOW=%s is not a time in seconds since 1970", now);
        c->have_clock = 1;
        c->now = (int64_t)v;
    }
    return EXIT_OK;
}

int cli_require_state(cli *c)
{
    if (c->state_exists)
        return EXIT_OK;
    error_msg("no state in %s (run: acmectl register EMAIL --agree-tos)", c->state_dir);
    return EXIT_FAIL;
}

const char *cli_email(const cli *c, const char *given)
{
    return given ? given : c->conf.email;
}

void cli_provider_options(const cli *c, acme_provider_options *po)
{
    acme_provider_options_init(po, ACME_PROVIDER_OPTIONS_VERSION);
    po->ca_bundle = c->ca_bundle;
    po->user_agent = "acmectl";
    po->log = out_library_log;
    po->log_level = c->verbosity >= V_VERBOSE ? ACME_LOG_DEBUG : ACME_LOG_INFO;
}

int cli_open_provider(cli *c)
{
    acme_provider_options po;
    cli_provider_options(c, &po);
    detail("directory %s%s%s", c->directory, c->ca_bundle ? ", trusting " : "",
           c->ca_bundle ? c->ca_bundle : "");
    if (acme_provider_new(&c->provider, c->directory, &po) != ACME_OK)
        return fail_with(c->directory, acme_last_error(), acme_last_problem());
    return EXIT_OK;
}

int cli_open_store(cli *c)
{
    if (cli_store_remote(c))
        return cli_open_remote(c);
    if (acme_store_new_fs(&c->store, c->state_dir) != ACME_OK) {
        error_msg("state %s: %s", c->state_dir, acme_last_error());
        return EXIT_FAIL;
    }
    c->state_exists = 1;
    return EXIT_OK;
}

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int cli_save_conf(cli *c, const char *email)
{
    /* The CA bundle is remembered with the directory it serves. */
    const char *bundle = c->ca_bundle;
    char *abs_bundle = NULL;
    if (bundle && bundle[0] != '/') {
        abs_bundle = realpath(bundle, NULL);
        if (abs_bundle)
            bundle = abs_bundle;
    }
    if (same(email, c->conf.email) && same(c->directory, c->conf.directory) &&
        same(bundle, c->conf.ca_bundle)) {
        free(abs_bundle);
        return EXIT_OK;
    }
    char text[8192];
    snprintf(text, sizeof(text),
             "# acmectl: the account and CA used when none is given (see acmectl(1)).\n"
             "email = %s\ndirectory = %s\n%s%s%s",
             email, c->directory, bundle ? "ca-bundle = " : "", bundle ? bundle : "",
             bundle ? "\n" : "");
    int rc = acme_store_put(c->store, CONF_FILE, text, strlen(text), 0);
    free(abs_bundle);
    if (rc != ACME_OK) {
        error_msg("saving %s: %s", CONF_FILE, acme_last_error());
        return EXIT_FAIL;
    }
    free(c->conf.email);
    c->conf.email = xstrdup(email);
    detail("remembered %s at %s in %s/%s", email, c->directory, c->state_dir, CONF_FILE);
    return EXIT_OK;
}

char *cli_state_path(const cli *c, const char *key)
{
    size_t n = strlen(c->state_dir) + strlen(key) + 2;
    char *path = xcalloc(n, 1);
    snprintf(path, n, "%s/%s", c->state_dir, key);
    return path;
}

/* The path of an account file of email at the effective CA, or NULL. */
static char *account_file(const cli *c, const char *email, int file)
{
    char *key = NULL;
    if (acme_store_account_key(c->directory, email, file, &key) != ACME_OK)
        return NULL;
    char *path = cli_state_path(c, key);
    acme_free(key);
    return path;
}

char *cli_cert_file(const cli *c, const char *name, int file)
{
    char *key = NULL;
    if (acme_store_cert_key(name, file, &key) != ACME_OK)
        return NULL;
    char *path = cli_state_path(c, key);
    acme_free(key);
    return path;
}

int cli_account_stored(const cli *c, const char *email)
{
    if (!c->state_exists || !email)
        return 0;
    char *key_path = account_file(c, email, ACME_STORE_FILE_KEY);
    char *json_path = account_file(c, email, ACME_STORE_FILE_META);
    char *json = cli_store_remote(c) ? cli_store_account_json(c, email)
                 : key_path && json_path && access(key_path, R_OK) == 0
                     ? read_text_file(json_path, RECORD_MAX, NULL)
                     : NULL;
    int found = 0;
    if (json) {
        char needle[2200];
        snprintf(needle, sizeof(needle), "\"directory\":\"%s\"", c->directory);
        found = strstr(json, needle) != NULL;
    }
    free(json);
    free(key_path);
    free(json_path);
    return found;
}

/* The path of the account key under `ca` and `em` if it is `thumbprint`'s,
 * else NULL. The names listed under accounts are segments already, which
 * acme_store_account_key keeps as they are. */
static char *key_file_if(const cli *c, const char *ca, const char *em, const char *thumbprint)
{
    char *key = NULL;
    if (acme_store_account_key(ca, em, ACME_STORE_FILE_KEY, &key) != ACME_OK)
        return NULL;
    char *path = cli_state_path(c, key);
    acme_free(key);
    acme_key *k = NULL;
    char *tp = NULL;
    int match = acme_key_load_file(&k, path) == ACME_OK && acme_key_thumbprint(k, &tp) == ACME_OK &&
                strcmp(tp, thumbprint) == 0;
    acme_free(tp);
    acme_key_free(k);
    if (!match) {
        free(path);
        path = NULL;
    }
    return path;
}

char *cli_find_account_key_file(const cli *c, const acme_key *key)
{
    char *tp = NULL;
    if (cli_store_remote(c) || acme_key_thumbprint(key, &tp) != ACME_OK)
        return NULL; /* etcd: no key files (rollover needs a directory store) */
    char *found = NULL;
    char *base = cli_state_path(c, ACME_STORE_ACCOUNTS);
    DIR *cas = opendir(base);
    struct dirent *ca;
    while (cas && !found && (ca = readdir(cas))) {
        if (ca->d_name[0] == '.')
            continue;
        size_t n = strlen(base) + strlen(ca->d_name) + 2;
        char *cadir = xcalloc(n, 1);
        snprintf(cadir, n, "%s/%s", base, ca->d_name);
        DIR *ems = opendir(cadir);
        struct dirent *em;
        while (ems && !found && (em = readdir(ems)))
            if (em->d_name[0] != '.')
                found = key_file_if(c, ca->d_name, em->d_name, tp);
        if (ems)
            closedir(ems);
        free(cadir);
    }
    if (cas)
        closedir(cas);
    free(base);
    acme_free(tp);
    return found;
}

int cli_restore_account(cli *c, const char *email, acme_account **out)
{
    int rc = acme_account_restore(out, c->provider, c->store, email);
    if (rc == ACME_OK)
        return EXIT_OK;
    if (rc == ACME_ERR_NOT_FOUND) {
        error_msg("no account stored for %s at %s (run: acmectl register %s --agree-tos)", email,
                  c->directory, email);
        return EXIT_FAIL;
    }
    return fail_with("account", acme_last_error(), acme_last_problem());
}

void cli_desire_options(const cli *c, acme_desire_options *o)
{
    acme_desire_options_init(o, ACME_DESIRE_OPTIONS_VERSION);
    o->account_key_type = c->key_type;
}

void cli_close(cli *c)
{
    acme_store_free(c->store);
    acme_provider_free(c->provider);
    free(c->state_dir);
    free(c->conf.email);
    free(c->conf.directory);
    free(c->conf.ca_bundle);
    memset(c, 0, sizeof(*c));
}
