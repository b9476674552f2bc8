/*
 * smtpd_queue.c - the receiving side of qmgr's protocol, asynchronous, on the event loop.
 *
 * The same messages as lib/mail/qmgr_clnt.c (queue_open, queue_commit, queue_abort and
 * their answers), but a multi-session smtpd must never block on qmgr: each session has
 * its own non-blocking connection, opened at its first accepted RCPT and kept for its
 * later transactions, so that concurrent sessions' commits share qmgr's group fsync (qmgr
 * pauses a connection while its commit waits for the fsync). At most one request is
 * outstanding per session; while it is, the session takes no input (smtpd_queue_busy).
 *
 * Trusts: nothing qmgr sends beyond the decoder's checks: the reply must be the expected
 * message (or queue_refused), name the queue ID asked about, and a new ID must be valid.
 * Any other answer, EOF or error closes the connection and fails the request; messages
 * opened and not committed on a closed connection are removed by qmgr.
 *
 * A commit whose answer is lost (qmgr killed while the file was being committed) has an
 * unknown outcome, and neither 250 nor 451 may be guessed: a 451 for a message that was
 * committed makes the client send it twice. The session asks again, every
 * SMTPD_QUEUE_RETRY_MS on a new connection, with queue_status (qmgr says committed only
 * when it sees the file in a committed state); the master restarts qmgr in a second or
 * two. Only when qmgr cannot say within SMTPD_QUEUE_RETRIES tries does the client get 451.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/log.h"
#include "core/mem.h"
#include "mail/proto.h"
#include "mail/qmgr_clnt.h"
#include "smtpd/smtpd.h"

#define SMTPD_QUEUE_RETRY_MS 250
#define SMTPD_QUEUE_RETRIES  40

/* smtpd_queue_connect - a non-blocking connection to qmgr; false (logged) if none */
bool
smtpd_queue_connect(struct smtpd_session *sess)
{
    const char *path = sess->smtpd->qmgr_path;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int sock;

    if (strlen(path) >= sizeof(sun.sun_path))
        log_fatal("qmgr socket path too long: %s", path);
    memcpy(sun.sun_path, path, strlen(path) + 1);
    if ((sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
        log_warn("socket: %m");
        return false;
    }
    /* Non-blocking: a full listen queue gives EAGAIN at once instead of stalling the loop. */
    if (connect(sock, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        log_warn("connect to qmgr (%s): %m", path);
        close(sock);
        return false;
    }
    sess->qsock = sock;
    sess->qreader = xmalloc(sizeof(*sess->qreader));
    ipc_reader_init(sess->qreader, sock, QMGR_CLNT_RECORD_LIMIT);
    return true;
}

/* smtpd_queue_close - close the connection; a request in progress stays in progress */
static void
smtpd_queue_close(struct smtpd_session *sess)
{
    if (sess->qsock < 0)
        return;
    loop_fd_free(sess->qwatch);
    sess->qwatch = NULL;
    ipc_reader_free(sess->qreader);
    free(sess->qreader);
    sess->qreader = NULL;
    close(sess->qsock);
    sess->qsock = -1;
}

/* smtpd_queue_disconnect - drop the connection (qmgr removes what was not committed) */
void
smtpd_queue_disconnect(struct smtpd_session *sess)
{
    smtpd_queue_close(sess);
    loop_timer_free(sess->qretry);
    sess->qretry = NULL;
    sess->qverify_left = 0;
    sess->qwant = -1;
    sess->qdone = NULL;
}

static void smtpd_queue_request(struct smtpd_session *sess, enum proto_msg msg, enum proto_msg want,
                                const char *id, smtpd_queue_done done);

/* smtpd_queue_ask_again - the timer: ask a (restarted) qmgr what became of the commit */
static void
smtpd_queue_ask_again(void *arg)
{
    struct smtpd_session *sess = arg;

    smtpd_queue_request(sess, PROTO_QUEUE_STATUS, PROTO_QUEUE_COMMITTED, sess->txn.qid,
                        sess->qdone);
    if (!smtpd_queue_busy(sess))
        smtpd_session_resume(sess);
}

/*
 * smtpd_queue_verify_later - the answer to a commit was lost: ask again soon, unless the
 * tries are used up (then false: the commit fails and the client gets 451).
 */
static bool
smtpd_queue_verify_later(struct smtpd_session *sess, const char *why)
{
    if (sess->qretry == NULL) {
        log_warn("%s: lost the answer to the commit (%s): asking qmgr again", sess->txn.qid, why);
        sess->qverify_left = SMTPD_QUEUE_RETRIES;
        sess->qretry = loop_timer_new(sess->smtpd->ctx->loop, smtpd_queue_ask_again, sess);
    }
    if (sess->qverify_left-- <= 0)
        return false;
    smtpd_queue_close(sess);
    loop_timer_start(sess->qretry, SMTPD_QUEUE_RETRY_MS);
    return true;
}

bool
smtpd_queue_busy(const struct smtpd_session *sess)
{
    return sess->qwant >= 0;
}

/* smtpd_queue_finish - the request is over: drop the connection on failure, tell the caller */
static void
smtpd_queue_finish(struct smtpd_session *sess, bool ok, const char *why)
{
    smtpd_queue_done done = sess->qdone;
    bool refused = !ok && strncmp(why, "refused: ", 9) == 0;

    if (!ok && !refused && sess->qwant == PROTO_QUEUE_COMMITTED &&
        smtpd_queue_verify_later(sess, why))
        return;
    if (!ok && !refused)
        smtpd_queue_disconnect(sess);
    loop_timer_free(sess->qretry);
    sess->qretry = NULL;
    sess->qwant = -1;
    sess->qdone = NULL;
    if (done != NULL)
        done(sess, ok, why);
}

/* smtpd_queue_reply - decode qmgr's answer and check it is the one expected */
static bool
smtpd_queue_reply(struct smtpd_session *sess, char *why, size_t len)
{
    struct buf msg, id, reason;
    int fd = -1;
    struct err err;
    bool good = false;
    const struct attr_spec spec[] = {
        {PROTO_ATTR_MSG, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &msg},
        {PROTO_ATTR_QUEUE_ID, ATTR_STR, ATTR_TEXT, &id},
        {PROTO_ATTR_REASON, ATTR_STR, ATTR_TEXT, &reason},
        {PROTO_ATTR_QUEUE_FILE, ATTR_FD, 0, &fd},
    };
    bool opening = sess->qwant == PROTO_QUEUE_OPENED;

    buf_init(&msg, PROTO_MSG_NAME_SIZE);
    buf_init(&id, QUEUE_ID_SIZE);
    buf_init(&reason, 512);
    if (!ipc_reader_decode(sess->qreader, spec, 4, &err))
        snprintf(why, len, "%s", err.text);
    else if (proto_msg_is(&msg, PROTO_QUEUE_REFUSED))
        snprintf(why, len, "refused: %s", buf_str(&reason));
    else if (!proto_msg_is(&msg, (enum proto_msg)sess->qwant))
        snprintf(why, len, "expected %s, got another message",
                 proto_msg_name((enum proto_msg)sess->qwant));
    else if (opening && (fd < 0 || !queue_id_valid(id.data, id.len)))
        snprintf(why, len, "queue_opened without a valid ID and file");
    else if (!opening && strcmp(buf_str(&id), sess->txn.qid) != 0 && sess->qdone != NULL)
        snprintf(why, len, "%s names another queue ID", proto_msg_name(sess->qwant));
    else
        good = true;
    if (good && opening) {
        memcpy(sess->txn.qid, id.data, QUEUE_ID_SIZE);
        sess->txn.qfd = fd;
        fd = -1;
    }
    if (fd >= 0)
        close(fd);
    buf_free(&msg);
    buf_free(&id);
    buf_free(&reason);
    return good;
}

/* smtpd_queue_readable - qmgr sent something */
static void
smtpd_queue_readable(int fd, unsigned events, void *arg)
{
    struct smtpd_session *sess = arg;
    struct err err;
    char why[600];
    enum ipc_status status;

    if (sess->qwant < 0) { /* nothing asked: EOF or junk; either way the link is done */
        smtpd_queue_disconnect(sess);
        return;
    }
    status = ipc_reader_read(sess->qreader, &err);
    if (status == IPC_AGAIN)
        return;
    if (status == IPC_OK) {
        bool ok = smtpd_queue_reply(sess, why, sizeof(why));
        smtpd_queue_finish(sess, ok, why);
    } else {
        snprintf(why, sizeof(why), "%s",
                 status == IPC_EOF ? "qmgr closed the connection" : err.text);
        smtpd_queue_finish(sess, false, why);
    }
    smtpd_session_resume(sess);
}

/* smtpd_queue_request - send one request; the answer comes to done through the loop */
static void
smtpd_queue_request(struct smtpd_session *sess, enum proto_msg msg, enum proto_msg want,
                    const char *id, smtpd_queue_done done)
{
    struct buf rec;
    struct err err;
    bool sent;

    sess->qwant = (int)want;
    sess->qdone = done;
    if (sess->qsock < 0 && !smtpd_queue_connect(sess)) {
        smtpd_queue_finish(sess, false, "cannot connect to qmgr");
        return;
    }
    buf_init(&rec, QMGR_CLNT_RECORD_LIMIT);
    proto_begin(&rec, msg);
    if (id != NULL)
        attr_put_text(&rec, PROTO_ATTR_QUEUE_ID, id);
    /* A request is a few dozen bytes on an idle connection: the send never waits long. */
    sent = attr_end(&rec, &err) && ipc_send(sess->qsock, &rec, NULL, 1000, &err) == IPC_OK;
    buf_free(&rec);
    if (!sent) {
        smtpd_queue_finish(sess, false, err.text);
        return;
    }
    if (sess->qwatch == NULL)
        sess->qwatch =
            loop_fd_add(sess->smtpd->ctx->loop, sess->qsock, LOOP_READ, smtpd_queue_readable, sess);
    else
        loop_fd_set(sess->qwatch, LOOP_READ);
}

void
smtpd_queue_open(struct smtpd_session *sess, smtpd_queue_done done)
{
    smtpd_queue_request(sess, PROTO_QUEUE_OPEN, PROTO_QUEUE_OPENED, NULL, done);
}

void
smtpd_queue_commit(struct smtpd_session *sess, smtpd_queue_done done)
{
    smtpd_queue_request(sess, PROTO_QUEUE_COMMIT, PROTO_QUEUE_COMMITTED, sess->txn.qid, done);
}

/* smtpd_queue_abort - drop the open file; done may be NULL (nobody waits for the answer) */
void
smtpd_queue_abort(struct smtpd_session *sess, smtpd_queue_done done)
{
    smtpd_queue_request(sess, PROTO_QUEUE_ABORT, PROTO_QUEUE_ABORTED, sess->txn.qid, done);
}
