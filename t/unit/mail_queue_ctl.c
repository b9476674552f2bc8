/* mail_queue_ctl.c - the queue tools' protocol against scripted daemons on a socket pair:
 * a listing round trip (entries, recipients, the end), refusals, and answers a hostile or
 * broken daemon could send (a bad queue ID, too many recipients, the wrong message, EOF).
 * Every answer is written before the call, so the stub finds it after its request. */
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
#include "mail/queue_ctl.h"
#include "t/tap.h"

#define ID "01xXV5x0qyG07po00"

static int sv[2]; /* sv[0]: the command's end, sv[1]: the scripted daemon's */

static void
bail_out(const char *what)
{
    printf("Bail out! %s\n", what);
    exit(1);
}

static void
pair(void)
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        bail_out("socketpair");
}

static void
unpair(void)
{
    close(sv[0]);
    close(sv[1]);
}

/* raw_msg - a showq_msg as a daemon could send it, right or wrong */
static void
raw_msg(const char *id, long nrcpt)
{
    struct buf rec;
    struct err err;

    buf_init(&rec, QUEUE_CTL_RECORD_LIMIT);
    proto_begin(&rec, PROTO_SHOWQ_MSG);
    attr_put_text(&rec, PROTO_ATTR_QUEUE_NAME, "deferred");
    attr_put_text(&rec, PROTO_ATTR_QUEUE_ID, id);
    attr_put_int(&rec, PROTO_ATTR_ARRIVAL, 1700000000);
    attr_put_int(&rec, PROTO_ATTR_SIZE, 42);
    attr_put_text(&rec, PROTO_ATTR_SENDER, "s@example.org");
    attr_put_int(&rec, PROTO_ATTR_RCPT_COUNT, nrcpt);
    if (!attr_end(&rec, &err) || ipc_send(sv[1], &rec, NULL, 1000, &err) != IPC_OK)
        bail_out(err.text);
    buf_free(&rec);
}

struct seen {
    int n;
    char text[512];
};

static void
collect(const struct queue_ctl_entry *e, void *ctx)
{
    struct seen *s = ctx;
    size_t len = strlen(s->text);

    snprintf(s->text + len, sizeof(s->text) - len, "%s %s %lld %lld <%s>", e->queue_name, e->id,
             (long long)e->arrival, (long long)e->size, e->sender);
    for (size_t i = 0; i < e->nrcpt; i++) {
        len = strlen(s->text);
        snprintf(s->text + len, sizeof(s->text) - len, " %s(%s)", e->rcpt[i].addr,
                 e->rcpt[i].reason);
    }
    s->n++;
}

static void
test_round_trip(void)
{
    char a[] = "a@x.example", b[] = "b@y.example", why[] = "deferred transport", none[] = "";
    struct queue_ctl_rcpt rcpt[] = {{a, why}, {b, none}};
    char sender[] = "";
    struct queue_ctl_entry e = {.queue_name = "hold",
                                .id = ID,
                                .arrival = 1700000000,
                                .size = 1234,
                                .sender = sender,
                                .rcpt = rcpt,
                                .nrcpt = 2};
    struct seen seen = {0};
    char err_text[QUEUE_CTL_WHY_SIZE];
    struct err err;

    pair();
    ok(queue_ctl_send_entry(sv[1], &e, &err) && queue_ctl_send_end(sv[1], &err),
       "the daemon sends an entry and the end");
    is_int(queue_ctl_list(sv[0], collect, &seen, err_text, sizeof(err_text)), QUEUE_CTL_OK,
           "the listing is complete");
    is_int(seen.n, 1, "one message");
    is_str(seen.text,
           "hold " ID " 1700000000 1234 <> a@x.example(deferred transport) b@y.example()",
           "every field arrives as sent");
    unpair();
}

static void
test_refused(void)
{
    char why[QUEUE_CTL_WHY_SIZE];
    struct seen seen = {0};
    struct err err;
    long count = -1;

    pair();
    queue_ctl_send_refused(sv[1], "User x(1) is not allowed to view the mail queue", &err);
    is_int(queue_ctl_list(sv[0], collect, &seen, why, sizeof(why)), QUEUE_CTL_REFUSED,
           "a refusal is REFUSED");
    is_str(why, "User x(1) is not allowed to view the mail queue", "with the daemon's words");
    queue_ctl_send_done(sv[1], 3, &err);
    is_int(queue_ctl_flush(sv[0], "", "", &count, why, sizeof(why)), QUEUE_CTL_OK, "a flush");
    is_int(count, 3, "answers its count");
    queue_ctl_send_done(sv[1], 2, &err);
    is_int(queue_ctl_admin(sv[0], "delete", "ALL", "", &count, why, sizeof(why)), QUEUE_CTL_OK,
           "an admin request");
    is_int(count, 2, "answers its count");
    unpair();
}

static void
test_hostile(void)
{
    char why[QUEUE_CTL_WHY_SIZE];
    struct seen seen = {0};
    struct err err;
    long count;
    int fd;
    char name[QUEUE_CTL_NAME_SIZE];

    pair();
    raw_msg("../../etc/passwd", 0);
    is_int(queue_ctl_list(sv[0], collect, &seen, why, sizeof(why)), QUEUE_CTL_BROKEN,
           "a queue ID that is no queue ID breaks the listing");
    unpair();
    pair();
    raw_msg(ID, 100001);
    is_int(queue_ctl_list(sv[0], collect, &seen, why, sizeof(why)), QUEUE_CTL_BROKEN,
           "more recipients than a queue file may hold break it");
    unpair();
    pair();
    raw_msg(ID, 2);
    queue_ctl_send_end(sv[1], &err);
    is_int(queue_ctl_list(sv[0], collect, &seen, why, sizeof(why)), QUEUE_CTL_BROKEN,
           "a message where a recipient must come breaks it");
    is_int(seen.n, 0, "and nothing half-read is handed out");
    unpair();
    pair();
    queue_ctl_send_end(sv[1], &err);
    is_int(queue_ctl_flush(sv[0], "", "", &count, why, sizeof(why)), QUEUE_CTL_BROKEN,
           "a flush answered with another message is BROKEN");
    close(sv[1]);
    is_int(queue_ctl_show(sv[0], ID, &fd, name, why, sizeof(why)), QUEUE_CTL_BROKEN,
           "a daemon that hangs up is BROKEN");
    is_int(fd, -1, "and no descriptor is handed out");
    close(sv[0]);
}

int
main(void)
{
    test_round_trip();
    test_refused();
    test_hostile();
    return done_testing();
}
