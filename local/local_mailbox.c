/*
 * local_mailbox.c - the destinations a recipient ends at: a mailbox (Maildir or mbox), a
 * file, a command, a virtual mailbox. Each write runs in a child with the rights of the
 * user it is for (local_priv.c), never as root; this file only decides paths and rights.
 *
 * Trusts: the passwd database and the administrator's tables. Addresses come from the
 * network: they are never put into a path except through a table's answer or a passwd
 * entry, and never into a command line (commands get them only as environment values).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "local/local.h"
#include "mail/map_addr.h"

/* What a delivering child needs. */
struct local_job {
    struct local_rcpt *r;
    const char *path; /* mailbox, file or command */
    bool maildir;
    const struct local_privs *p;
    const char *mkdir_base; /* virtual: create missing directories below this */
};

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

static void
local_request(const struct local_job *j, struct deliver_request *req)
{
    const struct local_msg *msg = j->r->msg;

    memset(req, 0, sizeof(*req));
    req->sender = msg->req->sender;
    req->recipient = j->r->rcpt->addr;
    req->hostname = j->r->lc->ctx->params.myhostname;
    req->arrival = msg->req->arrival;
    req->src.fd = msg->fd;
    req->src.offset = 0;
    req->src.length = msg->len;
}

/* local_mkdirs - the directories between base and path's last component (virtual) */
static void
local_mkdirs(const char *base, const char *path)
{
    char *copy = xstrdup(path);
    size_t blen = strlen(base);

    for (char *p = copy + blen + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = 0;
        (void)mkdir(copy, 0700); /* EEXIST is fine; any other failure shows at delivery */
        *p = '/';
    }
    free(copy);
}

/* local_box_child - write the message into a mailbox or file, as the user */
static void
local_box_child(void *arg, struct deliver_result *res)
{
    const struct local_job *j = arg;
    const struct params *p = &j->r->lc->ctx->params;
    struct mbox_opts opts = {
        .lock_timeout = (int)p->mailbox_lock_timeout, .stale_lock_age = 300, .dotlock = true};
    struct deliver_request req;

    local_request(j, &req);
    if (j->mkdir_base)
        local_mkdirs(j->mkdir_base, j->path);
    if (j->maildir)
        deliver_maildir(&req, j->path, res);
    else
        deliver_mbox(&req, j->path, &opts, res);
}

/* local_box - deliver to path (Maildir when it ends in '/') as p */
static void
local_box(struct local_rcpt *r, const char *path, const struct local_privs *p, const char *base,
          const char *what)
{
    struct local_job j = {.r = r, .path = path, .p = p, .mkdir_base = base};
    struct deliver_result res;
    size_t len = strlen(path);

    j.maildir = len > 0 && path[len - 1] == '/';
    local_run_as(p, local_box_child, &j, &res);
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

/* local_cmd_exec - in the grandchild: stdin from the pipe, a clean environment, sh -c */
static void
local_cmd_exec(const struct local_job *j, int in)
{
    const struct local_msg *msg = j->r->msg;
    const char *addr = j->r->rcpt->addr, *orig = j->r->rcpt->orcpt;
    const char *at = strrchr(addr, '@');
    char *env[16];
    int n = 0, null = open("/dev/null", O_RDWR);

    if (strncasecmp(orig, "rfc822;", 7) == 0)
        orig += 7;
    env[n++] = "PATH=/usr/bin:/bin";
    env[n++] = "SHELL=/bin/sh";
    env[n++] = xasprintf("HOME=%s", j->p->home);
    env[n++] = xasprintf("USER=%s", j->p->user);
    env[n++] = xasprintf("LOGNAME=%s", j->p->user);
    env[n++] = xasprintf("SENDER=%s", msg->req->sender);
    env[n++] = xasprintf("RECIPIENT=%s", addr);
    env[n++] = xasprintf("ORIGINAL_RECIPIENT=%s", *orig ? orig : addr);
    env[n++] = xasprintf("LOCAL=%.*s", at ? (int)(at - addr) : (int)strlen(addr), addr);
    env[n++] = xasprintf("DOMAIN=%s", at ? at + 1 : "");
    env[n] = NULL;
    if (dup2(in, 0) < 0 || null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
        _exit(75);
    if (chdir(j->p->home) < 0 && chdir("/") < 0)
        _exit(75);
    /* Nothing of local's reaches the command: not its listener, the status socket, the
     * request connection, nor the queue file's descriptor. */
    if (close_range(3, ~0U, 0) < 0)
        _exit(75);
    execle("/bin/sh", "sh", "-c", j->path, (char *)NULL, env);
    _exit(75);
}

/* local_cmd_wait - wait for the command, at most command_time_limit */
static void
local_cmd_wait(const struct local_job *j, pid_t pid, struct deliver_result *res)
{
    long limit_ms = j->r->lc->ctx->params.command_time_limit * 1000L;
    const struct timespec tick = {0, 10 * 1000 * 1000};
    int status = 0;
    long waited = 0;
    pid_t got;

    while ((got = waitpid(pid, &status, WNOHANG)) == 0 && waited < limit_ms) {
        nanosleep(&tick, NULL);
        waited += 10;
    }
    if (got == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        deliver_set(res, DELIVER_DEFER, "4.3.0", "command time limit exceeded: \"%s\"", j->path);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        deliver_set(res, DELIVER_OK, "2.0.0", "delivered to command: %s", j->path);
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 75)
        deliver_set(res, DELIVER_DEFER, "4.3.0", "temporary failure. Command output: %s", j->path);
    else if (WIFEXITED(status))
        deliver_set(res, DELIVER_BOUNCE, "5.3.0", "Command died with status %d: \"%s\"",
                    WEXITSTATUS(status), j->path);
    else
        deliver_set(res, DELIVER_DEFER, "4.3.0", "Command died with signal %d: \"%s\"",
                    WTERMSIG(status), j->path);
}

/* local_cmd_child - run the command with the message on its stdin, as the owner */
static void
local_cmd_child(void *arg, struct deliver_result *res)
{
    const struct local_job *j = arg;
    struct deliver_request req;
    struct deliver_sink sink;
    char *head;
    int fds[2];
    pid_t pid;

    signal(SIGPIPE, SIG_IGN);
    local_request(j, &req);
    if (pipe(fds) < 0 || (pid = fork()) < 0) {
        deliver_errno(res, errno, "fork", "command");
        return;
    }
    if (pid == 0) {
        close(fds[1]);
        signal(SIGPIPE, SIG_DFL);
        local_cmd_exec(j, fds[0]);
    }
    close(fds[0]);
    head = deliver_prepend(&req);
    deliver_sink_init(&sink, fds[1], false);
    deliver_sink_raw(&sink, head, strlen(head));
    deliver_sink_copy(&sink, &req.src);
    deliver_sink_flush(&sink); /* a command that does not read its input is not an error */
    free(head);
    close(fds[1]);
    local_cmd_wait(j, pid, res);
}

/* local_deliver_command - pipe the message into a command of an alias or forward entry */
void
local_deliver_command(struct local_rcpt *r, const char *cmd, const struct local_privs *p)
{
    struct local_job j = {.r = r, .path = cmd, .p = p};
    struct deliver_result res;

    if (!local_once(r, "command", cmd))
        return;
    local_run_as(p, local_cmd_child, &j, &res);
    local_merge(r, &res);
}

/* local_virtual_id - a uid or gid from virtual_uid_maps / virtual_gid_maps */
static bool
local_virtual_id(struct local_rcpt *r, struct map_list *maps, const char *what, long *id)
{
    struct map_addr_opts opts = {.recipient_delimiter = r->lc->ctx->params.recipient_delimiter};
    struct map_addr_match m = {0};
    struct deliver_result res;
    struct map_error err;
    enum map_status st =
        maps ? map_addr_find(maps, MAP_ADDR_VIRTUAL, r->rcpt->addr, &opts, &m, &err) : MAP_NOTFOUND;
    bool good = st == MAP_FOUND && str_to_long(m.value, 0, 2147483647, id);

    if (!good) {
        deliver_set(&res, DELIVER_DEFER, "4.3.0", "recipient %s: %s %s", r->rcpt->addr,
                    st == MAP_ERROR ? "lookup failure in" : "no valid entry in", what);
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
    struct map_error err;
    enum map_status st = r->lc->vmailbox ? map_addr_find(r->lc->vmailbox, MAP_ADDR_VIRTUAL,
                                                         r->rcpt->addr, &opts, &m, &err)
                                         : MAP_NOTFOUND;
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
    path = xasprintf("%s/%s", p->virtual_mailbox_base, m.value);
    map_addr_match_free(&m);
    if (strstr(path, "/../") != NULL || !*p->virtual_mailbox_base) {
        deliver_set(&res, DELIVER_DEFER, "4.3.0", "bad virtual mailbox path for %s", r->rcpt->addr);
        local_merge(r, &res);
    } else if (local_virtual_id(r, r->lc->vuid, "virtual_uid_maps", &uid) &&
               local_virtual_id(r, r->lc->vgid, "virtual_gid_maps", &gid)) {
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
