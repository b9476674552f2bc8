/* map_source.h - the postmap source format shared by lmdb, hash, texthash, pcre and cidr */
#ifndef CORE_MAP_SOURCE_H
#define CORE_MAP_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/map.h"

/* The longest logical line, continuation lines included. */
#define MAP_SOURCE_LINE_MAX (1024 * 1024)

/*
 * map_source_read - call fn with each logical line of path. Blank lines and lines whose
 * first non-blank character is '#' are skipped; a line that starts with white space
 * continues the previous logical line (joined with one space). line is the number of the
 * logical line's first physical line. fn returns false (with err set) to stop.
 */
typedef bool (*map_source_fn)(void *ctx, const char *file, int line, char *text, struct err *err);
bool map_source_read(const char *path, map_source_fn fn, void *ctx, struct err *err);

/* Key/value pairs, sorted by key (byte order) once finished. */
struct map_pair {
    char *key;
    char *value;
    int line; /* 0 when the pair does not come from a file */
};

struct map_pairs {
    struct map_pair *v;
    size_t n;
    size_t cap;
};

void map_pairs_init(struct map_pairs *pairs);
void map_pairs_add(struct map_pairs *pairs, char *key, char *value, int line);
void map_pairs_finish(struct map_pairs *pairs, const char *origin);
const struct map_pair *map_pairs_find(const struct map_pairs *pairs, const char *key);
void map_pairs_free(struct map_pairs *pairs);

/*
 * map_source_pairs - read the pairs of path: "key value" lines, or "name: value" lines with
 * MAP_SOURCE_ALIASES (the name may be quoted: "a b": c); MAP_FOLD_FIXED lower-cases keys.
 */
bool map_source_pairs(const char *path, int flags, struct map_pairs *pairs, struct err *err);

/*
 * map_pairs_table - a fixed table (lookup, walk, close) over finished pairs; it takes the
 * pairs over and leaves *pairs empty.
 */
struct map *map_pairs_table(struct map_pairs *pairs);

#endif
