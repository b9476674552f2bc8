/* msa_fixup.h - RFC 6409 8.2 and 8.3: a submission server adds Date: and Message-ID:
 * (and pickup a From: for mail from the local sendmail command) */
#ifndef MAIL_MSA_FIXUP_H
#define MAIL_MSA_FIXUP_H

#include <stdbool.h>
#include <stddef.h>

#include "mail/smtp_data.h"

/*
 * A filter between the content state machine (smtp_data.c) and the queue file: it reads
 * the header section as it passes and, at its end, adds "Date:" and "Message-ID:" lines
 * that are missing. Existing ones are never changed or duplicated. The header section ends
 * at the empty line, at the first line that is not a header field (no name and colon), or
 * with the content; the lines are inserted there, before that line.
 *
 * Input is what smtp_data delivers: unstuffed lines ending in CRLF, in pieces of any size.
 */
struct msa_fixup {
    smtp_data_sink sink;
    void *ctx;
    const char *date;  /* "Date: ...\r\n" to add, or NULL to never add one */
    const char *msgid; /* "Message-ID: <...>\r\n", the same */
    const char *from;  /* "From: ...\r\n", the same (msa_fixup_set_from) */
    bool in_header;
    bool line_start;
    bool named; /* the current line is a field (or continues one): pass it to its LF */
    bool seen_date, seen_msgid, seen_from;
    char held[80]; /* the current line's start, held until it is known to be a field */
    size_t held_len;
};

void msa_fixup_init(struct msa_fixup *f, smtp_data_sink sink, void *ctx, const char *date,
                    const char *msgid);
/* msa_fixup_set_from - also add from ("From: ...\r\n") when the message has no From: */
void msa_fixup_set_from(struct msa_fixup *f, const char *from);
/* msa_fixup_feed - an smtp_data_sink: ctx is the struct msa_fixup */
void msa_fixup_feed(void *ctx, const char *data, size_t len);
/* msa_fixup_end - the content is complete: a message of header fields only gets its lines */
void msa_fixup_end(struct msa_fixup *f);

#endif
