/*
 * loop.c - the one adapter between postern and libevent 2.1.
 *
 * Trusts: its callers. Daemons see only struct loop and the watch handles declared in
 * loop.h; no other file includes an event2 header, so a different backend would be a change
 * to this file alone. Every watch is persistent in libevent's sense except one-shot timers,
 * and every handle owns exactly one struct event.
 */
#include <stdlib.h>
#include <sys/time.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/mem.h"

struct loop {
    struct event_base *base;
};

struct loop_fd {
    struct loop *loop;
    struct event *ev;
    int fd;
    unsigned events;
    loop_fd_fn fn;
    void *ctx;
};

struct loop_timer {
    struct loop *loop;
    struct event *ev;
    bool repeat;
    loop_timer_fn fn;
    void *ctx;
};

struct loop_signal {
    struct event *ev;
    loop_signal_fn fn;
    void *ctx;
};

/* loop_new - create the process's event loop; running out of resources here is fatal */
struct loop *
loop_new(void)
{
    struct loop *loop = xcalloc(1, sizeof(*loop));

    if ((loop->base = event_base_new()) == NULL)
        log_fatal("loop: cannot create the libevent base");
    return loop;
}

/* loop_free - free the loop; every watch on it must have been freed first */
void
loop_free(struct loop *loop)
{
    if (loop == NULL)
        return;
    event_base_free(loop->base);
    free(loop);
}

/* loop_run - dispatch until loop_break() or until nothing is watched; false on error */
bool
loop_run(struct loop *loop)
{
    return event_base_dispatch(loop->base) >= 0;
}

void
loop_break(struct loop *loop)
{
    event_base_loopbreak(loop->base);
}

/* loop_reinit - make the loop usable in a child after fork() */
void
loop_reinit(struct loop *loop)
{
    if (event_reinit(loop->base) < 0)
        log_fatal("loop: cannot reinitialize the event base after fork");
}

static void
loop_msec_to_tv(long msec, struct timeval *tv)
{
    if (msec < 0)
        msec = 0;
    tv->tv_sec = msec / 1000;
    tv->tv_usec = (msec % 1000) * 1000;
}

static void
loop_fd_event(evutil_socket_t fd, short what, void *arg)
{
    struct loop_fd *w = arg;
    unsigned events = 0;

    if (what & EV_READ)
        events |= LOOP_READ;
    if (what & EV_WRITE)
        events |= LOOP_WRITE;
    w->fn((int)fd, events, w->ctx);
}

/* loop_fd_arm - (re)register the event for the current interest set */
static void
loop_fd_arm(struct loop_fd *w)
{
    short what = EV_PERSIST;

    if (w->ev) {
        event_del(w->ev);
        event_free(w->ev);
        w->ev = NULL;
    }
    if (w->events == 0)
        return;
    if (w->events & LOOP_READ)
        what |= EV_READ;
    if (w->events & LOOP_WRITE)
        what |= EV_WRITE;
    w->ev = event_new(w->loop->base, w->fd, what, loop_fd_event, w);
    if (w->ev == NULL || event_add(w->ev, NULL) < 0)
        log_fatal("loop: cannot watch descriptor %d", w->fd);
}

/* loop_fd_add - call fn whenever fd is ready for any of events */
struct loop_fd *
loop_fd_add(struct loop *loop, int fd, unsigned events, loop_fd_fn fn, void *ctx)
{
    struct loop_fd *w = xcalloc(1, sizeof(*w));

    w->loop = loop;
    w->fd = fd;
    w->fn = fn;
    w->ctx = ctx;
    w->events = events;
    loop_fd_arm(w);
    return w;
}

/* loop_fd_set - change what the watch waits for */
void
loop_fd_set(struct loop_fd *w, unsigned events)
{
    if (w->events == events)
        return;
    w->events = events;
    loop_fd_arm(w);
}

void
loop_fd_free(struct loop_fd *w)
{
    if (w == NULL)
        return;
    w->events = 0;
    loop_fd_arm(w);
    free(w);
}

static void
loop_timer_event(evutil_socket_t fd, short what, void *arg)
{
    struct loop_timer *t = arg;

    t->fn(t->ctx);
}

/* loop_timer_new - a stopped timer */
struct loop_timer *
loop_timer_new(struct loop *loop, loop_timer_fn fn, void *ctx)
{
    struct loop_timer *t = xcalloc(1, sizeof(*t));

    t->loop = loop;
    t->fn = fn;
    t->ctx = ctx;
    return t;
}

/* loop_timer_arm - (re)create the event with or without EV_PERSIST and add it */
static void
loop_timer_arm(struct loop_timer *t, long msec, bool repeat)
{
    struct timeval tv;

    loop_timer_stop(t);
    if (t->ev == NULL || t->repeat != repeat) {
        if (t->ev)
            event_free(t->ev);
        t->ev = event_new(t->loop->base, -1, repeat ? EV_PERSIST : 0, loop_timer_event, t);
        if (t->ev == NULL)
            log_fatal("loop: cannot create a timer");
        t->repeat = repeat;
    }
    loop_msec_to_tv(msec, &tv);
    if (event_add(t->ev, &tv) < 0)
        log_fatal("loop: cannot arm a timer");
}

void
loop_timer_start(struct loop_timer *t, long msec)
{
    loop_timer_arm(t, msec, false);
}

void
loop_timer_every(struct loop_timer *t, long msec)
{
    loop_timer_arm(t, msec, true);
}

void
loop_timer_stop(struct loop_timer *t)
{
    if (t->ev)
        event_del(t->ev);
}

bool
loop_timer_pending(const struct loop_timer *t)
{
    return t->ev != NULL && event_pending(t->ev, EV_TIMEOUT, NULL);
}

void
loop_timer_free(struct loop_timer *t)
{
    if (t == NULL)
        return;
    if (t->ev) {
        event_del(t->ev);
        event_free(t->ev);
    }
    free(t);
}

static void
loop_signal_event(evutil_socket_t signo, short what, void *arg)
{
    struct loop_signal *s = arg;

    s->fn((int)signo, s->ctx);
}

/* loop_signal_add - deliver signo to fn from the loop */
struct loop_signal *
loop_signal_add(struct loop *loop, int signo, loop_signal_fn fn, void *ctx)
{
    struct loop_signal *s = xcalloc(1, sizeof(*s));

    s->fn = fn;
    s->ctx = ctx;
    s->ev = evsignal_new(loop->base, signo, loop_signal_event, s);
    if (s->ev == NULL || event_add(s->ev, NULL) < 0)
        log_fatal("loop: cannot watch signal %d", signo);
    return s;
}

void
loop_signal_free(struct loop_signal *s)
{
    if (s == NULL)
        return;
    event_del(s->ev);
    event_free(s->ev);
    free(s);
}
