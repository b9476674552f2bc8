/*
 * deliver_req.c - encoding and decoding of deliver_request and deliver_status records.
 *
 * Trusts: neither side. A decoded request has a valid queue ID, at least one and at most
 * DELIVER_REQ_RCPT_MAX recipients, no NUL or other control character inside a text value
 * (addresses go into headers such as Return-Path), and a descriptor; a decoded
 * reply has a known status and a DSN code whose class agrees with it.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/str.h"
#include "mail/deliver_req.h"
#include "mail/proto.h"
#include "mail/queue_file.h"

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

/* deliver_req_encode - the request record, with the queue file beside it */
bool
deliver_req_encode(const struct deliver_req *req, struct buf *rec, struct attr_fds *fds,
                   struct attr_error *err)
{
    struct buf list;
    bool good;

    buf_init(&list, DELIVER_REQ_RECORD_LIMIT);
    for (size_t i = 0; i < req->nrcpt; i++) {
        const struct deliver_req_rcpt *r = &req->rcpt[i];
        char index[32], slot[32];

        snprintf(index, sizeof(index), "%ld", r->index);
        snprintf(slot, sizeof(slot), "%lld", (long long)r->slot);
        buf_append(&list, index, strlen(index) + 1);
        buf_append(&list, slot, strlen(slot) + 1);
        buf_append(&list, r->addr, strlen(r->addr) + 1);
        buf_append(&list, r->orcpt, strlen(r->orcpt) + 1);
        buf_append(&list, r->notify, strlen(r->notify) + 1);
    }
    proto_begin(rec, PROTO_DELIVER_REQUEST);
    attr_put_text(rec, PROTO_ATTR_QUEUE_ID, req->queue_id);
    attr_put_fd(rec, fds, PROTO_ATTR_QUEUE_FILE, req->fd);
    attr_put_text(rec, PROTO_ATTR_SENDER, req->sender);
    attr_put_text(rec, PROTO_ATTR_NEXTHOP, req->nexthop);
    attr_put_int(rec, PROTO_ATTR_ARRIVAL, (int64_t)req->arrival);
    attr_put_int(rec, PROTO_ATTR_OFFSET, (int64_t)req->offset);
    attr_put_int(rec, PROTO_ATTR_SIZE, (int64_t)req->size);
    attr_put_str(rec, PROTO_ATTR_RCPTS, list.data, list.len);
    good = attr_end(rec, err);
    buf_free(&list);
    return good;
}

/* deliver_req_field - the next NUL-ended field of the recipient list, or NULL */
static const char *
deliver_req_field(const struct buf *list, size_t *pos, size_t max)
{
    const char *start = list->data + *pos;
    const char *nul;

    if (*pos >= list->len || (nul = memchr(start, 0, list->len - *pos)) == NULL ||
        (size_t)(nul - start) > max)
        return NULL;
    *pos += (size_t)(nul - start) + 1;
    return start;
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

/* deliver_req_list - split the recipient list */
static bool
deliver_req_list(const struct buf *list, struct deliver_req *req, struct attr_error *err)
{
    size_t pos = 0;

    while (pos < list->len) {
        const char *index = deliver_req_field(list, &pos, 20);
        const char *slot = deliver_req_field(list, &pos, 20);
        const char *addr = deliver_req_field(list, &pos, QUEUE_FILE_ADDR_MAX);
        const char *orcpt = deliver_req_field(list, &pos, QUEUE_FILE_ADDR_MAX);
        const char *notify = deliver_req_field(list, &pos, QUEUE_FILE_TEXT_MAX);
        long n, at;

        if (notify == NULL || !str_to_long(index, 0, QUEUE_FILE_RCPT_MAX, &n) ||
            !str_to_long(slot, 0, LONG_MAX, &at) || req->nrcpt >= DELIVER_REQ_RCPT_MAX ||
            !deliver_req_clean(addr) || !deliver_req_clean(orcpt) || !deliver_req_clean(notify)) {
            snprintf(err->text, sizeof(err->text), "malformed recipient list");
            return false;
        }
        deliver_req_add_rcpt(req, n, (off_t)at, addr, orcpt, notify);
    }
    if (req->nrcpt == 0) {
        snprintf(err->text, sizeof(err->text), "request without recipients");
        return false;
    }
    return true;
}

/* deliver_req_decode - check and unpack a request; false leaves nothing to free */
bool
deliver_req_decode(const struct buf *rec, struct attr_fds *fds, struct deliver_req *req,
                   struct attr_error *err)
{
    struct buf msg, id, sender, nexthop, list;
    int64_t arrival = 0, offset = 0, size = 0;
    int fd = -1;
    bool good;
    const struct attr_spec spec[] = {
        {PROTO_ATTR_MSG, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &msg},
        {PROTO_ATTR_QUEUE_ID, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &id},
        {PROTO_ATTR_QUEUE_FILE, ATTR_FD, ATTR_REQUIRED, &fd},
        {PROTO_ATTR_SENDER, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &sender},
        {PROTO_ATTR_NEXTHOP, ATTR_STR, ATTR_TEXT, &nexthop},
        {PROTO_ATTR_ARRIVAL, ATTR_INT, 0, &arrival},
        {PROTO_ATTR_OFFSET, ATTR_INT, ATTR_REQUIRED, &offset},
        {PROTO_ATTR_SIZE, ATTR_INT, ATTR_REQUIRED, &size},
        {PROTO_ATTR_RCPTS, ATTR_STR, ATTR_REQUIRED, &list},
    };

    memset(req, 0, sizeof(*req));
    req->fd = -1;
    buf_init(&msg, PROTO_MSG_NAME_SIZE);
    buf_init(&id, QUEUE_ID_SIZE);
    buf_init(&sender, QUEUE_FILE_ADDR_MAX + 1);
    buf_init(&nexthop, QUEUE_FILE_TEXT_MAX + 1);
    buf_init(&list, DELIVER_REQ_RECORD_LIMIT);
    good = attr_decode(rec->data, rec->len, DELIVER_REQ_RECORD_LIMIT, fds, spec,
                       sizeof(spec) / sizeof(spec[0]), err);
    if (good && (!proto_msg_is(&msg, PROTO_DELIVER_REQUEST) || !queue_id_valid(id.data, id.len) ||
                 offset <= 0 || size < 0 || !deliver_req_clean(buf_str(&sender)))) {
        snprintf(err->text, sizeof(err->text), "malformed deliver_request");
        good = false;
    }
    if (good) {
        memcpy(req->queue_id, id.data, QUEUE_ID_SIZE);
        req->fd = fd;
        req->sender = xstrdup(buf_str(&sender));
        req->nexthop = xstrdup(nexthop.len ? buf_str(&nexthop) : "");
        req->arrival = (time_t)arrival;
        req->offset = (off_t)offset;
        req->size = (off_t)size;
        good = deliver_req_list(&list, req, err);
        if (!good)
            deliver_req_free(req);
    } else if (fd >= 0)
        close(fd);
    buf_free(&msg);
    buf_free(&id);
    buf_free(&sender);
    buf_free(&nexthop);
    buf_free(&list);
    return good;
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

bool
deliver_reply_encode(const struct deliver_reply *reply, struct buf *rec, struct attr_error *err)
{
    proto_begin(rec, PROTO_DELIVER_STATUS);
    attr_put_int(rec, PROTO_ATTR_INDEX, reply->index);
    attr_put_text(rec, PROTO_ATTR_STATUS, reply->status);
    attr_put_text(rec, PROTO_ATTR_DSN, reply->dsn);
    attr_put_text(rec, PROTO_ATTR_REASON, reply->reason);
    return attr_end(rec, err);
}

/* deliver_reply_valid - a known status with a DSN code of the matching class */
static bool
deliver_reply_valid(const struct deliver_reply *r)
{
    char want;

    if (strcmp(r->status, "sent") == 0)
        want = '2';
    else if (strcmp(r->status, "deferred") == 0)
        want = '4';
    else if (strcmp(r->status, "bounced") == 0)
        want = '5';
    else
        return false;
    return r->dsn[0] == want && r->dsn[1] == '.' && r->index >= 0;
}

bool
deliver_reply_decode(const struct buf *rec, struct attr_fds *fds, struct deliver_reply *reply,
                     struct attr_error *err)
{
    struct buf msg, status, dsn, reason;
    int64_t index = -1;
    bool good;
    const struct attr_spec spec[] = {
        {PROTO_ATTR_MSG, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &msg},
        {PROTO_ATTR_INDEX, ATTR_INT, ATTR_REQUIRED, &index},
        {PROTO_ATTR_STATUS, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &status},
        {PROTO_ATTR_DSN, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &dsn},
        {PROTO_ATTR_REASON, ATTR_STR, ATTR_TEXT, &reason},
    };

    memset(reply, 0, sizeof(*reply));
    buf_init(&msg, PROTO_MSG_NAME_SIZE);
    buf_init(&status, sizeof(reply->status) - 1);
    buf_init(&dsn, sizeof(reply->dsn) - 1);
    buf_init(&reason, sizeof(reply->reason) - 1);
    good = attr_decode(rec->data, rec->len, DELIVER_REPLY_LIMIT, fds, spec,
                       sizeof(spec) / sizeof(spec[0]), err);
    if (good) {
        reply->index = index < 0 || index > QUEUE_FILE_RCPT_MAX ? -1 : (long)index;
        snprintf(reply->status, sizeof(reply->status), "%s", buf_str(&status));
        snprintf(reply->dsn, sizeof(reply->dsn), "%s", buf_str(&dsn));
        snprintf(reply->reason, sizeof(reply->reason), "%s", reason.len ? buf_str(&reason) : "");
        if (!proto_msg_is(&msg, PROTO_DELIVER_STATUS) || !deliver_reply_valid(reply)) {
            snprintf(err->text, sizeof(err->text), "malformed deliver_status");
            good = false;
        }
    }
    buf_free(&msg);
    buf_free(&status);
    buf_free(&dsn);
    buf_free(&reason);
    return good;
}
