/* qmgr_clnt.h - the receiving side of qmgr's protocol: one codec, a blocking stub on top */
#ifndef MAIL_QMGR_CLNT_H
#define MAIL_QMGR_CLNT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/attr.h"
#include "core/buf.h"
#include "mail/proto.h"
#include "mail/queue_id.h"

/*
 * A receiver connects (qmgr_clnt_connect) and then, per message: qmgr_clnt_open() gives a
 * queue ID and a descriptor of a new file; the receiver writes it with queue_writer_*()
 * (which fsyncs); qmgr_clnt_commit() answers QMGR_OK only once the file is in its queue
 * state and that directory is on disk: then, and only then, answer 250. qmgr_clnt_abort()
 * drops a message that will not be accepted. qmgr_clnt_status() asks, after a broken
 * connection lost the answer to a commit, whether the commit happened: QMGR_OK only on
 * evidence (the file is in a committed state, or in none because it was delivered).
 * Messages a receiver opened and neither committed nor aborted are removed when it
 * disconnects.
 *
 * The codec (qmgr_request_encode, qmgr_reply_decode) is the whole protocol; the blocking
 * calls below and smtpd's event-driven client both use it, each over its own transport.
 */
#define QMGR_CLNT_RECORD_LIMIT 4096
#define QMGR_WHY_SIZE          600

/* What an answer from qmgr means to a receiver. */
enum qmgr_outcome {
    QMGR_OK,      /* the answer asked for */
    QMGR_REFUSED, /* queue_refused: this request failed; the connection stays usable */
    QMGR_BROKEN,  /* no usable answer (timeout, EOF, garbage): drop the connection */
};

struct qmgr_reply {
    enum qmgr_outcome outcome;
    char id[QUEUE_ID_SIZE];  /* QMGR_OK to queue_open: the new file's ID */
    int fd;                  /* QMGR_OK to queue_open: its descriptor, the caller's to close */
    char why[QMGR_WHY_SIZE]; /* REFUSED: qmgr's reason; BROKEN: what went wrong */
};

bool qmgr_request_encode(struct buf *rec, enum proto_msg request, const char *id, struct err *err);
enum qmgr_outcome qmgr_reply_decode(const struct buf *rec, struct attr_fds *fds,
                                    enum proto_msg request, const char *id,
                                    struct qmgr_reply *reply);
enum qmgr_outcome qmgr_reply_broken(struct qmgr_reply *reply, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

int qmgr_clnt_connect(const char *path, struct err *err);
enum qmgr_outcome qmgr_clnt_open(int sock, int timeout_ms, struct qmgr_reply *reply);
enum qmgr_outcome qmgr_clnt_commit(int sock, const char *id, int timeout_ms,
                                   struct qmgr_reply *reply);
enum qmgr_outcome qmgr_clnt_abort(int sock, const char *id, int timeout_ms,
                                  struct qmgr_reply *reply);
enum qmgr_outcome qmgr_clnt_status(int sock, const char *id, int timeout_ms,
                                   struct qmgr_reply *reply);

#endif
