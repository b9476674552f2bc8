/*
 * qmgr_notice.c - notices to senders (doc/bounce.md): which outcomes owe one, the requests
 * to the bounce agent, and the commit that makes each notice happen exactly once.
 *
 * A final outcome that owes a notice is recorded 'B' (failed), 'S' (delivered) or 'R'
 * (relayed to a next hop without DSN) with an
 * empty notice ID. When the activation's deliveries are over, the recipients that owe one
 * go to the bounce agent, one request per kind, as a delivery to the "bounce" transport
 * whose next hop names the kind. The agent writes the notice as a new queue file whose
 * origin record names this message and those recipients, and commits it. At that commit,
 * before the rename, qmgr writes the notice's ID into each reported recipient's slot: from
 * then on the slot is final, since its notice is committed (the rename follows; a failed
 * rename or a crash before it leaves the notice in incoming/, and the marks are taken back:
 * qmgr_notice_unmark, here and at recovery). A second notice for a recipient already
 * marked is refused, so a bounce agent that repeats its work after a crash sends nothing
 * twice. The agent's own reply only ends the request.
 *
 * Trusts: a notice file only after queue_read.c checked it; its origin record names
 * recipients by index, each checked against the origin file and its state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "mail/notice.h"
#include "qmgr/qmgr.h"

/* qmgr_notice_state - the state a final outcome is recorded with */
enum queue_rcpt_state
qmgr_notice_state(struct qmgr *q, const struct qmgr_msg *m, size_t i,
                  const struct deliver_result *res)
{
    const struct queue_rcpt *r = &m->env.rcpt[i];

    if (res->status == DELIVER_OK)
        return notice_delivered_state(m->env.sender, r->notify, res->handoff);
    if (notice_on_failure(&m->env, r, &q->ctx->params) != QUEUE_NOTICE_NONE)
        return QUEUE_RCPT_FAILED_NOTICE;
    return QUEUE_RCPT_FAILED;
}

/* qmgr_notice_kind - the notice recipient i is owed now, or NONE */
static enum queue_notice_kind
qmgr_notice_kind(struct qmgr *q, const struct qmgr_msg *m, size_t i)
{
    if (m->rcpt[i].state == QUEUE_RCPT_DELIVERED_NOTICE ||
        m->rcpt[i].state == QUEUE_RCPT_RELAYED_NOTICE)
        return QUEUE_NOTICE_SUCCESS;
    if (m->rcpt[i].state == QUEUE_RCPT_DEFERRED)
        return m->rcpt[i].delay_owed ? QUEUE_NOTICE_DELAY : QUEUE_NOTICE_NONE;
    return notice_on_failure(&m->env, &m->env.rcpt[i], &q->ctx->params);
}

/* qmgr_notice_holds - recipient i owes a final notice that is not committed: the message
 * may not leave the queue (a delay warning holds nothing: the recipient is deferred
 * anyway, and a later try may make the warning moot) */
bool
qmgr_notice_holds(const struct qmgr_msg *m, size_t i)
{
    return notice_owed(m->rcpt[i].state) && !m->rcpt[i].reported;
}

/* qmgr_notice_due - recipient i owes a notice of any kind, delay warnings included */
static bool
qmgr_notice_due(const struct qmgr_msg *m, size_t i)
{
    return !m->rcpt[i].reported &&
           (notice_owed(m->rcpt[i].state) ||
            (m->rcpt[i].state == QUEUE_RCPT_DEFERRED && m->rcpt[i].delay_owed));
}

/* qmgr_notice_send - request the notices this activation owes and has not tried; true
 * if any request was queued */
bool
qmgr_notice_send(struct qmgr *q, struct qmgr_msg *m)
{
    static const enum queue_notice_kind kinds[] = {QUEUE_NOTICE_FAILURE, QUEUE_NOTICE_DOUBLE,
                                                   QUEUE_NOTICE_SUCCESS, QUEUE_NOTICE_DELAY};
    struct resolve_result res = {.status = RESOLVE_OK};
    char key[sizeof(res.transport) + sizeof(res.nexthop)];
    bool any = false;

    snprintf(res.transport, sizeof(res.transport), "%s", NOTICE_TRANSPORT);
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        snprintf(res.nexthop, sizeof(res.nexthop), "%s", notice_kind_name(kinds[k]));
        snprintf(key, sizeof(key), "%s:%s", res.transport, res.nexthop);
        for (size_t i = 0; i < m->env.nrcpt; i++) {
            if (!qmgr_notice_due(m, i) || m->rcpt[i].notice_tried)
                continue;
            if (qmgr_notice_kind(q, m, i) == QUEUE_NOTICE_NONE) {
                m->rcpt[i].reported = true; /* the policy changed since: nobody to tell */
                continue;
            }
            if (qmgr_notice_kind(q, m, i) != kinds[k])
                continue;
            m->rcpt[i].notice_tried = true;
            qmgr_deliver_add(q, m, &res, key, i, QUEUE_NOTICE_RCPT_MAX);
            any = true;
        }
    }
    if (any)
        qmgr_deliver_kick(q);
    return any;
}

/*
 * qmgr_notice_give_up - a notice that could not be written by the time the message is
 * maximal_queue_lifetime plus bounce_queue_lifetime old (no bounce service, a notice that
 * no agent accepts) is dropped, loudly: the recipient becomes final without it, so that no
 * message stays forever. Called when the activation's notices are over.
 */
void
qmgr_notice_give_up(struct qmgr *q, struct qmgr_msg *m)
{
    long limit = q->ctx->params.maximal_queue_lifetime + q->ctx->params.bounce_queue_lifetime;
    struct queue_rcpt_status st = {0};

    if (time(NULL) - m->env.arrival.tv_sec < limit)
        return;
    for (size_t i = 0; i < m->env.nrcpt; i++) {
        if (!qmgr_notice_holds(m, i))
            continue;
        st.state =
            m->rcpt[i].state == QUEUE_RCPT_FAILED_NOTICE ? QUEUE_RCPT_FAILED : QUEUE_RCPT_DELIVERED;
        snprintf(st.reason, sizeof(st.reason), "notice not written in time");
        qmgr_record(q, m, i, &st);
        log_warn("%s: the notice about <%s> to <%s> could not be written in %ld seconds; "
                 "dropped",
                 m->id, m->env.rcpt[i].addr, m->env.sender, limit);
        m->rcpt[i].state = st.state;
    }
}

/* qmgr_notice_origin - the reported message's file, read, from the first of the states
 * given where it is; -1 with err (errno ENOENT: in none of them) */
static int
qmgr_notice_origin(struct qmgr *q, const struct queue_notice_origin *o, const enum qmgr_dir *dirs,
                   size_t ndirs, struct queue_envelope *env, struct err *err)
{
    int fd = -1;

    errno = ENOENT;
    for (size_t d = 0; fd < 0 && errno == ENOENT && d < ndirs; d++)
        if ((fd = openat(q->dir_fd[dirs[d]], o->id, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0)
            err_set(err, "open %s/%s: %s", qmgr_dir_names[dirs[d]], o->id, strerror(errno));
    if (fd < 0)
        return -1;
    if (!queue_file_read(fd, env, err)) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

/* qmgr_notice_fits - every reported recipient exists, owes this kind and has no notice */
static bool
qmgr_notice_fits(const struct queue_notice_origin *o, const struct queue_envelope *env,
                 struct err *err)
{
    for (size_t k = 0; k < o->nrcpt; k++) {
        const struct queue_rcpt_status *st;

        if (o->rcpt[k] >= env->nrcpt)
            return err_set(err, "recipient %u of %s does not exist", o->rcpt[k], o->id);
        st = &env->rcpt[o->rcpt[k]].status;
        if (!notice_reports(o->kind, st))
            return err_set(err, "recipient %u of %s owes no such notice (state %c, notice %s)",
                           o->rcpt[k], o->id, st->state, *st->notice ? st->notice : "none");
    }
    return true;
}

/* qmgr_notice_write - set the notice ID of the reported slots (those that hold from, if
 * from is not NULL) to to, durably when sync; *n counts the slots changed */
static bool
qmgr_notice_write(int fd, const struct queue_notice_origin *o, const struct queue_envelope *env,
                  const char *from, const char *to, bool sync, size_t *n, struct err *err)
{
    *n = 0;
    for (size_t k = 0; k < o->nrcpt; k++) {
        const struct queue_rcpt *r = &env->rcpt[o->rcpt[k]];
        struct queue_rcpt_status st = r->status;

        if (from && strcmp(st.notice, from) != 0)
            continue;
        snprintf(st.notice, sizeof(st.notice), "%s", to);
        if (!queue_file_write_slot(fd, r->status_offset, &st, false, err))
            return false;
        (*n)++;
    }
    if (sync && *n > 0 && fdatasync(fd) < 0)
        return err_set(err, "fdatasync active/%s: %s", o->id, strerror(errno));
    return true;
}

/* qmgr_notice_memory - tell the message in memory, if it is there: its recipients are
 * reported once the notice is renamed into active/, not before (until then the message
 * must stay: a crash would take the marks back, and the notice is owed again) */
void
qmgr_notice_memory(struct qmgr *q, const struct queue_notice_origin *o, bool reported)
{
    struct qmgr_msg *m = qmgr_sched_find(q, o->id);

    for (size_t k = 0; m && k < o->nrcpt; k++)
        if (o->rcpt[k] < m->env.nrcpt)
            m->rcpt[o->rcpt[k]].reported = reported;
}

/*
 * qmgr_notice_mark - at the commit of notice nid, before its rename: mark what it reports.
 * The marks are written, not synced: the caller syncs the descriptor returned (off the
 * loop) before the rename. -1 (with why) refuses the commit. A write that fails half way
 * is not taken back here: qmgr stops, and recovery finds the notice complete in incoming/
 * and takes back every mark it made (qmgr_recover.c).
 */
int
qmgr_notice_mark(struct qmgr *q, const struct queue_notice_origin *o, const char *nid,
                 struct err *err)
{
    static const enum qmgr_dir active[] = {QMGR_ACTIVE};
    struct queue_envelope env;
    int fd = qmgr_notice_origin(q, o, active, 1, &env, err);
    size_t n;

    if (fd < 0)
        return -1;
    if (!qmgr_notice_fits(o, &env, err)) {
        close(fd);
        fd = -1;
    } else if (!qmgr_notice_write(fd, o, &env, NULL, nid, false, &n, err))
        log_fatal("%s: mark the recipients notice %s reports: %s", o->id, nid, err->text);
    queue_envelope_free(&env);
    return fd;
}

/*
 * qmgr_notice_unmark - notice nid will not be committed: its recipients owe it again. The
 * message may be anywhere a committed message can be (an administrator may have held it);
 * in none, it is gone and owes nothing. Any other failure stops qmgr: a mark left behind
 * would name a notice that never existed, and the recipient would never be reported.
 */
void
qmgr_notice_unmark(struct qmgr *q, const struct queue_notice_origin *o, const char *nid)
{
    static const enum qmgr_dir committed[] = {QMGR_ACTIVE, QMGR_DEFERRED, QMGR_HOLD};
    struct queue_envelope env;
    struct err err;
    int fd = qmgr_notice_origin(q, o, committed, 3, &env, &err);
    bool fits = fd >= 0;
    size_t n = 0;

    if (fd < 0 && errno == ENOENT)
        return;
    if (fd < 0)
        log_fatal("%s: take back notice %s: %s", o->id, nid, err.text);
    for (size_t k = 0; k < o->nrcpt; k++)
        fits &= o->rcpt[k] < env.nrcpt;
    if (!fits)
        log_warn("%s: take back notice %s: the file has fewer recipients", o->id, nid);
    else if (!qmgr_notice_write(fd, o, &env, nid, "", true, &n, &err))
        log_fatal("%s: take back notice %s: %s", o->id, nid, err.text);
    else if (n > 0) {
        log_info("%s: notice %s was not committed; it will be written again", o->id, nid);
        qmgr_notice_memory(q, o, false);
    }
    queue_envelope_free(&env);
    close(fd);
}
