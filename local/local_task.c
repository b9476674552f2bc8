/*
 * local_task.c - what a delivery process does with one task: write the message into a
 * mailbox or file, or pipe it into a command. Runs with the rights of the user it is for
 * (a worker, local_worker.c), never as root.
 *
 * SIGPIPE is ignored in a delivery process (a command that exits without reading its input
 * is not an error); the command itself starts with the default.
 *
 * A command runs in a process group of its own under command_time_limit, counted from the
 * fork: when the time is up a timer signal kills the whole group (the shell and whatever it
 * started), which also ends a write into a pipe the command never reads, so neither a
 * command that hangs nor one that stops reading can hold the delivery past the limit. If
 * the delivery process itself is killed (local's local_delivery_time_limit, when its user
 * stopped it and the timer cannot fire), the command's first process dies with it
 * (PR_SET_PDEATHSIG).
 *
 * Trusts: the task, which local built from its own tables and the passwd database; the
 * addresses in it come from the network and reach a command only as environment values,
 * never as part of its text.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/mem.h"
#include "local/local.h"
#include "mail/maildir.h"
#include "mail/mbox.h"

/* local_task_request - the mailbox writers' view of the task */
static void
local_task_request(const struct params *params, const struct local_task *t,
                   struct mailbox_request *req)
{
    memset(req, 0, sizeof(*req));
    req->sender = t->sender;
    req->recipient = t->recipient;
    req->hostname = params->myhostname;
    req->arrival = t->arrival;
    req->size_limit = params->mailbox_size_limit;
    req->src.fd = t->fd;
    req->src.offset = 0;
    req->src.length = t->len;
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

/* local_task_box - write the message into a Maildir, mbox or file */
static void
local_task_box(const struct params *params, const struct local_task *t, struct deliver_result *res)
{
    struct mbox_opts opts = {
        .lock_timeout = (int)params->mailbox_lock_timeout, .stale_lock_age = 300, .dotlock = true};
    struct mailbox_request req;

    local_task_request(params, t, &req);
    if (*t->mkdir_base)
        local_mkdirs(t->mkdir_base, t->path);
    if (t->kind == LOCAL_TASK_MAILDIR)
        deliver_maildir(&req, t->path, res);
    else
        deliver_mbox(&req, t->path, &opts, res);
}

/* local_cmd_exec - in the command's process: stdin from the pipe, a clean environment */
static void
local_cmd_exec(const struct local_task *t, const struct local_privs *p, int in)
{
    const char *addr = t->recipient, *orig = t->orcpt;
    const char *at = strrchr(addr, '@');
    char *env[16];
    int n = 0, null = open("/dev/null", O_RDWR);

    if (strncasecmp(orig, "rfc822;", 7) == 0)
        orig += 7;
    env[n++] = "PATH=/usr/bin:/bin";
    env[n++] = "SHELL=/bin/sh";
    env[n++] = xasprintf("HOME=%s", p->home);
    env[n++] = xasprintf("USER=%s", p->user);
    env[n++] = xasprintf("LOGNAME=%s", p->user);
    env[n++] = xasprintf("SENDER=%s", t->sender);
    env[n++] = xasprintf("RECIPIENT=%s", addr);
    env[n++] = xasprintf("ORIGINAL_RECIPIENT=%s", *orig ? orig : addr);
    env[n++] = xasprintf("LOCAL=%.*s", at ? (int)(at - addr) : (int)strlen(addr), addr);
    env[n++] = xasprintf("DOMAIN=%s", at ? at + 1 : "");
    env[n] = NULL;
    if (dup2(in, 0) < 0 || null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
        _exit(75);
    if (chdir(p->home) < 0 && chdir("/") < 0)
        _exit(75);
    /* Nothing of the delivery process reaches the command: not its socket to local, nor
     * the message's memory file. */
    if (close_range(3, ~0U, 0) < 0)
        _exit(75);
    execle("/bin/sh", "sh", "-c", t->path, (char *)NULL, env);
    _exit(75);
}

/* The command's process group and the pipe into it while it runs, for the timer's handler;
 * the sink is /dev/null, which the handler puts in the pipe's place. */
static volatile sig_atomic_t local_cmd_group, local_cmd_pipe, local_cmd_sink;
static volatile sig_atomic_t local_cmd_expired;

/*
 * local_cmd_expire - SIGALRM: the time is up. Kill the command's whole group, and point the
 * pipe at /dev/null, so that a write blocked on a reader that escaped the group ends too.
 */
static void
local_cmd_expire(int sig)
{
    if (local_cmd_group > 0) {
        local_cmd_expired = 1;
        kill(-(pid_t)local_cmd_group, SIGKILL);
        if (local_cmd_pipe >= 0)
            dup2(local_cmd_sink, local_cmd_pipe);
    }
}

/* local_cmd_clock - start the command's clock (seconds > 0), or stop it (0) */
static void
local_cmd_clock(pid_t group, int pipe, int sink, long seconds)
{
    struct itimerval it = {.it_value = {.tv_sec = seconds}};
    struct sigaction sa = {.sa_handler = local_cmd_expire}; /* no SA_RESTART: writes end */

    if (seconds > 0) {
        local_cmd_group = group;
        local_cmd_pipe = pipe;
        local_cmd_sink = sink;
        local_cmd_expired = 0;
        sigaction(SIGALRM, &sa, NULL);
    }
    setitimer(ITIMER_REAL, &it, NULL);
    if (seconds == 0)
        local_cmd_group = 0;
}

/* local_cmd_wait - the command's exit, or its group killed by the clock */
static void
local_cmd_wait(const struct local_task *t, pid_t pid, struct deliver_result *res)
{
    int status = 0;

    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    local_cmd_clock(pid, -1, -1, 0);
    if (local_cmd_expired) {
        kill(-pid, SIGKILL); /* what the shell started and left behind */
        deliver_set(res, DELIVER_DEFER, "4.3.0", "Command time limit exceeded: \"%s\"", t->path);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        deliver_set(res, DELIVER_OK, "2.0.0", "delivered to command: %s", t->path);
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 75)
        deliver_set(res, DELIVER_DEFER, "4.3.0", "temporary failure. Command output: %s", t->path);
    else if (WIFEXITED(status))
        deliver_set(res, DELIVER_BOUNCE, "5.3.0", "Command died with status %d: \"%s\"",
                    WEXITSTATUS(status), t->path);
    else
        deliver_set(res, DELIVER_DEFER, "4.3.0", "Command died with signal %d: \"%s\"",
                    WTERMSIG(status), t->path);
}

/* local_task_command - run the command with the message on its stdin */
static void
local_task_command(const struct params *params, const struct local_privs *p,
                   const struct local_task *t, struct deliver_result *res)
{
    struct mailbox_request req;
    struct deliver_sink sink;
    char *head;
    int fds[2], null;
    pid_t pid, parent = getpid();

    local_task_request(params, t, &req);
    if ((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0 || pipe2(fds, O_CLOEXEC) < 0) {
        deliver_errno(res, errno, "open", "/dev/null or a pipe");
        if (null >= 0)
            close(null);
        return;
    }
    if ((pid = fork()) < 0) {
        deliver_errno(res, errno, "fork", "command");
        close(null);
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        signal(SIGALRM, SIG_DFL);
        setpgid(0, 0);
        /* A delivery process that local kills (stopped by its user, so its own clock
         * cannot fire) takes the command with it. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
            _exit(75);
        local_cmd_exec(t, p, fds[0]);
    }
    setpgid(pid, pid); /* also here: the clock may fire before the child gets to it */
    local_cmd_clock(pid, fds[1], null, params->command_time_limit);
    close(fds[0]);
    head = deliver_prepend(&req);
    deliver_sink_init(&sink, fds[1], false);
    deliver_sink_raw(&sink, head, strlen(head));
    deliver_sink_copy(&sink, &req.src);
    deliver_sink_flush(&sink); /* a command that does not read its input is not an error */
    free(head);
    local_cmd_pipe = -1; /* from here the handler leaves the descriptor alone */
    close(fds[1]);       /* the command sees the end of its input */
    close(null);
    local_cmd_wait(t, pid, res);
}

/* local_task_run - do the task; the result in res */
void
local_task_run(const struct params *params, const struct local_privs *p, const struct local_task *t,
               struct deliver_result *res)
{
    memset(res, 0, sizeof(*res));
    if (t->kind == LOCAL_TASK_COMMAND)
        local_task_command(params, p, t, res);
    else
        local_task_box(params, t, res);
}
