/* mail_queue_file.c - queue files round trip; every damaged or truncated file is refused */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/mem.h"
#include "mail/queue_file.h"
#include "t/tap.h"

#define BIG_CONTENT 150000 /* more than two content records */

static char *
tmp_path(const char *name)
{
    return xasprintf("%s/%s", tap_tmpdir(), name);
}

/* write_sample - a valid file with three recipients and size bytes of content */
static bool
write_sample(const char *path, size_t size, struct err *err)
{
    struct queue_envelope env = {
        .arrival = {1700000000, 123456},
        .sender = "sender@example.org",
        .ret = "HDRS",
        .envid = "QQ+2B314",
        .client_name = "mx.example.org",
        .client_addr = "192.0.2.1",
        .helo = "mx.example.org",
        .protocol = "ESMTPS",
    };
    struct queue_writer w;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    bool good;

    queue_writer_init(&w, fd, &env);
    queue_writer_rcpt(&w, "one@example.com", "SUCCESS,FAILURE", "rfc822;one@example.com");
    queue_writer_rcpt(&w, "two@example.com", NULL, NULL);
    queue_writer_rcpt(&w, "three@example.com", "NEVER", NULL);
    for (size_t i = 0; i < size; i++) {
        char c = (char)('a' + i % 26);
        queue_writer_content(&w, &c, 1);
    }
    good = queue_writer_finish(&w, err);
    queue_writer_free(&w);
    close(fd);
    return good;
}

static bool
slurp(const char *path, struct buf *out)
{
    char data[8192];
    ssize_t n;
    int fd = open(path, O_RDONLY);

    buf_init(out, BUF_UNLIMITED);
    while (fd >= 0 && (n = read(fd, data, sizeof(data))) > 0)
        buf_append(out, data, (size_t)n);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

static void
spit(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    if (fd < 0 || write(fd, data, len) != (ssize_t)len)
        diag("write %s: %s", path, strerror(errno));
    close(fd);
}

/* read_bytes - queue_file_read() over these bytes; the error text into err */
static bool
read_bytes(const void *data, size_t len, struct queue_envelope *env, struct err *err)
{
    char *path = tmp_path("damaged");
    int fd;
    bool good;

    spit(path, data, len);
    fd = open(path, O_RDONLY);
    good = queue_file_read(fd, env, err);
    close(fd);
    free(path);
    return good;
}

/* record_offset - where the index-th record (from 0) starts in a well-formed file */
static size_t
record_offset(const struct buf *b, int index, char *type)
{
    size_t off = 0;

    for (int i = 0; i < index; i++) {
        const unsigned char *p = (const unsigned char *)b->data + off;
        off += 5 + ((size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4]);
    }
    *type = b->data[off];
    return off;
}

static bool
collect(const char *data, size_t len, void *ctx)
{
    return buf_append(ctx, data, len);
}

static void
test_round_trip(void)
{
    char *path = tmp_path("sample");
    struct queue_envelope env;
    struct err err;
    struct buf content;
    bool same = true;
    int fd;

    ok(write_sample(path, BIG_CONTENT, &err), "a file is written");
    fd = open(path, O_RDONLY);
    if (!ok(queue_file_read(fd, &env, &err), "and read back")) {
        diag("%s", err.text);
        return;
    }
    ok(env.arrival.tv_sec == 1700000000 && env.arrival.tv_usec == 123456, "arrival time");
    is_str(env.sender, "sender@example.org", "sender");
    is_str(env.ret, "HDRS", "RET");
    is_str(env.body, "", "no body type written: \"\"");
    is_str(env.envid, "QQ+2B314", "ENVID");
    is_str(env.client_name, "mx.example.org", "client name");
    is_str(env.client_addr, "192.0.2.1", "client address");
    is_str(env.protocol, "ESMTPS", "protocol");
    is_int((long long)env.nrcpt, 3, "three recipients");
    is_str(env.rcpt[0].addr, "one@example.com", "first recipient");
    is_str(env.rcpt[0].notify, "SUCCESS,FAILURE", "its NOTIFY");
    is_str(env.rcpt[0].orcpt, "rfc822;one@example.com", "its ORCPT");
    is_str(env.rcpt[1].orcpt, "", "an absent ORCPT reads as empty");
    is_str(env.rcpt[2].addr, "three@example.com", "third recipient");
    ok(env.rcpt[2].status.state == QUEUE_RCPT_PENDING && !env.rcpt[2].status_torn,
       "recipients start pending");
    is_int((long long)env.size, BIG_CONTENT, "content size");
    buf_init(&content, BUF_UNLIMITED);
    ok(queue_file_content(fd, &env, collect, &content, &err), "content reads back");
    is_int((long long)content.len, BIG_CONTENT, "all of it");
    for (size_t i = 0; i < content.len && same; i++)
        same = content.data[i] == (char)('a' + i % 26);
    ok(same, "byte for byte");
    buf_free(&content);
    queue_envelope_free(&env);
    close(fd);
    free(path);
}

static void
test_truncation(void)
{
    char *path = tmp_path("small");
    struct queue_envelope env;
    struct err err;
    struct buf file;
    size_t refused = 0, named = 0;

    write_sample(path, 100, &err);
    slurp(path, &file);
    for (size_t len = 0; len < file.len; len++) {
        if (!read_bytes(file.data, len, &env, &err))
            refused++;
        named += strstr(err.text, "truncated") != NULL || strstr(err.text, "not a queue") != NULL;
    }
    is_int((long long)refused, (long long)file.len, "each of %zu truncation points is refused",
           file.len);
    is_int((long long)named, (long long)file.len, "each says it is truncated (or no queue file)");
    read_bytes(file.data, file.len - 3, &env, &err);
    like(err.text, "truncated at offset", "the error names the offset");
    buf_free(&file);
    free(path);
}

/* A change to a valid file and the error it must cause. */
struct damage {
    const char *what;
    int record;       /* which record to change, -1: append */
    size_t at;        /* byte within the record (0: type, 1-4: length, 5..: value) */
    const char *with; /* bytes written there */
    size_t len;
    const char *error;
};

static void
test_damage(void)
{
    static const struct damage cases[] = {
        {"unknown record type", 2, 0, "X", 1, "unknown record type 0x58"},
        {"length past the type's maximum", 2, 1, "\xff\xff\xff\xff", 4, "exceeds 1024"},
        {"length past the end of the file", 18, 1, "\0\0\xff\xff", 4, "truncated at offset"},
        {"wrong version", 0, 8, "\x02", 1, "unsupported queue file version 2"},
        {"no version record", 0, 0, "T", 1, "not a queue file"},
        {"short arrival record", 1, 4, "\x0b", 1, "has 11 bytes, not 12"},
        {"NUL in the sender", 2, 7, "\0", 1, "contains a NUL byte"},
        {"a second sender", 3, 0, "S", 1, "record 'S' repeated"},
        {"content among the envelope", 3, 0, "D", 1, "out of place"},
        {"end marker with a wrong size", -2, 12, "\x07", 1, "end marker says"},
        {"bytes after the end marker", -1, 0, "V", 1, "1 bytes after the end marker"},
    };
    char *path = tmp_path("small");
    struct queue_envelope env;
    struct err err;
    struct buf file;
    char type;

    write_sample(path, 100, &err);
    slurp(path, &file);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct damage *d = &cases[i];
        struct buf copy;

        buf_init(&copy, BUF_UNLIMITED);
        buf_append(&copy, file.data, file.len);
        if (d->record == -1)
            buf_append(&copy, d->with, d->len);
        else {
            size_t off = d->record == -2 ? file.len - 17 : record_offset(&file, d->record, &type);
            memcpy(copy.data + off + d->at, d->with, d->len);
        }
        ok(!read_bytes(copy.data, copy.len, &env, &err), "refused: %s", d->what);
        like(err.text, d->error, "  and says so");
        buf_free(&copy);
    }
    buf_free(&file);
    free(path);
}

/* fnv1a - the slot check, computed independently of queue_file.c */
static uint32_t
fnv1a(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* test_bad_slot - slots with a correct check but impossible contents are corrupt */
static void
test_bad_slot(void)
{
    static const struct {
        const char *what;
        size_t at;
        unsigned char value;
    } cases[] = {
        {"unknown state", 0, 'X'},
        {"notice that is no queue ID", 9, '/'},
        {"reason length past its field", 27, 201},
        {"bytes after the reason", 117, 'x'},
    };
    char *path = tmp_path("slot");
    struct queue_envelope env;
    struct err err;
    struct buf file;
    char type;

    write_sample(path, 10, &err);
    slurp(path, &file);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf copy;
        unsigned char *slot;
        uint32_t check;

        buf_init(&copy, BUF_UNLIMITED);
        buf_append(&copy, file.data, file.len);
        slot = (unsigned char *)copy.data + record_offset(&file, 12, &type) + 5;
        slot[cases[i].at] = cases[i].value;
        check = fnv1a(slot, 228);
        for (int b = 0; b < 4; b++)
            slot[228 + b] = (unsigned char)(check >> (24 - 8 * b));
        ok(type == 'Q' && !read_bytes(copy.data, copy.len, &env, &err), "refused: slot with %s",
           cases[i].what);
        like(err.text, "malformed status slot", "  and says so");
        buf_free(&copy);
    }
    buf_free(&file);
    free(path);
}

static void
test_status(void)
{
    char *path = tmp_path("status");
    struct queue_envelope env, again;
    struct err err;
    struct queue_rcpt_status deferred = {.state = QUEUE_RCPT_DEFERRED,
                                         .next_try = 1700003600,
                                         .reason = "4.4.1 connection timed out"};
    struct queue_rcpt_status delivered = {.state = QUEUE_RCPT_DELIVERED};
    struct queue_rcpt_status bad = {.state = '?'};
    struct stat before, after;
    struct buf file;
    int fd;

    write_sample(path, 10, &err);
    fd = open(path, O_RDWR);
    queue_file_read(fd, &env, &err);
    fstat(fd, &before);
    ok(queue_file_set_status(fd, &env.rcpt[1], &deferred, &err), "a deferral is recorded");
    ok(queue_file_set_status(fd, &env.rcpt[0], &delivered, &err), "a delivery is recorded");
    ok(!queue_file_set_status(fd, &env.rcpt[2], &bad, &err), "an unknown state is not");
    fstat(fd, &after);
    is_int((long long)after.st_size, (long long)before.st_size, "the file keeps its size");
    ok(queue_file_read(fd, &again, &err), "the file still reads");
    ok(again.rcpt[0].status.state == QUEUE_RCPT_DELIVERED, "first recipient delivered");
    ok(again.rcpt[1].status.state == QUEUE_RCPT_DEFERRED &&
           again.rcpt[1].status.next_try == 1700003600,
       "second deferred, with its next try");
    is_str(again.rcpt[1].status.reason, "4.4.1 connection timed out", "and its reason");
    ok(again.rcpt[2].status.state == QUEUE_RCPT_PENDING, "third still pending");
    queue_envelope_free(&again);
    close(fd);

    /* A slot whose write was cut short: its check fails, the recipient reads as pending. */
    slurp(path, &file);
    file.data[env.rcpt[1].status_offset + 20] ^= 0x55;
    ok(read_bytes(file.data, file.len, &again, &err), "a torn slot does not make the file corrupt");
    ok(again.rcpt[1].status_torn && again.rcpt[1].status.state == QUEUE_RCPT_PENDING,
       "it reads as pending and is marked torn");
    ok(again.rcpt[0].status.state == QUEUE_RCPT_DELIVERED, "other slots are unaffected");
    queue_envelope_free(&again);
    queue_envelope_free(&env);
    buf_free(&file);
    free(path);
}

static void
test_writer_errors(void)
{
    char *path = tmp_path("werr");
    char *long_addr = xmalloc(QUEUE_FILE_ADDR_MAX + 2);
    struct queue_envelope env = {.arrival = {1700000000, 0}, .sender = ""};
    struct err err;
    struct queue_writer w;
    int fd;

    memset(long_addr, 'a', QUEUE_FILE_ADDR_MAX + 1);
    long_addr[QUEUE_FILE_ADDR_MAX + 1] = 0;
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    queue_writer_init(&w, fd, &env);
    queue_writer_rcpt(&w, long_addr, NULL, NULL);
    ok(!queue_writer_finish(&w, &err), "an overlong recipient fails the file");
    like(err.text, "recipient longer than 1024 bytes", "  and says so");
    queue_writer_free(&w);
    close(fd);

    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    queue_writer_init(&w, fd, &env);
    ok(!queue_writer_finish(&w, &err), "a file without recipients is not finished");
    queue_writer_free(&w);
    close(fd);

    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    queue_writer_init(&w, fd, &env);
    queue_writer_content(&w, "x", 1);
    queue_writer_rcpt(&w, "late@example.com", NULL, NULL);
    ok(!queue_writer_finish(&w, &err), "a recipient after content is refused");
    queue_writer_free(&w);
    close(fd);

    fd = open("/dev/full", O_WRONLY);
    if (fd >= 0) {
        queue_writer_init(&w, fd, &env);
        queue_writer_rcpt(&w, "r@example.com", NULL, NULL);
        ok(!queue_writer_finish(&w, &err) && w.rec.errnum == ENOSPC,
           "a full disk fails the file with ENOSPC");
        queue_writer_free(&w);
        close(fd);
    }

    /* The null sender is valid and reads back as empty. */
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    queue_writer_init(&w, fd, &env);
    queue_writer_rcpt(&w, "r@example.com", NULL, NULL);
    ok(queue_writer_finish(&w, &err), "a bounce (null sender, no content) is written");
    queue_writer_free(&w);
    ok(queue_file_read(fd, &env, &err) && env.sender[0] == 0 && env.size == 0,
       "and reads back with an empty sender and no content");
    queue_envelope_free(&env);
    close(fd);
    free(long_addr);
    free(path);
}

/* write_notice - a notice about recipients 0 and 2 of ORIGIN */
static bool
write_notice(const char *path, char kind, struct err *err)
{
    uint32_t rcpt[] = {0, 2};
    struct queue_envelope env = {
        .arrival = {1700000000, 0},
        .sender = "",
        .body = "7BIT",
        .origin = {.kind = (enum queue_notice_kind)kind,
                   .id = "ABCDEFGHIJKLMNOPQ",
                   .rcpt = rcpt,
                   .nrcpt = 2},
    };
    struct queue_writer w;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    bool good;

    queue_writer_init(&w, fd, &env);
    queue_writer_rcpt(&w, "sender@example.org", NULL, NULL);
    queue_writer_content(&w, "Subject: x\r\n\r\nbody\r\n", 21);
    good = queue_writer_finish(&w, err);
    queue_writer_free(&w);
    close(fd);
    return good;
}

/* test_notice - the origin record and a slot's notice ID read back as written */
static void
test_notice(void)
{
    char *path = tmp_path("notice");
    struct queue_rcpt_status owed = {.state = QUEUE_RCPT_FAILED_NOTICE,
                                     .notice = "QRSTUVWXYZabcdefg",
                                     .reason = "5.1.1 unknown user"};
    struct queue_envelope env, again;
    struct err err;
    struct buf file;
    int fd;

    ok(write_notice(path, QUEUE_NOTICE_FAILURE, &err), "a notice is written");
    fd = open(path, O_RDWR);
    ok(queue_file_read(fd, &env, &err), "and reads");
    ok(env.origin.kind == QUEUE_NOTICE_FAILURE && strcmp(env.origin.id, "ABCDEFGHIJKLMNOPQ") == 0,
       "its origin: kind and queue ID");
    ok(env.origin.nrcpt == 2 && env.origin.rcpt[0] == 0 && env.origin.rcpt[1] == 2,
       "and the recipients it reports on");
    is_str(env.body, "7BIT", "the body type (BODY=) reads back");
    ok(queue_file_set_status(fd, &env.rcpt[0], &owed, &err), "a slot takes a notice ID");
    ok(queue_file_read(fd, &again, &err) && again.rcpt[0].status.state == 'B' &&
           strcmp(again.rcpt[0].status.notice, "QRSTUVWXYZabcdefg") == 0 &&
           strcmp(again.rcpt[0].status.reason, "5.1.1 unknown user") == 0,
       "and gives it back with its state and reason");
    queue_envelope_free(&again);
    queue_envelope_free(&env);
    close(fd);

    ok(write_notice(path, 'X', &err), "a notice of an unknown kind is written as asked");
    slurp(path, &file);
    ok(!read_bytes(file.data, file.len, &env, &err), "but refused when read");
    like(err.text, "malformed or repeated origin record", "  and says so");
    buf_free(&file);
    free(path);
}

int
main(void)
{
    test_round_trip();
    test_truncation();
    test_damage();
    test_bad_slot();
    test_status();
    test_writer_errors();
    test_notice();
    return done_testing();
}
