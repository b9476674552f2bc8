/*
 * smtp_out_data.c - the message content as DATA sends it: the queue file's content (CRLF
 * lines, as SMTP carried it in) with every line that starts with a dot given a second one
 * (RFC 5321 4.5.2), a CRLF added if the content does not end with one, and the final dot.
 * Or, to a server that offers CHUNKING (RFC 3030), one "BDAT n LAST" with the content as it
 * is: no stuffing, no dot, and with PIPELINING no round trip of its own.
 *
 * The content streams from the file: a chunk (one queue file record) is read whenever
 * fewer than SMTP_OUT_FILL_LOW bytes wait to be sent, up to SMTP_OUT_FILL_HIGH, so a
 * session holds a few hundred KiB whatever the message's size.
 *
 * For a server without 8BITMIME the content is first checked for 8-bit bytes
 * (lib/mail/mime_down.c's scan), read the same way: SMTP_OUT_SCAN_STEP octets per turn of
 * the loop, so that the process's other deliveries go on while a large message is read.
 *
 * Trusts: the queue file as queue_read.c checks it while reading.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/mime_down.h"
#include "smtp-out/smtp_out.h"

#define SMTP_OUT_FILL_LOW  (64 * 1024)
#define SMTP_OUT_FILL_HIGH (256 * 1024)
#define SMTP_OUT_SCAN_STEP (256 * 1024) /* octets the 8-bit check reads per turn of the loop */

/* smtp_out_put_chunk - bytes of content into s->out: dots doubled at line starts for DATA,
 * as they are for BDAT */
static void
smtp_out_put_chunk(struct smtp_out_sess *s, const char *data, size_t len)
{
    struct smtp_out_src *src = &s->src;
    size_t from = 0;

    for (size_t i = 0; src->stuff && i < len; i++) {
        if (src->line_start && data[i] == '.') {
            buf_append(&s->out, data + from, i - from);
            buf_putc(&s->out, '.');
            from = i;
        }
        src->line_start = data[i] == '\n';
    }
    if (!src->stuff && len > 0)
        src->line_start = data[len - 1] == '\n';
    buf_append(&s->out, data + from, len - from);
}

/* smtp_out_file_chunk - a chunk of the queue file's content, converted first when the
 * server gets 7-bit content (s->down) */
static bool
smtp_out_file_chunk(const char *data, size_t len, void *arg)
{
    struct smtp_out_sess *s = arg;

    if (s->down == NULL) {
        smtp_out_put_chunk(s, data, len);
        return true;
    }
    mime_down_feed(data, len, s->down);
    smtp_out_put_chunk(s, buf_str(&s->src.seven), s->src.seven.len);
    buf_reset(&s->src.seven);
    return true;
}

/* smtp_out_downgrade_free - forget a conversion and stop its check (the next MX may offer
 * 8BITMIME) */
void
smtp_out_downgrade_free(struct smtp_out_sess *s)
{
    queue_content_close(s->scan.cur);
    s->scan = (struct smtp_out_scan){.timer = s->scan.timer};
    if (s->scan.timer != NULL)
        loop_timer_stop(s->scan.timer);
    if (s->down == NULL)
        return;
    mime_down_free(s->down);
    free(s->down);
    s->down = NULL;
}

/* smtp_out_scan_feed - a chunk to the check, counted */
static bool
smtp_out_scan_feed(const char *data, size_t len, void *arg)
{
    struct smtp_out_sess *s = arg;

    s->scan.octets += len;
    return mime_down_feed(data, len, s->down);
}

/*
 * smtp_out_scan_verdict - the check is done: 7-bit content goes as it is, 8-bit content is
 * converted (s->down, for smtp_out_content), or, where it cannot be or
 * disable_mime_output_conversion says not to, bounces with 5.6.3. False: every recipient
 * has its outcome and QUIT is on its way.
 */
static bool
smtp_out_scan_verdict(struct smtp_out_sess *s)
{
    struct mime_down *md = s->down;

    mime_down_finish(md);
    if (log_verbose() > 0)
        log_info("%s: 8-bit check of %llu octets in %u steps", s->req.queue_id,
                 (unsigned long long)s->scan.octets, s->scan.steps);
    queue_content_close(s->scan.cur);
    s->scan.cur = NULL;
    if (md->verdict == MIME_DOWN_CONVERT && !s->so->p->disable_mime_output_conversion) {
        s->scan.done = true;
        return true;
    }
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
    s->scan.done = true;
    return true;
}

/* smtp_out_scan_step - the check reads on (a timer of no delay: one turn of the loop each),
 * and at the end of the content the envelope goes, or the delivery ends */
static void
smtp_out_scan_step(void *arg)
{
    struct smtp_out_sess *s = arg;
    size_t upto = s->scan.octets + SMTP_OUT_SCAN_STEP;
    struct err err;

    s->scan.steps++;
    while (s->scan.octets < upto)
        switch (queue_content_next(s->scan.cur, smtp_out_scan_feed, s, &err)) {
        case QUEUE_CONTENT_MORE:
            break;
        case QUEUE_CONTENT_END:
            if (smtp_out_scan_verdict(s))
                smtp_out_envelope(s);
            if (s->over)
                smtp_out_hop_done(s);
            return;
        case QUEUE_CONTENT_ERROR:
            s->reached = true; /* our file, not the destination: no negative feedback */
            smtp_out_lost(s, "4.3.0", "read queue file: %s", err.text);
            smtp_out_hop_done(s);
            return;
        }
    loop_timer_start(s->scan.timer, 0);
}

/*
 * smtp_out_downgrade - for a server without 8BITMIME (RFC 6152 section 3): is the content
 * ready to go? True once the check is done and the content may go (7-bit as it is, or
 * converted); false while the check runs (it calls smtp_out_envelope again when done) or
 * when the session ended.
 */
bool
smtp_out_downgrade(struct smtp_out_sess *s)
{
    struct err err;

    if (s->scan.done)
        return true;
    smtp_out_downgrade_free(s);
    s->down = xmalloc(sizeof(*s->down));
    mime_down_init(s->down);
    s->scan.cur = queue_content_open(s->req.fd, &s->env, &err);
    if (s->scan.cur == NULL) {
        s->reached = true;
        smtp_out_lost(s, "4.3.0", "read queue file: %s", err.text);
        return false;
    }
    if (s->scan.timer == NULL)
        s->scan.timer = loop_timer_new(s->so->ctx->loop, smtp_out_scan_step, s);
    loop_timer_start(s->scan.timer, 0);
    return false;
}

/* smtp_out_src_stop - no more content from the file (sent, or the connection is gone) */
void
smtp_out_src_stop(struct smtp_out_sess *s)
{
    queue_content_close(s->src.cur);
    s->src.cur = NULL;
    buf_free(&s->src.seven);
}

/* smtp_out_src_end - the file's content is all out: the CRLF it may lack, the dot for DATA */
static void
smtp_out_src_end(struct smtp_out_sess *s)
{
    if (s->down != NULL) {
        mime_down_finish(s->down);
        smtp_out_put_chunk(s, buf_str(&s->src.seven), s->src.seven.len);
    }
    if (!s->src.line_start)
        buf_puts(&s->out, "\r\n");
    if (s->src.stuff)
        buf_puts(&s->out, ".\r\n");
    smtp_out_src_stop(s);
}

/* smtp_out_fill - read ahead while little waits to be sent; false: the session ended */
bool
smtp_out_fill(struct smtp_out_sess *s)
{
    struct err err;

    if (s->src.cur == NULL || s->out.len >= SMTP_OUT_FILL_LOW)
        return true;
    while (s->src.cur != NULL && s->out.len < SMTP_OUT_FILL_HIGH)
        switch (queue_content_next(s->src.cur, smtp_out_file_chunk, s, &err)) {
        case QUEUE_CONTENT_MORE:
            break;
        case QUEUE_CONTENT_END:
            smtp_out_src_end(s);
            break;
        case QUEUE_CONTENT_ERROR:
            smtp_out_src_stop(s);
            smtp_out_lost(s, "4.3.0", "read queue file: %s", err.text);
            return false;
        }
    return true;
}

/* smtp_out_src_start - the content starts to stream; false: the session ended */
static bool
smtp_out_src_start(struct smtp_out_sess *s, bool stuff)
{
    struct err err;

    smtp_out_src_stop(s);
    s->src = (struct smtp_out_src){.stuff = stuff, .line_start = true};
    buf_init(&s->src.seven, BUF_UNLIMITED);
    if (s->down != NULL)
        mime_down_rewind(s->down, &s->src.seven);
    s->src.cur = queue_content_open(s->req.fd, &s->env, &err);
    if (s->src.cur == NULL) {
        smtp_out_lost(s, "4.3.0", "read queue file: %s", err.text);
        return false;
    }
    return smtp_out_fill(s);
}

/* smtp_out_bdat - BDAT with the whole content as its one chunk (only for content sent as it
 * is: its size is known before it is read); the reply is the final one, as the dot's;
 * false: the session ended */
bool
smtp_out_bdat(struct smtp_out_sess *s)
{
    struct err err;
    char last;

    if (!queue_content_last(s->req.fd, &s->env, &last, &err)) {
        smtp_out_lost(s, "4.3.0", "read queue file: %s", err.text);
        return false;
    }
    buf_printf(&s->out, "BDAT %llu LAST\r\n",
               (unsigned long long)s->env.size + (s->env.size > 0 && last != '\n' ? 2 : 0));
    if (!smtp_out_src_start(s, false))
        return false;
    smtp_out_expect(s, SMTP_OUT_DOT, 0);
    smtp_out_arm(s);
    return true;
}

/* smtp_out_content - the content and the final dot start to stream; false: the session
 * ended */
bool
smtp_out_content(struct smtp_out_sess *s)
{
    return smtp_out_src_start(s, true);
}
