/* core_offload.c - fsyncs on helper threads come back as callbacks on the loop */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/loop.h"
#include "core/offload.h"
#include "t/tap.h"

#define JOBS 100

struct state {
    struct loop *loop;
    int done, failed, last_err, expected;
    bool cancelled_called;
};

static void
on_done(int err, void *arg)
{
    struct state *s = arg;

    s->done++;
    s->last_err = err;
    if (err != 0)
        s->failed++;
    if (s->done == s->expected)
        loop_break(s->loop);
}

static void
on_cancelled(int err, void *arg)
{
    struct state *s = arg;

    s->cancelled_called = true;
}

static void
on_guard(void *arg)
{
    loop_break(arg);
}

/* run - the loop until expected callbacks came, or five seconds passed */
static void
run(struct state *s, int expected)
{
    struct loop_timer *guard = loop_timer_new(s->loop, on_guard, s->loop);

    s->expected = expected;
    loop_timer_start(guard, 5000);
    loop_run(s->loop);
    loop_timer_free(guard);
}

int
main(void)
{
    struct state s = {.loop = loop_new()};
    struct offload *o = offload_new(s.loop);
    char *path = tap_write_file("data", "some bytes to make durable\n");
    int fd = open(path, O_RDWR), fds[2];

    offload_fsync(o, fd, on_done, &s);
    close(fd); /* the job has its own descriptor */
    run(&s, 1);
    ok(s.done == 1 && s.last_err == 0, "an fsync of a file reports success on the loop");

    s.done = 0;
    fd = open(path, O_RDWR);
    for (int i = 0; i < JOBS; i++)
        offload_fsync(o, fd, on_done, &s);
    close(fd);
    run(&s, JOBS);
    ok(s.done == JOBS && s.failed == 0, "%d concurrent jobs, each reported once", JOBS);

    s.done = 0;
    ok(pipe(fds) == 0, "a pipe");
    offload_fsync(o, fds[0], on_done, &s);
    run(&s, 1);
    ok(s.done == 1 && s.last_err == EINVAL, "fsync of a pipe reports EINVAL (%d)", s.last_err);

    s.done = 0;
    offload_cancel(offload_fsync(o, fds[1], on_cancelled, &s));
    offload_fsync(o, fds[1], on_done, &s); /* comes after the cancelled one */
    run(&s, 1);
    ok(s.done == 1 && !s.cancelled_called, "a cancelled job's callback is never called");

    s.done = 0;
    offload_fsync(o, -1, on_done, &s);
    run(&s, 1);
    ok(s.done == 1 && s.last_err == EBADF, "a bad descriptor fails through the loop too");
    close(fds[0]);
    close(fds[1]);

    offload_fsync(o, fds[1], on_cancelled, &s);
    offload_free(o); /* pending jobs end without callbacks */
    ok(!s.cancelled_called, "offload_free waits for the helpers and calls nothing");
    loop_free(s.loop);
    free(path);
    return done_testing();
}
