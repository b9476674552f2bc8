/*
 * master_spawn.c - start, count, replace and stop the children of each service.
 *
 * Runs as root in the master. The policy, in order of importance:
 *   - one failing service never harms another, and never makes the master spin: a child
 *     that dies before it reported for duty is a bad start, and bad starts back off
 *     exponentially (1s, 2s, 4s ... up to service_throttle_time) with a warning;
 *   - every service keeps one child; a child that crashed after a good start is replaced
 *     at once;
 *   - more children start on demand: when none is idle and a listener is readable, up to
 *     maxproc (0 = no limit).
 * The child side of the contract (fd 3 status socket, fds 4.. listeners,
 * POSTERN_LISTEN_FDS) is described in doc/master-protocol.md.
 *
 * Trusts: the service table the master built from root's master.cf; children only as far
 * as their exit status and the kernel-checked status reports.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "master/master.h"

#define MASTER_STATUS_FD 3
#define MASTER_LISTEN_FD 4
#define MASTER_FD_PARK   64 /* descriptors are moved above this before they are placed */

static bool master_may_spawn(const struct master_service *svc);

/* master_child_fds - put the status socket at 3 and the listeners at 4.., close the rest */
static void
master_child_fds(struct master_service *svc)
{
    int status = fcntl(svc->status_fd[1], F_DUPFD, MASTER_FD_PARK + 1);
    int *parked = xcalloc(svc->nfds + 1, sizeof(int));

    for (size_t i = 0; i < svc->nfds; i++)
        parked[i] = fcntl(svc->fds[i], F_DUPFD, MASTER_FD_PARK + 1);
    if (dup2(status, MASTER_STATUS_FD) < 0)
        _exit(127);
    for (size_t i = 0; i < svc->nfds; i++)
        if (dup2(parked[i], MASTER_LISTEN_FD + (int)i) < 0)
            _exit(127);
    close_range((unsigned)MASTER_LISTEN_FD + (unsigned)svc->nfds, ~0U, 0);
}

/*
 * master_child_argv - the child's command line. The last child the process limit allows
 * runs under stress (Postfix's stress=yes), so that defaults such as smtpd_timeout's
 * ${stress?{10}:{300}}s shrink for its lifetime: a service at its limit turns sessions over
 * faster instead of queueing new clients behind slow ones.
 */
static void
master_child_argv(const struct master_service *svc, struct strvec *argv)
{
    strvec_init(argv);
    strvec_add(argv, svc->argv.v[0]);
    if (svc->maxproc > 1 && svc->nprocs + 1 >= svc->maxproc) {
        strvec_add(argv, "-o");
        strvec_add(argv, "stress=yes");
    }
    for (size_t i = 1; i < svc->argv.n; i++)
        strvec_add(argv, svc->argv.v[i]);
}

static void
master_child_exec(struct master_service *svc)
{
    static const int sigs[] = {SIGTERM, SIGHUP, SIGINT, SIGCHLD, SIGPIPE, SIGUSR1};
    sigset_t none;
    struct strvec env, argv;

    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        signal(sigs[i], SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    master_child_fds(svc);
    master_env_build(&svc->master->params, svc->nfds, &env);
    master_child_argv(svc, &argv);
    execve(svc->path, argv.v, env.v);
    log_warn("exec %s: %m", svc->path);
    _exit(127);
}

/* master_spawn - start one child of svc */
static void
master_spawn(struct master_service *svc)
{
    struct master_proc *proc;
    pid_t pid = fork();

    if (pid < 0) {
        log_warn("fork for service %s: %m", svc->key);
        return;
    }
    if (pid == 0)
        master_child_exec(svc);
    proc = xcalloc(1, sizeof(*proc));
    proc->pid = pid;
    proc->svc = svc;
    proc->idle = true;
    clock_gettime(CLOCK_MONOTONIC, &proc->started);
    proc->next = svc->procs;
    svc->procs = proc;
    svc->nprocs++;
    svc->nidle++;
    log_trace("master", "service %s: started pid %ld", svc->key, (long)pid);
}

static void
master_accept_ready(int fd, unsigned events, void *ctx)
{
    struct master_service *svc = ctx;

    if (master_may_spawn(svc))
        master_spawn(svc);
    master_avail_update(svc);
}

static bool
master_may_spawn(const struct master_service *svc)
{
    const struct master *m = svc->master;

    return !m->stopping && !svc->removed && !svc->throttled &&
           (svc->maxproc == 0 || svc->nprocs < svc->maxproc);
}

/*
 * master_avail_update - watch the listeners only while a new child could be needed: no
 * idle child, room for one more, not throttled. Otherwise the idle children accept.
 */
void
master_avail_update(struct master_service *svc)
{
    bool want = svc->nidle == 0 && master_may_spawn(svc);

    for (size_t i = 0; i < svc->nfds && svc->accept_watch; i++)
        loop_fd_set(svc->accept_watch[i], want ? LOOP_READ : 0);
}

static void
master_throttle_end(void *ctx)
{
    struct master_service *svc = ctx;

    svc->throttled = false;
    if (svc->nprocs == 0 && master_may_spawn(svc))
        master_spawn(svc);
    master_avail_update(svc);
}

/* master_throttle - a bad start: pause this service, twice as long as the last time */
static void
master_throttle(struct master_service *svc)
{
    long limit = svc->master->params.service_throttle_time * 1000L;
    long delay = 1000L;

    for (int i = 1; i < svc->failures && delay < limit; i++)
        delay *= 2;
    if (delay > limit)
        delay = limit;
    svc->throttled = true;
    loop_timer_start(svc->throttle_timer, delay);
    log_warn("%s: bad command startup -- throttling for %lds", svc->path, delay / 1000);
}

void
master_service_start(struct master_service *svc)
{
    struct master *m = svc->master;

    svc->throttle_timer = loop_timer_new(m->loop, master_throttle_end, svc);
    svc->status_watch = loop_fd_add(m->loop, svc->status_fd[0], LOOP_READ, master_status_read, svc);
    svc->accept_watch = xcalloc(svc->nfds + 1, sizeof(*svc->accept_watch));
    for (size_t i = 0; i < svc->nfds; i++)
        svc->accept_watch[i] = loop_fd_add(m->loop, svc->fds[i], 0, master_accept_ready, svc);
    master_wakeup_start(svc);
    if (master_may_spawn(svc))
        master_spawn(svc);
    master_avail_update(svc);
}

/* master_service_stop - close the door and ask every child to finish and exit */
void
master_service_stop(struct master_service *svc)
{
    svc->removed = true;
    if (svc->wakeup_timer)
        loop_timer_stop(svc->wakeup_timer);
    for (size_t i = 0; i < svc->nfds && svc->accept_watch; i++)
        loop_fd_free(svc->accept_watch[i]);
    free(svc->accept_watch);
    svc->accept_watch = NULL;
    master_listen_close(svc);
    master_retire_children(svc);
}

/* master_retire - ask one child to finish its clients and exit */
static void
master_retire(struct master_service *svc, struct master_proc *p)
{
    p->retiring = true;
    if (p->idle)
        svc->nidle--;
    p->idle = false;
    svc->nprocs--;
    kill(p->pid, SIGTERM);
}

/* master_retire_children - ask every child to finish its clients and exit */
void
master_retire_children(struct master_service *svc)
{
    for (struct master_proc *p = svc->procs; p; p = p->next)
        if (!p->retiring)
            master_retire(svc, p);
}

/*
 * master_reload_children - a reload of a service whose entry did not change: children that
 * reload in place get SIGHUP and stay (tlsproxy keeps its sessions and, if the new settings
 * are broken, its old ones); the others finish their clients and are replaced
 */
void
master_reload_children(struct master_service *svc)
{
    for (struct master_proc *p = svc->procs; p; p = p->next) {
        if (p->retiring)
            continue;
        if (p->reloads)
            kill(p->pid, SIGHUP);
        else
            master_retire(svc, p);
    }
}

/* master_service_spawn - start a child now if the service may have one */
void
master_service_spawn(struct master_service *svc)
{
    if (master_may_spawn(svc))
        master_spawn(svc);
    master_avail_update(svc);
}

static struct master_proc *
master_find_proc(struct master *m, pid_t pid, struct master_proc ***link)
{
    for (struct master_service *svc = m->services; svc; svc = svc->next)
        for (struct master_proc **pp = &svc->procs; *pp; pp = &(*pp)->next)
            if ((*pp)->pid == pid) {
                *link = pp;
                return *pp;
            }
    return NULL;
}

static void
master_log_exit(const struct master_proc *proc, int status)
{
    if (WIFSIGNALED(status))
        log_warn("process %s pid %ld killed by signal %d", proc->svc->path, (long)proc->pid,
                 WTERMSIG(status));
    else if (WEXITSTATUS(status) != 0)
        log_warn("process %s pid %ld exit status %d", proc->svc->path, (long)proc->pid,
                 WEXITSTATUS(status));
}

/* master_child_gone - account for one dead child and decide what comes next */
static void
master_child_gone(struct master_proc *proc, int status)
{
    struct master_service *svc = proc->svc;
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

    if (!proc->retiring) {
        svc->nprocs--;
        if (proc->idle)
            svc->nidle--;
        master_log_exit(proc, status);
    }
    if (proc->retiring || clean || proc->ready) {
        svc->failures = 0;
    } else {
        svc->failures++;
        master_throttle(svc);
    }
    /* Keep one child per service; more only on demand. */
    if (svc->nprocs == 0 && master_may_spawn(svc))
        master_spawn(svc);
    master_avail_update(svc);
}

/* master_forget - drop one reaped child from the table */
void
master_forget(struct master *m, pid_t pid, int status)
{
    struct master_proc *proc, **link;

    if ((proc = master_find_proc(m, pid, &link)) == NULL)
        return;
    *link = proc->next;
    master_child_gone(proc, status);
    free(proc);
}

/* master_reap - collect every child that has exited */
void
master_reap(struct master *m)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        master_forget(m, pid, status);
}

void
master_signal_all(struct master *m, int signo)
{
    for (struct master_service *svc = m->services; svc; svc = svc->next)
        for (struct master_proc *p = svc->procs; p; p = p->next)
            kill(p->pid, signo);
}

/* master_count_procs - every child still alive, retiring ones included */
int
master_count_procs(const struct master *m)
{
    int n = 0;

    for (const struct master_service *svc = m->services; svc; svc = svc->next)
        for (const struct master_proc *p = svc->procs; p; p = p->next)
            n++;
    return n;
}
