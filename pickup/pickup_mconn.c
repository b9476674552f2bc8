/*
 * pickup_mconn.c - one milter's connection for pickup, blocking: connect within
 * connect_timeout, negotiate (everything offered, as smtpd offers it), then packets out and
 * replies in, each within the time the caller gives. pickup takes one maildrop file at a
 * time, and waits for its milters as Postfix's cleanup waits for them.
 *
 * Trusts: nothing the milter sends; the codec frames and parses every reply, and a read
 * never waits past its deadline nor takes more than one packet's limit.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/ipc.h"
#include "core/mem.h"
#include "pickup/pickup_milter.h"

static bool pickup_mconn_fail(struct pickup_mconn *mc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* pickup_mconn_fail - the connection is broken for why; false, for the caller to return */
static bool
pickup_mconn_fail(struct pickup_mconn *mc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(mc->why, sizeof(mc->why), fmt, ap);
    va_end(ap);
    if (mc->fd >= 0)
        close(mc->fd);
    mc->fd = -1;
    return false;
}

bool
pickup_mconn_send(struct pickup_mconn *mc, const struct buf *out, long seconds)
{
    long long deadline = ipc_now_ms() + seconds * 1000;
    size_t at = 0;

    while (at < out->len) {
        ssize_t n = send(mc->fd, out->data + at, out->len - at, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            at += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return pickup_mconn_fail(mc, "write: %s", strerror(errno));
        if (ipc_wait(mc->fd, POLLOUT, deadline, NULL) != IPC_OK)
            return pickup_mconn_fail(mc, "write timeout (%s)", "the milter does not read");
    }
    return true;
}

bool
pickup_mconn_read(struct pickup_mconn *mc, long seconds, struct milter_reply *r)
{
    long long deadline = ipc_now_ms() + seconds * 1000;
    struct err err;

    for (;;) {
        while (mc->in_at < mc->in_len) {
            size_t used;
            enum milter_frame_status st = milter_frame_feed(&mc->frame, mc->in + mc->in_at,
                                                            mc->in_len - mc->in_at, &used, &err);
            mc->in_at += used;
            if (st == MILTER_FRAME_ERROR)
                return pickup_mconn_fail(mc, "bad reply: %s", err.text);
            if (st != MILTER_FRAME_DONE)
                continue;
            if (!milter_reply_parse(&mc->frame.packet, r, &err))
                return pickup_mconn_fail(mc, "bad reply: %s", err.text);
            if (r->cmd != MILTER_REPLY_PROGRESS)
                return true;
            deadline = ipc_now_ms() + seconds * 1000;
        }
        if (ipc_wait(mc->fd, POLLIN, deadline, NULL) != IPC_OK)
            return pickup_mconn_fail(mc, "read timeout (%s)", "no answer in time");
        ssize_t n = recv(mc->fd, mc->in, sizeof(mc->in), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            continue;
        if (n <= 0)
            return pickup_mconn_fail(mc, "%s",
                                     n == 0 ? "the milter closed the connection" : strerror(errno));
        mc->in_len = (size_t)n;
        mc->in_at = 0;
    }
}

/* pickup_mconn_connect - a connected socket within connect_timeout */
static bool
pickup_mconn_connect(struct pickup_mconn *mc)
{
    const struct milter_spec *spec = mc->spec;
    long long deadline = ipc_now_ms() + spec->set.connect_timeout * 1000;
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    if (spec->addr_len == 0)
        return pickup_mconn_fail(mc, "%s", "its address could not be resolved");
    mc->fd = milter_spec_socket(spec);
    if (mc->fd < 0)
        return pickup_mconn_fail(mc, "socket: %s", strerror(errno));
    if (connect(mc->fd, (const struct sockaddr *)&spec->addr, spec->addr_len) == 0)
        return true;
    if (errno != EINPROGRESS && errno != EAGAIN)
        return pickup_mconn_fail(mc, "connect: %s", strerror(errno));
    if (ipc_wait(mc->fd, POLLOUT, deadline, NULL) != IPC_OK)
        return pickup_mconn_fail(mc, "connect: %s", "timed out");
    if (getsockopt(mc->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    return soerr == 0 || pickup_mconn_fail(mc, "connect: %s", strerror(soerr));
}

bool
pickup_mconn_open(struct pickup_mconn *mc, const struct milter_spec *spec)
{
    struct milter_reply r = {0};
    struct buf out;
    struct err err;
    bool sent;

    memset(mc, 0, sizeof(*mc));
    mc->spec = spec;
    mc->fd = -1;
    milter_frame_init(&mc->frame);
    if (!pickup_mconn_connect(mc))
        return false;
    buf_init(&out, BUF_UNLIMITED);
    milter_put_optneg(&out, spec->set.protocol, MILTER_ACT_ALL, MILTER_P_ALL);
    sent = pickup_mconn_send(mc, &out, spec->set.connect_timeout);
    buf_free(&out);
    if (!sent || !pickup_mconn_read(mc, spec->set.connect_timeout, &r))
        return false;
    if (!milter_optneg_check(&r, MILTER_ACT_ALL, MILTER_P_ALL, &err))
        return pickup_mconn_fail(mc, "negotiation: %s", err.text);
    milter_optneg_keep(&r, &mc->actions, &mc->protocol, mc->symlist);
    return true;
}

void
pickup_mconn_close(struct pickup_mconn *mc)
{
    if (mc->fd >= 0) { /* best effort, never waited for */
        struct buf quit;
        buf_init(&quit, 8);
        milter_put_simple(&quit, MILTER_CMD_QUIT);
        (void)send(mc->fd, quit.data, quit.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        buf_free(&quit);
        close(mc->fd);
    }
    mc->fd = -1;
    milter_frame_free(&mc->frame);
    milter_symlist_free(mc->symlist);
}
