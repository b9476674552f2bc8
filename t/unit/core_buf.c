/* core_buf.c - buffers keep their limit; strings split and parse as documented */
#include <string.h>

#include "core/buf.h"
#include "core/str.h"
#include "t/tap.h"

static void
test_buf_limit(void)
{
    struct buf b;

    buf_init(&b, 8);
    ok(buf_puts(&b, "12345678"), "fills up to the limit");
    ok(!buf_putc(&b, '9'), "one more byte is refused");
    is_str(buf_str(&b), "12345678", "a refused append changes nothing");
    ok(!buf_printf(&b, "%s", "x"), "printf past the limit is refused");
    buf_consume(&b, 3);
    is_str(buf_str(&b), "45678", "consume drops the front");
    ok(buf_append(&b, "a\0b", 3), "binary-safe append");
    is_int((long long)b.len, 8, "length counts the NUL");
    ok(b.data[b.len] == 0, "always terminated");
    buf_free(&b);
    is_str(buf_str(&b), "", "an empty buffer reads as an empty string");
}

static void
test_buf_insert(void)
{
    struct buf b;

    buf_init(&b, 10);
    buf_puts(&b, "world");
    ok(buf_insert(&b, 0, "hello ", 5), "insert at the front");
    is_str(buf_str(&b), "helloworld", "the bytes after it moved along");
    ok(!buf_insert(&b, 5, "!", 1), "an insert past the limit is refused");
    ok(!buf_insert(&b, 11, "", 0), "and one past the end");
    is_str(buf_str(&b), "helloworld", "a refused insert changes nothing");
    buf_truncate(&b, 5);
    ok(buf_insert(&b, 5, "!", 1) && b.data[b.len] == 0, "insert at the end, terminated");
    is_str(buf_str(&b), "hello!", "as an append");
    buf_free(&b);
}

static void
test_str_token(void)
{
    char text[] = ",, a , b,c ,,";
    char *cursor = text;
    const char *want[] = {"a", "b", "c"};
    int i = 0;

    for (char *tok; (tok = str_token(&cursor, STR_LIST_DELIMS)) != NULL; i++)
        is_str(tok, i < 3 ? want[i] : "(none)", "token %d", i);
    is_int(i, 3, "three tokens");
}

static void
test_str_to_long(void)
{
    static const struct {
        const char *text;
        bool good;
        long value;
    } cases[] = {
        {"0", true, 0},    {"42", true, 42},
        {"-1", false, 0},  {"", false, 0},
        {" 1", false, 0},  {"1x", false, 0},
        {"+1", false, 0},  {"100", true, 100},
        {"101", false, 0}, {"99999999999999999999", false, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long v = -7;
        bool good = str_to_long(cases[i].text, 0, 100, &v);
        ok(good == cases[i].good && (!good || v == cases[i].value), "str_to_long '%s'",
           cases[i].text);
    }
}

int
main(void)
{
    test_buf_limit();
    test_buf_insert();
    test_str_token();
    test_str_to_long();
    ok(str_eq_nocase("MAIL", "mail") && !str_eq_nocase("MAIL", "MAILX"), "case-free compare");
    return done_testing();
}
