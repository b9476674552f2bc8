/*
 * bounce.c - the bounce agent: qmgr's "bounce" transport. A request names a message (as a
 * descriptor of its queue file) and those of its recipients that owe their sender a notice
 * of one kind (the request's next hop: failure, success, 2bounce, delay). The agent writes one
 * notice about all of them as a new queue file, through qmgr's receiving protocol like any
 * receiver, with an origin record naming the message and the recipients. qmgr marks them
 * reported when it commits the notice (qmgr/qmgr_notice.c, doc/bounce.md): that commit,
 * not this agent's reply, is what makes the notice happen once.
 *
 * Runs as mail_owner, one request per connection, one connection at a time per process.
 * Trusts: qmgr for the request's shape (deliver_agent_read checks it anyway) and the queue
 * file as queue_read.c checked it; the original message only as text to return, never
 * interpreted beyond finding the end of its header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "bounce/bounce.h"
#include "core/ipc.h"
#include "core/log.h"
#include "core/mem.h"
#include "mail/notice.h"
#include "mail/qmgr_clnt.h"
#include "server/server.h"

#define BOUNCE_QMGR_MS 30000

/* bounce_select - the request's recipients that still owe this notice; false if one is
 * not a recipient of the message at all */
static bool
bounce_select(const struct deliver_req *req, const struct queue_envelope *env,
              enum queue_notice_kind kind, size_t *rcpt, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < req->nrcpt; i++) {
        long k = req->rcpt[i].index;

        if (k < 0 || (size_t)k >= env->nrcpt || env->rcpt[k].status_offset != req->rcpt[i].slot)
            return false;
        if (notice_reports(kind, &env->rcpt[k].status))
            rcpt[(*n)++] = (size_t)k;
    }
    return true;
}

/* bounce_write - the notice's envelope (from the null sender, to n->to, an origin record
 * of kind origin) and its content */
static void
bounce_write(struct queue_writer *w, int fd, const struct bounce_notice *n,
             enum queue_notice_kind origin, uint32_t *idx)
{
    struct queue_envelope env = {.sender = "",
                                 .client_name = "localhost",
                                 .client_addr = "127.0.0.1",
                                 .helo = "localhost",
                                 .protocol = "local"};

    /* The notice returns the message or its header as it is (8bit, bounce_compose.c): it is
     * 8BITMIME content when the message was (RFC 6152), so that smtp-out declares it. */
    if (strcmp(n->env->body, "8BITMIME") == 0)
        env.body = "8BITMIME";
    gettimeofday(&env.arrival, NULL);
    env.origin.kind = origin;
    memcpy(env.origin.id, n->req->queue_id, QUEUE_ID_SIZE);
    for (size_t i = 0; i < n->nrcpt; i++)
        idx[i] = (uint32_t)n->rcpt[i];
    env.origin.rcpt = idx;
    env.origin.nrcpt = n->nrcpt;
    queue_writer_init(w, fd, &env);
    queue_writer_rcpt(w, n->to, NULL, NULL);
    bounce_compose(w, n);
}

/* bounce_queue - one new message through qmgr: opened, written, committed; its ID in n->id */
static bool
bounce_queue(int sock, struct bounce_notice *n, enum queue_notice_kind origin, struct err *err)
{
    struct qmgr_reply opened, reply;
    struct queue_writer w;
    uint32_t *idx;
    bool good;

    if (qmgr_clnt_open(sock, BOUNCE_QMGR_MS, &opened) != QMGR_OK)
        return err_set(err, "%s", opened.why);
    memcpy(n->id, opened.id, QUEUE_ID_SIZE);
    idx = xreallocarray(NULL, n->nrcpt, sizeof(*idx));
    bounce_write(&w, opened.fd, n, origin, idx);
    good = queue_writer_finish(&w, err);
    queue_writer_free(&w);
    close(opened.fd);
    free(idx);
    if (good && qmgr_clnt_commit(sock, opened.id, BOUNCE_QMGR_MS, &reply) != QMGR_OK)
        good = err_set(err, "not committed: %s", reply.why);
    return good;
}

/* bounce_copy - the postmaster's copy (the header only), once the notice is committed;
 * informational: a crash before it loses it, and it is never reported on */
static void
bounce_copy(int sock, struct bounce_notice *n)
{
    const char *to = notice_copy_recipient(n->kind, n->p);
    char notice[QUEUE_ID_SIZE];
    struct err err;

    if (to == NULL || *to == 0)
        return;
    memcpy(notice, n->id, QUEUE_ID_SIZE);
    n->copy = true;
    n->to = to;
    if (bounce_queue(sock, n, QUEUE_NOTICE_COPY, &err))
        log_info("%s: postmaster copy of %s: %s", n->req->queue_id, notice, n->id);
    else
        log_warn("%s: postmaster copy of %s not written: %s", n->req->queue_id, notice, err.text);
}

/* bounce_submit - write the notice and commit it through qmgr, then the postmaster's copy */
static void
bounce_submit(struct bounce_notice *n, struct deliver_result *res)
{
    struct err err;
    int sock = qmgr_clnt_connect("private/qmgr", &err);

    if (sock < 0) {
        deliver_set(res, DELIVER_DEFER, "4.3.0", "notice not written: %s", err.text);
        return;
    }
    if (!bounce_queue(sock, n, n->kind, &err))
        deliver_set(res, DELIVER_DEFER, "4.3.0", "notice not written: %s", err.text);
    else {
        log_info("%s: %s: %s", n->req->queue_id, bounce_kind_log(n->kind), n->id);
        deliver_set(res, DELIVER_OK, "2.0.0", "notice %s", n->id);
        bounce_copy(sock, n);
    }
    close(sock);
}

/* bounce_request - one request: check it against the file, write the notice, answer */
static void
bounce_request(struct server_ctx *ctx, int sock, const struct deliver_req *req)
{
    struct bounce_notice n = {.p = &ctx->params, .req = req};
    struct queue_envelope env;
    struct deliver_result res;
    struct err err;
    size_t *rcpt = xreallocarray(NULL, req->nrcpt ? req->nrcpt : 1, sizeof(*rcpt));

    if (!notice_kind_parse(req->nexthop, &n.kind))
        deliver_set(&res, DELIVER_DEFER, "4.3.5", "unknown notice kind \"%s\"", req->nexthop);
    else if (req->fd < 0 || !queue_file_read(req->fd, &env, &err))
        deliver_set(&res, DELIVER_DEFER, "4.3.0", "cannot read the queue file: %s",
                    req->fd < 0 ? "none given" : err.text);
    else {
        n.env = &env;
        n.rcpt = rcpt;
        n.tmpl = bounce_template_for(ctx->app, n.kind);
        n.to = notice_recipient(n.kind, &env, &ctx->params);
        if (!bounce_select(req, &env, n.kind, rcpt, &n.nrcpt))
            deliver_set(&res, DELIVER_DEFER, "4.3.5", "request does not match the queue file");
        else if (n.nrcpt == 0)
            deliver_set(&res, DELIVER_OK, "2.0.0", "already reported");
        else
            bounce_submit(&n, &res);
        queue_envelope_free(&env);
    }
    deliver_agent_reply_all(sock, (int)(ctx->params.ipc_timeout * 1000L), req, &res, NULL);
    free(rcpt);
}

/* bounce_post_jail - the site's templates, if any; a bad file leaves the built-in text */
static void
bounce_post_jail(struct server_ctx *ctx)
{
    struct bounce_templates *bt = xcalloc(1, sizeof(*bt));
    const char *path = ctx->params.bounce_template_file;
    struct err err;

    ctx->app = bt;
    if (*path && !bounce_templates_load(bt, path, ctx->conf, &ctx->params, &err))
        log_warn("bounce_template_file %s: %s; the built-in text is used", path, err.text);
}

static void
bounce_on_exit(struct server_ctx *ctx)
{
    if (ctx->app == NULL)
        return;
    bounce_templates_free(ctx->app);
    free(ctx->app);
    ctx->app = NULL;
}

/* bounce_request_one - deliver_agent_serve's callback */
static void
bounce_request_one(void *arg, int sock, const struct deliver_req *req)
{
    bounce_request(arg, sock, req);
}

static void
bounce_service(struct server_ctx *ctx, int fd)
{
    deliver_agent_serve(fd, (int)(ctx->params.ipc_timeout * 1000L), bounce_request_one, ctx);
    close(fd);
    server_session_done(ctx);
}

int
main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .name = "bounce",
        .max_sessions = 1,
        .post_jail = bounce_post_jail,
        .service = bounce_service,
        .on_exit = bounce_on_exit,
    };

    return server_main(argc, argv, &ops);
}
