/*
 * qmgr_session.c - one receiver's connection: queue_open, queue_commit, queue_abort.
 *
 * Trusts: only clients the skeleton admitted (peers_check), and only as far as the protocol
 * goes: a client may commit or abort only IDs it opened on this connection, every ID is
 * validated before it names a file, and a file is parsed in full before it leaves
 * incoming/. Requests are answered strictly in order: while a commit waits for its
 * directory fsync, the connection is not read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/buf.h"
#include "core/ipc.h"
#include "core/log.h"
#include "core/mem.h"
#include "mail/proto.h"
#include "mail/queue_file.h"
#include "mail/queue_id.h"
#include "qmgr/qmgr.h"

#define QMGR_RECORD_LIMIT 4096
#define QMGR_OPEN_MAX     1024 /* files one connection may hold open */
#define QMGR_REPLY_MS     10000
#define QMGR_CREATE_TRIES 10

static void qmgr_session_end(struct qmgr_session *s, bool clean);

/* qmgr_session_reply - one reply record; id and reason may be NULL. false: not sent */
bool
qmgr_session_reply(struct qmgr_session *s, enum proto_msg msg, const char *id, const char *reason)
{
    struct buf rec;
    struct err err;
    bool sent;

    buf_init(&rec, QMGR_RECORD_LIMIT);
    proto_begin(&rec, msg);
    if (id)
        attr_put_text(&rec, PROTO_ATTR_QUEUE_ID, id);
    if (reason)
        attr_put_text(&rec, PROTO_ATTR_REASON, reason);
    sent = attr_end(&rec, &err) && ipc_send(s->fd, &rec, NULL, QMGR_REPLY_MS, &err) == IPC_OK;
    if (!sent)
        log_warn("reply %s to client: %s", proto_msg_name(msg), err.text);
    buf_free(&rec);
    return sent;
}

/* qmgr_session_find - index of id among this connection's open files, or -1 */
static ssize_t
qmgr_session_find(const struct qmgr_session *s, const struct buf *id)
{
    if (!queue_id_valid(id->data, id->len))
        return -1;
    for (size_t i = 0; i < s->nopen; i++)
        if (memcmp(s->open_ids[i], id->data, QUEUE_ID_LEN) == 0)
            return (ssize_t)i;
    return -1;
}

static void
qmgr_session_forget(struct qmgr_session *s, size_t i)
{
    memcpy(s->open_ids[i], s->open_ids[--s->nopen], QUEUE_ID_SIZE);
}

/* qmgr_session_unlink - remove an uncommitted file from incoming/ */
static void
qmgr_session_unlink(struct qmgr_session *s, const char *id)
{
    if (unlinkat(s->qmgr->dir_fd[QMGR_INCOMING], id, 0) < 0 && errno != ENOENT)
        log_warn("%s: remove incoming/%s: %m", id, id);
}

/* qmgr_open - create a file in incoming/ and pass it to the client */
static void
qmgr_open(struct qmgr_session *s)
{
    char id[QUEUE_ID_SIZE];
    struct buf rec;
    struct attr_fds fds;
    struct err err;
    int fd = -1;

    if (s->nopen >= QMGR_OPEN_MAX) {
        qmgr_session_reply(s, PROTO_QUEUE_REFUSED, NULL, "too many open queue files");
        return;
    }
    queue_id_new(id);
    fd = qmgr_spare_take(s->qmgr, id);
    for (int i = 0; i < QMGR_CREATE_TRIES && fd < 0; i++) {
        if (i > 0)
            queue_id_new(id);
        fd =
            openat(s->qmgr->dir_fd[QMGR_INCOMING], id, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        log_warn("create incoming/%s: %m", id);
        qmgr_session_reply(s, PROTO_QUEUE_REFUSED, NULL, "cannot create a queue file");
        return;
    }
    if (s->nopen % 16 == 0)
        s->open_ids = xreallocarray(s->open_ids, s->nopen + 16, sizeof(*s->open_ids));
    memcpy(s->open_ids[s->nopen++], id, QUEUE_ID_SIZE);
    attr_fds_init(&fds);
    buf_init(&rec, QMGR_RECORD_LIMIT);
    proto_begin(&rec, PROTO_QUEUE_OPENED);
    attr_put_text(&rec, PROTO_ATTR_QUEUE_ID, id);
    attr_put_fd(&rec, &fds, PROTO_ATTR_QUEUE_FILE, fd);
    if (!attr_end(&rec, &err) || ipc_send(s->fd, &rec, &fds, QMGR_REPLY_MS, &err) != IPC_OK)
        log_warn("%s: pass queue file to client: %s", id, err.text);
    buf_free(&rec);
    close(fd);
}

/* qmgr_validate - parse incoming/id in full; the log line for the commit, or NULL. A
 * notice's origin record goes to *origin (the caller frees its rcpt). */
static char *
qmgr_validate(struct qmgr_session *s, const char *id, struct queue_notice_origin *origin)
{
    struct queue_envelope env;
    struct err err;
    struct stat st;
    char *line = NULL;
    int fd = openat(s->qmgr->dir_fd[QMGR_INCOMING], id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0)
        log_warn("%s: commit refused: open incoming/%s: %m", id, id);
    else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        log_warn("%s: commit refused: incoming/%s is not a regular file", id, id);
    else if (!queue_file_read(fd, &env, &err))
        log_warn("%s: commit refused: incoming/%s: %s", id, id, err.text);
    else {
        line = xasprintf("%s: from=<%s>, size=%llu, nrcpt=%zu (queue active)", id, env.sender,
                         (unsigned long long)env.size, env.nrcpt);
        *origin = env.origin;
        env.origin.rcpt = NULL;
        queue_envelope_free(&env);
    }
    if (fd >= 0)
        close(fd);
    return line;
}

static bool
qmgr_marks(const struct queue_notice_origin *o)
{
    return o->kind != QUEUE_NOTICE_NONE && o->kind != QUEUE_NOTICE_COPY;
}

/* qmgr_commit_finish - move to active/ (hold/ when held) and wait for the group fsync, or
 * refuse (line NULL) */
static void
qmgr_commit_finish(struct qmgr_session *s, const char *id, char *line,
                   const struct queue_notice_origin *o, bool hold)
{
    enum qmgr_dir to = hold ? QMGR_HOLD : QMGR_ACTIVE;

    /* RENAME_NOREPLACE: a committed message is never overwritten, whatever the ID. */
    if (line && renameat2(s->qmgr->dir_fd[QMGR_INCOMING], id, s->qmgr->dir_fd[to], id,
                          RENAME_NOREPLACE) < 0) {
        log_warn("%s: rename incoming/%s to %s/: %m", id, id, qmgr_dir_names[to]);
        if (qmgr_marks(o))
            qmgr_notice_unmark(s->qmgr, o, id);
        free(line);
        line = NULL;
    }
    if (line != NULL) {
        if (qmgr_marks(o))
            qmgr_notice_memory(s->qmgr, o, true);
        s->waiting = true;
        if (!s->gone)
            loop_fd_set(s->watch, 0);
        qmgr_commit_add(s, id, line, hold);
        return;
    }
    /* The answer first: if it is lost, queue_status must find the file in incoming/. */
    if (s->gone ||
        qmgr_session_reply(s, PROTO_QUEUE_REFUSED, id, "queue file incomplete or invalid"))
        qmgr_session_unlink(s, id);
    else
        qmgr_orphan_add(s->qmgr, id);
}

/* A notice whose marks are being synced on a helper thread before its rename. */
struct qmgr_marking {
    struct qmgr_session *s;
    char id[QUEUE_ID_SIZE];
    char *line;
    struct queue_notice_origin origin;
    int fd;    /* the reported message's file */
    bool hold; /* the notice goes to hold/ */
};

static int
qmgr_marking_sync(void *data)
{
    struct qmgr_marking *mk = data;

    return fdatasync(mk->fd) < 0 ? errno : 0;
}

/* qmgr_marking_done - the marks are on disk: the rename may follow */
static void
qmgr_marking_done(int err, void *arg)
{
    struct qmgr_marking *mk = arg;
    struct qmgr_session *s = mk->s;

    if (err != 0) /* recovery takes the marks back (qmgr_recover.c) */
        log_fatal("%s: sync the marks of notice %s: %s", mk->origin.id, mk->id, strerror(err));
    close(mk->fd);
    s->waiting = false;
    qmgr_commit_finish(s, mk->id, mk->line, &mk->origin, mk->hold);
    if (!s->waiting)
        qmgr_session_resume(s); /* refused: read on, or free a session that ended */
    free(mk->origin.rcpt);
    free(mk);
}

/*
 * qmgr_commit_notice - a notice marks what it reports, and the marks are synced, before its
 * rename (qmgr_notice.c). The fdatasync runs on a helper thread while this session waits,
 * as it waits for the group commit; false (the commit refused) leaves o to the caller.
 */
static bool
qmgr_commit_notice(struct qmgr_session *s, const char *id, char *line,
                   struct queue_notice_origin *o, bool hold)
{
    struct qmgr_marking *mk;
    struct err err;
    int fd = qmgr_notice_mark(s->qmgr, o, id, &err);

    if (fd < 0) {
        log_warn("%s: commit refused: notice about %s: %s", id, o->id, err.text);
        return false;
    }
    mk = xcalloc(1, sizeof(*mk));
    mk->s = s;
    memcpy(mk->id, id, QUEUE_ID_SIZE);
    mk->line = line;
    mk->origin = *o;
    o->rcpt = NULL;
    mk->fd = fd;
    mk->hold = hold;
    s->waiting = true;
    loop_fd_set(s->watch, 0);
    offload_call(s->qmgr->offload, qmgr_marking_sync, mk, NULL, qmgr_marking_done, mk);
    return true;
}

/* qmgr_commit - validate, move to active/ or hold/ (a notice after its marks), then wait
 * for the group fsync */
static void
qmgr_commit(struct qmgr_session *s, const struct buf *id, bool hold)
{
    ssize_t i = qmgr_session_find(s, id);
    struct queue_notice_origin origin = {.kind = QUEUE_NOTICE_NONE};
    char *line;

    if (i < 0) {
        qmgr_session_reply(s, PROTO_QUEUE_REFUSED, NULL, "unknown queue ID");
        return;
    }
    line = qmgr_validate(s, id->data, &origin);
    qmgr_session_forget(s, (size_t)i);
    if (line && qmgr_marks(&origin)) {
        if (!qmgr_commit_notice(s, id->data, line, &origin, hold)) {
            free(line);
            qmgr_commit_finish(s, id->data, NULL, &origin, hold);
        }
    } else
        qmgr_commit_finish(s, id->data, line, &origin, hold);
    free(origin.rcpt);
}

/* qmgr_abort - the client gives up a file it opened */
static void
qmgr_abort(struct qmgr_session *s, const struct buf *id)
{
    ssize_t i = qmgr_session_find(s, id);

    if (i < 0) {
        qmgr_session_reply(s, PROTO_QUEUE_REFUSED, NULL, "unknown queue ID");
        return;
    }
    qmgr_session_unlink(s, id->data);
    log_debug("%s: aborted by the receiver", id->data);
    qmgr_session_reply(s, PROTO_QUEUE_ABORTED, id->data, NULL);
    qmgr_session_forget(s, (size_t)i);
}

/*
 * qmgr_status - a receiver lost the answer to a commit (an earlier qmgr died). A file still
 * in incoming/ was not committed. A file in a committed state was; so was one that is
 * nowhere: an uncommitted file stays in incoming/ for minutes after its receiver could
 * have asked (qmgr_orphan.c), so a file that left incoming/ for good was renamed out by a
 * commit and has since been delivered.
 */
static void
qmgr_status(struct qmgr_session *s, const struct buf *id)
{
    int incoming = s->qmgr->dir_fd[QMGR_INCOMING];

    if (!queue_id_valid(id->data, id->len))
        qmgr_session_reply(s, PROTO_QUEUE_REFUSED, NULL, "bad queue ID");
    else if (faccessat(incoming, id->data, F_OK, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
        qmgr_session_reply(s, PROTO_QUEUE_REFUSED, id->data, "not committed");
    else
        qmgr_session_reply(s, PROTO_QUEUE_COMMITTED, id->data, NULL);
}

/* qmgr_request - decode and answer one buffered request; false ends the session */
static bool
qmgr_request(struct qmgr_session *s)
{
    enum proto_msg msg = proto_msg_of(&s->reader.rec);
    struct buf id;
    struct err err;
    bool good;
    const struct attr_spec spec[] = {{PROTO_ATTR_QUEUE_ID, ATTR_STR, ATTR_TEXT, &id}};

    if (qmgr_admin_handles(msg))
        return qmgr_admin_serve(s, msg);
    buf_init(&id, QUEUE_ID_SIZE);
    good = PROTO_DECODE(&s->reader.rec, s->reader.limit, &s->reader.fds, msg, spec, &err);
    ipc_reader_reset(&s->reader);
    if (!good)
        log_warn("bad request from client: %s", err.text);
    else if (msg == PROTO_QUEUE_OPEN)
        qmgr_open(s);
    else if (msg == PROTO_QUEUE_COMMIT || msg == PROTO_QUEUE_HOLD)
        qmgr_commit(s, &id, msg == PROTO_QUEUE_HOLD);
    else if (msg == PROTO_QUEUE_ABORT)
        qmgr_abort(s, &id);
    else if (msg == PROTO_QUEUE_STATUS)
        qmgr_status(s, &id);
    else {
        log_warn("unexpected message \"%s\" from client", proto_msg_name(msg));
        good = false;
    }
    buf_free(&id);
    return good;
}

/* qmgr_session_readable - serve every complete request, until a commit must wait */
static void
qmgr_session_readable(int fd, unsigned events, void *arg)
{
    struct qmgr_session *s = arg;
    struct err err;
    enum ipc_status status = IPC_AGAIN;

    while (!s->waiting && (status = ipc_reader_read(&s->reader, &err)) == IPC_OK)
        if (!qmgr_request(s)) {
            qmgr_session_end(s, false);
            return;
        }
    if (s->waiting || status == IPC_AGAIN)
        return;
    if (status == IPC_ERROR)
        log_warn("client connection: %s", err.text);
    qmgr_session_end(s, status == IPC_EOF);
}

/* qmgr_session_free - release a session whose connection already ended */
static void
qmgr_session_free(struct qmgr_session *s)
{
    struct server_ctx *ctx = s->qmgr->ctx;

    free(s->open_ids);
    free(s);
    server_session_done(ctx);
}

/*
 * qmgr_session_end - close the connection. Files it left uncommitted are removed when the
 * receiver said goodbye (EOF after whole requests); after an error, a commit may have been
 * in what was not read, and its receiver may ask queue_status: they stay a while.
 */
static void
qmgr_session_end(struct qmgr_session *s, bool clean)
{
    for (size_t i = 0; i < s->nopen; i++) {
        if (clean)
            qmgr_session_unlink(s, s->open_ids[i]);
        else
            qmgr_orphan_add(s->qmgr, s->open_ids[i]);
        log_debug("%s: the receiver left without a commit", s->open_ids[i]);
    }
    s->nopen = 0;
    loop_fd_free(s->watch);
    s->watch = NULL;
    ipc_reader_free(&s->reader);
    close(s->fd);
    s->fd = -1;
    if (s->waiting)
        s->gone = true;
    else
        qmgr_session_free(s);
}

/* qmgr_session_resume - the commit this session waited for is answered */
void
qmgr_session_resume(struct qmgr_session *s)
{
    s->waiting = false;
    if (s->gone)
        qmgr_session_free(s);
    else
        loop_fd_set(s->watch, LOOP_READ);
}

/* qmgr_session_start - serve a client the skeleton admitted by its credentials */
void
qmgr_session_start(struct qmgr *q, int fd)
{
    struct qmgr_session *s = xcalloc(1, sizeof(*s));

    s->qmgr = q;
    s->fd = fd;
    ipc_reader_init(&s->reader, fd, QMGR_RECORD_LIMIT);
    s->watch = loop_fd_add(q->ctx->loop, fd, LOOP_READ, qmgr_session_readable, s);
}
