/* buf.h - binary-safe byte buffers with a hard size limit */
#ifndef CORE_BUF_H
#define CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A buffer never grows past its limit: an append that would pass it changes nothing and
 * returns false, so every caller that holds untrusted input must decide what "too big"
 * means. data is always NUL-terminated (data[len] == 0) once anything was stored.
 */
struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t limit;
};

#define BUF_UNLIMITED ((size_t)-1)

void buf_init(struct buf *b, size_t limit);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
bool buf_append(struct buf *b, const void *p, size_t n);
bool buf_insert(struct buf *b, size_t at, const void *p, size_t n); /* at <= len */
bool buf_puts(struct buf *b, const char *s);
bool buf_putc(struct buf *b, int c);
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_consume(struct buf *b, size_t n);
void buf_truncate(struct buf *b, size_t len);
const char *buf_str(const struct buf *b);
char *buf_steal(struct buf *b);

#endif
