/*
 * qmgr_clnt.c - the receiving side of qmgr's protocol, as calls: open, commit, abort.
 *
 * Trusts: nothing qmgr sends; every reply is decoded against a table, must be the
 * expected message (or queue_refused), and a queue ID must be valid before the caller
 * sees it. Receivers never see attribute names or the wire.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/buf.h"
#include "core/ipc.h"
#include "mail/proto.h"
#include "mail/qmgr_clnt.h"

/* A decoded reply. */
struct qmgr_clnt_reply {
    struct buf msg;
    struct buf id;
    struct buf reason;
    int fd;
};

/* qmgr_clnt_request - send one request naming id (NULL: none) */
static bool
qmgr_clnt_request(int sock, enum proto_msg msg, const char *id, int timeout_ms,
                  struct attr_error *err)
{
    struct buf rec;
    bool good;

    buf_init(&rec, QMGR_CLNT_RECORD_LIMIT);
    proto_begin(&rec, msg);
    if (id)
        attr_put_text(&rec, PROTO_ATTR_QUEUE_ID, id);
    good = attr_end(&rec, err) && ipc_send(sock, &rec, NULL, timeout_ms, err) == IPC_OK;
    buf_free(&rec);
    return good;
}

/* qmgr_clnt_reply - receive the reply to a request: want, or a refusal with its reason */
static bool
qmgr_clnt_reply(int sock, enum proto_msg want, struct qmgr_clnt_reply *reply, int timeout_ms,
                struct attr_error *err)
{
    struct buf rec;
    struct attr_fds fds;
    enum ipc_status status;
    bool good = false;
    const struct attr_spec spec[] = {
        {PROTO_ATTR_MSG, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &reply->msg},
        {PROTO_ATTR_QUEUE_ID, ATTR_STR, ATTR_TEXT, &reply->id},
        {PROTO_ATTR_REASON, ATTR_STR, ATTR_TEXT, &reply->reason},
        {PROTO_ATTR_QUEUE_FILE, ATTR_FD, 0, &reply->fd},
    };

    buf_init(&rec, QMGR_CLNT_RECORD_LIMIT);
    status = ipc_recv(sock, &rec, &fds, QMGR_CLNT_RECORD_LIMIT, timeout_ms, err);
    if (status == IPC_EOF)
        snprintf(err->text, sizeof(err->text), "qmgr closed the connection before %s",
                 proto_msg_name(want));
    else if (status == IPC_OK &&
             attr_decode(rec.data, rec.len, QMGR_CLNT_RECORD_LIMIT, &fds, spec, 4, err)) {
        if (proto_msg_is(&reply->msg, want))
            good = true;
        else if (proto_msg_is(&reply->msg, PROTO_QUEUE_REFUSED))
            snprintf(err->text, sizeof(err->text), "refused: %s", buf_str(&reply->reason));
        else
            snprintf(err->text, sizeof(err->text), "expected %s, got another message",
                     proto_msg_name(want));
    }
    buf_free(&rec);
    return good;
}

static void
qmgr_clnt_reply_init(struct qmgr_clnt_reply *reply)
{
    buf_init(&reply->msg, PROTO_MSG_NAME_SIZE);
    buf_init(&reply->id, QUEUE_ID_SIZE);
    buf_init(&reply->reason, 512);
    reply->fd = -1;
}

static void
qmgr_clnt_reply_free(struct qmgr_clnt_reply *reply)
{
    buf_free(&reply->msg);
    buf_free(&reply->id);
    buf_free(&reply->reason);
    if (reply->fd >= 0)
        close(reply->fd);
}

/* qmgr_clnt_connect - connect to qmgr's socket; -1 with err on failure */
int
qmgr_clnt_connect(const char *path, struct attr_error *err)
{
    return ipc_connect(path, err);
}

/* qmgr_clnt_open - a new queue file: its ID into id, its descriptor into *fd */
bool
qmgr_clnt_open(int sock, char id[QUEUE_ID_SIZE], int *fd, int timeout_ms, struct attr_error *err)
{
    struct qmgr_clnt_reply reply;
    bool good;

    qmgr_clnt_reply_init(&reply);
    good = qmgr_clnt_request(sock, PROTO_QUEUE_OPEN, NULL, timeout_ms, err) &&
           qmgr_clnt_reply(sock, PROTO_QUEUE_OPENED, &reply, timeout_ms, err);
    if (good && (reply.fd < 0 || !queue_id_valid(reply.id.data, reply.id.len))) {
        snprintf(err->text, sizeof(err->text), "queue_opened without a valid ID and file");
        good = false;
    }
    if (good) {
        memcpy(id, reply.id.data, QUEUE_ID_SIZE);
        *fd = reply.fd;
        reply.fd = -1;
    }
    qmgr_clnt_reply_free(&reply);
    return good;
}

/* qmgr_clnt_call - send request about id, expect want naming the same id */
static bool
qmgr_clnt_call(int sock, enum proto_msg request, enum proto_msg want, const char *id,
               int timeout_ms, struct attr_error *err)
{
    struct qmgr_clnt_reply reply;
    bool good;

    qmgr_clnt_reply_init(&reply);
    good = qmgr_clnt_request(sock, request, id, timeout_ms, err) &&
           qmgr_clnt_reply(sock, want, &reply, timeout_ms, err);
    if (good && strcmp(buf_str(&reply.id), id) != 0) {
        snprintf(err->text, sizeof(err->text), "%s names another queue ID", proto_msg_name(want));
        good = false;
    }
    qmgr_clnt_reply_free(&reply);
    return good;
}

/* qmgr_clnt_commit - true once the message is durably queued */
bool
qmgr_clnt_commit(int sock, const char *id, int timeout_ms, struct attr_error *err)
{
    return qmgr_clnt_call(sock, PROTO_QUEUE_COMMIT, PROTO_QUEUE_COMMITTED, id, timeout_ms, err);
}

/*
 * qmgr_clnt_status - after the answer to a commit was lost: true when qmgr can show that the
 * message was committed; false (a refusal: "not committed") when it cannot
 */
bool
qmgr_clnt_status(int sock, const char *id, int timeout_ms, struct attr_error *err)
{
    return qmgr_clnt_call(sock, PROTO_QUEUE_STATUS, PROTO_QUEUE_COMMITTED, id, timeout_ms, err);
}

/* qmgr_clnt_abort - drop a message that will not be accepted */
bool
qmgr_clnt_abort(int sock, const char *id, int timeout_ms, struct attr_error *err)
{
    return qmgr_clnt_call(sock, PROTO_QUEUE_ABORT, PROTO_QUEUE_ABORTED, id, timeout_ms, err);
}
