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
    if (!*out)
        return acme__fail(NULL, ACME_ERR_NOMEM, "solvers: out of memory");
    atomic_init(&(*out)->refs, 1);
    return ACME_OK;
}

static int add(acme_solvers *s, const char *type, acme_solver_present_fn present,
               acme__present_err_fn present_err, acme_solver_wait_fn wait,
               acme_solver_cleanup_fn cleanup, void *userdata, void (*free_userdata)(void *))
{
    if (!s || !type || !*type || (!present && !present_err)) {
        if (free_userdata)
            free_userdata(userdata);
        return acme__fail(s ? &s->err : NULL, ACME_ERR_INVALID,
                          "solvers: a type and a present callback are required");
    }
    acme__solver *v = realloc(s->v, (s->n + 1) * sizeof(*v));
    char *t = acme__strdup(type);
    if (!v || !t) {
        if (v)
            s->v = v;
        free(t);
        if (free_userdata)
            free_userdata(userdata);
        return acme__fail(&s->err, ACME_ERR_NOMEM, "solvers: out of memory");
    }
    s->v = v;
    s->v[s->n++] = (acme__solver){ .type = t,
                                   .present = present,
                                   .present_err = present_err,
                                   .wait = wait,
                                   .cleanup = cleanup,
                                   .userdata = userdata,
                                   .free_userdata = free_userdata };
    return ACME_OK;
}

int acme__solvers_add_owned(acme_solvers *s, const char *type, acme__present_err_fn present,
                            acme_solver_cleanup_fn cleanup, void *userdata,
                            void (*free_userdata)(void *))
{
    return add(s, type, NULL, present, NULL, cleanup, userdata, free_userdata);
}

int acme_solvers_add(acme_solvers *s, const char *type, acme_solver_present_fn present,
                     acme_solver_wait_fn wait, acme_solver_cleanup_fn cleanup, void *userdata)
{
    if (!present)
        return acme__fail(s ? &s->err : NULL, ACME_ERR_INVALID,
                          "solvers: a type and a present callback are required");
    return add(s, type, present, NULL, wait, cleanup, userdata, NULL);
}

int acme__solver_present(const acme__solver *sv, const acme_challenge *ch, acme__err *err)
{
    if (sv->present_err)
        return sv->present_err(ch, sv->userdata, err);
    return sv->present(ch, sv->userdata);
}

int acme__solvers_set_check(acme_solvers *s, const char *const *types, size_t n,
                            acme__wait_err_fn check, void *data, void (*free_data)(void *))
{
    if (s->free_check_data)
        s->free_check_data(s->check_data);
    s->check_data = data;
    s->free_check_data = free_data;
    for (size_t i = 0; i < s->n; i++)
        for (size_t j = 0; j < n; j++)
            if (strcmp(s->v[i].type, types[j]) == 0) {
                s->v[i].check = check;
                s->v[i].check_userdata = data;
            }
    return ACME_OK;
}

int acme__solver_waits(const acme__solver *sv)
{
    return sv->wait || sv->check;
}

int acme__solver_wait(const acme__solver *sv, const acme_challenge *ch, acme__err *err)
{
    if (sv->wait) {
        int rc = sv->wait(ch, sv->userdata);
        if (rc != ACME_OK)
            return acme__fail(err, ACME_ERR_CALLBACK, "%s: the %s solver's wait failed (%s)",
                              ch->ident_value, ch->type, acme_strerror(rc));
    }
    return sv->check ? sv->check(ch, sv->check_userdata, err) : ACME_OK;
}

size_t acme_solvers_count(const acme_solvers *s)
{
    return s ? s->n : 0;
}

const char *acme_solvers_last_error(const acme_solvers *s)
{
    return s ? acme__err_msg(&s->err) : "";
}

acme_solvers *acme__solvers_ref(const acme_solvers *s)
{
    acme_solvers *m = (acme_solvers *)s;
    if (m)
        atomic_fetch_add(&m->refs, 1);
    return m;
}

void acme_solvers_free(acme_solvers *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].type);
        if (s->v[i].free_userdata)
            s->v[i].free_userdata(s->v[i].userdata);
    }
    free(s->v);
    if (s->free_check_data)
        s->free_check_data(s->check_data);
    acme__err_clear(&s->err);
    free(s);
}
