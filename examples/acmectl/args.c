/* A small argument parser: "--name value", "--name=value", "-x value",
 * bundled short flags ("-vv"), "--" to end the options. getopt_long would
 * do, but its global state and its own messages fit badly with one-line
 * usage errors and with options accepted before and after the command. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acmectl.h"

void args_init(arg_parser *p, int argc, char **argv, int first, int permute)
{
    memset(p, 0, sizeof(*p));
    p->argc = argc;
    p->argv = argv;
    p->i = first;
    p->permute = permute;
}

static const opt_spec *find_long(const opt_spec *const *tables, const char *name, size_t len)
{
    for (; *tables; tables++)
        for (const opt_spec *s = *tables; s->name; s++)
            if (strlen(s->name) == len && strncmp(s->name, name, len) == 0)
                return s;
    return NULL;
}

static const opt_spec *find_short(const opt_spec *const *tables, char c)
{
    for (; *tables; tables++)
        for (const opt_spec *s = *tables; s->name; s++)
            if (s->short_name && s->short_name == c)
                return s;
    return NULL;
}

int args_next(arg_parser *p, const opt_spec *const *tables, const char **value)
{
    *value = NULL;
    if (p->bundle && *p->bundle) {
        char c = *p->bundle++;
        const opt_spec *s = find_short(tables, c);
        if (!s) {
            usage_error("unknown option -%c", c);
            return ARG_ERROR;
        }
        if (s->has_arg) {
            if (*p->bundle) {
                *value = p->bundle;
            } else if (p->i < p->argc) {
                *value = p->argv[p->i++];
            } else {
                usage_error("option -%c needs a value", c);
                return ARG_ERROR;
            }
            p->bundle = NULL;
        }
        return s->id;
    }
    p->bundle = NULL;
    if (p->i >= p->argc)
        return ARG_END;
    const char *a = p->argv[p->i];
    if (p->stop || a[0] != '-' || a[1] == '\0') {
        if (!p->permute && !p->stop)
            return ARG_END; /* the caller takes it from p->i */
        p->i++;
        *value = a;
        return ARG_POSITIONAL;
    }
    p->i++;
    if (strcmp(a, "--") == 0) {
        p->stop = 1;
        return args_next(p, tables, value);
    }
    if (a[1] == '-') {
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const opt_spec *s = find_long(tables, name, len);
        if (!s) {
            usage_error("unknown option --%.*s", (int)len, name);
            return ARG_ERROR;
        }
        if (s->has_arg) {
            if (eq) {
                *value = eq + 1;
            } else if (p->i < p->argc) {
                *value = p->argv[p->i++];
            } else {
                usage_error("option --%s needs a value", s->name);
                return ARG_ERROR;
            }
        } else if (eq) {
            usage_error("option --%s takes no value", s->name);
            return ARG_ERROR;
        }
        return s->id;
    }
    p->bundle = a + 1;
    return args_next(p, tables, value);
}

int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    for (const char *q = s; *q; q++)
        if (*q < '0' || *q > '9')
            return -1;
    errno = 0;
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || !end || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}
