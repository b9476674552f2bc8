/*
 * postern_queue_cmd.c - the queue commands' requests, whatever command line asked for them
 * (postern_queue.c): list, flush, delete, hold, release, requeue, show.
 *
 * Runs as the invoking user. When the mail system is down, root's listing comes from
 * showq started stand-alone, as Postfix's postqueue does, and postcat reads the file in a
 * child that became mail_owner: root never opens a path in mail_owner's directories. Listing and
 * flushing go through showq's public socket (public/showq), which decides with
 * authorized_mailq_users / authorized_flush_users who may; everything else goes to qmgr's private
 * socket, which admits only root (and mail_owner). No command reads or changes a queue directory
 * itself: only qmgr renames and removes queue files, and postcat gets a read-only descriptor from
 * qmgr.
 *
 * Trusts: its command line and main.cf; nothing a daemon answers (queue_ctl.c checks it).
 * Exit codes and messages follow Postfix's commands (sysexits.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/ipc.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "mail/params.h"
#include "mail/queue_ctl.h"
#include "mail/queue_id.h"
#include "postern/postern.h"
#include "postern/postern_queue.h"

/* The name messages go out under: the Postfix command's, or postern's own. */
static const char *queue_cmd_name = "postern/queue";

void
queue_cmd_tag(const char *name)
{
    queue_cmd_name = name;
}

/* queue_cmd_fatal - "name: fatal: text" on stderr, as Postfix's commands say it before they exit
 * with a sysexits.h status (the caller returns that status) */
void
queue_cmd_fatal(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: fatal: ", queue_cmd_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* queue_cmd_load - main.cf of the configuration directory (-c, else the default) */
static bool
queue_cmd_load(struct queue_cmd *pq)
{
    struct conf *conf = params_conf_new();
    char *path;
    struct err err;
    bool good;

    if (pq->config_dir == NULL)
        pq->config_dir = postern_config_dir();
    path = xasprintf("%s/main.cf", pq->config_dir);
    good = conf_read_file(conf, path, &err) && params_load(&pq->params, conf, &err);
    if (!good)
        queue_cmd_fatal("%s", err.text);
    pq->loaded = good;
    free(path);
    conf_free(conf);
    return good;
}

void
queue_cmd_free(struct queue_cmd *pq)
{
    if (pq->loaded)
        params_free(&pq->params);
    free(pq->config_dir);
}

/* queue_cmd_connect - public/showq or private/qmgr; -1 (and the error logged) if not running */
static int
queue_cmd_connect(struct queue_cmd *pq, const char *where, const char *service, const char *down)
{
    char *path = xasprintf("%s/%s/%s", pq->params.queue_directory, where, service);
    struct err err;
    int fd = ipc_connect(path, &err);

    if (fd < 0)
        queue_cmd_fatal("%s (connect to the %s service: %s)", down, service, err.text);
    free(path);
    return fd;
}

/* queue_cmd_superuser - root (or mail_owner) only, as postsuper and postcat are */
static bool
queue_cmd_superuser(const struct queue_cmd *pq)
{
    const struct passwd *pw = getpwnam(pq->params.mail_owner);

    if (getuid() == 0 || (pw != NULL && pw->pw_uid == getuid()))
        return true;
    queue_cmd_fatal("use of this command is reserved for the superuser");
    return false;
}

/* queue_cmd_outcome - report a refusal or failure; the exit status */
static int
queue_cmd_outcome(enum queue_ctl_outcome out, const char *why, int refused_status)
{
    if (out == QUEUE_CTL_OK)
        return 0;
    queue_cmd_fatal("%s", why);
    return out == QUEUE_CTL_REFUSED ? refused_status : QUEUE_EX_UNAVAILABLE;
}

/*
 * queue_cmd_direct - the mail system is down and root asks for the queue: showq runs
 * stand-alone (-S) as a child, dropping to mail_owner (-u) as under the master, as
 * Postfix's postqueue does then; the socket to read the listing from, or -1
 */
static int
queue_cmd_direct(struct queue_cmd *pq, const char *why, pid_t *child)
{
    char *prog = xasprintf("%s/showq", pq->params.daemon_directory);
    int sv[2] = {-1, -1};

    fprintf(stderr, "%s: warning: Mail system is down -- accessing queue directly (%s)\n",
            queue_cmd_name, why);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || (*child = fork()) < 0) {
        queue_cmd_fatal("Queue report unavailable: %s", strerror(errno));
        free(prog);
        return -1;
    }
    if (*child == 0) { /* dup2 clears close-on-exec on what showq reads and writes */
        if (dup2(sv[1], 0) == 0 && dup2(sv[1], 1) == 1)
            execl(prog, "showq", "-S", "-u", "-c", pq->config_dir, (char *)NULL);
        _exit(QUEUE_EX_UNAVAILABLE);
    }
    close(sv[1]);
    free(prog);
    return sv[0];
}

/* queue_cmd_showq - a connection to showq: its socket, or as root a stand-alone child */
static int
queue_cmd_showq(struct queue_cmd *pq, pid_t *child)
{
    char *path = xasprintf("%s/public/showq", pq->params.queue_directory);
    char why[sizeof(((struct err *)0)->text) + 64];
    struct err err;
    int fd = ipc_connect(path, &err);

    free(path);
    *child = -1;
    if (fd >= 0)
        return fd;
    snprintf(why, sizeof(why), "connect to the showq service: %s", err.text);
    if (getuid() == 0)
        return queue_cmd_direct(pq, why, child);
    queue_cmd_fatal("Queue report unavailable - mail system is down (%s)", why);
    return -1;
}

/* queue_cmd_list - the queue, as text or JSON lines */
int
queue_cmd_list(struct queue_cmd *pq, bool json)
{
    struct queue_print p = {.out = stdout, .json = json};
    char why[QUEUE_CTL_WHY_SIZE];
    enum queue_ctl_outcome out;
    pid_t child;
    int fd;

    if (!queue_cmd_load(pq))
        return QUEUE_EX_UNAVAILABLE;
    if ((fd = queue_cmd_showq(pq, &child)) < 0)
        return QUEUE_EX_UNAVAILABLE;
    out = queue_ctl_list(fd, queue_print_entry, &p, why, sizeof(why));
    close(fd);
    if (child > 0)
        waitpid(child, NULL, 0);
    if (out == QUEUE_CTL_OK)
        queue_print_end(&p);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        queue_cmd_fatal("output write error: %s", strerror(errno));
        return QUEUE_EX_SOFTWARE;
    }
    return queue_cmd_outcome(out, why, QUEUE_EX_NOPERM);
}

/* queue_cmd_flush - deferred mail tried now: all, one site (-s) or one ID (-i) */
int
queue_cmd_flush(struct queue_cmd *pq, const char *site, const char *id)
{
    char why[QUEUE_CTL_WHY_SIZE];
    enum queue_ctl_outcome out;
    long count = 0;
    int fd;

    if (*site && (strlen(site) > 255 || strpbrk(site, " \t\r\n@") != NULL)) {
        queue_cmd_fatal("Cannot flush mail queue - invalid destination: \"%.100s%s\"", site,
                        strlen(site) > 100 ? "..." : "");
        return QUEUE_EX_USAGE;
    }
    if (*id && !queue_id_valid(id, strlen(id))) {
        queue_cmd_fatal("Cannot flush queue ID - invalid name: \"%.100s%s\"", id,
                        strlen(id) > 100 ? "..." : "");
        return QUEUE_EX_USAGE;
    }
    if (!queue_cmd_load(pq))
        return QUEUE_EX_UNAVAILABLE;
    if ((fd = queue_cmd_connect(pq, "public", "showq",
                                "Cannot flush mail queue - mail system is down")) < 0)
        return QUEUE_EX_UNAVAILABLE;
    out = queue_ctl_flush(fd, site, id, &count, why, sizeof(why));
    close(fd);
    return queue_cmd_outcome(out, why, QUEUE_EX_NOPERM);
}

/* The administrator's actions, with postsuper's summary line. */
static const struct queue_cmd_action {
    const char *verb;
    const char *done; /* postsuper's words for what was done */
} queue_cmd_actions[] = {
    {"delete", "Deleted"},
    {"hold", "Placed on hold"},
    {"release", "Released from hold"},
    {"requeue", "Requeued"},
};

/* queue_cmd_action_find - the action called verb, or NULL */
static const struct queue_cmd_action *
queue_cmd_action_find(const char *verb)
{
    for (size_t i = 0; i < nitems(queue_cmd_actions); i++)
        if (strcmp(queue_cmd_actions[i].verb, verb) == 0)
            return &queue_cmd_actions[i];
    return NULL;
}

/* queue_cmd_ids - the IDs an operand names: itself, or with "-" one per line of stdin */
static void
queue_cmd_ids(const char *operand, struct strvec *ids)
{
    char line[256];

    if (strcmp(operand, "-") != 0) {
        strvec_add(ids, operand);
        return;
    }
    while (fgets(line, sizeof(line), stdin) != NULL) {
        char *id = str_trim(line);

        if (*id)
            strvec_add(ids, id);
    }
}

/* queue_cmd_admin_one - one request to qmgr; false if qmgr could not be asked at all */
static bool
queue_cmd_admin_one(int fd, const struct queue_cmd_action *a, const char *id, const char *queues,
                    long *total, int *status)
{
    char why[QUEUE_CTL_WHY_SIZE];
    long count = 0;
    enum queue_ctl_outcome out;

    if (strcmp(id, "ALL") != 0 && !queue_id_valid(id, strlen(id))) {
        log_warn("invalid mail queue id: %.100s", id);
        *status = 1;
        return true;
    }
    out = queue_ctl_admin(fd, a->verb, id, queues, &count, why, sizeof(why));
    if (out == QUEUE_CTL_BROKEN) {
        queue_cmd_fatal("%s", why);
        *status = 1;
        return false;
    }
    if (out == QUEUE_CTL_REFUSED) {
        log_warn("%s", why);
        *status = 1;
    }
    *total += count;
    return true;
}

/*
 * queue_cmd_admin - action on each ID (or ALL) in the named queues (none: the action's default
 * queues), through qmgr; postsuper's summary line when something was done
 */
int
queue_cmd_admin(struct queue_cmd *pq, const char *verb, const struct strvec *operands,
                const char *queues)
{
    const struct queue_cmd_action *a = queue_cmd_action_find(verb);
    struct strvec ids;
    long total = 0;
    int status = 0, fd;

    if (a == NULL)
        log_panic("queue_cmd_admin: unknown action %s", verb);
    if (!queue_cmd_load(pq) || !queue_cmd_superuser(pq))
        return 1;
    if ((fd = queue_cmd_connect(pq, "private", "qmgr", "Mail system is down")) < 0)
        return QUEUE_EX_UNAVAILABLE;
    strvec_init(&ids);
    for (size_t i = 0; i < operands->n; i++)
        queue_cmd_ids(operands->v[i], &ids);
    for (size_t i = 0; i < ids.n; i++)
        if (!queue_cmd_admin_one(fd, a, ids.v[i], queues, &total, &status))
            break;
    close(fd);
    strvec_free(&ids);
    if (total > 0)
        log_info("%s: %ld message%s", a->done, total, total == 1 ? "" : "s");
    return status;
}

/* queue_cmd_qmgr - a connection to qmgr, or -1 (quietly) when it is not running */
static int
queue_cmd_qmgr(struct queue_cmd *pq)
{
    char *path = xasprintf("%s/private/qmgr", pq->params.queue_directory);
    struct err err;
    int fd = ipc_connect(path, &err);

    free(path);
    return fd;
}

/*
 * queue_cmd_show_child - in a child that became mail_owner: find the file in the queue
 * directories and print it. Root opens no path in mail_owner's directories.
 */
static int
queue_cmd_show_child(struct queue_cmd *pq, const struct passwd *pw, const char *id, unsigned what)
{
    static const char *const dirs[] = {"hold", "active", "deferred", "corrupt"};
    bool dropped =
        getuid() == pw->pw_uid || (setgroups(1, &pw->pw_gid) == 0 && setgid(pw->pw_gid) == 0 &&
                                   setuid(pw->pw_uid) == 0 && geteuid() != 0);
    struct stat st;
    char path[64];

    if (!dropped || chdir(pq->params.queue_directory) < 0) {
        queue_cmd_fatal("%s: %s", dropped ? pq->params.queue_directory : "drop privileges",
                        strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < nitems(dirs); i++) {
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dirs[i], id);
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
            int status = queue_show_file(stdout, fd, path, what ? what : ~0u);
            close(fd);
            return fflush(stdout) == 0 ? status : 1;
        }
        if (fd >= 0)
            close(fd);
    }
    queue_cmd_fatal("open queue file %s: no such message in the queue", id);
    return 1;
}

/* queue_cmd_show_direct - qmgr is not running: read the file as mail_owner, in a child */
static int
queue_cmd_show_direct(struct queue_cmd *pq, const char *id, unsigned what)
{
    const struct passwd *pw = getpwnam(pq->params.mail_owner);
    int status;
    pid_t child;

    if (pw == NULL) {
        queue_cmd_fatal("mail_owner %s is not a user", pq->params.mail_owner);
        return 1;
    }
    fflush(stdout);
    if ((child = fork()) < 0) {
        queue_cmd_fatal("fork: %s", strerror(errno));
        return 1;
    }
    if (child == 0)
        _exit(queue_cmd_show_child(pq, pw, id, what));
    if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status))
        return 1;
    return WEXITSTATUS(status);
}

/* queue_cmd_show - one message as postcat -q prints it; the descriptor comes from qmgr */
int
queue_cmd_show(struct queue_cmd *pq, const char *id, unsigned what)
{
    char why[QUEUE_CTL_WHY_SIZE], queue[QUEUE_CTL_NAME_SIZE], *name;
    enum queue_ctl_outcome out;
    int fd, file, status;

    if (!queue_id_valid(id, strlen(id))) {
        queue_cmd_fatal("invalid mail queue id: %.100s", id);
        return 1;
    }
    if (!queue_cmd_load(pq) || !queue_cmd_superuser(pq))
        return 1;
    if ((fd = queue_cmd_qmgr(pq)) < 0)
        return queue_cmd_show_direct(pq, id, what);
    out = queue_ctl_show(fd, id, &file, queue, why, sizeof(why));
    close(fd);
    if (out != QUEUE_CTL_OK) {
        queue_cmd_fatal("open queue file %s: %s", id, why);
        return 1;
    }
    name = xasprintf("%s/%s", queue, id);
    status = queue_show_file(stdout, file, name, what ? what : ~0u);
    close(file);
    free(name);
    if (fflush(stdout) != 0 && status == 0) {
        queue_cmd_fatal("output write error: %s", strerror(errno));
        status = 1;
    }
    return status;
}

/* queue_cmd_show_path - postcat's plain form: a queue file named by its path (root's business) */
int
queue_cmd_show_path(const char *path, unsigned what)
{
    FILE *f = fopen(path, "r");
    int status;

    if (f == NULL) {
        queue_cmd_fatal("open %s: %s", path, strerror(errno));
        return 1;
    }
    status = queue_show_file(stdout, fileno(f), path, what ? what : ~0u);
    fclose(f);
    return status;
}
