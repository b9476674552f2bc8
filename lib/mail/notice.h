/* notice.h - who is told what about a recipient's outcome: the policy qmgr and bounce share */
#ifndef MAIL_NOTICE_H
#define MAIL_NOTICE_H

#include <stdbool.h>
#include <time.h>

#include "mail/deliver_req.h"
#include "mail/params.h"
#include "mail/queue_file.h"

/* The delivery agent that writes notices, and the next hops that name its kinds. */
#define NOTICE_TRANSPORT "bounce"

enum queue_notice_kind notice_on_failure(const struct queue_envelope *env,
                                         const struct queue_rcpt *rcpt, const struct params *p);
enum queue_rcpt_state notice_delivered_state(const char *sender, const char *notify,
                                             enum deliver_handoff handoff);
bool notice_on_delay(const struct queue_envelope *env, const struct queue_rcpt *rcpt,
                     const struct params *p, time_t now);
bool notice_reports(enum queue_notice_kind kind, const struct queue_rcpt_status *st);
const char *notice_recipient(enum queue_notice_kind kind, const struct queue_envelope *env,
                             const struct params *p);
const char *notice_copy_recipient(enum queue_notice_kind kind, const struct params *p);
const char *notice_kind_name(enum queue_notice_kind kind);
bool notice_kind_parse(const char *name, enum queue_notice_kind *kind);
bool notice_owed(enum queue_rcpt_state state);

#endif
