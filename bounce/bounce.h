/* bounce.h - the bounce agent: notices to senders, written as new queue files */
#ifndef BOUNCE_BOUNCE_H
#define BOUNCE_BOUNCE_H

#include <stddef.h>

#include "mail/deliver_req.h"
#include "mail/params.h"
#include "mail/queue_file.h"

/* One notice: what it reports on, and about which of the message's recipients. */
struct bounce_notice {
    const struct params *p;
    const struct deliver_req *req;    /* the request: the reported message as a descriptor */
    const struct queue_envelope *env; /* that message's envelope, with each slot's reason */
    enum queue_notice_kind kind;
    char id[QUEUE_ID_SIZE]; /* the notice's own queue ID */
    const char *to;         /* whom it goes to */
    const size_t *rcpt;     /* the reported recipients, as indexes in env */
    size_t nrcpt;
};

/* bounce_compose.c: the RFC 3464 report, as queue file content */
void bounce_compose(struct queue_writer *w, const struct bounce_notice *n);

#endif
