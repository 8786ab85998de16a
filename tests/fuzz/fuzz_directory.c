/* The ACME directory (lib/provider.c): acme__directory_check on any JSON
 * object, then every directory getter of the provider (endpoints, meta:
 * terms of service, website, CAA identities, EAB, profiles) over the tree,
 * as acme_provider_new leaves it for the host. */
#include "fuzz.h"

#include "net/json.h"
#include "protocol/provider.h"

static void check_string_or_null(const char *s)
{
    fuzz_touch(s);
}

int fuzz_directory(const uint8_t *data, size_t size)
{
    acme__err err = { 0 };
    yajl_val dir = NULL;
    if (acme__json_parse_object((const char *)data, size, "directory", &dir, &err) != ACME_OK) {
        acme__err_clear(&err);
        return 0;
    }
    int rc = acme__directory_check(dir, "https://ca.example/dir", &err);
    FUZZ_ASSERT(rc == ACME_OK || rc == ACME_ERR_PROTOCOL);
    if (rc == ACME_OK) {
        static const char *const required[] = { "newNonce", "newAccount", "newOrder" };
        for (size_t i = 0; i < 3; i++) {
            const char *u = acme__json_string(dir, required[i]);
            FUZZ_ASSERT(u && strncmp(u, "https://", 8) == 0);
        }
    }
    acme__err_clear(&err);

    /* The getters only read p->directory: a provider without a network. */
    acme_provider *p = calloc(1, sizeof(*p));
    if (!p) {
        acme__json_free(dir);
        return 0;
    }
    p->directory = dir;
    static const char *const names[] = {
        "newNonce", "newAccount", "newOrder", "newAuthz", "revokeCert", "keyChange",
        "renewalInfo", "meta", "",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        check_string_or_null(acme_provider_endpoint(p, names[i]));
    FUZZ_ASSERT(acme_provider_endpoint(p, "meta") == NULL);
    for (size_t i = 0; i < dir->u.object.len; i++) {
        const char *name = dir->u.object.keys[i];
        const char *e = acme_provider_endpoint(p, name);
        FUZZ_ASSERT(!e || strcmp(name, "meta") != 0);
        check_string_or_null(e);
    }
    check_string_or_null(acme_provider_terms_of_service(p));
    check_string_or_null(acme_provider_website(p));
    size_t n = acme_provider_caa_identity_count(p);
    for (size_t i = 0; i <= n; i++)
        check_string_or_null(acme_provider_caa_identity(p, i));
    int eab = acme_provider_external_account_required(p);
    FUZZ_ASSERT(eab == 0 || eab == 1);
    n = acme_provider_profile_count(p);
    for (size_t i = 0; i < n; i++) {
        const char *name = acme_provider_profile_name(p, i);
        FUZZ_ASSERT(name != NULL);
        fuzz_touch(name);
        check_string_or_null(acme_provider_profile_description(p, i));
        FUZZ_ASSERT(acme_provider_has_profile(p, name));
    }
    FUZZ_ASSERT(acme_provider_profile_name(p, n) == NULL);
    FUZZ_ASSERT(acme_provider_profile_description(p, n) == NULL);
    FUZZ_ASSERT(!acme_provider_has_profile(p, NULL));
    free(p);
    acme__json_free(dir);
    return 0;
}

FUZZ_ENTRY(directory);
