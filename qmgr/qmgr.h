/* qmgr.h - the queue manager's shared state, split across the qmgr files by job */
#ifndef QMGR_QMGR_H
#define QMGR_QMGR_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/ipc.h"
#include "core/loop.h"
#include "core/offload.h"
#include "core/str.h"
#include "mail/deliver_req.h"
#include "mail/proto.h"
#include "mail/queue_file.h"
#include "mail/queue_id.h"
#include "mail/resolve.h"
#include "server/server.h"

/* The queue states qmgr works in (doc/queue.md), as descriptors of their directories. */
enum qmgr_dir {
    QMGR_INCOMING,
    QMGR_ACTIVE,
    QMGR_DEFERRED,
    QMGR_HOLD,
    QMGR_CORRUPT,
    QMGR_SPARE,
    QMGR_DIR_COUNT
};

struct qmgr_commit;
struct qmgr_dest;
struct qmgr_job;
struct qmgr_transport;

/* One recipient of an active message, in the order of the queue file. */
struct qmgr_rcpt {
    enum queue_rcpt_state state; /* as recorded, or as decided in this activation */
    bool busy;                   /* in a request in flight */
    bool done;                   /* final or deferred in this activation */
    bool reported;               /* the notice its state owes is committed (d: its delay warning) */
    bool notice_tried;           /* its notice was requested in this activation */
    bool delay_owed;             /* deferred in this activation, and owes a delay warning */
};

/* What an administrator asked of a message in memory (qmgr_admin.c). */
enum qmgr_admin {
    QMGR_ADMIN_NONE,
    QMGR_ADMIN_DELETE,
    QMGR_ADMIN_HOLD,
    QMGR_ADMIN_RELEASE,
    QMGR_ADMIN_REQUEUE,
};

/* A message in memory: in active/, being delivered. */
struct qmgr_msg {
    char id[QUEUE_ID_SIZE];
    int fd; /* active/ID, read-write, while it is activated; -1 after */
    struct queue_envelope env;
    struct qmgr_rcpt *rcpt;
    size_t open;      /* recipients not yet done in this activation */
    size_t jobs;      /* requests queued or in flight */
    size_t deferred;  /* recipients deferred in this activation */
    size_t notices;   /* recipients that owed a notice (only counts up): the file outlives
                         this activation, so every outcome is written to its slot */
    int64_t next_try; /* earliest next try of a deferred recipient, 0 if none */
    double t_active;  /* when it entered active/ (this activation) */
    /* asked by the administrator; done once no delivery is in flight (qmgr_admin.c) */
    enum qmgr_admin admin;
    struct qmgr_msg *hash_next;
};

struct qmgr {
    struct server_ctx *ctx;
    int dir_fd[QMGR_DIR_COUNT];
    struct qmgr_commit *batch; /* renamed, waiting for the next directory fsync */
    struct qmgr_commit **batch_tail;
    struct qmgr_commit *syncing;  /* covered by the fsync in flight */
    bool batch_holds;             /* a file in the batch went to hold/: sync that too */
    struct offload_job *sync_job; /* that fsync, on a helper thread */
    struct offload *offload;
    struct loop_timer *sync_timer; /* starts the fsync once the loop served a round */
    struct strvec orphans_new;     /* uncommitted files kept in incoming/ (qmgr_orphan.c) */
    struct strvec orphans_old;     /* the same, removed at the next sweep */
    struct loop_timer *orphan_timer;
    /* delivery side */
    struct resolve resolve;
    struct qmgr_msg **msg_hash; /* QMGR_HASH_SIZE chains, by queue ID */
    size_t nmsg;
    bool backlog;                 /* files in active/ wait for room in memory */
    struct qmgr_dest *dests;      /* with requests waiting or in flight */
    struct qmgr_dest **dest_hash; /* the same, by key */
    struct qmgr_transport *transports;
    struct loop_timer *scan_timer; /* the deferred/ scan, every queue_run_delay */
    struct loop_timer *backlog_timer;
    struct loop_timer *run_timer; /* starts queued requests from a safe place */
    char (*spare)[QUEUE_ID_SIZE]; /* empty files in spare/, for the next queue_open */
    size_t nspare;
};

#define QMGR_SPARE_MAX 256

/* One receiver's connection. */
struct qmgr_session {
    struct qmgr *qmgr;
    int fd;
    struct loop_fd *watch;
    struct ipc_reader reader;
    char (*open_ids)[QUEUE_ID_SIZE]; /* opened, neither committed nor aborted */
    size_t nopen;
    bool waiting; /* a commit of this session waits for the fsync: reading paused */
    bool gone;    /* the connection ended while waiting; free after the fsync */
};

extern const char *const qmgr_dir_names[QMGR_DIR_COUNT];

/* qmgr_recover.c */
void qmgr_recover(struct qmgr *q);

/* qmgr_orphan.c: uncommitted files kept for a while, for queue_status */
void qmgr_orphan_init(struct qmgr *q);
void qmgr_orphan_add(struct qmgr *q, const char *id);
bool qmgr_orphan_is_old(time_t mtime, time_t now);
void qmgr_orphan_free(struct qmgr *q);

/* qmgr_commit.c */
void qmgr_commit_init(struct qmgr *q);
void qmgr_commit_free(struct qmgr *q);
void qmgr_commit_add(struct qmgr_session *s, const char *id, char *log_line, bool hold);

/* qmgr_sched.c: messages in memory, activation, completion, the queue scans */
void qmgr_sched_init(struct qmgr *q);
void qmgr_sched_activate(struct qmgr *q, const char *id, bool announce);
void qmgr_sched_check(struct qmgr *q, struct qmgr_msg *m);
void qmgr_sched_scan(struct qmgr *q);
void qmgr_sched_free(struct qmgr *q);
struct qmgr_msg *qmgr_sched_find(struct qmgr *q, const char *id);
double qmgr_now(void);
void qmgr_sched_forget(struct qmgr *q, struct qmgr_msg *m);

/* qmgr_admin.c: the administrator's requests (flush, delete, hold, release, requeue, show) */
bool qmgr_admin_handles(enum proto_msg msg);
bool qmgr_admin_serve(struct qmgr_session *s, enum proto_msg msg);
bool qmgr_admin_drop(struct qmgr_msg *m, size_t i);
void qmgr_admin_finish(struct qmgr *q, struct qmgr_msg *m);

/* qmgr_resolve.c: expansion, transports, requests */
void qmgr_resolve_message(struct qmgr *q, struct qmgr_msg *m);
long qmgr_transport_param(struct qmgr *q, const char *transport, const char *what, long dflt);

/* qmgr_spare.c: queue files kept for reuse */
void qmgr_spare_init(struct qmgr *q);
bool qmgr_spare_put(struct qmgr *q, const struct qmgr_msg *m);
int qmgr_spare_take(struct qmgr *q, const char *id);
void qmgr_spare_free(struct qmgr *q);

/* qmgr_deliver.c: destinations and requests to delivery agents */
void qmgr_deliver_add(struct qmgr *q, struct qmgr_msg *m, const struct resolve_result *res,
                      const char *key, size_t i, long rcpt_limit);
void qmgr_deliver_run(struct qmgr *q);
void qmgr_deliver_kick(struct qmgr *q);
void qmgr_deliver_revive_all(struct qmgr *q);
void qmgr_deliver_free(struct qmgr *q);

/* qmgr_defer.c: one recipient's outcome */
struct qmgr_times {
    double dispatch, connected, done; /* 0: not reached */
};
void qmgr_outcome(struct qmgr *q, struct qmgr_msg *m, size_t i, const struct deliver_result *res,
                  const char *relay, const struct qmgr_times *t);
int64_t qmgr_next_try(struct qmgr *q, const struct qmgr_msg *m, time_t now);
void qmgr_record(struct qmgr *q, struct qmgr_msg *m, size_t i, const struct queue_rcpt_status *st);

/* qmgr_notice.c: notices to senders */
enum queue_rcpt_state qmgr_notice_state(struct qmgr *q, const struct qmgr_msg *m, size_t i,
                                        const struct deliver_result *res);
bool qmgr_notice_holds(const struct qmgr_msg *m, size_t i);
bool qmgr_notice_send(struct qmgr *q, struct qmgr_msg *m);
void qmgr_notice_give_up(struct qmgr *q, struct qmgr_msg *m);
int qmgr_notice_mark(struct qmgr *q, const struct queue_notice_origin *o, const char *nid,
                     struct err *err);
void qmgr_notice_unmark(struct qmgr *q, const struct queue_notice_origin *o, const char *nid);
void qmgr_notice_memory(struct qmgr *q, const struct queue_notice_origin *o, bool reported);

/* qmgr_session.c */
void qmgr_session_start(struct qmgr *q, int fd);
bool qmgr_session_reply(struct qmgr_session *s, enum proto_msg msg, const char *id,
                        const char *reason);
void qmgr_session_resume(struct qmgr_session *s);

#endif
