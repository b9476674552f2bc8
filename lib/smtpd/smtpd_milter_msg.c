/*
 * smtpd_milter_msg.c - the message to the milters, as Postfix's cleanup sends it: read
 * back from the queue file smtpd has just written (end marker included, not yet fsynced or
 * committed), one header field at a time (folded lines joined by "\n", the value without
 * the space after the colon), the end of the header, the body in chunks of at most
 * MILTER_CHUNK_MAX octets with its CRLFs, then the end of the message. Each piece is a stage
 * of smtpd_milter.c, so each milter sees it in order and its verdict stops the rest.
 *
 * At the end of the message a milter may send edits before its verdict; QUARANTINE puts
 * the message on hold. The edits of every milter are collected in order (lib/mail's
 * milter_edit) and, if the message is kept, handed to the session in ms->edits, which
 * applies them to a second queue file (smtpd_data.c). Our Received header, the first field
 * of the content, is not sent (Postfix's rule, which the edits' indexes count on).
 *
 * The file is read a record at a time, so the message is never held in memory whole; a
 * header field is kept up to MILTER_CHUNK_MAX octets and cut there.
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
#include "mail/milter_edit.h"
#include "smtpd/smtpd_milter.h"

enum smtpd_milter_part {
    MSG_HEADER,
    MSG_EOH,
    MSG_BODY,
    MSG_EOM,
    MSG_DONE,
};

struct smtpd_milter_msg {
    int fd;
    off_t size; /* of the file */
    off_t off;  /* the next content record */
    bool end;   /* no more records */
    char *chunk;
    size_t len, pos;
    enum smtpd_milter_part part;
    struct buf line;  /* the header line being read */
    struct buf field; /* the header field read so far (folded lines joined) */
    struct buf carry; /* the first body line, when no empty line ended the header */
    size_t fields;    /* header fields read */
    struct milter_edits *edits;
    const struct smtpd_mconn *editor; /* the milter whose edits come in */
    smtpd_milter_done done;
};

/* smtpd_milter_msg_fill - the next content record; false at the end or on an error */
static bool
smtpd_milter_msg_fill(struct smtpd_milter_msg *msg)
{
    struct err err;
    int got;

    if (msg->end)
        return false;
    got = queue_file_content_next(msg->fd, msg->size, &msg->off, msg->chunk, &msg->len, &err);
    msg->pos = 0;
    if (got <= 0) {
        msg->end = true;
        msg->len = 0;
        if (got < 0)
            log_warn("milter: reading the queue file back: %s", err.text);
        return false;
    }
    return true;
}

/* smtpd_milter_msg_line - the next line into msg->line, without its CRLF; false at the end */
static bool
smtpd_milter_msg_line(struct smtpd_milter_msg *msg)
{
    buf_reset(&msg->line);
    for (;;) {
        char *nl;
        size_t n;
        if (msg->pos == msg->len && !smtpd_milter_msg_fill(msg))
            return msg->line.len > 0;
        nl = memchr(msg->chunk + msg->pos, '\n', msg->len - msg->pos);
        n = nl ? (size_t)(nl - (msg->chunk + msg->pos)) : msg->len - msg->pos;
        if (msg->line.len + n <= MILTER_CHUNK_MAX)
            buf_append(&msg->line, msg->chunk + msg->pos, n);
        msg->pos += n + (nl != NULL);
        if (nl != NULL) {
            if (msg->line.len > 0 && msg->line.data[msg->line.len - 1] == '\r')
                buf_truncate(&msg->line, msg->line.len - 1);
            buf_puts(&msg->line, "");
            return true;
        }
    }
}

/* smtpd_milter_msg_is_field - does the line start a header field? (the edits' own rule) */
static bool
smtpd_milter_msg_is_field(const struct buf *line)
{
    return milter_hdrs_name_len(line->data, line->len) > 0;
}

/*
 * smtpd_milter_msg_put_field - the field read so far as a HEADER packet; false for the
 * first field of the content (our Received header), which milters are not shown (Postfix's
 * rule, which the edits' header indexes count on)
 */
static bool
smtpd_milter_msg_put_field(struct smtpd_milters *ms, struct smtpd_milter_msg *msg)
{
    size_t n = milter_hdrs_name_len(msg->field.data, msg->field.len);
    char *name = xstrndup(msg->field.data, n);
    const char *raw = strchr(buf_str(&msg->field), ':') + 1;
    const char *value = raw + (*raw == ' ');
    bool first = msg->fields++ == 0;

    buf_reset(&ms->packet);
    buf_reset(&ms->packet_lead);
    if (!first) {
        milter_put_header(&ms->packet, name, value);
        milter_put_header(&ms->packet_lead, name, raw);
    }
    free(name);
    buf_reset(&msg->field);
    return !first;
}

/* smtpd_milter_msg_header - read up to the next whole field; true if it is in ms->packet */
static bool
smtpd_milter_msg_header(struct smtpd_milters *ms, struct smtpd_milter_msg *msg)
{
    while (smtpd_milter_msg_line(msg)) {
        const char *line = buf_str(&msg->line);
        if ((line[0] == ' ' || line[0] == '\t') && msg->field.len > 0) {
            if (msg->field.len + msg->line.len < MILTER_CHUNK_MAX) {
                buf_putc(&msg->field, '\n');
                buf_append(&msg->field, line, msg->line.len);
            }
            continue;
        }
        if (line[0] != 0 && smtpd_milter_msg_is_field(&msg->line)) {
            bool sent = msg->field.len > 0 && smtpd_milter_msg_put_field(ms, msg);
            buf_reset(&msg->field);
            buf_append(&msg->field, line, msg->line.len);
            if (sent)
                return true;
            continue;
        }
        if (line[0] != 0) { /* no empty line: this is the body's first line */
            buf_append(&msg->carry, line, msg->line.len);
            buf_append(&msg->carry, "\r\n", 2);
        }
        break;
    }
    msg->part = MSG_EOH;
    return msg->field.len > 0 && smtpd_milter_msg_put_field(ms, msg);
}

/* smtpd_milter_msg_body - the next body chunk into ms->packet; false when there is none */
static bool
smtpd_milter_msg_body(struct smtpd_milters *ms, struct smtpd_milter_msg *msg)
{
    struct buf data;

    buf_init(&data, BUF_UNLIMITED);
    buf_append(&data, msg->carry.data, msg->carry.len);
    buf_reset(&msg->carry);
    while (data.len < MILTER_CHUNK_MAX) {
        size_t n;
        if (msg->pos == msg->len && !smtpd_milter_msg_fill(msg))
            break;
        n = msg->len - msg->pos;
        if (n > MILTER_CHUNK_MAX - data.len)
            n = MILTER_CHUNK_MAX - data.len;
        buf_append(&data, msg->chunk + msg->pos, n);
        msg->pos += n;
    }
    buf_reset(&ms->packet);
    if (data.len > 0)
        milter_put_body(&ms->packet, data.data, data.len);
    buf_free(&data);
    return ms->packet.len > 0;
}

static void smtpd_milter_msg_step(struct smtpd_session *sess, const struct smtpd_milter_verdict *v);

/* smtpd_milter_msg_next - send the next piece of the message */
static void
smtpd_milter_msg_next(struct smtpd_milters *ms)
{
    struct smtpd_milter_msg *msg = ms->msg;

    if (msg->part == MSG_HEADER && smtpd_milter_msg_header(ms, msg)) {
        smtpd_milter_stage(ms, MILTER_CMD_HEADER, smtpd_milter_msg_step);
        return;
    }
    if (msg->part == MSG_EOH) {
        msg->part = MSG_BODY;
        buf_reset(&ms->packet);
        milter_put_simple(&ms->packet, MILTER_CMD_EOH);
        smtpd_milter_stage(ms, MILTER_CMD_EOH, smtpd_milter_msg_step);
        return;
    }
    if (msg->part == MSG_BODY && smtpd_milter_msg_body(ms, msg)) {
        smtpd_milter_stage(ms, MILTER_CMD_BODY, smtpd_milter_msg_step);
        return;
    }
    msg->part = MSG_DONE;
    buf_reset(&ms->packet);
    milter_put_simple(&ms->packet, MILTER_CMD_BODYEOB);
    smtpd_milter_stage(ms, MILTER_CMD_BODYEOB, smtpd_milter_msg_step);
}

/* smtpd_milter_msg_step - a piece was seen: the next, or the verdict to the session */
static void
smtpd_milter_msg_step(struct smtpd_session *sess, const struct smtpd_milter_verdict *seen)
{
    struct smtpd_milters *ms = sess->milters;
    struct smtpd_milter_msg *msg = ms->msg;
    smtpd_milter_done done = msg->done;
    bool ended = ms->msg->part == MSG_DONE; /* the milters saw the end: no ABORT owed */
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
    free(msg->chunk);
    buf_free(&msg->line);
    buf_free(&msg->field);
    buf_free(&msg->carry);
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
    milter_edits_spool(msg->edits, msg->fd);
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
    msg->fd = sess->txn.qfd;
    msg->size = st.st_size;
    msg->off = env.content_offset;
    msg->chunk = xmalloc(QUEUE_FILE_CHUNK_MAX);
    msg->done = done;
    buf_init(&msg->line, BUF_UNLIMITED);
    buf_init(&msg->field, BUF_UNLIMITED);
    buf_init(&msg->carry, BUF_UNLIMITED);
    queue_envelope_free(&env);
    smtpd_milter_msg_edits(sess, msg);
    smtpd_milter_msg_next(ms);
}
