/* Scale benchmark, part 2: one idle ensure over every certificate stored
 * in a state directory, as a host that keeps all it has would run it.
 *
 *     scale_idle DIR DIRECTORY_URL CA_BUNDLE
 *
 * acme_desire_add_stored, then acme_desire_ensure, on the built-in
 * filesystem store; prints one line of JSON: the names, the results and the
 * wall time of each step (the process's CPU and peak RSS are measured from
 * outside). Public API only, with desire options of version 3, so that the
 * same binary runs against an older libacme (LD_LIBRARY_PATH) for a
 * before/after comparison. Not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "acme.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: scale_idle DIR DIRECTORY_URL CA_BUNDLE\n");
        return 2;
    }
    double t0 = now_s();
    acme_provider_options po;
    acme_provider_options_init(&po, ACME_PROVIDER_OPTIONS_VERSION);
    po.ca_bundle = argv[3];
    acme_provider *p = NULL;
    acme_store *store = NULL;
    acme_desire *d = NULL;
    acme_desire_options o;
    /* Version 3: what an older library knows too. */
    int rc = acme_desire_options_init(&o, 3);
    o.email = "scale@example.com";
    o.agree_tos = 1;
    if (rc == ACME_OK)
        rc = acme_provider_new(&p, argv[2], &po);
    if (rc == ACME_OK)
        rc = acme_store_new_fs(&store, argv[1]);
    if (rc == ACME_OK)
        rc = acme_desire_new(&d, p, store, NULL, &o);
    size_t count = 0;
    double t1 = now_s();
    if (rc == ACME_OK)
        rc = acme_desire_add_stored(d, &count);
    double t2 = now_s();
    if (rc == ACME_OK)
        rc = acme_desire_ensure(d);
    double t3 = now_s();
    size_t obtained = 0, renewed = 0, not_due = 0, failed = 0;
    if (d)
        acme_desire_summary(d, &obtained, &renewed, &not_due, &failed);
    if (rc != ACME_OK)
        fprintf(stderr, "scale_idle: %s\n", d ? acme_desire_last_error(d) : acme_last_error());
    printf("{\"rc\": %d, \"stored\": %zu, \"not_due\": %zu, \"renewed\": %zu, \"obtained\": %zu, "
           "\"failed\": %zu, \"setup_s\": %.3f, \"add_stored_s\": %.3f, \"ensure_s\": %.3f}\n",
           rc, count, not_due, renewed, obtained, failed, t1 - t0, t2 - t1, t3 - t2);
    acme_desire_free(d);
    acme_store_free(store);
    acme_provider_free(p);
    return rc == ACME_OK ? 0 : 1;
}
