/*
 * qmgr_clnt.c - the receiving side of qmgr's protocol: requests encoded, answers decoded
 * to an outcome, and the blocking calls (open, commit, abort, status) built on the two.
 *
 * Trusts: nothing qmgr sends; every answer is decoded against one table, must be the
 * answer the request expects (or queue_refused), must name the queue ID asked about, and a
 * new queue ID must be valid before the caller sees it. Receivers never see attribute
 * names or the wire.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/buf.h"
#include "core/ipc.h"
#include "core/log.h"
#include "core/mem.h"
#include "mail/proto.h"
#include "mail/qmgr_clnt.h"

/* qmgr_answer_to - the message qmgr answers request with when all is well */
static enum proto_msg
qmgr_answer_to(enum proto_msg request)
{
    switch (request) {
    case PROTO_QUEUE_OPEN:
        return PROTO_QUEUE_OPENED;
    case PROTO_QUEUE_COMMIT:
    case PROTO_QUEUE_HOLD:
    case PROTO_QUEUE_STATUS:
        return PROTO_QUEUE_COMMITTED;
    case PROTO_QUEUE_ABORT:
        return PROTO_QUEUE_ABORTED;
    default:
        log_panic("qmgr_answer_to: %s is no request to qmgr", proto_msg_name(request));
    }
}

/* qmgr_request_encode - a request naming id (NULL for queue_open) into rec */
bool
qmgr_request_encode(struct buf *rec, enum proto_msg request, const char *id, struct err *err)
{
    qmgr_answer_to(request);
    proto_begin(rec, request);
    if (id != NULL)
        attr_put_text(rec, PROTO_ATTR_QUEUE_ID, id);
    return attr_end(rec, err);
}

/* qmgr_reply_broken - no usable answer, for the reason fmt says */
enum qmgr_outcome
qmgr_reply_broken(struct qmgr_reply *reply, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reply->why, sizeof(reply->why), fmt, ap);
    va_end(ap);
    return reply->outcome = QMGR_BROKEN;
}

/* qmgr_reply_check - is the decoded answer the one request expects, about id? */
static enum qmgr_outcome
qmgr_reply_check(struct qmgr_reply *reply, enum proto_msg request, const char *id,
                 const struct buf *msg, const struct buf *qid, const struct buf *reason)
{
    enum proto_msg want = qmgr_answer_to(request);

    if (proto_msg_is(msg, PROTO_QUEUE_REFUSED)) {
        snprintf(reply->why, sizeof(reply->why), "%s", buf_str(reason));
        return reply->outcome = QMGR_REFUSED;
    }
    if (!proto_msg_is(msg, want))
        return qmgr_reply_broken(reply, "expected %s, got another message", proto_msg_name(want));
    if (want == PROTO_QUEUE_OPENED) {
        if (reply->fd < 0 || !queue_id_valid(qid->data, qid->len))
            return qmgr_reply_broken(reply, "queue_opened without a valid ID and file");
        memcpy(reply->id, qid->data, QUEUE_ID_SIZE);
    } else if (id != NULL && strcmp(buf_str(qid), id) != 0) {
        return qmgr_reply_broken(reply, "%s names another queue ID", proto_msg_name(want));
    }
    reply->why[0] = 0;
    return reply->outcome = QMGR_OK;
}

/*
 * qmgr_reply_decode - what qmgr's answer rec (with its descriptors fds, all taken) says
 * about request; id is the queue ID the answer must name (NULL: any). On QMGR_OK to
 * queue_open, reply->fd is the new file's descriptor; in every other case it is -1.
 */
enum qmgr_outcome
qmgr_reply_decode(const struct buf *rec, struct attr_fds *fds, enum proto_msg request,
                  const char *id, struct qmgr_reply *reply)
{
    struct buf msg, qid, reason;
    struct err err;
    const struct attr_spec spec[] = {
        {PROTO_ATTR_MSG, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &msg},
        {PROTO_ATTR_QUEUE_ID, ATTR_STR, ATTR_TEXT, &qid},
        {PROTO_ATTR_REASON, ATTR_STR, ATTR_TEXT, &reason},
        {PROTO_ATTR_QUEUE_FILE, ATTR_FD, 0, &reply->fd},
    };

    reply->fd = -1;
    buf_init(&msg, PROTO_MSG_NAME_SIZE);
    buf_init(&qid, QUEUE_ID_SIZE);
    buf_init(&reason, QMGR_WHY_SIZE - 1);
    if (!attr_decode(rec->data, rec->len, QMGR_CLNT_RECORD_LIMIT, fds, spec, nitems(spec), &err))
        qmgr_reply_broken(reply, "%s", err.text);
    else
        qmgr_reply_check(reply, request, id, &msg, &qid, &reason);
    if (reply->outcome != QMGR_OK && reply->fd >= 0) {
        close(reply->fd);
        reply->fd = -1;
    }
    buf_free(&msg);
    buf_free(&qid);
    buf_free(&reason);
    return reply->outcome;
}

/* qmgr_clnt_connect - connect to qmgr's socket; -1 with err on failure */
int
qmgr_clnt_connect(const char *path, struct err *err)
{
    return ipc_connect(path, err);
}

/* qmgr_clnt_call - send request about id and wait for the answer */
static enum qmgr_outcome
qmgr_clnt_call(int sock, enum proto_msg request, const char *id, int timeout_ms,
               struct qmgr_reply *reply)
{
    struct buf rec;
    struct attr_fds fds;
    struct err err;
    enum ipc_status status;

    reply->fd = -1;
    buf_init(&rec, QMGR_CLNT_RECORD_LIMIT);
    if (!qmgr_request_encode(&rec, request, id, &err) ||
        ipc_send(sock, &rec, NULL, timeout_ms, &err) != IPC_OK)
        qmgr_reply_broken(reply, "%s", err.text);
    else if ((status = ipc_recv(sock, &rec, &fds, QMGR_CLNT_RECORD_LIMIT, timeout_ms, &err)) ==
             IPC_EOF)
        qmgr_reply_broken(reply, "qmgr closed the connection before %s",
                          proto_msg_name(qmgr_answer_to(request)));
    else if (status != IPC_OK)
        qmgr_reply_broken(reply, "%s", err.text);
    else
        qmgr_reply_decode(&rec, &fds, request, id, reply);
    buf_free(&rec);
    return reply->outcome;
}

/* qmgr_clnt_open - a new queue file: its ID in reply->id, its descriptor in reply->fd */
enum qmgr_outcome
qmgr_clnt_open(int sock, int timeout_ms, struct qmgr_reply *reply)
{
    return qmgr_clnt_call(sock, PROTO_QUEUE_OPEN, NULL, timeout_ms, reply);
}

/* qmgr_clnt_commit - QMGR_OK once the message is durably queued */
enum qmgr_outcome
qmgr_clnt_commit(int sock, const char *id, int timeout_ms, struct qmgr_reply *reply)
{
    return qmgr_clnt_call(sock, PROTO_QUEUE_COMMIT, id, timeout_ms, reply);
}

/*
 * qmgr_clnt_status - after the answer to a commit was lost: QMGR_OK when qmgr can show that
 * the message was committed, QMGR_REFUSED ("not committed") when it cannot
 */
enum qmgr_outcome
qmgr_clnt_status(int sock, const char *id, int timeout_ms, struct qmgr_reply *reply)
{
    return qmgr_clnt_call(sock, PROTO_QUEUE_STATUS, id, timeout_ms, reply);
}

/* qmgr_clnt_abort - drop a message that will not be accepted */
enum qmgr_outcome
qmgr_clnt_abort(int sock, const char *id, int timeout_ms, struct qmgr_reply *reply)
{
    return qmgr_clnt_call(sock, PROTO_QUEUE_ABORT, id, timeout_ms, reply);
}
