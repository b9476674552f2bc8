/* core_map_static.c - static: tables answer every key with one value */
#include <stdlib.h>
#include <string.h>

#include "core/map.h"
#include "t/tap.h"

static const struct {
    const char *spec;
    const char *value; /* NULL: the open fails */
    const char *error;
} cases[] = {
    {"static:OK", "OK", NULL},
    {"static:{ REJECT with spaces, and commas }", "REJECT with spaces, and commas", NULL},
    {"static:{}", "", NULL},
    {"static:{ nested {braces} }", "nested {braces}", NULL},
    {"static:{ unbalanced", NULL, "unbalanced"},
    {"static:{ a } b", NULL, "text after the closing '}'"},
};

int
main(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct err err = {0};
        struct map *map = map_open(cases[i].spec, MAP_FOLD_FIXED, &err);
        const char *value = NULL;

        if (cases[i].value == NULL) {
            ok(map == NULL, "%s fails", cases[i].spec);
            like(err.text, cases[i].error, "... saying why");
            continue;
        }
        if (!ok(map != NULL, "open %s", cases[i].spec)) {
            diag("%s", err.text);
            continue;
        }
        is_int(map_lookup(map, "AnyKey", 0, &value, &err), MAP_FOUND, "any key is found");
        is_str(value, cases[i].value, "... with the value");
        is_int(map_lookup(map, "domain", MAP_LOOKUP_PARTIAL, &value, &err), MAP_FOUND,
               "partial keys too");
        map_close(map);
    }
    return done_testing();
}
