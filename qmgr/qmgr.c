/*
 * qmgr.c - the queue manager: hands out queue files to receivers and commits them
 * durably (qmgr_session.c, qmgr_commit.c), recovers the queue at start (qmgr_recover.c),
 * and delivers what is in active/: resolution (qmgr_resolve.c), requests to the delivery
 * agents (qmgr_deliver.c), outcomes (qmgr_defer.c), the queue scans (qmgr_sched.c).
 *
 * Runs as mail_owner in the queue directory (the skeleton's chdir or chroot), one process
 * (master.cf: process limit 1). Trusts: its clients only as far as the skeleton's peer check says
 * they are receivers, and nothing they write into a queue file (queue_file.c checks it).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "qmgr/qmgr.h"
#include "server/server.h"

const char *const qmgr_dir_names[QMGR_DIR_COUNT] = {"incoming", "active",  "deferred",
                                                    "hold",     "corrupt", "spare"};

/* qmgr_open_dirs - a descriptor for each queue state directory */
static void
qmgr_open_dirs(struct qmgr *q)
{
    for (int d = 0; d < QMGR_DIR_COUNT; d++) {
        q->dir_fd[d] = open(qmgr_dir_names[d], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (q->dir_fd[d] < 0)
            log_fatal("open queue directory %s/%s: %m", q->ctx->params.queue_directory,
                      qmgr_dir_names[d]);
    }
}

/* qmgr_post_jail - state, directories, recovery: all before the first client */
static void
qmgr_post_jail(struct server_ctx *ctx)
{
    struct qmgr *q = xcalloc(1, sizeof(*q));

    ctx->app = q;
    q->ctx = ctx;
    qmgr_open_dirs(q);
    qmgr_orphan_init(q);
    qmgr_recover(q);
    qmgr_spare_init(q);
    qmgr_commit_init(q);
    qmgr_sched_init(q);
}

/* qmgr_on_exit - release what post_jail set up (sessions ended before this runs) */
static void
qmgr_on_exit(struct server_ctx *ctx)
{
    struct qmgr *q = ctx->app;

    if (q == NULL)
        return;
    qmgr_sched_free(q);
    qmgr_spare_free(q);
    qmgr_commit_free(q);
    qmgr_orphan_free(q);
    for (int d = 0; d < QMGR_DIR_COUNT; d++)
        close(q->dir_fd[d]);
    free(q);
    ctx->app = NULL;
}

/* qmgr_trigger - a wakeup from the master (fifo): scan deferred/ now */
static void
qmgr_trigger(struct server_ctx *ctx, const char *data, size_t len)
{
    qmgr_sched_scan(ctx->app);
}

static void
qmgr_service(struct server_ctx *ctx, int fd)
{
    qmgr_session_start(ctx->app, fd);
}

int
main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .name = "qmgr",
        .max_sessions = 1024,
        .unlimited = true,
        .post_jail = qmgr_post_jail,
        .service = qmgr_service,
        .trigger = qmgr_trigger,
        .on_exit = qmgr_on_exit,
    };

    return server_main(argc, argv, &ops);
}
