/* server.h - the skeleton every postern daemon plugs into */
#ifndef SERVER_SERVER_H
#define SERVER_SERVER_H

#include <stdbool.h>

#include "core/conf.h"
#include "core/loop.h"
#include "mail/params.h"

/*
 * A daemon is a struct server_ops and one call: server_main(argc, argv, &ops). The
 * skeleton owns everything that is the same for every daemon:
 *
 *   options   -c config_dir, -o name=value (repeatable), -v (repeatable), -n service name,
 *             -t transport type, -u (drop to mail_owner), -r (chroot to queue_directory),
 *             -S (stand-alone: one session on stdin/stdout, no master; for tests).
 *   config    main.cf read, -o applied, every parameter typed (ctx->params).
 *   logging   <syslog_name>/<ops.name>[pid], to maillog_file or syslog.
 *   privilege as root: ops.pre_jail, then chroot (-r), setgroups/setgid/setuid to
 *             mail_owner (-u; tls_owner for ops.tls_owner), then ops.post_jail. Not
 *             root: development mode, stays.
 *   master    started by the master (POSTERN_LISTEN_FDS set): listeners are fds 4..,
 *             fd 3 is a datagram socket for status records (doc/master-protocol.md).
 *   reload    with ops.reload, SIGHUP reads main.cf and the -o options again and offers
 *             them to the daemon, which takes them or keeps its old ones; the master
 *             sends SIGHUP instead of SIGTERM on `postern reload` to such a daemon.
 *   lifetime  accepts until max_use clients per session slot (max_use x max_sessions:
 *             a process that serves a thousand clients at once is not retired after a
 *             hundred), exits after max_idle without a client, stops on SIGTERM once its
 *             sessions ended; ops.unlimited (qmgr) ignores max_use and max_idle, as
 *             Postfix's long-running daemons do. A watchdog ends a process that stops
 *             running its event loop for daemon_timeout.
 *
 * A fifo listener (master.cf type fifo, used for wakeups) is read, not accepted: what
 * arrives goes to ops.trigger.
 *
 * ops.service gets each accepted connection (non-blocking) and owns it from then on; when
 * the session is over it closes the descriptor and calls server_session_done().
 */

struct server_ctx;

struct server_ops {
    const char *name; /* program name in logs: "smtpd" */
    int max_sessions; /* concurrent sessions per process; 0 means 1 */
    bool unlimited;   /* runs until stopped: max_use and max_idle do not apply */
    bool tls_owner;   /* -u drops to tls_owner, not mail_owner (tlsproxy, which holds keys) */
    const void *role; /* the program's own description of itself, for its hooks */
    void (*pre_jail)(struct server_ctx *ctx);
    void (*post_jail)(struct server_ctx *ctx);
    void (*service)(struct server_ctx *ctx, int fd);
    void (*trigger)(struct server_ctx *ctx, const char *data, size_t len); /* fifo input */
    void (*on_exit)(struct server_ctx *ctx);
    /* SIGHUP (a reload): take fresh, or keep the running settings and log why (false);
     * a daemon with this hook is reloaded in place, not replaced by the master */
    bool (*reload)(struct server_ctx *ctx, const struct params *fresh);
};

/* What a daemon sees of the skeleton; the rest is the skeleton's own (server.c). */
struct server_state;
struct server_ctx {
    struct loop *loop;
    struct conf *conf;
    struct params params;
    const char *config_dir;
    const char *service_name;
    const void *role; /* server_ops.role */
    void *app;        /* the daemon's own state */
    struct server_state *state;
};

int server_main(int argc, char **argv, const struct server_ops *ops);
void server_session_done(struct server_ctx *ctx);
/* server_set_max_sessions - from post_jail: serve up to n sessions at once (a parameter) */
void server_set_max_sessions(struct server_ctx *ctx, int n);

#endif
