/*
 * sendmail_smtp.c - sendmail -bs: SMTP on stdin and stdout for a local client, each
 * message handed to postdrop like any other sendmail submission.
 *
 * Runs as the invoking user, who is the client: nothing here is privileged, and postdrop
 * checks what it is given as it always does. Commands are parsed by the shared SMTP codec
 * (smtp_cmd.c) and replies written by smtp_reply.c; this file is only the small state
 * machine a local client needs (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, VRFY, QUIT).
 * Content is read line by line, dot-unstuffed, with LF line ends, and streamed into
 * postdrop from DATA on; postdrop's exit status becomes the reply after the final dot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "core/buf.h"
#include "core/mem.h"
#include "mail/smtp_cmd.h"
#include "mail/smtp_reply.h"
#include "sendmail/sendmail.h"

#define SMTP_LOCAL_RCPT_MAX MAILDROP_RCPT_MAX

struct sendmail_session {
    const struct sendmail_opts *opts;
    const struct params *p;
    const char *config;
    struct maildrop_envelope env;
    bool in_mail;
    char *line;
    size_t cap;
};

static void
sendmail_reply(int code, const char *status, const char *text)
{
    struct smtp_reply r = {code, status, text};
    struct buf out;

    buf_init(&out, BUF_UNLIMITED);
    smtp_reply_format(&out, &r);
    fwrite(out.data, 1, out.len, stdout);
    fflush(stdout);
    buf_free(&out);
}

static void
sendmail_send(const struct smtp_reply *r)
{
    sendmail_reply(r->code, r->status, r->text);
}

/* sendmail_read - the next line without its CRLF; -1 at the end of input */
static ssize_t
sendmail_read(struct sendmail_session *s)
{
    ssize_t n = getline(&s->line, &s->cap, stdin);

    if (n <= 0)
        return -1;
    if (s->line[n - 1] == '\n')
        n--;
    if (n > 0 && s->line[n - 1] == '\r')
        n--;
    s->line[n] = 0;
    return n;
}

static void
sendmail_reset(struct sendmail_session *s)
{
    maildrop_envelope_free(&s->env);
    maildrop_envelope_init(&s->env);
    s->in_mail = false;
}

/* sendmail_addr - an address of MAIL or RCPT as the maildrop stream holds it */
static char *
sendmail_addr(const struct mailaddr *a)
{
    struct buf b;

    buf_init(&b, BUF_UNLIMITED);
    buf_puts(&b, "");
    if (a->kind == MAILADDR_MAILBOX && a->domain == NULL)
        mailaddr_quote_local(&b, a->local);
    else
        mailaddr_format(&b, a);
    return buf_steal(&b);
}

static void
sendmail_mail(struct sendmail_session *s, const struct smtp_cmd *cmd)
{
    static const char *const rets[] = {
        [SMTP_RET_NONE] = "", [SMTP_RET_FULL] = "FULL", [SMTP_RET_HDRS] = "HDRS"};

    if (s->in_mail) {
        sendmail_send(&smtp_reply_bad_sequence);
        return;
    }
    free(s->env.sender);
    s->env.sender = sendmail_addr(&cmd->addr);
    free(s->env.ret);
    s->env.ret = xstrdup(rets[cmd->mail.ret]);
    free(s->env.body);
    s->env.body = xstrdup(smtp_body_word(cmd->mail.body));
    if (cmd->mail.envid) {
        free(s->env.envid);
        s->env.envid = xstrdup(cmd->mail.envid);
    }
    s->in_mail = true;
    sendmail_reply(250, "2.1.0", "Ok");
}

/* sendmail_notify - RCPT's NOTIFY; the maildrop stream has one for all recipients */
static void
sendmail_notify(struct sendmail_session *s, unsigned notify)
{
    struct buf b;

    buf_init(&b, 64);
    buf_puts(&b, "");
    if (notify & SMTP_NOTIFY_NEVER)
        buf_puts(&b, "NEVER");
    if (notify & SMTP_NOTIFY_SUCCESS)
        buf_puts(&b, "SUCCESS");
    if (notify & SMTP_NOTIFY_DELAY)
        buf_printf(&b, "%sDELAY", b.len ? "," : "");
    if (notify & SMTP_NOTIFY_FAILURE)
        buf_printf(&b, "%sFAILURE", b.len ? "," : "");
    free(s->env.notify);
    s->env.notify = buf_steal(&b);
}

static void
sendmail_rcpt(struct sendmail_session *s, const struct smtp_cmd *cmd)
{
    if (!s->in_mail) {
        sendmail_send(&smtp_reply_bad_sequence);
        return;
    }
    if (s->env.rcpt.n >= SMTP_LOCAL_RCPT_MAX) {
        sendmail_send(&smtp_reply_too_many_rcpts);
        return;
    }
    if (cmd->rcpt.notify)
        sendmail_notify(s, cmd->rcpt.notify);
    strvec_add_owned(&s->env.rcpt, sendmail_addr(&cmd->addr));
    sendmail_reply(250, "2.1.5", "Ok");
}

/* sendmail_data_reply - the reply after the final dot, from postdrop's exit status */
static void
sendmail_data_reply(int status)
{
    switch (status) {
    case EX_OK:
        sendmail_reply(250, "2.0.0", "Ok: queued");
        break;
    case EX_DATAERR:
        sendmail_reply(554, "5.6.0", "Error: message refused (see standard error)");
        break;
    case EX_NOPERM:
        sendmail_reply(550, "5.7.1", "Error: not allowed to submit mail");
        break;
    default:
        sendmail_reply(451, "4.3.0", "Error: queue file write error");
        break;
    }
}

/* sendmail_data - the content, into postdrop as it comes; false at the end of input */
static bool
sendmail_data(struct sendmail_session *s)
{
    struct sendmail_drop drop;
    bool open;
    ssize_t n;
    int status;

    if (!s->in_mail || s->env.rcpt.n == 0) {
        sendmail_send(&smtp_reply_bad_sequence);
        return true;
    }
    if (s->opts->fullname) {
        free(s->env.fullname);
        s->env.fullname = xstrdup(s->opts->fullname);
    }
    open = sendmail_drop_open(&drop, s->p, s->config, &s->env);
    sendmail_reply(354, NULL, "End data with <CR><LF>.<CR><LF>");
    while ((n = sendmail_read(s)) >= 0 && strcmp(s->line, ".") != 0) {
        const char *text = s->line[0] == '.' ? s->line + 1 : s->line;
        s->line[n] = '\n';
        if (open && !drop.w.rec.failed)
            sendmail_drop_write(&drop, text, (size_t)(s->line + n + 1 - text));
    }
    if (n < 0) { /* the client went away: no end marker, so postdrop queues nothing */
        if (open) {
            drop.w.rec.failed = true;
            sendmail_drop_close(&drop);
        }
        return false;
    }
    status = open ? sendmail_drop_close(&drop) : EX_UNAVAILABLE;
    sendmail_data_reply(status);
    sendmail_reset(s);
    return true;
}

static void
sendmail_ehlo(const struct sendmail_session *s, bool extended)
{
    char *text = extended ? xasprintf("%s\nPIPELINING\nSIZE %ld\n8BITMIME\nDSN\n"
                                      "ENHANCEDSTATUSCODES",
                                      s->p->myhostname, s->p->message_size_limit)
                          : xstrdup(s->p->myhostname);

    sendmail_reply(250, NULL, text);
    free(text);
}

/* sendmail_command - one command line; false when the session is over */
static bool
sendmail_command(struct sendmail_session *s, size_t len)
{
    struct smtp_cmd cmd;
    const struct smtp_reply *bad = smtp_cmd_parse(s->line, len, SMTP_CMD_BARE_ADDR, &cmd);
    bool more = true;

    if (bad != NULL) {
        sendmail_send(bad);
        smtp_cmd_free(&cmd);
        return true;
    }
    switch (cmd.verb) {
    case SMTP_VERB_EHLO:
    case SMTP_VERB_HELO:
        sendmail_reset(s);
        sendmail_ehlo(s, cmd.verb == SMTP_VERB_EHLO);
        break;
    case SMTP_VERB_MAIL:
        sendmail_mail(s, &cmd);
        break;
    case SMTP_VERB_RCPT:
        sendmail_rcpt(s, &cmd);
        break;
    case SMTP_VERB_DATA:
        more = sendmail_data(s);
        break;
    case SMTP_VERB_RSET:
        sendmail_reset(s);
        sendmail_reply(250, "2.0.0", "Ok");
        break;
    case SMTP_VERB_NOOP:
        sendmail_reply(250, "2.0.0", "Ok");
        break;
    case SMTP_VERB_VRFY:
        sendmail_reply(252, "2.0.0", "Send some mail, I'll try my best");
        break;
    case SMTP_VERB_QUIT:
        sendmail_reply(221, "2.0.0", "Bye");
        more = false;
        break;
    default:
        sendmail_send(&smtp_reply_not_implemented);
        break;
    }
    smtp_cmd_free(&cmd);
    return more;
}

int
sendmail_smtp(const struct sendmail_opts *opts, const struct params *p, const char *config)
{
    struct sendmail_session s = {.opts = opts, .p = p, .config = config};
    ssize_t n;

    maildrop_envelope_init(&s.env);
    sendmail_reply(220, NULL, p->smtpd_banner);
    while ((n = sendmail_read(&s)) >= 0) {
        if (n + 2 > SMTP_CMD_LINE_MAX)
            sendmail_send(&smtp_reply_line_too_long);
        else if (!sendmail_command(&s, (size_t)n))
            break;
    }
    maildrop_envelope_free(&s.env);
    free(s.line);
    return EX_OK;
}
