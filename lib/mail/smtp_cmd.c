/*
 * smtp_cmd.c - parse one SMTP command line into struct smtp_cmd.
 *
 * Trusts: nothing in the line; the caller only guarantees that it cut the line at CRLF and
 * that it is not longer than SMTP_CMD_LINE_MAX (checked again here). Syntax is RFC 5321
 * section 4.1 to the letter: one space between verb and argument, no space after
 * "FROM:"/"TO:", no trailing space. NUL, CR, LF and other controls anywhere refuse the
 * line; non-ASCII is refused outside the paths of MAIL and RCPT, and inside them unless
 * SMTPUTF8 applies (RFC 6531). On failure the command holds nothing to free.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "mail/mailaddr.h"
#include "mail/smtp_cmd.h"
#include "mail/smtp_reply.h"

static const char *const smtp_cmd_names[] = {
    [SMTP_VERB_EHLO] = "EHLO",         [SMTP_VERB_HELO] = "HELO", [SMTP_VERB_MAIL] = "MAIL",
    [SMTP_VERB_RCPT] = "RCPT",         [SMTP_VERB_DATA] = "DATA", [SMTP_VERB_BDAT] = "BDAT",
    [SMTP_VERB_RSET] = "RSET",         [SMTP_VERB_NOOP] = "NOOP", [SMTP_VERB_QUIT] = "QUIT",
    [SMTP_VERB_VRFY] = "VRFY",         [SMTP_VERB_EXPN] = "EXPN", [SMTP_VERB_HELP] = "HELP",
    [SMTP_VERB_STARTTLS] = "STARTTLS", [SMTP_VERB_AUTH] = "AUTH",
};

/* smtp_cmd_verb_name - the verb as text, "unknown" for SMTP_VERB_UNKNOWN */
const char *
smtp_cmd_verb_name(enum smtp_verb verb)
{
    return verb < SMTP_VERB_UNKNOWN ? smtp_cmd_names[verb] : "unknown";
}

/* smtp_cmd_verb - look the verb up, case-insensitively */
static enum smtp_verb
smtp_cmd_verb(const char *s, size_t len)
{
    for (int v = 0; v < SMTP_VERB_UNKNOWN; v++)
        if (strlen(smtp_cmd_names[v]) == len && strncasecmp(s, smtp_cmd_names[v], len) == 0)
            return (enum smtp_verb)v;
    return SMTP_VERB_UNKNOWN;
}

/* smtp_cmd_octets - refuse NUL, CR, LF, other controls; note whether any octet is 8-bit */
static const struct smtp_reply *
smtp_cmd_octets(const char *line, size_t len, bool *eight_bit)
{
    *eight_bit = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c == 0)
            return &smtp_reply_nul_command;
        if (c == '\r' || c == '\n')
            return &smtp_reply_bare_in_command;
        if (c < 32 || c == 127)
            return &smtp_reply_syntax;
        *eight_bit |= c >= 128;
    }
    return NULL;
}

/* smtp_cmd_path_reply - the reply for an address that did not parse */
static const struct smtp_reply *
smtp_cmd_path_reply(enum mailaddr_error err, enum smtp_verb verb)
{
    if (err == MAILADDR_NON_ASCII)
        return &smtp_reply_utf8_address;
    return verb == SMTP_VERB_MAIL ? &smtp_reply_bad_sender : &smtp_reply_bad_recipient;
}

/* smtp_cmd_mail_rcpt - "FROM:" Reverse-path or "TO:" Forward-path, then parameters */
static const struct smtp_reply *
smtp_cmd_mail_rcpt(const char *arg, size_t len, int flags, struct smtp_cmd *cmd)
{
    bool mail = cmd->verb == SMTP_VERB_MAIL;
    const char *prefix = mail ? "FROM:" : "TO:";
    size_t plen = strlen(prefix), used = 0;
    int aflags = mail ? MAILADDR_ALLOW_NULL | MAILADDR_ALLOW_UTF8 : MAILADDR_ALLOW_POSTMASTER;
    const struct smtp_reply *reply = NULL;
    enum mailaddr_error err;

    if (!mail && (flags & SMTP_CMD_UTF8_TXN))
        aflags |= MAILADDR_ALLOW_UTF8;
    if (flags & SMTP_CMD_BARE_ADDR)
        aflags |= MAILADDR_ALLOW_BARE;
    if (len < plen || strncasecmp(arg, prefix, plen) != 0)
        return &smtp_reply_bad_param;
    err = mailaddr_parse_path(arg + plen, len - plen, aflags, &cmd->addr, &used);
    if (err != MAILADDR_OK)
        return smtp_cmd_path_reply(err, cmd->verb);
    used += plen;
    if (used < len && (arg[used] != ' ' || used + 1 == len))
        reply = &smtp_reply_bad_param;
    else if (used < len && mail)
        reply = smtp_param_mail(arg + used + 1, len - used - 1, &cmd->mail);
    else if (used < len)
        reply = smtp_param_rcpt(arg + used + 1, len - used - 1, (flags & SMTP_CMD_UTF8_TXN) != 0,
                                &cmd->rcpt);
    if (reply == NULL && mail && cmd->addr.utf8 && !cmd->mail.smtputf8)
        reply = &smtp_reply_utf8_address;
    return reply;
}

/* smtp_cmd_bdat - chunk-size [SP "LAST"] (RFC 3030), size refused past 2^64-1 */
static const struct smtp_reply *
smtp_cmd_bdat(const char *arg, size_t len, struct smtp_cmd *cmd)
{
    uint64_t v = 0;
    size_t i = 0;

    for (; i < len && arg[i] >= '0' && arg[i] <= '9'; i++) {
        unsigned d = (unsigned)(arg[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return &smtp_reply_bad_param;
        v = v * 10 + d;
    }
    if (i == 0)
        return &smtp_reply_bad_param;
    cmd->bdat_size = v;
    if (i == len)
        return NULL;
    if (len - i == 5 && strncasecmp(arg + i, " LAST", 5) == 0) {
        cmd->bdat_last = true;
        return NULL;
    }
    return &smtp_reply_bad_param;
}

/* smtp_cmd_auth_char - mechanism name characters (RFC 4422 sasl-mech) */
static bool
smtp_cmd_auth_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* smtp_cmd_base64 - initial-response: "=" or base64 text (RFC 4954) */
static bool
smtp_cmd_base64(const char *s, size_t len)
{
    size_t pad = 0;

    if (len == 1 && s[0] == '=')
        return true;
    if (len == 0 || len % 4 != 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (c == '=')
            pad++;
        else if (pad > 0 || !(alnum || c == '+' || c == '/'))
            return false;
    }
    return pad <= 2;
}

/* smtp_cmd_auth - mechanism [SP initial-response], mechanism upper-cased */
static const struct smtp_reply *
smtp_cmd_auth(const char *arg, size_t len, struct smtp_cmd *cmd)
{
    const char *sp = memchr(arg, ' ', len);
    size_t mlen = sp != NULL ? (size_t)(sp - arg) : len;

    if (mlen == 0 || mlen > 20)
        return &smtp_reply_bad_param;
    for (size_t i = 0; i < mlen; i++)
        if (!smtp_cmd_auth_char((unsigned char)arg[i]))
            return &smtp_reply_bad_param;
    if (sp != NULL && !smtp_cmd_base64(sp + 1, len - mlen - 1))
        return &smtp_reply_bad_base64;
    cmd->arg = xstrndup(arg, mlen);
    for (char *p = cmd->arg; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    if (sp != NULL)
        cmd->auth_response = xstrndup(sp + 1, len - mlen - 1);
    return NULL;
}

/* smtp_cmd_is_auth - the line is an AUTH command, which may be up to SMTP_AUTH_LINE_MAX */
bool
smtp_cmd_is_auth(const char *line, size_t len)
{
    return len >= 5 && strncasecmp(line, "AUTH ", 5) == 0;
}

/* smtp_cmd_host - EHLO Domain / address-literal, HELO Domain */
static const struct smtp_reply *
smtp_cmd_host(const char *arg, size_t len, struct smtp_cmd *cmd)
{
    bool literal_ok = cmd->verb == SMTP_VERB_EHLO;

    if (mailaddr_parse_host(arg, len, literal_ok, false, &cmd->host) != MAILADDR_OK)
        return &smtp_reply_bad_param;
    return NULL;
}

/* smtp_cmd_argument - dispatch on the verb; arg is NULL when the verb stood alone */
static const struct smtp_reply *
smtp_cmd_argument(const char *arg, size_t len, int flags, struct smtp_cmd *cmd)
{
    switch (cmd->verb) {
    case SMTP_VERB_DATA:
    case SMTP_VERB_RSET:
    case SMTP_VERB_QUIT:
    case SMTP_VERB_STARTTLS:
        return arg == NULL ? NULL : &smtp_reply_bad_param;
    case SMTP_VERB_NOOP:
    case SMTP_VERB_HELP:
        if (arg != NULL && len > 0)
            cmd->arg = xstrndup(arg, len);
        return arg == NULL || len > 0 ? NULL : &smtp_reply_bad_param;
    case SMTP_VERB_UNKNOWN:
        return &smtp_reply_syntax;
    default:
        break;
    }
    if (arg == NULL || len == 0)
        return &smtp_reply_bad_param;
    switch (cmd->verb) {
    case SMTP_VERB_EHLO:
    case SMTP_VERB_HELO:
        return smtp_cmd_host(arg, len, cmd);
    case SMTP_VERB_MAIL:
    case SMTP_VERB_RCPT:
        return smtp_cmd_mail_rcpt(arg, len, flags, cmd);
    case SMTP_VERB_BDAT:
        return smtp_cmd_bdat(arg, len, cmd);
    case SMTP_VERB_AUTH:
        return smtp_cmd_auth(arg, len, cmd);
    default:
        cmd->arg = xstrndup(arg, len);
        return NULL;
    }
}

/*
 * smtp_cmd_parse - parse one command line (without its CRLF) into cmd. NULL on success;
 * otherwise the reply to send, and cmd holds only the verb (SMTP_VERB_UNKNOWN if even that
 * was not recognised), so smtpd can count errors per verb.
 */
const struct smtp_reply *
smtp_cmd_parse(const char *line, size_t len, int flags, struct smtp_cmd *cmd)
{
    const struct smtp_reply *reply;
    const char *sp;
    size_t vlen;
    bool eight_bit;

    memset(cmd, 0, sizeof(*cmd));
    cmd->verb = SMTP_VERB_UNKNOWN;
    if (len > (smtp_cmd_is_auth(line, len) ? SMTP_AUTH_LINE_MAX : SMTP_CMD_LINE_MAX) - 2)
        return &smtp_reply_line_too_long;
    if ((reply = smtp_cmd_octets(line, len, &eight_bit)) != NULL)
        return reply;
    sp = memchr(line, ' ', len);
    vlen = sp != NULL ? (size_t)(sp - line) : len;
    cmd->verb = smtp_cmd_verb(line, vlen);
    if (eight_bit && cmd->verb != SMTP_VERB_MAIL && cmd->verb != SMTP_VERB_RCPT)
        return cmd->verb == SMTP_VERB_UNKNOWN ? &smtp_reply_syntax : &smtp_reply_non_ascii;
    reply =
        smtp_cmd_argument(sp != NULL ? sp + 1 : NULL, sp != NULL ? len - vlen - 1 : 0, flags, cmd);
    if (reply != NULL) {
        enum smtp_verb verb = cmd->verb;
        smtp_cmd_free(cmd);
        cmd->verb = verb;
    }
    return reply;
}

/* smtp_cmd_free - release what a parse allocated; the struct is then empty */
void
smtp_cmd_free(struct smtp_cmd *cmd)
{
    mailaddr_host_free(&cmd->host);
    mailaddr_free(&cmd->addr);
    smtp_param_mail_free(&cmd->mail);
    smtp_param_rcpt_free(&cmd->rcpt);
    free(cmd->arg);
    if (cmd->auth_response != NULL) /* credentials */
        explicit_bzero(cmd->auth_response, strlen(cmd->auth_response));
    free(cmd->auth_response);
    memset(cmd, 0, sizeof(*cmd));
    cmd->verb = SMTP_VERB_UNKNOWN;
}
