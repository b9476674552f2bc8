/* core_map_inline.c - inline:{ ... } tables, good and malformed */
#include <stdlib.h>
#include <string.h>

#include "core/map.h"
#include "t/tap.h"

static const struct {
    const char *spec;
    int flags;
    const char *key;
    enum map_status status;
    const char *value;
} lookups[] = {
    {"inline:{ a=1, B=2 }", MAP_FOLD_FIXED, "a", MAP_FOUND, "1"},
    {"inline:{ a=1, B=2 }", MAP_FOLD_FIXED, "b", MAP_FOUND, "2"},
    {"inline:{ a=1, B=2 }", MAP_FOLD_FIXED, "B", MAP_FOUND, "2"},
    {"inline:{ a=1, B=2 }", 0, "B", MAP_FOUND, "2"},
    {"inline:{ a=1, B=2 }", 0, "b", MAP_NOTFOUND, NULL},
    {"inline:{a=1,b=2}", MAP_FOLD_FIXED, "b", MAP_FOUND, "2"},
    {"inline:{ { key = value with spaces, and commas }, x=y }", MAP_FOLD_FIXED, "key", MAP_FOUND,
     "value with spaces, and commas"},
    {"inline:{ { key = value with spaces, and commas }, x=y }", MAP_FOLD_FIXED, "x", MAP_FOUND,
     "y"},
    {"inline:{ a==b }", MAP_FOLD_FIXED, "a", MAP_FOUND, "=b"},
    {"inline:{ a= }", MAP_FOLD_FIXED, "a", MAP_FOUND, ""},
    {"inline:{ a=1 a=2 }", MAP_FOLD_FIXED, "a", MAP_FOUND, "1"},
    {"inline:{ a=1 }", MAP_FOLD_FIXED, "", MAP_NOTFOUND, NULL},
};

static const struct {
    const char *spec;
    const char *error;
} malformed[] = {
    {"inline:{ a=1", "unbalanced"},
    {"inline:{ a=1 }}", "text after the closing '}'"},
    {"inline:{ {a=1 }", "unbalanced"},
    {"inline:a=1", "expected inline:{ key=value, ... }"},
    {"inline:{ a }", "expected key=value, got \"a\""},
    {"inline:{ =a }", "expected key=value"},
    {"inline:{ { = a } }", "expected key=value, got \"{ = a }\""},
    {"inline:{ }", "empty table"},
    {"inline:{ a=1 } x", "text after the closing '}'"},
};

static bool
count(void *ctx, const char *key, const char *value)
{
    (*(int *)ctx)++;
    return true;
}

int
main(void)
{
    struct err err;
    struct map *map;
    int n = 0;

    for (size_t i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
        const char *value = NULL;

        map = map_open(lookups[i].spec, lookups[i].flags, &err);
        if (!ok(map != NULL, "open %s", lookups[i].spec)) {
            diag("%s", err.text);
            continue;
        }
        is_int(map_lookup(map, lookups[i].key, 0, &value, &err), lookups[i].status,
               "lookup '%s' (flags %d)", lookups[i].key, lookups[i].flags);
        if (lookups[i].value)
            is_str(value, lookups[i].value, "... value");
        map_close(map);
    }
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        err.text[0] = 0;
        ok(map_open(malformed[i].spec, 0, &err) == NULL, "%s fails", malformed[i].spec);
        like(err.text, malformed[i].error, "... saying why");
    }
    map = map_open("inline:{ a=1, b=2, {c = 3} }", 0, &err);
    ok(map && map_walk(map, count, &n, &err) && n == 3, "walk sees every entry");
    map_close(map);
    return done_testing();
}
