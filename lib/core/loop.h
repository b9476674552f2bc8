/* loop.h - the event loop: fd readiness, timers and signals, over libevent */
#ifndef CORE_LOOP_H
#define CORE_LOOP_H

#include <stdbool.h>

/*
 * One loop per process. Callbacks run from loop_run() one at a time; a callback may add,
 * change or free any watch, including its own. Timeouts are timers on the loop: nothing in
 * postern uses alarm() or longjmp(). Signals are delivered as ordinary callbacks (libevent
 * catches them and wakes the loop), so a handler may do anything a callback may do.
 *
 * After fork() a child that keeps using its parent's loop must call loop_reinit().
 */

struct loop;
struct loop_fd;
struct loop_timer;
struct loop_signal;

/* Readiness bits for loop_fd_* and the callback's events argument. */
#define LOOP_READ  0x1u
#define LOOP_WRITE 0x2u

typedef void (*loop_fd_fn)(int fd, unsigned events, void *ctx);
typedef void (*loop_timer_fn)(void *ctx);
typedef void (*loop_signal_fn)(int signo, void *ctx);

struct loop *loop_new(void);
void loop_free(struct loop *loop);
bool loop_run(struct loop *loop);
void loop_break(struct loop *loop);
void loop_reinit(struct loop *loop);

/* Persistent readiness watch; events may be 0 (watch kept, nothing wanted). */
struct loop_fd *loop_fd_add(struct loop *loop, int fd, unsigned events, loop_fd_fn fn, void *ctx);
void loop_fd_set(struct loop_fd *w, unsigned events);
void loop_fd_free(struct loop_fd *w);

/* A timer is created stopped. loop_timer_start() arms it once; starting an armed timer
 * re-arms it from now (an idle timer is pushed back this way). loop_timer_every() fires
 * every msec until stopped. */
struct loop_timer *loop_timer_new(struct loop *loop, loop_timer_fn fn, void *ctx);
void loop_timer_start(struct loop_timer *t, long msec);
void loop_timer_every(struct loop_timer *t, long msec);
void loop_timer_stop(struct loop_timer *t);
bool loop_timer_pending(const struct loop_timer *t);
void loop_timer_free(struct loop_timer *t);

/* A signal watch replaces the signal's disposition until it is freed. */
struct loop_signal *loop_signal_add(struct loop *loop, int signo, loop_signal_fn fn, void *ctx);
void loop_signal_free(struct loop_signal *s);

#endif
