/* milter_edit_impl.h - what milter_edit*.c share: the collected edits, the header section */
#ifndef MAIL_MILTER_EDIT_IMPL_H
#define MAIL_MILTER_EDIT_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/err.h"
#include "mail/milter_edit.h"

/*
 * One edit, checked and in the form it will be written. cmd is the MILTER_REPLY_* octet.
 *   ADDHEADER, INSHEADER, CHGHEADER: name, text (the whole header, folded lines ending in
 *     CRLF; NULL for a CHGHEADER that deletes), index (as the milter sent it)
 *   ADDRCPT, ADDRCPT_PAR: addr (as the queue file keeps it), notify, orcpt ("" if none)
 *   DELRCPT: addr
 *   CHGFROM: addr, then ret, envid (xtext), body: NULL where the milter left them alone
 */
struct milter_edit {
    int cmd;
    char *name;
    char *text;
    uint32_t index;
    char *addr;
    char *notify;
    char *orcpt;
    char *ret;
    char *envid;
    char *body;
    bool utf8; /* addr has non-ASCII octets: only for an SMTPUTF8 message */
};

struct milter_edits {
    struct milter_edit *v;
    size_t n;
    size_t cap;
    struct milter_edit_limits lim;
    uint32_t protocol;   /* SMFIP_* of the milter whose edits come now */
    uint32_t actions;    /* the SMFIF_* actions it negotiated: no edit without its action */
    unsigned milter_seq; /* milter_edits_milter() calls so far */
    unsigned body_seq;   /* milter_seq when the spooled body was started */
    int spool_fd;        /* the old queue file, -1 if none given */
    off_t spool_base;    /* its length before the first chunk; -1 before one */
    uint64_t spool_len;  /* octets of the replacement body spooled */
    bool body_replaced;
    bool spool_cut; /* an apply cut the spool off the old file: the body is gone */
    bool emptied;
};

/* The header section of a message, in memory while the edits are applied. */
struct milter_hdr {
    char *text; /* the header's lines, each ending in CRLF */
    size_t len;
    size_t name_len; /* its name, without the colon and any space before it */
};

struct milter_hdrs {
    struct milter_hdr *v;
    size_t n;
    size_t bytes;
    const struct milter_edit_limits *lim;
};

bool milter_hdrs_add(struct milter_hdrs *h, size_t at, const char *text, size_t len,
                     struct err *err);
bool milter_hdrs_continue(struct milter_hdrs *h, const char *line, size_t len, struct err *err);
bool milter_hdrs_edit(struct milter_hdrs *h, const struct milter_edit *ed, struct err *err);
void milter_hdrs_free(struct milter_hdrs *h);

bool milter_hdrs_format(struct buf *out, const char *name, const char *value, bool leadspc,
                        struct err *err);

#endif
