/* mem.h - allocation that never returns NULL */
#ifndef CORE_MEM_H
#define CORE_MEM_H

#include <stddef.h>

/* nitems - the number of elements of an array (never a pointer) */
#define nitems(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
void *xreallocarray(void *ptr, size_t count, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void wipe(void *p, size_t n);

#endif
