/*
 * smtpd_milter_msg.c - the message to the milters, as Postfix's cleanup sends it: read
 * back from the queue file smtpd has just written (end marker included, not yet fsynced or
 * committed) in the pieces of lib/mail's milter_content (header fields, the end of the
 * header, body chunks, the end of the message). Each piece is a stage of smtpd_milter.c,
 * so each milter sees it in order and its verdict stops the rest.
 *
 * The milters take turns, as Postfix's cleanup has them: the first gets the whole message,
 * then the next, and so on (each piece still goes to one milter at a time, so a milter's
 * verdict stops the rest). At the end of the message a milter may send edits before its
 * verdict (collected by lib/mail's milter_edit); QUARANTINE puts the message on hold. If
 * the message is kept, that milter's edits are applied before the next milter's turn
 * (smtpd_data_apply: a new queue file, which the next milter reads), so each milter sees
 * what the ones before it did. With one milter this is the plain sequence.
 *
 * Trusts: the queue file (smtpd wrote it and queue_file_read checked it); the milters'
 * replies as the codec checked them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/milter_content.h"
#include "mail/milter_edit.h"
#include "smtpd/smtpd_milter.h"

struct smtpd_milter_msg {
    struct milter_content content;
    size_t turn;                /* the milter whose turn it is */
    struct milter_edits *edits; /* its edits */
    smtpd_milter_done done;
};

static void smtpd_milter_msg_drop(struct smtpd_milter_msg *msg);
static void smtpd_milter_msg_turn(struct smtpd_session *sess);

static void smtpd_milter_msg_step(struct smtpd_session *sess, const struct smtpd_milter_verdict *v);

/*
 * smtpd_milter_msg_over - this milter will see nothing more of the message (it broke, or
 * accepted the session or the message): its turn ends without reading on
 */
static bool
smtpd_milter_msg_over(const struct smtpd_mconn *mc)
{
    return mc->state == MCONN_DEAD || mc->done_session || mc->done_message;
}

/* smtpd_milter_msg_next - send the next piece of the message */
static void
smtpd_milter_msg_next(struct smtpd_milters *ms)
{
    struct milter_content *c = &ms->msg->content;
    int cmd;

    buf_reset(&ms->packet);
    buf_reset(&ms->packet_lead);
    switch (milter_content_next(c)) {
    case MILTER_PIECE_HEADER:
        cmd = MILTER_CMD_HEADER;
        milter_put_header(&ms->packet, c->name, c->value);
        milter_put_header(&ms->packet_lead, c->name, c->raw);
        break;
    case MILTER_PIECE_EOH:
        cmd = MILTER_CMD_EOH;
        milter_put_simple(&ms->packet, cmd);
        break;
    case MILTER_PIECE_BODY:
        cmd = MILTER_CMD_BODY;
        milter_put_body(&ms->packet, c->body.data, c->body.len);
        break;
    case MILTER_PIECE_TOOLONG: /* never cut: the milter gets its default action at the end */
        smtpd_milter_conn_failed(&ms->m[ms->only], "a header field too long to be sent whole");
        /* FALLTHROUGH */
    default:
        cmd = MILTER_CMD_BODYEOB;
        milter_put_simple(&ms->packet, cmd);
    }
    smtpd_milter_stage(ms, cmd, smtpd_milter_msg_step);
}

/* smtpd_milter_msg_finish - the milters are done with the message: v to the session */
static void
smtpd_milter_msg_finish(struct smtpd_session *sess, const struct smtpd_milter_verdict *v)
{
    struct smtpd_milters *ms = sess->milters;
    smtpd_milter_done done = ms->msg->done;

    smtpd_milter_msg_free(ms);
    ms->only = SMTPD_MILTER_ALL;
    for (size_t i = 0; i < ms->n; i++) {
        ms->m[i].done_message = false;
        ms->m[i].skip_body = false;
    }
    done(sess, v);
}

/* smtpd_milter_msg_applied - a turn's edits are in the message (or not): the next turn */
static void
smtpd_milter_msg_applied(struct smtpd_session *sess, enum smtpd_apply result)
{
    static const struct smtpd_milter_verdict failed = {
        SMTPD_MILTER_REFUSE, {451, "4.3.0", "Error: queue file write error"}, false, NULL};
    struct smtpd_milters *ms = sess->milters;
    struct smtpd_milter_verdict v = ms->verdict;

    if (result == SMTPD_APPLY_OK) {
        ms->msg->turn++;
        smtpd_milter_msg_turn(sess);
        return;
    }
    if (result == SMTPD_APPLY_EMPTIED) /* every recipient deleted: as a discard */
        v.result = SMTPD_MILTER_DISCARD;
    smtpd_milter_msg_finish(sess, result == SMTPD_APPLY_EMPTIED ? &v : &failed);
}

/* smtpd_milter_msg_step - a piece was seen: the next, the next milter's turn, or the end */
static void
smtpd_milter_msg_step(struct smtpd_session *sess, const struct smtpd_milter_verdict *seen)
{
    struct smtpd_milters *ms = sess->milters;
    struct smtpd_milter_msg *msg = ms->msg;
    struct smtpd_milter_verdict verdict = *seen, *v = &verdict;
    struct milter_edits *edits = msg->edits;
    bool over = smtpd_milter_msg_over(&ms->m[msg->turn]);

    if (v->result == SMTPD_MILTER_GO && msg->content.part != MILTER_PIECE_END && !over) {
        smtpd_milter_msg_next(ms);
        return;
    }
    if (msg->content.part == MILTER_PIECE_END || over) /* it is done: no ABORT owed */
        ms->m[msg->turn].in_message = false;
    smtpd_milter_hbc_verdict(&ms->hbc, v);
    ms->verdict.hold = v->hold; /* for the turns to come */
    ms->verdict.hold_why = v->hold_why;
    if (v->result != SMTPD_MILTER_GO) {
        smtpd_milter_msg_finish(sess, v);
        return;
    }
    if (milter_edits_empty(edits)) {
        smtpd_milter_msg_drop(msg);
        msg->turn++;
        smtpd_milter_msg_turn(sess);
        return;
    }
    msg->edits = NULL;
    smtpd_data_apply(sess, edits, smtpd_milter_msg_applied); /* it frees them */
}

/* smtpd_milter_msg_edit - one edit, collected; a refused one is that milter's failure */
static bool
smtpd_milter_msg_edit(struct smtpd_milters *ms, struct smtpd_mconn *mc,
                      const struct milter_reply *r)
{
    struct smtpd_milter_msg *msg = ms->msg;
    struct err err;
    char why[600];

    if (!smtpd_milter_hbc(ms->sess, &ms->hbc, r, (mc->protocol & MILTER_P_HDR_LEADSPC) != 0))
        return true;
    if (milter_edits_add(msg->edits, r, &err))
        return true;
    snprintf(why, sizeof(why), "%s: %s", milter_reply_name(r->cmd), err.text);
    smtpd_milter_conn_failed(mc, why);
    return true;
}

/* smtpd_milter_msg_reply - an edit or QUARANTINE at the end of the message: true if taken */
bool
smtpd_milter_msg_reply(struct smtpd_milters *ms, struct smtpd_mconn *mc,
                       const struct milter_reply *r)
{
    if (r->cmd == MILTER_REPLY_QUARANTINE && (mc->actions & MILTER_ACT_QUARANTINE)) {
        ms->verdict.hold = true;
        snprintf(ms->hold_why, sizeof(ms->hold_why), "%s", r->text ? r->text : "");
        ms->verdict.hold_why = ms->hold_why;
        return true;
    }
    return milter_reply_is_edit(r->cmd) && smtpd_milter_msg_edit(ms, mc, r);
}

/* smtpd_milter_msg_drop - the collector of a turn whose edits are not applied */
static void
smtpd_milter_msg_drop(struct smtpd_milter_msg *msg)
{
    struct err err;

    if (msg->edits == NULL)
        return;
    if (!milter_edits_unspool(msg->edits, &err))
        log_warn("milter edits: %s", err.text);
    milter_edits_free(msg->edits);
    msg->edits = NULL;
}

void
smtpd_milter_msg_free(struct smtpd_milters *ms)
{
    struct smtpd_milter_msg *msg = ms->msg;

    if (msg == NULL)
        return;
    smtpd_milter_msg_drop(msg);
    milter_content_close(&msg->content);
    free(msg);
    ms->msg = NULL;
}

/* smtpd_milter_msg_edits - a collector for one milter's edits, with the limits of main.cf */
static struct milter_edits *
smtpd_milter_msg_edits(struct smtpd_session *sess, const struct smtpd_mconn *mc)
{
    const struct params *p = sess->smtpd->p;
    struct milter_edit_limits lim = {
        .header_size = (size_t)p->header_size_limit,
        .rcpt = (size_t)p->smtpd_recipient_limit,
        .message_size = (uint64_t)p->message_size_limit,
    };
    struct milter_edits *e = milter_edits_new();

    milter_edits_limits(e, &lim);
    milter_edits_spool(e, sess->txn.qfd);
    milter_edits_milter(e, mc->protocol, mc->actions);
    return e;
}

/* smtpd_milter_msg_read - the content of the queue file in sess->txn.qfd, from its start */
static bool
smtpd_milter_msg_read(struct smtpd_session *sess, struct milter_content *c, struct err *err)
{
    struct queue_envelope env;
    struct stat st;

    if (fstat(sess->txn.qfd, &st) < 0)
        return err_set(err, "fstat: %m");
    if (!queue_file_read(sess->txn.qfd, &env, err))
        return false;
    milter_content_close(c);
    milter_content_open(c, sess->txn.qfd, st.st_size, env.content_offset);
    queue_envelope_free(&env);
    return true;
}

/* smtpd_milter_msg_turn - the message, from its start, to the milter whose turn it is;
 * after the last, the verdict to the session */
static void
smtpd_milter_msg_turn(struct smtpd_session *sess)
{
    static const struct smtpd_milter_verdict unread = {
        SMTPD_MILTER_REFUSE, {451, "4.3.0", "Error: queue file read error"}, false, NULL};
    struct smtpd_milters *ms = sess->milters;
    struct smtpd_milter_msg *msg = ms->msg;
    struct smtpd_milter_verdict v = ms->verdict;
    struct err err;

    while (msg->turn < ms->n && smtpd_milter_msg_over(&ms->m[msg->turn]))
        ms->m[msg->turn++].in_message = false; /* nothing to read the message for */
    if (msg->turn >= ms->n) {
        v.result = SMTPD_MILTER_GO;
        smtpd_milter_msg_finish(sess, &v);
        return;
    }
    if (!smtpd_milter_msg_read(sess, &msg->content, &err)) {
        log_warn("%s: milter: reading the queue file: %s", sess->txn.qid, err.text);
        smtpd_milter_msg_finish(sess, &unread);
        return;
    }
    msg->edits = smtpd_milter_msg_edits(sess, &ms->m[msg->turn]);
    ms->only = msg->turn;
    smtpd_milter_msg_next(ms);
}

/*
 * smtpd_milter_eom - the message in sess->txn.qfd (written, end marker included) to the
 * milters, one after the other; done gets their verdict, their edits applied
 */
void
smtpd_milter_eom(struct smtpd_session *sess, smtpd_milter_done done)
{
    struct smtpd_milters *ms = sess->milters;

    smtpd_milter_msg_free(ms);
    ms->msg = xcalloc(1, sizeof(*ms->msg));
    ms->msg->done = done;
    memset(&ms->hbc, 0, sizeof(ms->hbc));
    smtpd_milter_msg_turn(sess);
}
