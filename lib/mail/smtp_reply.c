/*
 * smtp_reply.c - the replies smtpd sends, and their wire form.
 *
 * Trusts: the code and status come from postern's own code (a bad one is a bug and
 * panics); the text may carry client-supplied words, so every byte outside printable ASCII
 * is replaced and long lines are cut into continuation lines. Invariant: whatever the text,
 * the output is a well-formed reply, every line at most SMTP_REPLY_LINE_MAX octets.
 */
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "mail/smtp_reply.h"

const struct smtp_reply smtp_reply_syntax = {500, "5.5.2", "Error: command not recognized"};
const struct smtp_reply smtp_reply_line_too_long = {500, "5.5.0", "Error: command line too long"};
const struct smtp_reply smtp_reply_bad_param = {501, "5.5.4", "Error: bad syntax in parameters"};
const struct smtp_reply smtp_reply_bad_base64 = {501, "5.5.2", "Cannot decode response"};
const struct smtp_reply smtp_reply_unknown_param = {555, "5.5.4", "Error: unsupported parameter"};
const struct smtp_reply smtp_reply_bad_sequence = {503, "5.5.1", "Error: bad sequence of commands"};
const struct smtp_reply smtp_reply_not_implemented = {502, "5.5.1",
                                                      "Error: command not implemented"};
const struct smtp_reply smtp_reply_too_many_rcpts = {452, "4.5.3", "Error: too many recipients"};
const struct smtp_reply smtp_reply_too_big = {552, "5.3.4",
                                              "Error: message exceeds fixed size limit"};
const struct smtp_reply smtp_reply_bare_newline = {521, "5.5.2",
                                                   "Error: bare <CR> or <LF> received"};
const struct smtp_reply smtp_reply_data_long_line = {
    554, "5.6.0", "Error: message has a line longer than 1000 octets"};
const struct smtp_reply smtp_reply_data_nul = {554, "5.6.0", "Error: message contains NUL"};
const struct smtp_reply smtp_reply_non_ascii = {500, "5.5.2", "Error: non-ASCII octets in command"};
const struct smtp_reply smtp_reply_utf8_address = {553, "5.6.7",
                                                   "Error: non-ASCII address requires SMTPUTF8"};
const struct smtp_reply smtp_reply_bad_sender = {501, "5.1.7", "Error: bad sender address syntax"};
const struct smtp_reply smtp_reply_bad_recipient = {501, "5.1.3",
                                                    "Error: bad recipient address syntax"};
const struct smtp_reply smtp_reply_binarymime = {555, "5.5.4", "Error: BINARYMIME not supported"};
const struct smtp_reply smtp_reply_nul_command = {500, "5.5.2", "Error: NUL in command"};
const struct smtp_reply smtp_reply_bare_in_command = {500, "5.5.2",
                                                      "Error: bare <CR> or <LF> in command"};

/* smtp_status_part - 1..3 digits without a leading zero at s[*i] (RFC 3463's subject and
 * detail), passed over; false if not */
static bool
smtp_status_part(const char *s, size_t *i)
{
    size_t start = *i;

    while (s[*i] >= '0' && s[*i] <= '9' && *i - start < 4)
        (*i)++;
    return *i > start && *i - start <= 3 && !(*i - start > 1 && s[start] == '0');
}

size_t
smtp_status_len(const char *text, int cls)
{
    size_t i = 2;

    if (text[0] != cls || text[1] != '.' || !smtp_status_part(text, &i) || text[i++] != '.' ||
        !smtp_status_part(text, &i))
        return 0;
    return text[i] == ' ' || text[i] == 0 ? i : 0;
}

/* smtp_reply_valid - a reply code 200..599 and, if any, a matching class.subject.detail */
bool
smtp_reply_valid(int code, const char *status)
{
    if (code < 200 || code > 599)
        return false;
    return status == NULL ||
           (*status && smtp_status_len(status, '0' + code / 100) == strlen(status));
}

/* smtp_reply_line - append one wire line: code, separator, status, text, CRLF */
static bool
smtp_reply_line(struct buf *out, const struct smtp_reply *reply, bool last, const char *text,
                size_t len)
{
    bool good = buf_printf(out, "%03d%c", reply->code, last ? ' ' : '-');

    if (reply->status != NULL)
        good = good && buf_puts(out, reply->status) && buf_putc(out, ' ');
    for (size_t i = 0; good && i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        good = buf_putc(out, c >= 32 && c < 127 ? c : '?');
    }
    return good && buf_append(out, "\r\n", 2);
}

/*
 * smtp_reply_format - append the wire form of a reply to out. Each '\n'-separated text line
 * becomes one or more reply lines; a line too long for 512 octets is cut. False when out's
 * limit was reached (out then holds a partial reply the caller must discard).
 */
bool
smtp_reply_format(struct buf *out, const struct smtp_reply *reply)
{
    const char *text = reply->text != NULL ? reply->text : "";
    size_t room;

    if (!smtp_reply_valid(reply->code, reply->status))
        log_panic("smtp_reply_format: bad reply %d %s", reply->code,
                  reply->status != NULL ? reply->status : "(none)");
    room = SMTP_REPLY_LINE_MAX - 4 - 2 - (reply->status ? strlen(reply->status) + 1 : 0);
    for (;;) {
        const char *nl = strchr(text, '\n');
        size_t len = nl != NULL ? (size_t)(nl - text) : strlen(text);

        if (len > room) {
            /* Too long for one reply line: this much now, the rest on the next. */
            if (!smtp_reply_line(out, reply, false, text, room))
                return false;
            text += room;
            continue;
        }
        if (!smtp_reply_line(out, reply, nl == NULL, text, len))
            return false;
        if (nl == NULL)
            return true;
        text = nl + 1;
    }
}
