/*
 * record.c - the records of postern's own files, written through one buffer: the framing
 * that the queue file (lib/mail/queue_write.c) and the maildrop file (lib/mail/maildrop.c)
 * share; each of them says which types come in which order and checks the values.
 *
 * Trusts: its caller for the values; a record that would not fit its buffer is a failure,
 * never a short record.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/record.h"

void
record_writer_init(struct record_writer *w, int fd, size_t limit, const char *what)
{
    memset(w, 0, sizeof(*w));
    w->fd = fd;
    w->limit = limit;
    w->what = what;
    buf_init(&w->out, limit);
}

/* record_writer_fail - the first failure is kept; later ones are not */
void
record_writer_fail(struct record_writer *w, int errnum, const char *fmt, ...)
{
    va_list ap;

    if (w->failed)
        return;
    w->failed = true;
    w->errnum = errnum;
    va_start(ap, fmt);
    vsnprintf(w->err.text, sizeof(w->err.text), fmt, ap);
    va_end(ap);
}

/* record_writer_write - write out what is buffered */
static void
record_writer_write(struct record_writer *w)
{
    const char *p = w->out.data;
    size_t left = w->out.len;

    while (!w->failed && left > 0) {
        ssize_t n = write(w->fd, p, left);
        int e = n < 0 ? errno : EIO;

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            record_writer_fail(w, e, "%s write: %s", w->what, strerror(e));
        else {
            p += n;
            left -= (size_t)n;
        }
    }
    buf_reset(&w->out);
}

/* record_writer_put - one record, buffered */
void
record_writer_put(struct record_writer *w, char type, const void *data, size_t len)
{
    unsigned char head[RECORD_HEADER];

    if (w->failed)
        return;
    if (w->out.len + RECORD_HEADER + len > w->limit)
        record_writer_write(w);
    head[0] = (unsigned char)type;
    be_put(head + 1, len, 4);
    if (!buf_append(&w->out, head, sizeof(head)) || !buf_append(&w->out, data, len))
        record_writer_fail(w, 0, "%s record '%c' too large", w->what, type);
}

/* record_writer_flush - everything buffered written; false with err (if given) on failure */
bool
record_writer_flush(struct record_writer *w, struct err *err)
{
    record_writer_write(w);
    if (w->failed && err)
        *err = w->err;
    return !w->failed;
}

void
record_writer_free(struct record_writer *w)
{
    buf_free(&w->out);
}
