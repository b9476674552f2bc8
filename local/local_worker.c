/*
 * local_worker.c - delivery processes that outlive one message: one per user a local
 * process has delivered to, kept for the next message to that user.
 *
 * A worker is forked from local (root) when a task needs a user no worker has. It closes
 * every descriptor but its socket, takes the user's rights for good (local_become, the
 * same irreversible drop as every child of local), and then does tasks one at a time: a
 * task record in (attr format, the message as a memory-file descriptor beside it), a
 * struct deliver_result out. Forking once per user instead of once per message is the
 * point: a fork, its copy-on-write faults and its exit cost far more than the Maildir
 * write itself (doc/local-delivery.md has the figures).
 *
 * A local process keeps at most LOCAL_WORKERS and stops the least recently used one to
 * make room; all stop when local exits, and a worker is killed when local dies
 * (PR_SET_PDEATHSIG), so a local killed with -9 leaves none behind. local handles one request at a
 * time, so a worker is never asked for two tasks at once.
 *
 * Trusts: a worker runs as a user and answers with a fixed-size result that local checks
 * (local_result_check); a worker that dies or cannot be reached defers the delivery.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/fdio.h"
#include "core/ipc.h"
#include "core/log.h"
#include "core/mem.h"
#include "local/local.h"
#include "mail/proto.h"

#define LOCAL_TASK_LIMIT (64 * 1024) /* a task record: paths, addresses, a command */
#define LOCAL_WORKER_FD  3           /* the worker's socket, its only descriptor above 2 */

/* local_task_encode - the task as one record, its memory file beside it */
static bool
local_task_encode(const struct local_task *t, struct buf *rec, struct attr_fds *fds,
                  struct err *err)
{
    proto_begin(rec, PROTO_LOCAL_TASK);
    attr_put_int(rec, PROTO_ATTR_KIND, t->kind);
    attr_put_text(rec, PROTO_ATTR_PATH, t->path);
    attr_put_text(rec, PROTO_ATTR_MKDIR_BASE, t->mkdir_base);
    attr_put_text(rec, PROTO_ATTR_SENDER, t->sender);
    attr_put_text(rec, PROTO_ATTR_RECIPIENT, t->recipient);
    attr_put_text(rec, PROTO_ATTR_ORCPT, t->orcpt);
    attr_put_int(rec, PROTO_ATTR_ARRIVAL, t->arrival);
    attr_put_int(rec, PROTO_ATTR_SIZE, t->len);
    attr_put_fd(rec, fds, PROTO_ATTR_CONTENT, t->fd);
    return attr_end(rec, err);
}

/* The worker's side of a task: its strings live in these buffers. */
struct local_task_in {
    struct buf path, mkdir_base, sender, recipient, orcpt;
    int64_t kind, arrival, length;
    int fd;
};

static void
local_task_in_init(struct local_task_in *in)
{
    memset(in, 0, sizeof(*in));
    buf_init(&in->path, LOCAL_TASK_LIMIT);
    buf_init(&in->mkdir_base, LOCAL_TASK_LIMIT);
    buf_init(&in->sender, LOCAL_TASK_LIMIT);
    buf_init(&in->recipient, LOCAL_TASK_LIMIT);
    buf_init(&in->orcpt, LOCAL_TASK_LIMIT);
    in->fd = -1;
}

static void
local_task_in_free(struct local_task_in *in)
{
    buf_free(&in->path);
    buf_free(&in->mkdir_base);
    buf_free(&in->sender);
    buf_free(&in->recipient);
    buf_free(&in->orcpt);
    if (in->fd >= 0)
        close(in->fd);
}

/* local_task_decode - the record as a task pointing into in */
static bool
local_task_decode(struct buf *rec, struct attr_fds *fds, struct local_task_in *in,
                  struct local_task *t, struct err *err)
{
    const struct attr_spec spec[] = {
        {PROTO_ATTR_KIND, ATTR_INT, ATTR_REQUIRED, &in->kind},
        {PROTO_ATTR_PATH, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &in->path},
        {PROTO_ATTR_MKDIR_BASE, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &in->mkdir_base},
        {PROTO_ATTR_SENDER, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &in->sender},
        {PROTO_ATTR_RECIPIENT, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &in->recipient},
        {PROTO_ATTR_ORCPT, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &in->orcpt},
        {PROTO_ATTR_ARRIVAL, ATTR_INT, ATTR_REQUIRED, &in->arrival},
        {PROTO_ATTR_SIZE, ATTR_INT, ATTR_REQUIRED, &in->length},
        {PROTO_ATTR_CONTENT, ATTR_FD, ATTR_REQUIRED, &in->fd},
    };

    if (!PROTO_DECODE(rec, LOCAL_TASK_LIMIT, fds, PROTO_LOCAL_TASK, spec, err))
        return false;
    if (in->kind < LOCAL_TASK_MAILDIR || in->kind > LOCAL_TASK_COMMAND || in->length < 0) {
        return err_set(err, "bad task");
    }
    *t = (struct local_task){.kind = (enum local_task_kind)in->kind,
                             .path = buf_str(&in->path),
                             .mkdir_base = buf_str(&in->mkdir_base),
                             .sender = buf_str(&in->sender),
                             .recipient = buf_str(&in->recipient),
                             .orcpt = buf_str(&in->orcpt),
                             .arrival = (time_t)in->arrival,
                             .fd = in->fd,
                             .len = (off_t)in->length};
    return true;
}

/* local_worker_loop - in the worker: tasks until EOF; never returns */
static void
local_worker_loop(const struct params *params, const struct local_privs *p, bool good,
                  const struct deliver_result *broken)
{
    struct deliver_result res;
    struct local_task_in in;
    struct local_task t;
    struct err err;
    struct attr_fds fds;
    struct buf rec;

    buf_init(&rec, LOCAL_TASK_LIMIT);
    for (;;) {
        attr_fds_init(&fds);
        local_task_in_init(&in);
        if (ipc_recv(LOCAL_WORKER_FD, &rec, &fds, LOCAL_TASK_LIMIT, -1, &err) != IPC_OK)
            _exit(0); /* EOF: local is done with us */
        if (!local_task_decode(&rec, &fds, &in, &t, &err))
            deliver_set(&res, DELIVER_DEFER, "4.3.0", "delivery process: %s", err.text);
        else if (!good)
            res = *broken;
        else
            local_task_run(params, p, &t, &res);
        local_task_in_free(&in);
        if (!fd_write_all(LOCAL_WORKER_FD, &res, sizeof(res)))
            _exit(1);
    }
}

/* local_worker_child - after the fork: keep only the socket, become the user, serve */
static void
local_worker_child(int sock, pid_t parent, const struct params *params, const struct local_privs *p)
{
    struct deliver_result broken;
    bool good;

    local_child_signals();
    signal(SIGPIPE, SIG_IGN);
    /* Nothing of local's stays open here: not its listener, the master's status socket,
     * qmgr's connection, the queue file, nor a syslog socket (this process never logs). */
    closelog();
    log_to_stderr();
    if ((sock != LOCAL_WORKER_FD && dup2(sock, LOCAL_WORKER_FD) < 0) ||
        close_range(LOCAL_WORKER_FD + 1, ~0U, 0) < 0)
        _exit(1);
    memset(&broken, 0, sizeof(broken));
    good = local_become(p, &broken);
    /* After the drop, which clears it: a worker does not outlive local (its task would
     * finish after local's lock on the recipient is gone, and invite a second delivery). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        _exit(1);
    local_worker_loop(params, p, good, &broken);
}

static void
local_privs_copy(struct local_privs *dst, const struct local_privs *src)
{
    dst->uid = src->uid;
    dst->gid = src->gid;
    dst->user = xstrdup(src->user);
    dst->home = xstrdup(src->home);
}

static bool
local_privs_same(const struct local_privs *a, const struct local_privs *b)
{
    return a->uid == b->uid && a->gid == b->gid && strcmp(a->user, b->user) == 0 &&
           strcmp(a->home, b->home) == 0;
}

/* local_worker_stop - close the socket, kill and collect the process, forget the worker; its
 * wait status (a worker that already died keeps its own: killing a zombie changes nothing) */
static int
local_worker_stop(struct local_worker *w)
{
    int status = 0;

    close(w->sock);
    kill(w->pid, SIGKILL);
    while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
        ;
    local_privs_free(&w->who);
    memset(w, 0, sizeof(*w));
    return status;
}

/* local_worker_start - a new worker for p in slot w; false (and why in res) if none */
static bool
local_worker_start(struct local *lc, struct local_worker *w, const struct local_privs *p,
                   struct deliver_result *res)
{
    pid_t pid, parent = getpid();
    int fds[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
        deliver_errno(res, errno, "socketpair", "delivery process");
        return false;
    }
    if ((pid = fork()) < 0) {
        deliver_errno(res, errno, "fork", "delivery process");
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid == 0)
        local_worker_child(fds[1], parent, &lc->ctx->params, p);
    close(fds[1]);
    w->pid = pid;
    w->sock = fds[0];
    local_privs_copy(&w->who, p);
    return true;
}

/* local_worker_for - the worker with p's rights, started if there is none */
static struct local_worker *
local_worker_for(struct local *lc, const struct local_privs *p, struct deliver_result *res)
{
    struct local_worker *w = NULL, *oldest = &lc->worker[0];

    for (size_t i = 0; i < LOCAL_WORKERS; i++) {
        struct local_worker *c = &lc->worker[i];
        if (c->pid != 0 && local_privs_same(&c->who, p))
            return c;
        if (c->pid == 0 && w == NULL)
            w = c;
        if (c->used < oldest->used)
            oldest = c;
    }
    if (w == NULL) {
        w = oldest;
        local_worker_stop(w);
    }
    return local_worker_start(lc, w, p, res) ? w : NULL;
}

/* local_worker_ready - wait for the worker's answer until the deadline; false if none came */
static bool
local_worker_ready(int sock, long limit_ms)
{
    struct pollfd pfd = {.fd = sock, .events = POLLIN};
    struct timespec start, now;
    long left = limit_ms;
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &start);
    while ((rc = poll(&pfd, 1, (int)left)) < 0 && errno == EINTR) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        left = limit_ms -
               (long)((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
        if (left <= 0)
            return false;
    }
    return rc > 0;
}

/*
 * local_worker_result - the worker's answer. A worker that died is stopped; so is one that
 * does not answer within local_delivery_time_limit (hung, or stopped by its user with
 * SIGSTOP): a user must not be able to hold up local's other deliveries.
 */
static void
local_worker_result(const struct params *p, struct local_worker *w, struct deliver_result *res)
{
    int status;

    if (!local_worker_ready(w->sock, p->local_delivery_time_limit * 1000L)) {
        local_worker_stop(w);
        deliver_set(res, DELIVER_DEFER, "4.3.0",
                    "delivery process did not finish within local_delivery_time_limit");
        return;
    }
    if (fd_read_full(w->sock, res, sizeof(*res)) == sizeof(*res)) {
        local_result_check(res);
        return;
    }
    status = local_worker_stop(w);
    deliver_set(res, DELIVER_DEFER, "4.3.0", "delivery process died (%s %d)",
                WIFSIGNALED(status) ? "signal" : "status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

/*
 * local_worker_run - do the task with p's rights; the result in res. A worker that is gone
 * before it took the task (it died while idle) is replaced once; one that dies with the
 * task defers it, as the delivery may or may not have happened.
 */
void
local_worker_run(struct local *lc, const struct local_privs *p, const struct local_task *t,
                 struct deliver_result *res)
{
    int timeout = (int)(lc->ctx->params.local_delivery_time_limit * 1000L);
    struct local_worker *w = NULL;
    struct err err;
    struct attr_fds fds;
    struct buf rec;
    bool sent = false;

    buf_init(&rec, LOCAL_TASK_LIMIT);
    attr_fds_init(&fds);
    if (!local_task_encode(t, &rec, &fds, &err)) {
        deliver_set(res, DELIVER_DEFER, "4.3.0", "delivery task: %s", err.text);
        buf_free(&rec);
        return;
    }
    for (int attempt = 0; attempt < 2 && !sent; attempt++) {
        if ((w = local_worker_for(lc, p, res)) == NULL)
            break;
        sent = ipc_send(w->sock, &rec, &fds, timeout, &err) == IPC_OK;
        if (!sent) {
            deliver_set(res, DELIVER_DEFER, "4.3.0", "delivery process: %s", err.text);
            local_worker_stop(w);
        }
    }
    buf_free(&rec);
    if (!sent)
        return;
    w->used = ++lc->tick;
    local_worker_result(&lc->ctx->params, w, res);
}

/* local_workers_stop - end every worker (local is exiting) */
void
local_workers_stop(struct local *lc)
{
    for (size_t i = 0; i < LOCAL_WORKERS; i++)
        if (lc->worker[i].pid != 0)
            local_worker_stop(&lc->worker[i]);
}
