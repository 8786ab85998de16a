/*
 * acmectl: the example command-line client of libacme. It uses only the
 * public API (<acme.h>). This header ties its files together:
 *
 *   main.c      global options, command dispatch, --help, --version
 *   args.c      a small argument parser (long and short options)
 *   output.c    progress, errors, and the library's log callback
 *   session.c   state dir, remembered settings, provider, store, account
 *   accounts.c  register, account, recover, update-contact, rollover, deactivate
 *   issue.c     issue
 *   batch.c     ensure, renew and status, the deploy hook
 *   wants.c     the want-file format
 *   solvers.c   standalone, webroot and hook solvers
 *   hook.c      running hook programs (challenge hooks, deploy hooks)
 *   dns.c       the rfc2136 solver and the DNS propagation check
 *   revoke.c    revoke
 *   token.c     keys in a PKCS#11 token (--account-key, --cert-key pkcs11:...)
 *   store_url.c --store: a directory or etcd, and reads through the store
 */
#ifndef ACMECTL_H
#define ACMECTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <acme.h>

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* Exit status, documented in --help and acmectl(1). */
#define EXIT_OK 0    /* success, including "nothing was due" */
#define EXIT_FAIL 1  /* something failed: the CA refused, a certificate failed, a hook failed */
#define EXIT_USAGE 2 /* bad command line or want file: nothing was done */

#define LE_PRODUCTION "https://acme-v02.api.letsencrypt.org/directory"
#define LE_STAGING "https://acme-staging-v02.api.letsencrypt.org/directory"
#define CONF_FILE "acmectl.conf"

/* Latest time accepted, 9999-12-31T23:59:59Z: dates print with four-digit years. */
#define TIME_MAX 253402300799UL
/* Largest settings or account record read: they are a few lines. */
#define RECORD_MAX 65536

/* ---- output.c --------------------------------------------------------- */

enum { V_QUIET = 0, V_NORMAL = 1, V_VERBOSE = 2 };

void out_init(int verbosity);
int out_verbosity(void);
/* A progress line on stderr (default verbosity). */
void say(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* A detail line on stderr (-v only). */
void detail(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* A warning on stderr (hidden by -q). */
void warn_msg(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* An error on stderr (always shown). */
void error_msg(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* Print "acmectl: <reason> (see acmectl --help)" and return EXIT_USAGE. */
int usage_error(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* The library's log callback (acme_provider_options.log). */
void out_library_log(int level, const char *message, void *userdata);
/* Text of a CA problem ("type: detail" with subproblems) appended to buf. */
void out_problem(const acme_problem *p, char *buf, size_t size);
/* Report a failed library call: what, the message and the CA's problem. */
int fail_with(const char *what, const char *message, const acme_problem *problem);

/* ---- args.c ----------------------------------------------------------- */

typedef struct opt_spec {
    const char *name; /* long name without "--" */
    char short_name;  /* 0: none */
    int has_arg;
    int id;           /* > 0 */
} opt_spec;

typedef struct arg_parser {
    int argc;
    char **argv;
    int i;          /* next argv index */
    int permute;    /* positionals may come between options */
    int stop;       /* "--" seen: the rest are positionals */
    const char *bundle; /* rest of a bundle of short options ("-vq") */
} arg_parser;

#define ARG_END (-1)
#define ARG_ERROR (-2)
#define ARG_POSITIONAL 0

void args_init(arg_parser *p, int argc, char **argv, int first, int permute);
/*
 * The next option (its id; *value is its argument or NULL), a positional
 * (ARG_POSITIONAL, *value), ARG_END, or ARG_ERROR after printing a usage
 * error. Options are looked up in the NULL-terminated list of tables.
 */
int args_next(arg_parser *p, const opt_spec *const *tables, const char **value);
/* Parse a decimal number in [min, max]; 0 on success. */
int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* ---- session.c -------------------------------------------------------- */

typedef struct conf {
    char *email;
    char *directory;
    char *ca_bundle;
} conf;

/* Global options and what the session opened. */
/* --directory given again: fallback issuers, at most this many. */
#define MAX_FALLBACKS 8

typedef struct cli {
    const char *directory_opt; /* --directory / --staging */
    const char *fallbacks[MAX_FALLBACKS]; /* later --directory options, in order */
    size_t nfallbacks;
    const char *ca_bundle_opt; /* --ca-bundle */
    const char *state_opt;     /* --state */
    int key_type;              /* --key-type; 0: not given */
    int verbosity;

    char *state_dir;           /* resolved */
    int state_exists;
    conf conf;                 /* <state>/acmectl.conf */
    const char *directory;     /* effective directory URL */
    const char *ca_bundle;     /* effective CA bundle, or NULL */
    int have_clock;            /* ACMECTL_NOW was set */
    int64_t now;

    acme_provider *provider;
    acme_store *store;

    const char *store_url;     /* --store etcd://...: the state is in etcd */
    const char *etcd_ca, *etcd_cert, *etcd_key, *etcd_user;
    unsigned int etcd_lease_ttl; /* 0: the library's */
} cli;

/* Global option ids (shared with commands, which accept them too). */
enum {
    G_DIRECTORY = 1000, G_STAGING, G_CA_BUNDLE, G_STATE, G_KEY_TYPE, G_VERBOSE, G_QUIET,
    G_STORE, G_ETCD_CA, G_ETCD_CERT, G_ETCD_KEY, G_ETCD_USER, G_ETCD_LEASE_TTL, /* store_url.c */
    G_HELP, G_VERSION /* last: commands pass G_DIRECTORY..G_VERSION on */
};
extern const opt_spec global_options[];
/* Apply a global option; EXIT_OK or EXIT_USAGE. G_HELP prints help. */
int cli_global_option(cli *c, int id, const char *value);
void print_usage(void);

/* Resolve the state dir and read the remembered settings: creates nothing. */
int cli_resolve(cli *c);
/* EXIT_FAIL with a message unless the state dir exists. */
int cli_require_state(cli *c);
/* The account's e-mail: `given`, else the remembered one; NULL if none. */
const char *cli_email(const cli *c, const char *given);
/* Provider options as every command sets them (bundle, log, user agent). */
void cli_provider_options(const cli *c, acme_provider_options *po);
/* Connect to the CA. */
int cli_open_provider(cli *c);
/* Open (create) the store at the state dir. */
int cli_open_store(cli *c);
/* Remember e-mail, directory and CA bundle in <state>/acmectl.conf (if changed). */
int cli_save_conf(cli *c, const char *email);
/* <state>/KEY: where the store keeps KEY, known before the store is opened
 * (malloc'd). */
char *cli_state_path(const cli *c, const char *key);
/* The path of a file (ACME_STORE_FILE_*) of the stored certificate `name`
 * (malloc'd), or NULL for an invalid name. */
char *cli_cert_file(const cli *c, const char *name, int file);
/* Non-zero when an account for `email` at the effective directory is stored. */
int cli_account_stored(const cli *c, const char *email);
/* The path of the stored account key file holding `key` (malloc'd), or NULL. */
char *cli_find_account_key_file(const cli *c, const acme_key *key);
/* Restore the stored account of `email` and verify it with the CA. */
int cli_restore_account(cli *c, const char *email, acme_account **out);
void cli_close(cli *c);
/* Options of acme_desire_options every command sets the same way. */
void cli_desire_options(const cli *c, acme_desire_options *o);
/* strdup that exits on failure (the CLI has no use for half a result). */
char *xstrdup(const char *s);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n, size_t size);
/* Read a whole file (NUL-terminated, malloc'd); NULL with errno set. */
char *read_text_file(const char *path, size_t max, size_t *len);
/* Write `text` to `path` atomically (temporary file, fsync, rename) with
 * `mode`; 0, or -1 with errno (issue.c). */
int write_file_atomic(const char *path, const char *text, mode_t mode);
/* Certificate name from the first identifier: lower case, "*" and ":" as "_". */
char *derive_cert_name(const char *first_id);
/* Non-zero when `name` is usable as a certificate name (a store segment). */
int cert_name_ok(const char *name);
/* Validate an e-mail address given on the command line; EXIT_OK or EXIT_USAGE. */
int check_email(const char *email);

/* ---- store_url.c ------------------------------------------------------ */

/* Apply --store or an --etcd-* option; EXIT_OK or EXIT_USAGE. */
int cli_store_option(cli *c, int id, const char *value);
/* Non-zero when the state is in etcd (--store etcd://...). */
int cli_store_remote(const cli *c);
/* Open the etcd store (once); EXIT_OK or EXIT_FAIL with a message. */
int cli_open_remote(cli *c);
/* The value of `key` in the open store as a malloc'd string, or NULL. */
char *cli_store_read(const cli *c, const char *key);
/* Non-zero when the certificate `name` is stored (its metadata exists). */
int cli_cert_stored(const cli *c, const char *name);
/* etcd: account.json of `email` at the effective CA when its key is
 * stored too (malloc'd), or NULL. */
char *cli_store_account_json(const cli *c, const char *email);
/* rollover on the etcd store: the new key goes to the store, first beside
 * the account key, then over it once the CA switched. */
int cli_store_rollover(cli *c, acme_account *account, const char *stored_as);
/* Where the open store keeps `key`: its path, or the etcd URL of it (malloc'd). */
char *cli_store_location(const cli *c, const char *key);

/* ---- hook.c ----------------------------------------------------------- */

/*
 * Run argv[0] (no shell) with argv, extra environment entries "NAME=value"
 * (NULL-terminated, may be NULL), stdin from /dev/null and stdout to our
 * stderr; wait for it. Returns 0 and *status (the exit code, or 128 + the
 * signal) when it ran, -1 with a message in err when it could not start.
 */
int run_program(const char *const *argv, const char *const *env, int *status, char *err,
                size_t errlen);
/* Non-zero when `path` is an executable regular file. */
int is_executable(const char *path);

typedef struct hook_ctx hook_ctx;
hook_ctx *hook_ctx_new(const char *prog, const char *cert);
void hook_ctx_free(hook_ctx *h);
/* acme_solver_present_fn: runs PROG begin TYPE IDENT TOKEN AUTH. */
int hook_present(const acme_challenge *ch, void *userdata);
/* acme_solver_cleanup_fn: runs PROG done|failed TYPE IDENT TOKEN AUTH. */
void hook_cleanup(const acme_challenge *ch, void *userdata);

/* ---- solvers.c -------------------------------------------------------- */

enum { SOLVER_UNSET = 0, SOLVER_STANDALONE, SOLVER_WEBROOT, SOLVER_HOOK, SOLVER_RFC2136 };
#define MAX_TYPES 8

typedef struct solver_conf {
    int kind;
    const char *types[MAX_TYPES]; /* order of preference; borrowed strings */
    size_t ntypes;
    const char *webroot;
    const char *hook;
} solver_conf;

/* The DNS options (dns.c). */
typedef struct dns_opts {
    const char *server;     /* --dns-server HOST[:PORT] */
    const char *tsig_key;   /* --tsig-key FILE */
    unsigned int wait_s;    /* --dns-wait */
    int no_wait;            /* --no-dns-wait */
    const char *resolver;   /* --dns-resolver HOST[:PORT] */
    unsigned int ns_port;   /* --dns-ns-port; 0: 53 */
} dns_opts;

/* Command-line options shared by issue, ensure and renew. */
typedef struct solver_opts {
    solver_conf sc;
    dns_opts dns;
    unsigned int http_port;
    unsigned int tls_port;
    const char *listen;
} solver_opts;

/* S_LISTEN stays last: callers route the range S_SOLVER..S_LISTEN here. */
enum {
    S_SOLVER = 2000, S_CHALLENGE, S_HTTP_PORT, S_TLS_PORT, S_WEBROOT, S_HOOK,
    S_DNS_SERVER, S_TSIG_KEY, S_DNS_WAIT, S_NO_DNS_WAIT, S_DNS_RESOLVER, S_DNS_NS_PORT,
    S_LISTEN
};
extern const opt_spec solver_options[];
void solver_opts_init(solver_opts *so);
/* Handle a solver option; EXIT_OK or EXIT_USAGE. */
int solver_opt(solver_opts *so, int id, const char *value);
int solver_kind_from_name(const char *name);
const char *solver_kind_name(int kind);
/* Fill what `sc` leaves unset from `def`, then the defaults. */
void solver_conf_merge(solver_conf *sc, const solver_conf *def);
/* Check a complete solver configuration for the identifiers; `where` prefixes messages. */
int solver_conf_check(const solver_conf *sc, const char *const *ids, size_t n, const char *where);
/* Add one challenge type to a preference list; EXIT_OK or EXIT_USAGE. */
int solver_add_type(solver_conf *sc, const char *type, const char *where);

typedef struct solver_env solver_env;
solver_env *solver_env_new(const solver_opts *so);
/*
 * Start the standalone responders the configurations need. With `strict`,
 * a port that cannot be bound is a failure (EXIT_FAIL); otherwise a
 * warning, and the certificates that would need it fail only if due.
 */
int solver_env_start(solver_env *e, const solver_conf *const *confs, size_t n, int strict);
/* A solver set for one certificate (owned by e). */
int solver_env_build(solver_env *e, const solver_conf *sc, const char *cert, acme_solvers **out);
void solver_env_free(solver_env *e);

/* ---- dns.c ------------------------------------------------------------ */

void dns_opts_init(dns_opts *d);
/* Handle a DNS option (S_DNS_*, S_TSIG_KEY); EXIT_OK or EXIT_USAGE. */
int dns_opt(dns_opts *d, int id, const char *value);
/* Add the rfc2136 solver (dns-01, dns-account-01) to s; EXIT_OK or EXIT_FAIL. */
int dns_add_update(const dns_opts *d, const solver_conf *sc, acme_solvers *s, const char *cert);
/* Give s's DNS solvers the propagation check unless --no-dns-wait. */
int dns_add_wait(const dns_opts *d, const solver_conf *sc, acme_solvers *s, const char *cert);

/* ---- wants.c ---------------------------------------------------------- */

typedef struct want {
    char *name;
    char **ids;
    size_t nids;
    int key_type;      /* 0: the command's default */
    int reuse_key;     /* WANT_REUSE_*: reuse-key= of the want file */
    const char *profile; /* profile= (mandatory) or prefer-profile=; NULL: the command's */
    int profile_mandatory;
    solver_conf sc;    /* unset members: the command's */
    char *where;       /* "FILE:LINE" */
    char **strings;    /* storage behind sc's borrowed strings */
    size_t nstrings;
} want;

/* A want's reuse-key= setting; unset follows the command's --reuse-key. */
enum { WANT_REUSE_UNSET = 0, WANT_REUSE_NO, WANT_REUSE_YES };

typedef struct want_list {
    want *v;
    size_t n;
} want_list;

/* Load a want file or a directory of *.want files; EXIT_OK or EXIT_USAGE. */
int wants_load(const char *path, want_list *out);
void wants_free(want_list *l);

/* ---- token.c ---------------------------------------------------------- */

#define TOKEN_MAX_CERT_KEYS 16

/* --account-key and --cert-key of issue, ensure and renew. */
typedef struct token_opts {
    const char *account_key;                     /* pkcs11: URI */
    const char *cert_key[TOKEN_MAX_CERT_KEYS];   /* pkcs11: URI or NAME=pkcs11: URI */
    size_t ncert_keys;
} token_opts;

enum { T_ACCOUNT_KEY = 6000, T_CERT_KEY };
extern const opt_spec token_options[];
/* Non-zero when spec is a pkcs11: URI. */
int token_is_uri(const char *spec);
/* Handle --account-key or --cert-key (checked, not opened); EXIT_OK or EXIT_USAGE. */
int token_opt(token_opts *t, int id, const char *value);
/* Open the key spec names: a pkcs11: URI, else a PEM key file. EXIT_OK and
 * *out, or EXIT_USAGE / EXIT_FAIL after a message naming `what`. */
int token_open_key(const char *what, const char *spec, acme_key **out);
/* Open the token keys and hand them to the desire (after its certificates
 * are added, before its account is used): those of --account-key and
 * --cert-key, which are remembered in store (NULL: not), the account key
 * for the CA of directory, and without them the keys an earlier run
 * remembered: the account key at that CA, each other name's certificate key. */
int token_apply(const token_opts *t, acme_desire *d, acme_store *store, const char *directory);
/* Non-zero when the state remembers a token account key for c's CA. */
int token_account_remembered(const cli *c);
/* Non-zero when store remembers a token key for certificate name. */
int token_remembered(acme_store *store, const char *name);
/* Open the token key remembered for name (if any) and hand it to the
 * desire, which wants name; EXIT_OK when none is remembered. */
int token_use_remembered(acme_desire *d, acme_store *store, const char *name);
/* Non-zero when a rollover command line names token keys. */
int token_rollover_wanted(int argc, char **argv);
/* rollover [--account-key pkcs11:OLD] --new-key pkcs11:NEW (OLD: the remembered one) */
int cmd_token_rollover(cli *c, int argc, char **argv);

/* ---- commands --------------------------------------------------------- */

int cmd_register(cli *c, int argc, char **argv);
int cmd_directory(cli *c, int argc, char **argv);
int cmd_persist_record(cli *c, int argc, char **argv);
/* Resolve the state, connect, open the store and restore the account of
 * email_opt (NULL: the remembered one) (accounts.c). */
int open_account(cli *c, const char *email_opt, acme_account **out, const char **email);
int cmd_account(cli *c, int argc, char **argv);
int cmd_recover(cli *c, int argc, char **argv);
int cmd_update_contact(cli *c, int argc, char **argv);
int cmd_rollover(cli *c, int argc, char **argv);
int cmd_deactivate(cli *c, int argc, char **argv);
int cmd_issue(cli *c, int argc, char **argv);
int cmd_ensure(cli *c, int argc, char **argv);
int cmd_renew(cli *c, int argc, char **argv);
int cmd_revoke(cli *c, int argc, char **argv);
int cmd_status(cli *c, int argc, char **argv);
int cmd_deploy(cli *c, int argc, char **argv);
/* Run the deploy hook for name with files it can read (a store without
 * paths, such as etcd): the current chain and key copied into a private
 * temporary directory, removed after the hook. EXIT_OK or EXIT_FAIL. */
int run_deploy_hook_from_store(const cli *c, const char *cmd, const char *name,
                               const char *event);

/* ---- batch.c (ensure, renew, and issue's common path) ------------------ */

enum {
    B_EMAIL = 3000, B_AGREE_TOS, B_EAB_KID, B_EAB_HMAC_KEY, B_PARALLEL, B_DEPLOY_HOOK, B_FORCE,
    B_NO_WWW_BASE, B_PREFERRED_CHAIN, B_WANTS, B_CSR, B_OUT, B_NAME, B_REUSE_KEY, B_DEADLINE,
    B_RESET, B_PROFILE, B_PREFER_PROFILE
};

typedef struct batch_params {
    const char *email;
    int agree_tos;
    const char *eab_kid;
    const char *eab_hmac_key;
    unsigned int parallel;
    const char *deploy_hook;
    int force;
    int reuse_key;
    int no_www_base;
    const char *preferred_chain;
    unsigned int deadline_s; /* --deadline; 0: none */
    const char *profile;   /* --profile (mandatory) or --prefer-profile */
    int profile_mandatory;
    solver_opts so;
    token_opts tk;   /* --account-key, --cert-key (token.c) */
} batch_params;

enum { MODE_ISSUE, MODE_ENSURE, MODE_RENEW };

/* The options issue, ensure and renew take alike (issue.c). */
extern const opt_spec batch_options[];
/* What only issue and ensure take: a new account's registration and a new
 * certificate's names (issue.c). */
extern const opt_spec new_options[];
/* Zero, with the solver options' defaults (issue.c). */
void batch_params_init(batch_params *bp);
/* Handle an option shared by issue, ensure and renew; EXIT_OK or EXIT_USAGE. */
int batch_opt(batch_params *bp, int id, const char *value);
/* Check the account options and that an account exists or may be made. */
int batch_check_account(cli *c, const batch_params *bp, const char **email);
/* After the provider is open: the CA's terms and EAB requirements. */
int batch_check_ca(cli *c, const batch_params *bp, const char *email);
/* Desire options for the account of email as bp asks (terms, EAB). */
void batch_desire_options(const cli *c, const batch_params *bp, const char *email,
                          acme_desire_options *o);
/*
 * Run a desire over `wants` (MODE_ISSUE, MODE_ENSURE) or over every stored
 * certificate (MODE_RENEW, wants NULL). The command line is checked already.
 */
int run_batch(cli *c, const batch_params *bp, const want_list *wants, int mode);
/* Run the deploy hook for one certificate; EXIT_OK or EXIT_FAIL. */
int run_deploy_hook(const cli *c, const char *cmd, const char *name, const char *event,
                    const char *chain, const char *key);
/* Parse a revocation reason (number or name); -1 when invalid. */
int parse_reason(const char *s);
/* The shared event callback state (batch.c). */
typedef struct batch_events batch_events;
void batch_on_event(const acme_event *e, void *userdata);

#endif
