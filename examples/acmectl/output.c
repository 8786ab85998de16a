/* Output: stdout carries results (paths, account details); stderr carries
 * progress, warnings and errors, one line each.
 *   -q       errors only
 *   default  one line per step (the library's ACME_LOG_INFO lines plus
 *            acmectl's own)
 *   -v       also the library's debug lines (each request), every line
 *            prefixed with the seconds since start */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "acmectl.h"

/* Subproblems shown per error: enough to see the pattern, short enough for one line. */
#define MAX_SUBPROBLEMS 5

static int verbosity = V_NORMAL;
static struct timespec started;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

void out_init(int v)
{
    verbosity = v;
    clock_gettime(CLOCK_MONOTONIC, &started);
}

int out_verbosity(void)
{
    return verbosity;
}

static void emit(const char *prefix, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);

static void emit(const char *prefix, const char *fmt, va_list ap)
{
    char line[4096];
    vsnprintf(line, sizeof(line), fmt, ap);
    /* One line: the library's and the CA's texts must not break it. */
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    pthread_mutex_lock(&out_lock);
    if (verbosity >= V_VERBOSE) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double t = (double)(now.tv_sec - started.tv_sec) +
                   (double)(now.tv_nsec - started.tv_nsec) / 1e9;
        fprintf(stderr, "[%7.3f] %s%s\n", t, prefix, line);
    } else {
        fprintf(stderr, "%s%s\n", prefix, line);
    }
    fflush(stderr);
    pthread_mutex_unlock(&out_lock);
}

void say(const char *fmt, ...)
{
    if (verbosity < V_NORMAL)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit("", fmt, ap);
    va_end(ap);
}

void detail(const char *fmt, ...)
{
    if (verbosity < V_VERBOSE)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit("", fmt, ap);
    va_end(ap);
}

void warn_msg(const char *fmt, ...)
{
    if (verbosity < V_NORMAL)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit("acmectl: warning: ", fmt, ap);
    va_end(ap);
}

void error_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("acmectl: error: ", fmt, ap);
    va_end(ap);
}

int usage_error(const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "acmectl: %s (see acmectl --help)\n", line);
    return EXIT_USAGE;
}

void out_library_log(int level, const char *message, void *userdata)
{
    (void)userdata;
    switch (level) {
    case ACME_LOG_ERROR:
        /* acmectl reports failures itself, from the result of each call
         * and from the desire's events; the library's copy would repeat
         * them. They stay visible with -v. */
        detail("libacme error: %s", message);
        break;
    case ACME_LOG_WARN:
        warn_msg("%s", message);
        break;
    case ACME_LOG_INFO:
        say("%s", message);
        break;
    default:
        detail("%s", message);
        break;
    }
}

void out_problem(const acme_problem *p, char *buf, size_t size)
{
    if (!p || !size)
        return;
    size_t used = strlen(buf);
    const char *type = acme_problem_type(p);
    const char *short_type = strrchr(type, ':');
    short_type = short_type ? short_type + 1 : type;
    snprintf(buf + used, size - used, "%s[CA: %s%s%s]", used ? " " : "", short_type,
             *acme_problem_detail(p) ? ": " : "", acme_problem_detail(p));
    for (size_t i = 0; i < acme_problem_subproblem_count(p) && i < MAX_SUBPROBLEMS; i++) {
        const acme_problem *sp = acme_problem_subproblem(p, i);
        used = strlen(buf);
        const char *id = acme_problem_identifier_value(sp);
        snprintf(buf + used, size - used, " [%s: %s]", id ? id : "?", acme_problem_detail(sp));
    }
}

int fail_with(const char *what, const char *message, const acme_problem *problem)
{
    char text[2048];
    snprintf(text, sizeof(text), "%s", message && *message ? message : "failed");
    /* The library's messages already carry the problem's detail; add the
     * type only when the message does not mention it. */
    if (problem && !strstr(text, acme_problem_detail(problem)))
        out_problem(problem, text, sizeof(text));
    error_msg("%s: %s", what, text);
    return EXIT_FAIL;
}
