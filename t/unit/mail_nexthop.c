/* mail_nexthop.c - next hops as smtp-out reads them (Postfix's [host]:port syntax) */
#include <stddef.h>

#include "mail/nexthop.h"
#include "t/tap.h"

int
main(void)
{
    static const struct {
        const char *text;
        bool good;
        const char *host;
        unsigned port;
        bool mx, literal;
    } cases[] = {
        {"[127.0.0.1]:2525", true, "127.0.0.1", 2525, false, true},
        {"[127.0.0.1]", true, "127.0.0.1", 25, false, true},
        {"[localhost]:26", true, "localhost", 26, false, false},
        {"[mail.example.com]", true, "mail.example.com", 25, false, false},
        {"[2001:db8::1]:587", true, "2001:db8::1", 587, false, true},
        {"[ipv6:2001:db8::1]", true, "2001:db8::1", 25, false, true},
        {"example.com", true, "example.com", 25, true, false},
        {"example.com:2525", true, "example.com", 2525, true, false},
        {"192.0.2.1", true, "192.0.2.1", 25, false, true},
        {"[127.0.0.1]:0", false, "", 0, false, false},
        {"[127.0.0.1]:65536", false, "", 0, false, false},
        {"[127.0.0.1]:x", false, "", 0, false, false},
        {"[127.0.0.1", false, "", 0, false, false},
        {"[127.0.0.1]x", false, "", 0, false, false},
        {"[]", false, "", 0, false, false},
        {"[bad host]", false, "", 0, false, false},
        {"", false, "", 0, false, false},
        {"[a..b]:25", false, "", 0, false, false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct nexthop nh;
        struct err err;
        bool good = nexthop_parse(cases[i].text, &nh, &err);

        ok(good == cases[i].good, "\"%s\" %s", cases[i].text, cases[i].good ? "parses" : "fails");
        if (!good || !cases[i].good)
            continue;
        is_str(nh.host, cases[i].host, "\"%s\" host", cases[i].text);
        is_int(nh.port, cases[i].port, "\"%s\" port", cases[i].text);
        ok(nh.mx == cases[i].mx && nh.literal == cases[i].literal, "\"%s\" kind", cases[i].text);
    }
    return done_testing();
}
