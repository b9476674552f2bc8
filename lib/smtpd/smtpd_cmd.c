/*
 * smtpd_cmd.c - the SMTP commands: HELO, EHLO, MAIL, RCPT, RSET, NOOP, QUIT, VRFY, HELP,
 * and the refusal of what is not offered. DATA and BDAT are in smtpd_data.c.
 *
 * Runs as mail_owner. Trusts: the command line only as smtp_cmd_parse() decoded it; the
 * parser has checked octets, syntax, lengths and ESMTP parameters. Every reply carries an
 * enhanced status code (RFC 2034), except the greeting and the HELO/EHLO replies, which
 * RFC 2034 leaves without one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "mail/anvil_proto.h"
#include "smtpd/smtpd.h"

static const enum smtpd_count smtpd_cmd_counters[] = {
    [SMTP_VERB_EHLO] = SMTPD_C_EHLO,         [SMTP_VERB_HELO] = SMTPD_C_HELO,
    [SMTP_VERB_MAIL] = SMTPD_C_MAIL,         [SMTP_VERB_RCPT] = SMTPD_C_RCPT,
    [SMTP_VERB_DATA] = SMTPD_C_DATA,         [SMTP_VERB_BDAT] = SMTPD_C_BDAT,
    [SMTP_VERB_RSET] = SMTPD_C_RSET,         [SMTP_VERB_NOOP] = SMTPD_C_NOOP,
    [SMTP_VERB_QUIT] = SMTPD_C_QUIT,         [SMTP_VERB_VRFY] = SMTPD_C_VRFY,
    [SMTP_VERB_EXPN] = SMTPD_C_UNKNOWN,      [SMTP_VERB_HELP] = SMTPD_C_HELP,
    [SMTP_VERB_STARTTLS] = SMTPD_C_STARTTLS, [SMTP_VERB_AUTH] = SMTPD_C_AUTH,
    [SMTP_VERB_UNKNOWN] = SMTPD_C_UNKNOWN,
};

/* smtpd_cmd_ehlo_reply - the EHLO reply: our name, then one extension a line */
static void
smtpd_cmd_ehlo_reply(struct smtpd_session *sess)
{
    const struct params *p = sess->smtpd->p;
    char size[40] = "SIZE";
    const char *mechs = smtpd_auth_mechs(sess);

    if (p->message_size_limit > 0)
        snprintf(size, sizeof(size), "SIZE %ld", p->message_size_limit);
    smtpd_reply(sess, 250, NULL,
                "%s\nPIPELINING\n%s\n%s%s%s%s%sENHANCEDSTATUSCODES\n8BITMIME\nDSN\nSMTPUTF8\n"
                "CHUNKING",
                p->myhostname, size, p->disable_vrfy_command ? "" : "VRFY\n",
                smtpd_tls_offered(sess) ? "STARTTLS\n" : "", mechs ? "AUTH " : "",
                mechs ? mechs : "", mechs ? "\n" : "");
}

/* smtpd_cmd_refused - a milter's refusal of a command: log, reply, end the session on 421 */
static void
smtpd_cmd_refused(struct smtpd_session *sess, const char *cmd, const struct smtpd_milter_verdict *v,
                  const char *rcpt)
{
    smtpd_milter_log(sess, "milter-reject", cmd, v, rcpt);
    smtpd_reply_std(sess, &v->reply);
    if (v->result == SMTPD_MILTER_CLOSE)
        smtpd_session_close(sess);
}

/* smtpd_cmd_hello_milted - the milters saw HELO/EHLO: the reply */
static void
smtpd_cmd_hello_milted(struct smtpd_session *sess, const struct smtpd_milter_verdict *v)
{
    if (v->result == SMTPD_MILTER_REFUSE || v->result == SMTPD_MILTER_CLOSE)
        smtpd_cmd_refused(sess, "HELO", v, NULL);
    else if (sess->esmtp)
        smtpd_cmd_ehlo_reply(sess);
    else
        smtpd_reply(sess, 250, NULL, "%s", sess->smtpd->p->myhostname);
}

/* smtpd_cmd_hello - HELO and EHLO: a new greeting resets the transaction */
static void
smtpd_cmd_hello(struct smtpd_session *sess, struct smtp_cmd *cmd)
{
    smtpd_txn_reset(sess);
    free(sess->helo);
    sess->helo = xstrdup(cmd->host.name);
    sess->esmtp = cmd->verb == SMTP_VERB_EHLO;
    sess->pipelining_seen = sess->esmtp;
    smtpd_milter_helo(sess, smtpd_cmd_hello_milted);
}

/* smtpd_cmd_params - the ESMTP parameters of a MAIL or RCPT line (after the path) */
static const char *
smtpd_cmd_params(const char *line)
{
    const char *open = strchr(line, '<');
    const char *close = open ? strchr(open, '>') : NULL;

    return close ? close + 1 : "";
}

/* smtpd_cmd_mail_milted - the milters saw MAIL FROM */
static void
smtpd_cmd_mail_milted(struct smtpd_session *sess, const struct smtpd_milter_verdict *v)
{
    if (v->result == SMTPD_MILTER_REFUSE || v->result == SMTPD_MILTER_CLOSE) {
        smtpd_cmd_refused(sess, "MAIL", v, NULL);
        smtpd_txn_reset(sess);
        return;
    }
    if (v->result == SMTPD_MILTER_DISCARD)
        sess->txn.discard = true;
    smtpd_reply(sess, 250, "2.1.0", "Ok");
}

/* smtpd_cmd_mail - MAIL FROM: start a transaction */
static void
smtpd_cmd_mail(struct smtpd_session *sess, struct smtp_cmd *cmd, const char *line)
{
    const struct params *p = sess->smtpd->p;
    struct buf sender;

    if (smtpd_tls_refuse_mail(sess) || smtpd_auth_refuse_mail(sess))
        return;
    if ((p->smtpd_helo_required || sess->tls != NULL) && sess->helo == NULL) {
        smtpd_reply(sess, 503, "5.5.1", "Error: send HELO/EHLO first");
        return;
    }
    if (sess->txn.sender != NULL) {
        smtpd_reply(sess, 503, "5.5.1", "Error: nested MAIL command");
        return;
    }
    if (cmd->mail.has_size && p->message_size_limit > 0 &&
        cmd->mail.size > (uint64_t)p->message_size_limit) {
        smtpd_reply(sess, 552, "5.3.4", "Message size exceeds fixed limit");
        return;
    }
    buf_init(&sender, MAILADDR_PATH_MAX * 2);
    mailaddr_format(&sender, &cmd->addr);
    sess->txn.sender = xstrdup(buf_str(&sender));
    buf_free(&sender);
    sess->txn.smtputf8 = cmd->mail.smtputf8;
    sess->txn.ret = cmd->mail.ret;
    sess->txn.body = cmd->mail.body;
    sess->txn.envid = cmd->mail.envid ? xstrdup(cmd->mail.envid) : NULL;
    if (sess->smtpd->auth_enabled && cmd->mail.auth != NULL && strcmp(cmd->mail.auth, "<>") != 0)
        sess->txn.auth_author = xstrdup(cmd->mail.auth);
    smtpd_milter_mail(sess, smtpd_cmd_params(line), smtpd_cmd_mail_milted);
}

/* smtpd_cmd_notify - DSN NOTIFY bits as the queue file keeps them */
static void
smtpd_cmd_notify(unsigned bits, char *out, size_t len)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{SMTP_NOTIFY_NEVER, "NEVER"},
                 {SMTP_NOTIFY_SUCCESS, "SUCCESS"},
                 {SMTP_NOTIFY_FAILURE, "FAILURE"},
                 {SMTP_NOTIFY_DELAY, "DELAY"}};

    out[0] = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (bits & names[i].bit) {
            if (out[0])
                strncat(out, ",", len - strlen(out) - 1);
            strncat(out, names[i].name, len - strlen(out) - 1);
        }
    }
}

/* smtpd_cmd_rcpt_size - the memory a recipient takes: its strings, their headers, its slot */
static size_t
smtpd_cmd_rcpt_size(const struct smtpd_rcpt *r)
{
    return strlen(r->addr) + strlen(r->notify) + strlen(r->orcpt) + 3 * (1 + 16) + sizeof(*r);
}

/* smtpd_cmd_add_rcpt - remember an accepted recipient with its DSN parameters */
static void
smtpd_cmd_add_rcpt(struct smtpd_txn *txn, const char *addr, const struct smtp_rcpt_params *rp)
{
    struct smtpd_rcpt *r;
    char notify[40];

    if (txn->nrcpt == txn->nrcpt_cap) {
        txn->nrcpt_cap = txn->nrcpt_cap ? 2 * txn->nrcpt_cap : 4;
        txn->rcpt = xreallocarray(txn->rcpt, txn->nrcpt_cap, sizeof(*txn->rcpt));
    }
    r = &txn->rcpt[txn->nrcpt++];
    smtpd_cmd_notify(rp->notify, notify, sizeof(notify));
    r->addr = xstrdup(addr);
    r->notify = xstrdup(notify);
    r->orcpt = rp->orcpt_type ? xasprintf("%s;%s", rp->orcpt_type, rp->orcpt_addr) : xstrdup("");
    txn->rcpt_bytes += smtpd_cmd_rcpt_size(r);
}

/*
 * smtpd_cmd_too_many - a recipient past the limit. RFC 5321 4.5.3.1.8: 452, and the client
 * sends the rest later; a pipelining client that sends more than the limit in one go must
 * not lose the accepted ones to the error limit, so only recipients past
 * smtpd_recipient_overshoot_limit count as errors (Postfix's rule).
 */
static void
smtpd_cmd_too_many(struct smtpd_session *sess)
{
    if (++sess->txn.overshoot <= (size_t)sess->smtpd->p->smtpd_recipient_overshoot_limit)
        smtpd_reply_uncounted(sess, &smtp_reply_too_many_rcpts);
    else
        smtpd_reply_std(sess, &smtp_reply_too_many_rcpts);
}

/* smtpd_cmd_drop_last_rcpt - take back the recipient added last */
static void
smtpd_cmd_drop_last_rcpt(struct smtpd_txn *txn)
{
    struct smtpd_rcpt *r = &txn->rcpt[--txn->nrcpt];

    txn->rcpt_bytes -= smtpd_cmd_rcpt_size(r);
    free(r->addr);
    free(r->notify);
    free(r->orcpt);
}

/* smtpd_cmd_rcpt_counted - the recipient passed every check but the client's rate */
static void
smtpd_cmd_rcpt_counted(struct smtpd_session *sess, const struct anvil_counts *counts)
{
    const struct params *p = sess->smtpd->p;
    struct smtpd_txn *txn = &sess->txn;

    if (counts == NULL || p->smtpd_client_recipient_rate_limit == 0 ||
        counts->rate <= p->smtpd_client_recipient_rate_limit) {
        smtpd_reply(sess, 250, "2.1.5", "Ok");
        return;
    }
    log_warn("Recipient address rate limit exceeded: %ld from %s[%s] for service %s",
             (long)counts->rate, sess->name, sess->addr, sess->smtpd->ctx->service_name);
    smtpd_cmd_drop_last_rcpt(txn);
    smtpd_reply(sess, 450, "4.7.1", "Error: too many recipients from %s", sess->addr);
}

/* smtpd_cmd_rcpt_milted - the milters saw the recipient: refused, it is taken back */
static void
smtpd_cmd_rcpt_milted(struct smtpd_session *sess, const struct smtpd_milter_verdict *v)
{
    struct smtpd_txn *txn = &sess->txn;

    if (v->result == SMTPD_MILTER_REFUSE || v->result == SMTPD_MILTER_CLOSE) {
        smtpd_cmd_refused(sess, "RCPT", v, txn->rcpt[txn->nrcpt - 1].addr);
        smtpd_cmd_drop_last_rcpt(txn);
        return;
    }
    if (v->result == SMTPD_MILTER_DISCARD)
        txn->discard = true;
    if (!smtpd_anvil_rcpt(sess, smtpd_cmd_rcpt_counted))
        smtpd_cmd_rcpt_counted(sess, NULL);
}

/* smtpd_cmd_rcpt - RCPT TO: limits, passwd lookups off the loop, restrictions, tables */
static void
smtpd_cmd_rcpt(struct smtpd_session *sess, struct smtp_cmd *cmd, const char *line)
{
    struct buf rcpt;

    if (sess->txn.sender == NULL) {
        smtpd_reply(sess, 503, "5.5.1", "Error: need MAIL command");
        return;
    }
    if (sess->txn.bdat) {
        smtpd_reply(sess, 503, "5.5.1", "Error: RCPT after BDAT");
        return;
    }
    if (sess->txn.nrcpt >= (size_t)sess->smtpd->p->smtpd_recipient_limit ||
        sess->txn.rcpt_bytes >= SMTPD_RCPT_BYTES) {
        smtpd_cmd_too_many(sess);
        return;
    }
    buf_init(&rcpt, MAILADDR_PATH_MAX * 2);
    mailaddr_format(&rcpt, &cmd->addr);
    if (sess->smtpd->nss_offload && !sess->nss_primed && cmd->addr.kind != MAILADDR_POSTMASTER &&
        smtpd_check_local(sess, buf_str(&rcpt)) && smtpd_nss_start(sess, buf_str(&rcpt), line)) {
        buf_free(&rcpt); /* the command comes back once the lookups are done */
        return;
    }
    if (smtpd_check_rcpt(sess, buf_str(&rcpt), cmd->addr.kind == MAILADDR_POSTMASTER)) {
        smtpd_cmd_add_rcpt(&sess->txn, buf_str(&rcpt), &cmd->rcpt);
        smtpd_milter_rcpt(sess, sess->txn.rcpt[sess->txn.nrcpt - 1].addr, smtpd_cmd_params(line),
                          smtpd_cmd_rcpt_milted);
    }
    buf_free(&rcpt);
}

/* smtpd_cmd_simple - the commands that need no transaction state */
static void
smtpd_cmd_simple(struct smtpd_session *sess, struct smtp_cmd *cmd)
{
    switch (cmd->verb) {
    case SMTP_VERB_RSET:
        smtpd_txn_reset(sess);
        smtpd_reply(sess, 250, "2.0.0", "Ok");
        break;
    case SMTP_VERB_NOOP:
        smtpd_reply(sess, 250, "2.0.0", "Ok");
        break;
    case SMTP_VERB_QUIT:
        smtpd_reply(sess, 221, "2.0.0", "Bye");
        smtpd_session_close(sess);
        break;
    case SMTP_VERB_VRFY:
        if (sess->smtpd->p->disable_vrfy_command)
            smtpd_reply(sess, 502, "5.5.1", "VRFY command is disabled");
        else
            smtpd_reply(sess, 252, "2.0.0", "Send mail, we will try our best");
        break;
    case SMTP_VERB_HELP:
        smtpd_reply(sess, 214, "2.0.0",
                    "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP");
        break;
    default:
        smtpd_reply_std(sess, &smtp_reply_not_implemented);
        break;
    }
}

/* smtpd_cmd_last_in_group - RFC 2920 3.1: commands after which a client must wait */
static bool
smtpd_cmd_last_in_group(enum smtp_verb verb)
{
    return verb == SMTP_VERB_EHLO || verb == SMTP_VERB_HELO || verb == SMTP_VERB_DATA ||
           verb == SMTP_VERB_QUIT || verb == SMTP_VERB_STARTTLS || verb == SMTP_VERB_AUTH ||
           verb == SMTP_VERB_VRFY || verb == SMTP_VERB_NOOP;
}

/* smtpd_cmd_flags - how this session's commands are parsed */
static int
smtpd_cmd_flags(const struct smtpd_session *sess)
{
    return (sess->txn.smtputf8 ? SMTP_CMD_UTF8_TXN : 0) |
           (sess->smtpd->role->submission ? SMTP_CMD_BARE_ADDR : 0);
}

/* smtpd_cmd_qualify - RFC 6409 8: submission completes an address without a domain with
 * $myorigin */
static void
smtpd_cmd_qualify(struct smtpd_session *sess, struct smtp_cmd *cmd)
{
    if ((cmd->verb == SMTP_VERB_MAIL || cmd->verb == SMTP_VERB_RCPT) &&
        cmd->addr.kind == MAILADDR_MAILBOX && cmd->addr.domain == NULL)
        cmd->addr.domain = xstrdup(sess->smtpd->p->myorigin);
}

/* smtpd_cmd_unknown_milted - the milters saw an unknown command: their reply, or ours */
static void
smtpd_cmd_unknown_milted(struct smtpd_session *sess, const struct smtpd_milter_verdict *v)
{
    if (v->result == SMTPD_MILTER_REFUSE || v->result == SMTPD_MILTER_CLOSE)
        smtpd_cmd_refused(sess, "UNKNOWN", v, NULL);
    else
        smtpd_reply_std(sess, &smtp_reply_syntax);
}

/* smtpd_cmd_line - one command line, in arrival order */
void
smtpd_cmd_line(struct smtpd_session *sess, const char *line, size_t len)
{
    struct smtp_cmd cmd;
    const struct smtp_reply *bad;
    size_t ahead = lineio_in_pending(&sess->in); /* the client sent more without waiting */

    bad = smtp_cmd_parse(line, len, smtpd_cmd_flags(sess), &cmd);
    sess->counting = (int)smtpd_cmd_counters[cmd.verb];
    sess->last_cmd = cmd.verb == SMTP_VERB_UNKNOWN ? "UNKNOWN" : smtp_cmd_verb_name(cmd.verb);
    if (ahead && (!sess->pipelining_seen || smtpd_cmd_last_in_group(cmd.verb)) &&
        !sess->unauth_pipelining) {
        sess->unauth_pipelining = true;
        /* What follows AUTH is credentials: it never goes into the log. */
        if (cmd.verb == SMTP_VERB_AUTH)
            ahead = 0;
        log_info("improper command pipelining after %s from %s[%s]: %.*s", sess->last_cmd,
                 sess->name, sess->addr, (int)(ahead < 100 ? ahead : 100),
                 lineio_in_data(&sess->in));
    }
    if (smtpd_milter_denied(sess) != NULL && cmd.verb != SMTP_VERB_QUIT) {
        smtpd_reply_std(sess, smtpd_milter_denied(sess));
        smtp_cmd_free(&cmd);
        return;
    }
    if (bad != NULL) {
        if (cmd.verb == SMTP_VERB_UNKNOWN && sess->milters != NULL)
            smtpd_milter_unknown(sess, line, smtpd_cmd_unknown_milted);
        else
            smtpd_reply_std(sess, bad);
        return;
    }
    smtpd_cmd_qualify(sess, &cmd);
    switch (cmd.verb) {
    case SMTP_VERB_EHLO:
    case SMTP_VERB_HELO:
        smtpd_cmd_hello(sess, &cmd);
        break;
    case SMTP_VERB_MAIL:
        smtpd_cmd_mail(sess, &cmd, line);
        break;
    case SMTP_VERB_RCPT:
        smtpd_cmd_rcpt(sess, &cmd, line);
        break;
    case SMTP_VERB_DATA:
        smtpd_data_cmd(sess);
        break;
    case SMTP_VERB_BDAT:
        smtpd_bdat_cmd(sess, cmd.bdat_size, cmd.bdat_last);
        break;
    case SMTP_VERB_STARTTLS:
        smtpd_tls_cmd(sess);
        break;
    case SMTP_VERB_AUTH:
        smtpd_auth_cmd(sess, &cmd);
        lineio_in_wipe(&sess->in);
        break;
    default:
        smtpd_cmd_simple(sess, &cmd);
        break;
    }
    smtp_cmd_free(&cmd);
}
