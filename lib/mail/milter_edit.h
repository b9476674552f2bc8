/* milter_edit.h - the edits milters ask for at end of message, applied to the queue file */
#ifndef MAIL_MILTER_EDIT_H
#define MAIL_MILTER_EDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "mail/milter_codec.h"

/*
 * Use (doc/milter.md, "Edits"): at end of message, hand every edit reply of every milter to
 * milter_edits_add() in arrival order; if the collector is not empty, open a new queue file
 * and call milter_edits_apply(), which writes the whole edited file (envelope, recipients,
 * content, end marker; no fsync) from the uncommitted file smtpd wrote. The new file is
 * what gets fsynced and committed; the old one is aborted.
 *
 * A replaced body is never held in memory: its chunks are spooled in the old file, past its
 * end marker (milter_edits_spool() names that file; without it a body replacement is
 * refused). milter_edits_apply() cuts the old file back to its length, so does
 * milter_edits_unspool(): call that before committing the old file instead of a new one
 * (when the edits are dropped), or its spooled bytes would make it unreadable.
 *
 * Any false return leaves err saying why; the caller treats it as that milter's failure
 * (milter_default_action, or tempfail when the file cannot be written).
 */
struct milter_edits;

/* Limits on the edited message; 0 in a field keeps the default named after it. */
struct milter_edit_limits {
    size_t header_size;    /* one header, name and folded lines included (header_size_limit) */
    size_t headers;        /* headers in the edited message */
    size_t header_bytes;   /* the whole header section (held in memory while applying) */
    size_t rcpt;           /* recipients after the edits */
    uint64_t message_size; /* content octets after the edits (message_size_limit); 0: none */
};

#define MILTER_EDIT_HEADER_SIZE  102400 /* Postfix's header_size_limit default */
#define MILTER_EDIT_HEADERS      2000
#define MILTER_EDIT_HEADER_BYTES (1024 * 1024)

struct milter_edits *milter_edits_new(void);
void milter_edits_free(struct milter_edits *e);
void milter_edits_limits(struct milter_edits *e, const struct milter_edit_limits *lim);
void milter_edits_spool(struct milter_edits *e, int old_fd);

/*
 * milter_edits_milter - the edits added from now on come from a milter that negotiated
 * these SMFIP_* flags (SMFIP_HDR_LEADSPC: header values carry their own leading space) and
 * these SMFIF_* actions (an edit whose action it did not negotiate is refused); a body
 * replacement from it starts a new body rather than continuing an earlier milter's.
 * Without a call, flags are 0, every action is allowed and every edit counts as one
 * milter's.
 */
void milter_edits_milter(struct milter_edits *e, uint32_t protocol, uint32_t actions);

/* milter_edits_add - one edit reply (ADDHEADER ... CHGFROM, REPLBODY), checked and kept */
bool milter_edits_add(struct milter_edits *e, const struct milter_reply *r, struct err *err);
bool milter_edits_empty(const struct milter_edits *e);
bool milter_edits_apply(struct milter_edits *e, int old_fd, int new_fd, struct err *err);
bool milter_edits_unspool(struct milter_edits *e, struct err *err);

/* milter_edits_emptied - after a failed apply: the edits deleted every recipient */
bool milter_edits_emptied(const struct milter_edits *e);

/*
 * milter_hdrs_name_len - the length of the field name if line starts a header ("Name:" or
 * "Name :"), else 0: the rule by which the header section ends, for the edits and for
 * whatever reads the message to send it to milters, so that both count the same headers
 */
size_t milter_hdrs_name_len(const char *line, size_t len);

#endif
