/* Link headers (lib/http.c, RFC 8288 as RFC 8555 uses them: "up",
 * "alternate", "index"): each line of the input is one Link header value,
 * parsed with acme__http_parse_link into one response (URLs resolved
 * against the request URL), then looked up with acme__response_link and
 * freed with acme__response_free. */
#include "fuzz.h"

#include <strings.h>

#include "net/http.h"

static const char base[] = "https://ca.example/acme/cert/mAt3xBGaobw";

/* How many links carry rel among their space-separated relation types. */
static size_t count_rel(const acme__response *res, const char *rel)
{
    size_t n = 0, len = strlen(rel);
    for (size_t i = 0; i < res->nlinks; i++) {
        for (const char *p = res->links[i].rel; *p;) {
            p += strspn(p, " ");
            size_t l = strcspn(p, " ");
            if (l == len && strncasecmp(p, rel, len) == 0) {
                n++;
                break;
            }
            p += l;
        }
    }
    return n;
}

int fuzz_link(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    if (!text)
        return 0;
    acme__response res;
    memset(&res, 0, sizeof(res));
    /* As libcurl gives them: one header per line, at most 32 kept. */
    char *save = NULL;
    size_t headers = 0;
    for (char *line = strtok_r(text, "\n", &save); line && headers < ACME__HTTP_MAX_LINKS;
         line = strtok_r(NULL, "\n", &save), headers++) {
        size_t before = res.nlinks;
        acme__http_parse_link(line, base, &res);
        FUZZ_ASSERT(res.nlinks >= before && res.nlinks <= ACME__HTTP_MAX_LINKS);
    }
    for (size_t i = 0; i < res.nlinks; i++) {
        FUZZ_ASSERT(res.links[i].url && res.links[i].rel);
        /* Resolved against an https URL: absolute. */
        FUZZ_ASSERT(strchr(res.links[i].url, ':') != NULL);
        fuzz_touch(res.links[i].rel);
    }
    for (size_t i = res.nlinks; i < ACME__HTTP_MAX_LINKS; i++)
        FUZZ_ASSERT(!res.links[i].url && !res.links[i].rel);
    static const char *const rels[] = { "alternate", "up", "index", "terms-of-service" };
    for (size_t r = 0; r < sizeof(rels) / sizeof(rels[0]); r++) {
        size_t want = count_rel(&res, rels[r]), got = 0;
        while (acme__response_link(&res, rels[r], got))
            got++;
        FUZZ_ASSERT(got == want);
    }
    if (res.nlinks) {
        const char *first = res.links[0].rel;
        char rel[64];
        size_t l = strcspn(first + strspn(first, " "), " ");
        if (l > 0 && l < sizeof(rel)) {
            memcpy(rel, first + strspn(first, " "), l);
            rel[l] = '\0';
            FUZZ_ASSERT(acme__response_link(&res, rel, 0) != NULL);
        }
    }
    acme__response_free(&res);
    FUZZ_ASSERT(res.nlinks == 0);
    free(text);
    return 0;
}

FUZZ_ENTRY(link);
