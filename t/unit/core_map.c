/* core_map.c - the table registry: names, types, sharing, lists, splitting */
#include <stdlib.h>
#include <string.h>

#include "core/map.h"
#include "core/mem.h"
#include "core/str.h"
#include "t/tap.h"

static void
test_open_errors(void)
{
    static const struct {
        const char *spec;
        const char *error;
    } cases[] = {
        {"bogus:/x", "unknown table type \"bogus\" (known: lmdb, hash,"},
        {"/etc/aliases", "expected a table as type:name"},
        {":x", "expected a table as type:name"},
        {"Hash:/x", "expected a table as type:name"},
        {"hash:", "empty table name"},
        {"lmdb:/nonexistent/x", "open /nonexistent/x.lmdb: No such file or directory"},
        {"texthash:/nonexistent/x", "open /nonexistent/x: No such file or directory"},
        {"pcre:/nonexistent/x", "open /nonexistent/x: No such file or directory"},
        {"cidr:/nonexistent/x", "open /nonexistent/x: No such file or directory"},
        {"inline:{ a=b", "unbalanced"},
        {"unionmap:{ inline:{a=b}, bogus:x }", "unknown table type \"bogus\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct err err = {0};
        struct map *map = map_open(cases[i].spec, MAP_FOLD_FIXED, &err);
        ok(map == NULL, "open %s fails", cases[i].spec);
        like(err.text, cases[i].error, "... saying why");
    }
}

static void
test_sharing(void)
{
    struct err err;
    struct map *a = map_open("inline:{a=1}", MAP_FOLD_FIXED, &err);
    struct map *b = map_open("inline:{a=1}", MAP_FOLD_FIXED, &err);
    struct map *c = map_open("inline:{a=1}", 0, &err);
    const char *value;

    ok(a && a == b, "the same table and flags share one handle");
    ok(c && c != a, "other flags get their own handle");
    map_close(a);
    ok(map_lookup(b, "A", 0, &value, &err) == MAP_FOUND && strcmp(value, "1") == 0,
       "a handle stays usable while referenced");
    is_str(map_spec(b), "inline:{a=1}", "the spec is kept");
    ok(!map_is_pattern(b), "inline is not a pattern table");
    map_close(b);
    map_close(c);
}

static void
test_split(void)
{
    static const struct {
        const char *text;
        const char *joined; /* tokens joined with '|', or NULL for an error */
    } cases[] = {
        {"", ""},
        {"hash:/a, pcre:/b", "hash:/a|pcre:/b"},
        {"  hash:/a\tpcre:/b ,,", "hash:/a|pcre:/b"},
        {"inline:{ a=b, c=d }, static:x", "inline:{ a=b, c=d }|static:x"},
        {"unionmap:{ inline:{a=b}, static:{ x y } }", "unionmap:{ inline:{a=b}, static:{ x y } }"},
        {"inline:{ a=b", NULL},
        {"inline:a=b }", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct strvec sv;
        struct err err;
        char joined[512] = "";
        bool good;

        strvec_init(&sv);
        good = map_split(cases[i].text, &sv, &err);
        for (size_t j = 0; j < sv.n; j++) {
            strcat(joined, j ? "|" : "");
            strcat(joined, sv.v[j]);
        }
        if (cases[i].joined)
            ok(good && strcmp(joined, cases[i].joined) == 0, "split '%s' -> '%s'", cases[i].text,
               joined);
        else
            ok(!good, "split '%s' fails", cases[i].text);
        strvec_free(&sv);
    }
}

static void
test_list(void)
{
    struct err err;
    struct map_list *list;
    const char *value = NULL;
    char *path = tap_write_file("slow.pcre", "/^(\\w+\\s?)*$/ slow\n");
    char *text;

    list = map_list_open("inline:{a=first}, inline:{ a=second, b=2 }, static:{ any key }",
                         MAP_FOLD_FIXED, &err);
    ok(list != NULL, "open a list");
    ok(map_list_lookup(list, "a", 0, &value, &err) == MAP_FOUND && strcmp(value, "first") == 0,
       "the first table that has the key wins");
    ok(map_list_lookup(list, "B", 0, &value, &err) == MAP_FOUND && strcmp(value, "2") == 0,
       "later tables are searched");
    ok(map_list_lookup(list, "zz", 0, &value, &err) == MAP_FOUND && strcmp(value, "any key") == 0,
       "static answers everything");
    map_list_close(list);

    ok(map_list_open("inline:{a=b}, bogus:x", 0, &err) == NULL, "a bad member fails the list");
    like(err.text, "bogus", "... naming it");

    text = xasprintf("pcre:%s, inline:{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!=found}", path);
    list = map_list_open(text, 0, &err);
    ok(list != NULL, "open pcre + inline");
    ok(map_list_lookup(list, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", 0, &value, &err) ==
           MAP_ERROR,
       "an error in an earlier table is not hidden by a later table that has the key");
    like(err.text, "matching failed", "... and says why");
    map_list_close(list);
    free(text);
    free(path);
}

static void
test_build_and_walk(void)
{
    struct err err;
    struct map *map = map_open("static:x", 0, &err);

    ok(!map_walk(map, NULL, NULL, &err), "static cannot be listed");
    like(err.text, "cannot list", "... says so");
    map_close(map);
    ok(!map_build("pcre:/x", 0, &err), "pcre tables are not built");
    like(err.text, "nothing to build", "... says so");
    ok(map_type_buildable("hash") && map_type_buildable("lmdb") &&
           !map_type_buildable("texthash") && !map_type_buildable("bogus"),
       "only lmdb and hash are buildable");
}

int
main(void)
{
    test_open_errors();
    test_sharing();
    test_split();
    test_list();
    test_build_and_walk();
    return done_testing();
}
