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

/* map_inline_entry - add one "key=value" or "{ key = value }" entry */
static bool
map_inline_entry(struct map_pairs *pairs, const char *entry, const char *spec, int flags,
                 struct err *err)
{
    char *text = map_strip_braces(entry, spec, err), *eq, *key, *value;

    if (text == NULL)
        return false;
    if ((eq = strchr(text, '=')) == NULL || eq == text) {
        err_set(err, "%s: expected key=value, got \"%s\"", spec, entry);
        free(text);
        return false;
    }
    *eq = 0;
    key = xstrdup(str_trim(text));
    value = str_trim(eq + 1);
    if (flags & MAP_FOLD_FIXED)
        str_lower(key);
    map_pairs_add(pairs, key, xstrdup(value), 0);
    free(text);
    return true;
}

/* map_inline_parse - the entries of the braced name */
static bool
map_inline_parse(struct map_pairs *pairs, const char *name, const char *spec, int flags,
                 struct err *err)
{
    struct strvec entries;
    bool good = true;

    strvec_init(&entries);
    if (!map_braced_list(name, spec, "inline:{ key=value, ... }", &entries, err)) {
        good = false;
    } else if (entries.n == 0) {
        err_set(err, "%s: empty table", spec);
        good = false;
    }
    for (size_t i = 0; good && i < entries.n; i++)
        good = map_inline_entry(pairs, entries.v[i], spec, flags, err);
    strvec_free(&entries);
    if (good)
        map_pairs_finish(pairs, spec);
    return good;
}

struct map *
map_inline_open(const char *type, const char *name, int flags, struct err *err)
{
    struct map_pairs pairs;
    char *spec = xasprintf("%s:%s", type, name);
    struct map *map = NULL;

    map_pairs_init(&pairs);
    if (map_inline_parse(&pairs, name, spec, flags, err))
        map = map_pairs_table(&pairs);
    map_pairs_free(&pairs);
    free(spec);
    return map;
}
