/* mail_smtp_cmd.c - every verb, good and bad arguments, every ESMTP parameter */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mail/smtp_cmd.h"
#include "t/tap.h"

#define T SMTP_CMD_UTF8_TXN

/* Expected outcome: 0 for success, else the reply code and status. */
static const struct {
    const char *line;
    int flags;
    int code;
    const char *status;
    enum smtp_verb verb;
} cases[] = {
    /* verbs, case-insensitive */
    {"EHLO mx.example.com", 0, 0, NULL, SMTP_VERB_EHLO},
    {"ehlo mx.example.com", 0, 0, NULL, SMTP_VERB_EHLO},
    {"EHLO [192.0.2.1]", 0, 0, NULL, SMTP_VERB_EHLO},
    {"EHLO [IPv6:2001:db8::1]", 0, 0, NULL, SMTP_VERB_EHLO},
    {"HELO mx", 0, 0, NULL, SMTP_VERB_HELO},
    {"HeLo mx", 0, 0, NULL, SMTP_VERB_HELO},
    {"MAIL FROM:<a@b>", 0, 0, NULL, SMTP_VERB_MAIL},
    {"mail from:<a@b>", 0, 0, NULL, SMTP_VERB_MAIL},
    {"MAIL FROM:<>", 0, 0, NULL, SMTP_VERB_MAIL},
    {"RCPT TO:<a@b>", 0, 0, NULL, SMTP_VERB_RCPT},
    {"rcpt to:<Postmaster>", 0, 0, NULL, SMTP_VERB_RCPT},
    {"DATA", 0, 0, NULL, SMTP_VERB_DATA},
    {"data", 0, 0, NULL, SMTP_VERB_DATA},
    {"BDAT 0 LAST", 0, 0, NULL, SMTP_VERB_BDAT},
    {"BDAT 100", 0, 0, NULL, SMTP_VERB_BDAT},
    {"bdat 18446744073709551615 last", 0, 0, NULL, SMTP_VERB_BDAT},
    {"RSET", 0, 0, NULL, SMTP_VERB_RSET},
    {"NOOP", 0, 0, NULL, SMTP_VERB_NOOP},
    {"NOOP anything at all", 0, 0, NULL, SMTP_VERB_NOOP},
    {"QUIT", 0, 0, NULL, SMTP_VERB_QUIT},
    {"VRFY user", 0, 0, NULL, SMTP_VERB_VRFY},
    {"EXPN list", 0, 0, NULL, SMTP_VERB_EXPN},
    {"HELP", 0, 0, NULL, SMTP_VERB_HELP},
    {"HELP MAIL", 0, 0, NULL, SMTP_VERB_HELP},
    {"STARTTLS", 0, 0, NULL, SMTP_VERB_STARTTLS},
    {"AUTH PLAIN", 0, 0, NULL, SMTP_VERB_AUTH},
    {"AUTH PLAIN AHVzZXIAcGFzcw==", 0, 0, NULL, SMTP_VERB_AUTH},
    {"AUTH PLAIN =", 0, 0, NULL, SMTP_VERB_AUTH},
    {"auth scram-sha-256", 0, 0, NULL, SMTP_VERB_AUTH},
    /* unknown and malformed lines */
    {"", 0, 500, "5.5.2", SMTP_VERB_UNKNOWN},
    {"XYZZY", 0, 500, "5.5.2", SMTP_VERB_UNKNOWN},
    {"MAILFROM:<a@b>", 0, 500, "5.5.2", SMTP_VERB_UNKNOWN},
    {" QUIT", 0, 500, "5.5.2", SMTP_VERB_UNKNOWN},
    {"QUIT\t", 0, 500, "5.5.2", SMTP_VERB_UNKNOWN},
    {"QU\xc3\x8fT", 0, 500, "5.5.2", SMTP_VERB_UNKNOWN},
    {"NOOP \xc3\xa9", 0, 500, "5.5.2", SMTP_VERB_NOOP},
    {"EHLO b\xc3\xa4r", 0, 500, "5.5.2", SMTP_VERB_EHLO},
    {"QUIT\r", 0, 500, "5.5.2", SMTP_VERB_UNKNOWN},
    {"QUIT\nRSET", 0, 500, "5.5.2", SMTP_VERB_UNKNOWN},
    {"NOOP a\rb", 0, 500, "5.5.2", SMTP_VERB_UNKNOWN},
    {"NOOP \177", 0, 500, "5.5.2", SMTP_VERB_UNKNOWN},
    /* arguments where none belong, and missing ones */
    {"DATA x", 0, 501, "5.5.4", SMTP_VERB_DATA},
    {"DATA ", 0, 501, "5.5.4", SMTP_VERB_DATA},
    {"RSET x", 0, 501, "5.5.4", SMTP_VERB_RSET},
    {"QUIT now", 0, 501, "5.5.4", SMTP_VERB_QUIT},
    {"STARTTLS x", 0, 501, "5.5.4", SMTP_VERB_STARTTLS},
    {"NOOP ", 0, 501, "5.5.4", SMTP_VERB_NOOP},
    {"EHLO", 0, 501, "5.5.4", SMTP_VERB_EHLO},
    {"EHLO ", 0, 501, "5.5.4", SMTP_VERB_EHLO},
    {"HELO", 0, 501, "5.5.4", SMTP_VERB_HELO},
    {"VRFY", 0, 501, "5.5.4", SMTP_VERB_VRFY},
    {"EXPN", 0, 501, "5.5.4", SMTP_VERB_EXPN},
    {"AUTH", 0, 501, "5.5.4", SMTP_VERB_AUTH},
    {"MAIL", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"RCPT", 0, 501, "5.5.4", SMTP_VERB_RCPT},
    {"BDAT", 0, 501, "5.5.4", SMTP_VERB_BDAT},
    /* EHLO / HELO */
    {"EHLO mx..example", 0, 501, "5.5.4", SMTP_VERB_EHLO},
    {"EHLO mx.example.", 0, 501, "5.5.4", SMTP_VERB_EHLO},
    {"EHLO mx_1.example", 0, 501, "5.5.4", SMTP_VERB_EHLO},
    {"EHLO mx example", 0, 501, "5.5.4", SMTP_VERB_EHLO},
    {"EHLO  mx", 0, 501, "5.5.4", SMTP_VERB_EHLO},
    {"EHLO mx ", 0, 501, "5.5.4", SMTP_VERB_EHLO},
    {"EHLO [300.0.0.1]", 0, 501, "5.5.4", SMTP_VERB_EHLO},
    {"EHLO 192.0.2.1", 0, 0, NULL, SMTP_VERB_EHLO},
    {"HELO [192.0.2.1]", 0, 501, "5.5.4", SMTP_VERB_HELO},
    /* MAIL */
    {"MAIL FROM: <a@b>", 0, 501, "5.1.7", SMTP_VERB_MAIL},
    {"MAIL FROM :<a@b>", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL  FROM:<a@b>", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:a@b", 0, 501, "5.1.7", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b", 0, 501, "5.1.7", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> ", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b>x", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<postmaster>", 0, 501, "5.1.7", SMTP_VERB_MAIL},
    {"MAIL TO:<a@b>", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<\xc3\xa9@b>", 0, 553, "5.6.7", SMTP_VERB_MAIL},
    {"MAIL FROM:<\xc3\xa9@b> SMTPUTF8", 0, 0, NULL, SMTP_VERB_MAIL},
    {"MAIL FROM:<\xc0\xaf@b> SMTPUTF8", 0, 501, "5.1.7", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> SIZE=\xc3\xa9", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    /* MAIL parameters */
    {"MAIL FROM:<a@b> SIZE=0", 0, 0, NULL, SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> size=18446744073709551615", 0, 0, NULL, SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> SIZE=18446744073709551616", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> SIZE=99999999999999999999", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> SIZE=-1", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> SIZE=", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> SIZE", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> SIZE=1 SIZE=1", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> BODY=7BIT", 0, 0, NULL, SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> body=8bitmime", 0, 0, NULL, SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> BODY=BINARYMIME", 0, 555, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> BODY=9BIT", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> BODY=7BIT BODY=7BIT", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> SMTPUTF8=yes", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> SMTPUTF8 SMTPUTF8", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> RET=FULL", 0, 0, NULL, SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> ret=hdrs", 0, 0, NULL, SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> RET=ALL", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> ENVID=abc+2Bdef", 0, 0, NULL, SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> ENVID=a+2b", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> ENVID=a+2", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> ENVID=a+00", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> ENVID=x ENVID=y", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> AUTH=<>", 0, 0, NULL, SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> AUTH=u+40x", 0, 0, NULL, SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> XFOO=1", 0, 555, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> XFOO", 0, 555, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> -X=1", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> =1", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b>  SIZE=1", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> SIZE=1 ", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> SIZE=1=2", 0, 501, "5.5.4", SMTP_VERB_MAIL},
    {"MAIL FROM:<a@b> SIZE=10 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=q", 0, 0, NULL, SMTP_VERB_MAIL},
    /* RCPT */
    {"RCPT TO: <a@b>", 0, 501, "5.1.3", SMTP_VERB_RCPT},
    {"RCPT TO:<>", 0, 501, "5.1.3", SMTP_VERB_RCPT},
    {"RCPT TO:<@r:a@b>", 0, 0, NULL, SMTP_VERB_RCPT},
    {"RCPT FROM:<a@b>", 0, 501, "5.5.4", SMTP_VERB_RCPT},
    {"RCPT TO:<\xc3\xa9@b>", 0, 553, "5.6.7", SMTP_VERB_RCPT},
    {"RCPT TO:<\xc3\xa9@b>", T, 0, NULL, SMTP_VERB_RCPT},
    {"RCPT TO:<\xed\xa0\x80@b>", T, 501, "5.1.3", SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> NOTIFY=NEVER", 0, 0, NULL, SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> NOTIFY=success,failure,delay", 0, 0, NULL, SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> NOTIFY=NEVER,SUCCESS", 0, 501, "5.5.4", SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> NOTIFY=SUCCESS,SUCCESS", 0, 501, "5.5.4", SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> NOTIFY=SUCCESS,", 0, 501, "5.5.4", SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> NOTIFY=,DELAY", 0, 501, "5.5.4", SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> NOTIFY=SOMETIMES", 0, 501, "5.5.4", SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> NOTIFY", 0, 501, "5.5.4", SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> NOTIFY=DELAY NOTIFY=DELAY", 0, 501, "5.5.4", SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> ORCPT=rfc822;a+2Bb@c", 0, 0, NULL, SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> ORCPT=RFC822;a@c", 0, 0, NULL, SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> ORCPT=utf-8;\\x{E9}@c", 0, 0, NULL, SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> ORCPT=utf-8;\\x{D800}@c", 0, 501, "5.5.4", SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> ORCPT=utf-8;\\x{110000}@c", 0, 501, "5.5.4", SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> ORCPT=utf-8;\\x{E9@c", 0, 501, "5.5.4", SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> ORCPT=utf-8;a+2Bb@c", 0, 501, "5.5.4", SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> ORCPT=x400;abc", 0, 501, "5.5.4", SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> ORCPT=rfc822", 0, 501, "5.5.4", SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> ORCPT=rfc822;", 0, 501, "5.5.4", SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> ORCPT=rfc822;a+0Ab", 0, 501, "5.5.4", SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> ORCPT=rfc822;a ORCPT=rfc822;b", 0, 501, "5.5.4", SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> SIZE=1", 0, 555, "5.5.4", SMTP_VERB_RCPT},
    {"RCPT TO:<a@b> NOTIFY=FAILURE ORCPT=rfc822;a@b", 0, 0, NULL, SMTP_VERB_RCPT},
    /* BDAT */
    {"BDAT x", 0, 501, "5.5.4", SMTP_VERB_BDAT},
    {"BDAT -1", 0, 501, "5.5.4", SMTP_VERB_BDAT},
    {"BDAT 18446744073709551616", 0, 501, "5.5.4", SMTP_VERB_BDAT},
    {"BDAT 1 LAST x", 0, 501, "5.5.4", SMTP_VERB_BDAT},
    {"BDAT 1  LAST", 0, 501, "5.5.4", SMTP_VERB_BDAT},
    {"BDAT 1 FIRST", 0, 501, "5.5.4", SMTP_VERB_BDAT},
    {"BDAT 1 ", 0, 501, "5.5.4", SMTP_VERB_BDAT},
    {"BDAT  1", 0, 501, "5.5.4", SMTP_VERB_BDAT},
    /* AUTH */
    {"AUTH PL@IN", 0, 501, "5.5.4", SMTP_VERB_AUTH},
    {"AUTH ABCDEFGHIJKLMNOPQRSTU", 0, 501, "5.5.4", SMTP_VERB_AUTH},
    {"AUTH PLAIN abc", 0, 501, "5.5.2", SMTP_VERB_AUTH},
    {"AUTH PLAIN ab=c", 0, 501, "5.5.2", SMTP_VERB_AUTH},
    {"AUTH PLAIN a b", 0, 501, "5.5.2", SMTP_VERB_AUTH},
    {"AUTH  PLAIN", 0, 501, "5.5.4", SMTP_VERB_AUTH},
};

static void
test_table(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct smtp_cmd cmd;
        const struct smtp_reply *r =
            smtp_cmd_parse(cases[i].line, strlen(cases[i].line), cases[i].flags, &cmd);
        is_int(r ? r->code : 0, cases[i].code, "'%s' code", cases[i].line);
        if (cases[i].status != NULL)
            is_str(r ? r->status : "(none)", cases[i].status, "'%s' status", cases[i].line);
        is_int(cmd.verb, cases[i].verb, "'%s' verb", cases[i].line);
        smtp_cmd_free(&cmd);
    }
}

/* parse - parse line, expecting success */
static void
parse(const char *line, int flags, struct smtp_cmd *cmd)
{
    const struct smtp_reply *r = smtp_cmd_parse(line, strlen(line), flags, cmd);
    ok(r == NULL, "parses: %s", line);
}

static void
test_values(void)
{
    struct smtp_cmd c;

    parse("MAIL FROM:<\"a b\"@x> SIZE=12345 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=Q+2BZ", 0, &c);
    is_str(c.addr.local, "a b", "local");
    ok(c.mail.has_size && c.mail.size == 12345, "SIZE");
    is_int(c.mail.body, SMTP_BODY_8BITMIME, "BODY");
    ok(c.mail.smtputf8, "SMTPUTF8");
    is_int(c.mail.ret, SMTP_RET_HDRS, "RET");
    is_str(c.mail.envid, "Q+Z", "ENVID decoded");
    smtp_cmd_free(&c);

    parse("MAIL FROM:<> AUTH=<>", 0, &c);
    is_int(c.addr.kind, MAILADDR_NULL, "null sender");
    is_str(c.mail.auth, "<>", "AUTH=<>");
    smtp_cmd_free(&c);

    parse("RCPT TO:<x@y> NOTIFY=FAILURE,DELAY ORCPT=rfc822;x+2By@y", 0, &c);
    is_int((long long)c.rcpt.notify, SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY, "NOTIFY bits");
    is_str(c.rcpt.orcpt_type, "rfc822", "ORCPT type");
    is_str(c.rcpt.orcpt_addr, "x+y@y", "ORCPT decoded");
    smtp_cmd_free(&c);

    parse("RCPT TO:<x@y> ORCPT=UTF-8;\\x{1F600}\\x{2B}@y", 0, &c);
    is_str(c.rcpt.orcpt_type, "utf-8", "ORCPT utf-8 type");
    is_str(c.rcpt.orcpt_addr, "\xf0\x9f\x98\x80+@y", "ORCPT utf-8 decoded");
    smtp_cmd_free(&c);

    parse("RCPT TO:<x@y> ORCPT=utf-8;\xc3\xa9@y", T, &c);
    is_str(c.rcpt.orcpt_addr, "\xc3\xa9@y", "ORCPT unitext under SMTPUTF8");
    smtp_cmd_free(&c);

    parse("RCPT TO:<POSTMASTER>", 0, &c);
    is_int(c.addr.kind, MAILADDR_POSTMASTER, "postmaster");
    smtp_cmd_free(&c);

    parse("BDAT 18446744073709551615 LAST", 0, &c);
    ok(c.bdat_size == UINT64_MAX && c.bdat_last, "BDAT max LAST");
    smtp_cmd_free(&c);

    parse("BDAT 007", 0, &c);
    ok(c.bdat_size == 7 && !c.bdat_last, "BDAT 7");
    smtp_cmd_free(&c);

    parse("AUTH plain dGVzdA==", 0, &c);
    is_str(c.arg, "PLAIN", "AUTH mechanism upper-cased");
    is_str(c.auth_response, "dGVzdA==", "AUTH initial response");
    smtp_cmd_free(&c);

    parse("EHLO [IPv6:::1]", 0, &c);
    is_int(c.host.literal, MAILADDR_LIT_IPV6, "EHLO ipv6 literal");
    is_str(c.host.name, "[IPv6:::1]", "EHLO name");
    smtp_cmd_free(&c);

    parse("VRFY <a b>", 0, &c);
    is_str(c.arg, "<a b>", "VRFY string");
    smtp_cmd_free(&c);

    parse("HELP", 0, &c);
    ok(c.arg == NULL, "HELP without argument");
    smtp_cmd_free(&c);
    is_str(smtp_cmd_verb_name(SMTP_VERB_STARTTLS), "STARTTLS", "verb name");
}

/* The line limit, exactly at and one past; ENVID and ORCPT limits likewise. */
static void
test_limits(void)
{
    char line[SMTP_CMD_LINE_MAX + 8];
    struct smtp_cmd c;
    const struct smtp_reply *r;
    size_t n;

    memcpy(line, "NOOP ", 5); // NOLINT(bugprone-not-null-terminated-result): a length is passed
    memset(line + 5, 'x', sizeof(line) - 5);
    r = smtp_cmd_parse(line, SMTP_CMD_LINE_MAX - 2, 0, &c);
    ok(r == NULL, "a line of 510 octets (512 with CRLF) is accepted");
    smtp_cmd_free(&c);
    r = smtp_cmd_parse(line, SMTP_CMD_LINE_MAX - 1, 0, &c);
    ok(r == &smtp_reply_line_too_long, "a line of 511 octets is too long");
    smtp_cmd_free(&c);
    ok(c.verb == SMTP_VERB_UNKNOWN, "and has no verb");

    n = (size_t)snprintf(line, sizeof(line), "MAIL FROM:<a@b> ENVID=");
    memset(line + n, 'e', SMTP_ENVID_MAX);
    r = smtp_cmd_parse(line, n + SMTP_ENVID_MAX, 0, &c);
    ok(r == NULL, "ENVID of 100");
    smtp_cmd_free(&c);
    line[n + SMTP_ENVID_MAX] = 'e';
    r = smtp_cmd_parse(line, n + SMTP_ENVID_MAX + 1, 0, &c);
    ok(r == &smtp_reply_bad_param, "ENVID of 101");
    smtp_cmd_free(&c);

    /* EHLO: a domain of 255 octets, then 256 */
    memcpy(line, "EHLO ", 5); // NOLINT(bugprone-not-null-terminated-result): a length is passed
    for (size_t i = 0; i < 256; i++)
        line[5 + i] = i % 64 == 63 ? '.' : 'd';
    r = smtp_cmd_parse(line, 5 + 255, 0, &c);
    ok(r == NULL, "EHLO domain of 255");
    smtp_cmd_free(&c);
    line[5 + 255] = 'd';
    r = smtp_cmd_parse(line, 5 + 256, 0, &c);
    ok(r == &smtp_reply_bad_param, "EHLO domain of 256");
    smtp_cmd_free(&c);

    /* ORCPT: a value of 500 octets, then 501 (only reachable below the line limit) */
    {
        char param[SMTP_ORCPT_MAX + 16] = "ORCPT=rfc822;";
        struct smtp_rcpt_params rp = {0};
        size_t plen = strlen(param);
        memset(param + plen, 'o', SMTP_ORCPT_MAX - 7);
        ok(smtp_param_rcpt(param, 6 + SMTP_ORCPT_MAX, false, &rp) == NULL, "ORCPT value of 500");
        smtp_param_rcpt_free(&rp);
        param[6 + SMTP_ORCPT_MAX] = 'o';
        ok(smtp_param_rcpt(param, 7 + SMTP_ORCPT_MAX, false, &rp) == &smtp_reply_bad_param,
           "ORCPT value of 501");
        smtp_param_rcpt_free(&rp);
    }

    /* a path of 256 octets in RCPT, then 257 */
    n = (size_t)snprintf(line, sizeof(line), "RCPT TO:<");
    memset(line + n, 'l', 64);
    line[n + 64] = '@';
    for (size_t i = 0; i < 189; i++)
        line[n + 65 + i] = i % 64 == 63 ? '.' : 'd';
    line[n + 254] = '>';
    r = smtp_cmd_parse(line, n + 255, 0, &c);
    ok(r == NULL, "RCPT path of 256");
    smtp_cmd_free(&c);
    line[n + 254] = 'd';
    line[n + 255] = '>';
    r = smtp_cmd_parse(line, n + 256, 0, &c);
    ok(r == &smtp_reply_bad_recipient, "RCPT path of 257 is 501 5.1.3");
    smtp_cmd_free(&c);

    /* NUL inside the line */
    r = smtp_cmd_parse("NOOP a\0b", 8, 0, &c);
    ok(r == &smtp_reply_nul_command, "NUL refused");
    smtp_cmd_free(&c);
}

int
main(void)
{
    test_table();
    test_values();
    test_limits();
    return done_testing();
}
