/*
 * smtp_out_data.c - the message content as DATA sends it: the queue file's content (CRLF
 * lines, as SMTP carried it in) with every line that starts with a dot given a second one
 * (RFC 5321 4.5.2), a CRLF added if the content does not end with one, and the final dot.
 * Or, to a server that offers CHUNKING (RFC 3030), one "BDAT n LAST" with the content as it
 * is: no stuffing, no dot, and with PIPELINING no round trip of its own.
 *
 * The whole stuffed content is built in the session's output buffer before it is written:
 * simple, and bounded by message_size_limit (plus one byte per stuffed dot); streaming it
 * from the file in pieces is left for later (doc/smtp-out.md).
 *
 * Trusts: the queue file as queue_read.c checks it while reading.
 */
#include <stdio.h>
#include <string.h>

#include "smtp-out/smtp_out.h"

struct smtp_out_stuff {
    struct buf *out;
    bool line_start; /* the last byte was LF, or nothing was sent yet */
};

/* smtp_out_stuff_chunk - one chunk of content, dots doubled at line starts */
static bool
smtp_out_stuff_chunk(const char *data, size_t len, void *arg)
{
    struct smtp_out_stuff *st = arg;
    size_t from = 0;

    for (size_t i = 0; i < len; i++) {
        if (st->line_start && data[i] == '.') {
            buf_append(st->out, data + from, i - from);
            buf_putc(st->out, '.');
            from = i;
        }
        st->line_start = data[i] == '\n';
    }
    buf_append(st->out, data + from, len - from);
    return true;
}

/* smtp_out_8bit_chunk - note a byte with the high bit set */
static bool
smtp_out_8bit_chunk(const char *data, size_t len, void *arg)
{
    bool *eight = arg;

    for (size_t i = 0; i < len && !*eight; i++)
        *eight = (unsigned char)data[i] >= 0x80;
    return true;
}

/* smtp_out_8bit_content - does the content hold 8-bit bytes? (read only for a server without
 * 8BITMIME); false: the file could not be read, and the session ended */
bool
smtp_out_8bit_content(struct smtp_out_sess *s, bool *eight)
{
    struct err err;

    *eight = false;
    if (!queue_file_content(s->req.fd, &s->env, smtp_out_8bit_chunk, eight, &err)) {
        s->reached = true; /* our file, not the destination: no negative feedback */
        smtp_out_lost(s, "4.3.0", "read queue file: %s", err.text);
        return false;
    }
    return true;
}

/* smtp_out_raw_chunk - one chunk of content, as it is */
static bool
smtp_out_raw_chunk(const char *data, size_t len, void *arg)
{
    struct smtp_out_stuff *st = arg;

    buf_append(st->out, data, len);
    st->line_start = len > 0 ? data[len - 1] == '\n' : st->line_start;
    return true;
}

/* smtp_out_bdat - BDAT with the whole content as its one chunk, into s->out; the reply is
 * the final one, as the dot's; false: the session ended */
bool
smtp_out_bdat(struct smtp_out_sess *s)
{
    struct smtp_out_stuff st = {.out = &s->out, .line_start = true};
    size_t start = s->out.len;
    char cmd[64];
    struct err err;
    int n;

    if (!queue_file_content(s->req.fd, &s->env, smtp_out_raw_chunk, &st, &err)) {
        smtp_out_lost(s, "4.3.0", "read queue file: %s", err.text);
        return false;
    }
    if (!st.line_start)
        buf_puts(&s->out, "\r\n");
    n = snprintf(cmd, sizeof(cmd), "BDAT %zu LAST\r\n", s->out.len - start);
    buf_insert(&s->out, start, cmd, (size_t)n);
    smtp_out_expect(s, SMTP_OUT_DOT, 0);
    smtp_out_arm(s);
    return true;
}

/* smtp_out_content - the content and the final dot into s->out; false: the session ended */
bool
smtp_out_content(struct smtp_out_sess *s)
{
    struct smtp_out_stuff st = {.out = &s->out, .line_start = true};
    struct err err;

    if (!queue_file_content(s->req.fd, &s->env, smtp_out_stuff_chunk, &st, &err)) {
        smtp_out_lost(s, "4.3.0", "read queue file: %s", err.text);
        return false;
    }
    if (!st.line_start)
        buf_puts(&s->out, "\r\n");
    buf_puts(&s->out, ".\r\n");
    return true;
}
