/* smtp_reply.h - SMTP replies: code, enhanced status code, text, and their wire form */
#ifndef MAIL_SMTP_REPLY_H
#define MAIL_SMTP_REPLY_H

#include <stdbool.h>

#include "core/buf.h"

/*
 * One reply. status is an RFC 3463 enhanced status code ("5.5.2") or NULL (the 220
 * greeting and the 221 goodbye may go without one). text holds one or more lines separated
 * by '\n'; each becomes one reply line.
 */
struct smtp_reply {
    int code;
    const char *status;
    const char *text;
};

/* Longest reply line on the wire, code and CRLF included (RFC 5321 4.5.3.1.5). */
#define SMTP_REPLY_LINE_MAX 512

bool smtp_reply_valid(int code, const char *status);
/* smtp_status_len - the length of an RFC 3463 code of class cls ('2', '4' or '5') at the
 * start of text, followed by a space or the end; 0 if there is none */
size_t smtp_status_len(const char *text, int cls);
bool smtp_reply_format(struct buf *out, const struct smtp_reply *reply);

/* Replies the command and data parsers hand back; smtpd may use them directly. */
extern const struct smtp_reply smtp_reply_syntax;          /* 500 5.5.2 */
extern const struct smtp_reply smtp_reply_line_too_long;   /* 500 5.5.0 */
extern const struct smtp_reply smtp_reply_bad_param;       /* 501 5.5.4 */
extern const struct smtp_reply smtp_reply_bad_base64;      /* 501 5.5.2, RFC 4954 4 */
extern const struct smtp_reply smtp_reply_unknown_param;   /* 555 5.5.4 */
extern const struct smtp_reply smtp_reply_bad_sequence;    /* 503 5.5.1 */
extern const struct smtp_reply smtp_reply_not_implemented; /* 502 5.5.1 */
extern const struct smtp_reply smtp_reply_too_many_rcpts;  /* 452 4.5.3 */
extern const struct smtp_reply smtp_reply_too_big;         /* 552 5.3.4 */
extern const struct smtp_reply smtp_reply_bare_newline;    /* 521 5.5.2 */
extern const struct smtp_reply smtp_reply_data_long_line;  /* 554 5.6.0 */
extern const struct smtp_reply smtp_reply_data_nul;        /* 554 5.6.0 */
extern const struct smtp_reply smtp_reply_non_ascii;       /* 500 5.5.2 */
extern const struct smtp_reply smtp_reply_utf8_address;    /* 553 5.6.7 */
extern const struct smtp_reply smtp_reply_bad_sender;      /* 501 5.1.7 */
extern const struct smtp_reply smtp_reply_bad_recipient;   /* 501 5.1.3 */
extern const struct smtp_reply smtp_reply_binarymime;      /* 555 5.5.4 */
extern const struct smtp_reply smtp_reply_nul_command;     /* 500 5.5.2 */
extern const struct smtp_reply smtp_reply_bare_in_command; /* 500 5.5.2 */

#endif
