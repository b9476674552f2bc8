/* smtp_resp.h - an SMTP client's reader of server replies, and the EHLO keywords in them */
#ifndef MAIL_SMTP_RESP_H
#define MAIL_SMTP_RESP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

/*
 * RFC 5321 4.5.3.1.5 allows 512 octets per reply line, but real servers send longer ones
 * (long EHLO keyword lists, verbose rejections), so the reader allows
 * SMTP_RESP_LINE_MAX octets per line (CRLF included) and SMTP_RESP_LINES_MAX lines per
 * reply: a server that sends more (an endless multi-line reply, a line of a megabyte: the
 * CVE-2020-8794 class) is in error, and nothing it sent is kept beyond those bounds.
 */
#define SMTP_RESP_LINE_MAX  2048
#define SMTP_RESP_LINES_MAX 100

enum smtp_resp_status {
    SMTP_RESP_MORE,  /* every byte given was taken; the reply is not complete yet */
    SMTP_RESP_DONE,  /* one whole reply: code, dsn, text; *used says where it ended */
    SMTP_RESP_ERROR, /* the server broke the syntax or a limit: err says how */
};

/*
 * One reply being read. After SMTP_RESP_DONE: code (200..599), dsn (the RFC 3463 code that
 * opens the first line, "" if none), text (every line after its code, joined by '\n',
 * NUL-free). smtp_resp_reset makes it ready for the next reply.
 */
struct smtp_resp {
    int code;
    char dsn[16];
    struct buf text;
    struct buf line; /* the line being read */
    int lines;
    bool done;
};

void smtp_resp_init(struct smtp_resp *r);
void smtp_resp_reset(struct smtp_resp *r);
void smtp_resp_free(struct smtp_resp *r);
enum smtp_resp_status smtp_resp_feed(struct smtp_resp *r, const char *data, size_t len,
                                     size_t *used, struct err *err);

/* What an EHLO reply offers (smtp_ext.c). size is SIZE's value, 0 if none or unlimited. */
#define SMTP_EXT_PIPELINING 0x01u
#define SMTP_EXT_SIZE       0x02u
#define SMTP_EXT_8BITMIME   0x04u
#define SMTP_EXT_SMTPUTF8   0x08u
#define SMTP_EXT_DSN        0x10u
#define SMTP_EXT_CHUNKING   0x20u
#define SMTP_EXT_STARTTLS   0x40u
#define SMTP_EXT_AUTH       0x80u

/* AUTH's mechanisms (RFC 4954; also the old "AUTH=" form): upper case, space-separated,
 * each a SASL name ([A-Z0-9_-], 1 to 20 characters), others dropped; at most
 * SMTP_EXT_AUTH_MAX - 1 characters, what does not fit dropped. */
#define SMTP_EXT_AUTH_MAX 256
struct smtp_ext {
    unsigned flags;
    unsigned long long size;
    char auth[SMTP_EXT_AUTH_MAX];
};

void smtp_ext_parse(const struct smtp_resp *r, struct smtp_ext *ext);

#endif
