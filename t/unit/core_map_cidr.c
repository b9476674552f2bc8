/* core_map_cidr.c - cidr: tables in cidr_table(5) syntax, good and malformed */
#include <stdlib.h>
#include <string.h>

#include "core/map.h"
#include "core/mem.h"
#include "t/maptest.h"
#include "t/tap.h"

static const char table[] = "# cidr test table\n"
                            "192.0.2.1          exact host\n"
                            "192.0.2.0/24       v4 net\n"
                            "[2001:db8::1]      v6 host in brackets\n"
                            "2001:db8::/32      v6 net\n"
                            "[::1]/128          v6 loopback bracketed\n"
                            "if 10.0.0.0/8\n"
                            "if !10.1.0.0/16\n"
                            "10.0.0.0/9         low ten\n"
                            "endif\n"
                            "10.1.2.0/23        ten-one\n"
                            "endif\n"
                            "198.51.100.128/25  upper half\n"
                            "!198.51.100.0/24   outside v4\n"
                            "0.0.0.0/0          any v4\n"
                            "::/0               any v6\n";

static const struct maptest_lookup lookups[] = {
    {"192.0.2.1", MAP_FOUND, "exact host"},
    {"192.0.2.200", MAP_FOUND, "v4 net"},
    {"2001:db8::1", MAP_FOUND, "v6 host in brackets"},
    {"2001:0db8:0:0::1", MAP_FOUND, "v6 host in brackets"},
    {"2001:db8:ffff::2", MAP_FOUND, "v6 net"},
    {"::1", MAP_FOUND, "v6 loopback bracketed"},
    {"10.2.3.4", MAP_FOUND, "low ten"},
    {"10.1.3.4", MAP_FOUND, "ten-one"},
    {"10.1.4.4", MAP_FOUND, "outside v4"},
    {"10.200.0.1", MAP_FOUND, "outside v4"},
    {"198.51.100.200", MAP_FOUND, "upper half"},
    {"198.51.100.1", MAP_FOUND, "any v4"},
    {"10.0.0.1", MAP_FOUND, "low ten"},
    {"10.1.0.1", MAP_FOUND, "outside v4"},
    {"203.0.113.9", MAP_FOUND, "outside v4"},
    {"fe80::1", MAP_FOUND, "any v6"},
    {"not-an-address", MAP_NOTFOUND, NULL},
    {"[192.0.2.1]", MAP_NOTFOUND, NULL},
    {"", MAP_NOTFOUND, NULL},
};

static const struct maptest_malformed malformed[] = {
    {"192.0.2.1/24 x\n", "bad, line 1: 192.0.2.1/24 has host bits set beyond the prefix"},
    {"2001:db8::1/32 x\n", "line 1: 2001:db8::1/32 has host bits set"},
    {"192.0.2.0/33 x\n", "line 1: bad prefix length \"/33\""},
    {"2001:db8::/129 x\n", "line 1: bad prefix length \"/129\""},
    {"192.0.2.0/ x\n", "line 1: bad prefix length \"/\""},
    {"192.0.2.0/-1 x\n", "line 1: bad prefix length"},
    {"192.0.2.0/2x x\n", "line 1: bad prefix length"},
    {"192.0.2.256 x\n", "line 1: bad address \"192.0.2.256\""},
    {"example.com x\n", "line 1: bad address \"example.com\""},
    {"[::1 x\n", "line 1: bad address pattern"},
    {"[::1]x x\n", "line 1: bad address pattern"},
    {"192.0.2.0/24\n", "line 1: missing result"},
    {"a b\n\n192.0.2.0/24 x\n", "line 1: bad address \"a\""},
    {"endif\n", "line 1: endif without if"},
    {"if 10.0.0.0/8\n10.0.0.1 x\n", "line 1: if without endif"},
    {"if 10.0.0.0/8 x\nendif\n", "line 1: text after the if pattern"},
    {"if\nendif\n", "line 1: missing address pattern"},
};

static void
test_lookups(void)
{
    char *path = tap_write_file("table.cidr", table);
    char *spec = xasprintf("cidr:%s", path);
    struct err err;
    struct map *map = map_open(spec, MAP_FOLD_FIXED, &err);

    if (!ok(map != NULL, "open %s", spec)) {
        diag("%s", err.text);
        return;
    }
    ok(map_is_pattern(map), "cidr is a pattern table");
    maptest_lookups(map, lookups, MAPTEST_COUNT(lookups));
    map_close(map);
    free(spec);
    free(path);
}

int
main(void)
{
    test_lookups();
    maptest_malformed("cidr", 0, malformed, MAPTEST_COUNT(malformed));
    return done_testing();
}
