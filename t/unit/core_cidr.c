/* core_cidr.c - addresses and networks: the forms accepted, the errors, membership */
#include <string.h>

#include "core/cidr.h"
#include "t/tap.h"

int
main(void)
{
    static const struct {
        const char *net, *addr;
        bool member;
    } members[] = {
        {"127.0.0.0/8", "127.1.2.3", true},
        {"127.0.0.0/8", "128.0.0.1", false},
        {"192.0.2.128/25", "192.0.2.129", true},
        {"192.0.2.128/25", "192.0.2.127", false},
        {"[::1]/128", "::1", true},
        {"::1", "::2", false},
        {"[2001:db8::]/32", "2001:db8:1::5", true},
        {"2001:db8::/32", "2001:db9::", false},
        {"0.0.0.0/0", "203.0.113.9", true},
        {"0.0.0.0/0", "::1", false},
        {"::/0", "::1", true},
        {"[::ffff:0:0]/96", "::ffff:1.2.3.4", true},
    };
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"192.0.2.1/24", "192.0.2.1/24 has host bits set beyond the prefix"},
        {"192.0.2.0/33", "bad prefix length \"/33\" for 192.0.2.0"},
        {"192.0.2.0/", "bad prefix length \"/\" for 192.0.2.0"},
        {"192.0.2.0/-1", "bad prefix length"},
        {"mail.example.com", "bad address \"mail.example.com\""},
        {"[::1", "bad address pattern \"[::1\""},
        {"[::1]x", "bad address pattern"},
        {"300.1.1.1", "bad address \"300.1.1.1\""},
        {"", "bad address \"\""},
    };
    struct err why;

    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        struct cidr net, addr;
        ok(cidr_parse(members[i].net, &net, &why) && cidr_parse_addr(members[i].addr, &addr) &&
               cidr_contains(&net, &addr) == members[i].member,
           "%s %s %s", members[i].addr, members[i].member ? "in" : "not in", members[i].net);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cidr net;
        ok(!cidr_parse(bad[i].text, &net, &why), "\"%s\" is refused", bad[i].text);
        like(why.text, bad[i].why, "because: %s", why.text);
    }
    return done_testing();
}
