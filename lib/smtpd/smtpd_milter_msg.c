/*
 * smtpd_milter_msg.c - the message to the milters, as Postfix's cleanup sends it: read
 * back from the queue file smtpd has just written (end marker included, not yet fsynced or
 * committed) in the pieces of lib/mail's milter_content (header fields, the end of the
 * header, body chunks, the end of the message). Each piece is a stage of smtpd_milter.c,
 * so each milter sees it in order and its verdict stops the rest.
 *
 * At the end of the message a milter may send edits before its verdict; QUARANTINE puts
 * the message on hold. The edits of every milter are collected in order (lib/mail's
 * milter_edit) and, if the message is kept, handed to the session in ms->edits, which
 * applies them to a second queue file (smtpd_data.c).
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
    struct milter_edits *edits;
    const struct smtpd_mconn *editor; /* the milter whose edits come in */
    smtpd_milter_done done;
};

static void smtpd_milter_msg_step(struct smtpd_session *sess, const struct smtpd_milter_verdict *v);

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
    default:
        cmd = MILTER_CMD_BODYEOB;
        milter_put_simple(&ms->packet, cmd);
    }
    smtpd_milter_stage(ms, cmd, smtpd_milter_msg_step);
}

/* smtpd_milter_msg_step - a piece was seen: the next, or the verdict to the session */
static void
smtpd_milter_msg_step(struct smtpd_session *sess, const struct smtpd_milter_verdict *seen)
{
    struct smtpd_milters *ms = sess->milters;
    struct smtpd_milter_msg *msg = ms->msg;
    smtpd_milter_done done = msg->done;
    bool ended = msg->content.part == MILTER_PIECE_END; /* no ABORT owed */
    struct smtpd_milter_verdict verdict = *seen, *v = &verdict;

    if (v->result == SMTPD_MILTER_GO && !ended) {
        smtpd_milter_msg_next(ms);
        return;
    }
    smtpd_milter_hbc_verdict(&ms->hbc, v);
    if (v->result == SMTPD_MILTER_GO && !milter_edits_empty(msg->edits)) {
        ms->edits = msg->edits; /* the session applies them (smtpd_data.c) */
        msg->edits = NULL;
    }
    smtpd_milter_msg_free(ms);
    for (size_t i = 0; i < ms->n; i++) {
        ms->m[i].in_message = ended ? false : ms->m[i].in_message;
        ms->m[i].done_message = false;
        ms->m[i].skip_body = false;
    }
    done(sess, v);
}

/* smtpd_milter_msg_edit - one edit, collected; a refused one is that milter's failure */
static bool
smtpd_milter_msg_edit(struct smtpd_milters *ms, struct smtpd_mconn *mc,
                      const struct milter_reply *r)
{
    struct smtpd_milter_msg *msg = ms->msg;
    struct err err;
    char why[600];

    if (msg->editor != mc) {
        msg->editor = mc;
        milter_edits_milter(msg->edits, mc->protocol);
    }
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
    if (r->cmd == MILTER_REPLY_QUARANTINE) {
        ms->verdict.hold = true;
        snprintf(ms->hold_why, sizeof(ms->hold_why), "%s", r->text ? r->text : "");
        ms->verdict.hold_why = ms->hold_why;
        return true;
    }
    return milter_reply_is_edit(r->cmd) && smtpd_milter_msg_edit(ms, mc, r);
}

void
smtpd_milter_msg_free(struct smtpd_milters *ms)
{
    struct smtpd_milter_msg *msg = ms->msg;

    if (msg == NULL)
        return;
    if (msg->edits != NULL) {
        struct err err;
        if (!milter_edits_unspool(msg->edits, &err))
            log_warn("milter edits: %s", err.text);
        milter_edits_free(msg->edits);
    }
    milter_content_close(&msg->content);
    free(msg);
    ms->msg = NULL;
}

/* smtpd_milter_eom_go - the verdict of a message without milters */
static void
smtpd_milter_eom_fail(struct smtpd_session *sess, smtpd_milter_done done, const char *why)
{
    static const struct smtpd_milter_verdict fail = {
        SMTPD_MILTER_REFUSE, {451, "4.3.0", "Error: queue file read error"}, false, NULL};

    log_warn("%s: milter: %s", sess->txn.qid, why);
    done(sess, &fail);
}

/* smtpd_milter_msg_edits - a collector for the edits, with the limits of main.cf */
static void
smtpd_milter_msg_edits(struct smtpd_session *sess, struct smtpd_milter_msg *msg)
{
    const struct params *p = sess->smtpd->p;
    struct milter_edit_limits lim = {
        .header_size = (size_t)p->header_size_limit,
        .rcpt = (size_t)p->smtpd_recipient_limit,
        .message_size = (uint64_t)p->message_size_limit,
    };

    msg->edits = milter_edits_new();
    milter_edits_limits(msg->edits, &lim);
    milter_edits_spool(msg->edits, msg->content.fd);
}

/*
 * smtpd_milter_eom - the message in sess->txn.qfd (written, end marker included) to the
 * milters; done gets their verdict
 */
void
smtpd_milter_eom(struct smtpd_session *sess, smtpd_milter_done done)
{
    struct smtpd_milters *ms = sess->milters;
    struct smtpd_milter_msg *msg;
    struct queue_envelope env;
    struct err err;
    struct stat st;

    if (!queue_file_read(sess->txn.qfd, &env, &err)) {
        smtpd_milter_eom_fail(sess, done, err.text);
        return;
    }
    if (fstat(sess->txn.qfd, &st) < 0) {
        queue_envelope_free(&env);
        smtpd_milter_eom_fail(sess, done, "fstat failed");
        return;
    }
    smtpd_milter_msg_free(ms);
    msg = ms->msg = xcalloc(1, sizeof(*msg));
    memset(&ms->hbc, 0, sizeof(ms->hbc));
    milter_content_open(&msg->content, sess->txn.qfd, st.st_size, env.content_offset);
    msg->done = done;
    queue_envelope_free(&env);
    smtpd_milter_msg_edits(sess, msg);
    smtpd_milter_msg_next(ms);
}
