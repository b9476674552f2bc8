/* milter_hbc.h - milter_header_checks: each header a milter adds or changes, looked up */
#ifndef MAIL_MILTER_HBC_H
#define MAIL_MILTER_HBC_H

#include <stdbool.h>

#include "core/map_retry.h"
#include "mail/header_action.h"
#include "mail/milter_codec.h"

/* The strongest action the header edits of one message got so far (all zero: none). */
struct milter_hbc {
    struct header_action action;
    char text[512]; /* its text (the table's value is gone after the next lookup) */
};

/*
 * What a log line names, as Postfix's cleanup logs milter_header_checks: "QID:
 * milter-header-ACTION: header LINE from CLIENT; from=<SENDER> to=<RCPT> proto=P
 * helo=<H>: TEXT", to= only with a recipient, proto= and helo= only when given (not for
 * local mail), ": TEXT" only with a text.
 */
struct milter_hbc_log {
    const char *qid;
    const char *client; /* "name[addr]" */
    const char *sender;
    const char *rcpt;  /* the first recipient, or NULL */
    const char *proto; /* NULL: not logged */
    const char *helo;  /* NULL: not logged */
};

/*
 * milter_hbc_check - the edit r of a milter (leadspc: it negotiated SMFIP_HDR_LEADSPC)
 * looked up as "Name: value" in t when it adds, inserts or changes a header; the action
 * logged and, if stronger than what st has, kept. False: drop the edit (IGNORE). A table
 * that cannot be read keeps REJECT 451 4.3.0 Temporary lookup failure: never a silent pass.
 */
bool milter_hbc_check(struct milter_hbc *st, struct map_retry *t, const struct milter_reply *r,
                      bool leadspc, const struct milter_hbc_log *who);

#endif
