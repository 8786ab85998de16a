/* Versioned option structs (base/options.h): the caller's version decides
 * how many bytes are written or read, and fields it lacks take their zero
 * defaults. Version 2 of the struct below appends a field that falls into
 * version 1's trailing padding, the tightest case. */
#include <acme.h>

#include <stddef.h>
#include <string.h>

#include "base/error.h"
#include "base/options.h"

#include "unit.h"

#define GUARD 0xA5

typedef struct opts_v1 {
    unsigned int version;
    const char *name;
    int count;
} opts_v1;

typedef struct opts_v2 {
    unsigned int version;
    const char *name;
    int count;
    int extra; /* version 2 */
} opts_v2;

static const size_t sizes[] = {
    ACME__OPTIONS_END(opts_v2, count), /* 1 */
    ACME__OPTIONS_END(opts_v2, extra), /* 2 */
};
static const acme__options_versions versions =
    ACME__OPTIONS_VERSIONS("test options", "test_options_init", sizes);

/* A caller's version 1 struct with bytes after it. */
typedef struct {
    opts_v1 o;
    unsigned char after[32];
} guarded;

static int all_guard(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != GUARD)
            return 0;
    return 1;
}

static void test_table(void)
{
    CHECK(versions.newest == 2);
    CHECK(sizes[0] == offsetof(opts_v1, count) + sizeof(int));
    CHECK(sizes[0] <= sizeof(opts_v1));
    CHECK(sizes[1] == sizeof(opts_v2));
}

static void test_init(void)
{
    guarded g;
    memset(&g, GUARD, sizeof(g));
    CHECK_OK(acme__options_init(&versions, &g.o, 1, NULL));
    CHECK(g.o.version == 1 && g.o.name == NULL && g.o.count == 0);
    /* Not one byte past version 1, not even its trailing padding. */
    const unsigned char *bytes = (const unsigned char *)&g;
    CHECK(all_guard(bytes + sizes[0], sizeof(g) - sizes[0]));

    opts_v2 full;
    memset(&full, GUARD, sizeof(full));
    CHECK_OK(acme__options_init(&versions, &full, 2, NULL));
    CHECK(full.version == 2 && full.name == NULL && full.count == 0 && full.extra == 0);

    acme__err err = { 0 };
    memset(&g, GUARD, sizeof(g));
    CHECK_RC(acme__options_init(&versions, &g.o, 0, &err), ACME_ERR_INVALID);
    CHECK_RC(acme__options_init(&versions, &g.o, 3, &err), ACME_ERR_INVALID);
    CHECK(err.code == ACME_ERR_INVALID);
    CHECK(strstr(acme__err_msg(&err), "test options: version 3") != NULL);
    CHECK(strstr(acme__err_msg(&err), "test_options_init") != NULL);
    CHECK(all_guard((const unsigned char *)&g, sizeof(g)));
    CHECK_RC(acme__options_init(&versions, NULL, 1, &err), ACME_ERR_INVALID);
    acme__err_clear(&err);
}

static void test_copy(void)
{
    /* A version 1 caller: whatever follows its fields is not read. */
    guarded g;
    memset(&g, GUARD, sizeof(g));
    g.o.version = 1;
    g.o.name = "caller";
    g.o.count = 7;
    opts_v2 own;
    memset(&own, GUARD, sizeof(own));
    CHECK_OK(acme__options_copy(&versions, &own, sizeof(own), &g.o, NULL));
    CHECK(own.version == 1);
    CHECK(own.name == g.o.name && own.count == 7);
    CHECK(own.extra == 0);

    /* A version 2 caller: every field. */
    opts_v2 caller = { 2, "two", 3, 4 };
    CHECK_OK(acme__options_copy(&versions, &own, sizeof(own), &caller, NULL));
    CHECK(own.version == 2 && own.name == caller.name && own.count == 3 && own.extra == 4);

    /* No struct: the defaults of the newest version. */
    memset(&own, GUARD, sizeof(own));
    CHECK_OK(acme__options_copy(&versions, &own, sizeof(own), NULL, NULL));
    CHECK(own.version == 2 && own.name == NULL && own.count == 0 && own.extra == 0);

    /* Unknown versions are refused, and nothing of them is kept. */
    acme__err err = { 0 };
    caller.version = 0;
    memset(&own, GUARD, sizeof(own));
    CHECK_RC(acme__options_copy(&versions, &own, sizeof(own), &caller, &err), ACME_ERR_INVALID);
    CHECK(own.version == 0 && own.name == NULL && own.extra == 0);
    caller.version = 3;
    CHECK_RC(acme__options_copy(&versions, &own, sizeof(own), &caller, &err), ACME_ERR_INVALID);
    CHECK(strstr(acme__err_msg(&err), "1 to 2") != NULL);
    acme__err_clear(&err);
}

/* The public init functions refuse what they cannot fill. */
static void test_public(void)
{
    acme_provider_options po;
    CHECK_RC(acme_provider_options_init(&po, 0), ACME_ERR_INVALID);
    CHECK_RC(acme_provider_options_init(&po, ACME_PROVIDER_OPTIONS_VERSION + 1),
             ACME_ERR_INVALID);
    CHECK(strstr(acme_last_error(), "acme_provider_options_init") != NULL);
    CHECK_OK(acme_provider_options_init(&po, ACME_PROVIDER_OPTIONS_VERSION));
    acme_account_options ao;
    CHECK_RC(acme_account_options_init(NULL, ACME_ACCOUNT_OPTIONS_VERSION), ACME_ERR_INVALID);
    CHECK_RC(acme_account_options_init(&ao, ACME_ACCOUNT_OPTIONS_VERSION + 1), ACME_ERR_INVALID);
    CHECK_OK(acme_account_options_init(&ao, ACME_ACCOUNT_OPTIONS_VERSION));
    CHECK(ao.version == ACME_ACCOUNT_OPTIONS_VERSION && ao.contacts == NULL);

    /* Version 1 of acme_desire_options ends at `profile`: initialising it
     * leaves the bytes where version 2's `reuse_key` lies alone. */
    acme_desire_options d;
    memset(&d, GUARD, sizeof(d));
    CHECK_OK(acme_desire_options_init(&d, 1));
    CHECK(d.version == 1 && d.profile == NULL);
    const unsigned char *rest = (const unsigned char *)&d + offsetof(acme_desire_options, profile) +
                                sizeof(d.profile);
    CHECK(all_guard(rest, sizeof(d) - (size_t)(rest - (const unsigned char *)&d)));
    CHECK_OK(acme_desire_options_init(&d, ACME_DESIRE_OPTIONS_VERSION));
    CHECK(d.reuse_key == 0);
    CHECK_RC(acme_desire_options_init(&d, ACME_DESIRE_OPTIONS_VERSION + 1), ACME_ERR_INVALID);

    acme_desire_options s = ACME_DESIRE_OPTIONS_INIT;
    CHECK(s.version == ACME_DESIRE_OPTIONS_VERSION && s.reuse_key == 0 && s.email == NULL);
}

int main(void)
{
    test_table();
    test_init();
    test_copy();
    test_public();
    return check_done();
}
