/* header_action.h - the action a header_checks(5) table gives a header: parsed, not done */
#ifndef MAIL_HEADER_ACTION_H
#define MAIL_HEADER_ACTION_H

#include <stdbool.h>

/*
 * The value a table returns for a matching header ("REJECT 5.7.1 no spam here", "HOLD",
 * "IGNORE") parsed into what to do. milter_header_checks uses it for the headers milters
 * add or change. The kinds are in order of strength: a message keeps the strongest action
 * any of its headers got.
 */
enum header_action_kind {
    HEADER_ACTION_DUNNO,       /* DUNNO, OK, or no match: nothing */
    HEADER_ACTION_UNSUPPORTED, /* a header_checks(5) action postern does not do: logged */
    HEADER_ACTION_INFO,        /* log the header, go on */
    HEADER_ACTION_WARN,        /* the same, logged as a warning */
    HEADER_ACTION_IGNORE,      /* drop this header */
    HEADER_ACTION_HOLD,        /* the message goes to the hold queue */
    HEADER_ACTION_DISCARD,     /* the message is accepted and dropped */
    HEADER_ACTION_REJECT,      /* the message is refused */
};

struct header_action {
    enum header_action_kind kind;
    const char *name; /* the action's name, upper case ("REJECT"), for the log */
    char status[16];  /* REJECT: the RFC 3463 code (the text's own, of class 4 or 5) */
    int code;         /* REJECT: 450 or 550, after the code's class */
    const char *text; /* the optional text after the action (and code), or a default */
};

/* header_action_parse - value as a table gave it; false (and a DUNNO) for an unknown action */
bool header_action_parse(const char *value, struct header_action *a);

#endif
