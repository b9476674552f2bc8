/*
 * deliver_req.c - the delivery protocol's codec and stubs: qmgr sends a request and reads
 * replies, an agent reads a request and sends replies (deliver_req.h has the exchange).
 *
 * Trusts: neither side. A request an agent accepts has a valid queue ID, at least one and
 * at most DELIVER_REQ_RCPT_MAX recipients, as many as it announced, no control character
 * inside a text value (addresses go into headers such as Return-Path), and a descriptor; a
 * reply qmgr accepts has a known status and a DSN code whose class agrees with it.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/deliver_req.h"
#include "mail/proto.h"
#include "mail/queue_file.h"

static const char *const deliver_words[] = {
    [DELIVER_OK] = "sent",
    [DELIVER_DEFER] = "deferred",
    [DELIVER_BOUNCE] = "bounced",
};

/* the handoff on the wire; DELIVER_FINAL is the attribute left out */
static const char *const deliver_handoff_words[] = {
    [DELIVER_FINAL] = "final",
    [DELIVER_RELAYED] = "relayed",
    [DELIVER_NOTIFY_PASSED] = "notify-passed",
};

/* deliver_status_word - Postfix's status= word for a status, also its name on the wire */
const char *
deliver_status_word(enum deliver_status status)
{
    return (unsigned)status < nitems(deliver_words) ? deliver_words[status] : "deferred";
}

/* deliver_set - fill in a result */
void
deliver_set(struct deliver_result *res, enum deliver_status status, const char *dsn,
            const char *fmt, ...)
{
    va_list ap;

    res->status = status;
    res->handoff = DELIVER_FINAL;
    res->unreachable = false;
    res->conn_use = 0;
    snprintf(res->dsn, sizeof res->dsn, "%s", dsn);
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof res->reason, fmt, ap);
    va_end(ap);
}

/* deliver_req_add_rcpt - one more recipient for the request */
void
deliver_req_add_rcpt(struct deliver_req *req, long index, off_t slot, const char *addr,
                     const char *orcpt, const char *notify)
{
    struct deliver_req_rcpt *r;

    req->rcpt = xreallocarray(req->rcpt, req->nrcpt + 1, sizeof(*req->rcpt));
    r = &req->rcpt[req->nrcpt++];
    r->index = index;
    r->slot = slot;
    r->addr = xstrdup(addr);
    r->orcpt = xstrdup(orcpt ? orcpt : "");
    r->notify = xstrdup(notify ? notify : "");
}

/* deliver_req_put - the request record, with the queue file beside it */
static bool
deliver_req_put(struct buf *rec, struct attr_fds *fds, const struct deliver_req *req,
                struct err *err)
{
    proto_begin(rec, PROTO_DELIVER_REQUEST);
    attr_put_text(rec, PROTO_ATTR_QUEUE_ID, req->queue_id);
    attr_put_fd(rec, fds, PROTO_ATTR_QUEUE_FILE, req->fd);
    attr_put_text(rec, PROTO_ATTR_SENDER, req->sender);
    attr_put_text(rec, PROTO_ATTR_NEXTHOP, req->nexthop);
    attr_put_int(rec, PROTO_ATTR_ARRIVAL, (int64_t)req->arrival);
    attr_put_int(rec, PROTO_ATTR_OFFSET, (int64_t)req->offset);
    attr_put_int(rec, PROTO_ATTR_SIZE, (int64_t)req->size);
    attr_put_int(rec, PROTO_ATTR_RCPT_COUNT, (int64_t)req->nrcpt);
    return attr_end(rec, err);
}

/* deliver_rcpt_put - one recipient's record */
static bool
deliver_rcpt_put(struct buf *rec, const struct deliver_req_rcpt *r, struct err *err)
{
    proto_begin(rec, PROTO_DELIVER_RCPT);
    attr_put_int(rec, PROTO_ATTR_INDEX, r->index);
    attr_put_int(rec, PROTO_ATTR_SLOT, (int64_t)r->slot);
    attr_put_text(rec, PROTO_ATTR_ADDRESS, r->addr);
    attr_put_text(rec, PROTO_ATTR_ORCPT, r->orcpt);
    attr_put_text(rec, PROTO_ATTR_NOTIFY, r->notify);
    return attr_end(rec, err);
}

/* deliver_req_send - the request and its recipients, in one write where the socket allows */
bool
deliver_req_send(int sock, const struct deliver_req *req, int timeout_ms, struct err *err)
{
    struct attr_fds fds;
    struct buf out, one;
    bool good;

    if (req->nrcpt == 0 || req->nrcpt > DELIVER_REQ_RCPT_MAX) {
        return err_set(err, "request with %zu recipients", req->nrcpt);
    }
    attr_fds_init(&fds);
    buf_init(&out, DELIVER_REQ_RECORD_LIMIT + req->nrcpt * DELIVER_RCPT_RECORD_LIMIT);
    buf_init(&one, DELIVER_RCPT_RECORD_LIMIT);
    good = deliver_req_put(&one, &fds, req, err);
    for (size_t i = 0; good && i <= req->nrcpt; i++) {
        buf_append(&out, one.data, one.len);
        if (i < req->nrcpt)
            good = deliver_rcpt_put(&one, &req->rcpt[i], err);
    }
    good = good && ipc_send(sock, &out, &fds, timeout_ms, err) == IPC_OK;
    buf_free(&one);
    buf_free(&out);
    return good;
}

/* deliver_req_clean - no control character: addresses end up in headers and log lines */
static bool
deliver_req_clean(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* deliver_req_decode - the request record; *count is how many recipients follow */
static bool
deliver_req_decode(const struct buf *rec, struct attr_fds *fds, struct deliver_req *req,
                   long *count, struct err *err)
{
    struct buf id, sender, nexthop;
    int64_t arrival = 0, offset = 0, size = 0, rcpts = 0;
    int fd = -1;
    bool good;
    const struct attr_spec spec[] = {
        {PROTO_ATTR_QUEUE_ID, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &id},
        {PROTO_ATTR_QUEUE_FILE, ATTR_FD, ATTR_REQUIRED, &fd},
        {PROTO_ATTR_SENDER, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &sender},
        {PROTO_ATTR_NEXTHOP, ATTR_STR, ATTR_TEXT, &nexthop},
        {PROTO_ATTR_ARRIVAL, ATTR_INT, 0, &arrival},
        {PROTO_ATTR_OFFSET, ATTR_INT, ATTR_REQUIRED, &offset},
        {PROTO_ATTR_SIZE, ATTR_INT, ATTR_REQUIRED, &size},
        {PROTO_ATTR_RCPT_COUNT, ATTR_INT, ATTR_REQUIRED, &rcpts},
    };

    buf_init(&id, QUEUE_ID_SIZE);
    buf_init(&sender, QUEUE_FILE_ADDR_MAX + 1);
    buf_init(&nexthop, QUEUE_FILE_TEXT_MAX + 1);
    good = PROTO_DECODE(rec, DELIVER_REQ_RECORD_LIMIT, fds, PROTO_DELIVER_REQUEST, spec, err);
    if (good && (!queue_id_valid(id.data, id.len) || offset <= 0 || size < 0 || rcpts < 1 ||
                 rcpts > DELIVER_REQ_RCPT_MAX || !deliver_req_clean(buf_str(&sender)) ||
                 !deliver_req_clean(buf_str(&nexthop)))) {
        good = err_set(err, "malformed deliver_request");
        close(fd);
    }
    if (good) {
        memcpy(req->queue_id, id.data, QUEUE_ID_SIZE);
        req->fd = fd;
        req->sender = xstrdup(buf_str(&sender));
        req->nexthop = xstrdup(buf_str(&nexthop));
        req->arrival = (time_t)arrival;
        req->offset = (off_t)offset;
        req->size = (off_t)size;
        *count = (long)rcpts;
    }
    buf_free(&id);
    buf_free(&sender);
    buf_free(&nexthop);
    return good;
}

/* deliver_rcpt_decode - one recipient record, added to req */
static bool
deliver_rcpt_decode(const struct buf *rec, struct attr_fds *fds, struct deliver_req *req,
                    struct err *err)
{
    struct buf addr, orcpt, notify;
    int64_t index = -1, slot = -1;
    bool good;
    const struct attr_spec spec[] = {
        {PROTO_ATTR_INDEX, ATTR_INT, ATTR_REQUIRED, &index},
        {PROTO_ATTR_SLOT, ATTR_INT, ATTR_REQUIRED, &slot},
        {PROTO_ATTR_ADDRESS, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &addr},
        {PROTO_ATTR_ORCPT, ATTR_STR, ATTR_TEXT, &orcpt},
        {PROTO_ATTR_NOTIFY, ATTR_STR, ATTR_TEXT, &notify},
    };

    buf_init(&addr, QUEUE_FILE_ADDR_MAX);
    buf_init(&orcpt, QUEUE_FILE_ADDR_MAX);
    buf_init(&notify, QUEUE_FILE_TEXT_MAX);
    good = PROTO_DECODE(rec, DELIVER_RCPT_RECORD_LIMIT, fds, PROTO_DELIVER_RCPT, spec, err);
    if (good && (index < 0 || index > QUEUE_FILE_RCPT_MAX || slot < 0 || slot > LONG_MAX ||
                 !deliver_req_clean(buf_str(&addr)) || !deliver_req_clean(buf_str(&orcpt)) ||
                 !deliver_req_clean(buf_str(&notify))))
        good = err_set(err, "malformed deliver_rcpt");
    if (good)
        deliver_req_add_rcpt(req, (long)index, (off_t)slot, buf_str(&addr), buf_str(&orcpt),
                             buf_str(&notify));
    buf_free(&addr);
    buf_free(&orcpt);
    buf_free(&notify);
    return good;
}

/*
 * deliver_agent_read - read and check a whole request. On anything but IPC_OK nothing is
 * left to free; a connection that ends between the request and its last recipient is an
 * error, not IPC_EOF.
 */
enum ipc_status
deliver_agent_read(int sock, int timeout_ms, struct deliver_req *req, struct err *err)
{
    struct attr_fds fds;
    struct buf rec;
    enum ipc_status st;
    long count = 0;

    memset(req, 0, sizeof(*req));
    req->fd = -1;
    attr_fds_init(&fds);
    buf_init(&rec, DELIVER_REQ_RECORD_LIMIT);
    st = ipc_recv(sock, &rec, &fds, DELIVER_REQ_RECORD_LIMIT, timeout_ms, err);
    if (st == IPC_OK && !deliver_req_decode(&rec, &fds, req, &count, err))
        st = IPC_ERROR;
    for (long i = 0; st == IPC_OK && i < count; i++) {
        st = ipc_recv(sock, &rec, &fds, DELIVER_RCPT_RECORD_LIMIT, timeout_ms, err);
        if (st == IPC_EOF) {
            err_set(err, "request ends after %ld of %ld recipients", i, count);
            st = IPC_ERROR;
        } else if (st == IPC_OK && !deliver_rcpt_decode(&rec, &fds, req, err))
            st = IPC_ERROR;
    }
    attr_fds_close(&fds);
    if (st != IPC_OK)
        deliver_req_free(req);
    buf_free(&rec);
    return st;
}

void
deliver_req_free(struct deliver_req *req)
{
    for (size_t i = 0; i < req->nrcpt; i++) {
        free(req->rcpt[i].addr);
        free(req->rcpt[i].orcpt);
        free(req->rcpt[i].notify);
    }
    free(req->rcpt);
    free(req->sender);
    free(req->nexthop);
    if (req->fd >= 0)
        close(req->fd);
    memset(req, 0, sizeof(*req));
    req->fd = -1;
}

/* deliver_agent_reply - one recipient's outcome, back to qmgr */
bool
deliver_agent_reply(int sock, int timeout_ms, const struct deliver_req_rcpt *rcpt,
                    const struct deliver_result *res, struct err *err)
{
    return deliver_agent_reply_relay(sock, timeout_ms, rcpt, res, NULL, err);
}

/* deliver_agent_reply_relay - the same, naming the host the agent talked to (or NULL) */
bool
deliver_agent_reply_relay(int sock, int timeout_ms, const struct deliver_req_rcpt *rcpt,
                          const struct deliver_result *res, const char *relay, struct err *err)
{
    struct buf rec;
    bool good;

    buf_init(&rec, DELIVER_REPLY_LIMIT);
    proto_begin(&rec, PROTO_DELIVER_STATUS);
    attr_put_int(&rec, PROTO_ATTR_INDEX, rcpt->index);
    attr_put_text(&rec, PROTO_ATTR_STATUS, deliver_status_word(res->status));
    attr_put_text(&rec, PROTO_ATTR_DSN, res->dsn);
    attr_put_text(&rec, PROTO_ATTR_REASON, res->reason);
    if (relay != NULL)
        attr_put_text(&rec, PROTO_ATTR_RELAY, relay);
    if (res->status == DELIVER_OK && res->handoff != DELIVER_FINAL)
        attr_put_text(&rec, PROTO_ATTR_HANDOFF, deliver_handoff_words[res->handoff]);
    if (res->status == DELIVER_DEFER && res->unreachable)
        attr_put_int(&rec, PROTO_ATTR_UNREACHABLE, 1);
    if (res->conn_use > 1)
        attr_put_int(&rec, PROTO_ATTR_CONN_USE, res->conn_use);
    good = attr_end(&rec, err) && ipc_send(sock, &rec, NULL, timeout_ms, err) == IPC_OK;
    buf_free(&rec);
    return good;
}

void
deliver_agent_reply_all(int sock, int timeout_ms, const struct deliver_req *req,
                        const struct deliver_result *res, const char *relay)
{
    struct err err;

    for (size_t i = 0; i < req->nrcpt; i++)
        if (!deliver_agent_reply_relay(sock, timeout_ms, &req->rcpt[i], res, relay, &err)) {
            log_warn("%s: reply to qmgr: %s", req->queue_id, err.text);
            return;
        }
}

/* deliver_status_parse - a status word back into its enum, with the DSN class it needs */
static bool
deliver_status_parse(const char *word, const char *dsn, enum deliver_status *status)
{
    for (unsigned s = 0; s < nitems(deliver_words); s++)
        if (strcmp(word, deliver_words[s]) == 0) {
            *status = (enum deliver_status)s;
            return dsn[0] == "245"[s] && dsn[1] == '.';
        }
    return false;
}

/* deliver_handoff_parse - the handoff word ("" when the agent left it out), only with OK */
static bool
deliver_handoff_parse(const char *word, enum deliver_status status, enum deliver_handoff *handoff)
{
    *handoff = DELIVER_FINAL;
    if (*word == 0)
        return true;
    for (unsigned h = 0; h < nitems(deliver_handoff_words); h++)
        if (strcmp(word, deliver_handoff_words[h]) == 0) {
            *handoff = (enum deliver_handoff)h;
            return status == DELIVER_OK;
        }
    return false;
}

/* deliver_reply_decode - one deliver_status, checked */
bool
deliver_reply_decode(const struct buf *rec, struct attr_fds *fds, struct deliver_reply *reply,
                     struct err *err)
{
    struct buf status, dsn, reason, relay, handoff;
    int64_t index = -1, unreachable = 0, conn_use = 0;
    bool good;
    const struct attr_spec spec[] = {
        {PROTO_ATTR_INDEX, ATTR_INT, ATTR_REQUIRED, &index},
        {PROTO_ATTR_STATUS, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &status},
        {PROTO_ATTR_DSN, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &dsn},
        {PROTO_ATTR_REASON, ATTR_STR, ATTR_TEXT, &reason},
        {PROTO_ATTR_RELAY, ATTR_STR, ATTR_TEXT, &relay},
        {PROTO_ATTR_HANDOFF, ATTR_STR, ATTR_TEXT, &handoff},
        {PROTO_ATTR_UNREACHABLE, ATTR_INT, 0, &unreachable},
        {PROTO_ATTR_CONN_USE, ATTR_INT, 0, &conn_use},
    };

    memset(reply, 0, sizeof(*reply));
    buf_init(&status, 15);
    buf_init(&dsn, sizeof(reply->res.dsn) - 1);
    buf_init(&reason, sizeof(reply->res.reason) - 1);
    buf_init(&relay, sizeof(reply->relay) - 1);
    buf_init(&handoff, 15);
    good = PROTO_DECODE(rec, DELIVER_REPLY_LIMIT, fds, PROTO_DELIVER_STATUS, spec, err);
    if (good &&
        (index < 0 || index > QUEUE_FILE_RCPT_MAX ||
         !deliver_status_parse(buf_str(&status), buf_str(&dsn), &reply->res.status) ||
         !deliver_handoff_parse(buf_str(&handoff), reply->res.status, &reply->res.handoff) ||
         (unreachable != 0 && (unreachable != 1 || reply->res.status != DELIVER_DEFER)) ||
         conn_use < 0 || conn_use > 1000000000 || !deliver_req_clean(buf_str(&relay))))
        good = err_set(err, "malformed deliver_status");
    if (good) {
        reply->index = (long)index;
        reply->res.unreachable = unreachable == 1;
        reply->res.conn_use = (unsigned)conn_use;
        snprintf(reply->res.dsn, sizeof(reply->res.dsn), "%s", buf_str(&dsn));
        snprintf(reply->res.reason, sizeof(reply->res.reason), "%s", buf_str(&reason));
        snprintf(reply->relay, sizeof(reply->relay), "%s", buf_str(&relay));
    }
    buf_free(&status);
    buf_free(&dsn);
    buf_free(&reason);
    buf_free(&relay);
    buf_free(&handoff);
    return good;
}

void
deliver_agent_serve(int sock, int timeout_ms, deliver_agent_fn fn, void *arg)
{
    struct deliver_req req;
    struct err err;
    enum ipc_status st;

    fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK);
    st = deliver_agent_read(sock, timeout_ms, &req, &err);
    if (st == IPC_OK) {
        fn(arg, sock, &req);
        deliver_req_free(&req);
    } else if (st != IPC_EOF)
        log_warn("request from qmgr: %s", err.text);
}
