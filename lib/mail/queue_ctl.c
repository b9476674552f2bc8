/*
 * queue_ctl.c - the queue tools' protocol (queue_ctl.h): the daemons' replies encoded, the
 * commands' requests sent and their answers decoded.
 *
 * Trusts: on the command's side, nothing a daemon sends: every record is decoded against
 * the table of the message it must be, queue IDs and names are checked, and a listing's
 * recipient count is bounded by what a queue file may hold. On the daemons' side the
 * values come from queue files that queue_file_read() checked.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/buf.h"
#include "core/ipc.h"
#include "core/mem.h"
#include "mail/queue_ctl.h"
#include "mail/queue_file.h"

/* queue_ctl_send - end the record begun in rec and send it; rec is freed */
static bool
queue_ctl_send(int fd, struct buf *rec, const struct attr_fds *fds, struct err *err)
{
    bool good = attr_end(rec, err) && ipc_send(fd, rec, fds, QUEUE_CTL_TIMEOUT_MS, err) == IPC_OK;

    buf_free(rec);
    return good;
}

/* queue_ctl_send_entry - one message of a listing and its recipients */
bool
queue_ctl_send_entry(int fd, const struct queue_ctl_entry *e, struct err *err)
{
    struct buf rec;
    bool good;

    buf_init(&rec, QUEUE_CTL_RECORD_LIMIT);
    proto_begin(&rec, PROTO_SHOWQ_MSG);
    attr_put_text(&rec, PROTO_ATTR_QUEUE_NAME, e->queue_name);
    attr_put_text(&rec, PROTO_ATTR_QUEUE_ID, e->id);
    attr_put_int(&rec, PROTO_ATTR_ARRIVAL, e->arrival);
    attr_put_int(&rec, PROTO_ATTR_SIZE, e->size);
    attr_put_text(&rec, PROTO_ATTR_SENDER, e->sender);
    attr_put_int(&rec, PROTO_ATTR_RCPT_COUNT, (int64_t)e->nrcpt);
    good = queue_ctl_send(fd, &rec, NULL, err);
    for (size_t i = 0; good && i < e->nrcpt; i++) {
        buf_init(&rec, QUEUE_CTL_RECORD_LIMIT);
        proto_begin(&rec, PROTO_SHOWQ_RCPT);
        attr_put_text(&rec, PROTO_ATTR_ADDRESS, e->rcpt[i].addr);
        attr_put_text(&rec, PROTO_ATTR_REASON, e->rcpt[i].reason);
        good = queue_ctl_send(fd, &rec, NULL, err);
    }
    return good;
}

bool
queue_ctl_send_end(int fd, struct err *err)
{
    struct buf rec;

    buf_init(&rec, QUEUE_CTL_RECORD_LIMIT);
    proto_begin(&rec, PROTO_SHOWQ_END);
    return queue_ctl_send(fd, &rec, NULL, err);
}

bool
queue_ctl_send_refused(int fd, const char *reason, struct err *err)
{
    struct buf rec;

    buf_init(&rec, QUEUE_CTL_RECORD_LIMIT);
    proto_begin(&rec, PROTO_QUEUE_REFUSED);
    attr_put_text(&rec, PROTO_ATTR_REASON, reason);
    return queue_ctl_send(fd, &rec, NULL, err);
}

bool
queue_ctl_send_done(int fd, long count, struct err *err)
{
    struct buf rec;

    buf_init(&rec, QUEUE_CTL_RECORD_LIMIT);
    proto_begin(&rec, PROTO_QUEUE_DONE);
    attr_put_int(&rec, PROTO_ATTR_COUNT, count);
    return queue_ctl_send(fd, &rec, NULL, err);
}

static enum queue_ctl_outcome queue_ctl_broken(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum queue_ctl_outcome
queue_ctl_broken(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return QUEUE_CTL_BROKEN;
}

/*
 * queue_ctl_recv - the next answer into rec (and fds); *msg says which message it is. A
 * queue_refused is decoded here: its reason goes to why.
 */
static enum queue_ctl_outcome
queue_ctl_recv(int fd, struct buf *rec, struct attr_fds *fds, enum proto_msg *msg, char *why,
               size_t why_size)
{
    struct buf reason;
    struct err err;
    enum ipc_status st = ipc_recv(fd, rec, fds, QUEUE_CTL_RECORD_LIMIT, QUEUE_CTL_TIMEOUT_MS, &err);
    const struct attr_spec spec[] = {{PROTO_ATTR_REASON, ATTR_STR, ATTR_TEXT, &reason}};
    bool good;

    if (st == IPC_EOF)
        return queue_ctl_broken(why, why_size, "the service closed the connection");
    if (st != IPC_OK)
        return queue_ctl_broken(why, why_size, "%s", err.text);
    *msg = proto_msg_of(rec);
    if (*msg != PROTO_QUEUE_REFUSED)
        return QUEUE_CTL_OK;
    buf_init(&reason, QUEUE_CTL_WHY_SIZE - 1);
    good = PROTO_DECODE(rec, QUEUE_CTL_RECORD_LIMIT, fds, PROTO_QUEUE_REFUSED, spec, &err);
    if (good)
        snprintf(why, why_size, "%s", buf_str(&reason));
    else
        queue_ctl_broken(why, why_size, "%s", err.text);
    buf_free(&reason);
    return good ? QUEUE_CTL_REFUSED : QUEUE_CTL_BROKEN;
}

/* queue_ctl_call - send the request in rec, receive the answer into rec */
static enum queue_ctl_outcome
queue_ctl_call(int fd, struct buf *rec, struct attr_fds *fds, enum proto_msg *msg, char *why,
               size_t why_size)
{
    struct err err;

    if (!attr_end(rec, &err) || ipc_send(fd, rec, NULL, QUEUE_CTL_TIMEOUT_MS, &err) != IPC_OK)
        return queue_ctl_broken(why, why_size, "%s", err.text);
    return queue_ctl_recv(fd, rec, fds, msg, why, why_size);
}

/* queue_ctl_rcpts - the showq_rcpt records after a showq_msg */
static enum queue_ctl_outcome
queue_ctl_rcpts(int fd, struct queue_ctl_entry *e, char *why, size_t why_size)
{
    struct buf rec, addr, reason;
    struct attr_fds fds;
    struct err err;
    enum proto_msg msg;
    enum queue_ctl_outcome out = QUEUE_CTL_OK;
    const struct attr_spec spec[] = {
        {PROTO_ATTR_ADDRESS, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &addr},
        {PROTO_ATTR_REASON, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &reason}};

    buf_init(&rec, QUEUE_CTL_RECORD_LIMIT);
    buf_init(&addr, QUEUE_FILE_ADDR_MAX);
    buf_init(&reason, QUEUE_CTL_WHY_SIZE);
    e->rcpt = xcalloc(e->nrcpt ? e->nrcpt : 1, sizeof(*e->rcpt));
    for (size_t i = 0; i < e->nrcpt && out == QUEUE_CTL_OK; i++) {
        out = queue_ctl_recv(fd, &rec, &fds, &msg, why, why_size);
        if (out != QUEUE_CTL_OK)
            break;
        if (!PROTO_DECODE(&rec, QUEUE_CTL_RECORD_LIMIT, &fds, PROTO_SHOWQ_RCPT, spec, &err)) {
            out = queue_ctl_broken(why, why_size, "%s", err.text);
            break;
        }
        e->rcpt[i].addr = xstrdup(buf_str(&addr));
        e->rcpt[i].reason = xstrdup(buf_str(&reason));
    }
    buf_free(&rec);
    buf_free(&addr);
    buf_free(&reason);
    return out;
}

static void
queue_ctl_entry_free(struct queue_ctl_entry *e)
{
    for (size_t i = 0; e->rcpt && i < e->nrcpt; i++) {
        free(e->rcpt[i].addr);
        free(e->rcpt[i].reason);
    }
    free(e->rcpt);
    free(e->sender);
}

/* queue_ctl_entry_decode - a showq_msg into e (its recipients not yet) */
static enum queue_ctl_outcome
queue_ctl_entry_decode(struct buf *rec, struct attr_fds *fds, struct queue_ctl_entry *e, char *why,
                       size_t why_size)
{
    struct buf name, id, sender;
    int64_t nrcpt = -1;
    struct err err;
    enum queue_ctl_outcome out = QUEUE_CTL_OK;
    const struct attr_spec spec[] = {
        {PROTO_ATTR_QUEUE_NAME, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &name},
        {PROTO_ATTR_QUEUE_ID, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &id},
        {PROTO_ATTR_ARRIVAL, ATTR_INT, ATTR_REQUIRED, &e->arrival},
        {PROTO_ATTR_SIZE, ATTR_INT, ATTR_REQUIRED, &e->size},
        {PROTO_ATTR_SENDER, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &sender},
        {PROTO_ATTR_RCPT_COUNT, ATTR_INT, ATTR_REQUIRED, &nrcpt}};

    buf_init(&name, QUEUE_CTL_NAME_SIZE - 1);
    buf_init(&id, QUEUE_ID_LEN);
    buf_init(&sender, QUEUE_FILE_ADDR_MAX);
    if (!PROTO_DECODE(rec, QUEUE_CTL_RECORD_LIMIT, fds, PROTO_SHOWQ_MSG, spec, &err))
        out = queue_ctl_broken(why, why_size, "%s", err.text);
    else if (!queue_id_valid(id.data, id.len) || nrcpt < 0 || nrcpt > QUEUE_FILE_RCPT_MAX)
        out = queue_ctl_broken(why, why_size, "malformed showq_msg");
    else {
        snprintf(e->queue_name, sizeof(e->queue_name), "%s", buf_str(&name));
        memcpy(e->id, id.data, QUEUE_ID_LEN);
        e->id[QUEUE_ID_LEN] = 0;
        e->sender = xstrdup(buf_str(&sender));
        e->nrcpt = (size_t)nrcpt;
    }
    buf_free(&name);
    buf_free(&id);
    buf_free(&sender);
    return out;
}

/* queue_ctl_list - ask showq for the queue; fn gets each message */
enum queue_ctl_outcome
queue_ctl_list(int fd, queue_ctl_entry_fn fn, void *ctx, char *why, size_t why_size)
{
    struct buf rec;
    struct attr_fds fds;
    enum proto_msg msg = PROTO_NONE;
    enum queue_ctl_outcome out;

    buf_init(&rec, QUEUE_CTL_RECORD_LIMIT);
    proto_begin(&rec, PROTO_SHOWQ_LIST);
    out = queue_ctl_call(fd, &rec, &fds, &msg, why, why_size);
    while (out == QUEUE_CTL_OK && msg != PROTO_SHOWQ_END) {
        struct queue_ctl_entry e = {0};

        out = queue_ctl_entry_decode(&rec, &fds, &e, why, why_size);
        if (out == QUEUE_CTL_OK)
            out = queue_ctl_rcpts(fd, &e, why, why_size);
        if (out == QUEUE_CTL_OK)
            fn(&e, ctx);
        queue_ctl_entry_free(&e);
        if (out == QUEUE_CTL_OK)
            out = queue_ctl_recv(fd, &rec, &fds, &msg, why, why_size);
    }
    if (out == QUEUE_CTL_OK)
        attr_fds_close(&fds);
    buf_free(&rec);
    return out;
}

/* queue_ctl_done - the queue_done answer's count */
static enum queue_ctl_outcome
queue_ctl_done(struct buf *rec, struct attr_fds *fds, long *count, char *why, size_t why_size)
{
    int64_t n = 0;
    struct err err;
    const struct attr_spec spec[] = {{PROTO_ATTR_COUNT, ATTR_INT, ATTR_REQUIRED, &n}};

    if (!PROTO_DECODE(rec, QUEUE_CTL_RECORD_LIMIT, fds, PROTO_QUEUE_DONE, spec, &err))
        return queue_ctl_broken(why, why_size, "%s", err.text);
    *count = (long)n;
    return QUEUE_CTL_OK;
}

/* queue_ctl_flush - deferred mail tried now: all (site and id ""), one site's, or one ID */
enum queue_ctl_outcome
queue_ctl_flush(int fd, const char *site, const char *id, long *count, char *why, size_t why_size)
{
    struct buf rec;
    struct attr_fds fds;
    enum proto_msg msg;
    enum queue_ctl_outcome out;

    buf_init(&rec, QUEUE_CTL_RECORD_LIMIT);
    proto_begin(&rec, PROTO_QUEUE_FLUSH);
    attr_put_text(&rec, PROTO_ATTR_SITE, site);
    attr_put_text(&rec, PROTO_ATTR_QUEUE_ID, id);
    out = queue_ctl_call(fd, &rec, &fds, &msg, why, why_size);
    if (out == QUEUE_CTL_OK)
        out = queue_ctl_done(&rec, &fds, count, why, why_size);
    buf_free(&rec);
    return out;
}

/* queue_ctl_admin - delete, hold, release or requeue id ("ALL": every message) in queues */
enum queue_ctl_outcome
queue_ctl_admin(int fd, const char *action, const char *id, const char *queues, long *count,
                char *why, size_t why_size)
{
    struct buf rec;
    struct attr_fds fds;
    enum proto_msg msg;
    enum queue_ctl_outcome out;

    buf_init(&rec, QUEUE_CTL_RECORD_LIMIT);
    proto_begin(&rec, PROTO_QUEUE_ADMIN);
    attr_put_text(&rec, PROTO_ATTR_ACTION, action);
    attr_put_text(&rec, PROTO_ATTR_QUEUE_ID, id);
    attr_put_text(&rec, PROTO_ATTR_QUEUES, queues);
    out = queue_ctl_call(fd, &rec, &fds, &msg, why, why_size);
    if (out == QUEUE_CTL_OK)
        out = queue_ctl_done(&rec, &fds, count, why, why_size);
    buf_free(&rec);
    return out;
}

/* queue_ctl_show - a read-only descriptor of queue file id, and the queue it is in */
enum queue_ctl_outcome
queue_ctl_show(int fd, const char *id, int *file, char *queue_name, char *why, size_t why_size)
{
    struct buf rec, name, qid;
    struct attr_fds fds;
    struct err err;
    enum proto_msg msg;
    enum queue_ctl_outcome out;
    const struct attr_spec spec[] = {
        {PROTO_ATTR_QUEUE_ID, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &qid},
        {PROTO_ATTR_QUEUE_NAME, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &name},
        {PROTO_ATTR_QUEUE_FILE, ATTR_FD, ATTR_REQUIRED, file}};

    *file = -1;
    buf_init(&rec, QUEUE_CTL_RECORD_LIMIT);
    buf_init(&name, QUEUE_CTL_NAME_SIZE - 1);
    buf_init(&qid, QUEUE_ID_LEN);
    proto_begin(&rec, PROTO_QUEUE_SHOW);
    attr_put_text(&rec, PROTO_ATTR_QUEUE_ID, id);
    out = queue_ctl_call(fd, &rec, &fds, &msg, why, why_size);
    if (out == QUEUE_CTL_OK &&
        !PROTO_DECODE(&rec, QUEUE_CTL_RECORD_LIMIT, &fds, PROTO_QUEUE_SHOWN, spec, &err))
        out = queue_ctl_broken(why, why_size, "%s", err.text);
    else if (out == QUEUE_CTL_OK && strcmp(buf_str(&qid), id) != 0) {
        out = queue_ctl_broken(why, why_size, "queue_shown names another queue ID");
        close(*file);
        *file = -1;
    } else if (out == QUEUE_CTL_OK)
        snprintf(queue_name, QUEUE_CTL_NAME_SIZE, "%s", buf_str(&name));
    buf_free(&rec);
    buf_free(&name);
    buf_free(&qid);
    return out;
}
