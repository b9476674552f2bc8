/*
 * local_priv.c - whose rights a delivery runs with, and the child that runs with them.
 *
 * Every write into a mailbox, a file or a command happens in a child forked for it that
 * has dropped to the recipient's (or the alias owner's) uid and gid: setgroups to the one
 * group, setgid, setuid, then a check that the change is irreversible (setuid(0) must
 * fail and every uid must be the target). The child never runs as root after the drop;
 * uid 0 itself is refused (root's mail goes through an alias, as Postfix advises, or is
 * delivered with default_privs). The result comes back through a pipe as a fixed-size
 * struct; a child that dies without one defers the delivery.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "local/local.h"

void
local_privs_free(struct local_privs *p)
{
    free(p->user);
    free(p->home);
    memset(p, 0, sizeof(*p));
}

static void
local_privs_from(const struct passwd *pw, struct local_privs *p)
{
    p->uid = pw->pw_uid;
    p->gid = pw->pw_gid;
    p->user = xstrdup(pw->pw_name);
    p->home = xstrdup(pw->pw_dir);
}

/* local_privs_user - the rights of a user by name; false if there is no such user, and
 * then *failed says whether the passwd lookup itself failed (try again later) */
bool
local_privs_user(const char *name, struct local_privs *p, bool *failed)
{
    const struct passwd *pw;

    memset(p, 0, sizeof(*p));
    errno = 0;
    pw = getpwnam(name);
    if (failed)
        *failed = pw == NULL && errno != 0 && errno != ENOENT && errno != ESRCH && errno != EBADF &&
                  errno != EPERM;
    if (pw == NULL)
        return false;
    local_privs_from(pw, p);
    return true;
}

/* local_privs_owner - the rights of a file's owner; root's files get default_privs */
bool
local_privs_owner(struct local *lc, uid_t owner, struct local_privs *p)
{
    const struct passwd *pw =
        owner == 0 ? getpwnam(lc->ctx->params.default_privs) : getpwuid(owner);

    memset(p, 0, sizeof(*p));
    if (pw == NULL || pw->pw_uid == 0)
        return false;
    local_privs_from(pw, p);
    return true;
}

/* local_drop - as root, become p for good; false if any step fails or is reversible */
static bool
local_drop(const struct local_privs *p)
{
    if (p->uid == 0 || setgroups(1, &p->gid) < 0 || setgid(p->gid) < 0 || setuid(p->uid) < 0)
        return false;
    if (getuid() != p->uid || geteuid() != p->uid || getgid() != p->gid || getegid() != p->gid)
        return false;
    return setuid(0) < 0 && seteuid(0) < 0;
}

/* local_child - the delivering child: drop, deliver, report, exit */
static void
local_child(int out, const struct local_privs *p, local_child_fn fn, void *arg)
{
    struct deliver_result res;
    const char *w = (const char *)&res;
    size_t off = 0;

    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    memset(&res, 0, sizeof(res));
    if (geteuid() == 0 && !local_drop(p))
        deliver_set(&res, DELIVER_DEFER, "4.3.0", "cannot change to uid %ld", (long)p->uid);
    else if (geteuid() != p->uid)
        deliver_set(&res, DELIVER_DEFER, "4.3.0", "not running as root: cannot deliver as uid %ld",
                    (long)p->uid);
    else
        fn(arg, &res);
    while (off < sizeof(res)) {
        ssize_t n = write(out, w + off, sizeof(res) - off);
        if (n <= 0 && errno != EINTR)
            _exit(1);
        if (n > 0)
            off += (size_t)n;
    }
    _exit(0);
}

/* local_run_as - run fn in a child with p's rights; its result in res */
void
local_run_as(const struct local_privs *p, local_child_fn fn, void *arg, struct deliver_result *res)
{
    int fds[2], status;
    size_t got = 0;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
        deliver_errno(res, errno, "fork", "delivery process");
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        local_child(fds[1], p, fn, arg);
    }
    close(fds[1]);
    while (got < sizeof(*res)) {
        ssize_t n = read(fds[0], (char *)res + got, sizeof(*res) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (got != sizeof(*res))
        deliver_set(res, DELIVER_DEFER, "4.3.0", "delivery process died (%s %d)",
                    WIFSIGNALED(status) ? "signal" : "status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    res->reason[sizeof(res->reason) - 1] = 0;
    res->dsn[sizeof(res->dsn) - 1] = 0;
}
