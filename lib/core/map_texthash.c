/*
 * map_texthash.c - texthash:/path: a postmap source file read into memory when opened.
 *
 * Trusts: nothing in the file; map_source.c parses it strictly. The file is read once, at
 * open; a change needs a reload, as with Postfix.
 */
#include <stdlib.h>
#include <string.h>

#include "core/map_source.h"
#include "core/map_type.h"
#include "core/mem.h"

struct map_texthash {
    struct map map;
    struct map_pairs pairs;
};

static enum map_status
map_texthash_lookup(struct map *map, const char *key, int lookup_flags, struct map_error *err)
{
    struct map_texthash *mt = (struct map_texthash *)map;
    const struct map_pair *pair = map_pairs_find(&mt->pairs, key);

    if (pair == NULL)
        return MAP_NOTFOUND;
    return map_set_value(map, pair->value, strlen(pair->value), err) ? MAP_FOUND : MAP_ERROR;
}

static bool
map_texthash_walk(struct map *map, map_walk_fn fn, void *ctx, struct map_error *err)
{
    struct map_texthash *mt = (struct map_texthash *)map;

    for (size_t i = 0; i < mt->pairs.n; i++)
        if (!fn(ctx, mt->pairs.v[i].key, mt->pairs.v[i].value))
            break;
    return true;
}

static void
map_texthash_close(struct map *map)
{
    struct map_texthash *mt = (struct map_texthash *)map;

    map_pairs_free(&mt->pairs);
    free(mt);
}

static const struct map_ops map_texthash_ops = {
    .lookup = map_texthash_lookup,
    .walk = map_texthash_walk,
    .close = map_texthash_close,
};

struct map *
map_texthash_open(const char *type, const char *name, int flags, struct map_error *err)
{
    struct map_texthash *mt = xcalloc(1, sizeof(*mt));

    mt->map.ops = &map_texthash_ops;
    mt->map.props = MAP_PROP_FIXED;
    map_pairs_init(&mt->pairs);
    if (!map_source_pairs(name, (flags & MAP_FOLD_FIXED) != 0, &mt->pairs, err)) {
        free(mt);
        return NULL;
    }
    return &mt->map;
}
