/*
 * anvil_proto.c - encoding and decoding of anvil's messages.
 *
 * Trusts: neither side. A request must be one of the four anvil messages with a service
 * and a client of printable characters within ANVIL_NAME_MAX; counts must not be negative.
 */
#include <stdio.h>
#include <string.h>

#include "mail/anvil_proto.h"

/* anvil_printable - a name anvil keys a table with: printable, no space, not empty */
static bool
anvil_printable(const struct buf *b)
{
    if (b->len == 0)
        return false;
    for (size_t i = 0; i < b->len; i++)
        if ((unsigned char)b->data[i] <= 0x20 || (unsigned char)b->data[i] >= 0x7f)
            return false;
    return true;
}

bool
anvil_request_encode(struct buf *rec, const struct anvil_request *req, struct err *err)
{
    proto_begin(rec, req->msg);
    attr_put_text(rec, PROTO_ATTR_SERVICE, req->service);
    attr_put_text(rec, PROTO_ATTR_CLIENT, req->client);
    return attr_end(rec, err);
}

/* anvil_request_decode - one of the three anvil requests, with its service and client checked */
bool
anvil_request_decode(const struct buf *rec, struct attr_fds *fds, struct anvil_request *req,
                     struct err *err)
{
    struct buf service, client;
    const struct attr_spec spec[] = {
        {PROTO_ATTR_SERVICE, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &service},
        {PROTO_ATTR_CLIENT, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &client},
    };
    bool good;

    req->msg = proto_msg_of(rec);
    if (req->msg != PROTO_ANVIL_CONNECT && req->msg != PROTO_ANVIL_DISCONNECT &&
        req->msg != PROTO_ANVIL_RCPT && req->msg != PROTO_ANVIL_AUTH) {
        attr_fds_close(fds);
        return err_set(err, "not an anvil request");
    }
    buf_init(&service, ANVIL_NAME_MAX);
    buf_init(&client, ANVIL_NAME_MAX);
    good = PROTO_DECODE(rec, ANVIL_RECORD_LIMIT, fds, req->msg, spec, err);
    if (good && (!anvil_printable(&service) || !anvil_printable(&client)))
        good = err_set(err, "malformed %s", proto_msg_name(req->msg));
    if (good) {
        snprintf(req->service, sizeof(req->service), "%s", buf_str(&service));
        snprintf(req->client, sizeof(req->client), "%s", buf_str(&client));
    }
    buf_free(&service);
    buf_free(&client);
    return good;
}

bool
anvil_counts_encode(struct buf *rec, const struct anvil_counts *counts, struct err *err)
{
    proto_begin(rec, PROTO_ANVIL_COUNTS);
    attr_put_int(rec, PROTO_ATTR_COUNT, counts->count);
    attr_put_int(rec, PROTO_ATTR_RATE, counts->rate);
    return attr_end(rec, err);
}

bool
anvil_counts_decode(const struct buf *rec, struct attr_fds *fds, struct anvil_counts *counts,
                    struct err *err)
{
    const struct attr_spec spec[] = {
        {PROTO_ATTR_COUNT, ATTR_INT, ATTR_REQUIRED, &counts->count},
        {PROTO_ATTR_RATE, ATTR_INT, ATTR_REQUIRED, &counts->rate},
    };

    if (!PROTO_DECODE(rec, ANVIL_RECORD_LIMIT, fds, PROTO_ANVIL_COUNTS, spec, err))
        return false;
    if (counts->count < 0 || counts->rate < 0)
        return err_set(err, "malformed anvil_counts");
    return true;
}
