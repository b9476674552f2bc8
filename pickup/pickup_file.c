/*
 * pickup_file.c - one maildrop file into a new queue file, then removed.
 *
 * Runs as mail_owner. Trusts: nothing in the file, which a local user made. It must be a
 * regular file with one link, reached without following a link; the uid that submitted it
 * is the file's owner (set by the kernel when postdrop made it), never a value inside it.
 * The stream is read by maildrop_read (every length and record checked), the sender and
 * recipients are checked as mailboxes again and completed with $myorigin, and the content
 * goes through the fix-ups of submission (Date:, Message-ID:, and a From: when missing)
 * with LF line ends made CRLF, below a Received header naming the uid. A bad file is moved
 * to corrupt/ with a log line; qmgr's answers are checked by the qmgr_clnt codec.
 *
 * Order, so that a crash anywhere loses nothing and queues nothing twice: the queue file
 * is written and fsynced; the commit request is sent but its last byte; the maildrop file
 * is renamed to its claimed name, which records the queue ID; the last byte is sent; the
 * answer is read (qmgr answers once the file is on disk); the claimed file is removed. A
 * claimed file found later (pickup or qmgr died in between) is settled by asking qmgr's
 * queue_status about its ID: committed, the file goes; not committed, it is renamed back
 * and taken again (doc/maildrop.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/ipc.h"
#include "core/log.h"
#include "core/mem.h"
#include "mail/maildrop.h"
#include "mail/msa_fixup.h"
#include "mail/qmgr_clnt.h"
#include "mail/queue_file.h"
#include "pickup/pickup.h"
#include "pickup/pickup_milter.h"

struct pickup_msg {
    struct pickup *pk;
    const char *name;
    unsigned long uid;
    struct qmgr_reply opened;
    struct queue_writer w;
    bool writing;
    bool local_error; /* the failure is ours (disk, qmgr), not the file's */
    char *sender;
    struct msa_fixup fixup;
    char date[80], msgid[400];
    char *from;
    char last;      /* the last content byte seen, for CRLF */
    bool committed; /* or perhaps committed: no abort */
};

/* pickup_aside - a bad file goes to corrupt/, for the administrator */
static void
pickup_aside(struct pickup *pk, const char *name, unsigned long uid, const char *why)
{
    char *to = xasprintf("maildrop-%s", name);

    if (renameat(pk->maildrop_fd, name, pk->corrupt_fd, to) < 0)
        log_warn("maildrop/%s: uid=%lu: %s; cannot move it to corrupt/: %m", name, uid, why);
    else
        log_warn("maildrop/%s: uid=%lu: %s; moved to corrupt/%s", name, uid, why, to);
    free(to);
}

/* pickup_qmgr - the connection to qmgr, made when there is none */
static bool
pickup_qmgr(struct pickup *pk)
{
    struct err err;

    if (pk->qmgr < 0 && (pk->qmgr = qmgr_clnt_connect("private/qmgr", &err)) < 0)
        log_warn("cannot connect to qmgr: %s; maildrop/ waits", err.text);
    return pk->qmgr >= 0;
}

static void
pickup_qmgr_drop(struct pickup *pk)
{
    if (pk->qmgr >= 0)
        close(pk->qmgr);
    pk->qmgr = -1;
}

static void
pickup_sink(void *ctx, const char *data, size_t len)
{
    queue_writer_content(ctx, data, len);
}

/* pickup_from - a From: line for a message without one: the full name quoted, the sender */
static void
pickup_from(struct pickup_msg *m, const char *fullname)
{
    struct buf b;

    if (*m->sender == 0) {
        m->from = xstrdup("From: MAILER-DAEMON\r\n");
        return;
    }
    buf_init(&b, BUF_UNLIMITED);
    buf_puts(&b, "From: ");
    if (*fullname && fullname[strcspn(fullname, "()<>[]:;@\\,.\"")] == 0) {
        buf_printf(&b, "%s ", fullname);
    } else if (*fullname) {
        buf_putc(&b, '"');
        for (const char *p = fullname; *p; p++) {
            if (*p == '"' || *p == '\\')
                buf_putc(&b, '\\');
            buf_putc(&b, *p);
        }
        buf_puts(&b, "\" ");
    }
    buf_printf(&b, "<%s>\r\n", m->sender);
    m->from = buf_steal(&b);
}

/* pickup_fixups - the Received header now, Date:/Message-ID:/From: where missing */
static void
pickup_fixups(struct pickup_msg *m, const struct maildrop_envelope *env)
{
    const struct params *p = &m->pk->ctx->params;
    time_t now = time(NULL);
    char stamp[32], when[64];
    struct tm tm;
    char *received;

    localtime_r(&now, &tm);
    strftime(when, sizeof(when), "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
    received = xasprintf("Received: by %s (%s, from userid %lu)\r\n\tid %s; %s\r\n", p->myhostname,
                         p->mail_name, m->uid, m->opened.id, when);
    queue_writer_content(&m->w, received, strlen(received));
    free(received);
    snprintf(m->date, sizeof(m->date), "Date: %s\r\n", when);
    snprintf(m->msgid, sizeof(m->msgid), "Message-ID: <%s.%s@%.200s>\r\n", stamp, m->opened.id,
             p->myhostname);
    pickup_from(m, env->fullname);
    msa_fixup_init(&m->fixup, pickup_sink, &m->w, m->date, m->msgid);
    msa_fixup_set_from(&m->fixup, m->from);
}

/* pickup_envelope - addresses checked and qualified, the queue file begun */
static bool
pickup_envelope(void *ctx, const struct maildrop_envelope *env, struct err *err)
{
    struct pickup_msg *m = ctx;
    const struct params *p = &m->pk->ctx->params;
    struct queue_envelope qe = {.ret = env->ret,
                                .envid = env->envid,
                                .body = env->body,
                                .client_name = "localhost",
                                .client_addr = "127.0.0.1",
                                .helo = "",
                                .protocol = "local"};
    struct strvec seen; /* the same recipient twice, once qualified, is one recipient */
    char *rcpt;
    bool good = true;

    if (!maildrop_addr(env->sender, p->myorigin, &m->sender, err))
        return false;
    qe.sender = m->sender;
    gettimeofday(&qe.arrival, NULL);
    queue_writer_init(&m->w, m->opened.fd, &qe);
    m->writing = true;
    strvec_init(&seen);
    for (size_t i = 0; good && i < env->rcpt.n; i++) {
        if (!(good = maildrop_addr(env->rcpt.v[i], p->myorigin, &rcpt, err)))
            break;
        if (!strvec_contains(&seen, rcpt))
            queue_writer_rcpt(&m->w, rcpt, env->notify, NULL);
        strvec_add_owned(&seen, rcpt);
    }
    strvec_free(&seen);
    if (!good)
        return false;
    pickup_fixups(m, env);
    if (m->w.rec.failed)
        m->local_error = true;
    return !m->w.rec.failed || err_set(err, "%s", m->w.rec.err.text);
}

/* pickup_content - LF made CRLF, through the fix-ups into the queue file */
static bool
pickup_content(void *ctx, const char *data, size_t len, struct err *err)
{
    struct pickup_msg *m = ctx;
    char out[8192];
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        if (o + 2 > sizeof(out)) {
            msa_fixup_feed(&m->fixup, out, o);
            o = 0;
        }
        if (data[i] == '\n' && m->last != '\r')
            out[o++] = '\r';
        out[o++] = data[i];
        m->last = data[i];
    }
    msa_fixup_feed(&m->fixup, out, o);
    if (m->w.rec.failed)
        m->local_error = true;
    return !m->w.rec.failed || err_set(err, "%s", m->w.rec.err.text);
}

static const struct maildrop_reader_ops pickup_ops = {pickup_envelope, pickup_content};

/* pickup_send_last - the commit request's last byte, which makes it a whole record */
static bool
pickup_send_last(int sock, char byte, struct err *err)
{
    ssize_t n;

    while ((n = send(sock, &byte, 1, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        continue;
    return n == 1 || err_set(err, "send: %s", n < 0 ? strerror(errno) : "no progress");
}

/*
 * pickup_ask_commit - the commit request but its last byte, the claim, the last byte,
 * the answer (request and answer through the qmgr_clnt codec). Until the last byte is
 * sent qmgr has no whole request: if pickup dies before, qmgr sees the connection end
 * inside a record and keeps the uncommitted file in incoming/ for queue_status to find
 * (doc/queue.md); after it, the claim is already on disk.
 */
static enum qmgr_outcome
pickup_ask_commit(struct pickup_msg *m, const char *claimed, bool hold, bool *renamed,
                  struct qmgr_reply *reply)
{
    enum proto_msg request = hold ? PROTO_QUEUE_HOLD : PROTO_QUEUE_COMMIT;
    int sock = m->pk->qmgr;
    struct attr_fds fds;
    enum ipc_status status;
    struct buf rec, head;
    struct err err;

    *renamed = false;
    reply->fd = -1;
    buf_init(&rec, QMGR_CLNT_RECORD_LIMIT);
    if (!qmgr_request_encode(&rec, request, m->opened.id, &err)) {
        buf_free(&rec);
        return qmgr_reply_broken(reply, "%s", err.text);
    }
    head = rec;
    head.len--;
    if (ipc_send(sock, &head, NULL, PICKUP_QMGR_MS, &err) != IPC_OK) {
        buf_free(&rec);
        return qmgr_reply_broken(reply, "%s", err.text);
    }
    if (renameat(m->pk->maildrop_fd, m->name, m->pk->maildrop_fd, claimed) < 0)
        log_warn("%s: rename maildrop/%s to %s: %m", m->opened.id, m->name, claimed);
    else
        *renamed = true;
    if (!pickup_send_last(sock, rec.data[rec.len - 1], &err))
        status = IPC_ERROR;
    else
        status = ipc_recv(sock, &rec, &fds, QMGR_CLNT_RECORD_LIMIT, PICKUP_QMGR_MS, &err);
    if (status == IPC_OK)
        qmgr_reply_decode(&rec, &fds, request, m->opened.id, reply);
    else
        qmgr_reply_broken(reply, "%s", status == IPC_EOF ? "qmgr closed the connection" : err.text);
    buf_free(&rec);
    return reply->outcome;
}

/*
 * pickup_milters - non_smtpd_milters on the written file: true to go on to the commit (on
 * hold, or with every recipient failed for a bounce, as out says); false ends the file
 * here with *result (a discarded message is done: its maildrop file is removed)
 */
static bool
pickup_milters(struct pickup_msg *m, struct pickup_milter_outcome *out, enum pickup_result *result)
{
    struct err err;

    *result = PICKUP_RETRY;
    if (!pickup_milter_run(m->pk, &m->opened, m->name, out))
        return false;
    switch (out->verdict) {
    case PICKUP_MILTER_LATER:
        *result = PICKUP_LATER;
        return false;
    case PICKUP_MILTER_DISCARD:
        if (unlinkat(m->pk->maildrop_fd, m->name, 0) < 0)
            log_warn("%s: remove maildrop/%s: %m", m->opened.id, m->name);
        *result = PICKUP_DONE;
        return false;
    case PICKUP_MILTER_BOUNCE:
        if (pickup_milter_bounce(m->pk, m->opened.fd, out->reason, &err))
            return true;
        log_warn("maildrop/%s: queue file %s: %s", m->name, m->opened.id, err.text);
        return false;
    default:
        return true;
    }
}

/* pickup_commit - finish the queue file and commit it; PICKUP_DONE once qmgr has it */
static enum pickup_result
pickup_commit(struct pickup_msg *m)
{
    char claimed[MAILDROP_CLAIM_SIZE];
    struct pickup_milter_outcome milt;
    enum pickup_result result;
    struct qmgr_reply reply;
    struct err err;
    bool renamed;

    if (m->last != '\n')
        msa_fixup_feed(&m->fixup, "\r\n", 2);
    msa_fixup_end(&m->fixup);
    if (!queue_writer_finish(&m->w, &err)) {
        log_warn("maildrop/%s: cannot write queue file %s: %s", m->name, m->opened.id, err.text);
        return PICKUP_RETRY;
    }
    if (!pickup_milters(m, &milt, &result))
        return result;
    maildrop_name_claim(claimed, m->name, m->opened.id);
    if (pickup_ask_commit(m, claimed, milt.hold, &renamed, &reply) != QMGR_OK) {
        log_warn("maildrop/%s: qmgr did not commit %s: %s", m->name, m->opened.id, reply.why);
        if (reply.outcome == QMGR_BROKEN)
            pickup_qmgr_drop(m->pk); /* the claim stays: the next scan asks queue_status */
        else if (renamed && renameat(m->pk->maildrop_fd, claimed, m->pk->maildrop_fd, m->name) < 0)
            log_warn("rename maildrop/%s back to %s: %m", claimed, m->name);
        return PICKUP_RETRY;
    }
    m->committed = true;
    log_info("%s: uid=%lu from=<%s>", m->opened.id, m->uid, m->sender);
    if (unlinkat(m->pk->maildrop_fd, renamed ? claimed : m->name, 0) < 0)
        log_warn("%s: remove maildrop/%s: %m", m->opened.id, renamed ? claimed : m->name);
    return PICKUP_DONE;
}

/* pickup_queue - the open file read into a new queue file */
static enum pickup_result
pickup_queue(struct pickup *pk, struct pickup_msg *m, int fd)
{
    const struct params *p = &pk->ctx->params;
    uint64_t limit = p->message_size_limit > 0 ? (uint64_t)p->message_size_limit : 0;
    struct qmgr_reply reply;
    enum pickup_result result;
    struct err err;
    bool reused = pk->qmgr >= 0;

    if (!pickup_qmgr(pk))
        return PICKUP_RETRY;
    /* A connection kept since an earlier file may be to a qmgr that has since restarted. */
    if (qmgr_clnt_open(pk->qmgr, PICKUP_QMGR_MS, &m->opened) == QMGR_BROKEN && reused) {
        pickup_qmgr_drop(pk);
        if (!pickup_qmgr(pk))
            return PICKUP_RETRY;
        qmgr_clnt_open(pk->qmgr, PICKUP_QMGR_MS, &m->opened);
    }
    if (m->opened.outcome != QMGR_OK) {
        log_warn("maildrop/%s: qmgr gave no queue file: %s; maildrop/ waits", m->name,
                 m->opened.why);
        if (m->opened.outcome == QMGR_BROKEN)
            pickup_qmgr_drop(pk);
        return PICKUP_RETRY;
    }
    if (maildrop_read(fd, limit, &pickup_ops, m, &err))
        result = pickup_commit(m);
    else if (m->local_error) {
        log_warn("maildrop/%s: cannot write queue file %s: %s", m->name, m->opened.id, err.text);
        result = PICKUP_RETRY;
    } else {
        pickup_aside(pk, m->name, m->uid, err.text);
        result = PICKUP_BAD;
    }
    if (m->writing)
        queue_writer_free(&m->w);
    close(m->opened.fd);
    if (!m->committed && pk->qmgr >= 0 &&
        qmgr_clnt_abort(pk->qmgr, m->opened.id, PICKUP_QMGR_MS, &reply) == QMGR_BROKEN)
        pickup_qmgr_drop(pk);
    return result;
}

/*
 * pickup_claimed - a file whose commit was asked for before pickup or qmgr died: gone if
 * qmgr committed it, else taken again under its own name
 */
static enum pickup_result
pickup_claimed(struct pickup *pk, const char *claimed)
{
    char ready[MAILDROP_NAME_SIZE], qid[QUEUE_ID_SIZE];
    struct qmgr_reply reply;

    maildrop_name_unclaim(claimed, ready, qid);
    if (!pickup_qmgr(pk))
        return PICKUP_RETRY;
    switch (qmgr_clnt_status(pk->qmgr, qid, PICKUP_QMGR_MS, &reply)) {
    case QMGR_OK:
        if (unlinkat(pk->maildrop_fd, claimed, 0) < 0 && errno != ENOENT)
            log_warn("%s: remove maildrop/%s: %m", qid, claimed);
        else
            log_info("%s: maildrop/%s was committed before a restart: removed", qid, ready);
        return PICKUP_DONE;
    case QMGR_REFUSED:
        if (renameat(pk->maildrop_fd, claimed, pk->maildrop_fd, ready) < 0) {
            log_warn("rename maildrop/%s back to %s: %m", claimed, ready);
            return PICKUP_RETRY;
        }
        log_info("%s: not committed before a restart: maildrop/%s taken again", qid, ready);
        return pickup_file(pk, ready);
    default:
        log_warn("maildrop/%s: queue_status %s: %s", claimed, qid, reply.why);
        pickup_qmgr_drop(pk);
        return PICKUP_RETRY;
    }
}

enum pickup_result
pickup_file(struct pickup *pk, const char *name)
{
    struct pickup_msg m = {.pk = pk, .name = name, .last = '\n'};
    enum pickup_result result;
    struct stat st;
    int fd;

    if (maildrop_name_kind(name) == MAILDROP_NAME_CLAIMED)
        return pickup_claimed(pk, name);
    if (maildrop_name_kind(name) != MAILDROP_NAME_READY) {
        if (fstatat(pk->maildrop_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            pickup_aside(pk, name, (unsigned long)st.st_uid, "not a maildrop file name");
        return PICKUP_BAD;
    }
    fd = openat(pk->maildrop_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return PICKUP_DONE;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
        if (fstatat(pk->maildrop_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            pickup_aside(pk, name, (unsigned long)st.st_uid, "not a regular file with one link");
        if (fd >= 0)
            close(fd);
        return PICKUP_BAD;
    }
    m.uid = (unsigned long)st.st_uid;
    result = pickup_queue(pk, &m, fd);
    close(fd);
    free(m.sender);
    free(m.from);
    return result;
}
