/* core_attr.c - attribute records round-trip, and every malformed record is refused */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/buf.h"
#include "t/tap.h"

#define LIMIT 4096

/* A record built by hand, for the malformed cases the encoder cannot produce. */
static size_t
raw_record(unsigned char *out, const void *body, size_t len)
{
    out[0] = (unsigned char)(len >> 24);
    out[1] = (unsigned char)(len >> 16);
    out[2] = (unsigned char)(len >> 8);
    out[3] = (unsigned char)len;
    memcpy(out + 4, body, len);
    return len + 4;
}

static bool
fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

static void
test_round_trip(void)
{
    static const char blob[] = "a\0b\0\xff";
    struct buf rec, s, t;
    struct attr_fds fds;
    struct err err;
    int64_t big = 0, neg = 0, absent = 42;
    int fd = -1, pipefd[2];

    if (pipe(pipefd) < 0)
        return;
    buf_init(&rec, LIMIT);
    attr_fds_init(&fds);
    attr_begin(&rec);
    attr_put_int(&rec, "big", INT64_MAX);
    attr_put_int(&rec, "neg", INT64_MIN);
    attr_put_str(&rec, "blob", blob, sizeof(blob));
    attr_put_text(&rec, "text", "hello");
    attr_put_fd(&rec, &fds, "pipe", pipefd[0]);
    ok(attr_end(&rec, &err), "record encodes");
    is_int((long long)fds.n, 1, "one descriptor to send");

    buf_init(&s, 64);
    buf_init(&t, 64);
    const struct attr_spec spec[] = {
        {"big", ATTR_INT, ATTR_REQUIRED, &big}, {"neg", ATTR_INT, ATTR_REQUIRED, &neg},
        {"blob", ATTR_STR, ATTR_REQUIRED, &s},  {"text", ATTR_STR, ATTR_TEXT, &t},
        {"pipe", ATTR_FD, ATTR_REQUIRED, &fd},  {"absent", ATTR_INT, 0, &absent},
    };
    ok(attr_decode(rec.data, rec.len, LIMIT, &fds, spec, 6, &err), "record decodes");
    ok(big == INT64_MAX && neg == INT64_MIN, "64-bit integers survive");
    ok(s.len == sizeof(blob) && memcmp(s.data, blob, sizeof(blob)) == 0,
       "string with NUL bytes survives");
    is_str(buf_str(&t), "hello", "text survives");
    is_int(fd, pipefd[0], "descriptor handed to its destination");
    is_int(absent, 42, "absent optional attribute leaves the default");
    is_int((long long)fds.n, 0, "descriptor list emptied");
    ok(fd_is_open(pipefd[0]), "claimed descriptor stays open");

    char name[16];
    ok(attr_peek_str(rec.data, rec.len, "text", name, sizeof(name)) && strcmp(name, "hello") == 0,
       "peek finds a text attribute");
    ok(!attr_peek_str(rec.data, rec.len, "blob", name, sizeof(name)), "peek refuses NUL bytes");
    close(pipefd[0]);
    close(pipefd[1]);
    buf_free(&rec);
    buf_free(&s);
    buf_free(&t);
}

static void
test_limits(void)
{
    struct buf rec, s;
    struct attr_fds fds;
    struct err err;
    char big[200];
    size_t total;

    memset(big, 'x', sizeof(big));
    buf_init(&rec, 100);
    attr_fds_init(&fds);
    attr_begin(&rec);
    attr_put_str(&rec, "big", big, sizeof(big));
    attr_put_int(&rec, "after", 1);
    ok(!attr_end(&rec, &err), "encoder refuses a record over its limit");
    like(err.text, "larger than 100", "and says why");

    attr_begin(&rec);
    for (int i = 0; i <= ATTR_MAX_FDS; i++)
        attr_put_fd(&rec, &fds, "fd", 0);
    ok(!attr_end(&rec, &err), "encoder refuses too many descriptors");
    buf_free(&rec);

    buf_init(&rec, 1000);
    attr_fds_init(&fds);
    attr_begin(&rec);
    attr_put_str(&rec, "big", big, sizeof(big));
    ok(attr_end(&rec, &err), "the same string fits a larger record");
    ok(attr_frame(rec.data, rec.len, 100, &total, &err) == ATTR_FRAME_BAD,
       "frame check refuses it against a smaller limit");
    like(err.text, "exceeds the limit of 100", "with a clear error");
    ok(attr_frame(rec.data, 3, 1000, &total, &err) == ATTR_FRAME_NEED, "partial header: need");
    ok(attr_frame(rec.data, 10, 1000, &total, &err) == ATTR_FRAME_NEED && total == rec.len,
       "partial body: need, total known");

    buf_init(&s, 100);
    const struct attr_spec spec[] = {{"big", ATTR_STR, ATTR_REQUIRED, &s}};
    ok(!attr_decode(rec.data, rec.len, 1000, &fds, spec, 1, &err),
       "string over its destination limit refused");
    like(err.text, "longer than 100", "with a clear error");
    ok(!attr_decode(rec.data, rec.len, 100, &fds, spec, 1, &err), "oversized record refused");
    buf_free(&rec);
    buf_free(&s);
}

/* Malformed bodies: each must be refused with the expected complaint. */
static void
test_malformed(void)
{
    static const struct {
        const char *what;
        const char *body;
        size_t len;
        const char *error;
    } cases[] = {
        {"missing required", "I\1n\0\0\0\0\0\0\0\1", 11, "required attribute \"req\""},
        {"duplicate", "I\3req\0\0\0\0\0\0\0\1I\3req\0\0\0\0\0\0\0\2", 26, "duplicate"},
        {"wrong type", "S\3req\0\0\0\1x", 10, "is a string, expected a int"},
        {"truncated int", "I\3req\0\0\0", 8, "runs past the end"},
        {"string length past end", "I\3req\0\0\0\0\0\0\0\1S\1s\0\0\1\0ab", 22, "runs past the end"},
        {"truncated name", "I\11re", 4, "truncated attribute"},
        {"empty name", "I\0\0\0\0\0\0\0\0\0", 10, "bad attribute name"},
        {"upper-case name", "I\3REQ\0\0\0\0\0\0\0\1", 13, "bad attribute name"},
        {"unknown type", "X\3req\0", 6, "unknown type 0x58"},
        {"text with NUL", "I\3req\0\0\0\0\0\0\0\1S\4text\0\0\0\2a\0", 25, "NUL byte"},
        {"descriptor missing", "I\3req\0\0\0\0\0\0\0\1F\2fd\0", 18, "which is missing"},
    };
    unsigned char rec[256];
    struct attr_fds fds;
    struct err err;
    int64_t req = -1;
    struct buf text;
    int fd = -1;

    buf_init(&text, 64);
    const struct attr_spec spec[] = {
        {"req", ATTR_INT, ATTR_REQUIRED, &req},
        {"text", ATTR_STR, ATTR_TEXT, &text},
        {"fd", ATTR_FD, 0, &fd},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = raw_record(rec, cases[i].body, cases[i].len);

        attr_fds_init(&fds);
        err.text[0] = 0;
        ok(!attr_decode(rec, len, LIMIT, &fds, spec, 3, &err), "refused: %s", cases[i].what);
        like(err.text, cases[i].error, "error for %s", cases[i].what);
    }
    is_int(req, -1, "nothing stored from refused records");

    size_t len = raw_record(rec, "I\3req\0\0\0\0\0\0\0\7", 13);
    ok(!attr_decode(rec, len - 1, LIMIT, &fds, spec, 3, &err), "truncated record refused");
    like(err.text, "truncated", "as truncated");
    rec[len] = 'Z';
    ok(!attr_decode(rec, len + 1, LIMIT, &fds, spec, 3, &err), "trailing garbage refused");
    like(err.text, "trailing garbage", "as trailing garbage");
    ok(attr_decode(rec, len, LIMIT, &fds, spec, 3, &err) && req == 7, "the intact record is ok");
    buf_free(&text);
}

static void
test_unknown_and_fds(void)
{
    struct buf rec;
    struct attr_fds fds;
    struct err err;
    int64_t req = 0;
    int keep = -1, p1[2], p2[2];

    if (pipe(p1) < 0 || pipe(p2) < 0)
        return;
    buf_init(&rec, LIMIT);
    attr_fds_init(&fds);
    attr_begin(&rec);
    attr_put_text(&rec, "future_string", "ignored");
    attr_put_int(&rec, "req", 5);
    attr_put_fd(&rec, &fds, "future_fd", p1[0]);
    attr_put_fd(&rec, &fds, "keep", p2[0]);
    ok(attr_end(&rec, &err), "encodes");

    const struct attr_spec spec[] = {
        {"req", ATTR_INT, ATTR_REQUIRED, &req},
        {"keep", ATTR_FD, ATTR_REQUIRED, &keep},
    };
    ok(attr_decode(rec.data, rec.len, LIMIT, &fds, spec, 2, &err), "unknown attributes skipped");
    is_int(req, 5, "known attribute after an unknown one");
    is_int(keep, p2[0], "known descriptor kept");
    ok(!fd_is_open(p1[0]), "descriptor of an unknown attribute closed");
    ok(fd_is_open(p2[0]), "known descriptor still open");

    /* A refused record closes every descriptor it came with. */
    int p3[2];
    if (pipe(p3) < 0)
        return;
    attr_fds_init(&fds);
    attr_begin(&rec);
    attr_put_fd(&rec, &fds, "keep", p3[0]);
    ok(attr_end(&rec, &err), "encodes");
    keep = -1;
    ok(!attr_decode(rec.data, rec.len, LIMIT, &fds, spec, 2, &err), "missing req: refused");
    ok(keep == -1 && !fd_is_open(p3[0]), "refused record: descriptor closed, not stored");

    close(p1[1]);
    close(p2[0]);
    close(p2[1]);
    close(p3[1]);
    buf_free(&rec);
}

int
main(void)
{
    test_round_trip();
    test_limits();
    test_malformed();
    test_unknown_and_fds();
    return done_testing();
}
