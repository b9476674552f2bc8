/* core_map_unix.c - unix:passwd.byname and the proxy: prefix */
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "core/map.h"
#include "t/tap.h"

static const struct {
    const char *key;
    enum map_status want;
} cases[] = {
    {"root", MAP_FOUND},
    {"ROOT", MAP_FOUND}, /* keys are folded: Postfix's local_recipient_maps ignore case */
    {"no-such-user-here", MAP_NOTFOUND},
    {"root@example.org", MAP_NOTFOUND}, /* user names only, never addresses */
    {"", MAP_NOTFOUND},
};

int
main(void)
{
    struct err err = {0};
    struct map *map = map_open("unix:passwd.byname", MAP_FOLD_FIXED, &err);
    struct map *proxied;
    const char *value = NULL;

    if (!ok(map != NULL, "open unix:passwd.byname"))
        diag("%s", err.text);
    for (size_t i = 0; map && i < sizeof(cases) / sizeof(cases[0]); i++)
        is_int(map_lookup(map, cases[i].key, 0, &value, &err), cases[i].want, "lookup \"%s\"",
               cases[i].key);
    if (map && map_lookup(map, "root", 0, &value, &err) == MAP_FOUND)
        ok(strncmp(value, "root:", 5) == 0 && strstr(value, ":0:0:") != NULL,
           "the value is the passwd line: %s", value);
    proxied = map_open("proxy:unix:passwd.byname", MAP_FOLD_FIXED, &err);
    ok(proxied != NULL && proxied == map, "proxy:unix:passwd.byname is the same table");
    map_close(proxied);
    ok(map_open("unix:group.byname", MAP_FOLD_FIXED, &err) == NULL &&
           strstr(err.text, "unix: has only passwd.byname") != NULL,
       "other unix: tables are refused at open");
    ok(map_open("proxy:nonsense", MAP_FOLD_FIXED, &err) == NULL, "proxy: needs a table after it");
    map_close(map);
    return done_testing();
}
