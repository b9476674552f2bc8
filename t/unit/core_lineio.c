/* core_lineio.c - lines come out whole, within their limit, with their ending reported */
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/lineio.h"
#include "t/tap.h"

#define MAX 8

struct want {
    enum lineio_status status;
    const char *line;
    enum lineio_end end;
    bool bare_cr;
};

/* run_case - feed input (optionally followed by EOF), skip over-long lines, compare */
static void
run_case(const char *name, const char *input, size_t len, bool eof, const struct want *want,
         size_t nwant)
{
    struct lineio_in li;
    size_t i = 0;
    bool good = true;

    lineio_in_init(&li, MAX);
    buf_append(&li.in, input, len);
    if (eof)
        lineio_in_set_eof(&li);
    for (; i < nwant && good; i++) {
        enum lineio_status st = lineio_in_get(&li);

        good = st == want[i].status;
        if (good && st == LINEIO_LINE)
            good = strcmp(buf_str(&li.line), want[i].line) == 0 && li.end == want[i].end &&
                   li.bare_cr == want[i].bare_cr;
        if (!good)
            diag("%s: step %zu: status %d line '%s' end %d bare_cr %d", name, i, st,
                 buf_str(&li.line), li.end, li.bare_cr);
        if (st == LINEIO_TOO_LONG)
            lineio_in_skip(&li);
    }
    ok(good, "%s", name);
    lineio_in_free(&li);
}

#define W(...) ((const struct want[]){__VA_ARGS__})
#define N(...) (sizeof((const struct want[]){__VA_ARGS__}) / sizeof(struct want))
#define CASE(name, input, eof, ...) \
    run_case(name, input, sizeof(input) - 1, eof, W(__VA_ARGS__), N(__VA_ARGS__))

static void
test_lines(void)
{
    CASE("CRLF line", "HELO x\r\n", false, {LINEIO_LINE, "HELO x", LINEIO_END_CRLF, false},
         {LINEIO_NEED, 0, 0, 0});
    CASE("bare LF line", "HELO x\n", false, {LINEIO_LINE, "HELO x", LINEIO_END_LF, false});
    CASE("bare CR inside", "a\rb\r\n", false, {LINEIO_LINE, "a\rb", LINEIO_END_CRLF, true});
    CASE("CR before bare LF is the terminator", "ab\r\n\r\r\n", false,
         {LINEIO_LINE, "ab", LINEIO_END_CRLF, false}, {LINEIO_LINE, "\r", LINEIO_END_CRLF, true});
    CASE("empty lines", "\r\n\n", false, {LINEIO_LINE, "", LINEIO_END_CRLF, false},
         {LINEIO_LINE, "", LINEIO_END_LF, false}, {LINEIO_NEED, 0, 0, 0});
    CASE("partial line needs more", "abc", false, {LINEIO_NEED, 0, 0, 0});
    CASE("partial line at EOF", "abc", true, {LINEIO_LINE, "abc", LINEIO_END_NONE, false},
         {LINEIO_NEED, 0, 0, 0});
    CASE("exactly max with CRLF", "12345678\r\n", false,
         {LINEIO_LINE, "12345678", LINEIO_END_CRLF, false});
    CASE("exactly max, CR not yet followed by LF", "12345678\r", false, {LINEIO_NEED, 0, 0, 0});
    CASE("exactly max with LF", "12345678\n", false,
         {LINEIO_LINE, "12345678", LINEIO_END_LF, false});
    CASE("one over max", "123456789\r\n", false, {LINEIO_TOO_LONG, 0, 0, 0},
         {LINEIO_NEED, 0, 0, 0});
    CASE("over max without a terminator yet", "123456789", false, {LINEIO_TOO_LONG, 0, 0, 0});
    CASE("skip to the next line", "1234567890123\r\nok\r\n", false, {LINEIO_TOO_LONG, 0, 0, 0},
         {LINEIO_LINE, "ok", LINEIO_END_CRLF, false});
    CASE("over max at EOF", "123456789", true, {LINEIO_TOO_LONG, 0, 0, 0});
}

static void
test_nul(void)
{
    struct lineio_in li;

    lineio_in_init(&li, MAX);
    buf_append(&li.in, "a\0b\r\n", 5);
    ok(lineio_in_get(&li) == LINEIO_LINE && li.line.len == 3 &&
           memcmp(li.line.data, "a\0b", 3) == 0,
       "a NUL byte inside a line is kept, with the length");
    lineio_in_free(&li);
}

static void
test_skip_across_reads(void)
{
    struct lineio_in li;
    int sv[2];
    const char *junk = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return;
    lineio_in_init(&li, MAX);
    for (int i = 0; i < 100; i++)
        if (write(sv[0], junk, strlen(junk)) < 0)
            return;
    if (write(sv[0], "\r\nnext\r\n", 8) < 0)
        return;
    close(sv[0]);
    enum lineio_status st;
    int too_long = 0;
    bool bounded = true;
    while ((st = lineio_in_get(&li)) != LINEIO_LINE) {
        if (st == LINEIO_TOO_LONG) {
            too_long++;
            lineio_in_skip(&li);
            continue;
        }
        if (lineio_in_fill(&li, sv[1]) <= 0)
            break;
        bounded = bounded && li.in.len <= li.in.limit;
    }
    ok(bounded, "input stayed within its limit");
    is_int(too_long, 1, "one over-long line reported once");
    is_str(buf_str(&li.line), "next", "the line after it comes out");
    ok(li.in.limit == 2 * (MAX + 2), "input buffer is bounded");
    lineio_in_free(&li);
    close(sv[1]);
}

static void
test_output(void)
{
    struct lineio_out lo;
    int sv[2];
    char got[64] = "";

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return;
    lineio_out_init(&lo, 16);
    ok(lineio_out_line(&lo, "250 %s", "ok"), "queue a line");
    ok(!lineio_out_line(&lo, "250 %s", "this does not fit"), "a line over the limit refused");
    is_int((long long)lo.q.len, 8, "refused line left nothing behind");
    ok(lineio_out_pending(&lo), "pending");
    is_int(lineio_out_flush(&lo, sv[0]), LINEIO_FLUSHED, "flushed");
    ok(read(sv[1], got, sizeof(got)) == 8 && memcmp(got, "250 ok\r\n", 8) == 0,
       "CRLF-terminated on the wire");
    close(sv[1]);
    lineio_out_put(&lo, "x", 1);
    is_int(lineio_out_flush(&lo, sv[0]), LINEIO_ERROR, "write to a closed peer is an error");
    lineio_out_free(&lo);
    close(sv[0]);
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_lines();
    test_nul();
    test_skip_across_reads();
    test_output();
    return done_testing();
}
