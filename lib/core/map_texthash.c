/*
 * map_texthash.c - texthash:/path: a postmap source file read into memory when opened.
 *
 * Trusts: nothing in the file; map_source.c parses it strictly. The file is read once, at
 * open; a daemon notices a later change through map_changed() and restarts, as for lmdb.
 */
#include "core/map_source.h"
#include "core/map_type.h"

struct map *
map_texthash_open(const char *type, const char *name, int flags, struct err *err)
{
    struct map_pairs pairs;

    map_pairs_init(&pairs);
    if (!map_source_pairs(name, flags, &pairs, err))
        return NULL;
    return map_pairs_table(&pairs);
}
