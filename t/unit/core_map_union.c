/* core_map_union.c - unionmap:{ ... } joins the values of every member that has the key */
#include <stdlib.h>
#include <string.h>

#include "core/map.h"
#include "core/mem.h"
#include "t/tap.h"

static const struct {
    const char *key;
    int flags;
    enum map_status status;
    const char *value;
} lookups[] = {
    {"a", 0, MAP_FOUND, "1,one"},
    {"B", 0, MAP_FOUND, "2"},
    {"c", 0, MAP_FOUND, "three"},
    {"x@pcre", 0, MAP_FOUND, "from pcre"},
    {"x@pcre", MAP_LOOKUP_PARTIAL, MAP_NOTFOUND, NULL},
    {"a", MAP_LOOKUP_PARTIAL, MAP_FOUND, "1,one"},
    {"zz", 0, MAP_NOTFOUND, NULL},
};

static const struct {
    const char *spec;
    const char *error;
} malformed[] = {
    {"unionmap:{}", "no tables"},
    {"unionmap:inline:{a=b}", "expected unionmap:{ type:name, ... }"},
    {"unionmap:{ inline:{a=b}", "unbalanced"},
    {"unionmap:{ inline:{a=b}, nosuch:x }", "unknown table type \"nosuch\""},
    {"unionmap:{ inline:{a} }", "expected key=value"},
};

int
main(void)
{
    char *pcre = tap_write_file("u.pcre", "/@pcre$/ from pcre\n/^slow(\\w+\\s?)*$/ slow\n");
    char *spec =
        xasprintf("unionmap:{ inline:{a=1, b=2}, inline:{ a=one, c=three }, pcre:%s }", pcre);
    struct err err;
    struct map *map = map_open(spec, MAP_FOLD_FIXED, &err);
    const char *value = NULL;

    if (!ok(map != NULL, "open %s", spec))
        diag("%s", err.text);
    for (size_t i = 0; map && i < sizeof(lookups) / sizeof(lookups[0]); i++) {
        is_int(map_lookup(map, lookups[i].key, lookups[i].flags, &value, &err), lookups[i].status,
               "lookup '%s' (flags %d)", lookups[i].key, lookups[i].flags);
        if (lookups[i].value)
            is_str(value, lookups[i].value, "... value");
    }
    if (map) {
        is_int(map_lookup(map, "slowaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", 0, &value, &err),
               MAP_ERROR, "an error in one member is an error of the union");
        like(err.text, "match limit", "... with the member's reason");
    }
    map_close(map);
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        err.text[0] = 0;
        ok(map_open(malformed[i].spec, 0, &err) == NULL, "%s fails", malformed[i].spec);
        like(err.text, malformed[i].error, "... saying why");
    }
    free(spec);
    free(pcre);
    return done_testing();
}
