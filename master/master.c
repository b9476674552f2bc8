/*
 * master.c - the postern supervisor: the only long-lived root process.
 *
 * It reads main.cf and master.cf, creates every listener, starts and replaces the
 * children, reloads on SIGHUP and stops on SIGTERM or SIGINT. It trusts root's files and
 * nothing else: children only ever send it status datagrams (master_status.c). Kept
 * small on purpose; everything that touches mail happens in the children.
 *
 * Usage: master [-c config_dir] [-f] [-v]
 *   -f  stay in the foreground (postern start-fg); without it the master detaches and
 *       tells its parent through a pipe whether it started.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/conf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/pidlock.h"
#include "mail/conf_owner.h"
#include "mail/params.h"
#include "mail/queue_dirs.h"
#include "master/master.h"

static void master_stop(struct master *m);

/* master_load_params - main.cf, expanded and typed; errors are fatal at start */
static bool
master_load_params(const char *config_dir, struct params *p, struct err *err)
{
    struct conf *conf = params_conf_new();
    char *path = xasprintf("%s/main.cf", config_dir);
    bool good;

    good = conf_read_file(conf, path, err) && params_load(p, conf, err);
    free(path);
    conf_free(conf);
    return good;
}

/* master_owner - who the children become: mail_owner as root, ourselves otherwise */
static void
master_owner(struct master *m)
{
    struct passwd *pw;

    m->privileged = geteuid() == 0;
    if (!m->privileged) {
        log_warn("not started as root: every process runs as uid %ld (development mode)",
                 (long)geteuid());
        m->owner.uid = geteuid();
        m->owner.gid = getegid();
        return;
    }
    if ((pw = getpwnam(m->params.mail_owner)) == NULL)
        log_fatal("mail_owner \"%s\" is not a user on this system", m->params.mail_owner);
    if (pw->pw_uid == 0)
        log_fatal("mail_owner \"%s\" has uid 0: it must be an unprivileged user",
                  m->params.mail_owner);
    m->owner.uid = pw->pw_uid;
    m->owner.gid = pw->pw_gid;
}

/* master_queue_dirs - a safe configuration, and the parts of the queue the master needs */
static void
master_queue_dirs(struct master *m)
{
    struct strvec problems;
    struct err err;

    strvec_init(&problems);
    conf_owner_check(m->config_dir, &problems);
    if (problems.n)
        log_fatal("%s", problems.v[0]);
    m->drop.uid = m->owner.uid;
    if (!queue_drop_group(m->params.setgid_group, &m->drop.gid, &err)) {
        log_warn("%s", err.text);
        m->drop.gid = m->owner.gid;
    }
    queue_dirs_make(m->params.queue_directory, m->owner.uid, m->owner.gid, m->drop.gid, &problems);
    if (problems.n)
        log_fatal("%s", problems.v[0]);
    strvec_free(&problems);
}

/* master_service_begin - listeners, status socket and first child of a new service */
static bool
master_service_begin(struct master *m, struct master_service *svc, struct err *err)
{
    svc->master = m;
    if (!master_listen_open(m, svc, err))
        return false;
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, svc->status_fd) < 0) {
        err_set(err, "socketpair: %s", strerror(errno));
        master_listen_close(svc);
        return false;
    }
    fcntl(svc->status_fd[0], F_SETFL, O_NONBLOCK);
    setsockopt(svc->status_fd[0], SOL_SOCKET, SO_PASSCRED, &(int){1}, sizeof(int));
    master_service_start(svc);
    return true;
}

/*
 * master_services_begin - start every service of list. At start (err != NULL) the first
 * failure stops everything and is returned; on reload a failing service is skipped.
 */
static bool
master_services_begin(struct master *m, struct master_service *list, struct err *err)
{
    struct err reason;

    while (list) {
        struct master_service *svc = list;

        list = svc->next;
        if (master_service_begin(m, svc, &reason)) {
            svc->next = m->services;
            m->services = svc;
            continue;
        }
        if (err) {
            err_set(err, "service %s (%s, line %d): %s", svc->key, svc->file, svc->line,
                    reason.text);
            master_service_free(svc);
            return false;
        }
        log_warn("service %s (%s, line %d) not started: %s", svc->key, svc->file, svc->line,
                 reason.text);
        master_service_free(svc);
    }
    return true;
}

/* master_sweep - forget services that were stopped and whose children are all gone */
static void
master_sweep(struct master *m)
{
    for (struct master_service **sp = &m->services; *sp;) {
        struct master_service *svc = *sp;

        if (svc->removed && svc->procs == NULL) {
            *sp = svc->next;
            master_service_free(svc);
        } else {
            sp = &svc->next;
        }
    }
}

static struct master_service *
master_take(struct master_service **list, const char *key)
{
    for (struct master_service **sp = list; *sp; sp = &(*sp)->next)
        if (strcmp((*sp)->key, key) == 0) {
            struct master_service *svc = *sp;
            *sp = svc->next;
            svc->next = NULL;
            return svc;
        }
    return NULL;
}

/*
 * master_reload - read the configuration again. A service whose entry did not change keeps
 * its listeners, so no connection is refused; its children finish their sessions and are
 * replaced by children that read the new main.cf. A changed entry is stopped and started
 * anew; a removed one is stopped; a new one is started.
 */
static void
master_reload(struct master *m)
{
    struct master_service *fresh = NULL;
    struct params params;
    struct err err;

    if (!master_load_params(m->config_dir, &params, &err) || !master_conf_load(m, &fresh, &err)) {
        log_warn("reload refused, keeping the running configuration: %s", err.text);
        return;
    }
    params_free(&m->params);
    m->params = params;
    for (struct master_service *svc = m->services; svc; svc = svc->next) {
        struct master_service *same;

        if (svc->removed)
            continue;
        same = master_take(&fresh, svc->key);
        if (same && strcmp(same->signature, svc->signature) == 0) {
            master_service_free(same);
            master_reload_children(svc);
            if (svc->nprocs == 0)
                master_service_spawn(svc);
            continue;
        }
        if (same) {
            same->next = fresh;
            fresh = same;
        }
        master_service_stop(svc);
    }
    master_services_begin(m, fresh, NULL);
    master_reap(m);
    master_sweep(m);
    log_info("reload -- version %s, configuration %s", PACKAGE_VERSION, m->config_dir);
}

static void
master_finish(struct master *m)
{
    char *pid = xasprintf("%s/pid/master.pid", m->params.queue_directory);

    if (m->stop_signal)
        log_info("terminating on signal %d", m->stop_signal);
    else
        log_info("terminating");
    if (unlink(pid) < 0 && errno != ENOENT)
        log_warn("remove %s: %m", pid);
    free(pid);
    loop_break(m->loop);
}

static void
master_stop_timeout(void *ctx)
{
    struct master *m = ctx;

    log_warn("%d processes still running after stop_timeout: killing them", master_count_procs(m));
    master_signal_all(m, SIGKILL);
    while (master_count_procs(m) > 0) {
        int status;
        pid_t pid = wait(&status);
        if (pid < 0)
            break;
        master_forget(m, pid, status);
    }
    master_finish(m);
}

/* master_stop - close every door, let the children finish, then leave */
static void
master_stop(struct master *m)
{
    if (m->stopping)
        return;
    m->stopping = true;
    for (struct master_service *svc = m->services; svc; svc = svc->next)
        master_service_stop(svc);
    if (master_count_procs(m) == 0) {
        master_finish(m);
        return;
    }
    m->stop_timer = loop_timer_new(m->loop, master_stop_timeout, m);
    loop_timer_start(m->stop_timer, m->params.stop_timeout * 1000L);
}

/* master_on_signal - SIGCHLD: reap and restart; SIGHUP: reload; SIGTERM, SIGINT: stop */
static void
master_on_signal(int signo, void *ctx)
{
    struct master *m = ctx;

    switch (signo) {
    case SIGCHLD:
        master_reap(m);
        master_sweep(m);
        if (m->stopping && master_count_procs(m) == 0)
            master_finish(m);
        break;
    case SIGHUP:
        if (!m->stopping)
            master_reload(m);
        break;
    default:
        m->stop_signal = signo;
        master_stop(m);
        break;
    }
}

/* master_detach - become a daemon; the parent waits for one line saying how it went */
static int
master_detach(void)
{
    int report[2];
    char text[1024];
    ssize_t n;
    pid_t pid;

    if (pipe2(report, O_CLOEXEC) < 0)
        log_fatal("pipe: %m");
    if ((pid = fork()) < 0)
        log_fatal("fork: %m");
    if (pid > 0) {
        close(report[1]);
        n = read(report[0], text, sizeof(text) - 1);
        if (n <= 0)
            _exit(1);
        text[n] = 0;
        if (strcmp(text, "ok") == 0)
            _exit(0);
        fprintf(stderr, "%s\n", text);
        _exit(1);
    }
    close(report[0]);
    setsid();
    return report[1];
}

static void
master_report(int fd, const char *text)
{
    if (fd >= 0) {
        if (write(fd, text, strlen(text)) < 0) {
            /* The parent is gone; nobody to tell. */
        }
        close(fd);
    }
}

static void
master_null_stdio(void)
{
    int fd = open("/dev/null", O_RDWR);

    if (fd < 0)
        log_fatal("open /dev/null: %m");
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2)
        close(fd);
}

static void
master_logging(const struct params *p, bool foreground)
{
    log_init(p->syslog_name, "master");
    log_set_trace(p->postern_trace);
    if (*p->maillog_file) {
        if (!log_to_file(p->maillog_file))
            log_fatal("open maillog_file %s: %m", p->maillog_file);
    } else if (foreground) {
        log_to_file("/dev/stderr");
    } else {
        log_to_syslog();
    }
}

/* master_args - -c config_dir, -f (foreground), -v; the configuration directory made absolute */
static void
master_args(struct master *m, int argc, char **argv)
{
    const char *dir = getenv("POSTERN_CONFIG_DIRECTORY");
    int ch;

    dir = dir && *dir ? dir : POSTERN_CONFIG_DIR;
    while ((ch = getopt(argc, argv, "c:fv")) != -1) {
        switch (ch) {
        case 'c':
            dir = optarg;
            break;
        case 'f':
            m->foreground = true;
            break;
        case 'v':
            log_set_verbose(log_verbose() + 1);
            break;
        default:
            fprintf(stderr, "usage: master [-c config_dir] [-f] [-v]\n");
            exit(2);
        }
    }
    if ((m->config_dir = realpath(dir, NULL)) == NULL)
        log_fatal("configuration directory %s: %m", dir);
}

/* master_fail - tell whoever started us, then leave */
static _Noreturn void
master_fail(int report, const struct err *err)
{
    master_report(report, err->text);
    log_fatal("%s", err->text);
}

static void
master_signals(struct master *m)
{
    static const int signals[] = {SIGCHLD, SIGHUP, SIGTERM, SIGINT};

    for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
        m->signals[i] = loop_signal_add(m->loop, signals[i], master_on_signal, m);
    signal(SIGPIPE, SIG_IGN);
}

/* master_begin - master.cf, then every service; a failure at start is fatal */
static void
master_begin(struct master *m, int report, struct err *err)
{
    struct master_service *list;

    if (!master_conf_load(m, &list, err))
        master_fail(report, err);
    if (!m->foreground) {
        master_logging(&m->params, false);
        master_null_stdio();
    }
    if (!master_services_begin(m, list, err)) {
        master_report(report, err->text);
        master_stop(m);
        loop_run(m->loop);
        log_fatal("%s", err->text);
    }
}

/* master_cleanup - after the stop: give everything back, for the leak checkers */
static void
master_cleanup(struct master *m)
{
    while (m->services) {
        struct master_service *next = m->services->next;
        master_service_free(m->services);
        m->services = next;
    }
    for (size_t i = 0; i < sizeof(m->signals) / sizeof(m->signals[0]); i++)
        loop_signal_free(m->signals[i]);
    if (m->stop_timer)
        loop_timer_free(m->stop_timer);
    loop_free(m->loop);
    params_free(&m->params);
    free(m->config_dir);
}

/*
 * main - parameters, logging, the owner, the queue, the pid lock, every service; then the
 * loop until stopped
 */
int
main(int argc, char **argv)
{
    struct master m = {0};
    struct err err;
    int report = -1, lock;
    char *pid_path;

    log_init("postern", "master");
    master_args(&m, argc, argv);
    if (!master_load_params(m.config_dir, &m.params, &err))
        log_fatal("%s", err.text);
    if (m.foreground)
        master_logging(&m.params, true);
    else
        report = master_detach();
    m.loop = loop_new();
    master_signals(&m);
    master_owner(&m);
    master_queue_dirs(&m);
    pid_path = xasprintf("%s/pid/master.pid", m.params.queue_directory);
    if ((lock = pidlock_acquire(pid_path, &err)) < 0) {
        struct err busy;

        err_set(&busy, "%s: the postern master is already running for %s", err.text, m.config_dir);
        master_fail(report, &busy);
    }
    master_begin(&m, report, &err);
    log_info("daemon started -- version %s, configuration %s", PACKAGE_VERSION, m.config_dir);
    master_report(report, "ok");
    loop_run(m.loop);
    close(lock);
    free(pid_path);
    master_cleanup(&m);
    return 0;
}
