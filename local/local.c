/*
 * local.c - the local delivery agent: delivers the requests qmgr sends over
 * $queue_directory/private/local (and, started as the "virtual" service, to virtual
 * mailboxes). One request per connection, one connection at a time per process; the master
 * runs as many processes as qmgr keeps connections open.
 *
 * Runs as root (master.cf: unprivileged n), because each write happens in a child that
 * becomes the recipient (local_priv.c). Never opens a queue directory: the message comes
 * as a descriptor in the request, open for writing only to mark recipients delivered.
 * Trusts: qmgr (the skeleton admitted it by its credentials) for the request's shape, which
 * deliver_agent_read checks anyway; nothing in the addresses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ipc.h"
#include "core/log.h"
#include "core/mem.h"
#include "local/local.h"
#include "mail/notice.h"
#include "mail/proto.h"
#include "mail/queue_file.h"

static void
local_post_jail(struct server_ctx *ctx)
{
    struct local *lc = xcalloc(1, sizeof(*lc));
    struct err err;

    ctx->app = lc;
    lc->ctx = ctx;
    lc->virtual_mode = strcmp(ctx->service_name, "virtual") == 0;
    if (!addr_domains_open(&lc->domains, &ctx->params, &err))
        log_warn("address classes: %s: deliveries that need them are deferred", err.text);
    if (lc->virtual_mode) {
        local_table_open(&lc->vmailbox, &ctx->params.virtual_mailbox_maps, "virtual_mailbox_maps");
        local_table_open(&lc->vuid, &ctx->params.virtual_uid_maps, "virtual_uid_maps");
        local_table_open(&lc->vgid, &ctx->params.virtual_gid_maps, "virtual_gid_maps");
    } else
        local_alias_open(lc);
}

static void
local_on_exit(struct server_ctx *ctx)
{
    struct local *lc = ctx->app;

    if (lc == NULL)
        return;
    local_workers_stop(lc);
    local_alias_close(lc);
    addr_domains_close(&lc->domains);
    local_table_close(&lc->vmailbox);
    local_table_close(&lc->vuid);
    local_table_close(&lc->vgid);
    free(lc);
    ctx->app = NULL;
}

/* local_reply - one recipient's status back to qmgr */
static bool
local_reply(struct local *lc, int fd, const struct deliver_req_rcpt *rcpt,
            const struct deliver_result *res)
{
    struct err err;

    if (deliver_agent_reply(fd, (int)(lc->ctx->params.ipc_timeout * 1000L), rcpt, res, &err))
        return true;
    log_warn("reply to qmgr: %s", err.text);
    return false;
}

/* local_recipient - deliver to one recipient: every destination it expands to */
static void
local_recipient(struct local *lc, struct local_msg *msg, const struct deliver_req_rcpt *rcpt,
                struct deliver_result *res)
{
    struct local_rcpt r = {.lc = lc, .msg = msg, .rcpt = rcpt};

    strvec_init(&r.seen);
    strvec_init(&r.visited);
    strvec_init(&r.chain);
    strvec_init(&r.remote);
    if (lc->virtual_mode)
        local_deliver_virtual(&r);
    else
        local_deliver_local(&r, rcpt->addr, 0);
    if (r.remote.n > 0)
        local_forward_remote(&r);
    if (!r.any)
        deliver_set(&r.res, DELIVER_DEFER, "4.3.0", "no destination for the recipient");
    *res = r.res;
    strvec_free(&r.seen);
    strvec_free(&r.visited);
    strvec_free(&r.chain);
    strvec_free(&r.remote);
}

/*
 * local_claim - lock the recipient's slot in the queue file, waiting for an agent that still
 * delivers it for a qmgr that was restarted since; true if it was delivered meanwhile.
 */
static bool
local_claim(const struct deliver_req *req, const struct deliver_req_rcpt *rcpt)
{
    struct queue_rcpt_status st;
    struct err err;

    if (rcpt->slot <= 0)
        return false;
    if (!queue_file_lock_slot(req->fd, rcpt->slot, &st, &err)) {
        log_warn("%s: <%s>: %s", req->queue_id, rcpt->addr, err.text);
        return false;
    }
    return st.state == QUEUE_RCPT_DELIVERED || st.state == QUEUE_RCPT_DELIVERED_NOTICE;
}

/*
 * local_mark_delivered - mark the recipient delivered in the queue file before saying so:
 * a qmgr that dies before it reads the reply sees the mark when it reads the file again
 * ('S' when the sender asked for a success notice: the restarted qmgr still owes it).
 */
static void
local_mark_delivered(const struct deliver_req *req, const struct deliver_req_rcpt *rcpt)
{
    const struct queue_rcpt_status done = {
        .state = notice_delivered_state(req->sender, rcpt->notify, DELIVER_FINAL)};
    struct err err;

    if (rcpt->slot > 0 && !queue_file_write_slot(req->fd, rcpt->slot, &done, false, &err))
        log_warn("%s: mark <%s> delivered: %s", req->queue_id, rcpt->addr, err.text);
}

/* local_request - one request: the content once, then each recipient */
static void
local_request(struct local *lc, int fd, const struct deliver_req *req)
{
    struct local_msg msg = {.fd = -1};
    struct deliver_result res, copy;
    bool have = local_content(req, &msg, &copy);

    for (size_t i = 0; i < req->nrcpt; i++) {
        if (local_claim(req, &req->rcpt[i]))
            deliver_set(&res, DELIVER_OK, "2.0.0", "already delivered");
        else if (have)
            local_recipient(lc, &msg, &req->rcpt[i], &res);
        else
            res = copy;
        if (res.status == DELIVER_OK)
            local_mark_delivered(req, &req->rcpt[i]);
        if (req->rcpt[i].slot > 0)
            queue_file_unlock_slot(req->fd, req->rcpt[i].slot);
        if (!local_reply(lc, fd, &req->rcpt[i], &res))
            break;
    }
    if (msg.fd >= 0)
        close(msg.fd);
}

/* local_service - read one request (blocking: this process serves one client), answer */
/* local_request_one - deliver_agent_serve's callback */
static void
local_request_one(void *arg, int sock, const struct deliver_req *req)
{
    local_request(arg, sock, req);
}

static void
local_service(struct server_ctx *ctx, int fd)
{
    deliver_agent_serve(fd, (int)(ctx->params.ipc_timeout * 1000L), local_request_one, ctx->app);
    close(fd);
    server_session_done(ctx);
}

int
main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .name = "local",
        .max_sessions = 1,
        .post_jail = local_post_jail,
        .service = local_service,
        .on_exit = local_on_exit,
    };

    return server_main(argc, argv, &ops);
}
