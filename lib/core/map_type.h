/* map_type.h - what a table type implements; included only by lib/core/map*.c */
#ifndef CORE_MAP_TYPE_H
#define CORE_MAP_TYPE_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "core/buf.h"
#include "core/map.h"

/*
 * Each table type allocates a struct that begins with struct map and fills in ops and
 * props; map.c fills in the rest and owns the sharing. A lookup receives the key already
 * folded when the type is MAP_PROP_FIXED and the table was opened with MAP_FOLD_FIXED, and
 * writes a found value into map->value.
 */
#define MAP_PROP_FIXED   0x1 /* keys are compared as strings: map.c folds them */
#define MAP_PROP_PATTERN 0x2 /* keys are matched whole: partial keys are never looked up */

/* lmdb: and hash: tables read NAME.lmdb. */
#define MAP_LMDB_SUFFIX ".lmdb"

/* The longest value a lookup may produce (a pcre result grows with $n substitutions). */
#define MAP_VALUE_MAX (1024 * 1024)

struct map_ops {
    enum map_status (*lookup)(struct map *map, const char *key, int lookup_flags, struct err *err);
    bool (*walk)(struct map *map, map_walk_fn fn, void *ctx, struct err *err);
    void (*close)(struct map *map);
};

/* One version of a table's file, to notice when it is rebuilt (map_changed). */
struct map_file_stamp {
    bool exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct map {
    const struct map_ops *ops;
    unsigned props;
    char *spec; /* "type:name", as opened */
    char *file; /* the file the table reads, or NULL */
    struct map_file_stamp file_stamp;
    int flags;
    int refs;
    struct buf value;
    struct map *next; /* the list of open tables in map.c */
};

typedef struct map *(*map_open_fn)(const char *type, const char *name, int flags, struct err *err);

struct map *map_lmdb_open(const char *type, const char *name, int flags, struct err *err);
bool map_lmdb_build(const char *type, const char *name, int flags, struct err *err);
struct map *map_texthash_open(const char *type, const char *name, int flags, struct err *err);
struct map *map_inline_open(const char *type, const char *name, int flags, struct err *err);
struct map *map_static_open(const char *type, const char *name, int flags, struct err *err);
struct map *map_pcre_open(const char *type, const char *name, int flags, struct err *err);
struct map *map_cidr_open(const char *type, const char *name, int flags, struct err *err);
struct map *map_unix_open(const char *type, const char *name, int flags, struct err *err);
struct map *map_union_open(const char *type, const char *name, int flags, struct err *err);

/* Helpers for the types. */
char *map_strip_braces(const char *text, const char *spec, struct err *err);
bool map_braced_list(const char *name, const char *spec, const char *usage, struct strvec *out,
                     struct err *err);
bool map_set_value(struct map *map, const char *value, size_t len, struct err *err);

#endif
