/* core_map_pcre.c - pcre: tables in pcre_table(5) syntax, good and malformed */
#include <stdlib.h>
#include <string.h>

#include "core/map.h"
#include "core/mem.h"
#include "t/maptest.h"
#include "t/tap.h"

static const char table[] = "# pcre test table\n"
                            "/^(.*)@example\\.com$/      local $1 and $$ and ${1}x\n"
                            "/^CaSe@/                    case-insensitive by default\n"
                            "/^exact@/i                  i toggles to case-sensitive\n"
                            "!/@/                        no at sign\n"
                            "if /\\.org$/\n"
                            "if !/^spam/\n"
                            "/^(a)|(b)@/                 a=$1 b=$2\n"
                            "endif\n"
                            "/^spam/                     spam in org\n"
                            "endif\n"
                            "#/^never/ commented out\n"
                            "/^multi\n"
                            "  line/x                    continued, x ignores the space\n"
                            "|a/b|                       alternate delimiter\n"
                            "/^x\\/y@$/                   escaped delimiter\n"
                            "/^dot.all@$/s                dotall\n"
                            "/^anch/A                    anchored\n"
                            "/^(?:ab)+?/U                ungreedy\n"
                            "/^line$/m                   multiline\n"
                            "/end$/E                     dollar end only\n"
                            "/^extra/X                   X is accepted\n";

static const struct maptest_lookup lookups[] = {
    {"joe@example.com", MAP_FOUND, "local joe and $ and joex"},
    {"JOE@EXAMPLE.COM", MAP_FOUND, "local JOE and $ and JOEx"},
    {"case@x", MAP_FOUND, "case-insensitive by default"},
    {"exact@x", MAP_FOUND, "i toggles to case-sensitive"},
    {"EXACT@x", MAP_NOTFOUND, NULL},
    {"nohost", MAP_FOUND, "no at sign"},
    {"a@x.org", MAP_FOUND, "a=a b="},
    {"b@x.org", MAP_FOUND, "a= b=b"},
    {"spama@x.org", MAP_FOUND, "spam in org"},
    {"c@x.org", MAP_NOTFOUND, NULL},
    {"a@x.net", MAP_NOTFOUND, NULL},
    {"never@x", MAP_NOTFOUND, NULL},
    {"multiline@x", MAP_FOUND, "continued, x ignores the space"},
    {"x/a/b@y", MAP_FOUND, "alternate delimiter"},
    {"x/y@", MAP_FOUND, "escaped delimiter"},
    {"dot\nall@", MAP_FOUND, "dotall"},
    {"line\nnext@x", MAP_FOUND, "multiline"},
    {"@end\n", MAP_NOTFOUND, NULL},
    {"@end", MAP_FOUND, "dollar end only"},
    {"extra@x", MAP_FOUND, "X is accepted"},
};

static const struct maptest_malformed malformed[] = {
    {"/a(/ x\n", "bad, line 1: error in pattern \"a(\" at offset 2: missing closing parenthesis"},
    {"/abc x\n", "line 1: missing closing delimiter '/'"},
    {"/a/q x\n", "line 1: unknown pattern flag 'q'"},
    {"/a/\n", "line 1: missing result"},
    {"abc x\n", "line 1: expected /pattern/"},
    {"/(a)/ $2\n", "line 1: $2 is out of range: the pattern has 1 groups"},
    {"/(a)/ $0\n", "line 1: $0 is out of range"},
    {"/(a)/ $x\n", "line 1: expected $number, ${number} or $$"},
    {"/(a)/ ${1\n", "line 1: expected $number"},
    {"!/(a)/ $1\n", "line 1: $1 in the result of a negated pattern"},
    {"/a/ b\nendif\n", "line 2: endif without if"},
    {"if /a/\n/b/ c\n", "line 1: if without endif"},
    {"if /a/ x\nendif\n", "line 1: text after the if pattern"},
    {"if /a/\nendif x\n", "line 2: text after endif"},
    {"  /a/ b\n", "line 1: continuation line"},
};

static void
test_lookups(void)
{
    char *path = tap_write_file("table.pcre", table);
    char *spec = xasprintf("pcre:%s", path);
    struct err err;
    struct map *map = map_open(spec, MAP_FOLD_FIXED, &err);

    if (!ok(map != NULL, "open %s", spec)) {
        diag("%s", err.text);
        return;
    }
    ok(map_is_pattern(map), "pcre is a pattern table");
    maptest_lookups(map, lookups, MAPTEST_COUNT(lookups));
    is_int(map_lookup(map, "nohost", MAP_LOOKUP_PARTIAL, NULL, &err), MAP_NOTFOUND,
           "a partial key is never matched");
    map_close(map);
    free(spec);
    free(path);
}

static void
test_match_limit(void)
{
    char *path = tap_write_file("slow.pcre", "/^(\\w+\\s?)*$/ slow\n");
    char *spec = xasprintf("pcre:%s", path);
    struct err err = {0};
    struct map *map = map_open(spec, 0, &err);
    const char *value;

    ok(map != NULL, "open a table with a pathological pattern");
    is_int(map_lookup(map, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", 0, &value, &err),
           MAP_ERROR, "catastrophic backtracking is an error, not a hang");
    like(err.text, "line 1: matching failed: match limit exceeded", "... naming the rule");
    map_close(map);
    free(spec);
    free(path);
}

int
main(void)
{
    test_lookups();
    maptest_malformed("pcre", 0, malformed, MAPTEST_COUNT(malformed));
    test_match_limit();
    return done_testing();
}
