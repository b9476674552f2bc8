/*
 * smtp_cmd.c - fuzz target for the SMTP command line parser.
 *
 * Byte 0 bit 0 says whether the transaction is SMTPUTF8; the rest is one command line as
 * the client sent it, CRLF stripped (any length: the parser must refuse an overlong one).
 * Invariants: a refusal comes with a valid reply whose wire form keeps every line within
 * 512 octets; an accepted line had no NUL, CR or LF, a known verb, and at most 512 octets
 * with its CRLF (AUTH: SMTP_AUTH_LINE_MAX, for its initial response); an accepted MAIL or
 * RCPT address re-formats and re-parses as the same address.
 */
#include <string.h>

#include "core/buf.h"
#include "mail/mailaddr.h"
#include "mail/smtp_cmd.h"
#include "mail/smtp_reply.h"
#include "t/fuzz.h"

/* fuzz_reply - the reply is valid and formats into short lines */
static void
fuzz_reply(const struct smtp_reply *r)
{
    struct buf b;
    size_t start = 0;

    FUZZ_ASSERT(smtp_reply_valid(r->code, r->status));
    FUZZ_ASSERT(r->code >= 400);
    buf_init(&b, 8192);
    FUZZ_ASSERT(smtp_reply_format(&b, r));
    for (size_t i = 0; i + 1 < b.len; i++) {
        if (b.data[i] == '\r' && b.data[i + 1] == '\n') {
            FUZZ_ASSERT(i + 2 - start <= SMTP_REPLY_LINE_MAX);
            start = i + 2;
        }
    }
    FUZZ_ASSERT(start == b.len);
    buf_free(&b);
}

/* fuzz_address - the parsed address survives formatting and parsing again */
static void
fuzz_address(const struct smtp_cmd *cmd, int flags)
{
    struct buf b;
    struct mailaddr again;
    size_t used = 0;
    int aflags = MAILADDR_ALLOW_NULL | MAILADDR_ALLOW_POSTMASTER | MAILADDR_ALLOW_UTF8;

    buf_init(&b, 4096);
    buf_putc(&b, '<');
    FUZZ_ASSERT(mailaddr_format(&b, &cmd->addr));
    buf_putc(&b, '>');
    if (mailaddr_parse_path(b.data, b.len, aflags, &again, &used) == MAILADDR_OK) {
        FUZZ_ASSERT(again.kind == cmd->addr.kind);
        FUZZ_ASSERT(
            strcmp(again.local ? again.local : "", cmd->addr.local ? cmd->addr.local : "") == 0);
    } else {
        FUZZ_ASSERT(b.len > MAILADDR_PATH_MAX);
    }
    if (cmd->addr.utf8)
        FUZZ_ASSERT(cmd->verb == SMTP_VERB_MAIL ? cmd->mail.smtputf8
                                                : (flags & SMTP_CMD_UTF8_TXN) != 0);
    mailaddr_free(&again);
    buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smtp_cmd cmd;
    const struct smtp_reply *r;
    const char *line = (const char *)data + 1;
    int flags;

    if (size == 0)
        return 0;
    flags = data[0] & 1 ? SMTP_CMD_UTF8_TXN : 0;
    r = smtp_cmd_parse(line, size - 1, flags, &cmd);
    if (r != NULL) {
        fuzz_reply(r);
        FUZZ_ASSERT(cmd.arg == NULL && cmd.addr.local == NULL && cmd.host.name == NULL);
    } else {
        FUZZ_ASSERT(cmd.verb != SMTP_VERB_UNKNOWN);
        FUZZ_ASSERT(size - 1 <=
                    (cmd.verb == SMTP_VERB_AUTH ? SMTP_AUTH_LINE_MAX : SMTP_CMD_LINE_MAX) - 2);
        FUZZ_ASSERT(memchr(line, 0, size - 1) == NULL && memchr(line, '\r', size - 1) == NULL &&
                    memchr(line, '\n', size - 1) == NULL);
        if (cmd.verb == SMTP_VERB_MAIL || cmd.verb == SMTP_VERB_RCPT)
            fuzz_address(&cmd, flags);
        if (cmd.mail.envid != NULL)
            FUZZ_ASSERT(strlen(cmd.mail.envid) <= SMTP_ENVID_MAX);
    }
    smtp_cmd_free(&cmd);
    return 0;
}
