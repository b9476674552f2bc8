/*
 * smtpd_milter_conn.c - one milter's connection in one session, on the session's event
 * loop: a non-blocking connect, option negotiation, packets written as the socket takes
 * them, replies framed and parsed, and one timer for whatever is awaited (the connect and
 * the negotiation: connect_timeout; a request: the timeout its caller gives).
 *
 * Flow control: a packet the milter does not answer (SMFIP_NR_HDR, SMFIP_NR_BODY) is not
 * waited for, so a milter that stops reading would have smtpd queue the rest of the message
 * for it in memory. Once more than SMTPD_MCONN_OUT_HIGH octets wait to be written, the
 * send is held as if a reply were awaited (smtpd_mconn_send returns true) until the socket
 * has taken all but SMTPD_MCONN_OUT_LOW of them (on_drained); the caller's timeout runs
 * meanwhile, started again by each write that takes something, and its end is the
 * milter's failure. The output holds at most SMTPD_MCONN_OUT_HIGH and one packet.
 *
 * Nothing is sent before the negotiation ended: what a stage sends depends on the steps,
 * replies and macros the milter negotiated, so the owner starts the connection
 * (smtpd_mconn_start), hears on_ready once it is negotiated, and only then sends. Any error
 * (refused connect, timeout, EOF, a write error, a reply that does not frame or parse, a
 * negotiation that asks for what was not offered) closes the connection for the rest of
 * the session and is reported once through on_fail; the caller applies the milter's
 * default action. No callback runs after smtpd_mconn_close.
 *
 * Trusts: nothing the milter sends beyond milter_frame_feed's and milter_reply_parse's
 * checks (lib/mail/milter_codec.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "smtpd/smtpd_milter.h"

#define SMTPD_MCONN_READ     16384
#define SMTPD_MCONN_OUT_HIGH (64 * 1024)
#define SMTPD_MCONN_OUT_LOW  (16 * 1024)

static void smtpd_mconn_io(int fd, unsigned events, void *arg);

/* smtpd_mconn_fail - close, and tell the owner once why */
static void
smtpd_mconn_fail(struct smtpd_mconn *mc, const char *why)
{
    smtpd_mconn_close(mc);
    mc->on_fail(mc, why);
}

/* smtpd_mconn_timer - what was awaited did not come in time */
static void
smtpd_mconn_timer(void *arg)
{
    struct smtpd_mconn *mc = arg;
    char why[64];

    snprintf(why, sizeof(why), "%s timeout (%lds)",
             mc->state != MCONN_READY ? "connect"
             : mc->draining           ? "write"
                                      : "read",
             mc->wait_seconds);
    smtpd_mconn_fail(mc, why);
}

/* smtpd_mconn_want - the events the socket is watched for now */
static void
smtpd_mconn_want(struct smtpd_mconn *mc)
{
    unsigned events = LOOP_READ;

    if (mc->state == MCONN_CONNECTING || mc->out.len > 0)
        events |= LOOP_WRITE;
    loop_fd_set(mc->watch, events);
}

/* smtpd_mconn_progress - held output was written in part: wait on, or release the owner */
static void
smtpd_mconn_progress(struct smtpd_mconn *mc)
{
    if (mc->out.len > SMTPD_MCONN_OUT_LOW) {
        loop_timer_start(mc->timer, mc->wait_seconds * 1000);
        return;
    }
    mc->draining = false;
    loop_timer_stop(mc->timer);
    mc->on_drained(mc);
}

/* smtpd_mconn_flush - write what the socket takes; false after a failure (reported) */
static bool
smtpd_mconn_flush(struct smtpd_mconn *mc)
{
    size_t before = mc->out.len;

    while (mc->out.len > 0) {
        ssize_t n = send(mc->fd, mc->out.data, mc->out.len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        if (n <= 0) {
            char why[128];
            snprintf(why, sizeof(why), "write: %s", strerror(n < 0 ? errno : EPIPE));
            smtpd_mconn_fail(mc, why);
            return false;
        }
        buf_consume(&mc->out, (size_t)n);
    }
    smtpd_mconn_want(mc);
    if (mc->draining && mc->out.len < before)
        smtpd_mconn_progress(mc);
    return mc->state != MCONN_DEAD;
}

/* smtpd_mconn_open - start the connect (the first send does it) */
static void
smtpd_mconn_open(struct smtpd_mconn *mc)
{
    const struct milter_spec *spec = mc->spec;
    int fd;

    mc->wait_seconds = spec->set.connect_timeout;
    if (spec->addr_len == 0) {
        smtpd_mconn_fail(mc, "its address could not be resolved");
        return;
    }
    fd = milter_spec_socket(spec);
    if (fd < 0 || (connect(fd, (const struct sockaddr *)&spec->addr, spec->addr_len) < 0 &&
                   errno != EINPROGRESS && errno != EAGAIN)) {
        char why[128];
        snprintf(why, sizeof(why), "connect: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        smtpd_mconn_fail(mc, why);
        return;
    }
    mc->fd = fd;
    mc->state = MCONN_CONNECTING;
    mc->timer = loop_timer_new(mc->loop, smtpd_mconn_timer, mc);
    loop_timer_start(mc->timer, mc->wait_seconds * 1000);
    mc->watch = loop_fd_add(mc->loop, fd, LOOP_WRITE, smtpd_mconn_io, mc);
}

/* smtpd_mconn_connected - the connect finished: offer everything we do */
static void
smtpd_mconn_connected(struct smtpd_mconn *mc)
{
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    if (getsockopt(mc->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr != 0) {
        char why[128];
        snprintf(why, sizeof(why), "connect: %s", strerror(soerr));
        smtpd_mconn_fail(mc, why);
        return;
    }
    mc->state = MCONN_NEGOTIATE;
    milter_put_optneg(&mc->out, mc->spec->set.protocol, MILTER_ACT_ALL, MILTER_P_ALL);
    smtpd_mconn_flush(mc);
}

/* smtpd_mconn_negotiated - the answer to OPTNEG: keep what it took, tell the owner */
static void
smtpd_mconn_negotiated(struct smtpd_mconn *mc, const struct milter_reply *r)
{
    struct err err;

    if (!milter_optneg_check(r, MILTER_ACT_ALL, MILTER_P_ALL, &err)) {
        char why[600];
        snprintf(why, sizeof(why), "negotiation: %s", err.text);
        smtpd_mconn_fail(mc, why);
        return;
    }
    milter_optneg_keep(r, &mc->actions, &mc->protocol, mc->symlist);
    mc->state = MCONN_READY;
    loop_timer_stop(mc->timer);
    mc->on_ready(mc);
}

/* smtpd_mconn_packet - one framed packet; false if the connection is gone */
static bool
smtpd_mconn_packet(struct smtpd_mconn *mc)
{
    struct milter_reply r;
    struct err err;

    if (!milter_reply_parse(&mc->frame.packet, &r, &err)) {
        char why[600];
        snprintf(why, sizeof(why), "bad reply: %s", err.text);
        smtpd_mconn_fail(mc, why);
        return false;
    }
    if (mc->state == MCONN_NEGOTIATE) {
        smtpd_mconn_negotiated(mc, &r);
        return mc->state == MCONN_READY;
    }
    if (!mc->waiting) {
        smtpd_mconn_fail(mc, "a reply nobody asked for");
        return false;
    }
    if (r.cmd == MILTER_REPLY_PROGRESS) {
        loop_timer_start(mc->timer, mc->wait_seconds * 1000);
        return true;
    }
    mc->on_reply(mc, &r);
    return mc->state == MCONN_READY;
}

/* smtpd_mconn_read - what the milter sent, packet by packet */
static void
smtpd_mconn_read(struct smtpd_mconn *mc)
{
    char in[SMTPD_MCONN_READ];
    ssize_t n = recv(mc->fd, in, sizeof(in), 0);
    size_t at = 0;
    struct err err;

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        smtpd_mconn_fail(mc, n == 0 ? "the milter closed the connection" : strerror(errno));
        return;
    }
    while (at < (size_t)n) {
        size_t used;
        enum milter_frame_status st =
            milter_frame_feed(&mc->frame, in + at, (size_t)n - at, &used, &err);
        at += used;
        if (st == MILTER_FRAME_ERROR) {
            char why[600];
            snprintf(why, sizeof(why), "bad reply: %s", err.text);
            smtpd_mconn_fail(mc, why);
            return;
        }
        if (st == MILTER_FRAME_DONE && !smtpd_mconn_packet(mc))
            return;
    }
}

static void
smtpd_mconn_io(int fd, unsigned events, void *arg)
{
    struct smtpd_mconn *mc = arg;

    (void)fd;
    if (mc->state == MCONN_CONNECTING) {
        smtpd_mconn_connected(mc);
        return;
    }
    if ((events & LOOP_WRITE) && !smtpd_mconn_flush(mc))
        return;
    if ((events & LOOP_READ) && mc->state != MCONN_DEAD)
        smtpd_mconn_read(mc);
}

void
smtpd_mconn_init(struct smtpd_mconn *mc, const struct milter_spec *spec, struct loop *loop,
                 void *owner, const struct smtpd_mconn_ops *ops)
{
    memset(mc, 0, sizeof(*mc));
    mc->spec = spec;
    mc->loop = loop;
    mc->owner = owner;
    mc->on_ready = ops->ready;
    mc->on_reply = ops->reply;
    mc->on_fail = ops->fail;
    mc->on_drained = ops->drained;
    mc->fd = -1;
    buf_init(&mc->out, BUF_UNLIMITED);
    milter_frame_init(&mc->frame);
}

/* smtpd_mconn_start - connect and negotiate, within connect_timeout; on_ready follows */
void
smtpd_mconn_start(struct smtpd_mconn *mc)
{
    if (mc->state == MCONN_IDLE)
        smtpd_mconn_open(mc);
}

/*
 * smtpd_mconn_send - queue packets on a negotiated connection; with want_reply, one reply
 * is awaited for seconds. True if the caller waits: for that reply, or for the output to
 * drain (on_drained), within seconds either way. A dead connection reports nothing: the
 * caller checks the state.
 */
bool
smtpd_mconn_send(struct smtpd_mconn *mc, const struct buf *packets, bool want_reply, long seconds)
{
    if (mc->state != MCONN_READY)
        return false;
    mc->waiting = want_reply;
    mc->wait_seconds = seconds;
    buf_append(&mc->out, packets->data, packets->len);
    if (want_reply)
        loop_timer_start(mc->timer, seconds * 1000);
    if (!smtpd_mconn_flush(mc))
        return false;
    if (!want_reply && mc->out.len > SMTPD_MCONN_OUT_HIGH) {
        mc->draining = true;
        loop_timer_start(mc->timer, seconds * 1000);
    }
    return want_reply || mc->draining;
}

/* smtpd_mconn_post - queue a packet that is neither answered nor waited for (ABORT) */
void
smtpd_mconn_post(struct smtpd_mconn *mc, const struct buf *packets)
{
    if (mc->state != MCONN_READY)
        return;
    buf_append(&mc->out, packets->data, packets->len);
    smtpd_mconn_flush(mc);
}

/* smtpd_mconn_close - no more of this milter in this session; no callback after this */
void
smtpd_mconn_close(struct smtpd_mconn *mc)
{
    if (mc->fd >= 0) {
        loop_fd_free(mc->watch);
        close(mc->fd);
    }
    loop_timer_free(mc->timer);
    mc->timer = NULL;
    mc->watch = NULL;
    mc->fd = -1;
    mc->waiting = false;
    mc->draining = false;
    mc->state = MCONN_DEAD;
    buf_free(&mc->out);
}

void
smtpd_mconn_free(struct smtpd_mconn *mc)
{
    smtpd_mconn_close(mc);
    milter_frame_free(&mc->frame);
    milter_symlist_free(mc->symlist);
}
