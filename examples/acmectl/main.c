/* acmectl: get, renew and revoke certificates from an ACME CA (RFC 8555)
 * with libacme. Global options come before the command (they are also
 * accepted after it). See acmectl(1) (doc/acmectl.1). */
#include <stdio.h>
#include <string.h>

#include "acmectl.h"

typedef struct command {
    const char *name;
    int (*run)(cli *c, int argc, char **argv);
} command;

static const command commands[] = {
    { "register", cmd_register },
    { "account", cmd_account },
    { "recover", cmd_recover },
    { "update-contact", cmd_update_contact },
    { "rollover", cmd_rollover },
    { "deactivate", cmd_deactivate },
    { "issue", cmd_issue },
    { "ensure", cmd_ensure },
    { "renew", cmd_renew },
    { "revoke", cmd_revoke },
    { "status", cmd_status },
    { "deploy", cmd_deploy },
    { "directory", cmd_directory },
    { "persist-record", cmd_persist_record },
};

void print_usage(void)
{
    fputs(
        "usage: acmectl [GLOBAL OPTIONS] COMMAND [ARGS]\n"
        "\n"
        "Global options:\n"
        "  --directory URL      ACME directory (default: Let's Encrypt production); given\n"
        "                       again, the next issuer for ensure and renew when one\n"
        "                       cannot serve (down, rate-limited, refusing)\n"
        "  --staging            Let's Encrypt staging\n"
        "  --ca-bundle FILE     trust anchors for the ACME server's HTTPS\n"
        "  --state DIR          state dir (default: $ACMECTL_STATE, /var/lib/acmectl for root,\n"
        "                       else $XDG_STATE_HOME/acmectl or ~/.local/state/acmectl)\n"
        "  --store URL          the state in etcd: etcd://HOST:PORT[,HOST:PORT...]/PREFIX\n"
        "                       (etcd+http:// without TLS), or a directory as --state\n"
        "  --etcd-ca FILE, --etcd-cert FILE, --etcd-key FILE   etcd TLS\n"
        "  --etcd-user USER     etcd auth; the password in $ACMECTL_ETCD_PASSWORD\n"
        "  --etcd-lease-ttl N   seconds a silent node keeps its locks (default 30)\n"
        "  --key-type TYPE      new keys: ec256 (default), ec384, rsa2048, rsa3072, rsa4096\n"
        "  -v, --verbose        also timings and each request\n"
        "  -q, --quiet          errors only\n"
        "  -h, --help           this text\n"
        "  -V, --version        version\n"
        "\n"
        "Account:\n"
        "  register EMAIL --agree-tos [--eab-kid ID --eab-hmac-key KEY]\n"
        "  account [--email EMAIL]                show URL, status, contacts\n"
        "  recover EMAIL                          find the stored key's account at the CA\n"
        "  update-contact EMAIL...                replace the contacts\n"
        "  rollover                               switch to a new account key\n"
        "  rollover [--account-key pkcs11:OLD] --new-key pkcs11:NEW   (keys in a token;\n"
        "                                         OLD: the one remembered for the CA)\n"
        "  deactivate                             deactivate the account (irreversible)\n"
        "\n",
        stdout);
    /* Two pieces: C99 promises string literals of 4095 bytes only. */
    fputs(
        "Certificates:\n"
        "  issue NAME... [--name CERT] [--force] [--reuse-key] [--csr FILE [--out FILE]]\n"
        "        [--preferred-chain CN] [--no-www-base] [--deploy-hook CMD]\n"
        "        [--profile NAME | --prefer-profile NAME] [SOLVER OPTIONS]\n"
        "  ensure --wants FILE|DIR [--email EMAIL --agree-tos] [--parallel N]\n"
        "        [--deploy-hook CMD] [--force] [--reuse-key] [--no-www-base]\n"
        "        [--profile NAME | --prefer-profile NAME] [SOLVER OPTIONS]\n"
        "  renew [--parallel N] [--deploy-hook CMD] [--force] [--reuse-key] [SOLVER OPTIONS]\n"
        "        (ensure and renew: [--deadline SECONDS])\n"
        "  status [--reset NAME]                  failures, backoff and rate limits\n"
        "  deploy NAME...|--wants FILE --to DIR [--deploy-hook CMD]\n"
        "                                         the current certificates to DIR/NAME/\n"
        "  revoke NAME [--reason R] [--with-cert-key]\n"
        "  revoke --cert FILE [--cert-key FILE|pkcs11:URI] [--reason R]\n"
        "  issue, ensure, renew also take --account-key pkcs11:URI and\n"
        "        --cert-key [NAME=]pkcs11:URI: keys in a PKCS#11 token (RFC 7512 URIs)\n"
        "\n"
        "The CA:\n"
        "  directory                              terms, CAA identities, EAB, ARI, profiles\n"
        "  persist-record NAME [--wildcard] [--until TIME] [--issuer DOMAIN]\n"
        "                                         the dns-persist-01 TXT record to publish once\n"
        "\n"
        "Solver options:\n"
        "  --solver standalone|webroot|hook|rfc2136   (default standalone; --webroot and --hook\n"
        "                       imply theirs)\n"
        "  --challenge TYPE     preferred challenge types, repeatable: http-01, tls-alpn-01, dns-01,\n"
        "                       dns-account-01, dns-persist-01 (a record published beforehand)\n"
        "  --http-port N        standalone http-01 port (default 80)\n"
        "  --tls-port N         standalone tls-alpn-01 port (default 443)\n"
        "  --listen ADDRESS     standalone address (default all IPv4; \"::\" for IPv6 too)\n"
        "  --webroot DIR        write http-01 files under DIR/.well-known/acme-challenge/\n"
        "  --hook PROG          PROG begin|done|failed TYPE IDENT TOKEN AUTH (as uacme)\n"
        "  --tsig-key FILE      rfc2136: BIND key file (key \"name\" { algorithm; secret; };)\n"
        "  --dns-server HOST[:PORT]  rfc2136: send updates here (default: the zone's primary)\n"
        "  --dns-wait SECONDS   dns-01: wait up to this for every nameserver (default 120)\n"
        "  --no-dns-wait        dns-01: no propagation check\n"
        "  --dns-resolver HOST[:PORT]  where SOA and NS queries go (default: the system's)\n"
        "  --dns-ns-port PORT   the port the zone's nameservers are asked on (default 53)\n"
        "\n"
        "www.example.com brings example.com into the same certificate (--no-www-base: not).\n"
        "Every renewal gets a new certificate key (--reuse-key: keep it, unless it was\n"
        "revoked for keyCompromise).\n"
        "Exit status: 0 success (also when nothing was due), 1 failure, 2 usage error.\n"
        "See acmectl(1).\n",
        stdout);
}

int main(int argc, char **argv)
{
    cli c;
    memset(&c, 0, sizeof(c));
    c.verbosity = V_NORMAL;
    out_init(c.verbosity);

    const opt_spec *const tables[] = { global_options, NULL };
    arg_parser p;
    args_init(&p, argc, argv, 1, 0);
    const char *v;
    int id;
    while ((id = args_next(&p, tables, &v)) != ARG_END) {
        if (id == ARG_ERROR)
            return EXIT_USAGE;
        if (cli_global_option(&c, id, v) != EXIT_OK)
            return EXIT_USAGE;
    }
    if (p.i >= argc)
        return usage_error("no command given");
    const char *name = argv[p.i];
    const command *cmd = NULL;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, name) == 0)
            cmd = &commands[i];
    if (!cmd)
        return usage_error("unknown command \"%s\"", name);
    int rc = cmd->run(&c, argc - p.i, argv + p.i);
    cli_close(&c);
    return rc;
}
