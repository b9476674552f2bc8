/*
 * qmgr_admin.c - the administrator's requests: flush (all, one site, one ID), delete,
 * hold, release, requeue, and a read-only descriptor of one file for postcat.
 *
 * These are the only ways a queue file changes state besides delivery, and they happen
 * here, in qmgr, because only qmgr creates, renames and removes queue files (doc/queue.md).
 * A file that is not in memory is renamed or removed at once. A message in memory (being
 * delivered) is marked instead: requests not yet started are dropped, those in flight end
 * and record their outcomes, and then qmgr_admin_finish() does what was asked (a delivery
 * in flight is never cut short, so nothing is delivered twice or lost).
 *
 *   delete    the file is removed ("QID: removed")
 *   hold      to hold/, where nothing is delivered ("QID: placed on hold")
 *   release   hold/ to active/, tried at once ("QID: released from hold")
 *   requeue   every deferred recipient is pending again (its reason goes, the ID of a
 *             delay warning sent about it stays), the message is resolved afresh and tried
 *             now ("QID: requeued")
 *   flush     deferred/ to active/: all, those with a recipient at a site, or one ID
 *
 * Files moved into active/ (flush, release) are taken into memory by the backlog scan after
 * the request is answered, within qmgr_message_active_limit, as any backlog is.
 *
 * Trusts: clients as far as the skeleton's peer check admits them (root's postern command,
 * mail_owner's showq for flushes); every ID is validated before it names a file, queue
 * names come from a fixed table. incoming/ is never touched: its files are not accepted yet.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/ipc.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "mail/queue_ctl.h"
#include "qmgr/qmgr.h"

#define QMGR_ADMIN_REPLY_MS 10000
#define QMGR_ADMIN_SITE_MAX 255
#define QMGR_ADMIN_ALL      "ALL"
#define QMGR_BIT(d)         (1u << (d))

/* What each action may touch, and where it looks when the request names no queue. */
static const struct qmgr_admin_verb {
    const char *name;
    enum qmgr_admin action;
    unsigned allowed;
    unsigned dflt;
} qmgr_admin_verbs[] = {
    {"delete", QMGR_ADMIN_DELETE,
     QMGR_BIT(QMGR_ACTIVE) | QMGR_BIT(QMGR_DEFERRED) | QMGR_BIT(QMGR_HOLD) | QMGR_BIT(QMGR_CORRUPT),
     QMGR_BIT(QMGR_HOLD) | QMGR_BIT(QMGR_ACTIVE) | QMGR_BIT(QMGR_DEFERRED)},
    {"hold", QMGR_ADMIN_HOLD, QMGR_BIT(QMGR_ACTIVE) | QMGR_BIT(QMGR_DEFERRED),
     QMGR_BIT(QMGR_ACTIVE) | QMGR_BIT(QMGR_DEFERRED)},
    {"release", QMGR_ADMIN_RELEASE, QMGR_BIT(QMGR_HOLD), QMGR_BIT(QMGR_HOLD)},
    {"requeue", QMGR_ADMIN_REQUEUE,
     QMGR_BIT(QMGR_ACTIVE) | QMGR_BIT(QMGR_DEFERRED) | QMGR_BIT(QMGR_HOLD),
     QMGR_BIT(QMGR_HOLD) | QMGR_BIT(QMGR_ACTIVE) | QMGR_BIT(QMGR_DEFERRED)},
};

/* The order in which queues are searched for an ID. */
static const enum qmgr_dir qmgr_admin_order[] = {QMGR_HOLD, QMGR_ACTIVE, QMGR_DEFERRED,
                                                 QMGR_CORRUPT};

/* qmgr_admin_reset - every deferred recipient of dir/id pending again (requeue) */
static bool
qmgr_admin_reset(struct qmgr *q, enum qmgr_dir d, const char *id)
{
    int fd = openat(q->dir_fd[d], id, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    struct queue_rcpt_status pending = {.state = QUEUE_RCPT_PENDING};
    struct queue_envelope env;
    struct err err;
    bool good;

    if (fd < 0) {
        log_warn("%s: requeue: open %s/%s: %m", id, qmgr_dir_names[d], id);
        return false;
    }
    good = queue_file_read(fd, &env, &err);
    for (size_t i = 0; good && i < env.nrcpt; i++) {
        if (env.rcpt[i].status.state != QUEUE_RCPT_DEFERRED)
            continue;
        /* the delay warning's ID stays: a requeued message is not warned about twice */
        memcpy(pending.notice, env.rcpt[i].status.notice, sizeof(pending.notice));
        good = queue_file_write_slot(fd, env.rcpt[i].status_offset, &pending, false, &err);
    }
    if (good && fdatasync(fd) < 0)
        good = err_set(&err, "fdatasync: %s", strerror(errno));
    if (!good)
        log_warn("%s: requeue: %s/%s: %s", id, qmgr_dir_names[d], id, err.text);
    else
        queue_envelope_free(&env);
    close(fd);
    return good;
}

/* qmgr_admin_move - dir/id to another state directory, never over a file there */
static bool
qmgr_admin_move(struct qmgr *q, enum qmgr_dir from, enum qmgr_dir to, const char *id)
{
    if (renameat2(q->dir_fd[from], id, q->dir_fd[to], id, RENAME_NOREPLACE) == 0)
        return true;
    log_warn("%s: move %s/%s to %s/: %m", id, qmgr_dir_names[from], id, qmgr_dir_names[to]);
    return false;
}

/*
 * qmgr_admin_backlog - files were moved into active/ behind the scheduler's back: the
 * backlog scan takes them into memory, after this request is answered, as many as
 * qmgr_message_active_limit allows and the rest as messages leave memory
 */
static void
qmgr_admin_backlog(struct qmgr *q)
{
    q->backlog = true;
    if (!loop_timer_pending(q->backlog_timer))
        loop_timer_start(q->backlog_timer, 0);
}

/* qmgr_admin_file - do action on d/id, a file not in memory; true if it was done */
static bool
qmgr_admin_file(struct qmgr *q, enum qmgr_admin action, enum qmgr_dir d, const char *id)
{
    switch (action) {
    case QMGR_ADMIN_DELETE:
        if (unlinkat(q->dir_fd[d], id, 0) == 0) {
            log_info("%s: removed", id);
            return true;
        }
        if (errno != ENOENT)
            log_warn("%s: remove %s/%s: %m", id, qmgr_dir_names[d], id);
        return false;
    case QMGR_ADMIN_HOLD:
        if (!qmgr_admin_move(q, d, QMGR_HOLD, id))
            return false;
        log_info("%s: placed on hold", id);
        return true;
    case QMGR_ADMIN_RELEASE: /* tried at once: to active/, for the backlog scan */
        if (!qmgr_admin_move(q, QMGR_HOLD, QMGR_ACTIVE, id))
            return false;
        log_info("%s: released from hold", id);
        return true;
    case QMGR_ADMIN_REQUEUE:
        if (!qmgr_admin_reset(q, d, id) ||
            (d != QMGR_ACTIVE && !qmgr_admin_move(q, d, QMGR_ACTIVE, id)))
            return false;
        log_info("%s: requeued", id);
        qmgr_sched_activate(q, id, true);
        return true;
    default:
        return false;
    }
}

/* qmgr_admin_one - action on d/id, in memory or not; true if it was (or will be) done */
static bool
qmgr_admin_one(struct qmgr *q, enum qmgr_admin action, enum qmgr_dir d, const char *id)
{
    struct qmgr_msg *m = d == QMGR_ACTIVE ? qmgr_sched_find(q, id) : NULL;

    if (m == NULL)
        return qmgr_admin_file(q, action, d, id);
    if (m->admin != QMGR_ADMIN_DELETE)
        m->admin = action;
    log_info("%s: %s when the deliveries in progress end", id,
             action == QMGR_ADMIN_DELETE ? "removed"
             : action == QMGR_ADMIN_HOLD ? "placed on hold"
                                         : "requeued");
    return true;
}

/* qmgr_admin_dir - action on every message of one queue directory; how many */
static long
qmgr_admin_dir(struct qmgr *q, enum qmgr_admin action, enum qmgr_dir d)
{
    int fd = openat(q->dir_fd[d], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd < 0 ? NULL : fdopendir(fd);
    struct strvec ids;
    struct dirent *e;
    long n = 0;

    if (dir == NULL) {
        log_warn("read queue directory %s: %m", qmgr_dir_names[d]);
        if (fd >= 0)
            close(fd);
        return 0;
    }
    strvec_init(&ids);
    while ((e = readdir(dir)) != NULL) /* names first: the actions change the directory */
        if (queue_id_valid(e->d_name, strlen(e->d_name)))
            strvec_add(&ids, e->d_name);
    closedir(dir);
    for (size_t i = 0; i < ids.n; i++)
        n += qmgr_admin_one(q, action, d, ids.v[i]);
    strvec_free(&ids);
    return n;
}

/*
 * qmgr_admin_queues - the queues a request names ("": the action's default) into *mask;
 * false for a name that is no queue. Queues the action does not work in are left out
 * (incoming/ always: its files are not accepted yet).
 */
static bool
qmgr_admin_queues(const struct qmgr_admin_verb *v, const char *names, unsigned *mask)
{
    struct strvec words;
    bool good = true;

    *mask = v->dflt;
    if (*names == 0)
        return true;
    *mask = 0;
    strvec_init(&words);
    strvec_split(&words, names, ", ");
    for (size_t i = 0; i < words.n && good; i++) {
        int d = 0;

        while (d < QMGR_DIR_COUNT && strcmp(qmgr_dir_names[d], words.v[i]) != 0)
            d++;
        good = d < QMGR_DIR_COUNT && d != QMGR_SPARE;
        *mask |= good ? QMGR_BIT(d) : 0;
    }
    strvec_free(&words);
    *mask &= v->allowed;
    return good;
}

static bool
qmgr_admin_refuse(char *why, size_t size, const char *what, const char *value)
{
    snprintf(why, size, "%s%s", what, value);
    return false;
}

/* qmgr_admin_apply - one admin request: a count, or a refusal in why */
static bool
qmgr_admin_apply(struct qmgr *q, const char *verb, const char *id, const char *queues, long *n,
                 char *why, size_t size)
{
    const struct qmgr_admin_verb *v = NULL;
    unsigned mask;

    for (size_t i = 0; i < nitems(qmgr_admin_verbs); i++)
        if (strcmp(qmgr_admin_verbs[i].name, verb) == 0)
            v = &qmgr_admin_verbs[i];
    if (v == NULL)
        return qmgr_admin_refuse(why, size, "unknown action: ", verb);
    if (!qmgr_admin_queues(v, queues, &mask))
        return qmgr_admin_refuse(why, size, "invalid queue name in: ", queues);
    if (strcmp(id, QMGR_ADMIN_ALL) != 0 && !queue_id_valid(id, strlen(id)))
        return qmgr_admin_refuse(why, size, "invalid mail queue id: ", id);
    *n = 0;
    for (size_t i = 0; i < nitems(qmgr_admin_order); i++) {
        enum qmgr_dir d = qmgr_admin_order[i];

        if (!(mask & QMGR_BIT(d)))
            continue;
        if (strcmp(id, QMGR_ADMIN_ALL) == 0)
            *n += qmgr_admin_dir(q, v->action, d);
        else if (faccessat(q->dir_fd[d], id, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
            *n += qmgr_admin_one(q, v->action, d, id);
            break;
        }
    }
    if (v->action == QMGR_ADMIN_RELEASE && *n > 0)
        qmgr_admin_backlog(q);
    return true;
}

/* qmgr_admin_site_match - has deferred/id a recipient not yet final at site? */
static bool
qmgr_admin_site_match(struct qmgr *q, const char *id, const char *site)
{
    int fd = openat(q->dir_fd[QMGR_DEFERRED], id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct queue_envelope env;
    struct err err;
    bool match = false;

    if (fd < 0)
        return false;
    if (queue_file_read(fd, &env, &err)) {
        for (size_t i = 0; i < env.nrcpt && !match; i++) {
            const struct queue_rcpt *r = &env.rcpt[i];
            const char *at = strrchr(r->addr, '@');

            match =
                (r->status.state == QUEUE_RCPT_DEFERRED || r->status.state == QUEUE_RCPT_PENDING) &&
                at != NULL && strcasecmp(at + 1, site) == 0;
        }
        queue_envelope_free(&env);
    }
    close(fd);
    return match;
}

/* qmgr_admin_flush_one - deferred/id to active/, for the backlog scan; true if it moved */
static bool
qmgr_admin_flush_one(struct qmgr *q, const char *id)
{
    if (renameat2(q->dir_fd[QMGR_DEFERRED], id, q->dir_fd[QMGR_ACTIVE], id, RENAME_NOREPLACE) == 0)
        return true;
    if (errno != ENOENT)
        log_warn("%s: flush: move deferred/%s to active/: %m", id, id);
    return false;
}

/* qmgr_admin_flush - deferred mail now: all, one site's, or one ID; how many */
static long
qmgr_admin_flush(struct qmgr *q, const char *site, const char *id)
{
    int fd;
    DIR *dir;
    struct strvec ids;
    struct dirent *e;
    long n = 0;

    qmgr_deliver_revive_all(q); /* as Postfix's flush: dead destinations are tried again */
    if (*id)
        return qmgr_admin_flush_one(q, id);
    fd = openat(q->dir_fd[QMGR_DEFERRED], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
        log_warn("flush: read queue directory deferred: %m");
        if (fd >= 0)
            close(fd);
        return 0;
    }
    strvec_init(&ids);
    while ((e = readdir(dir)) != NULL)
        if (queue_id_valid(e->d_name, strlen(e->d_name)) &&
            (*site == 0 || qmgr_admin_site_match(q, e->d_name, site)))
            strvec_add(&ids, e->d_name);
    closedir(dir);
    for (size_t i = 0; i < ids.n; i++)
        n += qmgr_admin_flush_one(q, ids.v[i]);
    strvec_free(&ids);
    log_info("flush%s%s: %ld messages", *site ? " " : "", site, n);
    return n;
}

/* qmgr_admin_show - pass a read-only descriptor of one committed file, and its queue */
static bool
qmgr_admin_show(struct qmgr_session *s, const char *id)
{
    struct attr_fds fds;
    struct buf rec;
    struct err err;
    struct stat st;
    bool good;
    int fd = -1;
    size_t i;

    if (!queue_id_valid(id, strlen(id)))
        return queue_ctl_send_refused(s->fd, "invalid mail queue id", &err);
    for (i = 0; i < nitems(qmgr_admin_order) && fd < 0; i++)
        fd = openat(s->qmgr->dir_fd[qmgr_admin_order[i]], id,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return queue_ctl_send_refused(s->fd, "no such message in the queue", &err);
    }
    attr_fds_init(&fds);
    buf_init(&rec, QUEUE_CTL_RECORD_LIMIT);
    proto_begin(&rec, PROTO_QUEUE_SHOWN);
    attr_put_text(&rec, PROTO_ATTR_QUEUE_ID, id);
    attr_put_text(&rec, PROTO_ATTR_QUEUE_NAME, qmgr_dir_names[qmgr_admin_order[i - 1]]);
    attr_put_fd(&rec, &fds, PROTO_ATTR_QUEUE_FILE, fd);
    good = attr_end(&rec, &err) && ipc_send(s->fd, &rec, &fds, QMGR_ADMIN_REPLY_MS, &err) == IPC_OK;
    buf_free(&rec);
    close(fd);
    return good;
}

bool
qmgr_admin_handles(enum proto_msg msg)
{
    return msg == PROTO_QUEUE_FLUSH || msg == PROTO_QUEUE_ADMIN || msg == PROTO_QUEUE_SHOW;
}

/* qmgr_admin_serve - decode and answer one admin request; false ends the session */
bool
qmgr_admin_serve(struct qmgr_session *s, enum proto_msg msg)
{
    struct buf action, id, queues, site;
    char why[QUEUE_CTL_WHY_SIZE];
    struct err err;
    long n = 0;
    bool good;
    const struct attr_spec spec[] = {{PROTO_ATTR_ACTION, ATTR_STR, ATTR_TEXT, &action},
                                     {PROTO_ATTR_QUEUE_ID, ATTR_STR, ATTR_TEXT, &id},
                                     {PROTO_ATTR_QUEUES, ATTR_STR, ATTR_TEXT, &queues},
                                     {PROTO_ATTR_SITE, ATTR_STR, ATTR_TEXT, &site}};

    buf_init(&action, 16);
    buf_init(&id, QUEUE_ID_LEN);
    buf_init(&queues, 256);
    buf_init(&site, QMGR_ADMIN_SITE_MAX);
    good = PROTO_DECODE(&s->reader.rec, s->reader.limit, &s->reader.fds, msg, spec, &err);
    ipc_reader_reset(&s->reader);
    if (!good)
        log_warn("bad request from client: %s", err.text);
    else if (msg == PROTO_QUEUE_SHOW)
        good = qmgr_admin_show(s, buf_str(&id));
    else if (msg == PROTO_QUEUE_FLUSH && id.len > 0 && !queue_id_valid(id.data, id.len))
        good = queue_ctl_send_refused(s->fd, "invalid mail queue id", &err);
    else if (msg == PROTO_QUEUE_FLUSH) {
        n = qmgr_admin_flush(s->qmgr, buf_str(&site), buf_str(&id));
        if (n > 0)
            qmgr_admin_backlog(s->qmgr);
        good = queue_ctl_send_done(s->fd, n, &err);
    } else if (qmgr_admin_apply(s->qmgr, buf_str(&action), buf_str(&id), buf_str(&queues), &n, why,
                                sizeof(why)))
        good = queue_ctl_send_done(s->fd, n, &err);
    else
        good = queue_ctl_send_refused(s->fd, why, &err);
    buf_free(&action);
    buf_free(&id);
    buf_free(&queues);
    buf_free(&site);
    return good;
}

/* qmgr_admin_drop - a recipient of a marked message whose request is dropped: not tried */
bool
qmgr_admin_drop(struct qmgr_msg *m, size_t i)
{
    if (m->admin == QMGR_ADMIN_NONE)
        return false;
    m->rcpt[i].done = true;
    m->open--;
    return true;
}

/*
 * qmgr_admin_finish - a marked message has no delivery in flight any more: do what was
 * asked. A message with nothing left to deliver and no notice owed is removed whatever was
 * asked; a deleted one owes none (as with Postfix's postsuper -d). A held message keeps the
 * notices it owes for its release. A requeued one stays in active/ for the backlog scan,
 * which takes it into memory again (and sends what it owes).
 */
void
qmgr_admin_finish(struct qmgr *q, struct qmgr_msg *m)
{
    bool open = false;

    for (size_t i = 0; i < m->env.nrcpt; i++)
        if (m->rcpt[i].state == QUEUE_RCPT_PENDING || m->rcpt[i].state == QUEUE_RCPT_DEFERRED ||
            qmgr_notice_holds(m, i))
            open = true;
    if (m->admin == QMGR_ADMIN_DELETE || !open) {
        if (unlinkat(q->dir_fd[QMGR_ACTIVE], m->id, 0) < 0)
            log_warn("%s: remove active/%s: %m", m->id, m->id);
        else
            log_info("%s: removed", m->id);
    } else if (m->admin == QMGR_ADMIN_HOLD) {
        if (qmgr_admin_move(q, QMGR_ACTIVE, QMGR_HOLD, m->id))
            log_info("%s: placed on hold", m->id);
    } else if (qmgr_admin_reset(q, QMGR_ACTIVE, m->id)) {
        log_info("%s: requeued", m->id);
        q->backlog = true;
    }
    qmgr_sched_forget(q, m);
}
