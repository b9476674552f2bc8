/*
 * deliver.c - the mailbox-independent part of local delivery: result codes, the
 * Return-Path/Delivered-To headers, loop detection and the streaming copy of the content.
 *
 * Trusts: nothing in the message content. The header section read for loop detection is
 * bounded by DELIVER_HEADER_LIMIT; the copy streams through a fixed buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/mem.h"
#include "mail/deliver.h"

/* deliver_errno - a temporary failure from errno; a full disk or quota is 4.2.2; a file
 * over the process's size limit (EFBIG) will not fit at the next try either: 5.2.2 */
void
deliver_errno(struct deliver_result *res, int err, const char *what, const char *path)
{
    if (err == EFBIG)
        deliver_set(res, DELIVER_BOUNCE, "5.2.2", "mailbox full: %s %s: %s", what, path,
                    strerror(err));
    else if (err == ENOSPC || err == EDQUOT)
        deliver_set(res, DELIVER_DEFER, "4.2.2", "mailbox full: %s %s: %s", what, path,
                    strerror(err));
    else
        deliver_set(res, DELIVER_DEFER, "4.3.0", "%s %s: %s", what, path, strerror(err));
}

/* deliver_fits - may a mailbox file of have bytes grow by add? Else the recipient fails with
 * 5.2.2, as Postfix's mailbox_size_limit makes it (a full mailbox does not empty itself in
 * the retry time that matters; the sender should know) */
bool
deliver_fits(const struct mailbox_request *req, off_t have, off_t add, struct deliver_result *res)
{
    off_t total = have + add;

    if (req->size_limit <= 0 || total <= req->size_limit)
        return true;
    deliver_set(res, DELIVER_BOUNCE, "5.2.2",
                "mailbox full: %lld bytes would exceed mailbox_size_limit (%lld)", (long long)total,
                (long long)req->size_limit);
    return false;
}

/* header_value_is - does one Delivered-To value equal the recipient (case-insensitive)? */
static bool
header_value_is(const char *v, size_t len, const char *recipient)
{
    size_t rlen = strlen(recipient);

    while (len > 0 && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'))
        v++, len--;
    while (len > 0 &&
           (v[len - 1] == ' ' || v[len - 1] == '\t' || v[len - 1] == '\r' || v[len - 1] == '\n'))
        len--;
    if (len >= 2 && v[0] == '<' && v[len - 1] == '>')
        v++, len -= 2;
    return len == rlen && rlen > 0 && strncasecmp(v, recipient, len) == 0;
}

/*
 * deliver_headers_loop - scan a header section for Delivered-To: recipient. The section
 * ends at the first empty line or at len; folded lines belong to the header above them.
 */
bool
deliver_headers_loop(const char *text, size_t len, const char *recipient)
{
    static const char name[] = "delivered-to:";
    size_t pos = 0;

    while (pos < len) {
        size_t start = pos, end;

        if (text[pos] == '\n' || (text[pos] == '\r' && pos + 1 < len && text[pos + 1] == '\n'))
            return false;
        /* a logical header: up to a newline not followed by space or tab */
        end = pos;
        for (;;) {
            const char *nl = memchr(text + end, '\n', len - end);

            if (nl == NULL) {
                end = len;
                break;
            }
            end = (size_t)(nl - text) + 1;
            if (end >= len || (text[end] != ' ' && text[end] != '\t'))
                break;
        }
        if (end - start > sizeof name - 1 &&
            strncasecmp(text + start, name, sizeof name - 1) == 0 &&
            header_value_is(text + start + sizeof name - 1, end - start - (sizeof name - 1),
                            recipient))
            return true;
        pos = end;
    }
    return false;
}

/* deliver_check_loop - read the bounded header section and bounce on a forwarding loop */
bool
deliver_check_loop(const struct mailbox_request *req, struct deliver_result *res)
{
    size_t want =
        req->src.length < DELIVER_HEADER_LIMIT ? (size_t)req->src.length : DELIVER_HEADER_LIMIT;
    char *text = xmalloc(want + 1);
    size_t got = 0;
    bool loop;

    while (got < want) {
        ssize_t n = pread(req->src.fd, text + got, want - got, req->src.offset + (off_t)got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            deliver_set(res, DELIVER_DEFER, "4.3.0", "read message: %s",
                        n < 0 ? strerror(errno) : "unexpected end of file");
            free(text);
            return false;
        }
        got += (size_t)n;
    }
    loop = deliver_headers_loop(text, got, req->recipient);
    free(text);
    if (loop) {
        deliver_set(res, DELIVER_BOUNCE, "5.4.6", "mail forwarding loop for %s", req->recipient);
        return false;
    }
    return true;
}

/* deliver_prepend - the headers local delivery adds in front of the message */
char *
deliver_prepend(const struct mailbox_request *req)
{
    return xasprintf("Return-Path: <%s>\nDelivered-To: %s\n", req->sender, req->recipient);
}

/* deliver_sink_init - start a copy into fd */
void
deliver_sink_init(struct deliver_sink *s, int fd, bool quote_from)
{
    memset(s, 0, sizeof *s);
    s->fd = fd;
    s->quote_from = quote_from;
    s->last = '\n';
    s->line_start = true;
}

/* sink_write - write the buffer out, remembering the first error */
static void
sink_write(struct deliver_sink *s)
{
    size_t off = 0;

    while (s->err == 0 && off < s->fill) {
        ssize_t n = write(s->fd, s->buf + off, s->fill - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            s->err = errno;
        else if (n == 0)
            s->err = EIO;
        else
            off += (size_t)n;
    }
    s->fill = 0;
}

/* sink_put - one byte through the buffer */
static void
sink_put(struct deliver_sink *s, char c)
{
    if (s->fill == sizeof s->buf)
        sink_write(s);
    s->buf[s->fill++] = c;
    s->last = c;
}

/* deliver_sink_raw - bytes without quoting (the separator and added headers) */
void
deliver_sink_raw(struct deliver_sink *s, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        sink_put(s, data[i]);
}

/* sink_release - emit the held-back '>' run and partial "From " match */
static void
sink_release(struct deliver_sink *s, bool quote)
{
    if (quote)
        sink_put(s, '>');
    for (; s->gt_run > 0; s->gt_run--)
        sink_put(s, '>');
    deliver_sink_raw(s, "From ", s->match);
    s->match = 0;
    s->line_start = false;
}

/*
 * sink_quoted - mboxrd: a line matching ^>*From gets one more '>'. The '>' run is only
 * counted, so an arbitrarily long run costs no memory.
 */
static void
sink_quoted(struct deliver_sink *s, char c)
{
    static const char from[] = "From ";

    if (s->line_start) {
        if (c == '>' && s->match == 0) {
            s->gt_run++;
            return;
        }
        if (c == from[s->match]) {
            if (++s->match == sizeof from - 1)
                sink_release(s, true);
            return;
        }
        sink_release(s, false);
    }
    sink_put(s, c);
    if (c == '\n')
        s->line_start = true;
}

/* deliver_sink_copy - stream the source through the sink */
void
deliver_sink_copy(struct deliver_sink *s, const struct deliver_source *src)
{
    char chunk[16384];
    off_t done = 0;

    while (s->err == 0 && done < src->length) {
        size_t want =
            src->length - done < (off_t)sizeof chunk ? (size_t)(src->length - done) : sizeof chunk;
        ssize_t n = pread(src->fd, chunk, want, src->offset + done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            s->err = n < 0 ? errno : EIO;
            break;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (s->quote_from)
                sink_quoted(s, chunk[i]);
            else
                sink_put(s, chunk[i]);
        }
        done += n;
    }
    if (s->quote_from && s->line_start && (s->gt_run > 0 || s->match > 0))
        sink_release(s, false);
}

/* deliver_sink_flush - write what is buffered; false with s->err set on failure */
bool
deliver_sink_flush(struct deliver_sink *s)
{
    sink_write(s);
    return s->err == 0;
}
