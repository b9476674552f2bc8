/* core_record.c - the record writer of postern's files: framing, buffering, failures */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/record.h"
#include "t/tap.h"

/* written - the bytes in fd from its start */
static size_t
written(int fd, unsigned char *out, size_t size)
{
    ssize_t n = pread(fd, out, size, 0);

    return n < 0 ? 0 : (size_t)n;
}

static void
test_framing(void)
{
    unsigned char got[64];
    struct record_writer w;
    struct err err;
    int fd = memfd_create("record", MFD_CLOEXEC);

    record_writer_init(&w, fd, 16, "test file");
    record_writer_put(&w, 'A', "xyz", 3);
    ok(written(fd, got, sizeof(got)) == 0, "a record is buffered, not written at once");
    record_writer_put(&w, 'B', "0123456789", 10);
    ok(written(fd, got, sizeof(got)) == 8, "the buffer is written before it would pass its limit");
    ok(record_writer_flush(&w, &err) && written(fd, got, sizeof(got)) == 23,
       "flush writes the rest");
    ok(memcmp(got,
              "A\0\0\0\3xyzB\0\0\0\x0a"
              "0123456789",
              23) == 0,
       "type, four bytes of big-endian length, value");
    is_int((long long)be_get(got + 9, 4), 10, "be_get reads the length back");
    record_writer_put(&w, 'C', got, 40);
    ok(w.failed && strstr(w.err.text, "test file record 'C' too large") != NULL,
       "a record larger than the buffer fails, and says which");
    record_writer_put(&w, 'D', "d", 1);
    ok(!record_writer_flush(&w, &err) && strstr(err.text, "'C'") != NULL,
       "the first failure sticks, and flush reports it");
    ok(written(fd, got, sizeof(got)) == 23, "nothing was written after it");
    record_writer_free(&w);
    close(fd);
}

static void
test_write_error(void)
{
    struct record_writer w;
    struct err err;
    int fds[2];

    if (pipe(fds) < 0)
        return;
    record_writer_init(&w, fds[0], 64, "queue file"); /* the read end: write fails */
    record_writer_put(&w, 'A', "a", 1);
    ok(!record_writer_flush(&w, &err) && w.errnum == EBADF,
       "a failed write keeps its errno for the caller (EBADF here, ENOSPC on a full disk)");
    like(err.text, "queue file write: ", "and names the file");
    record_writer_free(&w);
    close(fds[0]);
    close(fds[1]);
}

int
main(void)
{
    test_framing();
    test_write_error();
    return done_testing();
}
