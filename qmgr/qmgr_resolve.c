/*
 * qmgr_resolve.c - an activated message's recipients: virtual alias expansion, then a
 * transport and a destination for each, then the delivery requests (doc/queue.md).
 *
 * Expansion is written into the queue file before anything is delivered, so that each
 * recipient's state slot stays exact across crashes: when some pending recipient expands
 * to anything but itself, a new file is written in incoming/ under the same ID (the
 * expanded recipients pending, with the original address kept as ORCPT "rfc822;addr"
 * unless the client gave one; every other recipient and its slot copied as it is),
 * fsynced, renamed over active/ID and active/ fsynced. A crash before the rename leaves
 * the old file (recovery empties incoming/), after it the new one. Expansion of an
 * expanded address gives the address itself, so a file is rewritten at most once unless
 * the tables change.
 *
 * Trusts: the tables (root's configuration); the addresses only as lookup keys.
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
#include "qmgr/qmgr.h"

/* What expansion decided for one recipient of the old file. */
struct qmgr_exp {
    struct strvec addrs; /* final addresses, if OK */
    struct resolve_result res;
    bool same; /* expands to itself alone */
};

static bool
qmgr_rcpt_active(const struct queue_rcpt *r)
{
    return r->status.state == QUEUE_RCPT_PENDING || r->status.state == QUEUE_RCPT_DEFERRED;
}

/* qmgr_copy_content - content records of the old file into the writer */
static bool
qmgr_copy_chunk(const char *data, size_t len, void *ctx)
{
    queue_writer_content(ctx, data, len);
    return true;
}

/* qmgr_rewrite_rcpts - the new file's recipients; fail[j] the failed expansion of new j */
static void
qmgr_rewrite_rcpts(struct queue_writer *w, const struct queue_envelope *env, struct qmgr_exp *exp,
                   struct resolve_result **fail, size_t *n)
{
    for (size_t i = 0; i < env->nrcpt; i++) {
        const struct queue_rcpt *r = &env->rcpt[i];

        if (!qmgr_rcpt_active(r) || exp[i].same || exp[i].res.status != RESOLVE_OK) {
            fail[(*n)++] =
                qmgr_rcpt_active(r) && exp[i].res.status != RESOLVE_OK ? &exp[i].res : NULL;
            queue_writer_rcpt(w, r->addr, r->notify, r->orcpt);
            continue;
        }
        for (size_t k = 0; k < exp[i].addrs.n; k++) {
            char *orcpt = *r->orcpt ? xstrdup(r->orcpt) : xasprintf("rfc822;%s", r->addr);
            fail[(*n)++] = NULL;
            queue_writer_rcpt(w, exp[i].addrs.v[k], r->notify, orcpt);
            free(orcpt);
        }
    }
}

/* qmgr_rewrite_slots - copy the recorded states of recipients that were not expanded */
static bool
qmgr_rewrite_slots(int fd, const struct queue_envelope *old, const struct qmgr_exp *exp,
                   struct queue_envelope *env, struct err *err)
{
    size_t j = 0;

    if (!queue_file_read(fd, env, err))
        return false;
    for (size_t i = 0; i < old->nrcpt; i++) {
        const struct queue_rcpt *r = &old->rcpt[i];
        bool expanded = qmgr_rcpt_active(r) && !exp[i].same && exp[i].res.status == RESOLVE_OK;

        if (!expanded && r->status.state != QUEUE_RCPT_PENDING &&
            !queue_file_set_status(fd, &env->rcpt[j], &r->status, err))
            return false;
        j += expanded ? exp[i].addrs.n : 1;
    }
    return true;
}

/* qmgr_rewrite - the expanded file, renamed over active/ID; false leaves the old one */
static bool
qmgr_rewrite(struct qmgr *q, struct qmgr_msg *m, struct qmgr_exp *exp,
             struct resolve_result ***fail)
{
    size_t total = 0, n = 0;
    struct queue_writer w;
    struct err err;
    struct queue_envelope env;
    int fd;
    bool good;

    for (size_t i = 0; i < m->env.nrcpt; i++)
        total += exp[i].addrs.n + 1;
    if (total > QUEUE_FILE_RCPT_MAX) {
        log_warn("%s: virtual alias expansion gives more than %d recipients", m->id,
                 QUEUE_FILE_RCPT_MAX);
        return false;
    }
    fd = openat(q->dir_fd[QMGR_INCOMING], m->id, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_warn("%s: create incoming/%s: %m", m->id, m->id);
        return false;
    }
    *fail = xcalloc(total, sizeof(**fail));
    queue_writer_init(&w, fd, &m->env);
    qmgr_rewrite_rcpts(&w, &m->env, exp, *fail, &n);
    good = queue_file_content(m->fd, &m->env, qmgr_copy_chunk, &w, &err) &&
           queue_writer_finish(&w, &err) && qmgr_rewrite_slots(fd, &m->env, exp, &env, &err);
    queue_writer_free(&w);
    if (good && renameat(q->dir_fd[QMGR_INCOMING], m->id, q->dir_fd[QMGR_ACTIVE], m->id) < 0) {
        err_set(&err, "rename to active/: %s", strerror(errno));
        queue_envelope_free(&env);
        good = false;
    }
    if (!good) {
        log_warn("%s: write the expanded recipients: %s", m->id, err.text);
        unlinkat(q->dir_fd[QMGR_INCOMING], m->id, 0);
        close(fd);
        free(*fail);
        *fail = NULL;
        return false;
    }
    if (fsync(q->dir_fd[QMGR_ACTIVE]) < 0)
        log_warn("fsync active/: %m");
    log_info("%s: virtual alias expansion: %zu recipient%s now", m->id, env.nrcpt,
             env.nrcpt == 1 ? "" : "s");
    close(m->fd);
    m->fd = fd;
    queue_envelope_free(&m->env);
    m->env = env;
    return true;
}

/* qmgr_expand_failure - what each recipient's expansion left to report, or NULL */
static struct resolve_result **
qmgr_expand_failures(struct qmgr_msg *m, struct qmgr_exp *exp)
{
    struct resolve_result **fail = xcalloc(m->env.nrcpt, sizeof(*fail));

    for (size_t i = 0; i < m->env.nrcpt; i++) {
        if (!qmgr_rcpt_active(&m->env.rcpt[i]) || exp[i].same)
            continue;
        fail[i] = xmemdup(&exp[i].res, sizeof(exp[i].res));
        if (exp[i].res.status == RESOLVE_OK) { /* the rewrite failed */
            fail[i]->status = RESOLVE_DEFER;
            strcpy(fail[i]->dsn, "4.3.0");
            strcpy(fail[i]->reason, "cannot record the virtual alias expansion");
        }
    }
    return fail;
}

/* qmgr_expand - expand every active recipient; the file is rewritten if any changed.
 * Returns, per recipient of the (new) file, a failed expansion to report, or NULL. */
static struct resolve_result **
qmgr_expand(struct qmgr *q, struct qmgr_msg *m)
{
    size_t old_n = m->env.nrcpt;
    struct qmgr_exp *exp = xcalloc(old_n, sizeof(*exp));
    struct resolve_result **fail = NULL;
    bool change = false;

    for (size_t i = 0; i < old_n; i++) {
        strvec_init(&exp[i].addrs);
        if (!qmgr_rcpt_active(&m->env.rcpt[i]))
            continue;
        resolve_expand(&q->resolve, m->env.rcpt[i].addr, &exp[i].addrs, &exp[i].res);
        exp[i].same = exp[i].res.status == RESOLVE_OK && exp[i].addrs.n == 1 &&
                      strcmp(exp[i].addrs.v[0], m->env.rcpt[i].addr) == 0;
        change |= !exp[i].same && exp[i].res.status == RESOLVE_OK;
    }
    if (change && qmgr_rewrite(q, m, exp, &fail)) {
        for (size_t j = 0; j < m->env.nrcpt; j++)
            if (fail[j])
                fail[j] = xmemdup(fail[j], sizeof(*fail[j]));
    } else
        fail = qmgr_expand_failures(m, exp);
    for (size_t i = 0; i < old_n; i++)
        strvec_free(&exp[i].addrs);
    free(exp);
    return fail;
}

/* qmgr_dest_key - what the concurrency limit counts: the recipient when one recipient goes
 * per request (Postfix's per-recipient destinations), else transport and next hop */
static char *
qmgr_dest_key(const struct resolve_result *res, const char *addr, long rcpt_limit)
{
    if (rcpt_limit == 1)
        return xasprintf("%s:%s", res->transport, addr);
    return xasprintf("%s:%s", res->transport, res->nexthop);
}

/* qmgr_transport_param - <transport>_<what>, a number (destination_concurrency_limit,
 * destination_recipient_limit, ...), or dflt when not set */
long
qmgr_transport_param(struct qmgr *q, const char *transport, const char *what, long dflt)
{
    char *name = xasprintf("%s_%s", transport, what);
    const char *raw = conf_raw(q->ctx->conf, name);
    long v;

    if (raw == NULL || !str_to_long(raw, 1, 100000, &v))
        v = dflt;
    free(name);
    return v;
}

/* qmgr_is_deferred_transport - named in defer_transports */
static bool
qmgr_is_deferred_transport(struct qmgr *q, const char *transport)
{
    return strvec_contains(&q->ctx->params.defer_transports, transport);
}

/* qmgr_route - a recipient's transport and destination, or its immediate outcome */
static void
qmgr_route(struct qmgr *q, struct qmgr_msg *m, size_t i, const struct resolve_result *fail)
{
    struct resolve_result res;
    const struct qmgr_times t = {0};
    long rcpt_limit;
    char *key;

    if (fail == NULL)
        resolve_transport(&q->resolve, m->env.sender, m->env.rcpt[i].addr, &res);
    else
        res = *fail;
    if (res.status == RESOLVE_OK && qmgr_is_deferred_transport(q, res.transport)) {
        res.status = RESOLVE_DEFER;
        strcpy(res.dsn, "4.3.2");
        strcpy(res.reason, "deferred transport");
    }
    if (res.status != RESOLVE_OK) {
        struct deliver_result out;

        deliver_set(&out, res.status == RESOLVE_DEFER ? DELIVER_DEFER : DELIVER_BOUNCE, res.dsn,
                    "%s", res.reason);
        qmgr_outcome(q, m, i, &out, "none", &t);
        return;
    }
    rcpt_limit = qmgr_transport_param(q, res.transport, "destination_recipient_limit",
                                      q->ctx->params.default_destination_recipient_limit);
    key = qmgr_dest_key(&res, m->env.rcpt[i].addr, rcpt_limit);
    qmgr_deliver_add(q, m, &res, key, i, rcpt_limit);
    free(key);
}

/* qmgr_resolve_message - expand, route and queue every recipient still to deliver */
void
qmgr_resolve_message(struct qmgr *q, struct qmgr_msg *m)
{
    struct resolve_result **fail = qmgr_expand(q, m);
    size_t n = m->env.nrcpt;

    m->rcpt = xcalloc(n, sizeof(*m->rcpt));
    for (size_t i = 0; i < n; i++) {
        m->rcpt[i].state = m->env.rcpt[i].status.state;
        m->rcpt[i].done = !qmgr_rcpt_active(&m->env.rcpt[i]);
        m->rcpt[i].reported = m->env.rcpt[i].status.notice[0] != 0;
        m->notices += qmgr_notice_holds(m, i);
        m->open += !m->rcpt[i].done;
    }
    m->jobs++; /* hold the message while its recipients are routed */
    for (size_t i = 0; i < n; i++)
        if (!m->rcpt[i].done)
            qmgr_route(q, m, i, fail[i]);
    for (size_t i = 0; i < n; i++)
        free(fail[i]);
    free(fail);
    m->jobs--;
}
