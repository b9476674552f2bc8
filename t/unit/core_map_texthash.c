/* core_map_texthash.c - texthash: and the postmap source format it shares with lmdb: */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/map.h"
#include "core/mem.h"
#include "t/maptest.h"
#include "t/tap.h"

static const char source[] = "# a comment\n"
                             "Alice@Example.COM   alice@mailbox.example\n"
                             "\n"
                             "   # an indented comment\n"
                             "list  one, two,\n"
                             "\tthree\r\n"
                             "spaces\t  value with  inner  space   \n"
                             "list  duplicate, ignored\n"
                             "UPPER UPPER value keeps its case\n";

static const struct {
    int flags;
    const char *key;
    enum map_status status;
    const char *value;
} lookups[] = {
    {MAP_FOLD_FIXED, "alice@example.com", MAP_FOUND, "alice@mailbox.example"},
    {MAP_FOLD_FIXED, "ALICE@example.com", MAP_FOUND, "alice@mailbox.example"},
    {MAP_FOLD_FIXED, "list", MAP_FOUND, "one, two, three"},
    {MAP_FOLD_FIXED, "spaces", MAP_FOUND, "value with  inner  space"},
    {MAP_FOLD_FIXED, "upper", MAP_FOUND, "UPPER value keeps its case"},
    {MAP_FOLD_FIXED, "#", MAP_NOTFOUND, NULL},
    {MAP_FOLD_FIXED, "", MAP_NOTFOUND, NULL},
    {MAP_FOLD_FIXED, "three", MAP_NOTFOUND, NULL},
    {MAP_FOLD_FIXED, "alice", MAP_NOTFOUND, NULL},
    {0, "Alice@Example.COM", MAP_FOUND, "alice@mailbox.example"},
    {0, "alice@example.com", MAP_NOTFOUND, NULL},
    {0, "UPPER", MAP_FOUND, "UPPER value keeps its case"},
};

static const struct maptest_malformed malformed[] = {
    {"key\n", "bad, line 1: expected \"key value\", got \"key\""},
    {"a b\n\nkey   \n", "bad, line 3: expected \"key value\""},
    {"  indented first\n", "bad, line 1: continuation line without a line to continue"},
    {"# c\n\n  x y\n", "bad, line 3: continuation line"},
};

static void
test_lookups(void)
{
    char *path = tap_write_file("aliases", source);
    char *spec = xasprintf("texthash:%s", path);

    for (size_t i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
        struct err err;
        struct map *map = map_open(spec, lookups[i].flags, &err);
        const char *value = NULL;
        enum map_status status;

        if (!ok(map != NULL, "open %s", spec)) {
            diag("%s", err.text);
            continue;
        }
        status = map_lookup(map, lookups[i].key, 0, &value, &err);
        is_int(status, lookups[i].status, "lookup '%s' (flags %d)", lookups[i].key,
               lookups[i].flags);
        if (lookups[i].value)
            is_str(value, lookups[i].value, "... value");
        map_close(map);
    }
    free(spec);
    free(path);
}

static bool
count_entries(void *ctx, const char *key, const char *value)
{
    (*(int *)ctx)++;
    return true;
}

static void
test_walk(void)
{
    char *path = tap_write_file("walk", source);
    char *spec = xasprintf("texthash:%s", path);
    struct err err;
    struct map *map = map_open(spec, MAP_FOLD_FIXED, &err);
    int n = 0;

    ok(map && map_walk(map, count_entries, &n, &err), "walk");
    is_int(n, 4, "four entries (the duplicate is dropped)");
    map_close(map);
    free(spec);
    free(path);
}

static void
test_limits(void)
{
    size_t big = 1024 * 1024 + 10;
    char *text = xmalloc(big + 1);
    char *path, *spec;
    struct err err = {0};

    memset(text, 'x', big);
    text[big] = 0;
    path = tap_write_file("long", text);
    spec = xasprintf("texthash:%s", path);
    ok(map_open(spec, 0, &err) == NULL, "a line over the limit fails");
    like(err.text, "line 1: line too long", "... saying so");
    free(spec);
    free(path);
    free(text);

    path = tap_write_file("nul", "a b\n");
    {
        FILE *fp = fopen(path, "a");
        fputs("c d", fp);
        fputc(0, fp);
        fputs("e\n", fp);
        fclose(fp);
    }
    spec = xasprintf("texthash:%s", path);
    ok(map_open(spec, 0, &err) == NULL, "a NUL byte fails");
    like(err.text, "line 2: NUL byte", "... saying so");
    free(spec);
    free(path);
}

int
main(void)
{
    test_lookups();
    test_walk();
    maptest_malformed("texthash", MAP_FOLD_FIXED, malformed, MAPTEST_COUNT(malformed));
    test_limits();
    return done_testing();
}
