/*
 * pickup_milter_hbc.c - milter_header_checks for non_smtpd_milters: each header a milter
 * adds or changes in mail from sendmail goes through lib/mail's milter_hbc, logged as
 * Postfix's cleanup logs it for local mail ("from localhost[127.0.0.1]; from=<s> to=<r>",
 * no proto= nor helo=), and the strongest action the message got becomes pickup's verdict
 * after the milter's turn, as the milters' own verdicts do: REJECT bounces the message to
 * its sender with the table's reason, a 4.x.x REJECT (and a table that cannot be read)
 * leaves the maildrop file for a later scan, DISCARD drops the message, HOLD holds it.
 *
 * Trusts: the codec's parse of the edit; the tables are the administrator's.
 */
#include <stdio.h>

#include "core/log.h"
#include "pickup/pickup_milter.h"

bool
pickup_milter_hbc(struct pickup *pk, struct milter_hbc *st, const struct milter_reply *r,
                  bool leadspc, const char *qid, const struct queue_envelope *env)
{
    struct milter_hbc_log who = {
        .qid = qid,
        .client = "localhost[127.0.0.1]",
        .sender = env->sender,
        .rcpt = env->nrcpt > 0 ? env->rcpt[0].addr : NULL,
    };

    return milter_hbc_check(st, &pk->milter_hbc, r, leadspc, &who);
}

void
pickup_milter_hbc_verdict(const struct milter_hbc *st, const char *qid, const char *name,
                          struct pickup_milter_outcome *out)
{
    const struct header_action *a = &st->action;

    if (out->verdict != PICKUP_MILTER_GO)
        return;
    if (a->kind == HEADER_ACTION_REJECT && a->code >= 500) {
        out->verdict = PICKUP_MILTER_BOUNCE;
        snprintf(out->reason, sizeof(out->reason), "%s %s", a->status, a->text);
    } else if (a->kind == HEADER_ACTION_REJECT) {
        log_warn("%s: milter_header_checks: %s %s: the message waits in maildrop/%s", qid,
                 a->status, a->text, name);
        out->verdict = PICKUP_MILTER_LATER;
    } else if (a->kind == HEADER_ACTION_DISCARD)
        out->verdict = PICKUP_MILTER_DISCARD;
    else if (a->kind == HEADER_ACTION_HOLD)
        out->hold = true;
}
