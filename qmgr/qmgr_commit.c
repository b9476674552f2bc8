/*
 * qmgr_commit.c - group commit: one fsync of active/ covers every file renamed into it
 * since the last one, and each receiver hears "committed" only after that fsync returned.
 *
 * How commits batch: a commit renames its file and queues itself here. The fsync runs on a
 * helper thread (lib/core/offload.c), started from a zero-delay timer, which the event
 * loop fires after it has served every socket that was readable in the same round. While
 * one fsync is in flight, qmgr goes on serving (deliveries, opens, other commits); the
 * commits that arrive meanwhile wait for the next fsync, which starts as soon as this one
 * returned and covers them all. So the fsync rate is bounded by the disk, not by the
 * commit rate, and the event loop never waits for the disk.
 *
 * The file's own data was fsynced by the receiver (queue_writer_finish) before it sent
 * queue_commit; incoming/ is not synced after the rename, since a crash that brings the
 * old name back is resolved by recovery (doc/queue.md). Once on disk, each message is
 * handed to the delivery side (qmgr_sched_activate) at once.
 *
 * A receiver whose milter quarantined the message commits it to hold/ instead (queue_hold):
 * the same batch, whose sync then covers hold/ as well; a held message waits there for the
 * administrator's release, unannounced (Postfix's qmgr, too, logs it only when released).
 *
 * Trusts: the file the receiver wrote only after qmgr_validate read it through
 * queue_read.c's checks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/mem.h"
#include "core/offload.h"
#include "mail/proto.h"
#include "qmgr/qmgr.h"

struct qmgr_commit {
    struct qmgr_session *session;
    char id[QUEUE_ID_SIZE];
    char *log_line;
    bool hold; /* in hold/, not active/ */
    struct qmgr_commit *next;
};

static void qmgr_commit_synced(int err, void *arg);

/* qmgr_commit_sync_both - the job of a batch with a held file: active/, then hold/ */
static int
qmgr_commit_sync_both(void *data)
{
    const int *dir_fd = data;

    if (fsync(dir_fd[QMGR_ACTIVE]) < 0 || fsync(dir_fd[QMGR_HOLD]) < 0)
        return errno;
    return 0;
}

/* qmgr_commit_start - the commits waiting so far go into one fsync of active/, unless one
 * is in flight (its end starts the next) */
static void
qmgr_commit_start(void *arg)
{
    struct qmgr *q = arg;

    if (q->syncing != NULL || q->batch == NULL)
        return;
    q->syncing = q->batch;
    q->batch = NULL;
    q->batch_tail = &q->batch;
    if (q->batch_holds)
        q->sync_job =
            offload_call(q->offload, qmgr_commit_sync_both, q->dir_fd, NULL, qmgr_commit_synced, q);
    else
        q->sync_job = offload_fsync(q->offload, q->dir_fd[QMGR_ACTIVE], qmgr_commit_synced, q);
    q->batch_holds = false;
}

/* qmgr_commit_synced - active/ is on disk (or not): answer every commit the fsync covers */
static void
qmgr_commit_synced(int err, void *arg)
{
    struct qmgr *q = arg;
    struct qmgr_commit *c = q->syncing, *next;
    bool synced = err == 0;
    int n = 0;

    if (!synced)
        log_warn("fsync %s/active: %s", q->ctx->params.queue_directory, strerror(err));
    q->syncing = NULL;
    q->sync_job = NULL;
    for (; c != NULL; c = next, n++) {
        next = c->next;
        if (synced && !c->hold)
            log_info("%s", c->log_line);
        if (!c->session->gone)
            qmgr_session_reply(c->session, synced ? PROTO_QUEUE_COMMITTED : PROTO_QUEUE_REFUSED,
                               c->id, synced ? NULL : "queue directory fsync failed");
        qmgr_session_resume(c->session);
        if (synced && !c->hold) /* after the reply: the receiver need not wait for it */
            qmgr_sched_activate(q, c->id, false);
        free(c->log_line);
        free(c);
    }
    log_debug("group commit: %d file%s, one fsync of active/", n, n == 1 ? "" : "s");
    qmgr_commit_start(q);
}

void
qmgr_commit_init(struct qmgr *q)
{
    q->batch = NULL;
    q->batch_tail = &q->batch;
    q->sync_timer = loop_timer_new(q->ctx->loop, qmgr_commit_start, q);
    q->offload = offload_new(q->ctx->loop);
}

/* qmgr_commit_free - at exit: commits not answered stay unanswered (their files are in
 * active/, committed or not; the receivers will ask the next qmgr) */
void
qmgr_commit_free(struct qmgr *q)
{
    struct qmgr_commit *lists[2] = {q->syncing, q->batch};

    if (q->sync_job != NULL)
        offload_cancel(q->sync_job);
    offload_free(q->offload);
    for (int i = 0; i < 2; i++)
        for (struct qmgr_commit *c = lists[i], *next; c != NULL; c = next) {
            next = c->next;
            qmgr_session_resume(c->session); /* frees a session that ended meanwhile */
            free(c->log_line);
            free(c);
        }
    loop_timer_free(q->sync_timer);
}

/* qmgr_commit_add - a file now in active/ (or hold/) waits for the next directory fsync */
void
qmgr_commit_add(struct qmgr_session *s, const char *id, char *log_line, bool hold)
{
    struct qmgr *q = s->qmgr;
    struct qmgr_commit *c = xcalloc(1, sizeof(*c));

    c->session = s;
    memcpy(c->id, id, QUEUE_ID_SIZE);
    c->log_line = log_line;
    c->hold = hold;
    q->batch_holds |= hold;
    *q->batch_tail = c;
    q->batch_tail = &c->next;
    if (q->syncing == NULL && !loop_timer_pending(q->sync_timer))
        loop_timer_start(q->sync_timer, 0);
}
