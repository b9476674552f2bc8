/*
 * local_mailbox.c - the destinations a recipient ends at: a mailbox (Maildir or mbox), a
 * file, a command, a virtual mailbox. Each write is a task for a delivery process with the
 * rights of the user it is for (local_worker.c), never root; this file only decides paths
 * and rights.
 *
 * Trusts: the passwd database and the administrator's tables. Addresses come from the
 * network: they are never put into a path except through a table's answer or a passwd
 * entry, and never into a command line (commands get them only as environment values).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/path.h"
#include "local/local.h"
#include "mail/map_addr.h"

static int
local_rank(enum deliver_status s)
{
    return s == DELIVER_DEFER ? 2 : s == DELIVER_BOUNCE ? 1 : 0;
}

/* local_merge - a recipient's result is the worst of its destinations' */
void
local_merge(struct local_rcpt *r, const struct deliver_result *res)
{
    if (!r->any || local_rank(res->status) > local_rank(r->res.status))
        r->res = *res;
    r->any = true;
}

/* local_once - false if this destination of the recipient was already delivered */
static bool
local_once(struct local_rcpt *r, const char *kind, const char *what)
{
    char *key = xasprintf("%s:%s", kind, what);

    if (strvec_contains(&r->seen, key)) {
        free(key);
        return false;
    }
    strvec_add_owned(&r->seen, key);
    return true;
}

/* local_task_for - a task for r's message, to be completed with where it goes */
static void
local_task_for(const struct local_rcpt *r, enum local_task_kind kind, const char *path,
               struct local_task *t)
{
    const struct local_msg *msg = r->msg;

    *t = (struct local_task){.kind = kind,
                             .path = path,
                             .mkdir_base = "",
                             .sender = msg->req->sender,
                             .recipient = r->rcpt->addr,
                             .orcpt = r->rcpt->orcpt,
                             .arrival = msg->req->arrival,
                             .fd = msg->fd,
                             .len = msg->len};
}

/* local_box - deliver to path (Maildir when it ends in '/') as p */
static void
local_box(struct local_rcpt *r, const char *path, const struct local_privs *p, const char *base,
          const char *what)
{
    size_t len = strlen(path);
    struct deliver_result res;
    struct local_task t;

    local_task_for(r, len > 0 && path[len - 1] == '/' ? LOCAL_TASK_MAILDIR : LOCAL_TASK_MBOX, path,
                   &t);
    if (base)
        t.mkdir_base = base;
    local_worker_run(r->lc, p, &t, &res);
    if (res.status == DELIVER_OK)
        deliver_set(&res, DELIVER_OK, "2.0.0", "delivered to %s", what);
    local_merge(r, &res);
}

/* local_spool_create - the spool directory is not the user's: create the mbox as root */
static void
local_spool_create(const char *path, const struct local_privs *user)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd < 0)
        return;
    if (fchown(fd, user->uid, user->gid) < 0)
        log_warn("chown %s: %m", path);
    close(fd);
}

/* local_deliver_mailbox - the user's own mailbox: home_mailbox, else the spool file */
void
local_deliver_mailbox(struct local_rcpt *r, const struct local_privs *user)
{
    const struct params *p = &r->lc->ctx->params;
    char *path;

    if (!local_once(r, "mailbox", user->user))
        return;
    if (*p->home_mailbox)
        path = xasprintf("%s/%s", user->home, p->home_mailbox);
    else {
        path = xasprintf("%s/%s", p->mail_spool_directory, user->user);
        if (geteuid() == 0)
            local_spool_create(path, user);
    }
    local_box(r, path, user, NULL, path[strlen(path) - 1] == '/' ? "maildir" : "mailbox");
    free(path);
}

/* local_deliver_file - append to a file named by an alias or forward entry */
void
local_deliver_file(struct local_rcpt *r, const char *path, const struct local_privs *p)
{
    char *what;

    if (!local_once(r, "file", path))
        return;
    what = xasprintf("file: %s", path);
    local_box(r, path, p, NULL, what);
    free(what);
}

/* local_deliver_command - pipe the message into a command of an alias or forward entry */
void
local_deliver_command(struct local_rcpt *r, const char *cmd, const struct local_privs *p)
{
    struct deliver_result res;
    struct local_task t;

    if (!local_once(r, "command", cmd))
        return;
    local_task_for(r, LOCAL_TASK_COMMAND, cmd, &t);
    local_worker_run(r->lc, p, &t, &res);
    local_merge(r, &res);
}

/* local_virtual_id - a uid or gid from virtual_uid_maps / virtual_gid_maps */
static bool
local_virtual_id(struct local_rcpt *r, struct local_table *t, long *id)
{
    struct map_addr_opts opts = {.recipient_delimiter = r->lc->ctx->params.recipient_delimiter};
    struct map_addr_match m = {0};
    struct deliver_result res;
    struct err err;
    enum map_status st = local_table_find(t, r->rcpt->addr, &opts, &m, &err);
    bool good = st == MAP_FOUND && str_to_long(m.value, 0, 2147483647, id);

    if (!good) {
        deliver_set(&res, DELIVER_DEFER, "4.3.0", "recipient %s: %s %s", r->rcpt->addr,
                    st == MAP_ERROR ? "lookup failure in" : "no valid entry in", t->name);
        local_merge(r, &res);
    }
    map_addr_match_free(&m);
    return good;
}

/* local_deliver_virtual - a virtual mailbox: path, uid and gid from the tables */
void
local_deliver_virtual(struct local_rcpt *r)
{
    const struct params *p = &r->lc->ctx->params;
    struct map_addr_opts opts = {.recipient_delimiter = p->recipient_delimiter};
    struct local_privs priv = {.user = "vmail", .home = "/"};
    struct map_addr_match m = {0};
    struct deliver_result res;
    struct err err;
    enum map_status st = local_table_find(&r->lc->vmailbox, r->rcpt->addr, &opts, &m, &err);
    long uid, gid;
    char *path;

    if (st != MAP_FOUND) {
        if (st == MAP_ERROR)
            deliver_set(&res, DELIVER_DEFER, "4.3.0", "virtual_mailbox_maps lookup failure");
        else
            deliver_set(&res, DELIVER_BOUNCE, "5.1.1", "unknown user: \"%s\"", r->rcpt->addr);
        local_merge(r, &res);
        map_addr_match_free(&m);
        return;
    }
    path = path_is_confined(m.value) ? xasprintf("%s/%s", p->virtual_mailbox_base, m.value) : NULL;
    map_addr_match_free(&m);
    if (path == NULL || !*p->virtual_mailbox_base) {
        deliver_set(&res, DELIVER_DEFER, "4.3.0", "bad virtual mailbox path for %s", r->rcpt->addr);
        local_merge(r, &res);
    } else if (local_virtual_id(r, &r->lc->vuid, &uid) && local_virtual_id(r, &r->lc->vgid, &gid)) {
        if (uid < p->virtual_minimum_uid) {
            deliver_set(&res, DELIVER_DEFER, "4.3.0",
                        "recipient %s: bad uid %ld in virtual_uid_maps", r->rcpt->addr, uid);
            local_merge(r, &res);
        } else {
            priv.uid = (uid_t)uid;
            priv.gid = (gid_t)gid;
            local_box(r, path, &priv, p->virtual_mailbox_base,
                      path[strlen(path) - 1] == '/' ? "maildir" : "mailbox");
        }
    }
    free(path);
}
