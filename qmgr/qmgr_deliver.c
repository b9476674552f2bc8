/*
 * qmgr_deliver.c - delivery requests: per-destination queues, concurrency, agent replies.
 *
 * A destination is a transport and what its concurrency limit counts (qmgr_resolve.c).
 * Requests wait in their destination's queue in arrival order; as many of them are in
 * flight per destination as its window allows (lib/mail/dest_window.c: a slow start up to
 * <transport>_destination_concurrency_limit; a destination that the agent could not reach
 * for a whole cohort of requests is dead, and its requests are deferred at once until
 * minimal_backoff_time has passed or the administrator flushes the queue; a destination
 * with failures counted is kept while idle, for as long), and at
 * most default_process_limit per transport (the master's default process limit: more
 * connections than agents plus the listen backlog would make the connect block). A request is one
 * connection to $queue_directory/private/<transport> (the master starts another agent
 * process for each connection waiting), one deliver_request with the queue file as a
 * descriptor (open for writing: the agent marks what it delivered) and its recipients, then
 * one deliver_status per recipient, read on the event loop so
 * that the receiving side is never blocked. A recipient without a status when the
 * connection ends is deferred.
 *
 * Trusts: agents to report truthfully, not to be well-formed (deliver_reply_decode checks
 * each record, and a status for a recipient not in the request is ignored).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "mail/deliver_req.h"
#include "mail/dest_window.h"
#include "mail/notice.h"
#include "qmgr/qmgr.h"

struct qmgr_job {
    struct qmgr *q;
    struct qmgr_dest *dest;
    struct qmgr_msg *m;
    size_t *idx; /* recipients, as indexes in the queue file */
    size_t n;
    size_t answered;
    int fd;
    struct loop_fd *watch;
    struct ipc_reader reader;
    struct qmgr_times t;
    bool notice;  /* to the bounce agent: its commit, not its reply, records the outcome */
    bool reached; /* an answer came from the destination */
    struct deliver_result unreached; /* the agent's word when it could not reach it */
    struct qmgr_job *next;
};

#define QMGR_DEST_HASH 4096

/* A transport: how many requests it has in flight, against its process limit. */
struct qmgr_transport {
    char *name;
    long active;
    long limit;
    struct qmgr_transport *next;
};

struct qmgr_dest {
    struct qmgr *q;
    struct qmgr_transport *tp;
    struct qmgr_dest *hash_next;
    char *key;
    char *transport;
    char *nexthop;
    struct dest_window window;
    struct deliver_result suspended; /* while dead: what each request is answered */
    struct loop_timer *revive;       /* while dead: minimal_backoff_time */
    long rcpt_limit;
    long active;
    struct qmgr_job *head, *tail; /* waiting */
    struct qmgr_job *running;     /* in flight */
    struct qmgr_dest *next;
};

static unsigned
qmgr_dest_hash(const char *key)
{
    return str_hash(key) % QMGR_DEST_HASH;
}

/* qmgr_transport_get - a transport's counters, created on first use */
static struct qmgr_transport *
qmgr_transport_get(struct qmgr *q, const char *name)
{
    struct qmgr_transport *tp;

    for (tp = q->transports; tp; tp = tp->next)
        if (strcmp(tp->name, name) == 0)
            return tp;
    tp = xcalloc(1, sizeof(*tp));
    tp->name = xstrdup(name);
    tp->limit = q->ctx->params.default_process_limit;
    tp->next = q->transports;
    q->transports = tp;
    return tp;
}

/* qmgr_dest_get - the destination of key, created on first use */
static struct qmgr_dest *
qmgr_dest_get(struct qmgr *q, const struct resolve_result *res, const char *key, long rcpt_limit)
{
    unsigned h = qmgr_dest_hash(key);
    struct qmgr_dest *d;

    if (q->dest_hash == NULL)
        q->dest_hash = xcalloc(QMGR_DEST_HASH, sizeof(*q->dest_hash));
    for (d = q->dest_hash[h]; d; d = d->hash_next)
        if (strcmp(d->key, key) == 0)
            return d;
    d = xcalloc(1, sizeof(*d));
    d->q = q;
    d->tp = qmgr_transport_get(q, res->transport);
    d->key = xstrdup(key);
    d->transport = xstrdup(res->transport);
    d->nexthop = xstrdup(res->nexthop);
    d->rcpt_limit = rcpt_limit;
    dest_window_init(
        &d->window,
        qmgr_transport_param(q, res->transport, "initial_destination_concurrency",
                             q->ctx->params.initial_destination_concurrency),
        qmgr_transport_param(q, res->transport, "destination_concurrency_limit",
                             q->ctx->params.default_destination_concurrency_limit),
        qmgr_transport_param(q, res->transport, "destination_concurrency_failed_cohort_limit",
                             q->ctx->params.default_destination_concurrency_failed_cohort_limit));
    d->next = q->dests;
    q->dests = d;
    d->hash_next = q->dest_hash[h];
    q->dest_hash[h] = d;
    return d;
}

/* qmgr_dest_free - a destination with nothing waiting and nothing in flight */
static void
qmgr_dest_free(struct qmgr *q, struct qmgr_dest *d)
{
    struct qmgr_dest **pp = &q->dest_hash[qmgr_dest_hash(d->key)];

    while (*pp != d)
        pp = &(*pp)->hash_next;
    *pp = d->hash_next;
    if (d->revive)
        loop_timer_free(d->revive);
    free(d->key);
    free(d->transport);
    free(d->nexthop);
    free(d);
}

/* qmgr_deliver_add - queue recipient i: with the message's last request to the same
 * destination while that has room, else in a new request */
void
qmgr_deliver_add(struct qmgr *q, struct qmgr_msg *m, const struct resolve_result *res,
                 const char *key, size_t i, long rcpt_limit)
{
    struct qmgr_dest *d = qmgr_dest_get(q, res, key, rcpt_limit);
    struct qmgr_job *j = d->tail;

    if (j == NULL || j->m != m || j->n >= (size_t)d->rcpt_limit) {
        j = xcalloc(1, sizeof(*j));
        j->q = q;
        j->dest = d;
        j->m = m;
        j->fd = -1;
        j->notice = strcmp(d->transport, NOTICE_TRANSPORT) == 0;
        if (d->tail)
            d->tail->next = j;
        else
            d->head = j;
        d->tail = j;
        m->jobs++;
    }
    j->idx = xreallocarray(j->idx, j->n + 1, sizeof(*j->idx));
    j->idx[j->n++] = i;
    m->rcpt[i].busy = true;
}

/* qmgr_job_answered - the agent's word on recipient i: its outcome, or for a notice the
 * end of the request (the notice's commit marked it already, or it owes the notice still) */
static void
qmgr_job_answered(struct qmgr_job *j, size_t i, const struct deliver_result *res, const char *relay)
{
    j->m->rcpt[i].busy = false;
    if (!j->notice)
        qmgr_outcome(j->q, j->m, i, res, relay, &j->t);
    else if (!j->m->rcpt[i].reported)
        log_warn("%s: %s notice about <%s> not written: %s", j->m->id, j->dest->nexthop,
                 j->m->env.rcpt[i].addr, res->reason);
}

static void
qmgr_dest_revive(void *arg)
{
    struct qmgr_dest *d = arg;

    dest_window_revive(&d->window);
    qmgr_deliver_kick(d->q);
}

/* qmgr_dest_unreached - a request could not reach the destination. The destination is
 * remembered, failures counted, until minimal_backoff_time after the last one; once a whole
 * cohort failed it is dead, and its requests are answered with this one's reason. */
static void
qmgr_dest_unreached(struct qmgr_dest *d, const struct deliver_result *why)
{
    if (dest_window_failure(&d->window))
        deliver_set(&d->suspended, DELIVER_DEFER, why->dsn, "delivery temporarily suspended: %s",
                    why->reason);
    if (d->revive == NULL)
        d->revive = loop_timer_new(d->q->ctx->loop, qmgr_dest_revive, d);
    loop_timer_start(d->revive, d->q->ctx->params.minimal_backoff_time * 1000L);
}

/* qmgr_job_feedback - what a finished request says of its destination: reached, or, when
 * the agent said so, unreachable */
static void
qmgr_job_feedback(struct qmgr_job *j)
{
    if (j->notice || j->watch == NULL || j->answered == 0)
        return;
    if (j->reached)
        dest_window_success(&j->dest->window);
    else
        qmgr_dest_unreached(j->dest, &j->unreached);
}

/* qmgr_job_end - the request is over: unanswered recipients are deferred with dsn and why */
static void
qmgr_job_end(struct qmgr_job *j, const char *dsn, const char *why)
{
    struct qmgr *q = j->q;
    struct qmgr_msg *m = j->m;
    struct deliver_result res;

    if (j->t.done == 0)
        j->t.done = qmgr_now();
    qmgr_job_feedback(j);
    deliver_set(&res, DELIVER_DEFER, dsn, "%s", why);
    for (size_t k = 0; k < j->n; k++)
        if (m->rcpt[j->idx[k]].busy) {
            if (!j->notice && qmgr_admin_drop(m, j->idx[k]))
                m->rcpt[j->idx[k]].busy = false;
            else
                qmgr_job_answered(j, j->idx[k], &res, j->t.connected ? j->dest->transport : "none");
        }
    if (j->watch) {
        struct qmgr_job **pp = &j->dest->running;
        while (*pp != j)
            pp = &(*pp)->next;
        *pp = j->next;
        loop_fd_free(j->watch);
        ipc_reader_free(&j->reader);
        j->dest->active--;
        j->dest->tp->active--;
    }
    if (j->fd >= 0)
        close(j->fd);
    free(j->idx);
    free(j);
    m->jobs--;
    qmgr_sched_check(q, m);
}

/* qmgr_job_reply - one deliver_status */
static bool
qmgr_job_reply(struct qmgr_job *j)
{
    struct deliver_reply r;
    struct err err;
    bool good = deliver_reply_decode(&j->reader.rec, &j->reader.fds, &r, &err);

    ipc_reader_reset(&j->reader);
    if (!good) {
        log_warn("%s: reply from %s: %s", j->m->id, j->dest->transport, err.text);
        return false;
    }
    j->t.done = qmgr_now();
    for (size_t k = 0; k < j->n; k++)
        if ((long)j->idx[k] == r.index && j->m->rcpt[j->idx[k]].busy) {
            j->answered++;
            if (r.res.unreachable)
                j->unreached = r.res;
            else
                j->reached = true;
            qmgr_job_answered(j, j->idx[k], &r.res, *r.relay ? r.relay : j->dest->transport);
            return true;
        }
    log_warn("%s: %s reports on recipient %ld, which is not in its request", j->m->id,
             j->dest->transport, r.index);
    return true;
}

/* qmgr_job_readable - read replies; end the request when all are in or the agent left */
static void
qmgr_job_readable(int fd, unsigned events, void *arg)
{
    struct qmgr_job *j = arg;
    struct qmgr *q = j->q;
    struct err err;
    enum ipc_status st;
    char why[sizeof(err.text) + 64];

    while ((st = ipc_reader_read(&j->reader, &err)) == IPC_OK)
        if (!qmgr_job_reply(j) || j->answered == j->n)
            break;
    if (st == IPC_AGAIN && j->answered < j->n)
        return;
    snprintf(why, sizeof(why), "lost connection with the %s delivery agent%s%s", j->dest->transport,
             st == IPC_ERROR ? ": " : "", st == IPC_ERROR ? err.text : "");
    qmgr_job_end(j, "4.3.0", why);
    qmgr_deliver_run(q);
}

/* qmgr_job_send - the request, with a descriptor of the queue file */
static bool
qmgr_job_send(struct qmgr_job *j, struct err *err)
{
    struct qmgr_msg *m = j->m;
    struct deliver_req req = {.sender = m->env.sender,
                              .nexthop = j->dest->nexthop,
                              .arrival = m->env.arrival.tv_sec,
                              .offset = m->env.content_offset,
                              .size = (off_t)m->env.size};
    bool good;

    memcpy(req.queue_id, m->id, QUEUE_ID_SIZE);
    req.fd = openat(j->q->dir_fd[QMGR_ACTIVE], m->id, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (req.fd < 0) {
        return err_set(err, "open active/%s: %s", m->id, strerror(errno));
    }
    for (size_t k = 0; k < j->n; k++) {
        const struct queue_rcpt *r = &m->env.rcpt[j->idx[k]];
        deliver_req_add_rcpt(&req, (long)j->idx[k], r->status_offset, r->addr, r->orcpt, r->notify);
    }
    good = deliver_req_send(j->fd, &req, (int)(j->q->ctx->params.ipc_timeout * 1000L), err);
    req.sender = req.nexthop = NULL; /* borrowed */
    deliver_req_free(&req);
    return good;
}

/* qmgr_job_start - connect, send, then wait for the replies on the loop */
static void
qmgr_job_start(struct qmgr *q, struct qmgr_job *j)
{
    struct err err;
    char path[128], why[sizeof(err.text) + 64];

    j->t.dispatch = qmgr_now();
    if (j->m->admin != QMGR_ADMIN_NONE) { /* deleted, held or requeued meanwhile */
        qmgr_job_end(j, "4.3.0", "dropped by the administrator");
        return;
    }
    if (strchr(j->dest->transport, '/') || strcmp(j->dest->transport, "..") == 0 ||
        snprintf(path, sizeof(path), "private/%s", j->dest->transport) >= (int)sizeof(path)) {
        qmgr_job_end(j, "4.3.0", "mail transport unavailable: bad transport name");
        return;
    }
    if ((j->fd = ipc_connect(path, &err)) < 0) {
        snprintf(why, sizeof(why), "mail transport unavailable: %s", err.text);
        qmgr_job_end(j, "4.3.0", why);
        return;
    }
    j->t.connected = qmgr_now();
    if (!qmgr_job_send(j, &err)) {
        snprintf(why, sizeof(why), "delivery request to %s failed: %s", j->dest->transport,
                 err.text);
        qmgr_job_end(j, "4.3.0", why);
        return;
    }
    fcntl(j->fd, F_SETFL, fcntl(j->fd, F_GETFL) | O_NONBLOCK);
    ipc_reader_init(&j->reader, j->fd, DELIVER_REPLY_LIMIT);
    j->watch = loop_fd_add(q->ctx->loop, j->fd, LOOP_READ, qmgr_job_readable, j);
    j->dest->active++;
    j->dest->tp->active++;
    j->next = j->dest->running;
    j->dest->running = j;
}

/* qmgr_dest_pop - the destination's next waiting request, taken off its queue */
static struct qmgr_job *
qmgr_dest_pop(struct qmgr_dest *d)
{
    struct qmgr_job *j = d->head;

    d->head = j->next;
    if (d->head == NULL)
        d->tail = NULL;
    j->next = NULL;
    return j;
}

/* qmgr_deliver_run - start what the concurrency limits allow, answer what waits for a dead
 * destination; drop idle destinations (a dead one stays, to be remembered) */
void
qmgr_deliver_run(struct qmgr *q)
{
    struct qmgr_dest **pp = &q->dests;

    while (*pp) {
        struct qmgr_dest *d = *pp;

        d->active++; /* hold d while its jobs start or end: an immediate end releases it */
        while (d->head && dest_window_dead(&d->window))
            qmgr_job_end(qmgr_dest_pop(d), d->suspended.dsn, d->suspended.reason);
        while (d->head && d->active - 1 < d->window.size && d->tp->active < d->tp->limit)
            qmgr_job_start(q, qmgr_dest_pop(d));
        d->active--;
        while (*pp != d) /* a job's end queued notices: new destinations went in first */
            pp = &(*pp)->next;
        if (d->head == NULL && d->active == 0 && !dest_window_remembers(&d->window)) {
            *pp = d->next;
            qmgr_dest_free(q, d);
        } else
            pp = &d->next;
    }
}

/* qmgr_deliver_revive_all - every dead destination is tried again (a flush) */
void
qmgr_deliver_revive_all(struct qmgr *q)
{
    for (struct qmgr_dest *d = q->dests; d; d = d->next)
        if (dest_window_remembers(&d->window)) {
            loop_timer_stop(d->revive);
            dest_window_revive(&d->window);
        }
    qmgr_deliver_kick(q);
}

static void
qmgr_deliver_timer(void *arg)
{
    qmgr_deliver_run(arg);
}

/* qmgr_deliver_kick - run the queues soon, from the loop: for requests queued from inside
 * a request's end, where qmgr_deliver_run may be on the stack */
void
qmgr_deliver_kick(struct qmgr *q)
{
    if (q->run_timer == NULL)
        q->run_timer = loop_timer_new(q->ctx->loop, qmgr_deliver_timer, q);
    if (!loop_timer_pending(q->run_timer))
        loop_timer_start(q->run_timer, 0);
}

/* qmgr_deliver_free - at exit: close every request (the files stay for the next start) */
void
qmgr_deliver_free(struct qmgr *q)
{
    while (q->dests) {
        struct qmgr_dest *d = q->dests;
        q->dests = d->next;
        for (struct qmgr_job *j = d->head, *next; j; j = next) {
            next = j->next;
            free(j->idx);
            free(j);
        }
        for (struct qmgr_job *j = d->running, *next; j; j = next) {
            next = j->next;
            loop_fd_free(j->watch);
            ipc_reader_free(&j->reader);
            close(j->fd);
            free(j->idx);
            free(j);
        }
        qmgr_dest_free(q, d);
    }
    free(q->dest_hash);
    q->dest_hash = NULL;
    if (q->run_timer)
        loop_timer_free(q->run_timer);
    q->run_timer = NULL;
    while (q->transports) {
        struct qmgr_transport *tp = q->transports;
        q->transports = tp->next;
        free(tp->name);
        free(tp);
    }
}
