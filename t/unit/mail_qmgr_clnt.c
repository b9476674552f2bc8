/* mail_qmgr_clnt.c - the receiving side of qmgr's protocol against a scripted qmgr on a
 * socket pair: each answer is written before the call, so the stub finds it after sending
 * its request. Covers every outcome the callers tell apart: OK, REFUSED and BROKEN. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/buf.h"
#include "core/ipc.h"
#include "mail/proto.h"
#include "mail/qmgr_clnt.h"
#include "t/tap.h"

#define TIMEOUT 2000
#define ID      "01xXV5x0qyG07po00"
#define OTHER   "01xXV5x0qyG07pp00"

static int sv[2]; /* sv[0]: the client's end, sv[1]: the scripted qmgr's */

static void
bail_out(const char *what)
{
    printf("Bail out! %s\n", what);
    exit(1);
}

/* answer - queue one answer from "qmgr"; id, reason and fd are left out when NULL / -1 */
static void
answer(enum proto_msg msg, const char *id, const char *reason, int fd)
{
    struct err err;
    struct attr_fds fds;
    struct buf rec;

    attr_fds_init(&fds);
    buf_init(&rec, QMGR_CLNT_RECORD_LIMIT);
    proto_begin(&rec, msg);
    if (id != NULL)
        attr_put_text(&rec, PROTO_ATTR_QUEUE_ID, id);
    if (reason != NULL)
        attr_put_text(&rec, PROTO_ATTR_REASON, reason);
    if (fd >= 0)
        attr_put_fd(&rec, &fds, PROTO_ATTR_QUEUE_FILE, fd);
    if (!attr_end(&rec, &err) || ipc_send(sv[1], &rec, &fds, TIMEOUT, &err) != IPC_OK)
        bail_out(err.text);
    buf_free(&rec);
}

/* request_seen - the request the client sent, as qmgr would read it */
static enum proto_msg
request_seen(void)
{
    struct err err;
    struct attr_fds fds;
    struct buf rec;
    enum proto_msg msg = PROTO_NONE;

    attr_fds_init(&fds);
    buf_init(&rec, QMGR_CLNT_RECORD_LIMIT);
    if (ipc_recv(sv[1], &rec, &fds, QMGR_CLNT_RECORD_LIMIT, TIMEOUT, &err) == IPC_OK)
        msg = proto_msg_of(&rec);
    attr_fds_close(&fds);
    buf_free(&rec);
    return msg;
}

static void
reconnect(void)
{
    close(sv[0]);
    close(sv[1]);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        bail_out("socketpair");
}

static void
test_open(void)
{
    struct qmgr_reply r;
    int file = open("/dev/null", O_RDWR);

    answer(PROTO_QUEUE_OPENED, ID, NULL, file);
    is_int(qmgr_clnt_open(sv[0], TIMEOUT, &r), QMGR_OK, "queue_open: OK");
    is_str(r.id, ID, "with the new file's ID");
    ok(r.fd >= 0, "and its descriptor");
    is_int(request_seen(), PROTO_QUEUE_OPEN, "the client asked with queue_open");
    close(r.fd);

    answer(PROTO_QUEUE_OPENED, ID, NULL, -1);
    is_int(qmgr_clnt_open(sv[0], TIMEOUT, &r), QMGR_BROKEN, "queue_opened without a file: BROKEN");
    ok(r.fd == -1, "and no descriptor");
    request_seen();

    answer(PROTO_QUEUE_OPENED, "../../etc/passwd", NULL, file);
    is_int(qmgr_clnt_open(sv[0], TIMEOUT, &r), QMGR_BROKEN,
           "queue_opened with a path for an ID: BROKEN");
    ok(r.fd == -1, "and the descriptor that came is closed, not handed over");
    request_seen();

    answer(PROTO_QUEUE_REFUSED, NULL, "queue file write error", -1);
    is_int(qmgr_clnt_open(sv[0], TIMEOUT, &r), QMGR_REFUSED, "queue_refused: REFUSED");
    is_str(r.why, "queue file write error", "with qmgr's reason, unchanged");
    request_seen();
    close(file);
}

static void
test_commit(void)
{
    struct qmgr_reply r;

    answer(PROTO_QUEUE_COMMITTED, ID, NULL, -1);
    is_int(qmgr_clnt_commit(sv[0], ID, TIMEOUT, &r), QMGR_OK, "queue_commit: OK");
    is_int(request_seen(), PROTO_QUEUE_COMMIT, "the client asked with queue_commit");

    answer(PROTO_QUEUE_COMMITTED, OTHER, NULL, -1);
    is_int(qmgr_clnt_commit(sv[0], ID, TIMEOUT, &r), QMGR_BROKEN,
           "queue_committed for another ID: BROKEN, never OK");
    request_seen();

    answer(PROTO_QUEUE_ABORTED, ID, NULL, -1);
    is_int(qmgr_clnt_commit(sv[0], ID, TIMEOUT, &r), QMGR_BROKEN,
           "the answer to another request: BROKEN");
    ok(strstr(r.why, "expected queue_committed") != NULL, "says what was expected (%s)", r.why);
    request_seen();

    answer(PROTO_QUEUE_REFUSED, ID, "not committed", -1);
    is_int(qmgr_clnt_status(sv[0], ID, TIMEOUT, &r), QMGR_REFUSED, "queue_status: REFUSED");
    is_str(r.why, "not committed", "with the reason");
    is_int(request_seen(), PROTO_QUEUE_STATUS, "the client asked with queue_status");

    answer(PROTO_QUEUE_ABORTED, ID, NULL, -1);
    is_int(qmgr_clnt_abort(sv[0], ID, TIMEOUT, &r), QMGR_OK, "queue_abort: OK");
    is_int(request_seen(), PROTO_QUEUE_ABORT, "the client asked with queue_abort");
}

static void
test_broken(void)
{
    struct qmgr_reply r;

    shutdown(sv[1], SHUT_WR);
    is_int(qmgr_clnt_commit(sv[0], ID, TIMEOUT, &r), QMGR_BROKEN, "EOF before the answer: BROKEN");
    ok(strstr(r.why, "closed the connection") != NULL, "says so (%s)", r.why);
    reconnect();

    is_int(qmgr_clnt_commit(sv[0], ID, 50, &r), QMGR_BROKEN, "no answer in time: BROKEN");
    reconnect();

    if (write(sv[1], "\0\0\0\3abc", 7) != 7)
        bail_out("write");
    is_int(qmgr_clnt_commit(sv[0], ID, TIMEOUT, &r), QMGR_BROKEN, "garbage: BROKEN");
    reconnect();
}

int
main(void)
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        bail_out("socketpair");
    test_open();
    test_commit();
    test_broken();
    return done_testing();
}
