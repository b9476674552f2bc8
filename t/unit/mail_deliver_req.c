/* mail_deliver_req.c - the delivery protocol over a socket pair, qmgr's stub on one end and
 * the agent's on the other: round trip, and every check a receiver relies on (queue ID,
 * recipients and their count, status words against DSN classes, limits) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/buf.h"
#include "core/ipc.h"
#include "mail/deliver_req.h"
#include "mail/proto.h"
#include "t/tap.h"

#define TIMEOUT 2000

/* request_round_trip - send in from "qmgr", read it as the "agent": what the agent says */
static enum ipc_status
request_round_trip(const struct deliver_req *in, struct deliver_req *out, struct err *err)
{
    enum ipc_status st = IPC_ERROR;
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return st;
    if (deliver_req_send(sv[0], in, TIMEOUT, err)) {
        close(sv[0]);
        sv[0] = -1;
        st = deliver_agent_read(sv[1], TIMEOUT, out, err);
    }
    if (sv[0] >= 0)
        close(sv[0]);
    close(sv[1]);
    return st;
}

/* forged_request - a request record announcing count recipients, then nrcpt of them */
static enum ipc_status
forged_request(const char *id, long count, int nrcpt, struct err *err)
{
    struct deliver_req out;
    struct attr_fds fds;
    struct buf rec;
    enum ipc_status st;
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return IPC_ERROR;
    attr_fds_init(&fds);
    buf_init(&rec, DELIVER_REQ_RECORD_LIMIT);
    proto_begin(&rec, PROTO_DELIVER_REQUEST);
    attr_put_text(&rec, PROTO_ATTR_QUEUE_ID, id);
    attr_put_fd(&rec, &fds, PROTO_ATTR_QUEUE_FILE, 0);
    attr_put_text(&rec, PROTO_ATTR_SENDER, "s@example.org");
    attr_put_int(&rec, PROTO_ATTR_OFFSET, 100);
    attr_put_int(&rec, PROTO_ATTR_SIZE, 42);
    attr_put_int(&rec, PROTO_ATTR_RCPT_COUNT, count);
    if (attr_end(&rec, err))
        ipc_send(sv[0], &rec, &fds, TIMEOUT, err);
    for (int i = 0; i < nrcpt; i++) {
        proto_begin(&rec, PROTO_DELIVER_RCPT);
        attr_put_int(&rec, PROTO_ATTR_INDEX, i);
        attr_put_int(&rec, PROTO_ATTR_SLOT, 0);
        attr_put_text(&rec, PROTO_ATTR_ADDRESS, "r@example.org");
        if (attr_end(&rec, err))
            ipc_send(sv[0], &rec, NULL, TIMEOUT, err);
    }
    close(sv[0]);
    st = deliver_agent_read(sv[1], TIMEOUT, &out, err);
    if (st == IPC_OK)
        deliver_req_free(&out);
    close(sv[1]);
    buf_free(&rec);
    return st;
}

static void
test_request(void)
{
    struct deliver_req in = {.fd = open("/dev/null", O_RDONLY),
                             .sender = "s@example.org",
                             .nexthop = "mx.example.org",
                             .arrival = 1234567890,
                             .offset = 100,
                             .size = 42};
    struct deliver_req out = {.fd = -1};
    struct err err;

    strcpy(in.queue_id, "01xXV5x0qyG07po00");
    deliver_req_add_rcpt(&in, 0, 100, "a@example.org", "", "");
    deliver_req_add_rcpt(&in, 7, 4711, "b@example.org", "rfc822;list@example.org",
                         "SUCCESS,FAILURE");
    is_int(request_round_trip(&in, &out, &err), IPC_OK, "a request survives the socket");
    is_str(out.queue_id, "01xXV5x0qyG07po00", "queue ID");
    is_str(out.sender, "s@example.org", "sender");
    is_str(out.nexthop, "mx.example.org", "next hop");
    is_int(out.arrival, 1234567890, "arrival");
    is_int(out.offset, 100, "content offset");
    is_int(out.size, 42, "content size");
    ok(out.fd >= 0, "the queue file descriptor arrives");
    is_int((long long)out.nrcpt, 2, "two recipients");
    ok(out.nrcpt == 2 && out.rcpt[1].index == 7 && strcmp(out.rcpt[1].addr, "b@example.org") == 0 &&
           strcmp(out.rcpt[1].orcpt, "rfc822;list@example.org") == 0 &&
           strcmp(out.rcpt[1].notify, "SUCCESS,FAILURE") == 0 && out.rcpt[0].orcpt[0] == 0,
       "each recipient with its index, ORCPT and NOTIFY");
    ok(out.nrcpt == 2 && out.rcpt[0].slot == 100 && out.rcpt[1].slot == 4711,
       "and where its status slot is");
    deliver_req_free(&out);

    strcpy(in.queue_id, "../../etc/passwd");
    is_int(request_round_trip(&in, &out, &err), IPC_ERROR,
           "a request with a path for a queue ID is refused");
    strcpy(in.queue_id, "01xXV5x0qyG07po00");
    in.sender = "s@example.org\r\nX-Injected: yes";
    is_int(request_round_trip(&in, &out, &err), IPC_ERROR, "a sender with CR LF is refused");
    in.sender = "s@example.org";
    deliver_req_add_rcpt(&in, 8, 0, "r@example.org\nX-Injected: yes", "", "");
    is_int(request_round_trip(&in, &out, &err), IPC_ERROR, "a recipient with LF is refused");
    free(in.rcpt[2].addr);
    in.rcpt[2].addr = strdup("c@example.org");
    for (int i = 3; i <= DELIVER_REQ_RCPT_MAX; i++)
        deliver_req_add_rcpt(&in, i, 0, "c@example.org", "", "");
    ok(!deliver_req_send(-1, &in, TIMEOUT, &err), "qmgr does not send more than %d recipients",
       DELIVER_REQ_RCPT_MAX);
    in.sender = in.nexthop = NULL;
    deliver_req_free(&in);

    is_int(forged_request("01xXV5x0qyG07po00", 2, 2, &err), IPC_OK, "a forged request as sent");
    is_int(forged_request("01xXV5x0qyG07po00", 3, 2, &err), IPC_ERROR,
           "a request that ends before its announced recipients is refused, not short");
    ok(strstr(err.text, "after 2 of 3") != NULL, "and says so (%s)", err.text);
    is_int(forged_request("01xXV5x0qyG07po00", 0, 0, &err), IPC_ERROR,
           "a request without recipients is refused");
    is_int(forged_request("01xXV5x0qyG07po00", DELIVER_REQ_RCPT_MAX + 1, 0, &err), IPC_ERROR,
           "an agent refuses a request announcing more than %d recipients", DELIVER_REQ_RCPT_MAX);
}

/* reply_round_trip - an outcome from the "agent", as "qmgr" decodes it */
static bool
reply_round_trip(long index, enum deliver_status status, const char *dsn,
                 enum deliver_handoff handoff, struct deliver_reply *out)
{
    struct deliver_req_rcpt rcpt = {.index = index};
    struct deliver_result res;
    struct err err;
    struct attr_fds fds;
    struct buf rec;
    bool good = false;
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return false;
    deliver_set(&res, status, dsn, "delivered to maildir");
    res.handoff = handoff;
    res.unreachable = index == 7;
    res.conn_use = index == 5 ? 3 : 1;
    attr_fds_init(&fds);
    buf_init(&rec, DELIVER_REPLY_LIMIT);
    if (deliver_agent_reply_relay(sv[1], TIMEOUT, &rcpt, &res,
                                  index == 3 ? "mx[192.0.2.1]:25" : NULL, &err) &&
        ipc_recv(sv[0], &rec, &fds, DELIVER_REPLY_LIMIT, TIMEOUT, &err) == IPC_OK)
        good = deliver_reply_decode(&rec, &fds, out, &err);
    buf_free(&rec);
    close(sv[0]);
    close(sv[1]);
    return good;
}

/* forged_reply - a deliver_status with any status word, reason and handoff (NULL: none) */
static bool
forged_reply(const char *word, const char *reason, const char *handoff)
{
    struct deliver_reply out;
    struct err err;
    struct attr_fds fds;
    struct buf rec;
    bool good;

    attr_fds_init(&fds);
    buf_init(&rec, DELIVER_REPLY_LIMIT * 2);
    proto_begin(&rec, PROTO_DELIVER_STATUS);
    attr_put_int(&rec, PROTO_ATTR_INDEX, 0);
    attr_put_text(&rec, PROTO_ATTR_STATUS, word);
    attr_put_text(&rec, PROTO_ATTR_DSN, strcmp(word, "bounced") == 0 ? "5.0.0" : "2.0.0");
    attr_put_text(&rec, PROTO_ATTR_REASON, reason);
    if (handoff != NULL)
        attr_put_text(&rec, PROTO_ATTR_HANDOFF, handoff);
    good = attr_end(&rec, &err) && deliver_reply_decode(&rec, &fds, &out, &err);
    buf_free(&rec);
    return good;
}

static void
test_reply(void)
{
    struct deliver_reply out = {0};
    char big[600];

    ok(reply_round_trip(3, DELIVER_OK, "2.0.0", DELIVER_FINAL, &out) && out.index == 3 &&
           out.res.status == DELIVER_OK && strcmp(out.res.dsn, "2.0.0") == 0 &&
           strcmp(out.res.reason, "delivered to maildir") == 0 &&
           strcmp(out.relay, "mx[192.0.2.1]:25") == 0,
       "an outcome survives the socket, with the relay it names");
    ok(reply_round_trip(0, DELIVER_DEFER, "4.2.2", DELIVER_FINAL, &out) &&
           out.res.status == DELIVER_DEFER && out.relay[0] == 0,
       "deferred with 4.x.x");
    ok(reply_round_trip(0, DELIVER_BOUNCE, "5.1.1", DELIVER_FINAL, &out) &&
           out.res.status == DELIVER_BOUNCE,
       "bounced with 5.x.x");
    ok(!reply_round_trip(0, DELIVER_OK, "5.1.1", DELIVER_FINAL, &out),
       "sent with a 5.x.x code is refused");
    ok(!reply_round_trip(0, DELIVER_BOUNCE, "4.0.0", DELIVER_FINAL, &out),
       "bounced with a 4.x.x code is refused");
    ok(!reply_round_trip(-1, DELIVER_OK, "2.0.0", DELIVER_FINAL, &out),
       "a negative index is refused");
    ok(forged_reply("sent", "ok", NULL), "a forged reply as the agent sends it");
    ok(!forged_reply("expired", "ok", NULL), "an unknown status word is refused");
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    ok(!forged_reply("sent", big, NULL),
       "a reason longer than the reply's field is refused, not truncated silently");
    for (enum deliver_handoff h = DELIVER_FINAL; h <= DELIVER_NOTIFY_PASSED; h++)
        ok(reply_round_trip(0, DELIVER_OK, "2.0.0", h, &out) && out.res.handoff == h,
           "a delivery's handoff survives the socket (final, relayed, notify-passed)");
    ok(reply_round_trip(0, DELIVER_DEFER, "4.4.1", DELIVER_FINAL, &out) && !out.res.unreachable,
       "a deferral is not a site failure unless the agent says so");
    ok(reply_round_trip(7, DELIVER_DEFER, "4.4.1", DELIVER_FINAL, &out) && out.res.unreachable,
       "the agent says the destination was unreachable: qmgr hears it");
    ok(reply_round_trip(5, DELIVER_OK, "2.0.0", DELIVER_FINAL, &out) && out.res.conn_use == 3,
       "a reused connection's use count reaches qmgr (conn_use=3 in its log line)");
    ok(reply_round_trip(0, DELIVER_OK, "2.0.0", DELIVER_FINAL, &out) && out.res.conn_use == 0,
       "a first use is not sent: Postfix logs conn_use only from 2 on");
    ok(reply_round_trip(0, DELIVER_DEFER, "4.0.0", DELIVER_RELAYED, &out) &&
           out.res.handoff == DELIVER_FINAL,
       "a handoff is never sent with a deferral");
    ok(forged_reply("bounced", "no", NULL) && !forged_reply("bounced", "no", "relayed"),
       "a forged handoff with a failure is refused");
    ok(!forged_reply("sent", "ok", "teleported"), "an unknown handoff word is refused");
    is_str(deliver_status_word(DELIVER_OK), "sent", "Postfix's status words");
    is_str(deliver_status_word(DELIVER_DEFER), "deferred", "deferred");
    is_str(deliver_status_word(DELIVER_BOUNCE), "bounced", "bounced");
}

int
main(void)
{
    test_request();
    test_reply();
    return done_testing();
}
