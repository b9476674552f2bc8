/*
 * server_status.c - status records to the master, and the stdin/stdout bridge of -S.
 *
 * A status record is one datagram on fd 3: {msg: status_ready|status_busy|status_idle,
 * pid}. Sending never blocks: if the master's socket is full the report is dropped, and
 * the next one corrects the picture. In stand-alone mode (-S) the session runs on a
 * socketpair whose far end is relayed to stdin and stdout, so the daemon's code sees the
 * same kind of descriptor as under the master.
 *
 * Trusts: nothing; it only writes. The master checks who sent each report (SO_PASSCRED).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/fdio.h"
#include "core/log.h"
#include "core/loop.h"
#include "mail/proto.h"
#include "server/server_status.h"

#define STATUS_RECORD_MAX 512

static int stdio_peer = -1; /* our end of the -S socketpair */
static struct loop_fd *stdin_watch;
static struct loop_fd *peer_watch;

void
server_status_send(int fd, enum proto_msg msg)
{
    struct buf rec;
    struct err err;

    if (fd < 0)
        return;
    buf_init(&rec, STATUS_RECORD_MAX);
    proto_begin(&rec, msg);
    attr_put_int(&rec, PROTO_ATTR_PID, getpid());
    if (!attr_end(&rec, &err))
        log_panic("status record: %s", err.text);
    if (send(fd, rec.data, rec.len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
        log_warn("status report to the master: %m");
    buf_free(&rec);
}

static void
stdio_from_stdin(int fd, unsigned events, void *ctx)
{
    char data[8192];
    ssize_t n = read(0, data, sizeof(data));

    if (n > 0 && fd_write_all(stdio_peer, data, (size_t)n))
        return;
    if (n < 0 && errno == EINTR)
        return;
    shutdown(stdio_peer, SHUT_WR);
    loop_fd_free(stdin_watch);
    stdin_watch = NULL;
}

static void
stdio_to_stdout(int fd, unsigned events, void *ctx)
{
    char data[8192];
    ssize_t n = read(stdio_peer, data, sizeof(data));

    if (n > 0 && fd_write_all(1, data, (size_t)n))
        return;
    if (n < 0 && errno == EINTR)
        return;
    loop_fd_free(peer_watch);
    peer_watch = NULL;
}

/* server_stdio_session - a socket for the one -S session, relayed to stdin and stdout */
int
server_stdio_session(struct server_ctx *ctx)
{
    int sp[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
        log_fatal("socketpair: %m");
    fcntl(sp[1], F_SETFL, O_NONBLOCK);
    stdio_peer = sp[0];
    stdin_watch = loop_fd_add(ctx->loop, 0, LOOP_READ, stdio_from_stdin, NULL);
    peer_watch = loop_fd_add(ctx->loop, stdio_peer, LOOP_READ, stdio_to_stdout, NULL);
    return sp[1];
}

/* server_stdio_drain - after the session: pass on what it wrote last */
void
server_stdio_drain(void)
{
    char data[8192];
    ssize_t n;

    if (stdio_peer < 0)
        return;
    while ((n = read(stdio_peer, data, sizeof(data))) > 0)
        if (!fd_write_all(1, data, (size_t)n))
            break;
    close(stdio_peer);
    stdio_peer = -1;
}
