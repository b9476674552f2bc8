/*
 * map_unix.c - unix:passwd.byname: the system's user database as a table (getpwnam_r).
 *
 * Trusts: the name service. The key is a user name; its value is the passwd entry in
 * /etc/passwd form ("name:x:uid:gid:gecos:dir:shell"), as Postfix gives it. Only
 * passwd.byname exists. A lookup error of the name service (anything but "no such user")
 * is MAP_ERROR. In a chroot the name service is usually out of reach: use it unchrooted.
 *
 * The name service may be slow (LDAP, sssd). An event-driven daemon looks names up on a
 * helper thread first (map_unix_fetch is thread-safe) and hands the answers in with
 * map_unix_prime; lookups take a primed answer instead of asking the name service, until
 * map_unix_forget. The primed answers are touched only from the loop's thread.
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

#define MAP_UNIX_PRIMED 4

static struct map_unix_primed {
    char *name;
    enum map_status status;
    char *value; /* MAP_FOUND: the passwd line */
} map_unix_primed[MAP_UNIX_PRIMED];

/*
 * map_unix_fetch - one user by name from the name service: MAP_FOUND with the passwd line
 * in *value (the caller's to free), MAP_NOTFOUND, or MAP_ERROR with errno's value in *rc.
 * Thread-safe.
 */
enum map_status
map_unix_fetch(const char *name, char **value, int *rc)
{
    struct passwd pw, *found = NULL;
    char *space;

    *value = NULL;
    *rc = 0;
    if (*name == 0 || strchr(name, '@') || strlen(name) > MAP_UNIX_NAME_MAX)
        return MAP_NOTFOUND;
    space = xmalloc(MAP_UNIX_BUF);
    *rc = getpwnam_r(name, &pw, space, MAP_UNIX_BUF, &found);
    if (found == NULL) {
        free(space);
        return *rc == 0 || *rc == ENOENT || *rc == ESRCH || *rc == EBADF || *rc == EPERM
                   ? MAP_NOTFOUND
                   : MAP_ERROR;
    }
    *value = xasprintf("%s:%s:%ld:%ld:%s:%s:%s", pw.pw_name, pw.pw_passwd ? pw.pw_passwd : "",
                       (long)pw.pw_uid, (long)pw.pw_gid, pw.pw_gecos ? pw.pw_gecos : "",
                       pw.pw_dir ? pw.pw_dir : "", pw.pw_shell ? pw.pw_shell : "");
    free(space);
    return MAP_FOUND;
}

/* map_unix_prime - an answer found off the loop, for the lookups until map_unix_forget */
void
map_unix_prime(const char *name, enum map_status status, const char *value)
{
    for (size_t i = 0; i < MAP_UNIX_PRIMED; i++)
        if (map_unix_primed[i].name == NULL) {
            map_unix_primed[i].name = xstrdup(name);
            map_unix_primed[i].status = status;
            map_unix_primed[i].value = value ? xstrdup(value) : NULL;
            return;
        }
}

void
map_unix_forget(void)
{
    for (size_t i = 0; i < MAP_UNIX_PRIMED; i++) {
        free(map_unix_primed[i].name);
        free(map_unix_primed[i].value);
        map_unix_primed[i].name = map_unix_primed[i].value = NULL;
    }
}

/* map_unix_lookup - one user by name: a primed answer, else the name service */
static enum map_status
map_unix_lookup(struct map *map, const char *key, int lookup_flags, struct err *err)
{
    enum map_status status = MAP_NOTFOUND;
    char *value = NULL;
    bool primed = false;
    int rc = 0;

    for (size_t i = 0; i < MAP_UNIX_PRIMED && !primed; i++)
        if (map_unix_primed[i].name != NULL && strcmp(map_unix_primed[i].name, key) == 0) {
            primed = true;
            status = map_unix_primed[i].status;
            value = map_unix_primed[i].value ? xstrdup(map_unix_primed[i].value) : NULL;
        }
    if (!primed)
        status = map_unix_fetch(key, &value, &rc);
    if (status == MAP_ERROR)
        err_set(err, "unix:passwd.byname: lookup of %.100s: %s", key,
                rc ? strerror(rc) : "name service error");
    else if (status == MAP_FOUND &&
             (value == NULL || !map_set_value(map, value, strlen(value), err)))
        status = MAP_ERROR;
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
