/*
 * map.c - the table registry: "type:name" to an open table, shared handles, lookups with
 * Postfix's key folding, lists of tables.
 *
 * Trusts: table names come from configuration or the administrator's command line; keys
 * are untrusted (client input) and are only compared, never interpreted here.
 *
 * Invariants: every handle on the open list has refs > 0 and a unique (spec, flags) pair;
 * a lookup that fails leaves *value untouched and err filled.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/map.h"
#include "core/map_type.h"
#include "core/mem.h"
#include "core/str.h"

/* file: the suffix added to the table's name to get the file it reads; NULL: no file */
static const struct map_type {
    const char *name;
    map_open_fn open;
    bool (*build)(const char *type, const char *name, int flags, struct err *err);
    const char *file;
} map_types[] = {
    {"lmdb", map_lmdb_open, map_lmdb_build, MAP_LMDB_SUFFIX},
    {"hash", map_lmdb_open, map_lmdb_build, MAP_LMDB_SUFFIX},
    {"texthash", map_texthash_open, NULL, ""},
    {"inline", map_inline_open, NULL, NULL},
    {"static", map_static_open, NULL, NULL},
    {"pcre", map_pcre_open, NULL, ""},
    {"cidr", map_cidr_open, NULL, ""},
    {"unionmap", map_union_open, NULL, NULL},
    {"unix", map_unix_open, NULL, NULL},
};

#define MAP_NTYPES (sizeof(map_types) / sizeof(map_types[0]))

/* Process-wide on purpose: sharing one handle per table across all callers is the point. */
static struct map *map_open_list;

struct map_list {
    struct map **maps;
    size_t n;
};

/* map_find_type - the registry entry for type, or NULL with a message listing the known */
static const struct map_type *
map_find_type(const char *type, const char *spec, struct err *err)
{
    char known[256] = "";

    for (size_t i = 0; i < MAP_NTYPES; i++)
        if (strcmp(map_types[i].name, type) == 0)
            return &map_types[i];
    for (size_t i = 0; i < MAP_NTYPES; i++) {
        strncat(known, i ? ", " : "", sizeof(known) - strlen(known) - 1);
        strncat(known, map_types[i].name, sizeof(known) - strlen(known) - 1);
    }
    err_set(err, "%s: unknown table type \"%s\" (known: %s)", spec, type, known);
    return NULL;
}

/* map_parse_spec - split "type:name" into an allocated type and a pointer to the name */
static char *
map_parse_spec(const char *spec, const char **name, struct err *err)
{
    const char *colon = strchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : 0;

    if (colon == NULL || len == 0 || strspn(spec, "abcdefghijklmnopqrstuvwxyz0123456789_") != len) {
        err_set(err, "%s: expected a table as type:name", spec);
        return NULL;
    }
    if (colon[1] == 0) {
        err_set(err, "%s: empty table name", spec);
        return NULL;
    }
    *name = colon + 1;
    return xstrndup(spec, len);
}

/* map_file_stamp - what identifies one version of a file: device, inode, size, mtime */
static void
map_file_stamp(const char *path, struct map_file_stamp *stamp)
{
    struct stat st;

    *stamp = (struct map_file_stamp){0};
    if (stat(path, &st) == 0) {
        stamp->exists = true;
        stamp->dev = st.st_dev;
        stamp->ino = st.st_ino;
        stamp->size = st.st_size;
        stamp->mtime = st.st_mtim;
    }
}

static bool
map_stamp_equal(const struct map_file_stamp *a, const struct map_file_stamp *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/*
 * map_changed - the spec of an open table whose file is no longer the one it read (rebuilt,
 * edited, replaced or removed), else NULL. The stamp is taken before the table reads the
 * file, so a change made while it was being read is reported too.
 */
const char *
map_changed(void)
{
    struct map_file_stamp now;

    for (const struct map *map = map_open_list; map; map = map->next) {
        if (map->file == NULL)
            continue;
        map_file_stamp(map->file, &now);
        if (!map_stamp_equal(&now, &map->file_stamp))
            return map->spec;
    }
    return NULL;
}

/*
 * map_open - open the table spec ("type:name") with flags, remembering its file so that a
 * rebuilt table is noticed; NULL with err
 */
struct map *
map_open(const char *spec, int flags, struct err *err)
{
    const struct map_type *mt;
    const char *name;
    struct map *map;
    char *type, *file = NULL;
    struct map_file_stamp stamp = {0};

    /* proxy:type:name is the table itself: postern has no proxymap daemon (see map.h). */
    if (strncmp(spec, "proxy:", 6) == 0 && strchr(spec + 6, ':') != NULL)
        return map_open(spec + 6, flags, err);
    for (map = map_open_list; map; map = map->next) {
        if (map->flags == flags && strcmp(map->spec, spec) == 0) {
            map->refs++;
            return map;
        }
    }
    if ((type = map_parse_spec(spec, &name, err)) == NULL)
        return NULL;
    if ((mt = map_find_type(type, spec, err)) != NULL && mt->file != NULL)
        file = xasprintf("%s%s", name, mt->file);
    if (file != NULL)
        map_file_stamp(file, &stamp);
    map = mt ? mt->open(type, name, flags, err) : NULL;
    free(type);
    if (map == NULL) {
        free(file);
        return NULL;
    }
    map->file = file;
    map->file_stamp = stamp;
    map->spec = xstrdup(spec);
    map->flags = flags;
    map->refs = 1;
    buf_init(&map->value, MAP_VALUE_MAX);
    map->next = map_open_list;
    map_open_list = map;
    return map;
}

void
map_close(struct map *map)
{
    struct map **pp;

    if (map == NULL || --map->refs > 0)
        return;
    for (pp = &map_open_list; *pp; pp = &(*pp)->next) {
        if (*pp == map) {
            *pp = map->next;
            break;
        }
    }
    free(map->spec);
    free(map->file);
    buf_free(&map->value);
    map->ops->close(map);
}

const char *
map_spec(const struct map *map)
{
    return map->spec;
}

bool
map_is_pattern(const struct map *map)
{
    return (map->props & MAP_PROP_PATTERN) != 0;
}

/* map_set_value - store a found value (len bytes, not terminated) as the lookup result */
bool
map_set_value(struct map *map, const char *value, size_t len, struct err *err)
{
    buf_reset(&map->value);
    if (!buf_append(&map->value, value, len)) {
        return err_set(err, "%.200s: lookup result longer than %d bytes", map->spec, MAP_VALUE_MAX);
    }
    return true;
}

enum map_status
map_lookup(struct map *map, const char *key, int lookup_flags, const char **value, struct err *err)
{
    enum map_status status;
    char *folded = NULL;

    if ((lookup_flags & MAP_LOOKUP_PARTIAL) && (map->props & MAP_PROP_PATTERN))
        return MAP_NOTFOUND;
    if ((map->props & MAP_PROP_FIXED) && (map->flags & MAP_FOLD_FIXED))
        key = folded = str_lower(xstrdup(key));
    status = map->ops->lookup(map, key, lookup_flags, err);
    free(folded);
    if (status == MAP_FOUND)
        *value = buf_str(&map->value);
    return status;
}

bool
map_walk(struct map *map, map_walk_fn fn, void *ctx, struct err *err)
{
    if (map->ops->walk == NULL) {
        return err_set(err, "%s: this table type cannot list its entries", map->spec);
    }
    return map->ops->walk(map, fn, ctx, err);
}

bool
map_type_buildable(const char *type)
{
    for (size_t i = 0; i < MAP_NTYPES; i++)
        if (strcmp(map_types[i].name, type) == 0)
            return map_types[i].build != NULL;
    return false;
}

/*
 * map_build - build the indexed form of spec from its source file, for the types that have
 * one (postern map)
 */
bool
map_build(const char *spec, int flags, struct err *err)
{
    const struct map_type *mt;
    const char *name;
    char *type;
    bool done = false;

    if ((type = map_parse_spec(spec, &name, err)) == NULL)
        return false;
    if ((mt = map_find_type(type, spec, err)) == NULL) {
        free(type);
        return false;
    }
    if (mt->build == NULL)
        err_set(err, "%s: a %s table is read from its source; there is nothing to build", spec,
                type);
    else
        done = mt->build(type, name, flags, err);
    free(type);
    return done;
}

/* map_split - the elements of a list of tables ({...} groups kept whole, as in inline:) */
bool
map_split(const char *text, struct strvec *out, struct err *err)
{
    const char *bad;

    switch (strvec_split_list(out, text, &bad)) {
    case 0:
        return true;
    case '{':
        return err_set(err, "%s: missing '}'", text);
    default:
        return err_set(err, "%s: '}' without a matching '{'", text);
    }
}

/* map_braced_list - the entries of "{ a, b, ... }", as inline: and unionmap: name them */
bool
map_braced_list(const char *name, const char *spec, const char *usage, struct strvec *out,
                struct err *err)
{
    char *inner;
    bool good;

    if (name[0] != '{') {
        return err_set(err, "%s: expected %s", spec, usage);
    }
    if ((inner = map_strip_braces(name, spec, err)) == NULL)
        return false;
    good = map_split(inner, out, err);
    free(inner);
    return good;
}

/*
 * map_strip_braces - "{ text }" to "text" (trimmed); text without braces is copied as is.
 * The closing brace must be the last character and balance the opening one.
 */
char *
map_strip_braces(const char *text, const char *spec, struct err *err)
{
    size_t len = strlen(text);
    int depth = 0;
    char *inner, *trimmed;

    if (text[0] != '{')
        return xstrdup(text);
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '{')
            depth++;
        else if (text[i] == '}')
            depth--;
        if (depth == 0 && i != len - 1) {
            err_set(err, "%s: text after the closing '}'", spec);
            return NULL;
        }
    }
    if (depth != 0) {
        err_set(err, "%s: unbalanced '{' and '}'", spec);
        return NULL;
    }
    inner = xstrndup(text + 1, len - 2);
    trimmed = str_trim(inner);
    memmove(inner, trimmed, strlen(trimmed) + 1);
    return inner;
}

/* map_list_from - open every spec in order; NULL with err if one fails */
static struct map_list *
map_list_from(const struct strvec *specs, int flags, struct err *err)
{
    struct map_list *list = xcalloc(1, sizeof(*list));

    list->maps = xcalloc(specs->n ? specs->n : 1, sizeof(*list->maps));
    for (size_t i = 0; i < specs->n; i++) {
        if ((list->maps[i] = map_open(specs->v[i], flags, err)) == NULL) {
            map_list_close(list);
            return NULL;
        }
        list->n++;
    }
    return list;
}

/* map_list_open - a table list from its text: specs separated by commas or white space */
struct map_list *
map_list_open(const char *text, int flags, struct err *err)
{
    struct strvec specs;
    struct map_list *list = NULL;

    strvec_init(&specs);
    if (map_split(text, &specs, err))
        list = map_list_from(&specs, flags, err);
    strvec_free(&specs);
    return list;
}

/* map_list_open_param - a table list from a LIST parameter's values, each one or more specs */
struct map_list *
map_list_open_param(const struct strvec *values, int flags, struct err *err)
{
    struct strvec specs;
    struct map_list *list = NULL;
    size_t i;

    strvec_init(&specs);
    for (i = 0; i < values->n; i++)
        if (!map_split(values->v[i], &specs, err))
            break;
    if (i == values->n)
        list = map_list_from(&specs, flags, err);
    strvec_free(&specs);
    return list;
}

void
map_list_close(struct map_list *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->n; i++)
        map_close(list->maps[i]);
    free(list->maps);
    free(list);
}

enum map_status
map_list_lookup(struct map_list *list, const char *key, int lookup_flags, const char **value,
                struct err *err)
{
    for (size_t i = 0; i < list->n; i++) {
        enum map_status status = map_lookup(list->maps[i], key, lookup_flags, value, err);
        if (status != MAP_NOTFOUND)
            return status;
    }
    return MAP_NOTFOUND;
}
