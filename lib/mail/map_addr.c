/*
 * map_addr.c - look a mail address up in a list of tables in Postfix's order (map_addr.h).
 *
 * Trusts: nothing in the address (it comes from SMTP); it is only cut into keys, which are
 * bounded by the address's own length. The order is built as a list of keys first and then
 * searched, so the order itself is one readable place.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/map.h"
#include "core/mem.h"
#include "core/str.h"
#include "mail/map_addr.h"

struct map_addr_key {
    char *key;
    int flags;     /* MAP_LOOKUP_PARTIAL for parts of the address */
    bool stripped; /* the key leaves out the address's extension */
};

struct map_addr_keys {
    struct map_addr_key *v;
    size_t n;
    size_t cap;
};

/* The parts of one address. */
struct map_addr_parts {
    char *local;        /* local part, with extension */
    char *bare;         /* local part without extension, or NULL if there is none */
    char *extension;    /* or NULL */
    const char *domain; /* NULL when the address has no '@' */
};

/* map_addr_push - add a key unless it is already in the list */
static void
map_addr_push(struct map_addr_keys *keys, char *key, int flags, bool stripped)
{
    for (size_t i = 0; i < keys->n; i++) {
        if (strcmp(keys->v[i].key, key) == 0) {
            free(key);
            return;
        }
    }
    if (keys->n == keys->cap) {
        keys->cap = keys->cap ? keys->cap * 2 : 8;
        keys->v = xreallocarray(keys->v, keys->cap, sizeof(*keys->v));
    }
    keys->v[keys->n].key = key;
    keys->v[keys->n].flags = flags;
    keys->v[keys->n].stripped = stripped;
    keys->n++;
}

/* map_addr_no_split - local parts that keep their delimiter characters, as in Postfix */
static bool
map_addr_no_split(const char *local, const char *delims)
{
    if (str_eq_nocase(local, "postmaster") || str_eq_nocase(local, "mailer-daemon") ||
        str_eq_nocase(local, "double-bounce"))
        return true;
    if (strchr(delims, '-') == NULL)
        return false;
    return (strlen(local) > 6 && strncasecmp(local, "owner-", 6) == 0) ||
           (strlen(local) > 8 && str_has_suffix_nocase(local, "-request"));
}

/* map_addr_split - cut address into local part, extension and domain */
static void
map_addr_split(const char *address, const char *delims, struct map_addr_parts *parts)
{
    const char *at = strrchr(address, '@');
    size_t cut;

    memset(parts, 0, sizeof(*parts));
    parts->local = at ? xstrndup(address, (size_t)(at - address)) : xstrdup(address);
    parts->domain = at ? at + 1 : NULL;
    if (delims == NULL || *delims == 0 || map_addr_no_split(parts->local, delims))
        return;
    cut = strcspn(parts->local, delims);
    if (cut == 0 || parts->local[cut] == 0)
        return;
    parts->bare = xstrndup(parts->local, cut);
    parts->extension = xstrdup(parts->local + cut + 1);
}

static void
map_addr_parts_free(struct map_addr_parts *parts)
{
    free(parts->local);
    free(parts->bare);
    free(parts->extension);
}

/* map_addr_local_keys - the keys without a domain a lookup of address makes: its local part,
 * and without its extension (*bare NULL if it has none); both the caller's to free */
void
map_addr_local_keys(const char *address, const char *delims, char **local, char **bare)
{
    struct map_addr_parts parts;

    map_addr_split(address, delims, &parts);
    *local = parts.local;
    *bare = parts.bare;
    free(parts.extension);
}

/* map_addr_domain_keys - domain, then its parents as ".parent" or "parent" */
static void
map_addr_domain_keys(struct map_addr_keys *keys, const char *domain, bool parent_matches,
                     int first_flags)
{
    int flags = first_flags;

    for (const char *name = domain; *name; flags = MAP_LOOKUP_PARTIAL) {
        const char *next = strchr(name + 1, '.');

        map_addr_push(keys, xstrdup(name), flags, false);
        if (next == NULL)
            break;
        name = parent_matches ? next + 1 : next;
    }
}

/* map_addr_access_keys - access(5) order */
static void
map_addr_access_keys(struct map_addr_keys *keys, const char *address,
                     const struct map_addr_parts *parts, const struct map_addr_opts *opts)
{
    map_addr_push(keys, xstrdup(address), 0, false);
    if (parts->bare && parts->domain)
        map_addr_push(keys, xasprintf("%s@%s", parts->bare, parts->domain), MAP_LOOKUP_PARTIAL,
                      true);
    if (parts->domain == NULL)
        return;
    map_addr_domain_keys(keys, parts->domain, opts->parent_domain_matches_subdomains,
                         MAP_LOOKUP_PARTIAL);
    if (*parts->local == 0)
        return;
    map_addr_push(keys, xasprintf("%s@", parts->local), MAP_LOOKUP_PARTIAL, false);
    if (parts->bare)
        map_addr_push(keys, xasprintf("%s@", parts->bare), MAP_LOOKUP_PARTIAL, true);
}

/* map_addr_virtual_keys - virtual(5) order */
static void
map_addr_virtual_keys(struct map_addr_keys *keys, const char *address,
                      const struct map_addr_parts *parts, const struct map_addr_opts *opts)
{
    map_addr_push(keys, xstrdup(address), 0, false);
    if (parts->bare && parts->domain)
        map_addr_push(keys, xasprintf("%s@%s", parts->bare, parts->domain), MAP_LOOKUP_PARTIAL,
                      true);
    if (parts->domain == NULL || opts->domain_is_local) {
        map_addr_push(keys, xstrdup(parts->local), MAP_LOOKUP_PARTIAL, false);
        if (parts->bare)
            map_addr_push(keys, xstrdup(parts->bare), MAP_LOOKUP_PARTIAL, true);
    }
    if (parts->domain && *parts->domain)
        map_addr_push(keys, xasprintf("@%s", parts->domain), MAP_LOOKUP_PARTIAL, true);
}

/* map_addr_search - look the keys up in order; the first found or any error ends it */
static enum map_status
map_addr_search(struct map_list *maps, struct map_addr_keys *keys, const char *extension,
                struct map_addr_match *match, struct err *err)
{
    enum map_status status = MAP_NOTFOUND;
    size_t i;

    memset(match, 0, sizeof(*match));
    for (i = 0; i < keys->n && status == MAP_NOTFOUND; i++)
        status = map_list_lookup(maps, keys->v[i].key, keys->v[i].flags, &match->value, err);
    if (status == MAP_FOUND) {
        match->key = keys->v[i - 1].key;
        keys->v[i - 1].key = NULL;
        if (keys->v[i - 1].stripped && extension)
            match->extension = xstrdup(extension);
    } else {
        match->value = NULL;
    }
    for (i = 0; i < keys->n; i++)
        free(keys->v[i].key);
    free(keys->v);
    return status;
}

/*
 * map_addr_find - look address up in the key order the table kind asks for (local,
 * virtual, access); the first key found wins
 */
enum map_status
map_addr_find(struct map_list *maps, enum map_addr_order order, const char *address,
              const struct map_addr_opts *opts, struct map_addr_match *match, struct err *err)
{
    struct map_addr_parts parts;
    struct map_addr_keys keys = {NULL, 0, 0};
    enum map_status status;

    map_addr_split(address, opts->recipient_delimiter, &parts);
    switch (order) {
    case MAP_ADDR_ACCESS:
        map_addr_access_keys(&keys, address, &parts, opts);
        break;
    case MAP_ADDR_VIRTUAL:
        map_addr_virtual_keys(&keys, address, &parts, opts);
        break;
    case MAP_ADDR_LOCAL:
        map_addr_push(&keys, xstrdup(parts.local), 0, false);
        if (parts.bare)
            map_addr_push(&keys, xstrdup(parts.bare), 0, true);
        break;
    }
    status = map_addr_search(maps, &keys, parts.extension, match, err);
    map_addr_parts_free(&parts);
    return status;
}

enum map_status
map_addr_domain(struct map_list *maps, const char *domain, bool parent_domain_matches_subdomains,
                struct map_addr_match *match, struct err *err)
{
    struct map_addr_keys keys = {NULL, 0, 0};

    map_addr_domain_keys(&keys, domain, parent_domain_matches_subdomains, 0);
    return map_addr_search(maps, &keys, NULL, match, err);
}

void
map_addr_match_free(struct map_addr_match *match)
{
    free(match->key);
    free(match->extension);
    memset(match, 0, sizeof(*match));
}
