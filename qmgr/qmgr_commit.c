/*
 * qmgr_commit.c - group commit: one fsync of active/ covers every file renamed into it
 * since the last one, and each receiver hears "committed" only after that fsync returned.
 *
 * How commits batch: a commit renames its file and queues itself here; the sync runs
 * from a zero-delay timer, which the event loop fires after it has served every socket
 * that was readable in the same round. While the fsync blocks this process, further
 * commits wait in their sockets; the next round reads all of them and one more fsync
 * covers them all. So the fsync rate is bounded by the disk, not by the commit rate.
 *
 * The file's own data was fsynced by the receiver (queue_writer_finish) before it sent
 * queue_commit; incoming/ is not synced after the rename, since a crash that brings the
 * old name back is resolved by recovery (doc/queue.md). Once on disk, each message is
 * handed to the delivery side (qmgr_sched_activate) at once.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/mem.h"
#include "mail/proto.h"
#include "qmgr/qmgr.h"

struct qmgr_commit {
    struct qmgr_session *session;
    char id[QUEUE_ID_SIZE];
    char *log_line;
    struct qmgr_commit *next;
};

/* qmgr_commit_sync - fsync active/, then answer every commit it covers */
static void
qmgr_commit_sync(void *arg)
{
    struct qmgr *q = arg;
    struct qmgr_commit *c = q->batch, *next;
    bool synced = fsync(q->dir_fd[QMGR_ACTIVE]) == 0;
    int n = 0;

    if (!synced)
        log_warn("fsync %s/active: %m", q->ctx->params.queue_directory);
    q->batch = NULL;
    q->batch_tail = &q->batch;
    for (; c != NULL; c = next, n++) {
        next = c->next;
        if (synced)
            log_info("%s", c->log_line);
        if (!c->session->gone)
            qmgr_session_reply(c->session, synced ? PROTO_QUEUE_COMMITTED : PROTO_QUEUE_REFUSED,
                               c->id, synced ? NULL : "queue directory fsync failed");
        qmgr_session_resume(c->session);
        if (synced) /* after the reply: the receiver need not wait for the scheduling */
            qmgr_sched_activate(q, c->id, false);
        free(c->log_line);
        free(c);
    }
    log_debug("group commit: %d file%s, one fsync of active/", n, n == 1 ? "" : "s");
}

void
qmgr_commit_init(struct qmgr *q)
{
    q->batch = NULL;
    q->batch_tail = &q->batch;
    q->sync_timer = loop_timer_new(q->ctx->loop, qmgr_commit_sync, q);
}

/* qmgr_commit_add - a file now in active/ waits for the next directory fsync */
void
qmgr_commit_add(struct qmgr_session *s, const char *id, char *log_line)
{
    struct qmgr *q = s->qmgr;
    struct qmgr_commit *c = xcalloc(1, sizeof(*c));

    c->session = s;
    memcpy(c->id, id, QUEUE_ID_SIZE);
    c->log_line = log_line;
    *q->batch_tail = c;
    q->batch_tail = &c->next;
    if (!loop_timer_pending(q->sync_timer))
        loop_timer_start(q->sync_timer, 0);
}
