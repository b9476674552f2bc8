/* maptest.h - table-driven lookups and malformed-source checks shared by the map unit tests */
#ifndef T_MAPTEST_H
#define T_MAPTEST_H

#include <stdlib.h>

#include "core/map.h"
#include "core/mem.h"
#include "t/tap.h"

struct maptest_lookup {
    const char *key;
    enum map_status status;
    const char *value; /* checked when not NULL */
};

struct maptest_malformed {
    const char *text;
    const char *error; /* a substring of the open error */
};

#define MAPTEST_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* maptest_lookups - every case's status, and its value where one is given */
static inline void
maptest_lookups(struct map *map, const struct maptest_lookup *cases, size_t n)
{
    struct err err;

    for (size_t i = 0; i < n; i++) {
        const char *value = NULL;

        is_int(map_lookup(map, cases[i].key, 0, &value, &err), cases[i].status, "lookup '%s'",
               cases[i].key);
        if (cases[i].value)
            is_str(value, cases[i].value, "... value");
    }
}

/* maptest_malformed - each source, written as a table of type, fails to open as it says */
static inline void
maptest_malformed(const char *type, int flags, const struct maptest_malformed *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *path = tap_write_file("bad", cases[i].text);
        char *spec = xasprintf("%s:%s", type, path);
        struct err err = {0};

        ok(map_open(spec, flags, &err) == NULL, "malformed %s table %zu fails", type, i);
        like(err.text, cases[i].error, "... with file and line");
        free(spec);
        free(path);
    }
}

#endif
