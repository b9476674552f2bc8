/*
 * ipc.c - send and receive one attribute record over a UNIX stream socket.
 *
 * Trusts: nothing from the peer. A record's announced length is checked against the
 * receiver's limit before any body byte is read, so an oversized record costs no memory;
 * a connection closed inside a record is an error, never a short record. Short reads and
 * writes, EINTR and EAGAIN are absorbed here; timeouts use poll() against a monotonic
 * deadline (no signals, no alarm()).
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/fdpass.h"
#include "core/ipc.h"
#include "core/log.h"

static enum ipc_status ipc_fail(struct err *err, enum ipc_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum ipc_status
ipc_fail(struct err *err, enum ipc_status status, const char *fmt, ...)
{
    va_list ap;

    if (err) {
        err->kind = status == IPC_TIMEOUT ? ERR_TIMEOUT : ERR_FAILED;
        va_start(ap, fmt);
        vsnprintf(err->text, sizeof(err->text), fmt, ap);
        va_end(ap);
    }
    return status;
}

long long
ipc_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum ipc_status
ipc_wait(int sock, short events, long long deadline, struct err *err)
{
    struct pollfd pfd = {.fd = sock, .events = events};
    int timeout;
    int n;

    for (;;) {
        timeout = -1;
        if (deadline >= 0) {
            long long left = deadline - ipc_now_ms();
            timeout = left <= 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : (int)left;
        }
        n = poll(&pfd, 1, timeout);
        if (n > 0)
            return IPC_OK;
        if (n == 0)
            return ipc_fail(err, IPC_TIMEOUT, "timed out waiting for the peer");
        if (errno != EINTR)
            return ipc_fail(err, IPC_ERROR, "poll: %s", strerror(errno));
    }
}

/* ipc_send - write one whole record, its descriptors riding on the first byte */
enum ipc_status
ipc_send(int sock, const struct buf *rec, const struct attr_fds *fds, int timeout_ms,
         struct err *err)
{
    long long deadline = timeout_ms < 0 ? -1 : ipc_now_ms() + timeout_ms;
    size_t done = 0;
    enum ipc_status status;

    if (rec->len < ATTR_HEADER_SIZE)
        log_panic("ipc_send: not a record (%zu bytes)", rec->len);
    while (done < rec->len) {
        size_t nfds = done == 0 && fds ? fds->n : 0;
        ssize_t n = fdpass_send(sock, rec->data + done, rec->len - done, fds ? fds->fd : NULL, nfds,
                                MSG_DONTWAIT);

        if (n > 0) {
            done += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if ((status = ipc_wait(sock, POLLOUT, deadline, err)) != IPC_OK)
                return status;
        } else {
            return ipc_fail(err, IPC_ERROR, "send: %s", n < 0 ? strerror(errno) : "no progress");
        }
    }
    return IPC_OK;
}

/* ipc_read_chunk - one recvmsg of up to want bytes into rec; IPC_OK when bytes came */
static enum ipc_status
ipc_read_chunk(int sock, struct buf *rec, size_t want, struct attr_fds *fds, struct err *err)
{
    char chunk[16384];
    size_t dropped = 0;
    ssize_t n;

    n = fdpass_recv(sock, chunk, want < sizeof(chunk) ? want : sizeof(chunk), fds, MSG_DONTWAIT,
                    &dropped);
    if (dropped)
        log_warn("ipc: closed %zu unexpected descriptor(s) from the peer", dropped);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return IPC_AGAIN;
    if (n < 0)
        return ipc_fail(err, IPC_ERROR, "receive: %s", strerror(errno));
    if (n == 0 && rec->len == 0)
        return ipc_fail(err, IPC_EOF, "connection closed by the peer");
    if (n == 0)
        return ipc_fail(err, IPC_ERROR, "truncated record: connection closed after %zu bytes",
                        rec->len);
    if (!buf_append(rec, chunk, (size_t)n))
        return ipc_fail(err, IPC_ERROR, "record larger than the receive buffer (%zu bytes)",
                        rec->limit);
    return IPC_OK;
}

/*
 * ipc_read_some - read toward a complete record in rec until it is complete (IPC_OK) or
 * the socket has nothing more (IPC_AGAIN). The header is read first and checked against
 * limit, then exactly the announced body: never a byte of the next record.
 */
static enum ipc_status
ipc_read_some(int sock, struct buf *rec, struct attr_fds *fds, size_t limit, struct err *err)
{
    enum ipc_status status;
    size_t total = 0;

    for (;;) {
        switch (attr_frame(rec->data, rec->len, limit, &total, err)) {
        case ATTR_FRAME_OK:
            return IPC_OK;
        case ATTR_FRAME_BAD:
            return IPC_ERROR;
        case ATTR_FRAME_NEED:
            break;
        }
        status = ipc_read_chunk(
            sock, rec, rec->len < ATTR_HEADER_SIZE ? ATTR_HEADER_SIZE - rec->len : total - rec->len,
            fds, err);
        if (status != IPC_OK)
            return status;
    }
}

/* ipc_recv - read one whole record (at most limit bytes) with its descriptors */
enum ipc_status
ipc_recv(int sock, struct buf *rec, struct attr_fds *fds, size_t limit, int timeout_ms,
         struct err *err)
{
    long long deadline = timeout_ms < 0 ? -1 : ipc_now_ms() + timeout_ms;
    enum ipc_status status;

    buf_reset(rec);
    attr_fds_init(fds);
    while ((status = ipc_read_some(sock, rec, fds, limit, err)) == IPC_AGAIN)
        if ((status = ipc_wait(sock, POLLIN, deadline, err)) != IPC_OK)
            break;
    if (status != IPC_OK) {
        attr_fds_close(fds);
        buf_reset(rec);
    }
    return status;
}

void
ipc_reader_init(struct ipc_reader *r, int sock, size_t limit)
{
    r->sock = sock;
    r->limit = limit;
    buf_init(&r->rec, limit);
    attr_fds_init(&r->fds);
}

/* ipc_reader_read - read what is there; IPC_OK once a whole record is buffered */
enum ipc_status
ipc_reader_read(struct ipc_reader *r, struct err *err)
{
    enum ipc_status status = ipc_read_some(r->sock, &r->rec, &r->fds, r->limit, err);

    if (status == IPC_ERROR || status == IPC_EOF)
        ipc_reader_reset(r);
    return status;
}

/* ipc_reader_decode - decode the buffered record and get ready for the next */
bool
ipc_reader_decode(struct ipc_reader *r, const struct attr_spec *spec, size_t nspec, struct err *err)
{
    bool good = attr_decode(r->rec.data, r->rec.len, r->limit, &r->fds, spec, nspec, err);

    buf_reset(&r->rec);
    return good;
}

void
ipc_reader_reset(struct ipc_reader *r)
{
    attr_fds_close(&r->fds);
    buf_reset(&r->rec);
}

void
ipc_reader_free(struct ipc_reader *r)
{
    ipc_reader_reset(r);
    buf_free(&r->rec);
}

/* ipc_connect_type - connect a socket of this type (flags included) to path */
static int
ipc_connect_type(const char *path, int type, struct err *err)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int sock;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        ipc_fail(err, IPC_ERROR, "socket path too long: %s", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    if ((sock = socket(AF_UNIX, type, 0)) < 0) {
        ipc_fail(err, IPC_ERROR, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(sock, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        ipc_fail(err, IPC_ERROR, "connect to %s: %s", path, strerror(errno));
        close(sock);
        return -1;
    }
    return sock;
}

/* ipc_connect - connect to a UNIX stream socket; -1 with err set on failure */
int
ipc_connect(const char *path, struct err *err)
{
    return ipc_connect_type(path, SOCK_STREAM | SOCK_CLOEXEC, err);
}

/* ipc_connect_nonblock - the same, non-blocking from the start: a server whose backlog is
 * full is an error at once (EAGAIN), never a wait */
int
ipc_connect_nonblock(const char *path, struct err *err)
{
    return ipc_connect_type(path, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, err);
}

/* ipc_peer_cred - who is on the other end of a UNIX socket, as the kernel saw it */
bool
ipc_peer_cred(int sock, struct ipc_cred *cred, struct err *err)
{
    struct ucred uc;
    socklen_t len = sizeof(uc);

    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0 || len != sizeof(uc)) {
        ipc_fail(err, IPC_ERROR, "SO_PEERCRED: %s", strerror(errno));
        return false;
    }
    cred->pid = uc.pid;
    cred->uid = uc.uid;
    cred->gid = uc.gid;
    return true;
}
