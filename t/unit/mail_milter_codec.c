/* mail_milter_codec.c - milter packets: the MTA's encoders byte for byte, framing, replies */
#include <string.h>

#include "core/buf.h"
#include "mail/milter_codec.h"
#include "t/tap.h"

/* is_bytes - got (len octets) equals want (wlen octets) */
static void
is_bytes(const struct buf *got, const char *want, size_t wlen, const char *what)
{
    ok(got->len == wlen && memcmp(got->data, want, wlen) == 0, "%s: %zu octets as expected", what,
       got->len);
}

static void
test_encoders(void)
{
    struct buf b;
    const char *mail[] = {"<a@b>", "SIZE=10"};
    const struct milter_macro macros[] = {{"j", "mx"}, {"{x}", NULL}, {"_", "c [1.2.3.4]"}};

    buf_init(&b, BUF_UNLIMITED);
    milter_put_optneg(&b, 6, MILTER_ACT_ALL, MILTER_P_ALL);
    is_bytes(&b, "\0\0\0\x0dO\0\0\0\x06\0\0\x01\xff\x30\x1f\xff\xff", 17, "optneg");
    buf_reset(&b);
    ok(milter_put_connect(&b, "c", MILTER_FAMILY_INET, 25, "1.2.3.4"), "connect inet");
    is_bytes(&b,
             "\0\0\0\x0e"
             "Cc\0"
             "4\0\x19"
             "1.2.3.4\0",
             18, "connect inet");
    buf_reset(&b);
    ok(milter_put_connect(&b, "localhost", MILTER_FAMILY_UNKNOWN, 0, NULL), "connect unknown");
    is_bytes(&b,
             "\0\0\0\x0c"
             "Clocalhost\0U",
             16, "connect unknown");
    buf_reset(&b);
    ok(milter_put_connect(&b, "h", MILTER_FAMILY_UNIX, 0, "/s"), "connect unix");
    is_bytes(&b,
             "\0\0\0\x07"
             "Ch\0L/s\0",
             11, "connect unix");
    ok(!milter_put_connect(&b, "h", 'X', 0, "/s"), "an unknown family is refused");
    buf_reset(&b);
    milter_put_strings(&b, MILTER_CMD_MAIL, mail, 2);
    is_bytes(&b, "\0\0\0\x0fM<a@b>\0SIZE=10\0", 19, "mail");
    buf_reset(&b);
    milter_put_header(&b, "Subject", " hi");
    is_bytes(&b, "\0\0\0\x0dLSubject\0 hi\0", 17, "header");
    buf_reset(&b);
    milter_put_macros(&b, MILTER_CMD_CONNECT, macros, 3);
    is_bytes(&b,
             "\0\0\0\x15"
             "DCj\0mx\0_\0c [1.2.3.4]\0",
             25, "macros, the empty one left out");
    buf_reset(&b);
    milter_put_simple(&b, MILTER_CMD_EOH);
    milter_put_body(&b, "ab", 2);
    milter_put_string(&b, MILTER_CMD_HELO, "x");
    is_bytes(&b,
             "\0\0\0\x01N\0\0\0\x03"
             "Bab\0\0\0\x03Hx\0",
             19, "eoh, body, helo");
    buf_free(&b);
}

/* parse_wire - one framed packet from wire (fed bytewise or whole), parsed into r */
static bool
parse_wire(const char *wire, size_t len, bool bytewise, struct milter_frame *f,
           struct milter_reply *r, struct err *err)
{
    enum milter_frame_status st = MILTER_FRAME_MORE;
    size_t at = 0, used;

    memset(r, 0, sizeof(*r));
    while (at < len && st == MILTER_FRAME_MORE) {
        st = milter_frame_feed(f, wire + at, bytewise ? 1 : len - at, &used, err);
        at += used;
    }
    if (st != MILTER_FRAME_DONE)
        return st == MILTER_FRAME_ERROR ? false : err_set(err, "incomplete");
    return at == len && milter_reply_parse(&f->packet, r, err);
}

/* replycode_parses - whether a REPLYCODE packet carrying text parses */
static bool
replycode_parses(const char *text)
{
    struct milter_frame f;
    struct milter_reply r;
    struct err err;
    struct buf wire;
    size_t len = strlen(text) + 2;
    bool good;

    buf_init(&wire, 64);
    buf_putc(&wire, (char)(len >> 24));
    buf_putc(&wire, (char)(len >> 16));
    buf_putc(&wire, (char)(len >> 8));
    buf_putc(&wire, (char)len);
    buf_putc(&wire, 'y');
    buf_append(&wire, text, strlen(text) + 1);
    milter_frame_init(&f);
    good = parse_wire(wire.data, wire.len, false, &f, &r, &err);
    milter_frame_free(&f);
    buf_free(&wire);
    return good;
}

/* Custom replies: lines end in CRLF only; '-' on every line but the last, ' ' or nothing on
 * the last; one CRLF may end the text. */
static void
test_replycode_lines(void)
{
    static const struct {
        const char *text;
        bool ok;
    } cases[] = {
        {"550", true},
        {"550 5.7.1 no", true},
        {"550-5.7.1 one\r\n550-5.7.1 two\r\n550 5.7.1 three", true},
        {"550 5.7.1 no\r\n", true},
        {"550-5.7.1 one\n550 5.7.1 two", false},
        {"550-5.7.1 one\r550 5.7.1 two", false},
        {"550 5.7.1 a\rb", false},
        {"550 5.7.1 a\nb", false},
        {"550 5.7.1 one\r\n550 5.7.1 two", false},
        {"550-5.7.1 last", false},
        {"550 5.7.1 no\r\n\r\n", false},
        {"550x", false},
        {"550-5.7.1 one\r\n", false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        is_int(replycode_parses(cases[i].text), cases[i].ok, "replycode %zu", i);
}

static void
test_replies(void)
{
    static const struct {
        const char *wire;
        size_t len;
        bool ok;
        int cmd;
        const char *field;
    } cases[] = {
        {"\0\0\0\x01"
         "c",
         5, true, 'c', NULL},
        {"\0\0\0\x01"
         "a",
         5, true, 'a', NULL},
        {"\0\0\0\x01"
         "s",
         5, true, 's', NULL},
        {"\0\0\0\x02"
         "c\0",
         6, false, 0, NULL},
        {"\0\0\0\x13"
         "y550 5.7.1 go away\0",
         23, true, 'y', "550 5.7.1 go away"},
        {"\0\0\0\x14"
         "y450-4.7.1 a\r\n450 b\0",
         24, true, 'y', "450-4.7.1 a\r\n450 b"},
        {"\0\0\0\x14"
         "y450-4.7.1 a\r\n550 b\0",
         24, false, 0, NULL},
        {"\0\0\0\x0a"
         "y250 fine\0",
         14, false, 0, NULL},
        {"\0\0\0\x08"
         "y550 bad",
         12, false, 0, NULL},
        {"\0\0\0\x0a"
         "hX-A\0 one\0",
         14, true, 'h', "X-A"},
        {"\0\0\0\x0e"
         "i\0\0\0\x02X-A\0 one\0",
         18, true, 'i', "X-A"},
        {"\0\0\0\x0a"
         "m\0\0\0\x01X-A\0\0",
         14, true, 'm', "X-A"},
        {"\0\0\0\x04"
         "m\0\0\0",
         8, false, 0, NULL},
        {"\0\0\0\x05"
         "h\0v\0\0",
         9, false, 0, NULL},
        {"\0\0\0\x07"
         "+<a@b>\0",
         11, true, '+', "<a@b>"},
        {"\0\0\0\x02"
         "-\0",
         6, false, 0, NULL},
        {"\0\0\0\x0f"
         "2<a@b>\0NOTIFY=\0",
         19, true, '2', "<a@b>"},
        {"\0\0\0\x07"
         "e<a@b>\0",
         11, true, 'e', "<a@b>"},
        {"\0\0\0\x04"
         "bxyz",
         8, true, 'b', NULL},
        {"\0\0\0\x06"
         "qspam\0",
         10, true, 'q', NULL},
        {"\0\0\0\x01"
         "Z",
         5, false, 0, NULL},
        {"\0\0\0\x00", 4, false, 0, NULL},
        {"\x7f\0\0\0"
         "c",
         5, false, 0, NULL},
        {"\0\0\0\x0d"
         "O\0\0\0\x06\0\0\0\x01\0\0\0\x80",
         17, true, 'O', NULL},
        {"\0\0\0\x0c"
         "O\0\0\0\x06\0\0\0\x01\0\0\0",
         16, false, 0, NULL},
        {"\0\0\0\x17"
         "O\0\0\0\x06\0\0\0\x01\0\0\0\x80\0\0\0\x02{x} i\0",
         27, true, 'O', NULL},
        {"\0\0\0\x17"
         "O\0\0\0\x06\0\0\0\x01\0\0\0\x80\0\0\0\x09{x} i\0",
         27, false, 0, NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int bytewise = 0; bytewise < 2; bytewise++) {
            struct milter_frame f;
            struct milter_reply r;
            struct err err;
            bool good;

            milter_frame_init(&f);
            good = parse_wire(cases[i].wire, cases[i].len, bytewise, &f, &r, &err);
            is_int(good, cases[i].ok, "case %zu (%s)%s%s", i, bytewise ? "bytewise" : "whole",
                   good ? "" : ": ", good ? "" : err.text);
            if (good && cases[i].ok) {
                const char *field = r.text ? r.text : r.name ? r.name : r.addr;
                is_int(r.cmd, cases[i].cmd, "case %zu command", i);
                if (cases[i].field)
                    is_str(field, cases[i].field, "case %zu field", i);
            }
            milter_frame_free(&f);
        }
    }
}

/* Two packets in one read; a packet too long is refused before its data arrives. */
static void
test_framing(void)
{
    const char wire[] = "\0\0\0\x01"
                        "c\0\0\0\x01"
                        "a";
    struct milter_frame f;
    struct err err;
    size_t used, used2;

    milter_frame_init(&f);
    is_int(milter_frame_feed(&f, wire, 10, &used, &err), MILTER_FRAME_DONE, "first packet");
    is_int((long long)used, 5, "it ends after its octets");
    is_int(milter_frame_feed(&f, wire + 5, 5, &used2, &err), MILTER_FRAME_DONE, "second");
    is_int(f.packet.data[0], 'a', "second is accept");
    is_int(milter_frame_feed(&f, "\0\x10\0\x02", 4, &used, &err), MILTER_FRAME_ERROR,
           "1 MiB + 2 is refused");
    like(err.text, "out of range", "and says why");
    ok(f.packet.cap < 4096, "having kept nothing");
    milter_frame_free(&f);
}

static void
test_optneg(void)
{
    const char one[] = "\0\0\0\x1b"
                       "O\0\0\0\x06\0\0\0\x01\0\0\0\x80\0\0\0\x01{x}\0\0\0\0\x03j\0";
    struct milter_frame f;
    struct milter_reply r;
    struct err err;

    milter_frame_init(&f);
    ok(parse_wire(one, sizeof(one) - 1, false, &f, &r, &err), "optneg with two macro lists");
    is_int(r.version, 6, "version");
    is_int(r.actions, MILTER_ACT_ADDHDRS, "actions");
    is_int(r.protocol, MILTER_P_NR_HDR, "protocol");
    is_str(r.symlist[MILTER_STAGE_HELO], "{x}", "helo macros");
    is_str(r.symlist[MILTER_STAGE_RCPT], "j", "rcpt macros");
    ok(r.symlist[MILTER_STAGE_MAIL] == NULL, "none for mail");
    ok(milter_optneg_check(&r, MILTER_ACT_ALL, MILTER_P_ALL, &err), "within the offer");
    ok(!milter_optneg_check(&r, 0, MILTER_P_ALL, &err), "an action not offered");
    like(err.text, "actions", "says so");
    ok(!milter_optneg_check(&r, MILTER_ACT_ALL, 0, &err), "a step not offered");
    r.version = 7;
    ok(!milter_optneg_check(&r, MILTER_ACT_ALL, MILTER_P_ALL, &err), "version 7");
    r.cmd = 'c';
    ok(!milter_optneg_check(&r, MILTER_ACT_ALL, MILTER_P_ALL, &err), "not an optneg");
    is_int(milter_stage_cmd(MILTER_STAGE_EOH), MILTER_CMD_EOH, "eoh stage's command");
    is_str(milter_reply_name('y'), "SMFIR_REPLYCODE", "names");
    milter_frame_free(&f);
}

int
main(void)
{
    test_encoders();
    test_replies();
    test_replycode_lines();
    test_framing();
    test_optneg();
    return done_testing();
}
