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
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "mail/mime_down.h"
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

/* smtp_out_downgrade_free - forget a conversion (the next MX may offer 8BITMIME) */
void
smtp_out_downgrade_free(struct smtp_out_sess *s)
{
    if (s->down == NULL)
        return;
    mime_down_free(s->down);
    free(s->down);
    s->down = NULL;
}

/*
 * smtp_out_downgrade - for a server without 8BITMIME (RFC 6152 section 3): 7-bit content
 * goes as it is, 8-bit content is converted to 7-bit MIME (s->down, for smtp_out_content),
 * or, where it cannot be or disable_mime_output_conversion says not to, bounces with 5.6.3.
 * False: the session ended, or every recipient has its outcome and QUIT is on its way.
 */
bool
smtp_out_downgrade(struct smtp_out_sess *s)
{
    struct mime_down *md = xmalloc(sizeof(*md));
    struct err err;

    smtp_out_downgrade_free(s);
    mime_down_init(md);
    s->down = md;
    if (!queue_file_content(s->req.fd, &s->env, mime_down_feed, md, &err)) {
        s->reached = true; /* our file, not the destination: no negative feedback */
        smtp_out_lost(s, "4.3.0", "read queue file: %s", err.text);
        return false;
    }
    mime_down_finish(md);
    if (md->verdict == MIME_DOWN_CONVERT && !s->so->p->disable_mime_output_conversion)
        return true;
    if (md->verdict != MIME_DOWN_7BIT) {
        smtp_out_fail_all(
            s, DELIVER_BOUNCE, "5.6.3",
            "message has 8-bit content that is not converted to 7-bit (%s), and "
            "host %s does not offer 8BITMIME",
            md->verdict == MIME_DOWN_CANNOT ? md->why : "disable_mime_output_conversion", s->host);
        smtp_out_quit(s);
        return false;
    }
    smtp_out_downgrade_free(s);
    return true;
}

/* smtp_out_read_content - the content to send, chunk by chunk into fn: as the queue file
 * holds it, or converted to 7-bit first; false: the session ended */
static bool
smtp_out_read_content(struct smtp_out_sess *s, queue_content_fn fn, void *arg)
{
    struct buf seven;
    struct err err;
    bool good;

    if (s->down == NULL)
        good = queue_file_content(s->req.fd, &s->env, fn, arg, &err);
    else {
        buf_init(&seven, BUF_UNLIMITED);
        mime_down_rewind(s->down, &seven);
        good = queue_file_content(s->req.fd, &s->env, mime_down_feed, s->down, &err);
        if (good) {
            mime_down_finish(s->down);
            fn(seven.data ? seven.data : "", seven.len, arg);
        }
        buf_free(&seven);
    }
    if (!good)
        smtp_out_lost(s, "4.3.0", "read queue file: %s", err.text);
    return good;
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
    int n;

    if (!smtp_out_read_content(s, smtp_out_raw_chunk, &st))
        return false;
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

    if (!smtp_out_read_content(s, smtp_out_stuff_chunk, &st))
        return false;
    if (!st.line_start)
        buf_puts(&s->out, "\r\n");
    buf_puts(&s->out, ".\r\n");
    return true;
}
