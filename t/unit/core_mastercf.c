/* core_mastercf.c - master.cf columns, listen addresses, -o overrides, and every error */
#include <stdlib.h>
#include <string.h>

#include "core/mastercf.h"
#include "t/tap.h"

static void
test_good(void)
{
    const char *text = "# comment\n"
                       "smtp      inet  n       -       n       -       -       smtpd\n"
                       "127.0.0.1:2525 inet n - y - 20 smtpd -v\n"
                       "[::1]:25  inet  n       -       n       -       -       smtpd\n"
                       "*:587     inet  n       -       n       -       -       submission\n"
                       "  -o syslog_name=postern/submission\n"
                       "\n"
                       "  -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }\n"
                       "  -o smtpd_sender_restrictions=$mua_sender_restrictions\n"
                       "qmgr      unix  n       -       n       300     1       qmgr\n"
                       "pickup    fifo  n       -       n       60?     1       pickup\n";
    struct mastercf mcf;
    struct err err;
    const struct mastercf_entry *e;

    mastercf_init(&mcf);
    ok(mastercf_read_text(&mcf, "master.cf", text, &err), "a Postfix-style master.cf parses");
    is_int((long long)mcf.n, 6, "six entries");
    e = mastercf_find(&mcf, "smtp", "inet");
    ok(e && e->host == NULL && strcmp(e->port, "25") == 0 && e->private_sock == 0 &&
           e->unpriv == MASTERCF_DEFAULT && e->maxproc == MASTERCF_DEFAULT,
       "smtp is port 25 on every address, defaults kept as defaults");
    e = mastercf_find(&mcf, "127.0.0.1:2525", "inet");
    ok(e && strcmp(e->host, "127.0.0.1") == 0 && strcmp(e->port, "2525") == 0 && e->chroot == 1 &&
           e->maxproc == 20 && e->args.n == 1 && strcmp(e->args.v[0], "-v") == 0,
       "host:port, chroot, maxproc and plain arguments");
    e = mastercf_find(&mcf, "[::1]:25", "inet");
    ok(e && strcmp(e->host, "::1") == 0, "an IPv6 address in brackets");
    e = mastercf_find(&mcf, "*:587", "inet");
    ok(e && e->host == NULL && e->opt_names.n == 3, "*:port and three overrides");
    is_str(e ? e->opt_values.v[1] : NULL, "permit_sasl_authenticated, reject",
           "-o { name = value with spaces }");
    is_str(e ? e->opt_names.v[1] : NULL, "smtpd_client_restrictions", "its name is trimmed");
    is_int(e ? e->line : 0, 5, "the entry knows its first line");
    e = mastercf_find(&mcf, "qmgr", "unix");
    ok(e && e->wakeup == 300 && !e->wakeup_if_running && e->maxproc == 1, "wakeup and maxproc");
    e = mastercf_find(&mcf, "pickup", "fifo");
    ok(e && e->wakeup == 60 && e->wakeup_if_running, "wakeup with '?'");
    mastercf_free(&mcf);
}

static void
test_bad(void)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"smtp inet n - n - - \n", "master.cf, line 1: smtp: expected at least 8 columns"},
        {"smtp tcp n - n - - smtpd\n", "line 1: bad type \"tcp\""},
        {"smtp inet x - n - - smtpd\n", "line 1: bad private column \"x\""},
        {"smtp inet n - n - many smtpd\n", "line 1: bad maxproc column \"many\""},
        {"smtp inet n - n -5 - smtpd\n", "line 1: bad wakeup column \"-5\""},
        {"nosuchport inet n - n - - smtpd\n", "line 1: bad port \"nosuchport\""},
        {"1.2.3.4:70000 inet n - n - - smtpd\n", "line 1: bad port \"70000\""},
        {"::1:25 inet n - n - - smtpd\n", "write IPv6 as [addr]:port"},
        {"[::1:25 inet n - n - - smtpd\n", "bad IPv6 listen address"},
        {"smtp inet y - n - - smtpd\n", "an inet service cannot be private"},
        {"x unix n - n - - prog -o\n", "line 1: -o without a value"},
        {"x unix n - n - - prog -o novalue\n", "-o \"novalue\": expected name=value"},
        {"x unix n - n - - prog -o { a = b\n", "unbalanced '{'"},
        {"  x unix n - n - - prog\n", "line 1: continuation line without an entry"},
        {"../x unix n - n - - prog\n", "bad service name"},
        {"x unix n - n - - a\nx unix n - n - - b\n", "line 2: duplicate service x"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mastercf mcf;
        struct err err = {0};

        mastercf_init(&mcf);
        ok(!mastercf_read_text(&mcf, "master.cf", cases[i].text, &err), "bad entry %zu refused", i);
        like(err.text, cases[i].want, "with a clear reason");
        mastercf_free(&mcf);
    }
}

int
main(void)
{
    test_good();
    test_bad();
    return done_testing();
}
