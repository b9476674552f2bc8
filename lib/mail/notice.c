/*
 * notice.c - the notice policy (doc/bounce.md): which outcome owes which notice to whom.
 * qmgr decides with it when it records an outcome, the bounce agent when it writes the
 * notice, so the two never disagree.
 *
 * A failed recipient owes its sender a failure notice unless the sender is null or the
 * recipient said NOTIFY=NEVER (or a list without FAILURE). A failed recipient of null-sender
 * mail owes a double bounce to 2bounce_notice_recipient when notify_classes has 2bounce,
 * unless the message is a double bounce or a postmaster's copy itself: that one is dropped,
 * and loops end there.
 * A delivered recipient owes a success notice only when it said NOTIFY=SUCCESS, and not
 * when its next hop took the request on (RFC 3461 section 6.2.1). A recipient
 * still deferred once the message is delay_warning_time old owes one delay warning, unless
 * NOTIFY excludes DELAY or the sender is null.
 *
 * Trusts: the envelope as queue_read.c checked it; NOTIFY is matched as words, nothing more.
 */
#include <string.h>
#include <strings.h>

#include "mail/notice.h"

/* notice_notify_has - does a NOTIFY list ("SUCCESS,FAILURE") name word? "" means the
 * RFC 3461 default, FAILURE and DELAY */
static bool
notice_notify_has(const char *notify, const char *word)
{
    size_t n = strlen(word);

    if (*notify == 0)
        return strcasecmp(word, "FAILURE") == 0 || strcasecmp(word, "DELAY") == 0;
    for (const char *p = notify; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncasecmp(p, word, n) == 0)
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

enum queue_notice_kind
notice_on_failure(const struct queue_envelope *env, const struct queue_rcpt *rcpt,
                  const struct params *p)
{
    if (*env->sender)
        return notice_notify_has(rcpt->notify, "FAILURE") ? QUEUE_NOTICE_FAILURE
                                                          : QUEUE_NOTICE_NONE;
    if (env->origin.kind == QUEUE_NOTICE_DOUBLE || env->origin.kind == QUEUE_NOTICE_COPY ||
        !strvec_contains(&p->notify_classes, "2bounce") || *p->double_bounce_notice_recipient == 0)
        return QUEUE_NOTICE_NONE;
    return QUEUE_NOTICE_DOUBLE;
}

/*
 * notice_delivered_state - the state a delivered recipient is recorded with: 'S' when the
 * sender asked for a success notice, 'R' when the notice is to say "relayed" (a next hop
 * without DSN), 'D' when none is owed here (none asked, or the next hop took the request).
 * The agent records it before it replies, and qmgr from the reply, so a qmgr that dies in
 * between still finds the notice owed.
 */
enum queue_rcpt_state
notice_delivered_state(const char *sender, const char *notify, enum deliver_handoff handoff)
{
    if (*sender == 0 || !notice_notify_has(notify, "SUCCESS") || handoff == DELIVER_NOTIFY_PASSED)
        return QUEUE_RCPT_DELIVERED;
    return handoff == DELIVER_RELAYED ? QUEUE_RCPT_RELAYED_NOTICE : QUEUE_RCPT_DELIVERED_NOTICE;
}

bool
notice_on_delay(const struct queue_envelope *env, const struct queue_rcpt *rcpt,
                const struct params *p, time_t now)
{
    return *env->sender && p->delay_warning_time > 0 &&
           now - env->arrival.tv_sec >= p->delay_warning_time &&
           notice_notify_has(rcpt->notify, "DELAY") && rcpt->status.notice[0] == 0;
}

/* notice_reports - may a notice of this kind report a recipient in this state? (one that
 * already names a notice never) */
bool
notice_reports(enum queue_notice_kind kind, const struct queue_rcpt_status *st)
{
    if (st->notice[0] != 0)
        return false;
    if (kind == QUEUE_NOTICE_SUCCESS)
        return st->state == QUEUE_RCPT_DELIVERED_NOTICE || st->state == QUEUE_RCPT_RELAYED_NOTICE;
    if (kind == QUEUE_NOTICE_DELAY)
        return st->state == QUEUE_RCPT_DEFERRED;
    return st->state == QUEUE_RCPT_FAILED_NOTICE;
}

/* notice_copy_recipient - the postmaster who gets a copy of a notice of this kind (the
 * bounce and delay classes of notify_classes), or NULL */
const char *
notice_copy_recipient(enum queue_notice_kind kind, const struct params *p)
{
    if (kind == QUEUE_NOTICE_FAILURE && strvec_contains(&p->notify_classes, "bounce"))
        return p->bounce_notice_recipient;
    if (kind == QUEUE_NOTICE_DELAY && strvec_contains(&p->notify_classes, "delay"))
        return p->delay_notice_recipient;
    return NULL;
}

/* notice_recipient - whom a notice of this kind about this message goes to */
const char *
notice_recipient(enum queue_notice_kind kind, const struct queue_envelope *env,
                 const struct params *p)
{
    return kind == QUEUE_NOTICE_DOUBLE ? p->double_bounce_notice_recipient : env->sender;
}

/* Each kind's name: the next hop of its request to the bounce agent. */
static const struct {
    enum queue_notice_kind kind;
    const char *name;
} notice_kinds[] = {
    {QUEUE_NOTICE_FAILURE, "failure"},
    {QUEUE_NOTICE_SUCCESS, "success"},
    {QUEUE_NOTICE_DOUBLE, "2bounce"},
    {QUEUE_NOTICE_DELAY, "delay"},
};

const char *
notice_kind_name(enum queue_notice_kind kind)
{
    for (size_t i = 0; i < sizeof(notice_kinds) / sizeof(notice_kinds[0]); i++)
        if (notice_kinds[i].kind == kind)
            return notice_kinds[i].name;
    return "none";
}

bool
notice_kind_parse(const char *name, enum queue_notice_kind *kind)
{
    for (size_t i = 0; i < sizeof(notice_kinds) / sizeof(notice_kinds[0]); i++)
        if (strcmp(notice_kinds[i].name, name) == 0) {
            *kind = notice_kinds[i].kind;
            return true;
        }
    return false;
}

/* notice_owed - a state that waits for a notice before it is final */
bool
notice_owed(enum queue_rcpt_state state)
{
    return state == QUEUE_RCPT_FAILED_NOTICE || state == QUEUE_RCPT_DELIVERED_NOTICE ||
           state == QUEUE_RCPT_RELAYED_NOTICE;
}
