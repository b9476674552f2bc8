/*
 * smtpd_milter_hbc.c - milter_header_checks: each header a milter adds, inserts or changes
 * is looked up, as "Name: value", in the tables of that parameter, and the action found
 * (header_checks(5): REJECT, DISCARD, HOLD, IGNORE, WARN, DUNNO, OK) is taken as Postfix's
 * cleanup takes it: IGNORE drops that edit at once; the message keeps the strongest of the
 * others, and smtpd_milter_hbc_verdict() applies it after the milters' own verdict (which a
 * milter's reject or discard overrides). A table that cannot be read makes the message a
 * 451 4.3.0, never a silent pass. Each action is logged in Postfix's header_checks shape:
 * "QID: reject: header Name: value from host[addr]; from=<s> to=<r> proto=ESMTP helo=<h>:
 * 5.7.1 text".
 *
 * Trusts: the codec's parse of the edit (name and value are NUL-terminated text); the
 * tables are the administrator's.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "smtpd/smtpd_milter.h"

/* smtpd_milter_hbc_log - the action in Postfix's shape for milter_header_checks: the
 * header line as looked up, its first 60 octets */
static void
smtpd_milter_hbc_log(struct smtpd_session *sess, const char *what, const char *line,
                     const char *reason)
{
    struct smtpd_txn *txn = &sess->txn;
    char to[600] = "";

    if (txn->nrcpt > 0)
        snprintf(to, sizeof(to), " to=<%s>", txn->rcpt[0].addr);
    log_info("%s: milter-header-%s: header %.60s from %s[%s]; from=<%s>%s proto=%s helo=<%s>%s%s",
             txn->qid, what, line, sess->name, sess->addr, txn->sender ? txn->sender : "", to,
             smtpd_protocol(sess->esmtp, false, false, false), sess->helo ? sess->helo : "",
             *reason ? ": " : "", reason);
}

/* smtpd_milter_hbc_word - Postfix's word in the log for a WARN, INFO, HOLD or DISCARD */
static const char *
smtpd_milter_hbc_word(const struct header_action *a)
{
    switch (a->kind) {
    case HEADER_ACTION_HOLD:
        return "hold";
    case HEADER_ACTION_DISCARD:
        return "discard";
    case HEADER_ACTION_INFO:
        return "info";
    default:
        return "warning";
    }
}

/* smtpd_milter_hbc_keep - the message keeps a, if it is stronger than what it has */
static void
smtpd_milter_hbc_keep(struct smtpd_milter_hbc *st, const struct header_action *a)
{
    if (a->kind <= st->action.kind)
        return;
    st->action = *a;
    snprintf(st->text, sizeof(st->text), "%s", a->text);
    st->action.text = st->text;
}

/* smtpd_milter_hbc_act - log the action a table gave one header; false for IGNORE */
static bool
smtpd_milter_hbc_act(struct smtpd_session *sess, struct smtpd_milter_hbc *st,
                     const struct header_action *a, const char *name, const char *line)
{
    char reason[600];

    switch (a->kind) {
    case HEADER_ACTION_DUNNO:
    case HEADER_ACTION_IGNORE:
        break;
    case HEADER_ACTION_UNSUPPORTED:
        log_warn("%s: milter_header_checks: action %s is not supported: header %s ignored",
                 sess->txn.qid, a->name, name);
        break;
    case HEADER_ACTION_REJECT:
        snprintf(reason, sizeof(reason), "%s %s", a->status, a->text);
        smtpd_milter_hbc_log(sess, "reject", line, reason);
        break;
    default:
        smtpd_milter_hbc_log(sess, smtpd_milter_hbc_word(a), line, a->text);
    }
    smtpd_milter_hbc_keep(st, a);
    return a->kind != HEADER_ACTION_IGNORE;
}

bool
smtpd_milter_hbc(struct smtpd_session *sess, struct smtpd_milter_hbc *st,
                 const struct milter_reply *r, bool leadspc)
{
    struct smtpd_table *t = &sess->smtpd->milter_hbc;
    struct header_action a;
    const char *found;
    struct buf key;
    struct err err;
    bool keep = true;

    if (t->maps == NULL && t->error == NULL)
        return true;
    if (r->cmd != MILTER_REPLY_ADDHEADER && r->cmd != MILTER_REPLY_INSHEADER &&
        r->cmd != MILTER_REPLY_CHGHEADER)
        return true;
    if (r->value == NULL || *r->value == '\0') /* a deletion: nothing to inspect */
        return true;
    buf_init(&key, BUF_UNLIMITED);
    buf_printf(&key, "%s:%s%s", r->name, leadspc ? "" : " ", r->value);
    switch (smtpd_table_lookup(t, buf_str(&key), &found, &err)) {
    case MAP_FOUND:
        if (!header_action_parse(found, &a))
            log_warn("%s: milter_header_checks: unknown action \"%.40s\" for header %s: ignored",
                     sess->txn.qid, found, r->name);
        keep = smtpd_milter_hbc_act(sess, st, &a, r->name, buf_str(&key));
        break;
    case MAP_NOTFOUND:
        break;
    case MAP_ERROR:
        log_warn("%s: milter_header_checks: %s", sess->txn.qid, err.text);
        a = (struct header_action){.kind = HEADER_ACTION_REJECT,
                                   .name = "REJECT",
                                   .code = 451,
                                   .status = "4.3.0",
                                   .text = "Temporary lookup failure"};
        smtpd_milter_hbc_keep(st, &a);
    }
    buf_free(&key);
    return keep;
}

void
smtpd_milter_hbc_verdict(const struct smtpd_milter_hbc *st, struct smtpd_milter_verdict *v)
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
