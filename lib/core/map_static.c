/*
 * map_static.c - static:value and static:{ value with spaces }: every key has that value.
 *
 * Trusts: the name is configuration text; braces must balance.
 */
#include <stdlib.h>
#include <string.h>

#include "core/map_type.h"
#include "core/mem.h"

struct map_static {
    struct map map;
    char *value;
};

static enum map_status
map_static_lookup(struct map *map, const char *key, int lookup_flags, struct err *err)
{
    struct map_static *ms = (struct map_static *)map;

    return map_set_value(map, ms->value, strlen(ms->value), err) ? MAP_FOUND : MAP_ERROR;
}

static void
map_static_close(struct map *map)
{
    struct map_static *ms = (struct map_static *)map;

    free(ms->value);
    free(ms);
}

static const struct map_ops map_static_ops = {
    .lookup = map_static_lookup,
    .close = map_static_close,
};

struct map *
map_static_open(const char *type, const char *name, int flags, struct err *err)
{
    char *spec = xasprintf("%s:%s", type, name);
    char *value = map_strip_braces(name, spec, err);
    struct map_static *ms;

    free(spec);
    if (value == NULL)
        return NULL;
    ms = xcalloc(1, sizeof(*ms));
    ms->map.ops = &map_static_ops;
    ms->value = value;
    return &ms->map;
}
