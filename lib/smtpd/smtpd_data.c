/*
 * smtpd_data.c - DATA and BDAT: from the command to "250 2.0.0 Ok: queued as QID".
 *
 * Runs as mail_owner; the content is untrusted and goes through smtp_data.c's state
 * machine (unstuffing, end of data, bare CR/LF, line length, size) into the queue file.
 * Order of events for one message:
 *   DATA or the first BDAT  -> queue_open to qmgr (the session waits for queue_opened)
 *   queue_opened            -> envelope, recipients and the Received header are written;
 *                              354 (DATA) or the chunk is read (BDAT)
 *   end of data / BDAT LAST -> refused: queue_abort, 5xx; else the end marker is written,
 *                              a helper thread fsyncs the file (lib/core/offload.c: the
 *                              other sessions go on meanwhile), then queue_commit, and
 *                              250 only after queue_committed
 * The content state machine and the writer exist only during this phase.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/milter_edit.h"
#include "smtpd/smtpd.h"

static const struct smtp_reply smtpd_reply_need_mail = {503, "5.5.1", "Error: need MAIL command"};
static const struct smtp_reply smtpd_reply_no_rcpt = {554, "5.5.1", "Error: no valid recipients"};
static const struct smtp_reply smtpd_reply_bdat_failed = {
    503, "5.5.1", "Error: a previous chunk was refused; send RSET"};
static const struct smtp_reply smtpd_reply_mixed = {
    503, "5.5.1", "Error: DATA and BDAT cannot be used in one transaction"};
static const struct smtp_reply smtpd_reply_queue_error = {451, "4.3.0",
                                                          "Error: queue file write error"};
static const struct smtp_reply smtpd_reply_no_space = {452, "4.3.1", "Insufficient system storage"};

/* smtpd_protocol - the RFC 3848 / RFC 6531 protocol word for Received and the envelope */
const char *
smtpd_protocol(bool esmtp, bool utf8, bool tls, bool auth)
{
    static const char *const words[2][2][2] = {
        {{"ESMTP", "ESMTPA"}, {"ESMTPS", "ESMTPSA"}},
        {{"UTF8SMTP", "UTF8SMTPA"}, {"UTF8SMTPS", "UTF8SMTPSA"}},
    };

    return esmtp ? words[utf8][tls][auth] : "SMTP";
}

/* smtpd_data_free - drop the data-phase state (not the queue ID) */
void
smtpd_data_free(struct smtpd_session *sess)
{
    struct smtpd_txn *txn = &sess->txn;

    if (txn->writer != NULL) {
        queue_writer_free(txn->writer);
        free(txn->writer);
        txn->writer = NULL;
    }
    free(txn->data);
    txn->data = NULL;
    free(txn->fixup);
    txn->fixup = NULL;
    if (txn->qfd >= 0)
        close(txn->qfd);
    txn->qfd = -1;
    milter_edits_free(txn->edits);
    txn->edits = NULL;
    if (txn->old_qfd >= 0)
        close(txn->old_qfd);
    txn->old_qfd = -1;
}

/* smtpd_txn_reset - forget the transaction; a queue file not committed is aborted */
void
smtpd_txn_reset(struct smtpd_session *sess)
{
    struct smtpd_txn *txn = &sess->txn;

    if (txn->sync != NULL)
        offload_cancel(txn->sync); /* the session ends while its file is being fsynced */
    if (txn->sender != NULL)
        smtpd_milter_abort(sess);
    if (txn->qid[0] && !smtpd_queue_busy(sess))
        smtpd_queue_abort(sess);
    smtpd_data_free(sess);
    free(txn->sender);
    free(txn->envid);
    free(txn->auth_author);
    for (size_t i = 0; i < txn->nrcpt; i++) {
        free(txn->rcpt[i].addr);
        free(txn->rcpt[i].notify);
        free(txn->rcpt[i].orcpt);
    }
    free(txn->rcpt);
    memset(txn, 0, sizeof(*txn));
    txn->qfd = -1;
    txn->old_qfd = -1;
    sess->phase = SMTPD_PHASE_CMD;
}

/*
 * smtpd_data_comment - text that is not ours (a login, a certificate's names) inside a
 * comment of the Received header: control characters, quotes, parentheses and backslashes
 * become '?', so nothing can end the comment or the header early
 */
void
smtpd_data_comment(struct buf *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        buf_putc(out, c < 0x20 || c >= 0x7f || strchr("\"()\\", c) ? '?' : (char)c);
    }
}

/* smtpd_data_received - the Received header (RFC 5321 4.4, RFC 3848 protocol word) */
static void
smtpd_data_received(struct smtpd_session *sess, struct buf *out)
{
    const struct params *p = sess->smtpd->p;
    struct smtpd_txn *txn = &sess->txn;
    bool v6 = strchr(sess->addr, ':') != NULL;
    char date[64];
    time_t now = time(NULL);
    struct tm tm;

    localtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm);
    buf_printf(out, "Received: from %s (%s [%s%s])", sess->helo ? sess->helo : sess->name,
               sess->name, v6 ? "IPv6:" : "", sess->addr);
    smtpd_tls_received(sess, out);
    smtpd_auth_received(sess, out);
    buf_printf(out, "\r\n\tby %s (%s) with %s id %s", p->myhostname, p->mail_name,
               smtpd_protocol(sess->esmtp, txn->smtputf8, sess->tls != NULL,
                              smtpd_auth_user(sess) != NULL),
               txn->qid);
    if (txn->nrcpt == 1)
        buf_printf(out, "\r\n\tfor <%s>", txn->rcpt[0].addr);
    buf_printf(out, "; %s\r\n", date);
}

/* smtpd_data_sink - content from the state machine into the queue file */
static void
smtpd_data_sink(void *ctx, const char *data, size_t len)
{
    struct smtpd_session *sess = ctx;

    queue_writer_content(sess->txn.writer, data, len);
}

/*
 * smtpd_data_fixup - submission: the content goes through a filter that adds Date: and
 * Message-ID: where the client left them out (RFC 6409 8.2, 8.3); the sink it returns
 */
static smtp_data_sink
smtpd_data_fixup(struct smtpd_session *sess, void **ctx)
{
    struct smtpd_txn *txn = &sess->txn;
    struct smtpd_fixup *fx;
    time_t now = time(NULL);
    struct tm tm;
    char stamp[32];

    *ctx = sess;
    if (!sess->smtpd->role->submission)
        return smtpd_data_sink;
    fx = txn->fixup = xcalloc(1, sizeof(*fx));
    localtime_r(&now, &tm);
    strftime(fx->date, sizeof(fx->date), "Date: %a, %d %b %Y %H:%M:%S %z (%Z)\r\n", &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
    snprintf(fx->msgid, sizeof(fx->msgid), "Message-ID: <%s.%s@%.200s>\r\n", stamp, txn->qid,
             sess->smtpd->p->myhostname);
    msa_fixup_init(&fx->filter, smtpd_data_sink, sess, fx->date, fx->msgid);
    *ctx = &fx->filter;
    return msa_fixup_feed;
}

/* smtpd_data_begin - write the envelope, recipients and Received header; start content */
static void
smtpd_data_begin(struct smtpd_session *sess)
{
    struct smtpd_txn *txn = &sess->txn;
    const struct params *p = sess->smtpd->p;
    static const char *const rets[] = {
        [SMTP_RET_NONE] = "", [SMTP_RET_FULL] = "FULL", [SMTP_RET_HDRS] = "HDRS"};
    /* The envelope struct holds writable strings; these copies are freed below. */
    char *envid = smtp_xtext_encode(txn->envid ? txn->envid : "");
    char *ret = xstrdup(rets[txn->ret]), *name = xstrdup(sess->name);
    char *body = xstrdup(smtp_body_word(txn->body));
    char *helo = xstrdup(sess->helo ? sess->helo : "");
    char *proto = xstrdup(smtpd_protocol(sess->esmtp, txn->smtputf8, sess->tls != NULL,
                                         smtpd_auth_user(sess) != NULL));
    struct queue_envelope env = {
        .sender = txn->sender,
        .ret = ret,
        .envid = envid,
        .body = body,
        .client_name = name,
        .client_addr = sess->addr,
        .helo = helo,
        .protocol = proto,
    };
    struct buf received;
    enum smtp_data_bare bare =
        p->smtpd_forbid_bare_newline ? SMTP_DATA_BARE_REJECT : SMTP_DATA_BARE_NORMALIZE;
    uint64_t limit = p->message_size_limit > 0 ? (uint64_t)p->message_size_limit : UINT64_MAX;
    smtp_data_sink sink;
    void *sink_ctx;

    gettimeofday(&env.arrival, NULL);
    txn->writer = xcalloc(1, sizeof(*txn->writer));
    queue_writer_init(txn->writer, txn->qfd, &env);
    free(envid);
    free(ret);
    free(body);
    free(name);
    free(helo);
    free(proto);
    for (size_t i = 0; i < txn->nrcpt; i++)
        queue_writer_rcpt(txn->writer, txn->rcpt[i].addr, txn->rcpt[i].notify, txn->rcpt[i].orcpt);
    buf_init(&received, 8192);
    smtpd_data_received(sess, &received);
    queue_writer_content(txn->writer, received.data, received.len);
    buf_free(&received);
    txn->data = xmalloc(sizeof(*txn->data));
    sink = smtpd_data_fixup(sess, &sink_ctx);
    if (txn->bdat)
        smtp_data_init_bdat(txn->data, bare, limit, sink, sink_ctx);
    else
        smtp_data_init(txn->data, bare, limit, sink, sink_ctx);
}

/* smtpd_data_chunk - start reading one BDAT chunk into the message */
static void smtpd_data_chunk(struct smtpd_session *sess, uint64_t size, bool last);

/* smtpd_data_failed - no content for this transaction: reply (after the chunk, for BDAT) */
static void
smtpd_data_failed(struct smtpd_session *sess, const struct smtp_reply *reply)
{
    struct smtpd_txn *txn = &sess->txn;

    if (txn->bdat) {
        if (txn->qid[0] && !smtpd_queue_busy(sess))
            smtpd_queue_abort(sess);
        txn->qid[0] = 0;
        smtpd_data_free(sess);
        sess->phase = SMTPD_PHASE_BDAT_SKIP;
        sess->skip_left = txn->chunk_size;
        sess->skip_reply = reply;
        txn->bdat_failed = true;
        if (sess->skip_left == 0) {
            sess->phase = SMTPD_PHASE_CMD;
            smtpd_reply_std(sess, reply);
        }
        return;
    }
    smtpd_reply_std(sess, reply);
    smtpd_txn_reset(sess);
}

/* smtpd_data_milted - the milters saw DATA: refuse it, or take the content */
static void
smtpd_data_milted(struct smtpd_session *sess, const struct smtpd_milter_verdict *v)
{
    struct smtpd_txn *txn = &sess->txn;

    if (v->result == SMTPD_MILTER_REFUSE || v->result == SMTPD_MILTER_CLOSE) {
        smtpd_milter_log(sess, "milter-reject", "DATA", v, NULL);
        if (v->result == SMTPD_MILTER_CLOSE)
            smtpd_session_close(sess);
        smtpd_data_failed(sess, &v->reply);
        return;
    }
    if (v->result == SMTPD_MILTER_DISCARD)
        txn->discard = true;
    smtpd_data_begin(sess);
    if (txn->bdat) {
        smtpd_data_chunk(sess, txn->chunk_size, txn->chunk_last);
        return;
    }
    smtpd_reply(sess, 354, NULL, "End data with <CR><LF>.<CR><LF>");
    sess->phase = SMTPD_PHASE_DATA;
}

/* smtpd_data_opened - qmgr answered queue_open: go on with DATA or the first chunk */
static void
smtpd_data_opened(struct smtpd_session *sess, bool ok, const char *why)
{
    struct smtpd_txn *txn = &sess->txn;

    if (!ok) {
        log_warn("queue file open failed: %s", why);
        smtpd_data_failed(sess, &smtpd_reply_queue_error);
        return;
    }
    if (smtpd_auth_user(sess) != NULL)
        log_info("%s: client=%s[%s], sasl_method=%s, sasl_username=%s", txn->qid, sess->name,
                 sess->addr, smtpd_auth_method(sess), smtpd_auth_user(sess));
    else
        log_info("%s: client=%s[%s]", txn->qid, sess->name, sess->addr);
    smtpd_milter_data(sess, smtpd_data_milted); /* without milters: at once */
}

/* smtpd_data_check - may the transaction take content now? Otherwise the reply */
static const struct smtp_reply *
smtpd_data_check(const struct smtpd_session *sess)
{
    if (sess->txn.sender == NULL)
        return &smtpd_reply_need_mail;
    if (sess->txn.nrcpt == 0)
        return &smtpd_reply_no_rcpt;
    return NULL;
}

/* smtpd_data_cmd - DATA */
void
smtpd_data_cmd(struct smtpd_session *sess)
{
    const struct smtp_reply *bad = smtpd_data_check(sess);

    if (bad == NULL && sess->txn.bdat)
        bad = &smtpd_reply_mixed;
    if (bad != NULL) {
        smtpd_reply_std(sess, bad);
        return;
    }
    if (!smtpd_check_data(sess))
        return;
    smtpd_queue_open(sess, smtpd_data_opened);
}

/* smtpd_data_skip - read a chunk and throw it away, then reply */
static void
smtpd_data_skip(struct smtpd_session *sess, uint64_t size, const struct smtp_reply *reply)
{
    if (size == 0) {
        smtpd_reply_std(sess, reply);
        return;
    }
    sess->phase = SMTPD_PHASE_BDAT_SKIP;
    sess->skip_left = size;
    sess->skip_reply = reply;
}

static void
smtpd_data_chunk(struct smtpd_session *sess, uint64_t size, bool last)
{
    struct smtp_data *d = sess->txn.data;

    smtp_data_chunk(d, size, last);
    sess->phase = SMTPD_PHASE_BDAT;
    if (size == 0)
        smtpd_data_input(sess, "", 0); /* an empty chunk ends at once */
}

/* smtpd_bdat_cmd - BDAT size [LAST] (RFC 3030) */
void
smtpd_bdat_cmd(struct smtpd_session *sess, uint64_t size, bool last)
{
    struct smtpd_txn *txn = &sess->txn;
    const struct smtp_reply *bad = smtpd_data_check(sess);

    if (bad == NULL && txn->bdat_failed)
        bad = &smtpd_reply_bdat_failed;
    if (bad != NULL) {
        smtpd_data_skip(sess, size, bad);
        return;
    }
    if (txn->data != NULL) {
        smtpd_data_chunk(sess, size, last);
        return;
    }
    txn->bdat = true;
    txn->chunk_size = size;
    txn->chunk_last = last;
    smtpd_queue_open(sess, smtpd_data_opened);
}

/* smtpd_data_committed - qmgr has the message on disk: now, and only now, 250 */
static void
smtpd_data_committed(struct smtpd_session *sess, bool ok, const char *why)
{
    if (ok) {
        smtpd_reply(sess, 250, "2.0.0", "Ok: queued as %s", sess->txn.qid);
    } else {
        log_warn("%s: queue commit failed: %s", sess->txn.qid, why);
        smtpd_reply_std(sess, &smtpd_reply_queue_error);
    }
    sess->txn.qid[0] = 0; /* committed, or gone with the refusal: never abort it */
    smtpd_txn_reset(sess);
}

/* smtpd_data_synced - the queue file is on disk (or could not be put there): commit it */
static void
smtpd_data_synced(int err, void *arg)
{
    struct smtpd_session *sess = arg;

    sess->txn.sync = NULL;
    if (err != 0) {
        log_warn("%s: queue file fsync: %s", sess->txn.qid, strerror(err));
        smtpd_reply_std(sess, err == ENOSPC || err == EDQUOT ? &smtpd_reply_no_space
                                                             : &smtpd_reply_queue_error);
        smtpd_txn_reset(sess);
    } else
        smtpd_queue_commit(sess, smtpd_data_committed);
    smtpd_session_resume(sess);
}

/* smtpd_data_refuse - a refused message: reply, log, abort the file */
static void
smtpd_data_refuse(struct smtpd_session *sess, const struct smtp_reply *reply)
{
    smtpd_log_reject(sess, "END-OF-MESSAGE", reply->code, reply->status, reply->text, NULL);
    smtpd_reply_std(sess, reply);
    if (reply == &smtp_reply_bare_newline)
        smtpd_session_close(sess); /* the client's idea of the message end is not ours */
}

/* smtpd_data_sync - the file goes to disk, then to qmgr; no input until it is committed */
static void
smtpd_data_sync(struct smtpd_session *sess)
{
    struct smtpd_txn *txn = &sess->txn;

    if (txn->discard) {
        smtpd_milter_log(sess, "milter-discard", "END-OF-MESSAGE", NULL, NULL);
        smtpd_reply(sess, 250, "2.0.0", "Ok: queued as %s", txn->qid);
        smtpd_txn_reset(sess); /* the file is aborted */
        return;
    }
    txn->sync = offload_fsync(sess->smtpd->offload, txn->qfd, smtpd_data_synced, sess);
    smtpd_data_free(sess);
}

/* smtpd_data_edited - the new queue file is open (or not): the edited message goes into it */
static void
smtpd_data_edited(struct smtpd_session *sess, bool ok, const char *why)
{
    struct smtpd_txn *txn = &sess->txn;
    smtpd_data_applied then = txn->applied;
    enum smtpd_apply result = SMTPD_APPLY_FAILED;
    struct err err;

    txn->applied = NULL;
    if (!ok)
        log_warn("%s: queue file open for the milter edits failed: %s", txn->old_qid, why);
    else if (milter_edits_apply(txn->edits, txn->old_qfd, txn->qfd, &err)) {
        log_info("%s: milter edits applied: the message is now %s", txn->old_qid, txn->qid);
        result = SMTPD_APPLY_OK;
    } else if (milter_edits_emptied(txn->edits))
        result = SMTPD_APPLY_EMPTIED;
    else
        log_warn("%s: milter edits: %s", txn->old_qid, err.text);
    milter_edits_free(txn->edits);
    txn->edits = NULL;
    then(sess, result);
}

void
smtpd_data_apply(struct smtpd_session *sess, struct milter_edits *edits, smtpd_data_applied then)
{
    struct smtpd_txn *txn = &sess->txn;

    if (txn->old_qfd >= 0) /* the file before the last, done with */
        close(txn->old_qfd);
    txn->edits = edits;
    txn->applied = then;
    txn->old_qfd = txn->qfd;
    txn->qfd = -1;
    memcpy(txn->old_qid, txn->qid, QUEUE_ID_SIZE);
    smtpd_queue_open(sess, smtpd_data_edited);
}

/* smtpd_data_milted_eom - the milters saw the message: refuse, drop, hold or commit it */
static void
smtpd_data_milted_eom(struct smtpd_session *sess, const struct smtpd_milter_verdict *v)
{
    if (v->result == SMTPD_MILTER_REFUSE || v->result == SMTPD_MILTER_CLOSE) {
        smtpd_milter_log(sess, "milter-reject", "END-OF-MESSAGE", v, NULL);
        smtpd_reply_std(sess, &v->reply);
        if (v->result == SMTPD_MILTER_CLOSE)
            smtpd_session_close(sess);
        smtpd_txn_reset(sess);
        return;
    }
    if (v->result == SMTPD_MILTER_DISCARD)
        sess->txn.discard = true;
    else if (v->hold) {
        sess->txn.hold = true;
        smtpd_milter_log(sess, "milter-hold", "END-OF-MESSAGE", v, NULL);
    }
    smtpd_data_sync(sess);
}

/* smtpd_data_end - the whole content is in: refuse it or commit it */
static void
smtpd_data_end(struct smtpd_session *sess)
{
    struct smtpd_txn *txn = &sess->txn;
    const struct smtp_reply *refused = smtp_data_reply(txn->data);
    struct err err;

    sess->phase = SMTPD_PHASE_CMD;
    sess->last_cmd = "END-OF-MESSAGE";
    if (refused != NULL) {
        smtpd_data_refuse(sess, refused);
        smtpd_txn_reset(sess);
        return;
    }
    if (txn->fixup != NULL)
        msa_fixup_end(&txn->fixup->filter);
    if (!queue_writer_end(txn->writer, &err)) {
        log_warn("%s: %s", txn->qid, err.text);
        smtpd_reply_std(sess, txn->writer->rec.errnum == ENOSPC ? &smtpd_reply_no_space
                                                                : &smtpd_reply_queue_error);
        smtpd_txn_reset(sess);
        return;
    }
    if (sess->milters != NULL && !txn->discard) {
        smtpd_milter_eom(sess, smtpd_data_milted_eom); /* the file is read back to them */
        return;
    }
    smtpd_data_sync(sess);
}

/* smtpd_data_chunk_end - one BDAT chunk is in */
static void
smtpd_data_chunk_end(struct smtpd_session *sess)
{
    struct smtpd_txn *txn = &sess->txn;
    const struct smtp_reply *refused = smtp_data_reply(txn->data);

    if (txn->data->done) {
        smtpd_data_end(sess);
        return;
    }
    sess->phase = SMTPD_PHASE_CMD;
    if (refused != NULL) {
        smtpd_data_refuse(sess, refused);
        if (txn->qid[0] && !smtpd_queue_busy(sess))
            smtpd_queue_abort(sess);
        txn->qid[0] = 0;
        smtpd_data_free(sess);
        txn->bdat_failed = true;
        return;
    }
    smtpd_reply(sess, 250, "2.0.0", "Ok: %" PRIu64 " octets", txn->data->size);
}

/* smtpd_data_input - content octets from the client; returns how many were taken */
size_t
smtpd_data_input(struct smtpd_session *sess, const char *data, size_t len)
{
    struct smtp_data *d = sess->txn.data;
    size_t used;

    if (sess->phase == SMTPD_PHASE_BDAT_SKIP) {
        used = len < sess->skip_left ? len : (size_t)sess->skip_left;
        sess->skip_left -= used;
        if (sess->skip_left == 0) {
            sess->phase = SMTPD_PHASE_CMD;
            smtpd_reply_std(sess, sess->skip_reply);
        }
        return used;
    }
    used = smtp_data_feed(d, data, len);
    if (sess->phase == SMTPD_PHASE_DATA && d->done)
        smtpd_data_end(sess);
    else if (sess->phase == SMTPD_PHASE_BDAT && (d->chunk_left == 0 || d->done))
        smtpd_data_chunk_end(sess);
    return used;
}
