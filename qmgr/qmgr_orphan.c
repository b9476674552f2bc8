/*
 * qmgr_orphan.c - uncommitted files that stay in incoming/ for a while before removal.
 *
 * queue_status answers "committed" for an ID that is in no queue directory: such a file was
 * committed and has finished (doc/queue.md, "After a crash"). That is only true if an
 * uncommitted file never leaves incoming/ while its receiver may still ask about it. A
 * receiver asks when it lost the answer to a commit, within seconds (smtpd: 10 s). So the
 * files whose receiver might ask are kept here for a while instead of being removed at once:
 * those found in incoming/ at start (an earlier qmgr died, perhaps during their commit),
 * those of a connection that ended on an error (a commit may have been in the unread part),
 * and those whose commit was refused in an answer that could not be sent. A timer removes each
 * between one and two QMGR_ORPHAN_MS after it came here, generation by generation.
 *
 * Trusts: the names it is given (queue IDs checked by the caller or read from incoming/).
 */
#include <errno.h>
#include <unistd.h>

#include "core/log.h"
#include "qmgr/qmgr.h"

/* Far longer than any receiver asks (smtpd: 10 s), short enough that nothing piles up. */
#define QMGR_ORPHAN_MS (5 * 60 * 1000)

/* qmgr_orphan_sweep - remove the older generation; the newer one becomes older */
static void
qmgr_orphan_sweep(void *arg)
{
    struct qmgr *q = arg;
    struct strvec swap;

    for (size_t i = 0; i < q->orphans_old.n; i++)
        if (unlinkat(q->dir_fd[QMGR_INCOMING], q->orphans_old.v[i], 0) < 0 && errno != ENOENT)
            log_warn("remove incoming/%s: %m", q->orphans_old.v[i]);
    if (q->orphans_old.n > 0)
        log_info("removed %zu uncommitted file%s from incoming/", q->orphans_old.n,
                 q->orphans_old.n == 1 ? "" : "s");
    strvec_free(&q->orphans_old);
    swap = q->orphans_old;
    q->orphans_old = q->orphans_new;
    q->orphans_new = swap;
}

/* qmgr_orphan_init - before recovery, which adds the files it finds in incoming/ */
void
qmgr_orphan_init(struct qmgr *q)
{
    strvec_init(&q->orphans_new);
    strvec_init(&q->orphans_old);
    q->orphan_timer = loop_timer_new(q->ctx->loop, qmgr_orphan_sweep, q);
    loop_timer_every(q->orphan_timer, QMGR_ORPHAN_MS);
}

/* qmgr_orphan_add - incoming/id is uncommitted and goes away in a few minutes */
void
qmgr_orphan_add(struct qmgr *q, const char *id)
{
    strvec_add(&q->orphans_new, id);
}

/* qmgr_orphan_is_old - was incoming/ untouched for longer than any receiver asks? */
bool
qmgr_orphan_is_old(time_t mtime, time_t now)
{
    return now - mtime > QMGR_ORPHAN_MS / 1000;
}

void
qmgr_orphan_free(struct qmgr *q)
{
    loop_timer_free(q->orphan_timer);
    strvec_free(&q->orphans_new);
    strvec_free(&q->orphans_old);
}
