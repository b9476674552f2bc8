/*
 * qmgr_defer.c - one recipient's outcome: its state slot, its log line, its next try.
 *
 * A delivered or failed recipient whose message is removed right after (it was the last
 * one open, none was deferred, and no administrator's request may keep the file) needs no
 * slot write: the unlink records it. Every other
 * outcome is written into its slot (pwrite + fdatasync) before anything else happens, so
 * that after a crash only a delivery whose outcome was not yet written repeats.
 *
 * Next try: now + the message's age, kept between minimal_backoff_time and
 * maximal_backoff_time, which doubles the interval at each try (Postfix's rule). A
 * recipient deferred when the message is older than maximal_queue_lifetime fails instead.
 * A final outcome that owes the sender a notice is recorded 'B', 'S' or 'R' (qmgr_notice.c).
 *
 * Trusts: outcomes from agents only as deliver_reply_decode checked them; reasons are kept
 * bounded.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "mail/notice.h"
#include "qmgr/qmgr.h"

/* qmgr_seconds - Postfix's delay format: 2 decimals below 1 s, 1 below 10 s */
static void
qmgr_seconds(char *out, size_t size, double s)
{
    if (s < 0)
        s = 0;
    if (s >= 10)
        snprintf(out, size, "%.0f", s);
    else if (s >= 1)
        snprintf(out, size, "%.1f", s);
    else if (s >= 0.005)
        snprintf(out, size, "%.2f", s);
    else
        snprintf(out, size, "0");
}

/* qmgr_orig_to - ", orig_to=<...>" when the original recipient is another address */
static void
qmgr_orig_to(char *out, size_t size, const struct queue_rcpt *r)
{
    const char *o = r->orcpt;

    out[0] = 0;
    if (strncasecmp(o, "rfc822;", 7) == 0)
        o += 7;
    if (*o && strcasecmp(o, r->addr) != 0)
        snprintf(out, size, ", orig_to=<%s>", o);
}

/* qmgr_log - the Postfix-shaped delivery line */
static void
qmgr_log(struct qmgr_msg *m, size_t i, const struct deliver_result *res, const char *relay,
         const struct qmgr_times *t)
{
    double arrival = (double)m->env.arrival.tv_sec + (double)m->env.arrival.tv_usec / 1e6;
    double now = qmgr_now();
    double dispatch = t->dispatch ? t->dispatch : now;
    double connected = t->connected ? t->connected : dispatch;
    double done = t->done ? t->done : connected;
    char total[32], a[32], b[32], c[32], d[32], orig[QUEUE_FILE_ADDR_MAX + 32], use[32] = "";

    qmgr_seconds(total, sizeof(total), done - arrival);
    qmgr_seconds(a, sizeof(a), m->t_active - arrival);
    qmgr_seconds(b, sizeof(b), dispatch - m->t_active);
    qmgr_seconds(c, sizeof(c), connected - dispatch);
    qmgr_seconds(d, sizeof(d), done - connected);
    qmgr_orig_to(orig, sizeof(orig), &m->env.rcpt[i]);
    if (res->conn_use > 1) /* Postfix's: only when the connection was reused */
        snprintf(use, sizeof(use), ", conn_use=%u", res->conn_use);
    log_info("%s: to=<%s>%s, relay=%s%s, delay=%s, delays=%s/%s/%s/%s, dsn=%s, status=%s (%s)",
             m->id, m->env.rcpt[i].addr, orig, relay, use, total, a, b, c, d, res->dsn,
             deliver_status_word(res->status), res->reason);
}

/* qmgr_next_try - when a recipient deferred now is tried again */
int64_t
qmgr_next_try(struct qmgr *q, const struct qmgr_msg *m, time_t now)
{
    long age = (long)(now - m->env.arrival.tv_sec);
    long lo = q->ctx->params.minimal_backoff_time, hi = q->ctx->params.maximal_backoff_time;

    if (age < lo)
        age = lo;
    if (age > hi)
        age = hi > lo ? hi : lo;
    return (int64_t)now + age;
}

/*
 * qmgr_record - write a recipient's slot (the file is opened for it when not open). A state
 * that owes a notice is not synced here: the notice's mark rewrites the slot and syncs it
 * before the notice is committed (qmgr_notice.c), and until then a power cut at worst
 * brings back the recipient's previous state, whose delivery is tried again. That saves
 * one of the two fdatasyncs on qmgr's loop per failed recipient (W5, doc/bench.md).
 */
void
qmgr_record(struct qmgr *q, struct qmgr_msg *m, size_t i, const struct queue_rcpt_status *st)
{
    int fd =
        m->fd >= 0 ? m->fd : openat(q->dir_fd[QMGR_ACTIVE], m->id, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    struct err err;

    if (fd < 0)
        log_warn("%s: open active/%s to record an outcome: %m", m->id, m->id);
    else if (!queue_file_write_slot(fd, m->env.rcpt[i].status_offset, st, !notice_owed(st->state),
                                    &err))
        log_warn("%s: record the outcome of recipient %zu: %s", m->id, i, err.text);
    if (fd >= 0 && fd != m->fd)
        close(fd);
}

/* qmgr_expire - a deferral past maximal_queue_lifetime (bounce_queue_lifetime for mail
 * from the null sender: notices) becomes a bounce */
static void
qmgr_expire(struct qmgr *q, const struct qmgr_msg *m, struct deliver_result *res, time_t now)
{
    long life = *m->env.sender ? q->ctx->params.maximal_queue_lifetime
                               : q->ctx->params.bounce_queue_lifetime;
    char why[sizeof(res->reason)], dsn[sizeof(res->dsn)];

    if (res->status != DELIVER_DEFER || now - m->env.arrival.tv_sec < life)
        return;
    snprintf(why, sizeof(why), "%s", res->reason);
    snprintf(dsn, sizeof(dsn), "%s", res->dsn);
    deliver_set(res, DELIVER_BOUNCE, dsn, "message expired after %ld %s in the queue: %s",
                life % 86400 == 0 ? life / 86400 : life, life % 86400 == 0 ? "days" : "seconds",
                why);
}

/* qmgr_outcome - record, log and count one recipient's outcome */
void
qmgr_outcome(struct qmgr *q, struct qmgr_msg *m, size_t i, const struct deliver_result *outcome,
             const char *relay, const struct qmgr_times *t)
{
    struct queue_rcpt_status st = {0};
    struct deliver_result res = *outcome;
    time_t now = time(NULL);
    bool deferred;

    qmgr_expire(q, m, &res, now);
    deferred = res.status == DELIVER_DEFER;
    st.state = deferred ? QUEUE_RCPT_DEFERRED : qmgr_notice_state(q, m, i, &res);
    if (deferred) {
        st.next_try = qmgr_next_try(q, m, now);
        /* a delay warning is sent once: its ID stays in the slot */
        memcpy(st.notice, m->env.rcpt[i].status.notice, sizeof(st.notice));
        m->rcpt[i].delay_owed = notice_on_delay(&m->env, &m->env.rcpt[i], &q->ctx->params, now);
    }
    snprintf(st.reason, sizeof(st.reason), "%.15s %.180s", res.dsn, res.reason);
    m->notices += notice_owed(st.state);
    if (deferred || m->open > 1 || m->deferred > 0 || m->notices > 0 || m->admin != QMGR_ADMIN_NONE)
        qmgr_record(q, m, i, &st);
    qmgr_log(m, i, &res, relay, t);
    m->rcpt[i].state = st.state;
    m->rcpt[i].reported = false; /* a new state: what it owes is not reported yet */
    m->rcpt[i].done = true;
    m->open--;
    if (deferred) {
        m->deferred++;
        if (m->next_try == 0 || st.next_try < m->next_try)
            m->next_try = st.next_try;
    }
}
