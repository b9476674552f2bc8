/*
 * smtp_out.c - the SMTP delivery agent: delivers the requests qmgr sends over
 * $queue_directory/private/smtp (and relay, or any transport master.cf gives this program)
 * to the request's next hop. One request is one connection from qmgr and one SMTP
 * conversation; a process carries up to smtp_sessions_per_process of them at once on its
 * event loop (smtp_out_sess.c).
 *
 * Runs as mail_owner, after opening the SASL password tables as root (pre_jail). Never opens
 * a queue directory: the message comes as a descriptor in
 * the request. Trusts: qmgr (admitted by the skeleton's peer check) for the request, which
 * deliver_agent_read checks anyway; nothing the remote server sends (smtp_resp.c).
 */
#include <stdlib.h>

#include "core/mem.h"
#include "smtp-out/smtp_out.h"

/* smtp_out_pre_jail - as root: what smtp-out needs and mail_owner may not read (the SASL
 * password tables) */
static void
smtp_out_pre_jail(struct server_ctx *ctx)
{
    struct smtp_out *so = xcalloc(1, sizeof(*so));

    ctx->app = so;
    so->ctx = ctx;
    so->p = &ctx->params;
    smtp_out_sasl_init(so);
}

static void
smtp_out_post_jail(struct server_ctx *ctx)
{
    struct smtp_out *so = ctx->app;

    smtp_out_dns_init(so);
    smtp_out_tlspol_init(so);
    server_set_max_sessions(ctx, (int)ctx->params.smtp_sessions_per_process);
}

static void
smtp_out_on_exit(struct server_ctx *ctx)
{
    struct smtp_out *so = ctx->app;

    if (so == NULL)
        return;
    smtp_out_cache_free(so);
    smtp_out_dns_free(so);
    smtp_out_tlspol_free(so);
    smtp_out_sasl_free(so);
    free(so);
    ctx->app = NULL;
}

static void
smtp_out_service(struct server_ctx *ctx, int fd)
{
    smtp_out_sess_start(ctx->app, fd);
}

int
main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .name = "smtp-out",
        .max_sessions = 100,
        .pre_jail = smtp_out_pre_jail,
        .post_jail = smtp_out_post_jail,
        .service = smtp_out_service,
        .on_exit = smtp_out_on_exit,
    };

    return server_main(argc, argv, &ops);
}
