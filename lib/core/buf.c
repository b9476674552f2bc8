/*
 * buf.c - growable byte buffers with a hard limit.
 *
 * Trusts: nothing about the bytes stored; they may hold NULs. Invariants: len <= limit,
 * len < cap whenever data != NULL, and data[len] == 0.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"

void
buf_init(struct buf *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit;
}

void
buf_free(struct buf *b)
{
    free(b->data);
    buf_init(b, b->limit);
}

void
buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
}

/* buf_reserve - make room for n more bytes plus the terminator, within the limit */
static bool
buf_reserve(struct buf *b, size_t n)
{
    size_t need;

    if (n > b->limit || b->len > b->limit - n)
        return false;
    need = b->len + n + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
    return true;
}

bool
buf_append(struct buf *b, const void *p, size_t n)
{
    if (!buf_reserve(b, n))
        return false;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return true;
}

/* buf_insert - n bytes at offset at, the bytes from there on moved after them */
bool
buf_insert(struct buf *b, size_t at, const void *p, size_t n)
{
    if (at > b->len || !buf_reserve(b, n))
        return false;
    memmove(b->data + at + n, b->data + at, b->len - at + 1);
    memcpy(b->data + at, p, n);
    b->len += n;
    return true;
}

bool
buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

bool
buf_putc(struct buf *b, int c)
{
    char ch = (char)c;

    return buf_append(b, &ch, 1);
}

bool
buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t)n))
        return false;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

/* buf_consume - drop the first n bytes */
void
buf_consume(struct buf *b, size_t n)
{
    if (n > b->len)
        log_panic("buf_consume: %zu > %zu", n, b->len);
    if (n == 0)
        return;
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = 0;
}

void
buf_truncate(struct buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->data[len] = 0;
    }
}

const char *
buf_str(const struct buf *b)
{
    return b->data ? b->data : "";
}

/* buf_steal - hand the storage to the caller and leave the buffer empty */
char *
buf_steal(struct buf *b)
{
    char *s = b->data ? b->data : xstrdup("");

    buf_init(b, b->limit);
    return s;
}
