/*
 * local_alias.c - what a local recipient expands to: alias_maps, :include: files, the
 * user's .forward, and finally the user's mailbox (Postfix's local(8) order).
 *
 * Rights: destinations from an alias run as the owner of the alias table's file, or as
 * default_privs when root owns it; from an :include: file as that file's owner (root:
 * default_privs); from a .forward as its user. allow_mail_to_commands and
 * allow_mail_to_files say where commands and files may appear (alias, forward, include).
 * Files named by users (.forward, :include:) are opened with the rights that will use
 * them, never read as root. Expansion is bounded by local_alias_recursion_limit, and a
 * name already being expanded is not expanded again ("user: user, |cmd" delivers to the
 * user's own mailbox and runs the command).
 *
 * Trusts: the tables and files as their owners wrote them; addresses from the network only
 * as lookup keys (the local part is never used in a path or a command).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "local/local.h"
#include "mail/map_addr.h"

#define LOCAL_FILE_LIMIT (1024 * 1024) /* bytes of a .forward or :include: file */

static void local_expand_list(struct local_rcpt *r, const char *text, enum local_origin origin,
                              const struct local_privs *p, int depth);

/*
 * local_alias_open - open alias_maps. A table that cannot be opened (not built yet, say) is
 * logged once and left closed: lookups in it are deferred and try to open it again, so the
 * process neither exits into a restart loop nor needs a reload once the table is built.
 */
void
local_alias_open(struct local *lc)
{
    const struct strvec *maps = &lc->ctx->params.alias_maps;
    struct err err;

    lc->alias = xcalloc(maps->n + 1, sizeof(*lc->alias));
    for (size_t i = 0; i < maps->n; i++) {
        lc->alias[i].spec = xstrdup(maps->v[i]);
        if ((lc->alias[i].map = map_list_open(maps->v[i], MAP_FOLD_FIXED, &err)) == NULL)
            log_warn("alias_maps: %s: deliveries that need it are deferred", err.text);
    }
    lc->nalias = maps->n;
}

/* local_alias_ready - the table is open, or opens now; false if it still cannot */
static bool
local_alias_ready(struct local_alias_map *a)
{
    struct err err;

    if (a->map == NULL)
        a->map = map_list_open(a->spec, MAP_FOLD_FIXED, &err);
    return a->map != NULL;
}

void
local_alias_close(struct local *lc)
{
    for (size_t i = 0; i < lc->nalias; i++) {
        if (lc->alias[i].map)
            map_list_close(lc->alias[i].map);
        free(lc->alias[i].spec);
    }
    free(lc->alias);
    lc->alias = NULL;
    lc->nalias = 0;
}

/* local_alias_owner - who owns an alias table's file (root if it has none) */
static uid_t
local_alias_owner(const char *spec)
{
    const char *colon = strchr(spec, ':');
    const char *path = colon ? colon + 1 : spec;
    struct stat st;
    char *db;

    if (*path != '/')
        return 0;
    db = xasprintf("%s.lmdb", path);
    if (stat(db, &st) < 0 && stat(path, &st) < 0)
        st.st_uid = 0;
    free(db);
    return st.st_uid;
}

static bool
local_allowed(const struct strvec *list, enum local_origin origin)
{
    static const char *const words[] = {"alias", "forward", "include"};

    return strvec_contains(list, words[origin]);
}

static void
local_fail(struct local_rcpt *r, enum deliver_status st, const char *dsn, const char *text)
{
    struct deliver_result res;

    deliver_set(&res, st, dsn, "%s", text);
    local_merge(r, &res);
}

/*
 * local_open_as - open path with exactly p's rights: its uid, its gid and that group alone.
 * local runs as root with root's supplementary groups (often 0 itself); without dropping
 * them, a user's :include: could read a root:root 0640 file through group 0.
 */
static int
local_open_as(const char *path, const struct local_privs *p)
{
    gid_t groups[64];
    int ngroups, fd, saved;

    if (geteuid() != 0)
        return open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if ((ngroups = getgroups(64, groups)) < 0)
        log_fatal("getgroups: %m");
    if (setgroups(1, &p->gid) < 0 || setegid(p->gid) < 0 || seteuid(p->uid) < 0)
        log_fatal("become %s (uid %ld): %m", p->user, (long)p->uid);
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    saved = errno;
    if (seteuid(0) < 0 || setegid(0) < 0 || setgroups((size_t)ngroups, groups) < 0)
        log_panic("cannot get root back: %m");
    errno = saved;
    return fd;
}

/* local_read_as - a user's file, opened with that user's rights; NULL if absent or unsafe */
static char *
local_read_as(const char *path, const struct local_privs *p, bool must_own, struct stat *st)
{
    struct buf text;
    char chunk[4096];
    ssize_t n;
    int fd;

    if ((fd = local_open_as(path, p)) < 0)
        return NULL;
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || (st->st_mode & 022) ||
        (must_own && st->st_uid != p->uid && st->st_uid != 0)) {
        log_warn("%s: not a regular file owned by %s and writable by its owner alone: ignored",
                 path, p->user);
        close(fd);
        return NULL;
    }
    buf_init(&text, LOCAL_FILE_LIMIT);
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        if (!buf_append(&text, chunk, (size_t)n))
            break;
    close(fd);
    return buf_steal(&text);
}

/* local_include - the destinations listed in an :include: file, with its owner's rights */
static void
local_include(struct local_rcpt *r, const char *path, enum local_origin origin,
              const struct local_privs *p, int depth)
{
    struct local_privs owner;
    struct stat st;
    char *text;

    if (!local_allowed(&r->lc->ctx->params.allow_mail_to_files, origin) &&
        !local_allowed(&r->lc->ctx->params.allow_mail_to_commands, origin) &&
        origin != LOCAL_FROM_ALIAS) {
        local_fail(r, DELIVER_BOUNCE, "5.7.1", "mail to :include: file is restricted");
        return;
    }
    if ((text = local_read_as(path, p, false, &st)) == NULL) {
        struct deliver_result res;
        deliver_set(&res, DELIVER_DEFER, "4.3.0", "cannot open include file %s", path);
        local_merge(r, &res);
        return;
    }
    if (!local_privs_owner(r->lc, st.st_uid, &owner))
        local_fail(r, DELIVER_DEFER, "4.3.0", "include file owner has no usable account");
    else
        local_expand_list(r, text, LOCAL_FROM_INCLUDE, &owner, depth + 1);
    local_privs_free(&owner);
    free(text);
}

/* local_remote - an address of another domain: collected, forwarded as one new message */
static void
local_remote(struct local_rcpt *r, const char *addr)
{
    if (!strvec_contains(&r->remote, addr))
        strvec_add(&r->remote, addr);
}

/*
 * local_visit - true the first time a recipient's expansion meets item with these rights.
 * An item met again (the same :include: listed 10,000 times) is skipped at once; past
 * local_expansion_limit distinct items the recipient fails (5.2.4, RFC 3463's mailing list
 * expansion problem), so no list makes one delivery attempt cost unbounded work.
 */
static bool
local_visit(struct local_rcpt *r, const char *item, const struct local_privs *p)
{
    char *key;

    if (r->visited.n >= (size_t)r->lc->ctx->params.local_expansion_limit) {
        if (!r->expansion_over)
            local_fail(r, DELIVER_BOUNCE, "5.2.4",
                       "alias, forward and include expansion exceeds local_expansion_limit");
        r->expansion_over = true;
        return false;
    }
    key = xasprintf("%ld %s", (long)p->uid, item);
    if (strvec_contains(&r->visited, key)) {
        free(key);
        return false;
    }
    strvec_add_owned(&r->visited, key);
    return true;
}

/* local_item - one destination of an alias, include or forward list */
static void
local_item(struct local_rcpt *r, const char *item, enum local_origin origin,
           const struct local_privs *p, int depth)
{
    const struct params *params = &r->lc->ctx->params;
    enum addr_class cls = ADDR_CLASS_LOCAL;
    const char *at = strrchr(item, '@');
    struct err err;

    if (!local_visit(r, item, p))
        return;
    if (*item == '|') {
        if (local_allowed(&params->allow_mail_to_commands, origin))
            local_deliver_command(r, item + 1, p);
        else
            local_fail(r, DELIVER_BOUNCE, "5.7.1", "mail to command is restricted");
    } else if (*item == '/') {
        if (local_allowed(&params->allow_mail_to_files, origin))
            local_deliver_file(r, item, p);
        else
            local_fail(r, DELIVER_BOUNCE, "5.7.1", "mail to file is restricted");
    } else if (strncasecmp(item, ":include:", 9) == 0)
        local_include(r, item + 9, origin, p, depth);
    else if (at && addr_class_find(&r->lc->domains, at + 1, &cls, &err) == MAP_ERROR)
        local_fail(r, DELIVER_DEFER, "4.3.0", "mydestination lookup failure");
    else if (at && cls != ADDR_CLASS_LOCAL)
        local_remote(r, item);
    else
        local_deliver_local(r, *item == '\\' ? item + 1 : item, depth + (*item == '\\' ? 0 : 1));
}

/* local_next_item - the next comma- or line-separated item; "quoted" items keep commas */
static char *
local_next_item(char **cursor)
{
    char *s = *cursor, *start, *end;

    while (*s == ',' || *s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    if (*s == 0)
        return NULL;
    if (*s == '#') { /* a comment line in a .forward or :include: file */
        s += strcspn(s, "\n");
        *cursor = s;
        return local_next_item(cursor);
    }
    if (*s == '"') {
        start = ++s;
        s += strcspn(s, "\"");
        end = s;
        if (*s)
            s++;
    } else {
        start = s;
        s += strcspn(s, ",\r\n");
        end = s;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
    }
    if (*s)
        s++;
    *end = 0;
    *cursor = s;
    return start;
}

static void
local_expand_list(struct local_rcpt *r, const char *text, enum local_origin origin,
                  const struct local_privs *p, int depth)
{
    char *copy = xstrdup(text), *cursor = copy, *item;
    bool any = false;

    while ((item = local_next_item(&cursor)) != NULL) {
        any = true;
        local_item(r, item, origin, p, depth);
    }
    if (!any)
        local_fail(r, DELIVER_BOUNCE, "5.1.1", "alias or forward entry without destinations");
    free(copy);
}

/* local_alias - look name up in alias_maps; true if it is an alias (and was expanded) */
static bool
local_alias(struct local_rcpt *r, const char *name, int depth)
{
    struct map_addr_opts opts = {.recipient_delimiter = r->lc->ctx->params.recipient_delimiter};
    struct err err;

    for (size_t i = 0; i < r->lc->nalias; i++) {
        struct map_addr_match m = {0};
        struct local_privs owner;
        enum map_status st =
            local_alias_ready(&r->lc->alias[i])
                ? map_addr_find(r->lc->alias[i].map, MAP_ADDR_LOCAL, name, &opts, &m, &err)
                : MAP_ERROR;
        char *value;

        if (st == MAP_ERROR) {
            local_fail(r, DELIVER_DEFER, "4.3.0", "alias database unavailable");
            return true;
        }
        if (st == MAP_NOTFOUND)
            continue;
        value = xstrdup(m.value);
        map_addr_match_free(&m);
        if (!local_privs_owner(r->lc, local_alias_owner(r->lc->alias[i].spec), &owner))
            local_fail(r, DELIVER_DEFER, "4.3.0", "alias database owner has no usable account");
        else {
            strvec_add(&r->chain, name);
            local_expand_list(r, value, LOCAL_FROM_ALIAS, &owner, depth);
            free(r->chain.v[--r->chain.n]);
        }
        local_privs_free(&owner);
        free(value);
        return true;
    }
    return false;
}

/* local_forward - the user's .forward, if it is there and safe; true if it was used */
static bool
local_forward(struct local_rcpt *r, const struct local_privs *user, int depth)
{
    char *key = xasprintf("forward:%s", user->user), *path, *text;
    struct stat st;
    bool used = false;

    if (strvec_contains(&r->chain, key)) {
        free(key);
        return false;
    }
    path = xasprintf("%s/.forward", user->home);
    if ((text = local_read_as(path, user, true, &st)) != NULL) {
        strvec_add(&r->chain, key);
        local_expand_list(r, text, LOCAL_FROM_FORWARD, user, depth + 1);
        free(r->chain.v[--r->chain.n]);
        used = true;
    }
    free(text);
    free(path);
    free(key);
    return used;
}

/* local_user_name - the local part without its extension, in lower case */
static char *
local_user_name(const struct params *p, const char *addr)
{
    const char *at = strrchr(addr, '@');
    char *name = xstrndup(addr, at ? (size_t)(at - addr) : strlen(addr));

    if (*p->recipient_delimiter && name[0])
        name[1 + strcspn(name + 1, p->recipient_delimiter)] = 0;
    return str_lower(name);
}

/* local_deliver_local - a local address: alias, else user (.forward, else mailbox) */
void
local_deliver_local(struct local_rcpt *r, const char *addr, int depth)
{
    const struct params *p = &r->lc->ctx->params;
    char *name = local_user_name(p, addr), *full, *msg;
    const char *at = strrchr(addr, '@');
    struct local_privs user;
    bool failed;

    if (depth > p->local_alias_recursion_limit) {
        local_fail(r, DELIVER_DEFER, "4.3.0", "alias expansion nesting too deep");
        free(name);
        return;
    }
    full = str_lower(xstrndup(addr, at ? (size_t)(at - addr) : strlen(addr)));
    if (!strvec_contains(&r->chain, full) && local_alias(r, full, depth)) {
        free(full);
        free(name);
        return;
    }
    free(full);
    if (!local_privs_user(name, &user, &failed)) {
        msg = xasprintf(failed ? "user lookup failure for \"%s\"" : "unknown user: \"%s\"", name);
        if (failed)
            local_fail(r, DELIVER_DEFER, "4.3.0", msg);
        else
            local_fail(r, DELIVER_BOUNCE, "5.1.1", msg);
        free(msg);
    } else {
        if (user.uid == 0) { /* root's mail is written with default_privs */
            struct local_privs dflt;
            if (local_privs_user(p->default_privs, &dflt, NULL)) {
                user.uid = dflt.uid;
                user.gid = dflt.gid;
            }
            local_privs_free(&dflt);
        }
        if (!local_forward(r, &user, depth))
            local_deliver_mailbox(r, &user);
    }
    local_privs_free(&user);
    free(name);
}
