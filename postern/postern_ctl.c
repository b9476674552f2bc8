/*
 * postern_ctl.c - start, start-fg, stop, reload, status and check: the master's controls.
 *
 * Runs as the invoking administrator (root, or the owner of a development instance).
 * Trusts main.cf. Whether a master runs is decided by its pid-file lock, never by a pid
 * number alone (core/pidlock.c), so a stale pid file is harmless.
 */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/pidlock.h"
#include "mail/params.h"
#include "postern/postern.h"

struct ctl {
    char *config_dir;
    struct params params;
    char *pid_path;
};

/* ctl_load - parse -c and read main.cf; returns the index of the first operand */
static int
ctl_load(struct ctl *ctl, int argc, char **argv)
{
    struct conf *conf = params_conf_new();
    struct err err;
    char *path;
    int ch;

    ctl->config_dir = postern_config_dir();
    optind = 1;
    while ((ch = getopt(argc, argv, "c:")) != -1) {
        if (ch != 'c') {
            fprintf(stderr, "usage: postern %s [-c config_dir]\n", argv[0]);
            exit(2);
        }
        free(ctl->config_dir);
        ctl->config_dir = xstrdup(optarg);
    }
    path = xasprintf("%s/main.cf", ctl->config_dir);
    if (!conf_read_file(conf, path, &err) || !params_load(&ctl->params, conf, &err))
        log_fatal("%s", err.text);
    free(path);
    conf_free(conf);
    ctl->pid_path = xasprintf("%s/pid/master.pid", ctl->params.queue_directory);
    return optind;
}

static void
ctl_free(struct ctl *ctl)
{
    params_free(&ctl->params);
    free(ctl->pid_path);
    free(ctl->config_dir);
}

/*
 * ctl_exec_master - start the master (in the background, or in the foreground with -f)
 * unless one runs already
 */
static int
ctl_exec_master(struct ctl *ctl, bool foreground)
{
    char *master = xasprintf("%s/master", ctl->params.daemon_directory);
    char *dir = realpath(ctl->config_dir, NULL);
    char *args[] = {master, "-c", dir ? dir : ctl->config_dir, foreground ? "-f" : NULL, NULL};
    pid_t owner = pidlock_owner(ctl->pid_path);

    if (owner > 0) {
        log_error("the postern mail system is already running (pid %ld)", (long)owner);
        free(master);
        free(dir);
        return 1;
    }
    if (!foreground)
        log_info("starting the postern mail system");
    execv(master, args);
    log_error("execute %s: %m", master);
    free(master);
    free(dir);
    return 1;
}

/* ctl_wait_gone - wait until the master released its lock, up to a limit */
static bool
ctl_wait_gone(const char *pid_path, long seconds)
{
    struct timespec nap = {0, 50 * 1000 * 1000};

    for (long i = 0; i < seconds * 20; i++) {
        if (pidlock_owner(pid_path) == 0)
            return true;
        nanosleep(&nap, NULL);
    }
    return pidlock_owner(pid_path) == 0;
}

static int
ctl_signal(struct ctl *ctl, int signo)
{
    pid_t owner = pidlock_owner(ctl->pid_path);

    if (owner <= 0) {
        log_error("the postern mail system is not running");
        return 1;
    }
    if (kill(owner, signo) < 0) {
        log_error("signal the master (pid %ld): %m", (long)owner);
        return 1;
    }
    return 0;
}

static int
ctl_start(struct ctl *ctl)
{
    return ctl_exec_master(ctl, false);
}

static int
ctl_start_fg(struct ctl *ctl)
{
    return ctl_exec_master(ctl, true);
}

static int
ctl_stop(struct ctl *ctl)
{
    if (ctl_signal(ctl, SIGTERM) != 0)
        return 1;
    log_info("stopping the postern mail system");
    if (!ctl_wait_gone(ctl->pid_path, ctl->params.stop_timeout + 10)) {
        log_error("the master is still running after %lds", ctl->params.stop_timeout + 10);
        return 1;
    }
    return 0;
}

static int
ctl_reload(struct ctl *ctl)
{
    if (ctl_signal(ctl, SIGHUP) != 0)
        return 1;
    log_info("refreshing the postern mail system");
    return 0;
}

static int
ctl_status(struct ctl *ctl)
{
    pid_t owner = pidlock_owner(ctl->pid_path);

    if (owner <= 0) {
        log_info("the postern mail system is not running");
        return 1;
    }
    log_info("the postern mail system is running: PID: %ld", (long)owner);
    return 0;
}

/* ctl_run - one verb: read the configuration, act, clean up */
static int
ctl_run(int argc, char **argv, int (*verb)(struct ctl *ctl))
{
    struct ctl ctl;
    int status;

    ctl_load(&ctl, argc, argv);
    status = verb(&ctl);
    ctl_free(&ctl);
    return status;
}

int
postern_start_main(int argc, char **argv)
{
    return ctl_run(argc, argv, ctl_start);
}

int
postern_start_fg_main(int argc, char **argv)
{
    return ctl_run(argc, argv, ctl_start_fg);
}

int
postern_stop_main(int argc, char **argv)
{
    return ctl_run(argc, argv, ctl_stop);
}

int
postern_reload_main(int argc, char **argv)
{
    return ctl_run(argc, argv, ctl_reload);
}

int
postern_status_main(int argc, char **argv)
{
    return ctl_run(argc, argv, ctl_status);
}
