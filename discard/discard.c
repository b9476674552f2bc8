/*
 * discard.c - the discard agent: qmgr's "discard" transport (transport_maps "discard:" or
 * "discard:text") says every recipient of a request was delivered, with the next hop's text
 * (or its code and text) as the reason, and delivers nothing, as Postfix's discard(8) does.
 * Each recipient is marked in the queue file before qmgr hears of it, as every agent that
 * delivers does.
 *
 * Runs as mail_owner, one request per connection. Trusts: qmgr for the request's shape
 * (deliver_agent_read checks it) and the next hop only as text.
 */
#include <unistd.h>

#include "core/log.h"
#include "mail/deliver_req.h"
#include "mail/notice.h"
#include "mail/queue_file.h"
#include "server/server.h"

/* discard_mark - the recipient is done before qmgr hears it (a success notice still owed) */
static void
discard_mark(const struct deliver_req *req, const struct deliver_req_rcpt *rcpt)
{
    const struct queue_rcpt_status done = {
        .state = notice_delivered_state(req->sender, rcpt->notify, DELIVER_FINAL)};
    struct err err;

    if (rcpt->slot > 0 && !queue_file_write_slot(req->fd, rcpt->slot, &done, false, &err))
        log_warn("%s: mark <%s> discarded: %s", req->queue_id, rcpt->addr, err.text);
}

static void
discard_request(void *arg, int sock, const struct deliver_req *req)
{
    struct server_ctx *ctx = arg;
    struct deliver_result res;

    deliver_reason(&res, DELIVER_OK, req->nexthop, "discarded");
    for (size_t i = 0; i < req->nrcpt; i++)
        discard_mark(req, &req->rcpt[i]);
    deliver_agent_reply_all(sock, (int)(ctx->params.ipc_timeout * 1000L), req, &res, "none");
}

static void
discard_service(struct server_ctx *ctx, int fd)
{
    deliver_agent_serve(fd, (int)(ctx->params.ipc_timeout * 1000L), discard_request, ctx);
    close(fd);
    server_session_done(ctx);
}

int
main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .name = "discard",
        .max_sessions = 1,
        .service = discard_service,
    };

    return server_main(argc, argv, &ops);
}
