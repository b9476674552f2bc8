/*
 * tls_clnt.c - the receiver's side of the tlsproxy protocol (tls_clnt.h).
 *
 * Trusts: tlsproxy's result as far as tls_result_decode checks it. The connection is made
 * non-blocking from the start, so a tlsproxy that does not accept or answer costs the
 * session a failed STARTTLS, never a stuck process; a limit of the handshake's own timeout
 * plus a margin ends the wait if tlsproxy never answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ipc.h"
#include "core/mem.h"
#include "core/str.h"
#include "mail/proto.h"
#include "mail/tls_clnt.h"

#define TLS_CLNT_MARGIN_MS 5000 /* past the handshake timeout, tlsproxy is not answering */

struct tls_clnt {
    int sock;
    struct loop_fd *watch;
    struct loop_timer *timer;
    struct ipc_reader reader;
    tls_clnt_ready ready;
    tls_clnt_done done;
    void *arg;
    bool began; /* tls_ready came: tlsproxy owns the client's socket now */
    struct tls_result res;
    bool failed; /* res.reason is set: report it at the next turn of the loop */
};

static void
tls_clnt_free(struct tls_clnt *c)
{
    loop_fd_free(c->watch);
    loop_timer_free(c->timer);
    if (c->sock >= 0) {
        ipc_reader_free(&c->reader);
        close(c->sock);
    }
    free(c);
}

void
tls_clnt_cancel(struct tls_clnt *c)
{
    if (c != NULL)
        tls_clnt_free(c);
}

/* tls_clnt_finish - report and release; the plaintext socket goes to the caller on success */
static void
tls_clnt_finish(struct tls_clnt *c)
{
    tls_clnt_done done = c->done;
    void *arg = c->arg;
    struct tls_result res = c->res;
    bool began = c->began;
    int plain = -1;

    if (!c->failed && res.ok) {
        plain = c->sock;
        ipc_reader_free(&c->reader);
        c->sock = -1;
    }
    tls_clnt_free(c);
    done(arg, plain, &res, began);
}

static void
tls_clnt_fail(struct tls_clnt *c, const char *why)
{
    c->failed = true;
    c->res.ok = false;
    str_copy(c->res.reason, why, sizeof(c->res.reason));
}

/* tls_clnt_record - one record from tlsproxy: tls_ready (true: read on), or the result */
static bool
tls_clnt_record(struct tls_clnt *c)
{
    struct ipc_reader *r = &c->reader;
    struct err err;

    if (!c->began && proto_msg_of(&r->rec) == PROTO_TLS_READY) {
        const struct attr_spec none[1] = {{0}};
        bool good =
            proto_decode(&r->rec, TLS_RECORD_LIMIT, &r->fds, PROTO_TLS_READY, none, 0, &err);

        ipc_reader_reset(r);
        if (!good) {
            tls_clnt_fail(c, err.text);
            tls_clnt_finish(c);
            return false;
        }
        c->began = true;
        if (!c->ready(c->arg)) {
            tls_clnt_free(c);
            return false;
        }
        return true;
    }
    if (!tls_result_decode(&r->rec, &r->fds, &c->res, &err))
        tls_clnt_fail(c, err.text);
    else if (c->res.ok && !c->began)
        tls_clnt_fail(c, "tlsproxy: a handshake without tls_ready");
    ipc_reader_reset(r);
    tls_clnt_finish(c);
    return false;
}

static void
tls_clnt_readable(int fd, unsigned events, void *arg)
{
    struct tls_clnt *c = arg;
    struct err err;

    for (;;) {
        switch (ipc_reader_read(&c->reader, &err)) {
        case IPC_AGAIN:
            return;
        case IPC_OK:
            if (!tls_clnt_record(c))
                return;
            continue;
        case IPC_EOF:
            tls_clnt_fail(c, "tlsproxy closed the connection");
            break;
        default:
            tls_clnt_fail(c, err.text);
            break;
        }
        tls_clnt_finish(c);
        return;
    }
}

static void
tls_clnt_timer(void *arg)
{
    struct tls_clnt *c = arg;

    if (!c->failed)
        tls_clnt_fail(c, "tlsproxy did not answer in time");
    tls_clnt_finish(c);
}

/* tls_clnt_send - the request with its descriptor; a fresh socket has room for it */
static bool
tls_clnt_send(int sock, const struct tls_request *req, struct err *err)
{
    struct buf rec;
    struct attr_fds fds;
    bool good;

    buf_init(&rec, 256);
    attr_fds_init(&fds);
    good = tls_request_encode(&rec, &fds, req, err) &&
           ipc_send(sock, &rec, &fds, (int)TLS_CLNT_MARGIN_MS, err) == IPC_OK;
    buf_free(&rec);
    return good;
}

struct tls_clnt *
tls_clnt_server(struct loop *loop, const char *path, const struct tls_request *req,
                tls_clnt_ready ready, tls_clnt_done done, void *arg)
{
    struct tls_clnt *c = xcalloc(1, sizeof(*c));
    struct err err;

    c->ready = ready;
    c->done = done;
    c->arg = arg;
    c->timer = loop_timer_new(loop, tls_clnt_timer, c);
    c->sock = ipc_connect_nonblock(path, &err);
    if (c->sock >= 0)
        ipc_reader_init(&c->reader, c->sock, TLS_RECORD_LIMIT);
    if (c->sock < 0 || !tls_clnt_send(c->sock, req, &err)) {
        tls_clnt_fail(c, err.text);
        loop_timer_start(c->timer, 0);
        return c;
    }
    c->watch = loop_fd_add(loop, c->sock, LOOP_READ, tls_clnt_readable, c);
    loop_timer_start(c->timer, req->timeout * 1000 + TLS_CLNT_MARGIN_MS);
    return c;
}
