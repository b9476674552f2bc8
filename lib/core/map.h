/* map.h - Postfix-compatible lookup tables: open "type:name" once, look keys up, list them */
#ifndef CORE_MAP_H
#define CORE_MAP_H

#include <stdbool.h>

#include "core/err.h"

/*
 * A table is named "type:name", as in Postfix:
 *
 *   lmdb:/path      the LMDB file /path.lmdb, built by `postern map /path`
 *   hash:/path      the same as lmdb:/path (Postfix's name; no Berkeley DB file is read or
 *                   written, so `hash:/etc/aliases` configurations work unchanged)
 *   texthash:/path  the postmap source file /path, read into memory when opened
 *   inline:{ k=v, { k = v with spaces } }
 *   static:value, static:{ value with spaces }
 *   pcre:/path      regular expressions, pcre_table(5) syntax
 *   cidr:/path      networks, cidr_table(5) syntax
 *   unionmap:{ type:name, ... }   the values of every member that has the key, comma-joined
 *   unix:passwd.byname  the system's users (getpwnam_r), keyed by user name
 *   proxy:type:name the table type:name itself: there is no proxymap daemon, the prefix is
 *                   accepted so that Postfix configurations work unchanged
 *
 * A lookup has three outcomes. MAP_ERROR is a temporary failure (a 4xx for SMTP, a deferral
 * for delivery) and never means "not found": callers must stop searching on it.
 *
 * Tables are shared: opening the same "type:name" with the same flags twice returns the same
 * handle with a reference count, so a process opens each table once however many
 * parameters name it. map_close() drops one reference.
 *
 * Errors come back as text in struct err, naming the table and, for files, the file
 * and line ("/etc/postern/access.pcre, line 4: ...").
 */

enum map_status {
    MAP_FOUND,
    MAP_NOTFOUND,
    MAP_ERROR,
};

/* Flags for map_open(). */
#define MAP_FOLD_FIXED                                                 \
    0x1 /* fixed-string tables compare keys in lower case (the default \
         * everywhere but `postern map -f`); pattern tables never fold */

#define MAP_SOURCE_ALIASES                                          \
    0x2 /* map_build and texthash: the source is in aliases(5) form \
         * ("name: value, ..."), as postalias and newaliases read */

/* Flags for map_lookup(). */
#define MAP_LOOKUP_PARTIAL                                         \
    0x1 /* key is a part of the original (a domain, "user@", ...): \
         * pattern tables (pcre, cidr) answer MAP_NOTFOUND */

struct map;

struct map *map_open(const char *spec, int flags, struct err *err);
void map_close(struct map *map);
const char *map_spec(const struct map *map);

/* map_changed - an open table whose file was rebuilt or changed since it was opened, or NULL */
const char *map_changed(void);
bool map_is_pattern(const struct map *map);

/* map_lookup - *value stays valid until the next lookup in this table or its close */
enum map_status map_lookup(struct map *map, const char *key, int lookup_flags, const char **value,
                           struct err *err);

/* map_walk - call fn for each entry (lmdb, hash, texthash, inline); fn returns false to stop */
typedef bool (*map_walk_fn)(void *ctx, const char *key, const char *value);
bool map_walk(struct map *map, map_walk_fn fn, void *ctx, struct err *err);

/* map_build - write the database of a buildable table ("lmdb:/path" from /path) atomically */
bool map_build(const char *spec, int flags, struct err *err);
bool map_type_buildable(const char *type);

/*
 * A list of tables, as a parameter value names them ("hash:/etc/aliases, pcre:/x"): searched
 * in order, the first table that has the key wins, an error in any table stops the search.
 */
struct map_list;

struct map_list *map_list_open(const char *text, int flags, struct err *err);
struct strvec;
struct map_list *map_list_open_param(const struct strvec *values, int flags, struct err *err);
void map_list_close(struct map_list *list);
enum map_status map_list_lookup(struct map_list *list, const char *key, int lookup_flags,
                                const char **value, struct err *err);

/* map_split - split a list at commas and white space outside {braces}; false if unbalanced */
bool map_split(const char *text, struct strvec *out, struct err *err);

/* unix:passwd.byname off the event loop (map_unix.c) */
#define MAP_UNIX_NAME_MAX 256
enum map_status map_unix_fetch(const char *name, char **value, int *rc);
void map_unix_prime(const char *name, enum map_status status, const char *value);
void map_unix_forget(void);

#endif
