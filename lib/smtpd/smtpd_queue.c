/*
 * smtpd_queue.c - the receiving side of qmgr's protocol, asynchronous, on the event loop.
 *
 * The protocol is lib/mail/qmgr_clnt.h's codec (request encode, reply decode); this file
 * keeps only what an event-driven receiver adds: a non-blocking connection, a retry timer
 * and a callback. A session holds a connection to qmgr only while it has a message in
 * flight: from DATA or the first BDAT (queue_open) to qmgr's answer to the commit, or to
 * the abort. Idle sessions, and sessions that collect recipients, hold none, so no number
 * of clients that stop before DATA can use up qmgr's connections. Concurrent sessions'
 * commits still share qmgr's group fsync, each on its own connection. At most one request
 * is outstanding per session; while it is, the session takes no input (smtpd_queue_busy).
 *
 * An abort is a disconnect: qmgr removes a file that was opened on a connection and not
 * committed when the connection ends.
 *
 * When qmgr does not accept the connection (its listen queue full, or it is restarting),
 * the session tries again every SMTPD_QUEUE_RETRY_MS, and the client gets 451 after
 * SMTPD_QUEUE_RETRIES tries (10 seconds).
 *
 * A commit whose answer is lost (qmgr killed while the file was being committed) has an
 * unknown outcome, and neither 250 nor 451 may be guessed: a 451 for a message that was
 * committed makes the client send it twice. The session asks again, on a new connection
 * with the same retry timer, with queue_status (qmgr says committed only when it sees the
 * file in a committed state); the master restarts qmgr in a second or two. Only when qmgr
 * cannot say within SMTPD_QUEUE_RETRIES tries does the client get 451.
 *
 * Trusts: nothing qmgr sends beyond the codec's checks (qmgr_reply_decode).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/proto.h"
#include "mail/qmgr_clnt.h"
#include "smtpd/smtpd.h"

#define SMTPD_QUEUE_RETRY_MS 250
#define SMTPD_QUEUE_RETRIES  40

/* A session's link to qmgr: there only while a message is in flight. */
struct smtpd_qlink {
    int sock; /* -1 between a lost connection and the next try */
    struct loop_fd *watch;
    struct ipc_reader reader;
    enum proto_msg request; /* outstanding, or PROTO_NONE */
    smtpd_queue_done done;
    struct loop_timer *retry; /* connect retries, and queries after a lost commit answer */
    int tries_left;
    bool verifying; /* the commit's answer was lost: asking with queue_status */
};

static void smtpd_queue_send(struct smtpd_session *sess);

bool
smtpd_queue_busy(const struct smtpd_session *sess)
{
    return sess->q != NULL && sess->q->request != PROTO_NONE;
}

/* smtpd_queue_close - close the connection, keep the link (a request may be retried) */
static void
smtpd_queue_close(struct smtpd_qlink *q)
{
    if (q->sock < 0)
        return;
    loop_fd_free(q->watch);
    q->watch = NULL;
    ipc_reader_free(&q->reader);
    close(q->sock);
    q->sock = -1;
}

/* smtpd_queue_disconnect - the link is gone; qmgr removes a file that was not committed */
void
smtpd_queue_disconnect(struct smtpd_session *sess)
{
    struct smtpd_qlink *q = sess->q;

    if (q == NULL)
        return;
    smtpd_queue_close(q);
    loop_timer_free(q->retry);
    free(q);
    sess->q = NULL;
}

/* smtpd_queue_abort - drop the message in flight (an abort is a disconnect) */
void
smtpd_queue_abort(struct smtpd_session *sess)
{
    smtpd_queue_disconnect(sess);
}

/* smtpd_queue_finish - the request is over: tell the caller */
static void
smtpd_queue_finish(struct smtpd_session *sess, enum qmgr_outcome outcome, const char *why)
{
    struct smtpd_qlink *q = sess->q;
    smtpd_queue_done done = q->done;
    bool last = q->request != PROTO_QUEUE_OPEN || outcome != QMGR_OK;

    q->request = PROTO_NONE;
    q->done = NULL;
    if (last) /* the message is committed, refused or lost: nothing more to say to qmgr */
        smtpd_queue_disconnect(sess);
    done(sess, outcome == QMGR_OK, why);
}

/* smtpd_queue_try_later - no connection or a lost commit answer: try again soon, or fail */
static void
smtpd_queue_try_later(struct smtpd_session *sess, const char *why)
{
    struct smtpd_qlink *q = sess->q;

    smtpd_queue_close(q);
    if (q->tries_left-- <= 0) {
        smtpd_queue_finish(sess, QMGR_BROKEN, why);
        return;
    }
    loop_timer_start(q->retry, SMTPD_QUEUE_RETRY_MS);
}

/* smtpd_queue_retry - the timer: connect (again) and send the request */
static void
smtpd_queue_retry(void *arg)
{
    struct smtpd_session *sess = arg;

    smtpd_queue_send(sess);
    if (!smtpd_queue_busy(sess))
        smtpd_session_resume(sess);
}

/* smtpd_queue_broken - no usable answer: a lost commit answer is asked about again */
static void
smtpd_queue_broken(struct smtpd_session *sess, const char *why)
{
    struct smtpd_qlink *q = sess->q;

    if (q->request == PROTO_QUEUE_COMMIT || q->request == PROTO_QUEUE_HOLD) {
        log_warn("%s: lost the answer to the commit (%s): asking qmgr again", sess->txn.qid, why);
        q->request = PROTO_QUEUE_STATUS;
        q->verifying = true;
        q->tries_left = SMTPD_QUEUE_RETRIES;
    }
    if (q->verifying)
        smtpd_queue_try_later(sess, why);
    else
        smtpd_queue_finish(sess, QMGR_BROKEN, why);
}

/* smtpd_queue_answer - decode qmgr's answer to the outstanding request */
static void
smtpd_queue_answer(struct smtpd_session *sess)
{
    struct smtpd_qlink *q = sess->q;
    struct qmgr_reply reply;
    const char *id = q->request == PROTO_QUEUE_OPEN ? NULL : sess->txn.qid;

    qmgr_reply_decode(&q->reader.rec, &q->reader.fds, q->request, id, &reply);
    ipc_reader_reset(&q->reader);
    if (reply.outcome == QMGR_BROKEN) {
        smtpd_queue_broken(sess, reply.why);
        return;
    }
    if (reply.outcome == QMGR_OK && q->request == PROTO_QUEUE_OPEN) {
        memcpy(sess->txn.qid, reply.id, QUEUE_ID_SIZE);
        sess->txn.qfd = reply.fd;
    }
    smtpd_queue_finish(sess, reply.outcome, reply.why);
}

/* smtpd_queue_readable - qmgr sent something */
static void
smtpd_queue_readable(int fd, unsigned events, void *arg)
{
    struct smtpd_session *sess = arg;
    struct err err;
    enum ipc_status status;

    if (!smtpd_queue_busy(sess)) { /* nothing asked: EOF or junk; either way the link is done */
        smtpd_queue_close(sess->q);
        return;
    }
    status = ipc_reader_read(&sess->q->reader, &err);
    if (status == IPC_AGAIN)
        return;
    if (status == IPC_OK)
        smtpd_queue_answer(sess);
    else
        smtpd_queue_broken(sess, status == IPC_EOF ? "qmgr closed the connection" : err.text);
    smtpd_session_resume(sess);
}

/* smtpd_queue_connect - a non-blocking connection to qmgr, or false with errno */
static bool
smtpd_queue_connect(struct smtpd_session *sess)
{
    const char *path = sess->smtpd->qmgr_path;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct smtpd_qlink *q = sess->q;
    int sock;

    if (strlen(path) >= sizeof(sun.sun_path))
        log_fatal("qmgr socket path too long: %s", path);
    memcpy(sun.sun_path, path, strlen(path) + 1);
    if ((sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
        return false;
    /* Non-blocking: a full listen queue gives EAGAIN at once instead of stalling the loop. */
    if (connect(sock, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int saved = errno;
        close(sock);
        errno = saved;
        return false;
    }
    q->sock = sock;
    ipc_reader_init(&q->reader, sock, QMGR_CLNT_RECORD_LIMIT);
    q->watch = loop_fd_add(sess->smtpd->ctx->loop, sock, LOOP_READ, smtpd_queue_readable, sess);
    return true;
}

/* smtpd_queue_send - send the outstanding request, connecting first if need be */
static void
smtpd_queue_send(struct smtpd_session *sess)
{
    struct smtpd_qlink *q = sess->q;
    const char *id = q->request == PROTO_QUEUE_OPEN ? NULL : sess->txn.qid;
    char why[300];
    struct err err;
    struct buf rec;
    bool sent;

    if (q->sock < 0 && !smtpd_queue_connect(sess)) {
        snprintf(why, sizeof(why), "connect to qmgr (%s): %s", sess->smtpd->qmgr_path,
                 strerror(errno));
        if (q->tries_left == SMTPD_QUEUE_RETRIES)
            log_warn("%s: trying again for %d seconds", why,
                     SMTPD_QUEUE_RETRIES * SMTPD_QUEUE_RETRY_MS / 1000);
        smtpd_queue_try_later(sess, why);
        return;
    }
    buf_init(&rec, QMGR_CLNT_RECORD_LIMIT);
    /* A request is a few dozen bytes on an idle connection: the send never waits long. */
    sent = qmgr_request_encode(&rec, q->request, id, &err) &&
           ipc_send(q->sock, &rec, NULL, 1000, &err) == IPC_OK;
    buf_free(&rec);
    if (!sent)
        smtpd_queue_broken(sess, err.text);
}

/* smtpd_queue_request - start request; its answer comes to done through the loop */
static void
smtpd_queue_request(struct smtpd_session *sess, enum proto_msg request, smtpd_queue_done done)
{
    struct smtpd_qlink *q = sess->q;

    if (q == NULL) {
        q = sess->q = xcalloc(1, sizeof(*q));
        q->sock = -1;
        q->retry = loop_timer_new(sess->smtpd->ctx->loop, smtpd_queue_retry, sess);
    }
    q->request = request;
    q->done = done;
    q->tries_left = SMTPD_QUEUE_RETRIES;
    smtpd_queue_send(sess);
}

/* smtpd_queue_open - a new queue file: its ID in txn.qid, its descriptor in txn.qfd */
void
smtpd_queue_open(struct smtpd_session *sess, smtpd_queue_done done)
{
    smtpd_queue_request(sess, PROTO_QUEUE_OPEN, done);
}

/* smtpd_queue_commit - done says ok only once the message is durably queued (in hold/
 * when a milter quarantined it) */
void
smtpd_queue_commit(struct smtpd_session *sess, smtpd_queue_done done)
{
    smtpd_queue_request(sess, sess->txn.hold ? PROTO_QUEUE_HOLD : PROTO_QUEUE_COMMIT, done);
}
