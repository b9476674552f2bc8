/* qmgr.h - the queue manager's shared state, split across the qmgr files by job */
#ifndef QMGR_QMGR_H
#define QMGR_QMGR_H

#include <stdbool.h>

#include "core/ipc.h"
#include "core/loop.h"
#include "mail/proto.h"
#include "mail/queue_id.h"
#include "server/server.h"

/* The queue states qmgr works in (doc/queue.md), as descriptors of their directories. */
enum qmgr_dir {
    QMGR_INCOMING,
    QMGR_ACTIVE,
    QMGR_DEFERRED,
    QMGR_HOLD,
    QMGR_CORRUPT,
    QMGR_DIR_COUNT
};

struct qmgr_commit;

struct qmgr {
    struct server_ctx *ctx;
    int dir_fd[QMGR_DIR_COUNT];
    struct qmgr_commit *batch; /* renamed, waiting for the directory fsync */
    struct qmgr_commit **batch_tail;
    struct loop_timer *sync_timer;
};

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

/* qmgr_commit.c */
void qmgr_commit_init(struct qmgr *q);
void qmgr_commit_add(struct qmgr_session *s, const char *id, char *log_line);

/* qmgr_session.c */
void qmgr_session_start(struct qmgr *q, int fd);
void qmgr_session_reply(struct qmgr_session *s, enum proto_msg msg, const char *id,
                        const char *reason);
void qmgr_session_resume(struct qmgr_session *s);

#endif
