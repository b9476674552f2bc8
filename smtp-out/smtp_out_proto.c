/*
 * smtp_out_proto.c - the client side of one SMTP transaction (RFC 5321): greeting, EHLO
 * (HELO when EHLO is refused), MAIL FROM, one RCPT TO per recipient, DATA, the content,
 * QUIT.
 *
 * With PIPELINING (RFC 2920) MAIL, every RCPT and DATA leave in one write, DATA last, and
 * the replies are matched to them in order (s->wait); without it each command waits for
 * the reply to the one before. QUIT goes out only when no reply is owed, so that it is
 * never taken for message content after a surprising 354.
 *
 * Parameters go out only where the server offered their extension: SIZE= (and a message
 * larger than the server's SIZE fails with 5.3.4 without being sent), RET= and ENVID= on
 * MAIL and NOTIFY= and ORCPT= on RCPT with DSN, SMTPUTF8 when an address needs it (without
 * the extension such a message fails with 5.6.7, as RFC 6531 3.4 asks).
 *
 * STARTTLS comes between EHLO and MAIL when the TLS policy asks for it (smtp_out_tls.c),
 * then AUTH when the client has credentials for the server (smtp_out_sasl.c).
 *
 * Trusts: replies as smtp_resp.c parsed them; DSN values from the queue file only when they
 * are printable ASCII without spaces (smtpd checked them when it took the message).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "smtp-out/smtp_out.h"

#define SMTP_OUT_CMD_MAX 2048

/* smtp_out_expect - one more reply owed (the array holds every reply one request can get) */
void
smtp_out_expect(struct smtp_out_sess *s, enum smtp_out_stage stage, size_t rcpt)
{
    if (s->wtail >= s->req.nrcpt + SMTP_OUT_WAIT_EXTRA)
        log_panic("%s: more replies owed than a transaction has", s->req.queue_id);
    s->wait[s->wtail].stage = stage;
    s->wait[s->wtail++].rcpt = rcpt;
}

/*
 * smtp_out_too_long - a command longer than a line this client sends is never cut: when
 * its argument comes from the queue file (MAIL's sender and ENVID, a recipient's address
 * and ORCPT), what it carries bounces, as no server would get it whole from here; else
 * (EHLO with a long smtp_helo_name) the configuration is at fault, and the delivery defers
 */
static void
smtp_out_too_long(struct smtp_out_sess *s, enum smtp_out_stage stage, size_t rcpt, int n)
{
    static const char fmt[] = "%s command too long (%d octets, at most %d): not sent";
    const char *cmd = smtp_out_stage_command(stage);
    int max = SMTP_OUT_CMD_MAX - 2;

    log_warn("%s: %s command of %d octets for %s not sent: longer than %d", s->req.queue_id, cmd, n,
             s->host, max);
    if (stage == SMTP_OUT_RCPT)
        smtp_out_set(s, rcpt, DELIVER_BOUNCE, "5.5.4", fmt, cmd, n, max);
    else if (stage == SMTP_OUT_MAIL)
        smtp_out_fail_all(s, DELIVER_BOUNCE, "5.5.4", fmt, cmd, n, max);
    else
        smtp_out_lost(s, "4.3.5", fmt, cmd, n, max);
}

/* smtp_out_send - one command line, and the reply it will get; false: too long, not sent
 * (smtp_out_too_long says what became of the delivery) */
bool
smtp_out_send(struct smtp_out_sess *s, enum smtp_out_stage stage, size_t rcpt, const char *fmt, ...)
{
    char line[SMTP_OUT_CMD_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line) - 2) {
        smtp_out_too_long(s, stage, rcpt, n);
        return false;
    }
    buf_append(&s->out, line, (size_t)n);
    buf_puts(&s->out, "\r\n");
    smtp_out_expect(s, stage, rcpt);
    smtp_out_arm(s);
    return true;
}

/*
 * smtp_out_quit - the delivery is done with the connection once no reply is owed: keep it
 * for the next delivery (RSET first when a transaction is still open, as Postfix does), or
 * end politely with QUIT; a server that gave its last reply before it had all the content
 * (BDAT) would take any command as more of the chunk, so that connection is just closed
 */
void
smtp_out_quit(struct smtp_out_sess *s)
{
    s->quitting = true;
    if (s->whead != s->wtail || s->quit_sent || s->keep)
        return;
    if (s->out.len > 0 || s->src.cur != NULL) {
        smtp_out_close(s); /* answered before it had our bytes (a BDAT chunk): no command fits */
        s->over = true;
        return;
    }
    if (smtp_out_cache_may(s) && s->in_txn) {
        smtp_out_send(s, SMTP_OUT_RSET, 0, "RSET");
        return;
    }
    if (smtp_out_cache_may(s)) {
        s->keep = s->over = true; /* smtp_out_hop_done hands it to the cache */
        return;
    }
    s->quit_sent = true;
    smtp_out_send(s, SMTP_OUT_QUIT, 0, "QUIT");
}

/* smtp_out_xtext_ok - a DSN value that can go on the command line as it is */
static bool
smtp_out_xtext_ok(const char *v)
{
    for (; *v; v++)
        if (*v <= ' ' || *v >= 0x7f || *v == '<' || *v == '>')
            return false;
    return true;
}

/* smtp_out_8bit - an address that needs SMTPUTF8 */
static bool
smtp_out_8bit(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return true;
    return false;
}

/* smtp_out_utf8 - does the envelope need SMTPUTF8? */
static bool
smtp_out_utf8(const struct smtp_out_sess *s)
{
    bool need = smtp_out_8bit(s->req.sender);

    for (size_t i = 0; i < s->req.nrcpt && !need; i++)
        need = smtp_out_8bit(s->req.rcpt[i].addr);
    return need;
}

/* smtp_out_notify_sent - does recipient i's RCPT carry its NOTIFY? */
static bool
smtp_out_notify_sent(const struct smtp_out_sess *s, size_t i)
{
    const char *notify = s->req.rcpt[i].notify;

    return (s->ext.flags & SMTP_EXT_DSN) != 0 && *notify && smtp_out_xtext_ok(notify);
}

/* smtp_out_handoff - what the server took on for a recipient it accepted: with its NOTIFY,
 * the server reports to the sender; without, a success notice from here says "relayed" */
enum deliver_handoff
smtp_out_handoff(const struct smtp_out_sess *s, size_t i)
{
    return smtp_out_notify_sent(s, i) ? DELIVER_NOTIFY_PASSED : DELIVER_RELAYED;
}

/* smtp_out_next_rcpt - the first recipient from i on without an outcome (an earlier MX may
 * have settled some: smtp_out_hop.c); nrcpt when there is none */
static size_t
smtp_out_next_rcpt(const struct smtp_out_sess *s, size_t i)
{
    while (i < s->req.nrcpt && s->decided[i])
        i++;
    return i;
}

/* smtp_out_rcpt - RCPT TO for recipient i; false: too long, the recipient bounced */
static bool
smtp_out_rcpt(struct smtp_out_sess *s, size_t i)
{
    const struct deliver_req_rcpt *r = &s->req.rcpt[i];
    bool dsn = (s->ext.flags & SMTP_EXT_DSN) != 0;
    bool notify = smtp_out_notify_sent(s, i);
    bool orcpt = dsn && *r->orcpt && smtp_out_xtext_ok(r->orcpt);

    return smtp_out_send(s, SMTP_OUT_RCPT, i, "RCPT TO:<%s>%s%s%s%s", r->addr,
                         notify ? " NOTIFY=" : "", notify ? r->notify : "", orcpt ? " ORCPT=" : "",
                         orcpt ? r->orcpt : "");
}

/* smtp_out_mail - MAIL FROM with what the server offered; false: too long, every
 * recipient bounced */
static bool
smtp_out_mail(struct smtp_out_sess *s, bool utf8)
{
    bool dsn = (s->ext.flags & SMTP_EXT_DSN) != 0;
    bool ret = dsn && *s->env.ret && smtp_out_xtext_ok(s->env.ret);
    bool envid = dsn && *s->env.envid && smtp_out_xtext_ok(s->env.envid);
    bool body = (s->ext.flags & SMTP_EXT_8BITMIME) &&
                (strcmp(s->env.body, "8BITMIME") == 0 || strcmp(s->env.body, "7BIT") == 0);
    char size[32] = "";

    if (s->ext.flags & SMTP_EXT_SIZE)
        snprintf(size, sizeof(size), " SIZE=%lld", (long long)s->req.size);
    s->reached = true;
    return smtp_out_send(s, SMTP_OUT_MAIL, 0, "MAIL FROM:<%s>%s%s%s%s%s%s%s%s", s->req.sender, size,
                         body ? " BODY=" : "", body ? s->env.body : "", ret ? " RET=" : "",
                         ret ? s->env.ret : "", envid ? " ENVID=" : "", envid ? s->env.envid : "",
                         utf8 ? " SMTPUTF8" : "");
}

/* smtp_out_data_cmd - after the recipients: BDAT with the content where CHUNKING is
 * offered, else DATA (and DATA for converted content, whose size is not known ahead) */
static void
smtp_out_data_cmd(struct smtp_out_sess *s)
{
    if ((s->ext.flags & SMTP_EXT_CHUNKING) && s->down == NULL) {
        s->stage = SMTP_OUT_CONTENT;
        smtp_out_bdat(s);
    } else
        smtp_out_send(s, SMTP_OUT_DATA, 0, "DATA");
}

/* smtp_out_envelope - after the handshake: the checks, then MAIL (and with PIPELINING the
 * rest of the envelope and DATA) */
void
smtp_out_envelope(struct smtp_out_sess *s)
{
    bool utf8 = smtp_out_utf8(s);

    s->ready = true;
    if ((s->ext.flags & SMTP_EXT_SIZE) && s->ext.size > 0 &&
        (unsigned long long)s->req.size > s->ext.size) {
        smtp_out_fail_all(s, DELIVER_BOUNCE, "5.3.4",
                          "message size %lld exceeds size limit %llu of server %s",
                          (long long)s->req.size, s->ext.size, s->host);
        smtp_out_quit(s);
        return;
    }
    if (utf8 && !(s->ext.flags & SMTP_EXT_SMTPUTF8)) {
        smtp_out_fail_all(s, DELIVER_BOUNCE, "5.6.7",
                          "SMTPUTF8 is required, but was not offered by host %s", s->host);
        smtp_out_quit(s);
        return;
    }
    if (!(s->ext.flags & SMTP_EXT_8BITMIME) && !smtp_out_downgrade(s))
        return;
    s->pipelining = (s->ext.flags & SMTP_EXT_PIPELINING) != 0;
    if (!smtp_out_mail(s, utf8)) {
        smtp_out_quit(s);
        return;
    }
    if (!s->pipelining)
        return;
    for (size_t i = smtp_out_next_rcpt(s, 0); i < s->req.nrcpt; i = smtp_out_next_rcpt(s, i + 1))
        smtp_out_rcpt(s, i);
    smtp_out_data_cmd(s);
}

/* smtp_out_after_rcpt - without PIPELINING: the next RCPT (one too long to send has its
 * outcome, and the one after it goes), DATA, or the end */
static void
smtp_out_after_rcpt(struct smtp_out_sess *s, size_t i)
{
    size_t next;

    if (s->pipelining)
        return;
    while ((next = smtp_out_next_rcpt(s, i + 1)) < s->req.nrcpt)
        if (smtp_out_rcpt(s, next))
            return;
    if (s->naccepted > 0)
        smtp_out_data_cmd(s);
    else
        smtp_out_quit(s);
}

/* smtp_out_on_data - 354: the content, or only the dot when no recipient is left */
static void
smtp_out_on_data(struct smtp_out_sess *s)
{
    int cls = s->resp.code / 100;

    if (s->resp.code != 354) {
        if (cls == 2) {
            smtp_out_lost(s, "4.5.0", "unexpected 2xx reply to DATA");
            return;
        }
        for (size_t i = 0; i < s->req.nrcpt; i++)
            if (s->accepted[i])
                smtp_out_outcome(s, i, SMTP_OUT_DATA);
        smtp_out_quit(s);
        return;
    }
    if (!s->mail_ok || s->naccepted == 0) {
        smtp_out_send(s, SMTP_OUT_DOT, 0, ".");
        smtp_out_quit(s);
        return;
    }
    s->stage = SMTP_OUT_CONTENT;
    if (!smtp_out_content(s))
        return;
    smtp_out_expect(s, SMTP_OUT_DOT, 0);
    smtp_out_arm(s);
}

/* smtp_out_on_dot - the final reply: each accepted recipient's outcome */
static void
smtp_out_on_dot(struct smtp_out_sess *s)
{
    s->in_txn = s->resp.code / 100 != 2; /* a refused dot or BDAT: RSET before reuse */
    if (s->mail_ok && s->naccepted > 0)
        for (size_t i = 0; i < s->req.nrcpt; i++)
            if (s->accepted[i])
                smtp_out_outcome(s, i, SMTP_OUT_DOT);
    smtp_out_quit(s);
}

/* smtp_out_on_hello - the reply to EHLO or HELO */
static void
smtp_out_on_hello(struct smtp_out_sess *s, enum smtp_out_stage stage)
{
    int cls = s->resp.code / 100;

    if (cls == 2) {
        if (stage == SMTP_OUT_EHLO)
            smtp_ext_parse(&s->resp, &s->ext);
        if (!smtp_out_tls_after_hello(s) && !smtp_out_sasl_after_hello(s))
            smtp_out_envelope(s);
    } else if (stage == SMTP_OUT_EHLO && cls == 5)
        smtp_out_send(s, SMTP_OUT_HELO, 0, "HELO %s", s->so->p->smtp_helo_name);
    else {
        smtp_out_outcome_all(s, stage);
        smtp_out_quit(s);
    }
}

/* smtp_out_on_mail - the reply to MAIL FROM */
static void
smtp_out_on_mail(struct smtp_out_sess *s)
{
    if (s->reused && s->resp.code == 421)
        s->stale = true; /* a kept connection the server is closing: a new one */
    else
        s->mail_answered = true;
    if (s->resp.code / 100 == 2) {
        s->mail_ok = s->in_txn = true;
        if (!s->pipelining)
            smtp_out_after_rcpt(s, (size_t)-1); /* the first RCPT */
        return;
    }
    smtp_out_outcome_all(s, SMTP_OUT_MAIL);
    smtp_out_quit(s);
}

/* smtp_out_on_rcpt - the reply to recipient i's RCPT TO */
static void
smtp_out_on_rcpt(struct smtp_out_sess *s, size_t i)
{
    if (!s->mail_ok)
        return; /* pipelined after a refused MAIL: every recipient has its outcome */
    if (s->resp.code / 100 == 2) {
        s->accepted[i] = true;
        s->naccepted++;
    } else
        smtp_out_outcome(s, i, SMTP_OUT_RCPT);
    smtp_out_after_rcpt(s, i);
}

/* smtp_out_proto_start - connected: the greeting is the first reply owed */
void
smtp_out_proto_start(struct smtp_out_sess *s)
{
    smtp_out_expect(s, SMTP_OUT_GREETING, 0);
    smtp_out_arm(s);
}

/* smtp_out_proto_reply - a complete reply: to the command it answers */
void
smtp_out_proto_reply(struct smtp_out_sess *s)
{
    struct smtp_out_wait w = s->wait[s->whead++];

    if (s->resp.code == 421)
        s->saw_421 = true;
    switch (w.stage) {
    case SMTP_OUT_GREETING:
        if (s->resp.code / 100 == 2)
            smtp_out_send(s, SMTP_OUT_EHLO, 0, "EHLO %s", s->so->p->smtp_helo_name);
        else {
            smtp_out_outcome_all(s, SMTP_OUT_GREETING);
            smtp_out_quit(s);
        }
        break;
    case SMTP_OUT_EHLO:
    case SMTP_OUT_HELO:
        smtp_out_on_hello(s, w.stage);
        break;
    case SMTP_OUT_STARTTLS:
        smtp_out_tls_on_starttls(s);
        break;
    case SMTP_OUT_AUTH:
        smtp_out_sasl_reply(s);
        break;
    case SMTP_OUT_MAIL:
        smtp_out_on_mail(s);
        break;
    case SMTP_OUT_RCPT:
        smtp_out_on_rcpt(s, w.rcpt);
        break;
    case SMTP_OUT_DATA:
        smtp_out_on_data(s);
        break;
    case SMTP_OUT_DOT:
        smtp_out_on_dot(s);
        break;
    case SMTP_OUT_RSET:
        s->in_txn = false;
        s->rset_failed = s->resp.code / 100 != 2;
        break;
    default:
        smtp_out_close(s);
        s->over = true;
        return;
    }
    if (!s->over) {
        if (s->quitting)
            smtp_out_quit(s);
        smtp_out_arm(s);
    }
}
