/* anvil_proto.h - the client-count protocol between smtpd and anvil, both sides */
#ifndef MAIL_ANVIL_PROTO_H
#define MAIL_ANVIL_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#include "core/attr.h"
#include "core/buf.h"
#include "core/err.h"
#include "mail/proto.h"

/*
 * A receiver keeps one connection to $queue_directory/private/anvil and tells it, per
 * client address and service, when a session starts (anvil_connect) and ends
 * (anvil_disconnect), and when a recipient or an AUTH command comes (anvil_rcpt,
 * anvil_auth). anvil answers connect, rcpt and auth, in order, with anvil_counts: how many sessions
 * of that client are open now and how many connects or recipients it made in the current
 * anvil_rate_time_unit. Sessions a connection reported and did not end are ended when the
 * connection goes away, so a receiver that dies leaves no phantom sessions behind.
 */
#define ANVIL_RECORD_LIMIT 1024
#define ANVIL_NAME_MAX     255 /* service names and addresses */

struct anvil_request {
    enum proto_msg msg; /* PROTO_ANVIL_CONNECT, _DISCONNECT, _RCPT or _AUTH */
    char service[ANVIL_NAME_MAX + 1];
    char client[ANVIL_NAME_MAX + 1];
};

struct anvil_counts {
    int64_t count; /* sessions open now */
    int64_t rate;  /* connects, recipients or AUTH commands (as asked) this unit */
};

bool anvil_request_encode(struct buf *rec, const struct anvil_request *req, struct err *err);
bool anvil_request_decode(const struct buf *rec, struct attr_fds *fds, struct anvil_request *req,
                          struct err *err);
bool anvil_counts_encode(struct buf *rec, const struct anvil_counts *counts, struct err *err);
bool anvil_counts_decode(const struct buf *rec, struct attr_fds *fds, struct anvil_counts *counts,
                         struct err *err);

#endif
