/* mail_map_addr.c - Postfix's address lookup orders, key by key */
#include <stdlib.h>
#include <string.h>

#include "core/map.h"
#include "core/mem.h"
#include "core/str.h"
#include "mail/map_addr.h"
#include "t/tap.h"

#define MAP_BIG (1024 * 1024 + 1)

/*
 * Each case lists every key the address must be looked up under, in order. For each key k
 * the test builds a table holding k and every key after it and checks that k is the one
 * found: so every key is tried, and tried before the ones after it.
 */
static const struct {
    enum map_addr_order order;
    const char *address;
    const char *delimiter;
    bool parent;
    bool local;
    const char *keys;
} orders[] = {
    {MAP_ADDR_ACCESS, "user@sub.example.com", "", false, false,
     "user@sub.example.com|sub.example.com|.example.com|.com|user@"},
    {MAP_ADDR_ACCESS, "user@sub.example.com", "", true, false,
     "user@sub.example.com|sub.example.com|example.com|com|user@"},
    {MAP_ADDR_ACCESS, "user+ext@example.com", "+", false, false,
     "user+ext@example.com|user@example.com|example.com|.com|user+ext@|user@"},
    {MAP_ADDR_ACCESS, "User+Ext@Example.COM", "-+", false, false,
     "User+Ext@Example.COM|User@Example.COM|Example.COM|.COM|User+Ext@|User@"},
    {MAP_ADDR_ACCESS, "user", "+", false, false, "user"},
    {MAP_ADDR_ACCESS, "@example.com", "+", false, false, "@example.com|example.com|.com"},
    {MAP_ADDR_VIRTUAL, "user+ext@example.com", "+", false, false,
     "user+ext@example.com|user@example.com|@example.com"},
    {MAP_ADDR_VIRTUAL, "user+ext@example.com", "+", false, true,
     "user+ext@example.com|user@example.com|user+ext|user|@example.com"},
    {MAP_ADDR_VIRTUAL, "user-ext@example.com", "+-", false, true,
     "user-ext@example.com|user@example.com|user-ext|user|@example.com"},
    {MAP_ADDR_VIRTUAL, "user@example.com", "+", false, true, "user@example.com|user|@example.com"},
    {MAP_ADDR_VIRTUAL, "user+ext", "+", false, false, "user+ext|user"},
    {MAP_ADDR_VIRTUAL, "+ext@example.com", "+", false, true, "+ext@example.com|+ext|@example.com"},
    {MAP_ADDR_VIRTUAL, "user+@example.com", "+", false, false,
     "user+@example.com|user@example.com|@example.com"},
    {MAP_ADDR_VIRTUAL, "owner-list@example.com", "-", false, true,
     "owner-list@example.com|owner-list|@example.com"},
    {MAP_ADDR_VIRTUAL, "list-request@example.com", "-", false, true,
     "list-request@example.com|list-request|@example.com"},
    {MAP_ADDR_VIRTUAL, "mailer-daemon@example.com", "-", false, true,
     "mailer-daemon@example.com|mailer-daemon|@example.com"},
    {MAP_ADDR_VIRTUAL, "owner-list@example.com", "+", false, true,
     "owner-list@example.com|owner-list|@example.com"},
    {MAP_ADDR_LOCAL, "user+ext@example.com", "+", false, false, "user+ext|user"},
    {MAP_ADDR_LOCAL, "user+ext", "+", false, false, "user+ext|user"},
    {MAP_ADDR_LOCAL, "user+ext", "", false, false, "user+ext"},
};

/* table_from - an inline table with keys[from..], each key's value being the key itself */
static char *
table_from(const struct strvec *keys, size_t from)
{
    char *spec = xstrdup("inline:{ {nothing=here}");

    for (size_t i = from; i < keys->n; i++) {
        char *next = xasprintf("%s, {%s=%s}", spec, keys->v[i], keys->v[i]);
        free(spec);
        spec = next;
    }
    return spec;
}

static void
test_orders(void)
{
    for (size_t c = 0; c < sizeof(orders) / sizeof(orders[0]); c++) {
        struct map_addr_opts opts = {orders[c].delimiter, orders[c].parent, orders[c].local};
        struct strvec keys;

        strvec_init(&keys);
        strvec_split(&keys, orders[c].keys, "|");
        for (size_t k = 0; k <= keys.n; k++) {
            char *spec = table_from(&keys, k), *text = xasprintf("%s }", spec);
            struct err err;
            struct map_list *list = map_list_open(text, MAP_FOLD_FIXED, &err);
            struct map_addr_match match;
            enum map_status status;

            status = map_addr_find(list, orders[c].order, orders[c].address, &opts, &match, &err);
            if (k < keys.n)
                ok(status == MAP_FOUND && strcmp(match.key, keys.v[k]) == 0,
                   "order %d '%s' (delim '%s'%s%s): key %zu is %s (got %s)", orders[c].order,
                   orders[c].address, orders[c].delimiter, orders[c].parent ? ", parent" : "",
                   orders[c].local ? ", local" : "", k, keys.v[k],
                   status == MAP_FOUND ? match.key : "nothing");
            else
                is_int(status, MAP_NOTFOUND, "order %d '%s': nothing else is looked up",
                       orders[c].order, orders[c].address);
            map_addr_match_free(&match);
            map_list_close(list);
            free(text);
            free(spec);
        }
        strvec_free(&keys);
    }
}

static void
test_extension(void)
{
    static const struct {
        const char *table;
        const char *value;
        const char *extension;
    } cases[] = {
        {"inline:{ user+ext@example.com=full }", "full", NULL},
        {"inline:{ user@example.com=bare }", "bare", "ext"},
        {"inline:{ @example.com=catchall }", "catchall", "ext"},
    };
    struct map_addr_opts opts = {"+", false, false};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct err err;
        struct map_list *list = map_list_open(cases[i].table, MAP_FOLD_FIXED, &err);
        struct map_addr_match match;

        is_int(map_addr_find(list, MAP_ADDR_VIRTUAL, "user+ext@example.com", &opts, &match, &err),
               MAP_FOUND, "%s", cases[i].table);
        is_str(match.value, cases[i].value, "... value");
        is_str(match.extension, cases[i].extension, "... extension to propagate");
        map_addr_match_free(&match);
        map_list_close(list);
    }
}

static void
test_patterns_and_errors(void)
{
    char *pcre = tap_write_file("a.pcre", "/^User@/ case seen\n/example/ partial\n");
    char *text = xasprintf("pcre:%s", pcre);
    struct map_addr_opts opts = {"+", false, true};
    struct err err;
    struct map_list *list = map_list_open(text, MAP_FOLD_FIXED, &err);
    struct map_addr_match match;
    char *big = xmalloc(MAP_BIG + 1), *errtext;

    is_int(map_addr_find(list, MAP_ADDR_ACCESS, "User@example.com", &opts, &match, &err), MAP_FOUND,
           "a pcre table sees the whole address");
    is_str(match.value, "case seen", "... in its original case");
    map_addr_match_free(&match);
    is_int(map_addr_find(list, MAP_ADDR_ACCESS, "x+y@example.com", &opts, &match, &err), MAP_FOUND,
           "another whole address");
    is_str(match.key, "x+y@example.com", "... matched whole, never by its parts");
    map_addr_match_free(&match);
    map_list_close(list);
    free(text);

    memset(big, 'v', MAP_BIG);
    big[MAP_BIG] = 0;
    errtext = xasprintf("inline:{ example.com=%s }, inline:{ user@=found }", big);
    list = map_list_open(errtext, MAP_FOLD_FIXED, &err);
    ok(list != NULL, "open a table whose domain entry cannot be returned");
    is_int(map_addr_find(list, MAP_ADDR_ACCESS, "user@example.com", &opts, &match, &err), MAP_ERROR,
           "an error on a later key is not passed over for user@");
    like(err.text, "longer than", "... with the reason");
    ok(match.key == NULL && match.value == NULL, "... and no match");
    is_int(map_addr_domain(list, "sub.example.com", false, &match, &err), MAP_NOTFOUND,
           "map_addr_domain: .example.com is not example.com");
    is_int(map_addr_domain(list, "sub.example.com", true, &match, &err), MAP_ERROR,
           "map_addr_domain: parents as example.com reach the error");
    map_list_close(list);
    free(errtext);
    free(big);
    free(pcre);
}

int
main(void)
{
    test_orders();
    test_extension();
    test_patterns_and_errors();
    return done_testing();
}
