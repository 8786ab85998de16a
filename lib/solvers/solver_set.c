/* The ordered solver set. */
#include "solvers/solver.h"

#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

int acme_solvers_new(acme_solvers **out)
{
    if (!out)
        return acme__fail(NULL, ACME_ERR_INVALID, "solvers: NULL output");
    *out = calloc(1, sizeof(**out));
    return *out ? ACME_OK : acme__fail(NULL, ACME_ERR_NOMEM, "solvers: out of memory");
}

int acme__solvers_add_owned(acme_solvers *s, const char *type, acme_solver_present_fn present,
                            acme_solver_wait_fn wait, acme_solver_cleanup_fn cleanup,
                            void *userdata, void (*free_userdata)(void *))
{
    if (!s || !type || !*type || !present) {
        if (free_userdata)
            free_userdata(userdata);
        return acme__fail(NULL, ACME_ERR_INVALID, "solvers: a type and a present callback are required");
    }
    acme__solver *v = realloc(s->v, (s->n + 1) * sizeof(*v));
    char *t = acme__strdup(type);
    if (!v || !t) {
        if (v)
            s->v = v;
        free(t);
        if (free_userdata)
            free_userdata(userdata);
        return acme__fail(NULL, ACME_ERR_NOMEM, "solvers: out of memory");
    }
    s->v = v;
    s->v[s->n++] = (acme__solver){ t, present, wait, cleanup, userdata, free_userdata };
    return ACME_OK;
}

int acme_solvers_add(acme_solvers *s, const char *type, acme_solver_present_fn present,
                     acme_solver_wait_fn wait, acme_solver_cleanup_fn cleanup, void *userdata)
{
    return acme__solvers_add_owned(s, type, present, wait, cleanup, userdata, NULL);
}

size_t acme_solvers_count(const acme_solvers *s)
{
    return s ? s->n : 0;
}

void acme_solvers_free(acme_solvers *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].type);
        if (s->v[i].free_userdata)
            s->v[i].free_userdata(s->v[i].userdata);
    }
    free(s->v);
    free(s);
}
