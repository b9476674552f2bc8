/* mail_deliver_req.c - deliver_request and deliver_status: round trip, and every check a
 * receiver relies on (queue ID, recipients, status words against DSN classes, limits) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/buf.h"
#include "mail/deliver_req.h"
#include "mail/proto.h"
#include "t/tap.h"

static bool
request_round_trip(struct deliver_req *in, struct deliver_req *out, struct attr_error *err)
{
    struct attr_fds fds;
    struct buf rec;
    bool good;

    attr_fds_init(&fds);
    buf_init(&rec, DELIVER_REQ_RECORD_LIMIT);
    good = deliver_req_encode(in, &rec, &fds, err);
    if (good) {
        /* The descriptor travels as a copy, as over a socket. */
        fds.fd[0] = dup(fds.fd[0]);
        good = deliver_req_decode(&rec, &fds, out, err);
    }
    buf_free(&rec);
    return good;
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
    struct attr_error err;

    strcpy(in.queue_id, "01xXV5x0qyG07po00");
    deliver_req_add_rcpt(&in, 0, 100, "a@example.org", "", "");
    deliver_req_add_rcpt(&in, 7, 4711, "b@example.org", "rfc822;list@example.org",
                         "SUCCESS,FAILURE");
    ok(request_round_trip(&in, &out, &err), "a request survives encoding");
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
    ok(!request_round_trip(&in, &out, &err), "a request with a path for a queue ID is refused");
    strcpy(in.queue_id, "01xXV5x0qyG07po00");
    in.sender = "s@example.org\r\nX-Injected: yes";
    ok(!request_round_trip(&in, &out, &err), "a sender with CR LF is refused");
    in.sender = "s@example.org";
    deliver_req_add_rcpt(&in, 8, 0, "r@example.org\nX-Injected: yes", "", "");
    ok(!request_round_trip(&in, &out, &err), "a recipient with LF is refused");
    free(in.rcpt[2].addr);
    in.rcpt[2].addr = strdup("c@example.org");
    for (int i = 3; i <= DELIVER_REQ_RCPT_MAX; i++)
        deliver_req_add_rcpt(&in, i, 0, "c@example.org", "", "");
    ok(!request_round_trip(&in, &out, &err), "more than %d recipients are refused",
       DELIVER_REQ_RCPT_MAX);
    in.sender = in.nexthop = NULL;
    deliver_req_free(&in);
}

static bool
reply_round_trip(long index, const char *status, const char *dsn, struct deliver_reply *out)
{
    struct deliver_reply in = {.index = index};
    struct attr_error err;
    struct attr_fds fds;
    struct buf rec;
    bool good;

    snprintf(in.status, sizeof(in.status), "%s", status);
    snprintf(in.dsn, sizeof(in.dsn), "%s", dsn);
    snprintf(in.reason, sizeof(in.reason), "delivered to maildir");
    attr_fds_init(&fds);
    buf_init(&rec, DELIVER_REPLY_LIMIT);
    good = deliver_reply_encode(&in, &rec, &err) && deliver_reply_decode(&rec, &fds, out, &err);
    buf_free(&rec);
    return good;
}

static void
test_reply(void)
{
    struct deliver_reply out = {0};
    struct attr_error err;
    struct attr_fds fds;
    struct buf rec;

    ok(reply_round_trip(3, "sent", "2.0.0", &out) && out.index == 3 &&
           strcmp(out.reason, "delivered to maildir") == 0,
       "a status survives encoding");
    ok(reply_round_trip(0, "deferred", "4.2.2", &out), "deferred with 4.x.x");
    ok(reply_round_trip(0, "bounced", "5.1.1", &out), "bounced with 5.x.x");
    ok(!reply_round_trip(0, "sent", "5.1.1", &out), "sent with a 5.x.x code is refused");
    ok(!reply_round_trip(0, "bounced", "4.0.0", &out), "bounced with a 4.x.x code is refused");
    ok(!reply_round_trip(0, "expired", "4.0.0", &out), "an unknown status word is refused");
    ok(!reply_round_trip(-1, "sent", "2.0.0", &out), "a negative index is refused");

    attr_fds_init(&fds);
    buf_init(&rec, DELIVER_REPLY_LIMIT * 2);
    proto_begin(&rec, PROTO_DELIVER_STATUS);
    attr_put_int(&rec, PROTO_ATTR_INDEX, 0);
    attr_put_text(&rec, PROTO_ATTR_STATUS, "sent");
    attr_put_text(&rec, PROTO_ATTR_DSN, "2.0.0");
    {
        char big[600];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        attr_put_text(&rec, PROTO_ATTR_REASON, big);
    }
    ok(attr_end(&rec, &err) && !deliver_reply_decode(&rec, &fds, &out, &err),
       "a reason longer than the reply's field is refused, not truncated silently");
    buf_free(&rec);
}

int
main(void)
{
    test_request();
    test_reply();
    return done_testing();
}
