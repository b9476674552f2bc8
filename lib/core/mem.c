/*
 * mem.c - allocation wrappers.
 *
 * Trusts: nothing; every size is checked for overflow. Running out of memory is an
 * environment error: the process logs it and exits, and the master starts a new one.
 * No wrapper ever returns NULL.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoconf.h"
#include "core/log.h"
#include "core/mem.h"

static void *
mem_checked(void *p, size_t size)
{
    if (p == NULL && size != 0)
        log_fatal("out of memory allocating %zu bytes", size);
    return p;
}

void *
xmalloc(size_t size)
{
    return mem_checked(malloc(size ? size : 1), size);
}

void *
xcalloc(size_t count, size_t size)
{
    return mem_checked(calloc(count ? count : 1, size ? size : 1), count * size);
}

void *
xrealloc(void *ptr, size_t size)
{
    return mem_checked(realloc(ptr, size ? size : 1), size);
}

/* xreallocarray - resize an array, refusing a count * size that overflows */
void *
xreallocarray(void *ptr, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        log_fatal("allocation overflow: %zu * %zu", count, size);
    return xrealloc(ptr, count * size);
}

char *
xstrdup(const char *s)
{
    return xmemdup(s, strlen(s) + 1);
}

/* xstrndup - copy at most n bytes of s and terminate the copy */
char *
xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *copy = xmalloc(len + 1);

    memcpy(copy, s, len);
    copy[len] = 0;
    return copy;
}

void *
xmemdup(const void *p, size_t n)
{
    void *copy = xmalloc(n);

    if (n)
        memcpy(copy, p, n);
    return copy;
}

char *
xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        log_fatal("out of memory formatting a string");
    va_end(ap);
    return s;
}

/* wipe - clear secrets so the compiler cannot drop the store */
void
wipe(void *p, size_t n)
{
#ifdef HAVE_EXPLICIT_BZERO
    explicit_bzero(p, n);
#else
    volatile unsigned char *v = p;

    while (n--)
        *v++ = 0;
#endif
}
