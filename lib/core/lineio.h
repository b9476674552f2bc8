/* lineio.h - line input with a hard length limit, and a buffered output queue */
#ifndef CORE_LINEIO_H
#define CORE_LINEIO_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/*
 * Input: bytes go into in (lineio_in_fill() reads a descriptor, or append to in yourself),
 * lineio_in_get() takes one line out. A line is at most max bytes, not counting its
 * terminator. The input buffer holds at most 2 * (max + 2) bytes, so a peer that never
 * sends a newline costs bounded memory: lineio_in_get() reports LINEIO_TOO_LONG as soon as
 * a line cannot fit, and lineio_in_skip() then throws input away up to the next LF.
 */
enum lineio_status {
    LINEIO_LINE,     /* line holds one line */
    LINEIO_NEED,     /* no complete line yet: read more */
    LINEIO_TOO_LONG, /* the next line exceeds max: skip it or hang up */
};

enum lineio_end {
    LINEIO_END_CRLF, /* "\r\n" */
    LINEIO_END_LF,   /* bare "\n" */
    LINEIO_END_NONE, /* last line before EOF, without a terminator */
};

/* The input buffer's limit for lines of at most max bytes: two lines and their ends. */
#define LINEIO_IN_LIMIT(max) (2 * ((max) + 2))

struct lineio_in {
    struct buf in;
    struct buf line; /* the current line, terminator removed, NUL-terminated */
    size_t max;
    bool skipping; /* discarding input until the next LF */
    bool eof;      /* the descriptor or the caller said no more input comes */
    enum lineio_end end;
    bool bare_cr; /* the current line holds a CR that is not part of its CRLF */
};

void lineio_in_init(struct lineio_in *li, size_t max);
void lineio_in_free(struct lineio_in *li);
long lineio_in_fill(struct lineio_in *li, int fd);
void lineio_in_set_eof(struct lineio_in *li);
enum lineio_status lineio_in_get(struct lineio_in *li);
void lineio_in_skip(struct lineio_in *li);
void lineio_in_discard(struct lineio_in *li);
void lineio_in_wipe(struct lineio_in *li);

/* For callers that take some input in bulk (message content) instead of line by line; the
 * fields above are the module's own. */
size_t lineio_in_pending(const struct lineio_in *li);
const char *lineio_in_data(const struct lineio_in *li);
void lineio_in_consume(struct lineio_in *li, size_t n);
void lineio_in_bulk(struct lineio_in *li, size_t limit);
bool lineio_in_full(const struct lineio_in *li);
void lineio_in_trim(struct lineio_in *li, size_t keep);

/*
 * Output: lines and bytes are queued, then written with lineio_out_flush() whenever the
 * descriptor is writable. The queue has a limit; a peer that never reads fills it and the
 * next append fails, which the caller treats as a broken connection.
 */
enum lineio_flush {
    LINEIO_FLUSHED, /* the queue is empty */
    LINEIO_PENDING, /* the descriptor would block: wait for writability */
    LINEIO_ERROR,   /* write error, errno says which */
};

struct lineio_out {
    struct buf q;
};

void lineio_out_init(struct lineio_out *lo, size_t limit);
void lineio_out_free(struct lineio_out *lo);
bool lineio_out_put(struct lineio_out *lo, const void *data, size_t len);
bool lineio_out_line(struct lineio_out *lo, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum lineio_flush lineio_out_flush(struct lineio_out *lo, int fd);
bool lineio_out_pending(const struct lineio_out *lo);

#endif
