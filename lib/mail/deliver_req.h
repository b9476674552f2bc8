/* deliver_req.h - the delivery protocol between qmgr and a delivery agent, both sides */
#ifndef MAIL_DELIVER_REQ_H
#define MAIL_DELIVER_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "core/attr.h"
#include "core/buf.h"
#include "core/ipc.h"
#include "mail/queue_id.h"

/*
 * qmgr connects to the transport's socket ($queue_directory/private/TRANSPORT) and sends
 * one deliver_request followed by one deliver_rcpt record per recipient
 * (deliver_req_send); the agent reads them (deliver_agent_read) and answers one
 * deliver_status per recipient, in any order, each naming the recipient by its index in the
 * queue file (deliver_agent_reply; qmgr reads them on its loop with deliver_reply_decode).
 * The queue file travels as a descriptor (the agent never opens a queue directory), open
 * for writing so that the agent marks each recipient it delivered in the file before it
 * says so: a qmgr killed before it reads the reply finds the mark after its restart and does
 * not deliver again. A connection carries one request; a connection that ends before every
 * recipient has its status leaves the rest deferred.
 */
#define DELIVER_REQ_RCPT_MAX      1000 /* recipients in one request */
#define DELIVER_REQ_RECORD_LIMIT  4096 /* the deliver_request record */
#define DELIVER_RCPT_RECORD_LIMIT 4096 /* one deliver_rcpt record */
#define DELIVER_REPLY_LIMIT       4096
#define DELIVER_RELAY_MAX         320 /* "name[addr]:port" in a deliver_status */

/* What became of one recipient: the agent's verdict, qmgr's log line and queue slot. */
enum deliver_status {
    DELIVER_OK,     /* delivered (on disk, fsynced) or relayed */
    DELIVER_DEFER,  /* 4.x.x: try again later */
    DELIVER_BOUNCE, /* 5.x.x: will never work */
};

/* How far a delivered recipient went (RFC 3461 section 6.2.1): delivered here; handed to a
 * next hop that took no DSN request, so the sender's success notice says "relayed"; or
 * handed on with its NOTIFY, so the next hop reports and this host sends nothing. */
enum deliver_handoff {
    DELIVER_FINAL,
    DELIVER_RELAYED,
    DELIVER_NOTIFY_PASSED,
};

struct deliver_result {
    enum deliver_status status;
    enum deliver_handoff handoff; /* DELIVER_OK only */
    bool unreachable;             /* DELIVER_DEFER only: the destination itself could not be
                                     reached (no connection, no greeting): qmgr's negative
                                     feedback (lib/mail/dest_window.c) */
    unsigned conn_use;            /* the agent's connection carried this many deliveries, this
                                     one included (smtp-out's connection reuse); 0 unknown */
    char dsn[16];                 /* enhanced status code, e.g. "4.2.2" */
    char reason[256];             /* human text for the log and the bounce */
};

void deliver_set(struct deliver_result *res, enum deliver_status status, const char *dsn,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
const char *deliver_status_word(enum deliver_status status);
/* deliver_reason.c: status with the code and text of nexthop ("5.1.1 no such user"), the
 * code defaulting to C.0.0 of status's class and the text to dflt */
void deliver_reason(struct deliver_result *res, enum deliver_status status, const char *nexthop,
                    const char *dflt);

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

/* One recipient's outcome as qmgr receives it; relay is "" unless the agent named the
 * host it talked to (smtp-out: "mx.example[192.0.2.1]:25", for the log line). */
struct deliver_reply {
    long index;
    struct deliver_result res;
    char relay[DELIVER_RELAY_MAX];
};

/* qmgr's side. */
void deliver_req_add_rcpt(struct deliver_req *req, long index, off_t slot, const char *addr,
                          const char *orcpt, const char *notify);
bool deliver_req_send(int sock, const struct deliver_req *req, int timeout_ms, struct err *err);
bool deliver_reply_decode(const struct buf *rec, struct attr_fds *fds, struct deliver_reply *reply,
                          struct err *err);
void deliver_req_free(struct deliver_req *req);

/* The agent's side: IPC_OK with a checked request, IPC_EOF, or a failure with err. */
/* deliver_agent_serve - a one-request agent's whole service: the socket made blocking, the
 * request read and checked, handed to fn, freed; a bad request is logged. The caller
 * closes sock. */
typedef void (*deliver_agent_fn)(void *arg, int sock, const struct deliver_req *req);
void deliver_agent_serve(int sock, int timeout_ms, deliver_agent_fn fn, void *arg);
enum ipc_status deliver_agent_read(int sock, int timeout_ms, struct deliver_req *req,
                                   struct err *err);
bool deliver_agent_reply(int sock, int timeout_ms, const struct deliver_req_rcpt *rcpt,
                         const struct deliver_result *res, struct err *err);
bool deliver_agent_reply_relay(int sock, int timeout_ms, const struct deliver_req_rcpt *rcpt,
                               const struct deliver_result *res, const char *relay,
                               struct err *err);
/* deliver_agent_reply_all - the same result for every recipient of req (relay may be NULL);
 * a failure is logged */
void deliver_agent_reply_all(int sock, int timeout_ms, const struct deliver_req *req,
                             const struct deliver_result *res, const char *relay);

#endif
