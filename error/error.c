/*
 * error.c - the error agent: qmgr's "error" transport (transport_maps "error:5.1.1 text")
 * fails every recipient of a request with the next hop's code and text, as Postfix's
 * error(8) does; run as the "retry" service it defers them instead. Nothing is delivered,
 * so nothing is marked in the queue file: qmgr records the outcome.
 *
 * Runs as mail_owner, one request per connection. Trusts: qmgr for the request's shape
 * (deliver_agent_read checks it) and the next hop only as text.
 */
#include <string.h>
#include <unistd.h>

#include "mail/deliver_req.h"
#include "server/server.h"

/* error_request - every recipient bounced (deferred, as "retry") with the next hop's words */
static void
error_request(void *arg, int sock, const struct deliver_req *req)
{
    struct server_ctx *ctx = arg;
    bool retry = ctx->service_name != NULL && strcmp(ctx->service_name, "retry") == 0;
    struct deliver_result res;

    deliver_reason(&res, retry ? DELIVER_DEFER : DELIVER_BOUNCE, req->nexthop,
                   retry ? "delivery temporarily suspended" : "mail for this address is refused");
    deliver_agent_reply_all(sock, (int)(ctx->params.ipc_timeout * 1000L), req, &res, "none");
}

static void
error_service(struct server_ctx *ctx, int fd)
{
    deliver_agent_serve(fd, (int)(ctx->params.ipc_timeout * 1000L), error_request, ctx);
    close(fd);
    server_session_done(ctx);
}

int
main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .name = "error",
        .max_sessions = 1,
        .service = error_service,
    };

    return server_main(argc, argv, &ops);
}
