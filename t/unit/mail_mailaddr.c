/* mail_mailaddr.c - RFC 5321 paths: syntax, canonical local parts, limits, UTF-8 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "mail/mailaddr.h"
#include "t/tap.h"

#define N  MAILADDR_ALLOW_NULL
#define P  MAILADDR_ALLOW_POSTMASTER
#define U  MAILADDR_ALLOW_UTF8
#define OK MAILADDR_OK
#define SY MAILADDR_SYNTAX
#define TL MAILADDR_TOO_LONG
#define NA MAILADDR_NON_ASCII
#define BU MAILADDR_BAD_UTF8

static const struct {
    const char *path;
    int flags;
    enum mailaddr_error err;
    const char *local; /* canonical */
    const char *domain;
    const char *quoted; /* mailaddr_format output */
} cases[] = {
    {"<user@example.com>", 0, OK, "user", "example.com", "user@example.com"},
    {"<a.b.c@x.y>", 0, OK, "a.b.c", "x.y", "a.b.c@x.y"},
    {"<!#$%&'*+-/=?^_`{|}~@x>", 0, OK, "!#$%&'*+-/=?^_`{|}~", "x", "!#$%&'*+-/=?^_`{|}~@x"},
    {"<\"a b\"@x>", 0, OK, "a b", "x", "\"a b\"@x"},
    {"<\"ab\"@x>", 0, OK, "ab", "x", "ab@x"},
    {"<\"a\\b\"@x>", 0, OK, "ab", "x", "ab@x"},
    {"<\"a\\\"b\"@x>", 0, OK, "a\"b", "x", "\"a\\\"b\"@x"},
    {"<\"a\\\\b\"@x>", 0, OK, "a\\b", "x", "\"a\\\\b\"@x"},
    {"<\"a@b\"@x>", 0, OK, "a@b", "x", "\"a@b\"@x"},
    {"<\"a..b\"@x>", 0, OK, "a..b", "x", "\"a..b\"@x"},
    {"<\".a\"@x>", 0, OK, ".a", "x", "\".a\"@x"},
    {"<\"\"@x>", 0, OK, "", "x", "\"\"@x"},
    {"<\"a\\ b\"@x>", 0, OK, "a b", "x", "\"a b\"@x"},
    {"<@a,@b.c:user@d>", 0, OK, "user", "d", "user@d"},
    {"<@a:user@d>", 0, OK, "user", "d", "user@d"},
    {"<user@[192.0.2.1]>", 0, OK, "user", "[192.0.2.1]", "user@[192.0.2.1]"},
    {"<user@[IPv6:2001:db8::1]>", 0, OK, "user", "[IPv6:2001:db8::1]", NULL},
    {"<user@[ipv6:::1]>", 0, OK, "user", "[ipv6:::1]", NULL},
    {"<user@[IPv6:::ffff:192.0.2.1]>", 0, OK, "user", "[IPv6:::ffff:192.0.2.1]", NULL},
    {"<user@[x-tag:stuff]>", 0, OK, "user", "[x-tag:stuff]", NULL},
    {"<user@a-b.c0>", 0, OK, "user", "a-b.c0", NULL},
    {"<u@1.2.3.4>", 0, OK, "u", "1.2.3.4", NULL},
    {"<>", N, OK, NULL, NULL, ""},
    {"<postmaster>", P, OK, "postmaster", NULL, "postmaster"},
    {"<PostMaster>", P, OK, "postmaster", NULL, "postmaster"},
    {"<postmaster@x>", P, OK, "postmaster", "x", NULL},
    {"<us\xc3\xa9r@ex\xc3\xa4mple.com>", U, OK, "us\xc3\xa9r", "ex\xc3\xa4mple.com", NULL},
    {"<\"\xe2\x82\xac \"@x>", U, OK, "\xe2\x82\xac ", "x", NULL},
    {"<\xf0\x9f\x98\x80@x>", U, OK, "\xf0\x9f\x98\x80", "x", NULL},
    /* refused */
    {"<>", 0, SY, NULL, NULL, NULL},
    {"<>", P, SY, NULL, NULL, NULL},
    {"<postmaster>", 0, SY, NULL, NULL, NULL},
    {"<postmaster>", N, SY, NULL, NULL, NULL},
    {"<@a:postmaster>", P, SY, NULL, NULL, NULL},
    {"<\"postmaster\">", P, SY, NULL, NULL, NULL},
    {"<postmistress>", P, SY, NULL, NULL, NULL},
    {"", 0, SY, NULL, NULL, NULL},
    {"<", 0, SY, NULL, NULL, NULL},
    {"user@x", 0, SY, NULL, NULL, NULL},
    {"<user@x", 0, SY, NULL, NULL, NULL},
    {"<user>", 0, SY, NULL, NULL, NULL},
    {"<user@>", 0, SY, NULL, NULL, NULL},
    {"<@x>", 0, SY, NULL, NULL, NULL},
    {"<.user@x>", 0, SY, NULL, NULL, NULL},
    {"<user.@x>", 0, SY, NULL, NULL, NULL},
    {"<us..er@x>", 0, SY, NULL, NULL, NULL},
    {"<us er@x>", 0, SY, NULL, NULL, NULL},
    {"<us(er@x>", 0, SY, NULL, NULL, NULL},
    {"<user@x.>", 0, SY, NULL, NULL, NULL},
    {"<user@.x>", 0, SY, NULL, NULL, NULL},
    {"<user@x..y>", 0, SY, NULL, NULL, NULL},
    {"<user@-x>", 0, SY, NULL, NULL, NULL},
    {"<user@x->", 0, SY, NULL, NULL, NULL},
    {"<user@x_y>", 0, SY, NULL, NULL, NULL},
    {"<user@x y>", 0, SY, NULL, NULL, NULL},
    {"<user@x@y>", 0, SY, NULL, NULL, NULL},
    {"< user@x>", 0, SY, NULL, NULL, NULL},
    {"<user@x >", 0, SY, NULL, NULL, NULL},
    {"<\"a\tb\"@x>", 0, SY, NULL, NULL, NULL},
    {"<\"ab@x>", 0, SY, NULL, NULL, NULL},
    {"<\"a\\\001\"@x>", 0, SY, NULL, NULL, NULL},
    {"<\"a\"b@x>", 0, SY, NULL, NULL, NULL},
    {"<user@[]>", 0, SY, NULL, NULL, NULL},
    {"<user@[1.2.3]>", 0, SY, NULL, NULL, NULL},
    {"<user@[256.1.1.1]>", 0, SY, NULL, NULL, NULL},
    {"<user@[1.2.3.4>", 0, SY, NULL, NULL, NULL},
    {"<user@[IPv6:1.2.3.4]>", 0, SY, NULL, NULL, NULL},
    {"<user@[IPv6:2001:db8:::1]>", 0, SY, NULL, NULL, NULL},
    {"<user@[IPv6:]>", 0, SY, NULL, NULL, NULL},
    {"<user@[-tag:x]>", 0, SY, NULL, NULL, NULL},
    {"<user@[tag:]>", 0, SY, NULL, NULL, NULL},
    {"<user@[a[b]>", 0, SY, NULL, NULL, NULL},
    {"<@a,user@d>", 0, SY, NULL, NULL, NULL},
    {"<@a:@b:user@d>", 0, SY, NULL, NULL, NULL},
    {"<@:user@d>", 0, SY, NULL, NULL, NULL},
    {"<@a,:user@d>", 0, SY, NULL, NULL, NULL},
    /* UTF-8 */
    {"<us\xc3\xa9r@x>", 0, NA, NULL, NULL, NULL},
    {"<user@ex\xc3\xa4mple>", 0, NA, NULL, NULL, NULL},
    {"<\"\xc3\xa9\"@x>", 0, NA, NULL, NULL, NULL},
    {"<\xc0\xaf@x>", U, BU, NULL, NULL, NULL},         /* overlong '/' */
    {"<\xe0\x80\xaf@x>", U, BU, NULL, NULL, NULL},     /* overlong, 3 octets */
    {"<\xf0\x80\x80\xaf@x>", U, BU, NULL, NULL, NULL}, /* overlong, 4 octets */
    {"<\xed\xa0\x80@x>", U, BU, NULL, NULL, NULL},     /* surrogate U+D800 */
    {"<\xc2\x85@x>", U, BU, NULL, NULL, NULL},         /* C1 control NEL */
    {"<\xf4\x90\x80\x80@x>", U, BU, NULL, NULL, NULL}, /* past U+10FFFF */
    {"<\xc3@x>", U, BU, NULL, NULL, NULL},             /* truncated */
    {"<\x80@x>", U, BU, NULL, NULL, NULL},             /* lone continuation */
    {"<\xff@x>", U, BU, NULL, NULL, NULL},
    {"<a@\xc3>", U, BU, NULL, NULL, NULL},
};

static void
test_table(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mailaddr a;
        size_t used = 0;
        const char *path = cases[i].path;
        enum mailaddr_error err =
            mailaddr_parse_path(path, strlen(path), cases[i].flags, &a, &used);

        is_int(err, cases[i].err, "%zu: %s -> %s", i, path, mailaddr_strerror(cases[i].err));
        if (err != OK) {
            ok(a.local == NULL && a.domain == NULL, "%zu: nothing kept on failure", i);
            continue;
        }
        is_int((long long)used, (long long)strlen(path), "%zu: the whole path used", i);
        is_str(a.local ? a.local : "(null)", cases[i].local ? cases[i].local : "(null)",
               "%zu: local", i);
        is_str(a.domain ? a.domain : "(null)", cases[i].domain ? cases[i].domain : "(null)",
               "%zu: domain", i);
        if (cases[i].quoted != NULL) {
            struct buf b;
            buf_init(&b, 1024);
            ok(mailaddr_format(&b, &a), "%zu: formats", i);
            is_str(buf_str(&b), cases[i].quoted, "%zu: formatted", i);
            buf_free(&b);
        }
        mailaddr_free(&a);
    }
}

/* What follows the path is left to the caller. */
static void
test_used(void)
{
    struct mailaddr a;
    size_t used = 0;
    const char *s = "<a@b> SIZE=1";

    is_int(mailaddr_parse_path(s, strlen(s), 0, &a, &used), OK, "path then parameters");
    is_int((long long)used, 5, "used stops after '>'");
    mailaddr_free(&a);
    s = "<@r1,@r2:a@b>";
    is_int(mailaddr_parse_path(s, strlen(s), 0, &a, &used), OK, "route");
    ok(a.had_route, "the route is noted");
    mailaddr_free(&a);
    s = "<a@[192.0.2.7]>";
    is_int(mailaddr_parse_path(s, strlen(s), 0, &a, &used), OK, "ipv4 literal");
    is_int(a.literal, MAILADDR_LIT_IPV4, "ipv4 kind");
    ok(memcmp(a.ip, "\xc0\x00\x02\x07", 4) == 0, "ipv4 octets");
    mailaddr_free(&a);
    s = "<a\xc3\xa9@b>";
    is_int(mailaddr_parse_path(s, strlen(s), U, &a, &used), OK, "utf8");
    ok(a.utf8, "utf8 noted");
    mailaddr_free(&a);
}

/* mkpath - "<" local "@" domain ">" with local and domain of the given lengths */
static char *
mkpath(size_t local, size_t labels, size_t label_len, size_t last_len)
{
    struct buf b;

    buf_init(&b, BUF_UNLIMITED);
    buf_putc(&b, '<');
    for (size_t i = 0; i < local; i++)
        buf_putc(&b, 'l');
    buf_putc(&b, '@');
    for (size_t l = 0; l < labels; l++) {
        for (size_t i = 0; i < label_len; i++)
            buf_putc(&b, 'd');
        buf_putc(&b, '.');
    }
    for (size_t i = 0; i < last_len; i++)
        buf_putc(&b, 'e');
    buf_putc(&b, '>');
    return buf_steal(&b);
}

static void
test_limits(void)
{
    static const struct {
        size_t local, labels, label_len, last;
        enum mailaddr_error err;
        const char *what;
    } limits[] = {
        {64, 0, 0, 3, OK, "local part of 64"},
        {65, 0, 0, 3, TL, "local part of 65"},
        {1, 0, 0, 63, OK, "label of 63"},
        {1, 0, 0, 64, TL, "label of 64"},
        /* path = 3 + local + domain, domain = 2 * 64 + last */
        {64, 2, 63, 61, OK, "path of 256"},
        {64, 2, 63, 62, TL, "path of 257"},
        {1, 3, 63, 63, TL, "domain of 255 in a path of 260"},
    };
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        char *p = mkpath(limits[i].local, limits[i].labels, limits[i].label_len, limits[i].last);
        struct mailaddr a;
        size_t used;
        is_int(mailaddr_parse_path(p, strlen(p), 0, &a, &used), limits[i].err, "%s (%zu)",
               limits[i].what, strlen(p));
        mailaddr_free(&a);
        free(p);
    }
    {
        char quoted[80] = "<\"";
        struct mailaddr a;
        size_t used;
        memset(quoted + 2, 'q', 62);
        strcpy(quoted + 64, "\"@x>");
        is_int(mailaddr_parse_path(quoted, strlen(quoted), 0, &a, &used), OK,
               "quoted local part of 64 with its quotes");
        mailaddr_free(&a);
        memmove(quoted + 3, quoted + 2, strlen(quoted + 2) + 1);
        is_int(mailaddr_parse_path(quoted, strlen(quoted), 0, &a, &used), TL,
               "quoted local part of 65 with its quotes");
    }
}

static void
test_host(void)
{
    static const struct {
        const char *host;
        bool literal_ok;
        enum mailaddr_error err;
        enum mailaddr_literal kind;
    } hosts[] = {
        {"mx.example.com", true, OK, MAILADDR_LIT_NONE},
        {"[192.0.2.1]", true, OK, MAILADDR_LIT_IPV4},
        {"[IPv6:::1]", true, OK, MAILADDR_LIT_IPV6},
        {"[x:y]", true, OK, MAILADDR_LIT_GENERAL},
        {"[192.0.2.1]", false, SY, MAILADDR_LIT_NONE},
        {"[192.0.2.1]x", true, SY, MAILADDR_LIT_NONE},
        {"mx.example.com.", true, SY, MAILADDR_LIT_NONE},
        {"mx_1", true, SY, MAILADDR_LIT_NONE},
        {"", true, SY, MAILADDR_LIT_NONE},
        {"a b", true, SY, MAILADDR_LIT_NONE},
        {"\xc3\xa4", true, NA, MAILADDR_LIT_NONE},
    };
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        struct mailaddr_host h;
        enum mailaddr_error err = mailaddr_parse_host(hosts[i].host, strlen(hosts[i].host),
                                                      hosts[i].literal_ok, false, &h);
        is_int(err, hosts[i].err, "host '%s'", hosts[i].host);
        if (err == OK) {
            is_int(h.literal, hosts[i].kind, "host '%s' kind", hosts[i].host);
            is_str(h.name, hosts[i].host, "host '%s' kept", hosts[i].host);
        }
        mailaddr_host_free(&h);
    }
}

/* Every canonical local part re-quotes into a path that parses back to the same local. */
static void
test_round_trip(void)
{
    const char *locals[] = {"a b", "a\"b", "a\\b", "",   ".",   "a.", "..",   "a@b",
                            "x",   "a.b",  "(c)",  "<>", "a,b", ":",  "\x7e", " "};
    for (size_t i = 0; i < sizeof(locals) / sizeof(locals[0]); i++) {
        struct buf b;
        struct mailaddr a;
        size_t used;
        buf_init(&b, 1024);
        buf_putc(&b, '<');
        mailaddr_quote_local(&b, locals[i]);
        buf_puts(&b, "@x>");
        is_int(mailaddr_parse_path(b.data, b.len, 0, &a, &used), OK, "re-quoted %s parses",
               buf_str(&b));
        is_str(a.local ? a.local : "(null)", locals[i], "round trip of '%s'", locals[i]);
        mailaddr_free(&a);
        buf_free(&b);
    }
}

int
main(void)
{
    test_table();
    test_used();
    test_limits();
    test_host();
    test_round_trip();
    {
        struct mailaddr a;
        size_t used = 0;
        ok(mailaddr_parse_path("<alice>", 7, MAILADDR_ALLOW_BARE, &a, &used) == MAILADDR_OK &&
               a.domain == NULL && strcmp(a.local, "alice") == 0 && used == 7,
           "ALLOW_BARE: <alice> is a local part without a domain");
        mailaddr_free(&a);
        ok(mailaddr_parse_path("<alice>", 7, 0, &a, &used) != MAILADDR_OK,
           "without it, <alice> is a syntax error");
        ok(mailaddr_parse_path("<@relay:alice>", 14, MAILADDR_ALLOW_BARE, &a, &used) != MAILADDR_OK,
           "a source route with no domain after it is still one");
    }
    return done_testing();
}
