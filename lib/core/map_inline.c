/*
 * map_inline.c - inline:{ key=value, { key = value with spaces } }: a table in the name.
 *
 * Entries are separated by commas or white space; an entry in braces may contain both, and
 * white space around its '=' is dropped. Keys are folded like any fixed table's.
 *
 * Trusts: the name is configuration text; unbalanced braces, an entry without '=' or an
 * empty table is an error.
 */
#include <stdlib.h>
#include <string.h>

#include "core/map_source.h"
#include "core/map_type.h"
#include "core/mem.h"
#include "core/str.h"

struct map_inline {
    struct map map;
    struct map_pairs pairs;
};

static enum map_status
map_inline_lookup(struct map *map, const char *key, int lookup_flags, struct map_error *err)
{
    struct map_inline *mi = (struct map_inline *)map;
    const struct map_pair *pair = map_pairs_find(&mi->pairs, key);

    if (pair == NULL)
        return MAP_NOTFOUND;
    return map_set_value(map, pair->value, strlen(pair->value), err) ? MAP_FOUND : MAP_ERROR;
}

static bool
map_inline_walk(struct map *map, map_walk_fn fn, void *ctx, struct map_error *err)
{
    struct map_inline *mi = (struct map_inline *)map;

    for (size_t i = 0; i < mi->pairs.n; i++)
        if (!fn(ctx, mi->pairs.v[i].key, mi->pairs.v[i].value))
            break;
    return true;
}

static void
map_inline_close(struct map *map)
{
    struct map_inline *mi = (struct map_inline *)map;

    map_pairs_free(&mi->pairs);
    free(mi);
}

static const struct map_ops map_inline_ops = {
    .lookup = map_inline_lookup,
    .walk = map_inline_walk,
    .close = map_inline_close,
};

/* map_inline_entry - add one "key=value" or "{ key = value }" entry */
static bool
map_inline_entry(struct map_inline *mi, const char *entry, const char *spec, int flags,
                 struct map_error *err)
{
    char *text = map_strip_braces(entry, spec, err), *eq, *key, *value;

    if (text == NULL)
        return false;
    if ((eq = strchr(text, '=')) == NULL || eq == text) {
        map_set_error(err, "%s: expected key=value, got \"%s\"", spec, entry);
        free(text);
        return false;
    }
    *eq = 0;
    key = xstrdup(str_trim(text));
    value = str_trim(eq + 1);
    if (flags & MAP_FOLD_FIXED)
        str_lower(key);
    map_pairs_add(&mi->pairs, key, xstrdup(value), 0);
    free(text);
    return true;
}

/* map_inline_parse - the entries of the braced name */
static bool
map_inline_parse(struct map_inline *mi, const char *name, const char *spec, int flags,
                 struct map_error *err)
{
    struct strvec entries;
    char *inner;
    bool good = true;

    if (name[0] != '{') {
        map_set_error(err, "%s: expected inline:{ key=value, ... }", spec);
        return false;
    }
    if ((inner = map_strip_braces(name, spec, err)) == NULL)
        return false;
    strvec_init(&entries);
    if (!map_split(inner, &entries, err)) {
        map_set_error(err, "%s: unbalanced '{' and '}'", spec);
        good = false;
    } else if (entries.n == 0) {
        map_set_error(err, "%s: empty table", spec);
        good = false;
    }
    for (size_t i = 0; good && i < entries.n; i++)
        good = map_inline_entry(mi, entries.v[i], spec, flags, err);
    strvec_free(&entries);
    free(inner);
    if (good)
        map_pairs_finish(&mi->pairs, spec);
    return good;
}

struct map *
map_inline_open(const char *type, const char *name, int flags, struct map_error *err)
{
    struct map_inline *mi = xcalloc(1, sizeof(*mi));
    char *spec = xasprintf("%s:%s", type, name);

    mi->map.ops = &map_inline_ops;
    mi->map.props = MAP_PROP_FIXED;
    map_pairs_init(&mi->pairs);
    if (!map_inline_parse(mi, name, spec, flags, err)) {
        map_inline_close(&mi->map);
        mi = NULL;
    }
    free(spec);
    return mi ? &mi->map : NULL;
}
