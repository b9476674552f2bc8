/*
 * smtpd_milter_hbc.c - milter_header_checks in smtpd: each header edit of a milter goes
 * through lib/mail's milter_hbc with this session's facts for the log ("from
 * host[addr]; from=<s> to=<r> proto=ESMTP helo=<h>"), and the strongest action the
 * message got is applied after the milters' own verdict, which a milter's reject or
 * discard overrides: REJECT refuses the message with the table's code (451 4.3.0 for a
 * table that cannot be read), DISCARD drops it, HOLD holds it.
 *
 * Trusts: the codec's parse of the edit; the tables are the administrator's.
 */
#include <stdio.h>

#include "smtpd/smtpd_milter.h"

bool
smtpd_milter_hbc(struct smtpd_session *sess, struct milter_hbc *st, const struct milter_reply *r,
                 bool leadspc)
{
    struct smtpd_txn *txn = &sess->txn;
    char client[600];
    struct milter_hbc_log who = {
        .qid = txn->qid,
        .client = client,
        .sender = txn->sender,
        .rcpt = txn->nrcpt > 0 ? txn->rcpt[0].addr : NULL,
        .proto = smtpd_protocol(sess->esmtp, false, false, false),
        .helo = sess->helo ? sess->helo : "",
    };

    snprintf(client, sizeof(client), "%s[%s]", sess->name, sess->addr);
    return milter_hbc_check(st, &sess->smtpd->milter_hbc, r, leadspc, &who);
}

void
smtpd_milter_hbc_verdict(const struct milter_hbc *st, struct smtpd_milter_verdict *v)
{
    const struct header_action *a = &st->action;

    if (v->result != SMTPD_MILTER_GO)
        return;
    if (a->kind == HEADER_ACTION_REJECT) {
        v->result = SMTPD_MILTER_REFUSE;
        v->reply = (struct smtp_reply){.code = a->code, .status = a->status, .text = a->text};
    } else if (a->kind == HEADER_ACTION_DISCARD)
        v->result = SMTPD_MILTER_DISCARD;
    else if (a->kind == HEADER_ACTION_HOLD && !v->hold) {
        v->hold = true;
        v->hold_why = a->text;
    }
}
