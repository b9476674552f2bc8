/*
 * mail_addr_list.c - addr-specs out of address lists as headers and sendmail arguments
 * write them: names, comments, groups, routes and quotes; and refusals of what is broken.
 */
#include <string.h>

#include "core/buf.h"
#include "mail/addr_list.h"
#include "t/tap.h"

static const struct {
    const char *in;
    const char *want; /* addresses joined with " | ", or NULL for a refusal */
} cases[] = {
    {"bob@example.com", "bob@example.com"},
    {"bob", "bob"},
    {"Bob Smith <bob@example.com>", "bob@example.com"},
    {"\"Smith, Bob\" <bob@example.com>, carol@example.org", "bob@example.com | carol@example.org"},
    {"bob@example.com (Bob Smith)", "bob@example.com"},
    {"(comment (nested) \\) ) bob @ example.com", "bob@example.com"},
    {"undisclosed-recipients:;", ""},
    {"friends: a@x.example, b@y.example;, c@z.example", "a@x.example | b@y.example | c@z.example"},
    {"<@relay.example,@r2.example:bob@example.com>", "bob@example.com"},
    {"\"a b\"@example.com", "\"a b\"@example.com"},
    {"Bob <\"odd \\\" one\"@example.com>", "\"odd \\\" one\"@example.com"},
    {"user@[192.0.2.1]", "user@[192.0.2.1]"},
    {"a@x.example,\r\n\tb@y.example", "a@x.example | b@y.example"},
    {"<>", ""},
    {"", ""},
    {" , ,a@b.example", "a@b.example"},
    {"Bob Smith", NULL},
    {"\"unterminated@example.com", NULL},
    {"(open comment bob@example.com", NULL},
    {"<bob@example.com", NULL},
    {"bob@example.com>", NULL},
    {"<a@b.example> <c@d.example>", NULL},
    {"<a@b.example, c@d.example>", NULL},
    {"user@[192.0.2.1", NULL},
};

int
main(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct strvec out;
        struct buf joined;
        struct err err;
        bool good;

        strvec_init(&out);
        strvec_add(&out, "kept");
        good = addr_list_parse(cases[i].in, strlen(cases[i].in), &out, &err);
        buf_init(&joined, BUF_UNLIMITED);
        buf_puts(&joined, "");
        for (size_t j = 1; j < out.n; j++)
            buf_printf(&joined, "%s%s", j > 1 ? " | " : "", out.v[j]);
        int shown = (int)strcspn(cases[i].in, "\r\n"); /* the first line of the case */

        if (cases[i].want == NULL)
            ok(!good && out.n == 1 && *err.text, "refused: %.*s (%s)", shown, cases[i].in,
               err.text);
        else if (ok(good, "parsed: %.*s", shown, cases[i].in))
            is_str(buf_str(&joined), cases[i].want, "  gives %s", cases[i].want);
        buf_free(&joined);
        strvec_free(&out);
    }
    {
        char longer[ADDR_LIST_ADDR_MAX + 20];
        struct strvec out;
        struct err err;

        memset(longer, 'a', sizeof(longer) - 1);
        longer[sizeof(longer) - 1] = 0;
        strvec_init(&out);
        ok(!addr_list_parse(longer, strlen(longer), &out, &err) && out.n == 0,
           "an address past ADDR_LIST_ADDR_MAX is refused (%s)", err.text);
        strvec_free(&out);
    }
    return done_testing();
}
