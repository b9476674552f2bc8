/* deliver_req.h - the delivery protocol between qmgr and a delivery agent */
#ifndef MAIL_DELIVER_REQ_H
#define MAIL_DELIVER_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "core/attr.h"
#include "core/buf.h"
#include "mail/queue_id.h"

/*
 * qmgr connects to the transport's socket ($queue_directory/private/TRANSPORT), sends one
 * deliver_request and reads one deliver_status per recipient, in any order, each naming
 * the recipient by its index in the queue file. The queue file travels as a descriptor
 * (the agent never opens a queue directory), open for writing so that the agent marks each
 * recipient it delivered in the file before it says so: a qmgr killed before it reads the
 * reply finds the mark after its restart and does not deliver again. A connection carries one
 * request; a connection that ends before every recipient has its status leaves the rest deferred.
 */
#define DELIVER_REQ_RCPT_MAX     1000 /* recipients in one request */
#define DELIVER_REQ_RECORD_LIMIT (DELIVER_REQ_RCPT_MAX * 2200 + 8192)
#define DELIVER_REPLY_LIMIT      4096

struct deliver_req_rcpt {
    long index;   /* in the queue file */
    off_t slot;   /* where its status slot is in the queue file (queue_file.c) */
    char *addr;   /* the address to deliver to */
    char *orcpt;  /* the original recipient ("" if the same) */
    char *notify; /* DSN NOTIFY as given, "" if none */
};

struct deliver_req {
    char queue_id[QUEUE_ID_SIZE];
    int fd; /* the queue file; -1 if none */
    char *sender;
    char *nexthop;
    time_t arrival;
    off_t offset; /* the first content record */
    off_t size;   /* content bytes */
    struct deliver_req_rcpt *rcpt;
    size_t nrcpt;
};

/* The outcome of one recipient. status is "sent", "deferred" or "bounced". */
struct deliver_reply {
    long index;
    char status[16];
    char dsn[16];
    char reason[256];
};

void deliver_req_add_rcpt(struct deliver_req *req, long index, off_t slot, const char *addr,
                          const char *orcpt, const char *notify);
bool deliver_req_encode(const struct deliver_req *req, struct buf *rec, struct attr_fds *fds,
                        struct attr_error *err);
bool deliver_req_decode(const struct buf *rec, struct attr_fds *fds, struct deliver_req *req,
                        struct attr_error *err);
void deliver_req_free(struct deliver_req *req);

bool deliver_reply_encode(const struct deliver_reply *reply, struct buf *rec,
                          struct attr_error *err);
bool deliver_reply_decode(const struct buf *rec, struct attr_fds *fds, struct deliver_reply *reply,
                          struct attr_error *err);

#endif
