/*
 * lineio.c - protocol lines in and out (SMTP, the test services).
 *
 * Trusts: nothing in the input; it comes from the network. Memory per connection is
 * bounded by the input buffer limit and the output queue limit. How a line ended (CRLF,
 * bare LF, or not at all) and whether it holds a bare CR are reported, not judged: the
 * protocol layer decides what to reject.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/lineio.h"
#include "core/log.h"

#define LINEIO_READ_CHUNK 4096

void
lineio_in_init(struct lineio_in *li, size_t max)
{
    buf_init(&li->in, LINEIO_IN_LIMIT(max));
    buf_init(&li->line, max);
    li->max = max;
    li->skipping = false;
    li->eof = false;
    li->end = LINEIO_END_NONE;
    li->bare_cr = false;
}

void
lineio_in_free(struct lineio_in *li)
{
    buf_free(&li->in);
    buf_free(&li->line);
}

/* lineio_in_fill - one read() into the free part of the input buffer; returns its result.
 * 0 (EOF) is remembered, so that a last unterminated line comes out. Take every line out
 * (until LINEIO_NEED) before filling again: that guarantees room. */
long
lineio_in_fill(struct lineio_in *li, int fd)
{
    char chunk[LINEIO_READ_CHUNK];
    size_t room = li->in.limit - li->in.len;
    ssize_t n;

    if (room == 0) {
        errno = ENOBUFS; /* the caller did not take the lines out first */
        return -1;
    }
    do {
        n = read(fd, chunk, room < sizeof(chunk) ? room : sizeof(chunk));
    } while (n < 0 && errno == EINTR);
    if (n == 0)
        li->eof = true;
    if (n > 0 && !buf_append(&li->in, chunk, (size_t)n))
        log_panic("lineio_in_fill: buffer limit miscounted");
    return (long)n;
}

void
lineio_in_set_eof(struct lineio_in *li)
{
    li->eof = true;
}

/* lineio_in_take - move len content bytes to line and drop used bytes of input */
static enum lineio_status
lineio_in_take(struct lineio_in *li, size_t len, size_t used, enum lineio_end end)
{
    buf_reset(&li->line);
    buf_append(&li->line, li->in.data, len);
    li->end = end;
    li->bare_cr = memchr(li->line.data ? li->line.data : "", '\r', len) != NULL;
    buf_consume(&li->in, used);
    return LINEIO_LINE;
}

/* lineio_in_skip_rest - while skipping, drop input through the next LF */
static bool
lineio_in_skip_rest(struct lineio_in *li)
{
    const char *lf = li->in.len ? memchr(li->in.data, '\n', li->in.len) : NULL;

    if (lf == NULL) {
        buf_reset(&li->in);
        return false;
    }
    buf_consume(&li->in, (size_t)(lf - li->in.data) + 1);
    li->skipping = false;
    return true;
}

/* lineio_in_get - the next complete line, or why there is none */
enum lineio_status
lineio_in_get(struct lineio_in *li)
{
    size_t scan, len;
    const char *lf;

    if (li->skipping && !lineio_in_skip_rest(li))
        return LINEIO_NEED;
    scan = li->in.len < li->max + 2 ? li->in.len : li->max + 2;
    lf = scan ? memchr(li->in.data, '\n', scan) : NULL;
    if (lf != NULL) {
        len = (size_t)(lf - li->in.data);
        bool crlf = len > 0 && lf[-1] == '\r';
        if (len - crlf > li->max)
            return LINEIO_TOO_LONG;
        return lineio_in_take(li, len - crlf, len + 1, crlf ? LINEIO_END_CRLF : LINEIO_END_LF);
    }
    if (li->in.len > li->max + 1 || (li->in.len == li->max + 1 && li->in.data[li->max] != '\r'))
        return LINEIO_TOO_LONG;
    if (li->eof && li->in.len > li->max)
        return LINEIO_TOO_LONG;
    if (li->eof && li->in.len > 0)
        return lineio_in_take(li, li->in.len, li->in.len, LINEIO_END_NONE);
    return LINEIO_NEED;
}

/* lineio_in_skip - after LINEIO_TOO_LONG: drop the over-long line through its LF */
void
lineio_in_skip(struct lineio_in *li)
{
    li->skipping = true;
    lineio_in_skip_rest(li);
}

/* lineio_in_discard - drop all buffered input (say, before a STARTTLS handshake) */
void
lineio_in_discard(struct lineio_in *li)
{
    buf_reset(&li->in);
    li->skipping = false;
}

/* lineio_in_wipe - the current line, and the room behind the pending bytes where taken lines
 * were, overwritten: for input that carried secrets (AUTH) */
void
lineio_in_wipe(struct lineio_in *li)
{
    if (li->line.data != NULL)
        explicit_bzero(li->line.data, li->line.cap);
    li->line.len = 0;
    if (li->in.data != NULL && li->in.cap > li->in.len)
        explicit_bzero(li->in.data + li->in.len, li->in.cap - li->in.len);
}

/* lineio_in_pending - bytes read and not yet taken */
size_t
lineio_in_pending(const struct lineio_in *li)
{
    return li->in.len;
}

/* lineio_in_data - those bytes (for a caller that takes input in bulk, or a log line) */
const char *
lineio_in_data(const struct lineio_in *li)
{
    return buf_str(&li->in);
}

/* lineio_in_consume - n of the pending bytes are taken */
void
lineio_in_consume(struct lineio_in *li, size_t n)
{
    buf_consume(&li->in, n);
}

/*
 * lineio_in_bulk - let the input buffer hold limit bytes (content that is taken in bulk),
 * or with limit 0 go back to the line limit; never below what is pending
 */
void
lineio_in_bulk(struct lineio_in *li, size_t limit)
{
    li->in.limit = limit ? limit : LINEIO_IN_LIMIT(li->max);
    if (li->in.limit < li->in.len)
        li->in.limit = li->in.len;
}

/* lineio_in_full - no room for more input */
bool
lineio_in_full(const struct lineio_in *li)
{
    return li->in.len >= li->in.limit;
}

/* lineio_in_trim - give back a buffer larger than keep while nothing is pending */
void
lineio_in_trim(struct lineio_in *li, size_t keep)
{
    if (li->in.len == 0 && li->in.cap > keep)
        buf_free(&li->in);
}

void
lineio_out_init(struct lineio_out *lo, size_t limit)
{
    buf_init(&lo->q, limit);
}

void
lineio_out_free(struct lineio_out *lo)
{
    buf_free(&lo->q);
}

bool
lineio_out_put(struct lineio_out *lo, const void *data, size_t len)
{
    return buf_append(&lo->q, data, len);
}

/* lineio_out_line - queue one formatted line and its CRLF, all or nothing */
bool
lineio_out_line(struct lineio_out *lo, const char *fmt, ...)
{
    size_t before = lo->q.len;
    char text[4096];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(text))
        return false;
    if (buf_append(&lo->q, text, (size_t)n) && buf_append(&lo->q, "\r\n", 2))
        return true;
    buf_truncate(&lo->q, before);
    return false;
}

/* lineio_out_flush - write as much of the queue as fd takes now */
enum lineio_flush
lineio_out_flush(struct lineio_out *lo, int fd)
{
    while (lo->q.len > 0) {
        ssize_t n = write(fd, lo->q.data, lo->q.len);

        if (n > 0)
            buf_consume(&lo->q, (size_t)n);
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return LINEIO_PENDING;
        else
            return LINEIO_ERROR;
    }
    return LINEIO_FLUSHED;
}

bool
lineio_out_pending(const struct lineio_out *lo)
{
    return lo->q.len > 0;
}
