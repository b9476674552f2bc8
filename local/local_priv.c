/*
 * local_priv.c - whose rights a delivery runs with, and how a child of local takes them.
 *
 * Every write into a mailbox, a file or a command happens in a child of local that has
 * dropped to the recipient's (or the alias owner's) uid and gid: setgroups to the one
 * group, setgid, setuid, then a check that the change is irreversible (setuid(0) must
 * fail and every uid must be the target). The child never runs as root after the drop;
 * uid 0 itself is refused (root's mail goes through an alias, as Postfix advises, or is
 * delivered with default_privs). Mailbox writes and commands go to long-lived children,
 * one per user (local_worker.c); local_run_as forks one for a single job (forwarding).
 * A child's result comes back as a fixed-size struct that local_result_check makes
 * well-formed; a child that dies without one defers the delivery.
 *
 * Trusts: the passwd database for the accounts it drops to; a child's result only after
 * local_result_check.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "core/fdio.h"
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

/*
 * Users found by name are remembered for the life of the process, as Postfix's local does
 * (mypwnam): a local process lives for max_use requests, and a lookup in /etc/passwd is
 * several system calls. Users not found are looked up again each time.
 */
#define LOCAL_PW_CACHE 32

static struct local_privs pw_cache[LOCAL_PW_CACHE];
static size_t pw_cached, pw_next;

static bool
local_privs_cached(const char *name, struct local_privs *p)
{
    for (size_t i = 0; i < pw_cached; i++) {
        if (strcmp(pw_cache[i].user, name) == 0) {
            p->uid = pw_cache[i].uid;
            p->gid = pw_cache[i].gid;
            p->user = xstrdup(pw_cache[i].user);
            p->home = xstrdup(pw_cache[i].home);
            return true;
        }
    }
    return false;
}

static void
local_privs_remember(const struct local_privs *p)
{
    struct local_privs *slot = &pw_cache[pw_next];

    if (pw_cached == LOCAL_PW_CACHE)
        local_privs_free(slot);
    else
        pw_cached++;
    pw_next = (pw_next + 1) % LOCAL_PW_CACHE;
    slot->uid = p->uid;
    slot->gid = p->gid;
    slot->user = xstrdup(p->user);
    slot->home = xstrdup(p->home);
}

/* local_privs_user - the rights of a user by name; false if there is no such user, and
 * then *failed says whether the passwd lookup itself failed (try again later) */
bool
local_privs_user(const char *name, struct local_privs *p, bool *failed)
{
    const struct passwd *pw;

    memset(p, 0, sizeof(*p));
    if (failed)
        *failed = false;
    if (local_privs_cached(name, p))
        return true;
    errno = 0;
    pw = getpwnam(name);
    if (failed)
        *failed = pw == NULL && errno != 0 && errno != ENOENT && errno != ESRCH && errno != EBADF &&
                  errno != EPERM;
    if (pw == NULL)
        return false;
    local_privs_from(pw, p);
    if (strcmp(p->user, name) == 0)
        local_privs_remember(p);
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

/* local_child_signals - a child of local starts with the default dispositions, none
 * blocked: the handlers it inherits write into local's event loop */
void
local_child_signals(void)
{
    static const int sigs[] = {SIGTERM, SIGHUP, SIGINT, SIGPIPE, SIGCHLD};
    sigset_t none;

    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        signal(sigs[i], SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* local_become - in a child of local: become p for good (as root), or be p already
 * (development mode, not root); false with the reason in res otherwise */
bool
local_become(const struct local_privs *p, struct deliver_result *res)
{
    if (geteuid() == 0 && !local_drop(p)) {
        deliver_set(res, DELIVER_DEFER, "4.3.0", "cannot change to uid %ld", (long)p->uid);
        return false;
    }
    if (geteuid() != p->uid) {
        deliver_set(res, DELIVER_DEFER, "4.3.0", "not running as root: cannot deliver as uid %ld",
                    (long)p->uid);
        return false;
    }
    return true;
}

/* local_close_except - close every descriptor from 3 up but the ones in keep (ascending) */
static void
local_close_except(const int *keep, size_t n)
{
    unsigned from = 3;

    for (size_t i = 0; i < n; i++) {
        if (keep[i] < (int)from)
            continue;
        if ((unsigned)keep[i] > from)
            close_range(from, (unsigned)keep[i] - 1, 0);
        from = (unsigned)keep[i] + 1;
    }
    close_range(from, ~0U, 0);
}

/* local_keep_cmp - ascending order of descriptors */
static int
local_keep_cmp(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/*
 * local_child - the child: drop, run, report, exit. It keeps only the result pipe, the
 * descriptor fn needs and the log file: not local's listener, status socket, qmgr
 * connection or the queue file it holds open for writing.
 */
static void
local_child(int out, int need, const struct local_privs *p, local_child_fn fn, void *arg)
{
    struct deliver_result res;
    int keep[3] = {out, need, log_file_fd()};

    qsort(keep, nitems(keep), sizeof(keep[0]), local_keep_cmp);
    closelog(); /* syslog's socket, if any, is opened again on the next line */
    local_close_except(keep, nitems(keep));
    local_child_signals();
    memset(&res, 0, sizeof(res));
    if (local_become(p, &res))
        fn(arg, &res);
    _exit(fd_write_all(out, &res, sizeof(res)) ? 0 : 1);
}

/* local_run_as - run fn in a child with p's rights and descriptor need; its result in res */
void
local_run_as(const struct local_privs *p, local_child_fn fn, void *arg, int need,
             struct deliver_result *res)
{
    int fds[2], status;
    size_t got;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
        deliver_errno(res, errno, "fork", "delivery process");
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        local_child(fds[1], need, p, fn, arg);
    }
    close(fds[1]);
    got = fd_read_full(fds[0], res, sizeof(*res));
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (got != sizeof(*res))
        deliver_set(res, DELIVER_DEFER, "4.3.0", "delivery process died (%s %d)",
                    WIFSIGNALED(status) ? "signal" : "status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    local_result_check(res);
}

/* local_result_check - a result from a process running as a user: make it well-formed */
void
local_result_check(struct deliver_result *res)
{
    res->reason[sizeof(res->reason) - 1] = 0;
    res->dsn[sizeof(res->dsn) - 1] = 0;
    if (res->status != DELIVER_OK && res->status != DELIVER_DEFER && res->status != DELIVER_BOUNCE)
        deliver_set(res, DELIVER_DEFER, "4.3.0", "delivery process gave a bad result");
}
