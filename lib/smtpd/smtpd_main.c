/*
 * smtpd_main.c - the SMTP server daemon (smtpd and submission): per-process setup and the
 * skeleton's hooks; the role (struct smtpd_role) is the program's own.
 *
 * Runs as mail_owner in the queue directory; each accepted connection becomes a session
 * (smtpd_session.c) on the one event loop, up to smtpd_sessions_per_process at once. Trusts
 * main.cf and its tables; nothing a client sends. A table or restriction list that cannot
 * be opened is logged and makes every check that needs it answer 451 (as Postfix's
 * "unavailable" tables do), so a broken table never turns into a permit or a reject.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "server/server.h"
#include "smtpd/smtpd.h"

/* smtpd_post_jail - everything each session shares, built once */
static void
smtpd_post_jail(struct server_ctx *ctx)
{
    struct smtpd *smtpd = xcalloc(1, sizeof(*smtpd));

    smtpd->ctx = ctx;
    smtpd->role = ctx->role;
    smtpd->p = &ctx->params;
    ctx->app = smtpd;
    server_set_max_sessions(ctx, (int)ctx->params.smtpd_sessions_per_process);
    smtpd->qmgr_path = xstrdup("private/qmgr");
    smtpd->greeting = xasprintf("%s", ctx->params.smtpd_banner);
    smtpd_check_open(smtpd);
    smtpd_dns_init(smtpd);
    smtpd_anvil_init(smtpd);
    smtpd_tls_init(smtpd);
    smtpd_auth_init(smtpd);
    smtpd_milter_init(smtpd);
    smtpd->offload = offload_new(ctx->loop);
}

/* smtpd_on_exit - release what post_jail built (sessions ended before this runs) */
static void
smtpd_on_exit(struct server_ctx *ctx)
{
    struct smtpd *smtpd = ctx->app;

    if (smtpd == NULL)
        return;
    smtpd_check_close(smtpd);
    smtpd_dns_free(smtpd);
    smtpd_anvil_free(smtpd);
    smtpd_tls_free(smtpd);
    smtpd_auth_free(smtpd);
    smtpd_milter_free(smtpd);
    offload_free(smtpd->offload);
    free(smtpd->qmgr_path);
    free(smtpd->greeting);
    free(smtpd);
    ctx->app = NULL;
}

static void
smtpd_service(struct server_ctx *ctx, int fd)
{
    smtpd_session_start(ctx->app, fd);
}

/* smtpd_main - the whole daemon, in the role its program gives */
int
smtpd_main(int argc, char **argv, const struct smtpd_role *role)
{
    struct server_ops ops = {
        .name = role->name,
        .max_sessions = 1,
        .post_jail = smtpd_post_jail,
        .service = smtpd_service,
        .on_exit = smtpd_on_exit,
        .role = role,
    };

    return server_main(argc, argv, &ops);
}
