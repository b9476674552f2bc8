/*
 * smtp_resp.c - reads the replies of an SMTP server, as a client sees them: any number of
 * bytes in, one complete reply out (RFC 5321 4.2).
 *
 * Trusts: nothing the server sends. Each line must start with a three-digit code from 200 to
 * 599, the same on every line of a reply, followed by '-' (more lines follow), ' ' or the
 * line end (the last line); a line ends in LF (a CR before it is dropped); a NUL byte, a
 * line longer than SMTP_RESP_LINE_MAX or a reply of more than SMTP_RESP_LINES_MAX lines is
 * an error. Memory is bounded by those limits whatever the server does.
 */
#include <string.h>

#include "mail/smtp_reply.h"
#include "mail/smtp_resp.h"

void
smtp_resp_init(struct smtp_resp *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->text, (size_t)SMTP_RESP_LINE_MAX * SMTP_RESP_LINES_MAX);
    buf_init(&r->line, SMTP_RESP_LINE_MAX);
}

void
smtp_resp_reset(struct smtp_resp *r)
{
    r->code = 0;
    r->dsn[0] = 0;
    r->lines = 0;
    r->done = false;
    buf_reset(&r->text);
    buf_reset(&r->line);
}

void
smtp_resp_free(struct smtp_resp *r)
{
    buf_free(&r->text);
    buf_free(&r->line);
}

/* smtp_resp_line - one complete line (without its line end) into the reply */
static enum smtp_resp_status
smtp_resp_line(struct smtp_resp *r, const char *line, size_t len, struct err *err)
{
    int code;

    if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
        line[2] < '0' || line[2] > '9' || (len > 3 && line[3] != ' ' && line[3] != '-'))
        return err_set(err, "malformed reply line"), SMTP_RESP_ERROR;
    code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (r->lines > 0 && code != r->code)
        return err_set(err, "reply code changes within a reply"), SMTP_RESP_ERROR;
    if (++r->lines > SMTP_RESP_LINES_MAX)
        return err_set(err, "reply of more than %d lines", SMTP_RESP_LINES_MAX), SMTP_RESP_ERROR;
    r->code = code;
    if (r->lines > 1)
        buf_putc(&r->text, '\n');
    buf_append(&r->text, len > 4 ? line + 4 : "", len > 4 ? len - 4 : 0);
    if (r->lines == 1) {
        size_t n = smtp_status_len(buf_str(&r->text), '0' + code / 100);
        if (n > 0 && n < sizeof(r->dsn)) {
            memcpy(r->dsn, r->text.data, n);
            r->dsn[n] = 0;
        }
    }
    r->done = len == 3 || line[3] == ' ';
    return r->done ? SMTP_RESP_DONE : SMTP_RESP_MORE;
}

/* smtp_resp_feed - take bytes up to the end of one reply */
enum smtp_resp_status
smtp_resp_feed(struct smtp_resp *r, const char *data, size_t len, size_t *used, struct err *err)
{
    enum smtp_resp_status st = SMTP_RESP_MORE;
    size_t i = 0;

    if (r->done)
        smtp_resp_reset(r);
    while (i < len && st == SMTP_RESP_MORE) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t take = nl ? (size_t)(nl - (data + i)) : len - i;
        if (memchr(data + i, 0, take) != NULL)
            return err_set(err, "NUL byte in a reply"), SMTP_RESP_ERROR;
        if (r->line.len + take + 1 > SMTP_RESP_LINE_MAX || !buf_append(&r->line, data + i, take))
            return err_set(err, "reply line longer than %d octets", SMTP_RESP_LINE_MAX),
                   SMTP_RESP_ERROR;
        i += take;
        if (nl == NULL)
            break;
        i++;
        if (r->line.len > 0 && r->line.data[r->line.len - 1] == '\r')
            buf_truncate(&r->line, r->line.len - 1);
        st = smtp_resp_line(r, r->line.data ? r->line.data : "", r->line.len, err);
        buf_reset(&r->line);
    }
    *used = i;
    return st;
}
