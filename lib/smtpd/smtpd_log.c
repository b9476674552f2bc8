/*
 * smtpd_log.c - log lines in Postfix's shapes, so that pflogsumm, fail2ban and the
 * administrator's habits work unchanged:
 *
 *   NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 550 5.1.1 <u@example.org>: Recipient
 *       address rejected: User unknown in local recipient table; from=<s@example.net>
 *       to=<u@example.org> proto=ESMTP helo=<client.example.net>
 *   disconnect from unknown[192.0.2.1] ehlo=1 mail=1 rcpt=0/1 data=0/1 quit=1 commands=3/5
 *
 * A counter is "name=N" when every such command succeeded, else "name=succeeded/total".
 * Client-supplied text reaches the log only through log.c, which replaces control bytes.
 *
 * Trusts: nothing the client sent; it reaches the log only through log.c (above).
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "smtpd/smtpd.h"

static const char *const smtpd_count_names[SMTPD_C_COUNT] = {
    [SMTPD_C_EHLO] = "ehlo", [SMTPD_C_HELO] = "helo",       [SMTPD_C_STARTTLS] = "starttls",
    [SMTPD_C_AUTH] = "auth", [SMTPD_C_MAIL] = "mail",       [SMTPD_C_RCPT] = "rcpt",
    [SMTPD_C_DATA] = "data", [SMTPD_C_BDAT] = "bdat",       [SMTPD_C_RSET] = "rset",
    [SMTPD_C_NOOP] = "noop", [SMTPD_C_VRFY] = "vrfy",       [SMTPD_C_HELP] = "help",
    [SMTPD_C_QUIT] = "quit", [SMTPD_C_UNKNOWN] = "unknown",
};

/* smtpd_log_count - the final reply to the current command: count it as good or not */
void
smtpd_log_count(struct smtpd_session *sess, int code)
{
    int c = sess->counting;

    if (c < 0 || code == 354 || code == 334) /* DATA and AUTH are not over yet */
        return;
    if (sess->count_all[c] < UINT16_MAX)
        sess->count_all[c]++;
    if (code < 400 && sess->count_ok[c] < UINT16_MAX)
        sess->count_ok[c]++;
    sess->counting = -1;
}

/* smtpd_log_reject - NOQUEUE (or QID): reject: CMD from host[addr]: reply; from= to= ... */
void
smtpd_log_reject(struct smtpd_session *sess, const char *cmd, int code, const char *dsn,
                 const char *text, const char *rcpt)
{
    char to[600] = "";

    if (rcpt != NULL)
        snprintf(to, sizeof(to), " to=<%s>", rcpt);
    log_info("%s: reject: %s from %s[%s]: %d %s %s; from=<%s>%s proto=%s helo=<%s>",
             sess->txn.qid[0] ? sess->txn.qid : "NOQUEUE", cmd, sess->name, sess->addr, code, dsn,
             text, sess->txn.sender ? sess->txn.sender : "", to,
             smtpd_protocol(sess->esmtp, false, false, false), sess->helo ? sess->helo : "");
}

/* smtpd_log_disconnect - the closing line with the command counters */
void
smtpd_log_disconnect(struct smtpd_session *sess)
{
    struct buf line;
    unsigned ok = 0, all = 0;

    buf_init(&line, 1024);
    buf_printf(&line, "disconnect from %s[%s]", sess->name, sess->addr);
    for (int c = 0; c < SMTPD_C_COUNT; c++) {
        if (sess->count_all[c] == 0)
            continue;
        ok += sess->count_ok[c];
        all += sess->count_all[c];
        if (sess->count_ok[c] == sess->count_all[c])
            buf_printf(&line, " %s=%u", smtpd_count_names[c], (unsigned)sess->count_all[c]);
        else
            buf_printf(&line, " %s=%u/%u", smtpd_count_names[c], (unsigned)sess->count_ok[c],
                       (unsigned)sess->count_all[c]);
    }
    if (ok == all)
        buf_printf(&line, " commands=%u", all);
    else
        buf_printf(&line, " commands=%u/%u", ok, all);
    log_info("%s", buf_str(&line));
    buf_free(&line);
}
