/*
 * qmgr_sched.c - the messages qmgr delivers: activation, completion, the queue scans.
 *
 * A file enters memory when it is committed to active/ (qmgr_commit.c calls
 * qmgr_sched_activate), when recovery found it in active/ at start, or when the deferred/
 * scan moves it back to active/ because its next try is due. At most
 * qmgr_message_active_limit messages are in memory; the rest wait in active/ until a
 * message leaves (the backlog scan) and deferred/ files wait for the next scan.
 *
 * A message leaves memory once every recipient is done for this activation: all final
 * (the file is removed: "QID: removed"), or some deferred (the file goes to deferred/ with
 * its modification time set to the earliest next try, which is all the deferred/ scan
 * reads). Trusts: nothing in a file it reads (queue_file_read checks it all).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "qmgr/qmgr.h"

#define QMGR_HASH_SIZE 8192

double
qmgr_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned
qmgr_hash(const char *id)
{
    unsigned h = 2166136261u;

    for (int i = 0; i < QUEUE_ID_LEN; i++)
        h = (h ^ (unsigned char)id[i]) * 16777619u;
    return h % QMGR_HASH_SIZE;
}

struct qmgr_msg *
qmgr_sched_find(struct qmgr *q, const char *id)
{
    if (q->msg_hash == NULL) /* recovery, before the delivery side starts */
        return NULL;
    for (struct qmgr_msg *m = q->msg_hash[qmgr_hash(id)]; m; m = m->hash_next)
        if (memcmp(m->id, id, QUEUE_ID_LEN) == 0)
            return m;
    return NULL;
}

/* qmgr_msg_free - forget a message (its file is already gone or moved) */
static void
qmgr_msg_free(struct qmgr *q, struct qmgr_msg *m)
{
    struct qmgr_msg **pp = &q->msg_hash[qmgr_hash(m->id)];

    while (*pp != m)
        pp = &(*pp)->hash_next;
    *pp = m->hash_next;
    q->nmsg--;
    if (m->fd >= 0)
        close(m->fd);
    queue_envelope_free(&m->env);
    free(m->rcpt);
    free(m);
    if (q->backlog && !loop_timer_pending(q->backlog_timer))
        loop_timer_start(q->backlog_timer, 0);
}

/* qmgr_sched_forget - a message leaves memory, its file already dealt with (qmgr_admin.c) */
void
qmgr_sched_forget(struct qmgr *q, struct qmgr_msg *m)
{
    qmgr_msg_free(q, m);
}

/* qmgr_corrupt - a file that does not parse leaves the queue for corrupt/ */
static void
qmgr_corrupt(struct qmgr *q, const char *id, const char *why)
{
    if (renameat(q->dir_fd[QMGR_ACTIVE], id, q->dir_fd[QMGR_CORRUPT], id) < 0)
        log_warn("%s: %s; move to corrupt/: %m", id, why);
    else
        log_warn("%s: %s; moved to corrupt/", id, why);
}

/* qmgr_sched_activate - take active/ID into memory and start its deliveries; announce:
 * log "(queue active)" as Postfix does for each activation (a commit logged it already) */
void
qmgr_sched_activate(struct qmgr *q, const char *id, bool announce)
{
    struct err err;
    struct qmgr_msg *m;
    int fd;

    if (qmgr_sched_find(q, id) != NULL)
        return;
    if (q->nmsg >= (size_t)q->ctx->params.qmgr_message_active_limit) {
        q->backlog = true;
        return;
    }
    if ((fd = openat(q->dir_fd[QMGR_ACTIVE], id, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        if (errno != ENOENT)
            log_warn("%s: open active/%s: %m", id, id);
        return;
    }
    m = xcalloc(1, sizeof(*m));
    memcpy(m->id, id, QUEUE_ID_SIZE);
    m->fd = fd;
    m->t_active = qmgr_now();
    if (!queue_file_read(fd, &m->env, &err)) {
        close(fd);
        free(m);
        qmgr_corrupt(q, id, err.text);
        return;
    }
    if (announce)
        log_info("%s: from=<%s>, size=%llu, nrcpt=%zu (queue active)", id, m->env.sender,
                 (unsigned long long)m->env.size, m->env.nrcpt);
    m->hash_next = q->msg_hash[qmgr_hash(id)];
    q->msg_hash[qmgr_hash(id)] = m;
    q->nmsg++;
    qmgr_resolve_message(q, m);
    close(m->fd); /* no descriptor per message in memory: outcomes open the file again */
    m->fd = -1;
    qmgr_sched_check(q, m);
    qmgr_deliver_run(q);
}

/* qmgr_sched_defer - to deferred/, dated by the earliest next try */
static void
qmgr_sched_defer(struct qmgr *q, struct qmgr_msg *m)
{
    struct timespec times[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = (time_t)m->next_try}};

    if (utimensat(q->dir_fd[QMGR_ACTIVE], m->id, times, AT_SYMLINK_NOFOLLOW) < 0)
        log_warn("%s: set the next try time: %m", m->id);
    if (renameat2(q->dir_fd[QMGR_ACTIVE], m->id, q->dir_fd[QMGR_DEFERRED], m->id,
                  RENAME_NOREPLACE) < 0)
        log_warn("%s: move active/%s to deferred/: %m", m->id, m->id);
}

/* qmgr_sched_check - is the message done for this activation? then its notices, then
 * remove or defer it (also when a notice it owes could not be written) */
void
qmgr_sched_check(struct qmgr *q, struct qmgr_msg *m)
{
    bool deferred = false;

    if (m->open > 0 || m->jobs > 0)
        return;
    if (m->admin != QMGR_ADMIN_NONE) { /* before notices: a held message owes them still */
        qmgr_admin_finish(q, m);
        return;
    }
    if (qmgr_notice_send(q, m))
        return;
    qmgr_notice_give_up(q, m);
    for (size_t i = 0; i < m->env.nrcpt; i++)
        if (m->rcpt[i].state == QUEUE_RCPT_DEFERRED || m->rcpt[i].state == QUEUE_RCPT_PENDING ||
            qmgr_notice_holds(m, i))
            deferred = true;
    if (deferred && m->next_try == 0)
        m->next_try = qmgr_next_try(q, m, time(NULL));
    if (deferred)
        qmgr_sched_defer(q, m);
    else if (!qmgr_spare_put(q, m) && unlinkat(q->dir_fd[QMGR_ACTIVE], m->id, 0) < 0)
        log_warn("%s: remove active/%s: %m", m->id, m->id);
    else
        log_info("%s: removed", m->id);
    qmgr_msg_free(q, m);
}

/* qmgr_sched_dir - activate the files of one directory; deferred/ only when due */
static void
qmgr_sched_dir(struct qmgr *q, enum qmgr_dir d)
{
    int fd = openat(q->dir_fd[d], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd < 0 ? NULL : fdopendir(fd);
    time_t now = time(NULL);
    struct dirent *e;
    struct stat st;

    if (dir == NULL) {
        log_warn("read queue directory %s: %m", qmgr_dir_names[d]);
        if (fd >= 0)
            close(fd);
        return;
    }
    while ((e = readdir(dir)) != NULL) {
        if (!queue_id_valid(e->d_name, strlen(e->d_name)))
            continue;
        if (q->nmsg >= (size_t)q->ctx->params.qmgr_message_active_limit) {
            q->backlog |= d == QMGR_ACTIVE; /* deferred/ waits for the next scan anyway */
            break;
        }
        if (d == QMGR_DEFERRED) {
            if (fstatat(q->dir_fd[d], e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_mtime > now)
                continue;
            if (renameat2(q->dir_fd[d], e->d_name, q->dir_fd[QMGR_ACTIVE], e->d_name,
                          RENAME_NOREPLACE) < 0) {
                log_warn("%s: move deferred/%s to active/: %m", e->d_name, e->d_name);
                continue;
            }
        }
        qmgr_sched_activate(q, e->d_name, true);
    }
    closedir(dir);
}

/* qmgr_sched_backlog - room in memory again: take what waits in active/ */
static void
qmgr_sched_backlog(void *arg)
{
    struct qmgr *q = arg;

    q->backlog = false;
    qmgr_sched_dir(q, QMGR_ACTIVE);
}

/* qmgr_sched_scan - move every deferred message that is due back into active/ */
void
qmgr_sched_scan(struct qmgr *q)
{
    log_debug("deferred queue scan");
    qmgr_sched_dir(q, QMGR_DEFERRED);
}

static void
qmgr_sched_timer(void *arg)
{
    qmgr_sched_scan(arg);
}

/* qmgr_sched_init - the resolver, the timers, and what recovery left in active/ */
void
qmgr_sched_init(struct qmgr *q)
{
    struct err err;

    if (!resolve_open(&q->resolve, &q->ctx->params, &err))
        log_fatal("address resolution tables: %s", err.text);
    q->msg_hash = xcalloc(QMGR_HASH_SIZE, sizeof(*q->msg_hash));
    q->backlog_timer = loop_timer_new(q->ctx->loop, qmgr_sched_backlog, q);
    q->scan_timer = loop_timer_new(q->ctx->loop, qmgr_sched_timer, q);
    loop_timer_every(q->scan_timer, q->ctx->params.queue_run_delay * 1000L);
    q->backlog = true;
    loop_timer_start(q->backlog_timer, 0);
    qmgr_sched_scan(q);
}

/* qmgr_sched_free - at exit: drop what is in memory (the files stay where they are) */
void
qmgr_sched_free(struct qmgr *q)
{
    qmgr_deliver_free(q);
    for (size_t h = 0; q->msg_hash && h < QMGR_HASH_SIZE; h++)
        while (q->msg_hash[h]) {
            struct qmgr_msg *m = q->msg_hash[h];
            q->msg_hash[h] = m->hash_next;
            if (m->fd >= 0)
                close(m->fd);
            queue_envelope_free(&m->env);
            free(m->rcpt);
            free(m);
        }
    free(q->msg_hash);
    loop_timer_free(q->scan_timer);
    loop_timer_free(q->backlog_timer);
    resolve_close(&q->resolve);
}
