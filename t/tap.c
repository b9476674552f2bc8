/*
 * tap.c - TAP output for unit tests: ok/is/like, then done_testing() prints the plan and
 * gives the exit status prove expects. tap_tmpdir() is a private directory per test run,
 * removed at exit unless the test failed (so the evidence stays for a look).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "t/tap.h"

static int tap_count;
static int tap_failed;
static char *tap_dir;

static bool
tap_report(bool cond, const char *fmt, va_list ap)
{
    tap_count++;
    if (!cond)
        tap_failed++;
    printf("%sok %d - ", cond ? "" : "not ", tap_count);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    return cond;
}

bool
ok(bool cond, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tap_report(cond, fmt, ap);
    va_end(ap);
    return cond;
}

bool
is_int(long long got, long long want, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tap_report(got == want, fmt, ap);
    va_end(ap);
    if (got != want)
        diag("     got: %lld\n#   expected: %lld", got, want);
    return got == want;
}

bool
is_str(const char *got, const char *want, const char *fmt, ...)
{
    va_list ap;
    bool same = (got == NULL && want == NULL) || (got && want && strcmp(got, want) == 0);

    va_start(ap, fmt);
    tap_report(same, fmt, ap);
    va_end(ap);
    if (!same)
        diag("     got: '%s'\n#   expected: '%s'", got ? got : "(null)", want ? want : "(null)");
    return same;
}

bool
like(const char *got, const char *substring, const char *fmt, ...)
{
    va_list ap;
    bool found = got && strstr(got, substring);

    va_start(ap, fmt);
    tap_report(found, fmt, ap);
    va_end(ap);
    if (!found)
        diag("     got: '%s'\n#   wanted a part: '%s'", got ? got : "(null)", substring);
    return found;
}

void
diag(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "# ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
}

static void
tap_cleanup(void)
{
    if (tap_dir && tap_failed == 0) {
        char *cmd = xasprintf("rm -rf '%s'", tap_dir);
        if (system(cmd) != 0)
            diag("could not remove %s", tap_dir);
        free(cmd);
    }
}

const char *
tap_tmpdir(void)
{
    if (tap_dir == NULL) {
        const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        tap_dir = xasprintf("%s/postern-t.XXXXXX", base);
        if (mkdtemp(tap_dir) == NULL) {
            perror("mkdtemp");
            exit(1);
        }
        atexit(tap_cleanup);
    }
    return tap_dir;
}

/* tap_write_file - write content to a file in the test directory; returns its path */
char *
tap_write_file(const char *name, const char *content)
{
    char *path = xasprintf("%s/%s", tap_tmpdir(), name);
    FILE *fp = fopen(path, "w");

    if (fp == NULL || fputs(content, fp) == EOF || fclose(fp) == EOF) {
        perror(path);
        exit(1);
    }
    return path;
}

int
done_testing(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}
