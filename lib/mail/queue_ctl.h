/* queue_ctl.h - the queue tools' protocol: listings from showq, flush and admin requests */
#ifndef MAIL_QUEUE_CTL_H
#define MAIL_QUEUE_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "mail/proto.h"
#include "mail/queue_id.h"

/*
 * Who talks: `postern queue` (and mailq, postqueue) to showq over public/showq for a
 * listing or a flush, which showq passes on to qmgr; `postern queue` run by root to qmgr
 * over private/qmgr for the administrator's requests (delete, hold, release, requeue,
 * show). Each call below is one request and its answer on a connected socket.
 *
 *   showq_list                         -> showq_msg (showq_rcpt x rcpt_count)... showq_end
 *   queue_flush site queue_id          -> queue_done count
 *   queue_admin action queue_id queues -> queue_done count
 *   queue_show queue_id                -> queue_shown queue_name queue_file
 *   any request                        -> queue_refused reason
 */
#define QUEUE_CTL_RECORD_LIMIT 4096
#define QUEUE_CTL_TIMEOUT_MS   30000
#define QUEUE_CTL_NAME_SIZE    16  /* a queue name ("deferred") plus NUL */
#define QUEUE_CTL_WHY_SIZE     600 /* a refusal's text */

enum queue_ctl_outcome {
    QUEUE_CTL_OK,
    QUEUE_CTL_REFUSED, /* queue_refused: why says it */
    QUEUE_CTL_BROKEN,  /* no usable answer: why says what went wrong */
};

struct queue_ctl_rcpt {
    char *addr;
    char *reason; /* "" when the recipient was not tried yet */
};

/* One message of a listing. Strings are never NULL. */
struct queue_ctl_entry {
    char queue_name[QUEUE_CTL_NAME_SIZE];
    char id[QUEUE_ID_SIZE];
    int64_t arrival; /* seconds since the epoch */
    int64_t size;    /* content bytes */
    char *sender;    /* "" is the null sender */
    struct queue_ctl_rcpt *rcpt;
    size_t nrcpt;
};

/* Replies, by the daemons. */
bool queue_ctl_send_entry(int fd, const struct queue_ctl_entry *e, struct err *err);
bool queue_ctl_send_end(int fd, struct err *err);
bool queue_ctl_send_refused(int fd, const char *reason, struct err *err);
bool queue_ctl_send_done(int fd, long count, struct err *err);

/* Requests, by the commands; why gets the refusal or the failure. */
typedef void (*queue_ctl_entry_fn)(const struct queue_ctl_entry *e, void *ctx);
enum queue_ctl_outcome queue_ctl_list(int fd, queue_ctl_entry_fn fn, void *ctx, char *why,
                                      size_t why_size);
enum queue_ctl_outcome queue_ctl_flush(int fd, const char *site, const char *id, long *count,
                                       char *why, size_t why_size);
enum queue_ctl_outcome queue_ctl_admin(int fd, const char *action, const char *id,
                                       const char *queues, long *count, char *why, size_t why_size);
enum queue_ctl_outcome queue_ctl_show(int fd, const char *id, int *file, char *queue_name,
                                      char *why, size_t why_size);

#endif
