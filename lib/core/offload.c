/*
 * offload.c - fsync on helper threads (offload.h says why).
 *
 * Jobs wait in a list under a mutex; OFFLOAD_THREADS helpers take them one at a time. A
 * finished job goes to the done list and an eventfd wakes the loop, which calls each
 * job's callback and frees it; a cancelled job (callback cleared) is freed without a call.
 * Trusts: its callers' descriptors.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/offload.h"

#define OFFLOAD_THREADS 4

struct offload_job {
    int fd;                     /* fsync jobs: our duplicate; the helper closes it */
    offload_fn fn;              /* call jobs: what the helper runs on data */
    void *data;                 /* owned by the job until release */
    offload_release_fn release; /* after done (or instead of it, once cancelled) */
    int err;                    /* the job's result: fsync's errno, or fn's value */
    offload_done_fn done;       /* NULL once cancelled */
    void *arg;
    struct offload_job *next;
};

struct offload {
    struct loop *loop;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct offload_job *todo, **todo_tail;
    struct offload_job *done, **done_tail;
    int efd;
    struct loop_fd *watch;
    pthread_t thread[OFFLOAD_THREADS];
    int nthreads;
    bool stopping;
};

static void
offload_push(struct offload_job ***tail, struct offload_job *job)
{
    job->next = NULL;
    **tail = job;
    *tail = &job->next;
}

/* offload_helper - a helper thread: fsync jobs until told to stop */
static void *
offload_helper(void *arg)
{
    struct offload *o = arg;
    const uint64_t one = 1;

    pthread_mutex_lock(&o->lock);
    for (;;) {
        struct offload_job *job;

        while (o->todo == NULL && !o->stopping)
            pthread_cond_wait(&o->wake, &o->lock);
        if ((job = o->todo) == NULL)
            break;
        if ((o->todo = job->next) == NULL)
            o->todo_tail = &o->todo;
        pthread_mutex_unlock(&o->lock);
        if (job->fn != NULL) {
            job->err = job->fn(job->data);
        } else {
            job->err = fsync(job->fd) < 0 ? errno : 0;
            close(job->fd);
        }
        pthread_mutex_lock(&o->lock);
        offload_push(&o->done_tail, job);
        if (write(o->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            log_warn("offload: wake the loop: %m");
    }
    pthread_mutex_unlock(&o->lock);
    return NULL;
}

/* offload_finished - on the loop: the callbacks of every finished job */
static void
offload_finished(int fd, unsigned events, void *arg)
{
    struct offload *o = arg;
    struct offload_job *list;
    uint64_t n;

    if (read(o->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        log_warn("offload: read eventfd: %m");
    pthread_mutex_lock(&o->lock);
    list = o->done;
    o->done = NULL;
    o->done_tail = &o->done;
    pthread_mutex_unlock(&o->lock);
    while (list != NULL) {
        struct offload_job *job = list;
        offload_done_fn done;

        list = job->next;
        done = job->done;
        if (done != NULL)
            done(job->err, job->arg);
        if (job->release != NULL)
            job->release(job->data);
        free(job);
    }
}

struct offload *
offload_new(struct loop *loop)
{
    struct offload *o = xcalloc(1, sizeof(*o));

    o->loop = loop;
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->wake, NULL);
    o->todo_tail = &o->todo;
    o->done_tail = &o->done;
    o->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (o->efd < 0)
        log_fatal("offload: eventfd: %m");
    o->watch = loop_fd_add(loop, o->efd, LOOP_READ, offload_finished, o);
    return o;
}

/* offload_start - the helpers, with every signal blocked (they inherit the mask) */
static void
offload_start(struct offload *o)
{
    sigset_t all, old;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (o->nthreads < OFFLOAD_THREADS &&
           pthread_create(&o->thread[o->nthreads], NULL, offload_helper, o) == 0)
        o->nthreads++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (o->nthreads == 0)
        log_fatal("offload: cannot start a helper thread");
}

/* offload_fsync - fsync a duplicate of fd on a helper; done(errno or 0, arg) on the loop */
struct offload_job *
offload_fsync(struct offload *o, int fd, offload_done_fn done, void *arg)
{
    struct offload_job *job = xcalloc(1, sizeof(*job));
    const uint64_t one = 1;

    job->done = done;
    job->arg = arg;
    if (o->nthreads == 0)
        offload_start(o);
    pthread_mutex_lock(&o->lock);
    if ((job->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
        /* No descriptor to give a helper: the job fails, through the loop like any other. */
        job->err = errno;
        offload_push(&o->done_tail, job);
        if (write(o->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            log_warn("offload: wake the loop: %m");
    } else {
        offload_push(&o->todo_tail, job);
        pthread_cond_signal(&o->wake);
    }
    pthread_mutex_unlock(&o->lock);
    return job;
}

/*
 * offload_call - run fn(data) on a helper; done(fn's value, arg) comes on the loop, then
 * release(data). fn must touch nothing but data: the loop goes on meanwhile.
 */
struct offload_job *
offload_call(struct offload *o, offload_fn fn, void *data, offload_release_fn release,
             offload_done_fn done, void *arg)
{
    struct offload_job *job = xcalloc(1, sizeof(*job));

    job->fd = -1;
    job->fn = fn;
    job->data = data;
    job->release = release;
    job->done = done;
    job->arg = arg;
    if (o->nthreads == 0)
        offload_start(o);
    pthread_mutex_lock(&o->lock);
    offload_push(&o->todo_tail, job);
    pthread_cond_signal(&o->wake);
    pthread_mutex_unlock(&o->lock);
    return job;
}

/* Callbacks are read and cleared only in the loop's thread: the helpers never look at them. */
void
offload_cancel(struct offload_job *job)
{
    job->done = NULL;
}

/* offload_free - wait for the helpers (they finish the jobs they have), drop the rest */
void
offload_free(struct offload *o)
{
    if (o == NULL)
        return;
    pthread_mutex_lock(&o->lock);
    o->stopping = true;
    pthread_cond_broadcast(&o->wake);
    pthread_mutex_unlock(&o->lock);
    for (int i = 0; i < o->nthreads; i++)
        pthread_join(o->thread[i], NULL);
    for (struct offload_job *job = o->done, *next; job != NULL; job = next) {
        next = job->next;
        if (job->release != NULL)
            job->release(job->data);
        free(job);
    }
    loop_fd_free(o->watch);
    close(o->efd);
    pthread_cond_destroy(&o->wake);
    pthread_mutex_destroy(&o->lock);
    free(o);
}
