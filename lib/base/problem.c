/* RFC 7807 / RFC 8555 section 6.7 problem documents: the object and its
 * getters. Reading one from a CA's JSON is net/problem_json.c. */
#include "base/problem.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

struct acme_problem {
    atomic_int refs;
    int status;
    char *type;
    char *detail;
    char *id_type;
    char *id_value;
    size_t nsub;
    acme_problem **sub;
    int has_retry_after;
    int64_t retry_after;
};

static const char acme_urn[] = "urn:ietf:params:acme:error:";

acme_problem *acme__problem_new(const char *type, const char *detail, int http_status)
{
    acme_problem *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    atomic_init(&p->refs, 1);
    p->status = http_status;
    p->type = acme__strdup(type ? type : "");
    p->detail = acme__strdup(detail ? detail : "");
    if (!p->type || !p->detail) {
        acme__problem_unref(p);
        return NULL;
    }
    return p;
}

void acme__problem_set_retry_after(acme_problem *p, int64_t seconds)
{
    if (!p)
        return;
    p->has_retry_after = 1;
    p->retry_after = seconds;
}

int acme__problem_retry_after(const acme_problem *p, int64_t *seconds)
{
    if (!p || !p->has_retry_after)
        return ACME_ERR_NOT_FOUND;
    *seconds = p->retry_after;
    return ACME_OK;
}

int acme__problem_set_identifier(acme_problem *p, const char *type, const char *value)
{
    char *t = acme__strdup(type), *v = acme__strdup(value);
    if (!t || !v) {
        free(t);
        free(v);
        return ACME_ERR_NOMEM;
    }
    free(p->id_type);
    free(p->id_value);
    p->id_type = t;
    p->id_value = v;
    return ACME_OK;
}

int acme__problem_add_subproblem(acme_problem *p, acme_problem *sub)
{
    if (p->nsub >= ACME__MAX_SUBPROBLEMS) {
        acme__problem_unref(sub);
        return ACME_OK;
    }
    acme_problem **grown = realloc(p->sub, (p->nsub + 1) * sizeof(*grown));
    if (!grown) {
        acme__problem_unref(sub);
        return ACME_ERR_NOMEM;
    }
    p->sub = grown;
    p->sub[p->nsub++] = sub;
    return ACME_OK;
}

acme_problem *acme__problem_ref(acme_problem *p)
{
    if (p)
        atomic_fetch_add(&p->refs, 1);
    return p;
}

void acme__problem_unref(acme_problem *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    for (size_t i = 0; i < p->nsub; i++)
        acme__problem_unref(p->sub[i]);
    free(p->sub);
    free(p->type);
    free(p->detail);
    free(p->id_type);
    free(p->id_value);
    free(p);
}

void acme_problem_free(acme_problem *p)
{
    acme__problem_unref(p);
}

void acme__problem_describe(const acme_problem *p, char *out, size_t size)
{
    const char *type = p->type;
    if (strncmp(type, acme_urn, sizeof(acme_urn) - 1) == 0)
        type += sizeof(acme_urn) - 1;
    int n = snprintf(out, size, "%s%s%s", type[0] ? type : "problem",
                     p->detail[0] ? ": " : "", p->detail);
    if (p->nsub && n >= 0 && (size_t)n < size) {
        const acme_problem *s = p->sub[0];
        snprintf(out + n, size - (size_t)n, " (%zu subproblem%s, first: %s%s%s)", p->nsub,
                 p->nsub == 1 ? "" : "s", s->id_value ? s->id_value : "",
                 s->id_value ? " " : "", s->detail);
    }
}

/* A NULL problem reads as an empty one (no type, no detail), so that
 * every getter is NULL-safe without testing for it. */
static const acme_problem no_problem = { .type = (char *)"", .detail = (char *)"" };

static const acme_problem *view(const acme_problem *p)
{
    return p ? p : &no_problem;
}

const char *acme_problem_type(const acme_problem *p)
{
    return view(p)->type;
}

const char *acme_problem_detail(const acme_problem *p)
{
    return view(p)->detail;
}

int acme_problem_status(const acme_problem *p)
{
    return view(p)->status;
}

const char *acme_problem_identifier_type(const acme_problem *p)
{
    return view(p)->id_type;
}

const char *acme_problem_identifier_value(const acme_problem *p)
{
    return view(p)->id_value;
}

size_t acme_problem_subproblem_count(const acme_problem *p)
{
    return view(p)->nsub;
}

const acme_problem *acme_problem_subproblem(const acme_problem *p, size_t i)
{
    return i < view(p)->nsub ? p->sub[i] : NULL;
}

int acme_problem_is(const acme_problem *p, const char *name)
{
    if (!p || !name)
        return 0;
    if (strncmp(p->type, acme_urn, sizeof(acme_urn) - 1) == 0)
        return strcmp(p->type + sizeof(acme_urn) - 1, name) == 0;
    return strcmp(p->type, name) == 0;
}
