/*
 * map_union.c - unionmap:{ type:name, ... }: the values of every member table that has the
 * key, in member order, joined with commas; MAP_NOTFOUND when none has it.
 *
 * An error in any member is an error of the union: a partial answer would silently drop a
 * value (say one alias target). Each member folds or skips partial keys by its own type.
 *
 * Trusts: the name is configuration text; braces must balance and there must be members.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/map_type.h"
#include "core/mem.h"
#include "core/str.h"

struct map_union {
    struct map map;
    struct map **members;
    size_t n;
    struct buf joined;
};

/* map_union_lookup - key in every table of the union; the values found, joined with commas */
static enum map_status
map_union_lookup(struct map *map, const char *key, int lookup_flags, struct err *err)
{
    struct map_union *mu = (struct map_union *)map;
    bool found = false;

    buf_reset(&mu->joined);
    for (size_t i = 0; i < mu->n; i++) {
        const char *value;
        enum map_status status = map_lookup(mu->members[i], key, lookup_flags, &value, err);
        if (status == MAP_ERROR)
            return MAP_ERROR;
        if (status == MAP_NOTFOUND)
            continue;
        if ((found && !buf_putc(&mu->joined, ',')) || !buf_puts(&mu->joined, value)) {
            err_set(err, "%.200s: lookup result longer than %d bytes", map->spec, MAP_VALUE_MAX);
            return MAP_ERROR;
        }
        found = true;
    }
    if (!found)
        return MAP_NOTFOUND;
    return map_set_value(map, buf_str(&mu->joined), mu->joined.len, err) ? MAP_FOUND : MAP_ERROR;
}

static void
map_union_close(struct map *map)
{
    struct map_union *mu = (struct map_union *)map;

    for (size_t i = 0; i < mu->n; i++)
        map_close(mu->members[i]);
    free(mu->members);
    buf_free(&mu->joined);
    free(mu);
}

static const struct map_ops map_union_ops = {
    .lookup = map_union_lookup,
    .close = map_union_close,
};

/* map_union_members - open each member named in the braces */
static bool
map_union_members(struct map_union *mu, const char *name, const char *spec, int flags,
                  struct err *err)
{
    struct strvec specs;
    bool good = true;

    strvec_init(&specs);
    if (!map_braced_list(name, spec, "unionmap:{ type:name, ... }", &specs, err)) {
        good = false;
    } else if (specs.n == 0) {
        err_set(err, "%s: no tables", spec);
        good = false;
    }
    mu->members = xcalloc(specs.n ? specs.n : 1, sizeof(*mu->members));
    for (size_t i = 0; good && i < specs.n; i++) {
        if ((mu->members[i] = map_open(specs.v[i], flags, err)) == NULL)
            good = false;
        else
            mu->n++;
    }
    strvec_free(&specs);
    return good;
}

struct map *
map_union_open(const char *type, const char *name, int flags, struct err *err)
{
    struct map_union *mu = xcalloc(1, sizeof(*mu));
    char *spec = xasprintf("%s:%s", type, name);

    mu->map.ops = &map_union_ops;
    buf_init(&mu->joined, MAP_VALUE_MAX);
    if (!map_union_members(mu, name, spec, flags, err)) {
        map_union_close(&mu->map);
        mu = NULL;
    }
    free(spec);
    return mu ? &mu->map : NULL;
}
