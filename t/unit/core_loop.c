/* core_loop.c - timers, descriptors and signals arrive as callbacks from the loop */
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/loop.h"
#include "t/tap.h"

struct state {
    struct loop *loop;
    struct loop_timer *once;
    struct loop_timer *every;
    struct loop_timer *guard;
    struct loop_fd *watch;
    int once_fired;
    int every_fired;
    int reads;
    int writes;
    int signals;
    int last_signo;
    bool guard_fired;
};

static long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_once(void *ctx)
{
    struct state *s = ctx;

    s->once_fired++;
}

static void
on_every(void *ctx)
{
    struct state *s = ctx;

    if (++s->every_fired == 3) {
        loop_timer_stop(s->every);
        loop_break(s->loop);
    }
}

static void
on_guard(void *ctx)
{
    struct state *s = ctx;

    s->guard_fired = true;
    loop_break(s->loop);
}

static void
test_timers(struct state *s)
{
    long start = now_ms();

    s->once = loop_timer_new(s->loop, on_once, s);
    s->every = loop_timer_new(s->loop, on_every, s);
    s->guard = loop_timer_new(s->loop, on_guard, s);
    ok(!loop_timer_pending(s->once), "a new timer is stopped");
    loop_timer_start(s->once, 10);
    ok(loop_timer_pending(s->once), "started timer is pending");
    loop_timer_start(s->once, 30); /* re-armed: fires once, later */
    loop_timer_every(s->every, 20);
    loop_timer_start(s->guard, 2000);
    ok(loop_run(s->loop), "loop ran");
    ok(!s->guard_fired, "repeating timer broke the loop before the guard");
    is_int(s->every_fired, 3, "repeating timer fired three times");
    is_int(s->once_fired, 1, "re-armed one-shot timer fired once");
    ok(now_ms() - start >= 55, "repeating timer kept its period");
    ok(!loop_timer_pending(s->once), "one-shot timer is no longer pending");
    loop_timer_stop(s->guard);
}

static void
on_fd(int fd, unsigned events, void *ctx)
{
    struct state *s = ctx;
    char buf[16];

    if (events & LOOP_WRITE) {
        s->writes++;
        loop_fd_set(s->watch, LOOP_READ);
    }
    if (events & LOOP_READ) {
        s->reads++;
        if (read(fd, buf, sizeof(buf)) <= 0 || s->reads == 2) {
            loop_fd_free(s->watch);
            s->watch = NULL;
        }
        loop_break(s->loop);
    }
}

static void
test_fd(struct state *s)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return;
    s->watch = loop_fd_add(s->loop, sv[1], LOOP_WRITE, on_fd, s);
    if (write(sv[0], "a", 1) != 1)
        return;
    loop_timer_start(s->guard, 2000);
    loop_run(s->loop);
    is_int(s->writes, 1, "writable reported, then the watch changed to reading");
    is_int(s->reads, 1, "readable reported");
    if (write(sv[0], "b", 1) != 1)
        return;
    loop_run(s->loop);
    is_int(s->reads, 2, "watch persists for the next read");
    ok(s->watch == NULL && !s->guard_fired, "callback freed its own watch");
    loop_timer_stop(s->guard);
    close(sv[0]);
    close(sv[1]);
}

static void
on_signal(int signo, void *ctx)
{
    struct state *s = ctx;

    s->signals++;
    s->last_signo = signo;
    loop_break(s->loop);
}

static void
test_signals(struct state *s)
{
    struct loop_signal *term = loop_signal_add(s->loop, SIGTERM, on_signal, s);
    struct loop_signal *hup = loop_signal_add(s->loop, SIGHUP, on_signal, s);

    loop_timer_start(s->guard, 2000);
    kill(getpid(), SIGTERM);
    loop_run(s->loop);
    ok(s->signals == 1 && s->last_signo == SIGTERM, "SIGTERM became a callback");
    kill(getpid(), SIGHUP);
    loop_run(s->loop);
    ok(s->signals == 2 && s->last_signo == SIGHUP, "SIGHUP became a callback");
    ok(!s->guard_fired, "no timeout");
    loop_signal_free(term);
    loop_signal_free(hup);
    loop_timer_free(s->guard);
    loop_timer_free(s->once);
    loop_timer_free(s->every);
    ok(loop_run(s->loop), "a loop with nothing to watch returns at once");
}

int
main(void)
{
    struct state s = {.loop = loop_new()};

    test_timers(&s);
    test_fd(&s);
    test_signals(&s);
    loop_free(s.loop);
    return done_testing();
}
