/* What the CA offers, and the record dns-persist-01 wants.
 *
 *   directory            the directory's meta as a user needs it: terms of
 *                        service, website, CAA identities, whether external
 *                        account binding is required, whether ARI
 *                        (renewalInfo) is offered, and each profile with
 *                        its description
 *   persist-record NAME [--wildcard] [--until TIME] [--issuer DOMAIN]
 *                        the dns-persist-01 TXT record
 *                        (draft-ietf-acme-dns-persist) to publish once for
 *                        the current account at this CA, as a zone-file
 *                        line on stdout: the record stays, and every later
 *                        order for NAME validates against it */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acmectl.h"

enum { P_WILDCARD = 6000, P_UNTIL, P_ISSUER, P_EMAIL };

static const opt_spec persist_options[] = {
    { "wildcard", 0, 0, P_WILDCARD },
    { "until", 0, 1, P_UNTIL },
    { "issuer", 0, 1, P_ISSUER },
    { "email", 0, 1, P_EMAIL },
    { NULL, 0, 0, 0 },
};

/* Options and no positionals, for directory. */
static int parse_globals_only(cli *c, int argc, char **argv)
{
    const opt_spec *const tables[] = { global_options, NULL };
    arg_parser p;
    args_init(&p, argc, argv, 1, 1);
    const char *v;
    int id, rc = EXIT_OK;
    while (rc == EXIT_OK && (id = args_next(&p, tables, &v)) != ARG_END)
        rc = id == ARG_ERROR        ? EXIT_USAGE
             : id == ARG_POSITIONAL ? usage_error("%s: unexpected argument \"%s\"", argv[0], v)
                                    : cli_global_option(c, id, v);
    return rc;
}

int cmd_directory(cli *c, int argc, char **argv)
{
    int rc = parse_globals_only(c, argc, argv);
    if (rc == EXIT_OK)
        rc = cli_resolve(c);
    if (rc == EXIT_OK)
        rc = cli_open_provider(c);
    if (rc != EXIT_OK)
        return rc;
    const acme_provider *p = c->provider;
    const char *tos = acme_provider_terms_of_service(p);
    const char *site = acme_provider_website(p);
    printf("directory: %s\n", acme_provider_directory_url(p));
    printf("terms of service: %s\n", tos ? tos : "(none)");
    printf("website: %s\n", site ? site : "(none)");
    printf("CAA identities:");
    for (size_t i = 0; i < acme_provider_caa_identity_count(p); i++)
        printf("%s %s", i ? "," : "", acme_provider_caa_identity(p, i));
    printf("%s\n", acme_provider_caa_identity_count(p) ? "" : " (none)");
    printf("external account binding: %s\n",
           acme_provider_external_account_required(p) ? "required" : "not required");
    printf("renewal information (ARI): %s\n",
           acme_provider_endpoint(p, "renewalInfo") ? "offered" : "not offered");
    size_t n = acme_provider_profile_count(p);
    printf("profiles:%s\n", n ? "" : " (none: the CA issues one kind)");
    for (size_t i = 0; i < n; i++) {
        const char *desc = acme_provider_profile_description(p, i);
        printf("  %s: %s\n", acme_provider_profile_name(p, i), desc ? desc : "");
    }
    return EXIT_OK;
}

/* --until: Unix seconds, or a UTC date "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ". */
static int parse_until(const char *s, unsigned long *out)
{
    if (parse_ulong(s, 1, TIME_MAX, out) == 0)
        return 0;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int used = 0;
    char t = 0, z = 0;
    int fields = sscanf(s, "%4d-%2d-%2d%n%c%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                        &used, &t, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z);
    int date_only = fields == 3 && s[used] == '\0';
    int full = fields == 8 && t == 'T' && z == 'Z' && strchr(s, 'Z')[1] == '\0';
    if (!date_only && !full)
        return -1;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t when = timegm(&tm);
    if (when <= 0 || (unsigned long)when > TIME_MAX)
        return -1;
    *out = (unsigned long)when;
    return 0;
}

int cmd_persist_record(cli *c, int argc, char **argv)
{
    const opt_spec *const tables[] = { persist_options, global_options, NULL };
    arg_parser p;
    args_init(&p, argc, argv, 1, 1);
    const char *v, *name = NULL, *issuer = NULL, *email = NULL;
    int id, rc = EXIT_OK, wildcard = 0;
    unsigned long until = 0;
    while (rc == EXIT_OK && (id = args_next(&p, tables, &v)) != ARG_END) {
        if (id == ARG_ERROR)
            rc = EXIT_USAGE;
        else if (id == ARG_POSITIONAL && name)
            rc = usage_error("persist-record takes one NAME, not also \"%s\"", v);
        else if (id == ARG_POSITIONAL)
            name = v;
        else if (id == P_WILDCARD)
            wildcard = 1;
        else if (id == P_UNTIL && parse_until(v, &until) != 0)
            rc = usage_error("--until: \"%s\" is neither Unix seconds nor a UTC date "
                             "(YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)", v);
        else if (id == P_ISSUER)
            issuer = v;
        else if (id == P_EMAIL)
            email = v;
        else if (id != P_UNTIL)
            rc = cli_global_option(c, id, v);
    }
    if (rc != EXIT_OK)
        return rc;
    if (!name)
        return usage_error("persist-record needs a NAME");
    /* "*.example.org" is the wildcard of example.org: the record is the base name's. */
    if (strncmp(name, "*.", 2) == 0) {
        name += 2;
        wildcard = 1;
    }
    if (acme_identifier_check("dns", name) != ACME_OK)
        return usage_error("%s", acme_last_error());
    if (issuer && acme_identifier_check("dns", issuer) != ACME_OK)
        return usage_error("--issuer: %s", acme_last_error());
    acme_account *account = NULL;
    const char *stored_as;
    rc = open_account(c, email, &account, &stored_as);
    if (rc != EXIT_OK)
        return rc;
    /* The CA names itself in its CAA identities, the issuer-domain-names
     * its dns-persist-01 challenges carry. */
    if (!issuer)
        issuer = acme_provider_caa_identity(c->provider, 0);
    if (!issuer) {
        error_msg("%s lists no CAA identity to name it in the record: give --issuer DOMAIN",
                  c->directory);
        acme_account_free(account);
        return EXIT_FAIL;
    }
    char until_text[48] = "";
    if (until)
        snprintf(until_text, sizeof(until_text), "; persistUntil=%lu", until);
    say("publish once for %s%s (account %s of %s); it stays across renewals", wildcard ? "*." : "",
        name, stored_as, c->directory);
    printf("_validation-persist.%s. IN TXT \"%s; accounturi=%s%s%s\"\n", name, issuer,
           acme_account_url(account), wildcard ? "; policy=wildcard" : "", until_text);
    acme_account_free(account);
    return EXIT_OK;
}
