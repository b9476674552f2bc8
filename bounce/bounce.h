/* bounce.h - the bounce agent: notices to senders, written as new queue files */
#ifndef BOUNCE_BOUNCE_H
#define BOUNCE_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/conf.h"
#include "mail/deliver_req.h"
#include "mail/params.h"
#include "mail/queue_file.h"

/* A site's text for one kind of notice (bounce_template.c; NULL fields: the built-in). */
struct bounce_template {
    bool present;
    char *charset, *from, *subject, *postmaster_subject;
    char *text; /* expanded; LF line ends */
};

enum bounce_template_id {
    BOUNCE_TEMPLATE_FAILURE,
    BOUNCE_TEMPLATE_DELAY,
    BOUNCE_TEMPLATE_SUCCESS,
    BOUNCE_TEMPLATE_VERIFY,
    BOUNCE_TEMPLATE_COUNT
};

struct bounce_templates {
    struct bounce_template t[BOUNCE_TEMPLATE_COUNT];
};

bool bounce_templates_load(struct bounce_templates *bt, const char *path, const struct conf *conf,
                           const struct params *p, struct err *err);
void bounce_templates_free(struct bounce_templates *bt);
const struct bounce_template *bounce_template_for(const struct bounce_templates *bt,
                                                  enum queue_notice_kind kind);

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
    const struct bounce_template *tmpl; /* the site's text for this kind, or NULL */
    bool copy;                          /* the postmaster's copy: Postmaster-Subject, header */
};

/* bounce_compose.c: the RFC 3464 report, as queue file content; what differs by kind */
void bounce_compose(struct queue_writer *w, const struct bounce_notice *n);
const char *bounce_kind_log(enum queue_notice_kind kind);
enum bounce_template_id bounce_kind_template(enum queue_notice_kind kind);

#endif
