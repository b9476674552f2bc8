/* mail_smtp_reply.c - replies are well-formed on the wire, whatever their text */
#include <string.h>

#include "core/buf.h"
#include "mail/smtp_reply.h"
#include "t/tap.h"

static void
test_valid(void)
{
    static const struct {
        int code;
        const char *status;
        bool good;
    } cases[] = {
        {250, "2.1.0", true},     {220, NULL, true},        {500, "5.5.2", true},
        {452, "4.5.3", true},     {199, NULL, false},       {600, NULL, false},
        {250, "5.1.0", false},    {250, "2.1", false},      {250, "2..0", false},
        {250, "2.1.", false},     {250, "2.1000.0", false}, {250, "2.01.0", false},
        {550, "5.999.999", true}, {550, "5.1.0x", false},   {550, "", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ok(smtp_reply_valid(cases[i].code, cases[i].status) == cases[i].good, "valid %d %s",
           cases[i].code, cases[i].status ? cases[i].status : "(null)");
}

static void
test_format(void)
{
    static const struct {
        struct smtp_reply reply;
        const char *wire;
    } cases[] = {
        {{250, "2.1.0", "Ok"}, "250 2.1.0 Ok\r\n"},
        {{220, NULL, "mx ESMTP"}, "220 mx ESMTP\r\n"},
        {{250, NULL, "mx\nPIPELINING\n8BITMIME"}, "250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n"},
        {{550, "5.1.1", "bad\r\nx\001y"}, "550-5.1.1 bad?\r\n550 5.1.1 x?y\r\n"},
        {{221, NULL, NULL}, "221 \r\n"},
        {{250, NULL, "a\n"}, "250-a\r\n250 \r\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b;
        buf_init(&b, 4096);
        ok(smtp_reply_format(&b, &cases[i].reply), "format %zu", i);
        is_str(buf_str(&b), cases[i].wire, "wire form %zu", i);
        buf_free(&b);
    }
}

/* A text line too long for one reply line is cut; every line stays within 512 octets. */
static void
test_long_line(void)
{
    char text[1200];
    struct smtp_reply reply = {554, "5.7.1", text};
    struct buf b;
    size_t lines = 0, start = 0;

    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = 0;
    buf_init(&b, 8192);
    ok(smtp_reply_format(&b, &reply), "long text formats");
    for (size_t i = 0; i + 1 < b.len; i++) {
        if (b.data[i] == '\r' && b.data[i + 1] == '\n') {
            ok(i + 2 - start <= SMTP_REPLY_LINE_MAX, "line %zu is %zu octets", lines,
               i + 2 - start);
            ok(memcmp(b.data + start, i + 2 == b.len ? "554 " : "554-", 4) == 0,
               "line %zu separator", lines);
            start = i + 2;
            lines++;
        }
    }
    is_int((long long)lines, 3, "cut into three lines");
    is_int((long long)(b.len - lines * 12), 1199, "no text lost");
    buf_free(&b);

    buf_init(&b, 100);
    ok(!smtp_reply_format(&b, &reply), "the buffer limit is reported");
    buf_free(&b);
}

static void
test_constants(void)
{
    const struct smtp_reply *all[] = {
        &smtp_reply_syntax,         &smtp_reply_line_too_long, &smtp_reply_bad_param,
        &smtp_reply_unknown_param,  &smtp_reply_bad_sequence,  &smtp_reply_not_implemented,
        &smtp_reply_too_many_rcpts, &smtp_reply_too_big,       &smtp_reply_bare_newline,
        &smtp_reply_data_long_line, &smtp_reply_data_nul,      &smtp_reply_non_ascii,
        &smtp_reply_utf8_address,   &smtp_reply_bad_sender,    &smtp_reply_bad_recipient,
        &smtp_reply_binarymime,     &smtp_reply_nul_command,   &smtp_reply_bare_in_command,
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        ok(smtp_reply_valid(all[i]->code, all[i]->status), "constant %d %s", all[i]->code,
           all[i]->status);
    is_int(smtp_reply_syntax.code, 500, "syntax 500");
    is_str(smtp_reply_too_many_rcpts.status, "4.5.3", "too many recipients 4.5.3");
    is_str(smtp_reply_too_big.status, "5.3.4", "too big 5.3.4");
}

static void
test_status_len(void)
{
    static const struct {
        const char *text;
        int cls;
        size_t len;
    } cases[] = {
        {"5.1.1 no such user", '5', 5},
        {"5.1.1", '5', 5},
        {"4.7.1 x", '4', 5},
        {"2.0.0", '2', 5},
        {"5.123.456 x", '5', 9},
        {"5.1.1 x", '4', 0},
        {"5.01.1 x", '5', 0},
        {"5.1.1000", '5', 0},
        {"5.1.1x", '5', 0},
        {"5.1 x", '5', 0},
        {"5..1", '5', 0},
        {"", '5', 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        is_int((long long)smtp_status_len(cases[i].text, cases[i].cls), (long long)cases[i].len,
               "status length of '%s' (class %c)", cases[i].text, cases[i].cls);
}

int
main(void)
{
    test_valid();
    test_status_len();
    test_format();
    test_long_line();
    test_constants();
    return done_testing();
}
