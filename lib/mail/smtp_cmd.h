/* smtp_cmd.h - one SMTP command line, parsed into a struct */
#ifndef MAIL_SMTP_CMD_H
#define MAIL_SMTP_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/mailaddr.h"
#include "mail/smtp_reply.h"

/* Longest command line, CRLF included (RFC 5321 4.5.3.1.4); the caller enforces it. */
#define SMTP_CMD_LINE_MAX 512
/* AUTH with its initial response, and the answers to 334, may be longer (RFC 4954 4). */
#define SMTP_AUTH_LINE_MAX 12288
#define SMTP_ENVID_MAX     100 /* RFC 3461 4.4, encoded length */
#define SMTP_ORCPT_MAX     500 /* RFC 3461 4.2, encoded length */

#define SMTP_CMD_UTF8_TXN  (1 << 0) /* the transaction's MAIL carried SMTPUTF8 */
#define SMTP_CMD_BARE_ADDR (1 << 1) /* MAIL and RCPT may name <local> alone (submission) */

enum smtp_verb {
    SMTP_VERB_EHLO,
    SMTP_VERB_HELO,
    SMTP_VERB_MAIL,
    SMTP_VERB_RCPT,
    SMTP_VERB_DATA,
    SMTP_VERB_BDAT,
    SMTP_VERB_RSET,
    SMTP_VERB_NOOP,
    SMTP_VERB_QUIT,
    SMTP_VERB_VRFY,
    SMTP_VERB_EXPN,
    SMTP_VERB_HELP,
    SMTP_VERB_STARTTLS,
    SMTP_VERB_AUTH,
    SMTP_VERB_UNKNOWN,
};

enum smtp_body {
    SMTP_BODY_NONE, /* no BODY= */
    SMTP_BODY_7BIT,
    SMTP_BODY_8BITMIME,
};

enum smtp_ret {
    SMTP_RET_NONE,
    SMTP_RET_FULL,
    SMTP_RET_HDRS,
};

#define SMTP_NOTIFY_NEVER   (1 << 0)
#define SMTP_NOTIFY_SUCCESS (1 << 1)
#define SMTP_NOTIFY_FAILURE (1 << 2)
#define SMTP_NOTIFY_DELAY   (1 << 3)

/* MAIL FROM parameters, decoded (RFC 1870, 6152, 6531, 3461). */
struct smtp_mail_params {
    bool has_size;
    uint64_t size;
    enum smtp_body body;
    bool smtputf8;
    enum smtp_ret ret;
    char *envid; /* xtext-decoded, printable ASCII; NULL if absent */
    char *auth;  /* RFC 4954 AUTH=, xtext-decoded ("<>" for none); NULL if absent */
};

/* RCPT TO parameters, decoded (RFC 3461, 6533). */
struct smtp_rcpt_params {
    unsigned notify;  /* SMTP_NOTIFY_* bits; 0 if absent */
    char *orcpt_type; /* "rfc822" or "utf-8"; NULL if absent */
    char *orcpt_addr; /* decoded address (UTF-8 for utf-8) */
};

struct smtp_cmd {
    enum smtp_verb verb;
    struct mailaddr_host host;    /* EHLO, HELO */
    struct mailaddr addr;         /* MAIL, RCPT */
    struct smtp_mail_params mail; /* MAIL */
    struct smtp_rcpt_params rcpt; /* RCPT */
    uint64_t bdat_size;           /* BDAT */
    bool bdat_last;               /* BDAT ... LAST */
    char *arg;                    /* VRFY EXPN HELP NOOP string, AUTH mechanism; or NULL */
    char *auth_response;          /* AUTH initial response or NULL */
};

const struct smtp_reply *smtp_cmd_parse(const char *line, size_t len, int flags,
                                        struct smtp_cmd *cmd);
const char *smtp_cmd_verb_name(enum smtp_verb verb);
bool smtp_cmd_is_auth(const char *line, size_t len);
void smtp_cmd_free(struct smtp_cmd *cmd);

/* smtp_param.c: ESMTP parameters after the path of MAIL and RCPT. */
const struct smtp_reply *smtp_param_mail(const char *s, size_t len, struct smtp_mail_params *p);
const struct smtp_reply *smtp_param_rcpt(const char *s, size_t len, bool utf8,
                                         struct smtp_rcpt_params *p);
bool smtp_param_xtext(const char *s, size_t len, struct buf *out);
char *smtp_xtext_encode(const char *s);
void smtp_param_mail_free(struct smtp_mail_params *p);
const char *smtp_body_word(enum smtp_body body);
void smtp_param_rcpt_free(struct smtp_rcpt_params *p);

#endif
