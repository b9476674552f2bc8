/*
 * echo_clnt.c - the echo protocol's client stub and its one-request server side.
 *
 * Trusts: nothing the peer sends; replies are decoded against a table and the reply
 * must be the expected message. This file is the model for every client stub: the caller
 * passes values and gets values, and never sees attribute names or the wire.
 */
#include <stdio.h>
#include <string.h>

#include "core/attr.h"
#include "core/ipc.h"
#include "mail/proto.h"
#include "t/echo_clnt.h"

/* echo_receive - receive one record of message want and decode its text */
static bool
echo_receive(int sock, enum proto_msg want, struct buf *text, int timeout_ms, size_t limit,
             struct err *err)
{
    const struct attr_spec spec[] = {{PROTO_ATTR_TEXT, ATTR_STR, ATTR_REQUIRED, text}};
    struct attr_fds fds;
    struct buf rec;
    enum ipc_status status;
    bool good = false;

    buf_init(&rec, limit);
    if ((status = ipc_recv(sock, &rec, &fds, limit, timeout_ms, err)) == IPC_EOF)
        err_set(err, "connection closed before %s", proto_msg_name(want));
    else if (status == IPC_OK)
        good = PROTO_DECODE(&rec, limit, &fds, want, spec, err);
    buf_free(&rec);
    return good;
}

/* echo_send - send one msg + text record */
static bool
echo_send(int sock, enum proto_msg msg, const void *text, size_t len, int timeout_ms, size_t limit,
          struct err *err)
{
    struct buf rec;
    bool good;

    buf_init(&rec, limit);
    proto_begin(&rec, msg);
    attr_put_str(&rec, PROTO_ATTR_TEXT, text, len);
    good = attr_end(&rec, err) && ipc_send(sock, &rec, NULL, timeout_ms, err) == IPC_OK;
    buf_free(&rec);
    return good;
}

/* echo_clnt_call - send text, wait for it to come back into reply */
bool
echo_clnt_call(int sock, const char *text, struct buf *reply, int timeout_ms, size_t record_limit,
               struct err *err)
{
    return echo_send(sock, PROTO_ECHO_REQUEST, text, strlen(text), timeout_ms, record_limit, err) &&
           echo_receive(sock, PROTO_ECHO_REPLY, reply, timeout_ms, record_limit, err);
}

/* echo_serve_one - answer one echo request on sock */
bool
echo_serve_one(int sock, int timeout_ms, size_t record_limit, struct err *err)
{
    struct buf text;
    bool good;

    buf_init(&text, record_limit);
    good = echo_receive(sock, PROTO_ECHO_REQUEST, &text, timeout_ms, record_limit, err) &&
           echo_send(sock, PROTO_ECHO_REPLY, text.data, text.len, timeout_ms, record_limit, err);
    buf_free(&text);
    return good;
}
