/* mail_milter_macro.c - macro lists per stage: Postfix's defaults, names, values, the packet */
#include <string.h>

#include "core/buf.h"
#include "mail/milter_macro.h"
#include "t/tap.h"

/* lookup - a session that knows j, client_addr and i */
static const char *
lookup(void *ctx, const char *bare)
{
    static const char *const known[][2] = {
        {"j", "mx.test"}, {"client_addr", "192.0.2.1"}, {"i", "4XQID"}};

    (void)ctx;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(bare, known[i][0]) == 0)
            return known[i][1];
    return NULL;
}

static void
test_defaults(void)
{
    struct milter_macros mm;

    like(milter_macro_default(MILTER_STAGE_CONNECT), "{daemon_name}", "connect's default");
    like(milter_macro_default(MILTER_STAGE_MAIL), "{mail_addr}", "mail's default");
    is_str(milter_macro_default(MILTER_STAGE_EOH), "i", "eoh's default");
    milter_macros_build(&mm, milter_macro_default(MILTER_STAGE_CONNECT), lookup, NULL);
    is_int((long long)mm.n, 7, "seven names at connect");
    is_str(mm.m[0].name, "j", "j first");
    is_str(mm.m[0].value, "mx.test", "with its value");
    is_str(mm.m[5].name, "{client_addr}", "the wire name keeps its braces");
    is_str(mm.m[5].value, "192.0.2.1", "the lookup got the bare name");
    ok(mm.m[1].value == NULL, "_ unknown here: no value");
    milter_macros_free(&mm);
}

/* A milter's own list, with commas and odd names; the packet leaves out valueless ones. */
static void
test_packet(void)
{
    struct milter_macros mm;
    struct buf b;

    milter_macros_build(&mm, "i,{j} {} {client_addr}", lookup, NULL);
    is_int((long long)mm.n, 4, "four names");
    is_str(mm.m[1].value, "mx.test", "{j} is j");
    ok(mm.m[2].value == NULL, "{} has no value");
    buf_init(&b, BUF_UNLIMITED);
    milter_put_macros(&b, MILTER_CMD_DATA, mm.m, mm.n);
    ok(b.len == 50 && memcmp(b.data + 4,
                             "DTi\0"
                             "4XQID\0{j}\0mx.test\0{client_addr}\0"
                             "192.0.2.1\0",
                             46) == 0,
       "the macro packet");
    buf_free(&b);
    milter_macros_free(&mm);
    milter_macros_build(&mm, NULL, lookup, NULL);
    is_int((long long)mm.n, 0, "no list, no macros");
    milter_macros_free(&mm);
}

int
main(void)
{
    test_defaults();
    test_packet();
    return done_testing();
}
