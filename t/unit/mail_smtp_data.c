/*
 * mail_smtp_data.c - DATA and BDAT content: unstuffing, the end marker, every smuggling
 * variant, limits; each input fed whole, split at every byte boundary and byte by byte.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mail/smtp_data.h"
#include "t/tap.h"

#define R SMTP_DATA_BARE_REJECT
#define Z SMTP_DATA_BARE_NORMALIZE

struct result {
    size_t consumed;
    bool done;
    unsigned violations;
    bool refused;
    uint64_t size;
    struct buf content;
};

/* sink - collect content into a struct buf */
static void
sink(void *ctx, const char *data, size_t len)
{
    buf_append(ctx, data, len);
}

/* run_data - feed DATA input in pieces cut at the given points (sorted, may be empty) */
static void
run_data(const char *in, size_t len, enum smtp_data_bare bare, uint64_t limit, const size_t *cuts,
         size_t ncuts, struct result *r)
{
    struct smtp_data d;
    size_t pos = 0;

    memset(r, 0, sizeof(*r));
    buf_init(&r->content, BUF_UNLIMITED);
    smtp_data_init(&d, bare, limit, sink, &r->content);
    for (size_t i = 0; i <= ncuts && !d.done; i++) {
        // cppcheck-suppress nullPointer ; cuts is only read while i < ncuts
        size_t end = i < ncuts ? cuts[i] : len;
        size_t used = smtp_data_feed(&d, in + pos, end - pos);
        if (!d.done && used != end - pos) {
            r->consumed = (size_t)-1;
            return;
        }
        pos += used;
    }
    r->consumed = pos;
    r->done = d.done;
    r->violations = d.violations;
    r->refused = smtp_data_refused(&d);
    r->size = d.size;
}

/*
 * same - two results agree in every respect. The content of a refused message is not
 * compared: what reached the sink before the violation depends on the split, and the
 * caller discards it.
 */
static bool
same(const struct result *a, const struct result *b)
{
    return a->consumed == b->consumed && a->done == b->done && a->violations == b->violations &&
           a->refused == b->refused && a->size == b->size &&
           (a->refused ||
            (a->content.len == b->content.len &&
             memcmp(buf_str(&a->content), buf_str(&b->content), a->content.len) == 0));
}

/* check_splits - whole, every two-piece split, every three-piece split near the end, bytes */
static void
check_splits(const char *name, const char *in, size_t len, enum smtp_data_bare bare, uint64_t limit,
             const struct result *whole)
{
    size_t *cuts = calloc(len + 1, sizeof(*cuts));
    bool all = true;

    for (size_t i = 0; i <= len && all; i++) {
        struct result r;
        cuts[0] = i;
        run_data(in, len, bare, limit, cuts, 1, &r);
        all = same(&r, whole);
        if (!all)
            diag("split at %zu differs", i);
        buf_free(&r.content);
        for (size_t j = i; j <= len && all; j++) {
            cuts[1] = j;
            run_data(in, len, bare, limit, cuts, 2, &r);
            all = same(&r, whole);
            if (!all)
                diag("split at %zu and %zu differs", i, j);
            buf_free(&r.content);
        }
    }
    ok(all, "%s: every split point gives the same result", name);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    {
        struct result r;
        run_data(in, len, bare, limit, cuts, len, &r);
        ok(same(&r, whole), "%s: byte by byte gives the same result", name);
        buf_free(&r.content);
    }
    free(cuts);
}

static const struct {
    const char *name;
    const char *in;
    enum smtp_data_bare bare;
    bool done;
    const char *rest;    /* what must be left unconsumed */
    const char *content; /* NULL when the message is refused */
    unsigned violations;
} cases[] = {
    {"empty message", ".\r\n", R, true, "", "", 0},
    {"one line", "a\r\n.\r\n", R, true, "", "a\r\n", 0},
    {"pipelined rest", "a\r\n.\r\nQUIT\r\n", R, true, "QUIT\r\n", "a\r\n", 0},
    {"unstuffing", "..a\r\n..\r\n.\r\n", R, true, "", ".a\r\n.\r\n", 0},
    {"dot inside line", "a.b\r\n.x\r\n.\r\n", R, true, "", "a.b\r\nx\r\n", 0},
    {"not yet ended", "a\r\n.\r", R, false, "", "a\r\n", 0},
    {"not yet ended 2", "a\r\n", R, false, "", "a\r\n", 0},
    {"empty lines", "\r\n\r\n.\r\n", R, true, "", "\r\n\r\n", 0},
    {"dot space", "a\r\n. \r\n.\r\n", R, true, "", "a\r\n \r\n", 0},
    {"NUL", "a\0b\r\n.\r\n", R, true, "", NULL, SMTP_DATA_NUL},
    {"8-bit", "\xc3\xa9\xff\r\n.\r\n", R, true, "", "\xc3\xa9\xff\r\n", 0},
    /* smuggling variants: none may end the message, in either policy */
    {"LF.LF", "a\n.\nMAIL\r\n.\r\nX", R, true, "X", NULL, SMTP_DATA_BARE_LF},
    {"LF.LF n", "a\n.\nMAIL\r\n.\r\nX", Z, true, "X", "a\r\n.\r\nMAIL\r\n", SMTP_DATA_BARE_LF},
    {"CRLF.LF", "a\r\n.\nMAIL\r\n.\r\nX", R, true, "X", NULL, SMTP_DATA_BARE_LF},
    {"CRLF.LF n", "a\r\n.\nMAIL\r\n.\r\nX", Z, true, "X", "a\r\n\r\nMAIL\r\n", SMTP_DATA_BARE_LF},
    {"LF.CRLF", "a\n.\r\nMAIL\r\n.\r\nX", R, true, "X", NULL, SMTP_DATA_BARE_LF},
    {"LF.CRLF n", "a\n.\r\nMAIL\r\n.\r\nX", Z, true, "X", "a\r\n.\r\nMAIL\r\n", SMTP_DATA_BARE_LF},
    {"CR.CRLF", "a\r.\r\nMAIL\r\n.\r\nX", R, true, "X", NULL, SMTP_DATA_BARE_CR},
    {"CR.CRLF n", "a\r.\r\nMAIL\r\n.\r\nX", Z, true, "X", "a\r\n.\r\nMAIL\r\n", SMTP_DATA_BARE_CR},
    {"CR.CR", "a\r.\rMAIL\r\n.\r\nX", Z, true, "X", "a\r\n.\r\nMAIL\r\n", SMTP_DATA_BARE_CR},
    {"CRLF.CR", "a\r\n.\rMAIL\r\n.\r\nX", R, true, "X", NULL, SMTP_DATA_BARE_CR},
    {"CRLF.CR n", "a\r\n.\rMAIL\r\n.\r\nX", Z, true, "X", "a\r\n\r\nMAIL\r\n", SMTP_DATA_BARE_CR},
    {"CRLF.CRCRLF n", "a\r\n.\r\r\nMAIL\r\n.\r\nX", Z, true, "X", "a\r\n\r\n\r\nMAIL\r\n",
     SMTP_DATA_BARE_CR},
    {"CRCRLF.CRLF n", "a\r\r\n.\r\nX", Z, true, "X", "a\r\n\r\n", SMTP_DATA_BARE_CR},
    {"LFCRLF.CRLF n", "a\n\r\n.\r\nX", Z, true, "X", "a\r\n\r\n", SMTP_DATA_BARE_LF},
    {"CRLFLF.CRLF n", "a\r\n\n.\r\nM\r\n.\r\nX", Z, true, "X", "a\r\n\r\n.\r\nM\r\n",
     SMTP_DATA_BARE_LF},
    {"leading LF.LF", "\n.\n.\r\n.\r\nX", Z, true, "X", "\r\n.\r\n.\r\n", SMTP_DATA_BARE_LF},
    {"leading .LF", ".\n.\r\n.\r\nX", Z, true, "X", "\r\n.\r\n", SMTP_DATA_BARE_LF},
    {"leading .CR", ".\r.\r\n.\r\nX", Z, true, "X", "\r\n.\r\n", SMTP_DATA_BARE_CR},
    {"leading LF.CRLF", "\n.\r\nX", Z, false, "", "\r\n.\r\nX", SMTP_DATA_BARE_LF},
    {"LF.LF never ends", "a\n.\n", Z, false, "", "a\r\n.\r\n", SMTP_DATA_BARE_LF},
    {"CR.CR never ends", "a\r.\r", Z, false, "", "a\r\n.", SMTP_DATA_BARE_CR},
    {"LFLF", "a\n\nb\r\n.\r\n", R, true, "", NULL, SMTP_DATA_BARE_LF},
    {"CR then LF apart", "a\rb\nc\r\n.\r\n", Z, true, "", "a\r\nb\r\nc\r\n",
     SMTP_DATA_BARE_LF | SMTP_DATA_BARE_CR},
};

static void
test_table(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *in = cases[i].in;
        size_t len = strcmp(cases[i].name, "NUL") == 0 ? 8 : strlen(in);
        struct result r;

        run_data(in, len, cases[i].bare, UINT64_MAX, NULL, 0, &r);
        ok(r.done == cases[i].done, "%s: done %d", cases[i].name, cases[i].done);
        is_int((long long)(len - r.consumed), (long long)strlen(cases[i].rest), "%s: leaves '%s'",
               cases[i].name, cases[i].rest);
        is_int(r.violations, cases[i].violations, "%s: violations", cases[i].name);
        ok(r.refused == (cases[i].content == NULL), "%s: refused %d", cases[i].name,
           cases[i].content == NULL);
        if (cases[i].content != NULL)
            is_str(buf_str(&r.content), cases[i].content, "%s: content", cases[i].name);
        else
            is_int((long long)r.content.len, 0, "%s: refused content is not stored", cases[i].name);
        check_splits(cases[i].name, in, len, cases[i].bare, UINT64_MAX, &r);
        buf_free(&r.content);
    }
}

/* line - a DATA line of n octets plus CRLF, then the end marker */
static char *
line(size_t n, char first)
{
    char *s = malloc(n + 6);

    memset(s, 'x', n);
    s[0] = first;
    memcpy(s + n, "\r\n.\r\n", 6);
    return s;
}

static void
test_limits(void)
{
    static const struct {
        size_t n;
        char first;
        bool refused;
        const char *what;
    } lines[] = {
        {998, 'x', false, "a line of 1000 octets with CRLF"},
        {999, 'x', true, "a line of 1001 octets with CRLF"},
        {998, '.', false, "a stuffed line of 1000 octets with CRLF, the dot counted"},
        {999, '.', true, "a stuffed line one octet longer"},
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        char *s = line(lines[i].n, lines[i].first);
        struct result r;
        run_data(s, lines[i].n + 5, R, UINT64_MAX, NULL, 0, &r);
        ok(r.done && r.refused == lines[i].refused, "%s", lines[i].what);
        if (lines[i].refused) {
            is_int(r.violations, SMTP_DATA_LONG_LINE, "%s: long line recorded", lines[i].what);
        }
        buf_free(&r.content);
        free(s);
    }
    {
        const char *in = "abcd\r\n.\r\n"; /* content "abcd\r\n" = 6 octets */
        struct result r;
        run_data(in, strlen(in), R, 6, NULL, 0, &r);
        ok(r.done && !r.refused && r.size == 6, "content exactly at the size limit");
        buf_free(&r.content);
        run_data(in, strlen(in), R, 5, NULL, 0, &r);
        ok(r.done && r.refused && r.violations == SMTP_DATA_TOO_BIG, "one octet past the limit");
        is_int((long long)r.content.len, 0, "nothing stored past the limit");
        is_int((long long)r.consumed, (long long)strlen(in), "still read to the end");
        check_splits("size limit", in, strlen(in), R, 5, &r);
        buf_free(&r.content);
    }
}

static void
test_replies(void)
{
    struct smtp_data d;
    struct buf b;

    buf_init(&b, BUF_UNLIMITED);
    smtp_data_init(&d, R, 4, sink, &b);
    ok(smtp_data_reply(&d) == NULL, "no reply when clean");
    smtp_data_feed(&d, "a\nbcdef\r\n.\r\n", 12);
    ok(smtp_data_reply(&d) == &smtp_reply_too_big, "too big takes precedence");
    smtp_data_init(&d, R, UINT64_MAX, sink, &b);
    smtp_data_feed(&d, "a\nb\r\n.\r\n", 8);
    ok(smtp_data_reply(&d) == &smtp_reply_bare_newline, "bare LF reply");
    smtp_data_init(&d, Z, UINT64_MAX, sink, &b);
    smtp_data_feed(&d, "a\nb\r\n.\r\n", 8);
    ok(smtp_data_reply(&d) == NULL, "normalized bare LF is accepted");
    smtp_data_init(&d, Z, UINT64_MAX, sink, &b);
    smtp_data_feed(&d, "a\0b\r\n.\r\n", 8);
    ok(smtp_data_reply(&d) == &smtp_reply_data_nul, "NUL reply");
    buf_free(&b);
}

/* run_bdat - feed chunks (sizes in sizes[], the last one LAST), each split at cut */
static void
run_bdat(const char *in, const size_t *sizes, size_t n, enum smtp_data_bare bare, size_t cut,
         struct result *r)
{
    struct smtp_data d;
    size_t pos = 0;

    memset(r, 0, sizeof(*r));
    buf_init(&r->content, BUF_UNLIMITED);
    smtp_data_init_bdat(&d, bare, UINT64_MAX, sink, &r->content);
    for (size_t i = 0; i < n; i++) {
        size_t first = cut < sizes[i] ? cut : sizes[i];
        smtp_data_chunk(&d, sizes[i], i + 1 == n);
        pos += smtp_data_feed(&d, in + pos, first);
        pos += smtp_data_feed(&d, in + pos, strlen(in) - pos);
    }
    r->consumed = pos;
    r->done = d.done;
    r->violations = d.violations;
    r->refused = smtp_data_refused(&d);
    r->size = d.size;
}

static void
test_bdat(void)
{
    static const struct {
        const char *name;
        const char *in;
        size_t sizes[4];
        size_t n;
        enum smtp_data_bare bare;
        const char *content;
        unsigned violations;
        size_t rest;
    } chunks[] = {
        {"one chunk", "a\r\n.\r\n", {6}, 1, R, "a\r\n.\r\n", 0, 0},
        {"no unstuffing", "..a\r\n", {5}, 1, R, "..a\r\n", 0, 0},
        {"CRLF across chunks", "a\r\nb\r\n", {2, 4}, 2, R, "a\r\nb\r\n", 0, 0},
        {"unterminated last line", "ab", {1, 1}, 2, R, "ab\r\n", 0, 0},
        {"empty LAST", "a\r\n", {3, 0}, 2, R, "a\r\n", 0, 0},
        {"bare CR at the end", "a\r", {2}, 1, R, NULL, SMTP_DATA_BARE_CR, 0},
        {"bare CR at the end n", "a\r", {2}, 1, Z, "a\r\n", SMTP_DATA_BARE_CR, 0},
        {"bare LF", "a\nb", {3}, 1, R, NULL, SMTP_DATA_BARE_LF, 0},
        {"bare CR between chunks", "a\rb", {2, 1}, 2, Z, "a\r\nb\r\n", SMTP_DATA_BARE_CR, 0},
        {"exact sizes", "abcdefQUIT\r\n", {3, 3}, 2, R, "abcdef\r\n", 0, 6},
    };
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        struct result whole, r;
        bool all = true;
        run_bdat(chunks[i].in, chunks[i].sizes, chunks[i].n, chunks[i].bare, (size_t)-1, &whole);
        ok(whole.done, "%s: done", chunks[i].name);
        is_int(whole.violations, chunks[i].violations, "%s: violations", chunks[i].name);
        is_int((long long)(strlen(chunks[i].in) - whole.consumed), (long long)chunks[i].rest,
               "%s: rest", chunks[i].name);
        if (chunks[i].content != NULL)
            is_str(buf_str(&whole.content), chunks[i].content, "%s: content", chunks[i].name);
        else
            ok(whole.refused && whole.content.len == 0, "%s: refused", chunks[i].name);
        for (size_t cut = 0; cut <= strlen(chunks[i].in) && all; cut++) {
            run_bdat(chunks[i].in, chunks[i].sizes, chunks[i].n, chunks[i].bare, cut, &r);
            all = same(&r, &whole);
            buf_free(&r.content);
        }
        ok(all, "%s: every split gives the same result", chunks[i].name);
        buf_free(&whole.content);
    }
}

/* A long line split over many BDAT chunks is still one long line. */
static void
test_bdat_long_line(void)
{
    struct smtp_data d;
    struct buf b;
    char x[100];

    memset(x, 'x', sizeof(x));
    buf_init(&b, BUF_UNLIMITED);
    smtp_data_init_bdat(&d, R, UINT64_MAX, sink, &b);
    for (int i = 0; i < 10; i++) {
        smtp_data_chunk(&d, i < 9 ? 100 : 98, false);
        smtp_data_feed(&d, x, i < 9 ? 100 : 98);
    }
    ok(!(d.violations & SMTP_DATA_LONG_LINE), "998 octets over ten chunks: fine");
    smtp_data_chunk(&d, 3, true);
    smtp_data_feed(&d, "x\r\n", 3);
    ok(d.done && (d.violations & SMTP_DATA_LONG_LINE), "1001 with CRLF across chunks: long");
    buf_free(&b);
}

int
main(void)
{
    test_table();
    test_limits();
    test_replies();
    test_bdat();
    test_bdat_long_line();
    return done_testing();
}
