/* offload.h - fsync and other blocking calls on helper threads: an event loop never waits */
#ifndef CORE_OFFLOAD_H
#define CORE_OFFLOAD_H

#include "core/loop.h"

/*
 * An event-driven daemon that must make a file durable (smtpd, before it asks qmgr to
 * commit a message) hands the fsync to one of a few helper threads and goes on serving its
 * other clients; the result comes back as a callback on the loop, in the loop's thread.
 * Concurrent fsyncs of different files also let the file system merge their work.
 *
 * The helpers do nothing but fsync() and close() a duplicate of the descriptor, or run a
 * job's function on the job's own data (a passwd lookup through NSS, say): they touch no
 * other state of the process. They block every signal, so signals keep going to the
 * loop's thread. They start with the first job.
 */

struct offload;
struct offload_job;

/* done gets 0 or fsync's errno, on the loop, unless the job was cancelled first */
typedef void (*offload_done_fn)(int err, void *arg);

struct offload *offload_new(struct loop *loop);
void offload_free(struct offload *o);

/* offload_fsync - fsync fd (duplicated: the caller may close it at once); a handle for
 * offload_cancel, valid until done is called */
struct offload_job *offload_fsync(struct offload *o, int fd, offload_done_fn done, void *arg);

/* A job of any kind: fn runs on a helper thread with data, and returns the result done gets. */
typedef int (*offload_fn)(void *data);
typedef void (*offload_release_fn)(void *data);
struct offload_job *offload_call(struct offload *o, offload_fn fn, void *data,
                                 offload_release_fn release, offload_done_fn done, void *arg);

/* offload_cancel - done will not be called (the job itself still runs, and is released) */
void offload_cancel(struct offload_job *job);

#endif
