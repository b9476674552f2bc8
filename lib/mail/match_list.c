/*
 * match_list.c - compile and search Postfix-style match lists (see match_list.h).
 *
 * Trusts: main.cf and the files it names as far as the parsers check them; the item looked
 * up may come from a client (a domain from RCPT TO, a client address) and is only compared,
 * never interpreted. Files may include files, up to MATCH_FILE_DEPTH deep.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cidr.h"
#include "core/conf.h"
#include "core/mem.h"
#include "core/textfile.h"
#include "mail/map_addr.h"
#include "mail/match_list.h"

#define MATCH_FILE_DEPTH 5
#define MATCH_FILE_MAX   (4 * 1024 * 1024)

enum match_entry_kind {
    ENTRY_DOMAIN,
    ENTRY_NETWORK,
    ENTRY_TABLE,
};

struct match_entry {
    enum match_entry_kind kind;
    bool negate;
    char *domain;           /* ENTRY_DOMAIN, lower case */
    struct cidr net;        /* ENTRY_NETWORK */
    struct map_list *table; /* ENTRY_TABLE */
};

struct match_list {
    enum match_kind kind;
    bool parent_matches;
    struct match_entry *v;
    size_t n;
};

static bool match_add_text(struct match_list *list, const char *text, int depth, struct err *err);

static bool
match_is_table(const char *entry)
{
    size_t n = strspn(entry, "abcdefghijklmnopqrstuvwxyz0123456789_");

    return n > 0 && entry[n] == ':' && !(n == 4 && strncmp(entry, "ipv6", 4) == 0);
}

static bool
match_add_file(struct match_list *list, const char *path, int depth, struct err *err)
{
    struct buf text;
    bool good;

    if (depth >= MATCH_FILE_DEPTH) {
        return err_set(err, "%s: files nested too deeply", path);
    }
    if (!textfile_read(path, MATCH_FILE_MAX, &text, err))
        return false;
    for (char *p = text.data; p && (p = strchr(p, '#')) != NULL;) {
        size_t skip = strcspn(p, "\n");
        memset(p, ' ', skip);
        p += skip;
    }
    good = match_add_text(list, buf_str(&text), depth + 1, err);
    buf_free(&text);
    return good;
}

/* match_add_entry - one entry of the list, already split out */
static bool
match_add_entry(struct match_list *list, const char *entry, int depth, struct err *err)
{
    struct match_entry e = {0};

    while (*entry == '!') {
        e.negate = !e.negate;
        entry++;
    }
    if (*entry == '/') {
        if (!e.negate)
            return match_add_file(list, entry, depth, err);
        return err_set(err, "!%s: a file cannot be negated", entry);
    }
    if (match_is_table(entry)) {
        e.kind = ENTRY_TABLE;
        if ((e.table = map_list_open(entry, MAP_FOLD_FIXED, err)) == NULL)
            return false;
    } else if (list->kind == MATCH_ADDRESS && strpbrk(entry, ":./[") &&
               strspn(entry, "0123456789abcdefABCDEF:./[]") == strlen(entry)) {
        e.kind = ENTRY_NETWORK;
        if (!cidr_parse(entry, &e.net, err))
            return false;
    } else {
        e.kind = ENTRY_DOMAIN;
        e.domain = str_lower(xstrdup(entry));
    }
    list->v = xreallocarray(list->v, list->n + 1, sizeof(e));
    list->v[list->n++] = e;
    return true;
}

static bool
match_add_words(struct match_list *list, const struct strvec *entries, int depth, struct err *err)
{
    for (size_t i = 0; i < entries->n; i++)
        if (!match_add_entry(list, entries->v[i], depth, err))
            return false;
    return true;
}

static bool
match_add_text(struct match_list *list, const char *text, int depth, struct err *err)
{
    struct strvec entries;
    bool good;

    strvec_init(&entries);
    good = conf_split_list(text, &entries, err) && match_add_words(list, &entries, depth, err);
    strvec_free(&entries);
    return good;
}

/* match_list_open_words - a list already split, as a LIST parameter holds it */
struct match_list *
match_list_open_words(const struct strvec *entries, enum match_kind kind, bool parent_matches,
                      struct err *err)
{
    struct match_list *list = xcalloc(1, sizeof(*list));

    list->kind = kind;
    list->parent_matches = parent_matches;
    if (!match_add_words(list, entries, 0, err)) {
        match_list_close(list);
        return NULL;
    }
    return list;
}

struct match_list *
match_list_open(const char *text, enum match_kind kind, bool parent_matches, struct err *err)
{
    struct match_list *list = NULL;
    struct strvec entries;

    strvec_init(&entries);
    if (conf_split_list(text, &entries, err))
        list = match_list_open_words(&entries, kind, parent_matches, err);
    strvec_free(&entries);
    return list;
}

void
match_list_close(struct match_list *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->n; i++) {
        free(list->v[i].domain);
        map_list_close(list->v[i].table);
    }
    free(list->v);
    free(list);
}

/* match_domain - "example.com" exactly (or its subdomains), ".example.com" its subdomains */
static bool
match_domain(const char *pattern, const char *domain, bool parent_matches)
{
    size_t lp = strlen(pattern), ld = strlen(domain);

    if (pattern[0] == '.')
        return ld > lp && str_eq_nocase(domain + ld - lp, pattern);
    if (str_eq_nocase(domain, pattern))
        return true;
    return parent_matches && ld > lp + 1 && domain[ld - lp - 1] == '.' &&
           str_eq_nocase(domain + ld - lp, pattern);
}

/* match_entry_find - does one entry of a match list (domain, network or table) match item? */
static enum map_status
match_entry_find(const struct match_list *list, const struct match_entry *e, const char *item,
                 struct err *err)
{
    struct cidr addr;
    const char *value;

    switch (e->kind) {
    case ENTRY_DOMAIN:
        return list->kind == MATCH_DOMAIN && match_domain(e->domain, item, list->parent_matches)
                   ? MAP_FOUND
                   : MAP_NOTFOUND;
    case ENTRY_NETWORK:
        return cidr_parse_addr(item, &addr) && cidr_contains(&e->net, &addr) ? MAP_FOUND
                                                                             : MAP_NOTFOUND;
    default:
        if (list->kind == MATCH_DOMAIN) {
            struct map_addr_match match = {0};
            enum map_status status =
                map_addr_domain(e->table, item, list->parent_matches, &match, err);
            map_addr_match_free(&match);
            return status;
        }
        return map_list_lookup(e->table, item, 0, &value, err);
    }
}

/* match_list_find - does item match? MAP_ERROR when a table could not answer */
enum map_status
match_list_find(const struct match_list *list, const char *item, struct err *err)
{
    for (size_t i = 0; i < list->n; i++) {
        enum map_status status = match_entry_find(list, &list->v[i], item, err);

        if (status == MAP_ERROR)
            return MAP_ERROR;
        if (status == MAP_FOUND)
            return list->v[i].negate ? MAP_NOTFOUND : MAP_FOUND;
    }
    return MAP_NOTFOUND;
}
