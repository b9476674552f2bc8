/* core_ipc.c - records and descriptors cross UNIX sockets whole, or not at all */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/buf.h"
#include "core/fdpass.h"
#include "core/ipc.h"
#include "t/tap.h"

#define LIMIT 4096

static int
count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    if (d == NULL)
        return -1;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

static void
make_pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        diag("socketpair failed");
        _exit(1);
    }
}

static void
build_text_record(struct buf *rec, const char *text)
{
    struct err err;

    attr_begin(rec);
    attr_put_text(rec, "text", text);
    attr_end(rec, &err);
}

static void
test_fd_crosses(void)
{
    int sv[2], p[2], got = -1;
    struct buf rec, text;
    struct attr_fds fds;
    struct err err;
    char back[8] = "";

    make_pair(sv);
    if (pipe(p) < 0)
        return;
    buf_init(&rec, LIMIT);
    buf_init(&text, 64);
    attr_fds_init(&fds);
    attr_begin(&rec);
    attr_put_text(&rec, "text", "take this");
    attr_put_fd(&rec, &fds, "pipe", p[1]);
    ok(attr_end(&rec, &err), "record with a descriptor");
    is_int(ipc_send(sv[0], &rec, &fds, 1000, &err), IPC_OK, "sent");
    close(p[1]);

    is_int(ipc_recv(sv[1], &rec, &fds, LIMIT, 1000, &err), IPC_OK, "received");
    const struct attr_spec spec[] = {
        {"text", ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &text},
        {"pipe", ATTR_FD, ATTR_REQUIRED, &got},
    };
    ok(attr_decode(rec.data, rec.len, LIMIT, &fds, spec, 2, &err), "decoded");
    is_str(buf_str(&text), "take this", "text arrived");
    ok(got >= 0, "a descriptor arrived");
    ok((fcntl(got, F_GETFD) & FD_CLOEXEC) != 0, "it is close-on-exec");
    ok(write(got, "hi", 2) == 2, "it is usable");
    close(got);
    ok(read(p[0], back, sizeof(back) - 1) == 2 && strcmp(back, "hi") == 0,
       "bytes came out of the original pipe");

    struct ipc_cred cred;
    ok(ipc_peer_cred(sv[1], &cred, &err) && cred.pid == getpid() && cred.uid == getuid(),
       "peer credentials are ours");
    close(p[0]);
    close(sv[0]);
    close(sv[1]);
    buf_free(&rec);
    buf_free(&text);
}

/* A peer that sends more descriptors than a record may carry, with a record naming one. */
static void
test_extra_fds(void)
{
    int sv[2], many[ATTR_MAX_FDS + 4], got = -1, before;
    struct buf rec;
    struct attr_fds fds;
    struct err err;
    int64_t n = 0;

    make_pair(sv);
    buf_init(&rec, LIMIT);
    attr_fds_init(&fds);
    attr_begin(&rec);
    attr_put_int(&rec, "n", 1);
    attr_put_fd(&rec, &fds, "one", 0);
    attr_end(&rec, &err);
    before = count_open_fds();
    for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
        many[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ok(fdpass_send(sv[0], rec.data, rec.len, many, ATTR_MAX_FDS, 0) == (ssize_t)rec.len,
       "peer sends the record with %d descriptors", ATTR_MAX_FDS);
    for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
        close(many[i]);
    is_int(count_open_fds(), before, "sender closed its copies");

    is_int(ipc_recv(sv[1], &rec, &fds, LIMIT, 1000, &err), IPC_OK, "received");
    is_int((long long)fds.n, ATTR_MAX_FDS, "all arrived");
    const struct attr_spec spec[] = {
        {"n", ATTR_INT, ATTR_REQUIRED, &n},
        {"one", ATTR_FD, ATTR_REQUIRED, &got},
    };
    ok(attr_decode(rec.data, rec.len, LIMIT, &fds, spec, 2, &err), "decoded");
    is_int(count_open_fds(), before + 1, "only the named descriptor is left open");
    close(got);

    /* More than ATTR_MAX_FDS in one message: the excess is closed on arrival. */
    int flood[ATTR_MAX_FDS + 4];
    for (size_t i = 0; i < sizeof(flood) / sizeof(flood[0]); i++)
        flood[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    struct attr_fds none;
    attr_fds_init(&none);
    size_t dropped = 0;
    char byte;
    /* fdpass_send() refuses to send more than ATTR_MAX_FDS: flood with sendmsg(). */
    {
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(flood))];
        } ctl;
        struct iovec iov = {.iov_base = "x", .iov_len = 1};
        struct msghdr m = {.msg_iov = &iov,
                           .msg_iovlen = 1,
                           .msg_control = ctl.buf,
                           .msg_controllen = sizeof(ctl.buf)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(flood));
        memcpy(CMSG_DATA(c), flood, sizeof(flood));
        ok(sendmsg(sv[0], &m, 0) == 1, "peer floods %zu descriptors",
           sizeof(flood) / sizeof(flood[0]));
    }
    for (size_t i = 0; i < sizeof(flood) / sizeof(flood[0]); i++)
        close(flood[i]);
    ok(fdpass_recv(sv[1], &byte, 1, &none, 0, &dropped) == 1, "flood received");
    is_int((long long)none.n, ATTR_MAX_FDS, "kept as many as a record may carry");
    is_int((long long)dropped, 4, "the excess is counted");
    attr_fds_close(&none);
    is_int(count_open_fds(), before, "and nothing leaks");
    close(sv[0]);
    close(sv[1]);
    buf_free(&rec);
}

/* A child writes a record one byte at a time; the reader must put it together. */
static void
test_slow_writer(void)
{
    int sv[2];
    struct buf rec, text;
    struct attr_fds fds;
    struct err err;
    pid_t pid;
    int status;

    make_pair(sv);
    buf_init(&rec, LIMIT);
    buf_init(&text, 64);
    build_text_record(&rec, "slowly but surely");
    if ((pid = fork()) == 0) {
        close(sv[1]);
        for (size_t i = 0; i < rec.len; i++) {
            if (write(sv[0], rec.data + i, 1) != 1)
                _exit(1);
            usleep(2000);
        }
        build_text_record(&rec, "second");
        if (write(sv[0], rec.data, rec.len) != (ssize_t)rec.len)
            _exit(1);
        _exit(0);
    }
    close(sv[0]);
    const struct attr_spec spec[] = {{"text", ATTR_STR, ATTR_REQUIRED, &text}};

    /* Incremental reading, as an event-driven server does. */
    struct ipc_reader r;
    enum ipc_status st;
    int again = 0;
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    ipc_reader_init(&r, sv[1], LIMIT);
    while ((st = ipc_reader_read(&r, &err)) == IPC_AGAIN) {
        again++;
        usleep(1000);
    }
    is_int(st, IPC_OK, "reader assembled the record");
    ok(again > 1, "across many partial reads (%d)", again);
    ok(ipc_reader_decode(&r, spec, 1, &err), "decoded");
    is_str(buf_str(&text), "slowly but surely", "content intact");

    is_int(ipc_recv(sv[1], &rec, &fds, LIMIT, 2000, &err), IPC_OK, "blocking receive");
    ok(attr_decode(rec.data, rec.len, LIMIT, &fds, spec, 1, &err), "decoded");
    is_str(buf_str(&text), "second", "next record intact");
    is_int(ipc_recv(sv[1], &rec, &fds, LIMIT, 2000, &err), IPC_EOF, "then EOF");
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer finished");
    ipc_reader_free(&r);
    close(sv[1]);
    buf_free(&rec);
    buf_free(&text);
}

static void
test_refusals(void)
{
    int sv[2];
    struct buf rec;
    struct attr_fds fds;
    struct err err;

    buf_init(&rec, 1 << 20);

    make_pair(sv);
    ok(write(sv[0], "\0\20\0\0", 4) == 4, "peer announces a 1 MiB record");
    is_int(ipc_recv(sv[1], &rec, &fds, LIMIT, 1000, &err), IPC_ERROR, "oversized refused");
    like(err.text, "exceeds the limit of 4096", "with a clear error");
    is_int((long long)rec.len, 0, "nothing kept");
    close(sv[0]);
    close(sv[1]);

    make_pair(sv);
    build_text_record(&rec, "cut short");
    ok(write(sv[0], rec.data, rec.len - 3) == (ssize_t)rec.len - 3, "peer sends part");
    close(sv[0]);
    is_int(ipc_recv(sv[1], &rec, &fds, LIMIT, 1000, &err), IPC_ERROR, "truncated refused");
    like(err.text, "truncated record", "with a clear error");
    close(sv[1]);

    make_pair(sv);
    is_int(ipc_recv(sv[1], &rec, &fds, LIMIT, 100, &err), IPC_TIMEOUT, "silence times out");
    build_text_record(&rec, "x");
    close(sv[1]);
    is_int(ipc_send(sv[0], &rec, NULL, 100, &err), IPC_ERROR, "send to a closed peer fails");
    close(sv[0]);
    buf_free(&rec);

    make_pair(sv);
    buf_init(&rec, 1 << 20);
    attr_begin(&rec);
    char *big = calloc(1, 1 << 19);
    attr_put_str(&rec, "big", big, 1 << 19);
    free(big);
    ok(attr_end(&rec, &err), "large record built");
    is_int(ipc_send(sv[0], &rec, NULL, 100, &err), IPC_TIMEOUT,
           "send to a peer that does not read times out");
    close(sv[0]);
    close(sv[1]);
    buf_free(&rec);
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_fd_crosses();
    test_extra_fds();
    test_slow_writer();
    test_refusals();
    return done_testing();
}
