/*
 * milter_hbc.c - milter_header_checks, for every daemon that runs milters (smtpd for
 * smtpd_milters, pickup for non_smtpd_milters): each header a milter adds, inserts or
 * changes is looked up, as "Name: value", in the tables of that parameter, and the action
 * found (header_checks(5): REJECT, DISCARD, HOLD, IGNORE, WARN, INFO, DUNNO, OK) is taken
 * as Postfix's cleanup takes it: IGNORE drops that edit at once; the message keeps the
 * strongest of the others, which the daemon applies after the milters' own verdict. Each
 * action is logged in the shape of Postfix's cleanup (milter_hbc.h).
 *
 * Trusts: the codec's parse of the edit (name and value are NUL-terminated text); the
 * tables are the administrator's.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "mail/milter_hbc.h"

/* milter_hbc_log - the action in Postfix's shape: the header line, its first 60 octets */
static void
milter_hbc_log(const struct milter_hbc_log *who, const char *what, const char *line,
               const char *reason)
{
    char to[600] = "", proto[300] = "";

    if (who->rcpt != NULL)
        snprintf(to, sizeof(to), " to=<%s>", who->rcpt);
    if (who->proto != NULL)
        snprintf(proto, sizeof(proto), " proto=%s helo=<%s>", who->proto,
                 who->helo ? who->helo : "");
    log_info("%s: milter-header-%s: header %.60s from %s; from=<%s>%s%s%s%s", who->qid, what, line,
             who->client, who->sender ? who->sender : "", to, proto, *reason ? ": " : "", reason);
}

/* milter_hbc_word - Postfix's word in the log for a WARN, INFO, HOLD or DISCARD */
static const char *
milter_hbc_word(const struct header_action *a)
{
    switch (a->kind) {
    case HEADER_ACTION_HOLD:
        return "hold";
    case HEADER_ACTION_DISCARD:
        return "discard";
    case HEADER_ACTION_INFO:
        return "info";
    default:
        return "warning";
    }
}

/* milter_hbc_keep - the message keeps a, if it is stronger than what it has */
static void
milter_hbc_keep(struct milter_hbc *st, const struct header_action *a)
{
    if (a->kind <= st->action.kind)
        return;
    st->action = *a;
    snprintf(st->text, sizeof(st->text), "%s", a->text);
    st->action.text = st->text;
}

/* milter_hbc_act - log the action a table gave one header; false for IGNORE */
static bool
milter_hbc_act(struct milter_hbc *st, const struct milter_hbc_log *who,
               const struct header_action *a, const char *name, const char *line)
{
    char reason[600];

    switch (a->kind) {
    case HEADER_ACTION_DUNNO:
    case HEADER_ACTION_IGNORE:
        break;
    case HEADER_ACTION_UNSUPPORTED:
        log_warn("%s: milter_header_checks: action %s is not supported: header %s ignored",
                 who->qid, a->name, name);
        break;
    case HEADER_ACTION_REJECT:
        snprintf(reason, sizeof(reason), "%s %s", a->status, a->text);
        milter_hbc_log(who, "reject", line, reason);
        break;
    default:
        milter_hbc_log(who, milter_hbc_word(a), line, a->text);
    }
    milter_hbc_keep(st, a);
    return a->kind != HEADER_ACTION_IGNORE;
}

bool
milter_hbc_check(struct milter_hbc *st, struct map_retry *t, const struct milter_reply *r,
                 bool leadspc, const struct milter_hbc_log *who)
{
    struct header_action a;
    const char *found;
    struct buf key;
    struct err err;
    bool keep = true;

    if (!map_retry_configured(t))
        return true;
    if (r->cmd != MILTER_REPLY_ADDHEADER && r->cmd != MILTER_REPLY_INSHEADER &&
        r->cmd != MILTER_REPLY_CHGHEADER)
        return true;
    if (r->value == NULL || *r->value == '\0') /* a deletion: nothing to inspect */
        return true;
    buf_init(&key, BUF_UNLIMITED);
    buf_printf(&key, "%s:%s%s", r->name, leadspc ? "" : " ", r->value);
    switch (map_retry_lookup(t, buf_str(&key), &found, &err)) {
    case MAP_FOUND:
        if (!header_action_parse(found, &a))
            log_warn("%s: milter_header_checks: unknown action \"%.40s\" for header %s: ignored",
                     who->qid, found, r->name);
        keep = milter_hbc_act(st, who, &a, r->name, buf_str(&key));
        break;
    case MAP_NOTFOUND:
        break;
    case MAP_ERROR:
        log_warn("%s: milter_header_checks: %s", who->qid, err.text);
        a = (struct header_action){.kind = HEADER_ACTION_REJECT,
                                   .name = "REJECT",
                                   .code = 451,
                                   .status = "4.3.0",
                                   .text = "Temporary lookup failure"};
        milter_hbc_keep(st, &a);
    }
    buf_free(&key);
    return keep;
}
