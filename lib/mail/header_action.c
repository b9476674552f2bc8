/*
 * header_action.c - the actions of header_checks(5) as a table's value spells them: the
 * action's name, case-insensitive, then optional text. REJECT's text may start with an RFC
 * 3463 code of class 4 or 5, which sets the reply's code too (450 or 550, as Postfix's
 * cleanup answers); without one the reply is 550 5.7.1. Actions that route or rewrite the message
 * (FILTER, REDIRECT, BCC, PREPEND, REPLACE, ...) are recognised and reported unsupported, never
 * guessed at.
 *
 * Trusts: nothing in value; it comes from an administrator's table, but is checked as text.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mail/header_action.h"
#include "mail/smtp_reply.h"

static const struct {
    const char *name;
    enum header_action_kind kind;
} header_actions[] = {
    {"DUNNO", HEADER_ACTION_DUNNO},         {"OK", HEADER_ACTION_DUNNO},
    {"WARN", HEADER_ACTION_WARN},           {"INFO", HEADER_ACTION_INFO},
    {"IGNORE", HEADER_ACTION_IGNORE},       {"HOLD", HEADER_ACTION_HOLD},
    {"DISCARD", HEADER_ACTION_DISCARD},     {"REJECT", HEADER_ACTION_REJECT},
    {"FILTER", HEADER_ACTION_UNSUPPORTED},  {"REDIRECT", HEADER_ACTION_UNSUPPORTED},
    {"BCC", HEADER_ACTION_UNSUPPORTED},     {"PREPEND", HEADER_ACTION_UNSUPPORTED},
    {"REPLACE", HEADER_ACTION_UNSUPPORTED}, {"STRIP", HEADER_ACTION_UNSUPPORTED},
    {"PASS", HEADER_ACTION_UNSUPPORTED},
};

/* header_action_reject - REJECT's reply: the text's own code, or 550 5.7.1 */
static void
header_action_reject(struct header_action *a)
{
    size_t n5 = smtp_status_len(a->text, '5');
    size_t n4 = n5 > 0 ? 0 : smtp_status_len(a->text, '4');
    size_t n = n5 + n4;

    if (n > 0 && n < sizeof(a->status)) {
        snprintf(a->status, sizeof(a->status), "%.*s", (int)n, a->text);
        a->text += n + strspn(a->text + n, " \t");
    } else
        snprintf(a->status, sizeof(a->status), "5.7.1");
    a->code = n4 > 0 && n < sizeof(a->status) ? 450 : 550;
    if (*a->text == '\0')
        a->text = "Message content rejected";
}

bool
header_action_parse(const char *value, struct header_action *a)
{
    size_t len = strcspn(value, " \t");

    memset(a, 0, sizeof(*a));
    for (size_t i = 0; i < sizeof(header_actions) / sizeof(header_actions[0]); i++) {
        if (strlen(header_actions[i].name) != len ||
            strncasecmp(value, header_actions[i].name, len) != 0)
            continue;
        a->kind = header_actions[i].kind;
        a->name = header_actions[i].name;
        a->text = value + len + strspn(value + len, " \t");
        if (a->kind == HEADER_ACTION_REJECT)
            header_action_reject(a);
        return true;
    }
    a->kind = HEADER_ACTION_DUNNO;
    a->name = "DUNNO";
    a->text = "";
    return false;
}
