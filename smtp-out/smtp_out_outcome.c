/*
 * smtp_out_outcome.c - what a server's reply means for a recipient, in Postfix's words:
 * "250 2.0.0 Ok: queued as X" for a delivery, "host mx[192.0.2.1] said: 550 5.1.1 ...
 * (in reply to RCPT TO command)" for a refusal; and the stages' names and time limits.
 *
 * Trusts: the reply as smtp_resp.c checked it (no NUL, bounded); control characters are
 * replaced before its text reaches a log line or a bounce.
 */
#include <stdio.h>
#include <string.h>

#include "smtp-out/smtp_out.h"

static const struct {
    const char *doing;   /* "lost connection with H while ..." */
    const char *command; /* "(in reply to ... command)" */
} smtp_out_stages[] = {
    [SMTP_OUT_CONNECT] = {"connecting", "connect"},
    [SMTP_OUT_GREETING] = {"receiving the initial server greeting", "initial greeting"},
    [SMTP_OUT_EHLO] = {"performing the EHLO handshake", "EHLO"},
    [SMTP_OUT_HELO] = {"performing the HELO handshake", "HELO"},
    [SMTP_OUT_STARTTLS] = {"sending STARTTLS", "STARTTLS"},
    [SMTP_OUT_TLS] = {"performing the TLS handshake", "STARTTLS"},
    [SMTP_OUT_AUTH] = {"performing the AUTH handshake", "AUTH"},
    [SMTP_OUT_MAIL] = {"sending MAIL FROM", "MAIL FROM"},
    [SMTP_OUT_RCPT] = {"sending RCPT TO", "RCPT TO"},
    [SMTP_OUT_DATA] = {"sending DATA command", "DATA"},
    [SMTP_OUT_CONTENT] = {"sending message body", "end of DATA"},
    [SMTP_OUT_DOT] = {"sending end of data", "end of DATA"},
    [SMTP_OUT_RSET] = {"sending RSET", "RSET"},
    [SMTP_OUT_QUIT] = {"sending QUIT", "QUIT"},
};

const char *
smtp_out_stage_doing(enum smtp_out_stage stage)
{
    return smtp_out_stages[stage].doing;
}

const char *
smtp_out_stage_command(enum smtp_out_stage stage)
{
    return smtp_out_stages[stage].command;
}

/* smtp_out_stage_timeout - the stage's time limit in milliseconds (Postfix's parameters) */
long
smtp_out_stage_timeout(const struct smtp_out_sess *s, enum smtp_out_stage stage)
{
    const struct params *p = s->so->p;
    long secs;

    switch (stage) {
    case SMTP_OUT_CONNECT:
        secs = p->smtp_connect_timeout;
        break;
    case SMTP_OUT_GREETING:
    case SMTP_OUT_EHLO:
    case SMTP_OUT_HELO:
        secs = p->smtp_helo_timeout;
        break;
    case SMTP_OUT_STARTTLS:
    case SMTP_OUT_AUTH:
        secs = p->smtp_helo_timeout;
        break;
    case SMTP_OUT_TLS: /* tlsproxy has this limit; ours ends a tlsproxy that never answers */
        secs = p->smtp_starttls_timeout + 10;
        break;
    case SMTP_OUT_MAIL:
        secs = p->smtp_mail_timeout;
        break;
    case SMTP_OUT_RCPT:
        secs = p->smtp_rcpt_timeout;
        break;
    case SMTP_OUT_DATA:
        secs = p->smtp_data_init_timeout;
        break;
    case SMTP_OUT_CONTENT:
        secs = p->smtp_data_xfer_timeout;
        break;
    case SMTP_OUT_DOT:
        secs = p->smtp_data_done_timeout;
        break;
    case SMTP_OUT_RSET:
        secs = p->smtp_rset_timeout;
        break;
    default:
        secs = p->smtp_quit_timeout;
        break;
    }
    return secs * 1000L;
}

/* smtp_out_flat - the reply's lines on one line, control characters replaced */
void
smtp_out_flat(const struct smtp_resp *r, char *out, size_t len)
{
    const char *t = buf_str(&r->text);
    size_t n = 0;

    for (; *t && n + 1 < len; t++)
        out[n++] = *t == '\n' ? ' ' : ((unsigned char)*t < 0x20 || *t == 0x7f) ? '?' : *t;
    out[n] = 0;
}

/* smtp_out_reply_result - the current reply as an outcome */
static void
smtp_out_reply_result(const struct smtp_out_sess *s, enum smtp_out_stage stage,
                      struct deliver_result *res)
{
    const struct smtp_resp *r = &s->resp;
    int cls = r->code / 100;
    char text[sizeof(res->reason)], dsn[sizeof(res->dsn)];
    enum deliver_status status = cls == 2 ? DELIVER_OK : cls == 5 ? DELIVER_BOUNCE : DELIVER_DEFER;

    smtp_out_flat(r, text, sizeof(text));
    if (stage == SMTP_OUT_GREETING && status == DELIVER_BOUNCE)
        status = DELIVER_DEFER; /* Postfix's smtp_skip_5xx_greeting: the next MX may take it */
    if (r->dsn[0] == '0' + cls)
        snprintf(dsn, sizeof(dsn), "%s", r->dsn);
    else
        snprintf(dsn, sizeof(dsn), "%d.0.0", cls);
    if (status == DELIVER_DEFER)
        dsn[0] = '4'; /* a 3xx where none belongs, or a 5xx greeting: try again */
    if (status == DELIVER_OK)
        deliver_set(res, status, dsn, "%d %s", r->code, text);
    else if (stage == SMTP_OUT_GREETING)
        deliver_set(res, status, dsn, "host %s refused to talk to me: %d %s", s->host, r->code,
                    text);
    else
        deliver_set(res, status, dsn, "host %s said: %d %s (in reply to %s command)", s->host,
                    r->code, text, smtp_out_stages[stage].command);
}

/* smtp_out_outcome - recipient i's outcome from the current reply */
void
smtp_out_outcome(struct smtp_out_sess *s, size_t i, enum smtp_out_stage stage)
{
    struct deliver_result res;

    smtp_out_reply_result(s, stage, &res);
    smtp_out_set(s, i, res.status, res.dsn, "%s", res.reason);
    if (res.status == DELIVER_DEFER && (stage == SMTP_OUT_DATA || stage == SMTP_OUT_DOT))
        s->accepted[i] = false; /* the server said it did not take the message: the next MX may */
}

/* smtp_out_outcome_all - the same for every recipient without an outcome */
void
smtp_out_outcome_all(struct smtp_out_sess *s, enum smtp_out_stage stage)
{
    struct deliver_result res;

    smtp_out_reply_result(s, stage, &res);
    smtp_out_fail_all(s, res.status, res.dsn, "%s", res.reason);
}
