/* pickup_milter.h - non_smtpd_milters: the milters of mail from the sendmail command */
#ifndef PICKUP_PICKUP_MILTER_H
#define PICKUP_PICKUP_MILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "mail/milter_codec.h"
#include "mail/milter_conf.h"
#include "mail/milter_hbc.h"
#include "mail/qmgr_clnt.h"
#include "mail/queue_file.h"
#include "pickup/pickup.h"

/* One milter's connection, blocking (pickup_mconn.c). */
struct pickup_mconn {
    const struct milter_spec *spec;
    int fd;
    struct milter_frame frame;
    char in[8192];
    size_t in_len, in_at;
    uint32_t actions, protocol; /* negotiated */
    char *symlist[MILTER_STAGES];
    char why[600]; /* why it failed */
};

bool pickup_mconn_open(struct pickup_mconn *mc, const struct milter_spec *spec);
bool pickup_mconn_send(struct pickup_mconn *mc, const struct buf *out, long seconds);
/* pickup_mconn_read - the next reply but PROGRESS (which restarts the time) */
bool pickup_mconn_read(struct pickup_mconn *mc, long seconds, struct milter_reply *r);
void pickup_mconn_close(struct pickup_mconn *mc);

/* What the milters made of a message (pickup_milter.c). */
enum pickup_verdict {
    PICKUP_MILTER_GO,      /* queue it (on hold if hold is set) */
    PICKUP_MILTER_BOUNCE,  /* refused: queue it with every recipient failed, for a bounce */
    PICKUP_MILTER_LATER,   /* a temporary refusal: the maildrop file stays for later */
    PICKUP_MILTER_DISCARD, /* accepted and dropped */
};

struct pickup_milter_outcome {
    enum pickup_verdict verdict;
    bool hold;
    char reason[QUEUE_FILE_REASON_MAX + 1]; /* BOUNCE: "5.7.1 text", the bounce's reason */
};

void pickup_milter_init(struct pickup *pk);
void pickup_milter_free(struct pickup *pk);
/*
 * pickup_milter_run - the queue file in *file (written and fsynced, not committed) through
 * every milter; a milter's edits move the message to a new queue file from qmgr, which
 * replaces *file (the old one aborted). False: a local failure (qmgr, the disk), the
 * maildrop file stays.
 */
bool pickup_milter_run(struct pickup *pk, struct qmgr_reply *file, const char *name,
                       struct pickup_milter_outcome *out);
/*
 * pickup_milter_hbc.c: milter_header_checks on edit r of a milter (false: drop the edit,
 * IGNORE); after the milter's turn, the strongest action as the outcome (a verdict that is
 * already not GO stands)
 */
bool pickup_milter_hbc(struct pickup *pk, struct milter_hbc *st, const struct milter_reply *r,
                       bool leadspc, const char *qid, const struct queue_envelope *env);
void pickup_milter_hbc_verdict(const struct milter_hbc *st, const char *qid, const char *name,
                               struct pickup_milter_outcome *out);

/* pickup_milter_bounce - every recipient of fd failed with reason, durably, before commit */
bool pickup_milter_bounce(struct pickup *pk, int fd, const char *reason, struct err *err);

#endif
