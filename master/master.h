/* master.h - the supervisor's process table: services, their listeners and children */
#ifndef MASTER_MASTER_H
#define MASTER_MASTER_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "core/buf.h"
#include "core/listen.h"
#include "core/loop.h"
#include "core/str.h"
#include "mail/params.h"

enum master_svc_type {
    MASTER_INET,
    MASTER_UNIX,
    MASTER_UNIX_DGRAM,
    MASTER_FIFO,
    MASTER_PASS,
};

struct master_service;

/* One child process. It counts as idle until it says it is busy. */
struct master_proc {
    pid_t pid;
    struct master_service *svc;
    bool idle;
    bool ready;    /* it reported for duty at least once: it started fine */
    bool retiring; /* asked to stop: no longer counted for availability */
    bool reloads;  /* said status_reloads: a reload sends it SIGHUP and keeps it */
    struct timespec started;
    struct master_proc *next;
};

/* One master.cf entry, with what the master made of it. */
struct master_service {
    char *key;       /* "name/type", unique */
    char *signature; /* everything that, when changed, means a restart on reload */
    char *name;
    enum master_svc_type type;
    bool private_sock;
    bool unpriv;
    bool chroot;
    int wakeup;             /* seconds; 0 = never */
    bool wakeup_if_running; /* "N?": only while the service has a child */
    int maxproc;            /* 0 = no limit */
    char *path;             /* the program */
    struct strvec argv;
    char *listen_host; /* inet only; NULL = inet_interfaces */
    char *listen_port;
    char *file;
    int line;

    /* Run-time state. */
    struct master *master;
    int *fds;
    size_t nfds;
    struct loop_fd **accept_watch;
    struct strvec sock_paths; /* UNIX sockets and fifos to remove when the service goes */
    int status_fd[2];         /* datagram socketpair: children write [1], master reads [0] */
    struct loop_fd *status_watch;
    struct loop_timer *throttle_timer;
    struct loop_timer *wakeup_timer;
    struct master_proc *procs;
    int nprocs; /* children not retiring; all children are on procs */
    int nidle;
    int failures; /* consecutive bad starts, for the back-off */
    bool throttled;
    bool removed;
    struct master_service *next;
};

struct master {
    struct loop *loop;
    char *config_dir;
    struct params params;
    struct master_service *services;
    bool stopping;
    int stop_signal; /* what asked us to stop; 0 for a failed start */
    struct loop_timer *stop_timer;
    struct loop_signal *signals[4];
    struct listen_owner owner; /* mail_owner as root, ourselves otherwise */
    struct listen_owner drop;  /* owner's uid with setgid_group: maildrop and public/ */
    bool privileged;           /* started as root */
    bool foreground;           /* postern start-fg: children log to stderr too */
};

/* master_conf.c */
bool master_conf_load(struct master *m, struct master_service **services, struct err *err);
void master_service_free(struct master_service *svc);

/* master_listen.c */
bool master_listen_open(struct master *m, struct master_service *svc, struct err *err);
void master_listen_close(struct master_service *svc);

/* master_spawn.c */
void master_service_start(struct master_service *svc);
void master_service_stop(struct master_service *svc);
void master_avail_update(struct master_service *svc);
void master_service_spawn(struct master_service *svc);
void master_retire_children(struct master_service *svc);
void master_reload_children(struct master_service *svc);
void master_reap(struct master *m);
void master_forget(struct master *m, pid_t pid, int status);
void master_signal_all(struct master *m, int signo);
int master_count_procs(const struct master *m);

/* master_wakeup.c */
void master_wakeup_start(struct master_service *svc);

/* master_status.c */
void master_status_read(int fd, unsigned events, void *ctx);

/* master_env.c */
void master_env_build(const struct params *p, size_t nfds, struct strvec *env);

#endif
