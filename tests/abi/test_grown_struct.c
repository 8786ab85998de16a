/* A program built against an older header: acme_desire_options of version
 * 1 (desire_options_v1.h), one field shorter than the library's. The
 * library must write and read only that version's bytes: guard bytes after
 * the struct stay untouched, and a struct that ends exactly where its heap
 * block ends lets AddressSanitizer catch any byte beyond it. Runs under the
 * Pebble harness, which gives acme_desire_new() a provider to keep. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acme/common.h"
#include "acme/provider.h"
#include "acme/store.h"
#include "check.h"
#include "desire_options_v1.h"

#define GUARD 0xA5
/* Versions probed to find the library's newest one. */
#define MAX_PROBED_VERSION 64

typedef struct {
    acme_desire_options o;
    unsigned char guard[64];
} guarded;

static int guard_intact(const guarded *g)
{
    for (size_t i = 0; i < sizeof(g->guard); i++)
        if (g->guard[i] != GUARD)
            return 0;
    return 1;
}

/* The newest version the library accepts, found on a buffer big enough for
 * any version it could know. */
static unsigned int library_version(void)
{
    static union {
        acme_desire_options o;
        unsigned char bytes[64 * 1024];
    } big;
    unsigned int newest = 0;
    for (unsigned int v = 1; v <= MAX_PROBED_VERSION; v++)
        if (acme_desire_options_init(&big.o, v) == ACME_OK)
            newest = v;
    return newest;
}

static void test_versions(void)
{
    guarded g;
    memset(&g, GUARD, sizeof(g));
    unsigned int newest = library_version();
    /* The library is newer than this header: its struct has grown. */
    CHECK_MSG(newest > ACME_DESIRE_OPTIONS_VERSION, "library version %u", newest);
    CHECK_RC(acme_desire_options_init(&g.o, 0), ACME_ERR_INVALID);
    CHECK_RC(acme_desire_options_init(&g.o, newest + 1), ACME_ERR_INVALID);
    CHECK(strstr(acme_last_error(), "acme_desire_options_init") != NULL);
    CHECK_RC(acme_desire_options_init(NULL, ACME_DESIRE_OPTIONS_VERSION), ACME_ERR_INVALID);
    /* Refusals write nothing. */
    CHECK(g.o.version == 0xA5A5A5A5u && guard_intact(&g));
}

static void test_guarded(acme_provider *p, acme_store *s)
{
    guarded g;
    memset(&g, GUARD, sizeof(g));
    REQUIRE_OK(acme_desire_options_init(&g.o, ACME_DESIRE_OPTIONS_VERSION));
    CHECK(guard_intact(&g));
    CHECK(g.o.version == ACME_DESIRE_OPTIONS_VERSION);
    CHECK(g.o.email == NULL && g.o.parallel == 0 && g.o.profile == NULL);
    g.o.email = "grown@example.com";
    g.o.parallel = 2;

    acme_desire *d = NULL;
    CHECK_OK(acme_desire_new(&d, p, s, NULL, &g.o));
    CHECK(d != NULL);
    CHECK(guard_intact(&g));
    acme_desire_free(d);

    /* A version the library does not know is refused before any use. */
    g.o.version = 0;
    d = (acme_desire *)1;
    CHECK_RC(acme_desire_new(&d, p, s, NULL, &g.o), ACME_ERR_INVALID);
    CHECK(d == NULL);
}

/* The struct is the whole heap block: under ASan a read or write of the
 * field version 1 lacks is a heap-buffer-overflow. */
static void test_exact_block(acme_provider *p, acme_store *s)
{
    acme_desire_options *o = malloc(sizeof(*o));
    REQUIRE(o != NULL);
    REQUIRE_OK(acme_desire_options_init(o, ACME_DESIRE_OPTIONS_VERSION));
    o->email = "exact@example.com";
    acme_desire *d = NULL;
    CHECK_OK(acme_desire_new(&d, p, s, NULL, o));
    acme_desire_free(d);
    free(o);
}

int main(void)
{
    const char *dir_url = getenv("ACME_TEST_DIRECTORY");
    REQUIRE(dir_url != NULL);
    acme_provider_options po;
    REQUIRE_OK(acme_provider_options_init(&po, ACME_PROVIDER_OPTIONS_VERSION));
    po.ca_bundle = getenv("ACME_TEST_CA_BUNDLE");
    acme_provider *p = NULL;
    REQUIRE_OK(acme_provider_new(&p, dir_url, &po));
    char dir[] = "/tmp/acme-grown-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    acme_store *s = NULL;
    REQUIRE_OK(acme_store_new_fs(&s, dir));

    test_versions();
    test_guarded(p, s);
    test_exact_block(p, s);

    acme_store_free(s);
    acme_provider_free(p);
    rmdir(dir);
    return check_done();
}
