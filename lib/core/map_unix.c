/*
 * map_unix.c - unix:passwd.byname: the system's user database as a table (getpwnam_r).
 *
 * Trusts: the name service. The key is a user name; its value is the passwd entry in
 * /etc/passwd form ("name:x:uid:gid:gecos:dir:shell"), as Postfix gives it. Only
 * passwd.byname exists. A lookup error of the name service (anything but "no such user")
 * is MAP_ERROR. In a chroot the name service is usually out of reach: use it unchrooted.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/map_type.h"
#include "core/mem.h"

#define MAP_UNIX_BUF 16384

/* map_unix_lookup - one user by name */
static enum map_status
map_unix_lookup(struct map *map, const char *key, int lookup_flags, struct err *err)
{
    struct passwd pw, *found = NULL;
    char *space = xmalloc(MAP_UNIX_BUF);
    char *value;
    int rc;
    enum map_status status;

    if (*key == 0 || strchr(key, '@') || strlen(key) > 256) {
        free(space);
        return MAP_NOTFOUND;
    }
    rc = getpwnam_r(key, &pw, space, MAP_UNIX_BUF, &found);
    if (found == NULL) {
        free(space);
        if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM)
            return MAP_NOTFOUND;
        err_set(err, "unix:passwd.byname: lookup of %.100s: %s", key, strerror(rc));
        return MAP_ERROR;
    }
    value = xasprintf("%s:%s:%ld:%ld:%s:%s:%s", pw.pw_name, pw.pw_passwd ? pw.pw_passwd : "",
                      (long)pw.pw_uid, (long)pw.pw_gid, pw.pw_gecos ? pw.pw_gecos : "",
                      pw.pw_dir ? pw.pw_dir : "", pw.pw_shell ? pw.pw_shell : "");
    free(space);
    status = map_set_value(map, value, strlen(value), err) ? MAP_FOUND : MAP_ERROR;
    free(value);
    return status;
}

static void
map_unix_close(struct map *map)
{
    free(map);
}

static const struct map_ops map_unix_ops = {
    .lookup = map_unix_lookup,
    .close = map_unix_close,
};

/* map_unix_open - unix:passwd.byname (no other unix: table exists) */
struct map *
map_unix_open(const char *type, const char *name, int flags, struct err *err)
{
    struct map *map;

    if (strcmp(name, "passwd.byname") != 0) {
        err_set(err, "%s:%s: unknown table (unix: has only passwd.byname)", type, name);
        return NULL;
    }
    map = xcalloc(1, sizeof(*map));
    map->ops = &map_unix_ops;
    map->props = MAP_PROP_FIXED;
    return map;
}
