/* mail_smtp_resp.c - server replies as a client reads them: syntax, limits, EHLO keywords */
#include <string.h>

#include "core/buf.h"
#include "mail/smtp_resp.h"
#include "t/tap.h"

/* feed - all of wire, one byte at a time when bytewise: the first verdict other than MORE */
static enum smtp_resp_status
feed(struct smtp_resp *r, const char *wire, size_t len, bool bytewise, size_t *at, struct err *err)
{
    enum smtp_resp_status st = SMTP_RESP_MORE;
    size_t used;

    *at = 0;
    while (*at < len && st == SMTP_RESP_MORE) {
        size_t n = bytewise ? 1 : len - *at;
        st = smtp_resp_feed(r, wire + *at, n, &used, err);
        *at += used;
    }
    return st;
}

static void
test_table(void)
{
    static const struct {
        const char *wire;
        enum smtp_resp_status st;
        int code;
        const char *dsn;
        const char *text;
    } cases[] = {
        {"220 mx ESMTP\r\n", SMTP_RESP_DONE, 220, "", "mx ESMTP"},
        {"250 2.1.0 Ok\r\n", SMTP_RESP_DONE, 250, "2.1.0", "2.1.0 Ok"},
        {"250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n", SMTP_RESP_DONE, 250, "",
         "mx\nPIPELINING\nSIZE 1000"},
        {"550-5.1.1 no\r\n550 5.1.1 such user\r\n", SMTP_RESP_DONE, 550, "5.1.1",
         "5.1.1 no\n5.1.1 such user"},
        {"250\r\n", SMTP_RESP_DONE, 250, "", ""},
        {"250 ok\n", SMTP_RESP_DONE, 250, "", "ok"},
        {"550 4.1.1 wrong class\r\n", SMTP_RESP_DONE, 550, "", "4.1.1 wrong class"},
        {"250 2.0.0.0 x\r\n", SMTP_RESP_DONE, 250, "", "2.0.0.0 x"},
        {"250-a\r\n", SMTP_RESP_MORE, 0, "", ""},
        {"250 partial", SMTP_RESP_MORE, 0, "", ""},
        {"25 short\r\n", SMTP_RESP_ERROR, 0, "", ""},
        {"150 low\r\n", SMTP_RESP_ERROR, 0, "", ""},
        {"650 high\r\n", SMTP_RESP_ERROR, 0, "", ""},
        {"250x\r\n", SMTP_RESP_ERROR, 0, "", ""},
        {"250-a\r\n251 b\r\n", SMTP_RESP_ERROR, 0, "", ""},
        {"\r\n", SMTP_RESP_ERROR, 0, "", ""},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = strlen(cases[i].wire);
        for (int bytewise = 0; bytewise < 2; bytewise++) {
            struct smtp_resp r;
            struct err err;
            size_t at;
            enum smtp_resp_status st;

            smtp_resp_init(&r);
            st = feed(&r, cases[i].wire, len, bytewise, &at, &err);
            is_int(st, cases[i].st, "case %zu (%s) status", i, bytewise ? "bytewise" : "whole");
            if (st == SMTP_RESP_DONE) {
                is_int(r.code, cases[i].code, "case %zu code", i);
                is_str(r.dsn, cases[i].dsn, "case %zu dsn", i);
                is_str(buf_str(&r.text), cases[i].text, "case %zu text", i);
                is_int((long long)at, (long long)len, "case %zu used every byte", i);
            }
            smtp_resp_free(&r);
        }
    }
}

/* Two replies in one read: the first ends where its last line ends. */
static void
test_two_replies(void)
{
    const char *wire = "250 2.1.0 Ok\r\n550 5.1.1 No\r\n";
    struct smtp_resp r;
    struct err err;
    size_t used, used2;

    smtp_resp_init(&r);
    is_int(smtp_resp_feed(&r, wire, strlen(wire), &used, &err), SMTP_RESP_DONE, "first reply");
    is_int((long long)used, 14, "it ends after its line");
    is_int(smtp_resp_feed(&r, wire + used, strlen(wire) - used, &used2, &err), SMTP_RESP_DONE,
           "second reply");
    is_int(r.code, 550, "second code");
    is_str(r.dsn, "5.1.1", "second dsn");
    smtp_resp_free(&r);
}

/* line_of - "250 ", then n times c, then tail */
static void
line_of(struct buf *b, size_t n, char c, const char *tail)
{
    buf_reset(b);
    buf_puts(b, "250 ");
    for (size_t i = 0; i < n; i++)
        buf_putc(b, c);
    buf_puts(b, tail);
}

/* The attacks: a line of a megabyte, a reply that never ends. */
static void
test_limits(void)
{
    struct smtp_resp r;
    struct err err;
    struct buf b;
    size_t at;

    buf_init(&b, BUF_UNLIMITED);
    line_of(&b, 1 << 20, 'x', "\r\n");
    smtp_resp_init(&r);
    is_int(feed(&r, b.data, b.len, false, &at, &err), SMTP_RESP_ERROR, "a 1 MiB line fails");
    like(err.text, "longer than", "and says why");
    ok(r.line.cap <= SMTP_RESP_LINE_MAX + 1, "having kept at most one line");
    smtp_resp_free(&r);

    line_of(&b, SMTP_RESP_LINE_MAX - 6, 'y', "\r\n");
    smtp_resp_init(&r);
    is_int((long long)b.len, SMTP_RESP_LINE_MAX, "a line of exactly the limit...");
    is_int(feed(&r, b.data, b.len, false, &at, &err), SMTP_RESP_DONE, "...passes");
    smtp_resp_free(&r);
    line_of(&b, SMTP_RESP_LINE_MAX - 5, 'y', "\r\n");
    smtp_resp_init(&r);
    is_int(feed(&r, b.data, b.len, false, &at, &err), SMTP_RESP_ERROR, "one octet more fails");
    smtp_resp_free(&r);

    smtp_resp_init(&r);
    is_int(feed(&r, "250 a\0b\r\n", 8, false, &at, &err), SMTP_RESP_ERROR, "a NUL byte fails");
    smtp_resp_free(&r);

    buf_reset(&b);
    for (int i = 0; i < 10000; i++)
        buf_puts(&b, "250-more\r\n");
    smtp_resp_init(&r);
    is_int(feed(&r, b.data, b.len, false, &at, &err), SMTP_RESP_ERROR,
           "an endless multi-line reply fails");
    like(err.text, "more than 100 lines", "at the line limit");
    ok(at <= (size_t)(SMTP_RESP_LINES_MAX + 1) * 10, "after reading no more than that");
    smtp_resp_free(&r);
    buf_free(&b);
}

static void
test_ext(void)
{
    const char *wire = "250-mx.example Hello\r\n250-pipelining\r\n250-SIZE 10240000\r\n"
                       "250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n"
                       "250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 ENHANCEDSTATUSCODES\r\n";
    struct smtp_resp r;
    struct smtp_ext ext;
    struct err err;
    size_t used;

    smtp_resp_init(&r);
    is_int(smtp_resp_feed(&r, wire, strlen(wire), &used, &err), SMTP_RESP_DONE, "EHLO reply");
    smtp_ext_parse(&r, &ext);
    is_int(ext.flags, 0xff, "every keyword, in any case");
    is_int((long long)ext.size, 10240000, "SIZE value");
    is_str(ext.auth, "PLAIN LOGIN", "AUTH's mechanisms");
    smtp_resp_free(&r);

    wire = "250-mx\r\n250-AUTH=login PLAIN\r\n250-AUTH plain cram-md5 X\tY ABCDEFGHIJKLMNOPQRSTU"
           " SCRAM-SHA-256\r\n250 OK\r\n";
    smtp_resp_init(&r);
    smtp_resp_feed(&r, wire, strlen(wire), &used, &err);
    smtp_ext_parse(&r, &ext);
    is_int(ext.flags, SMTP_EXT_AUTH, "AUTH= (the old form) offers AUTH too");
    is_str(ext.auth, "LOGIN PLAIN CRAM-MD5 SCRAM-SHA-256",
           "mechanisms of both forms, upper case, once each; bad names and names over 20 dropped");
    smtp_resp_free(&r);

    wire = "250-mx PIPELINING\r\n250-SIZE\r\n250-SIZE12\r\n250 DSNX\r\n";
    smtp_resp_init(&r);
    smtp_resp_feed(&r, wire, strlen(wire), &used, &err);
    smtp_ext_parse(&r, &ext);
    is_int(ext.flags, SMTP_EXT_SIZE, "the first line's words and near misses do not count");
    is_int((long long)ext.size, 0, "SIZE without a value: no limit known");
    smtp_resp_free(&r);

    wire = "250-mx\r\n250 SIZE 99999999999999999999999\r\n";
    smtp_resp_init(&r);
    smtp_resp_feed(&r, wire, strlen(wire), &used, &err);
    smtp_ext_parse(&r, &ext);
    is_int((long long)ext.size, 0, "an overflowing SIZE: no limit known");
    smtp_resp_free(&r);
}

int
main(void)
{
    test_table();
    test_two_replies();
    test_limits();
    test_ext();
    return done_testing();
}
