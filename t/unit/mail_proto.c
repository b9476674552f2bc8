/* mail_proto.c - message names and proto_decode: the msg row checked once, for every
 * decoder, and a record of another message refused with its descriptors closed */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/buf.h"
#include "core/err.h"
#include "mail/proto.h"
#include "t/tap.h"

/* record - a queue_committed (or other msg) record naming id, with a descriptor if fd >= 0 */
static void
record(struct buf *rec, struct attr_fds *fds, enum proto_msg msg, const char *id, int fd)
{
    struct err err;

    attr_fds_init(fds);
    proto_begin(rec, msg);
    attr_put_text(rec, PROTO_ATTR_QUEUE_ID, id);
    if (fd >= 0)
        attr_put_fd(rec, fds, PROTO_ATTR_QUEUE_FILE, fd);
    if (!attr_end(rec, &err))
        diag("record: %s", err.text);
}

static void
test_names(void)
{
    is_str(proto_msg_name(PROTO_QUEUE_OPEN), "queue_open", "names come from the list");
    is_int(proto_msg_lookup("deliver_rcpt"), PROTO_DELIVER_RCPT, "and back");
    is_int(proto_msg_lookup("no_such_message"), PROTO_NONE, "an unknown name is PROTO_NONE");
    is_str(proto_msg_name((enum proto_msg)9999), "none", "an out-of-range value has no name");
}

static void
test_decode(void)
{
    struct buf rec, id;
    struct attr_fds fds;
    struct err err;
    int fd = -1;
    const struct attr_spec spec[] = {
        {PROTO_ATTR_QUEUE_ID, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &id},
        {PROTO_ATTR_QUEUE_FILE, ATTR_FD, 0, &fd},
    };

    buf_init(&rec, 1024);
    buf_init(&id, 64);
    record(&rec, &fds, PROTO_QUEUE_COMMITTED, "01xXV5x0qyG07po00", -1);
    ok(PROTO_DECODE(&rec, 1024, &fds, PROTO_QUEUE_COMMITTED, spec, &err),
       "the message asked for decodes");
    is_str(buf_str(&id), "01xXV5x0qyG07po00", "with its attributes");

    record(&rec, &fds, PROTO_QUEUE_ABORTED, "01xXV5x0qyG07po00", dup(0));
    ok(!PROTO_DECODE(&rec, 1024, &fds, PROTO_QUEUE_COMMITTED, spec, &err),
       "another message is refused");
    like(err.text, "expected queue_committed, got queue_aborted", "saying what came");
    ok(fds.n == 0 && fd == -1, "and its descriptor is closed, not stored");

    buf_reset(&rec);
    attr_begin(&rec);
    attr_put_text(&rec, PROTO_ATTR_QUEUE_ID, "x");
    attr_end(&rec, &err);
    attr_fds_init(&fds);
    ok(!PROTO_DECODE(&rec, 1024, &fds, PROTO_QUEUE_COMMITTED, spec, &err),
       "a record without a msg attribute is refused");
    like(err.text, "unknown message", "as an unknown message");
    buf_free(&rec);
    buf_free(&id);
}

int
main(void)
{
    test_names();
    test_decode();
    return done_testing();
}
