/* Scale benchmark, part 2: one idle ensure over every certificate stored
 * in a state directory, as a host that keeps all it has would run it.
 *
 *     scale_idle [--due] DIR DIRECTORY_URL CA_BUNDLE
 *
 * acme_desire_add_stored, then acme_desire_ensure, on the built-in
 * filesystem store; with --due, acme_desire_ensure_stored (1.1) instead,
 * which reads only what is due. Prints one line of JSON: the names, the
 * results and the wall time of each step (the process's CPU and peak RSS
 * are measured from outside). Public API only, with desire options of
 * version 3, and acme_desire_ensure_stored looked up at run time, so that
 * the same binary runs against an older libacme (LD_LIBRARY_PATH) for a
 * before/after comparison. Not a test. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
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
    int due = argc > 1 && strcmp(argv[1], "--due") == 0;
    argv += due;
    argc -= due;
    if (argc != 4) {
        fprintf(stderr, "usage: scale_idle [--due] DIR DIRECTORY_URL CA_BUNDLE\n");
        return 2;
    }
    int (*ensure_stored)(acme_desire *) = NULL;
    if (due) {
        /* Looked up, not linked: an older library must still load the binary. */
        *(void **)&ensure_stored = dlsym(RTLD_DEFAULT, "acme_desire_ensure_stored");
        if (!ensure_stored) {
            fprintf(stderr, "scale_idle: this libacme has no acme_desire_ensure_stored\n");
            return 2;
        }
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
    if (rc == ACME_OK && !due)
        rc = acme_desire_add_stored(d, &count);
    double t2 = now_s();
    if (rc == ACME_OK)
        rc = due ? ensure_stored(d) : acme_desire_ensure(d);
    if (due && d)
        count = acme_desire_count(d); /* the names looked at */
    double t3 = now_s();
    size_t obtained = 0, renewed = 0, not_due = 0, failed = 0;
    if (d)
        acme_desire_summary(d, &obtained, &renewed, &not_due, &failed);
    if (rc != ACME_OK)
        fprintf(stderr, "scale_idle: %s\n", d ? acme_desire_last_error(d) : acme_last_error());
    printf("{\"mode\": \"%s\", \"rc\": %d, \"%s\": %zu, \"not_due\": %zu, \"renewed\": %zu, "
           "\"obtained\": %zu, \"failed\": %zu, \"setup_s\": %.3f, \"add_stored_s\": %.3f, \"ensure_s\": %.3f}\n",
           due ? "ensure_stored" : "add_stored+ensure", rc, due ? "looked_at" : "stored", count,
           not_due, renewed, obtained, failed, t1 - t0, t2 - t1, t3 - t2);
    acme_desire_free(d);
    acme_store_free(store);
    acme_provider_free(p);
    return rc == ACME_OK ? 0 : 1;
}
