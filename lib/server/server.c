/*
 * server.c - the daemon skeleton: options, configuration, logging, jail, the master
 * contract and the life cycle of a process (see server.h).
 *
 * Runs in every daemon, first as whatever the master started it as (root for a real
 * installation), then as mail_owner. Trusts its command line and environment (the master
 * wrote them) and main.cf as far as the parser checks it; nothing from the network passes
 * through here except accepted descriptors.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ipc.h"
#include "core/log.h"
#include "core/map.h"
#include "core/mem.h"
#include "mail/params.h"
#include "mail/peers.h"
#include "mail/proto.h"
#include "server/server.h"

/* The skeleton's own state: a daemon sees only struct server_ctx. */
struct server_state {
    const struct server_ops *ops;
    int max_sessions; /* from ops, or server_set_max_sessions */
    bool standalone;
    int active;    /* sessions in progress */
    long served;   /* sessions accepted so far */
    bool draining; /* SIGTERM or max_use: no more clients */
    int status_fd; /* -1 without a master */
    int *listen_fds;
    int nlisten;
    struct loop_fd **accept_watch;
    struct loop_timer *idle_timer;
    struct loop_timer *watchdog_timer;
    struct loop_signal *signals[2];
    bool want_drop;
    bool want_chroot;
    bool busy_reported;
    struct strvec overrides; /* the -o options, for a reload */
    bool owner_known;        /* tls_owner daemons: mail_owner's uid, looked up before the drop */
    uid_t owner_uid;
    bool was_root; /* started as root: the postern command's role is root's (server_admit) */
};

void
server_set_max_sessions(struct server_ctx *ctx, int n)
{
    ctx->state->max_sessions = n;
}
#include "server/server_status.h"

#define SERVER_LISTEN_FD_FIRST 4
#define SERVER_LISTEN_FD_MAX   64

static void server_accept(int fd, unsigned events, void *ctx);
static void server_trigger(int fd, unsigned events, void *ctx);

static _Noreturn void
server_usage(const char *name)
{
    fprintf(stderr,
            "usage: %s [-c config_dir] [-o name=value] [-v] [-n service] [-t type] [-u] [-r] "
            "[-S]\n",
            name);
    exit(2);
}

/* server_options - the command line; -o values are applied after main.cf is read */
static void
server_options(struct server_ctx *ctx, int argc, char **argv, struct strvec *overrides)
{
    int ch;

    while ((ch = getopt(argc, argv, "c:o:vn:t:urS")) != -1) {
        switch (ch) {
        case 'c':
            ctx->config_dir = optarg;
            break;
        case 'o':
            strvec_add(overrides, optarg);
            break;
        case 'v':
            log_set_verbose(log_verbose() + 1);
            break;
        case 'n':
            ctx->service_name = optarg;
            break;
        case 't':
            break; /* the transport type: a service learns what it needs from its socket */
        case 'u':
            ctx->state->want_drop = true;
            break;
        case 'r':
            ctx->state->want_chroot = true;
            break;
        case 'S':
            ctx->state->standalone = true;
            break;
        default:
            server_usage(ctx->state->ops->name);
        }
    }
    if (optind != argc)
        server_usage(ctx->state->ops->name);
}

/* server_load - main.cf, then each -o, then every parameter typed */
static bool
server_load(const char *config_dir, const struct strvec *overrides, struct conf **conf,
            struct params *params, struct err *err)
{
    char *path = xasprintf("%s/main.cf", config_dir);
    bool good;

    *conf = params_conf_new();
    good = conf_read_file(*conf, path, err);
    for (size_t i = 0; good && i < overrides->n; i++) {
        char *name = xstrdup(overrides->v[i]), *eq = strchr(name, '=');
        if (eq == NULL)
            good = err_set(err, "-o %s: expected name=value", name);
        else
            *eq = 0;
        good = good && conf_override(*conf, str_trim(name), str_trim(eq + 1), err);
        free(name);
    }
    good = good && params_load(params, *conf, err);
    if (!good) {
        conf_free(*conf);
        *conf = NULL;
    }
    free(path);
    return good;
}

static void
server_config(struct server_ctx *ctx)
{
    struct err err;

    if (!server_load(ctx->config_dir, &ctx->state->overrides, &ctx->conf, &ctx->params, &err))
        log_fatal("%s", err.text);
}

/*
 * server_reload - SIGHUP to a daemon that reloads in place (ops.reload): read main.cf and
 * the same -o again; the daemon takes the new settings or keeps the old ones. What the
 * skeleton itself took from the old ones (the user, the jail, the session limit) stays:
 * such a daemon runs without chroot, and a change of those needs `postern stop; start`.
 */
static void
server_reload(struct server_ctx *ctx)
{
    struct conf *conf;
    struct params params;
    struct err err;

    if (!server_load(ctx->config_dir, &ctx->state->overrides, &conf, &params, &err)) {
        log_warn("reload refused, keeping the running configuration: %s", err.text);
        return;
    }
    if (!ctx->state->ops->reload(ctx, &params)) {
        params_free(&params);
        conf_free(conf);
        return;
    }
    params_free(&ctx->params);
    conf_free(ctx->conf);
    ctx->params = params;
    ctx->conf = conf;
}

static void
server_logging(struct server_ctx *ctx)
{
    log_init(ctx->params.syslog_name, ctx->state->ops->name);
    log_set_trace(ctx->params.postern_trace);
    if (*ctx->params.maillog_file) {
        if (!log_to_file(ctx->params.maillog_file))
            log_fatal("open maillog_file %s: %m", ctx->params.maillog_file);
    } else if (!ctx->state->standalone) {
        log_to_syslog();
    }
}

/*
 * server_jail - chroot and drop privileges, as root; then prove the drop is permanent.
 * The user is looked up before the chroot, while /etc/passwd is still in reach.
 */
static void
server_jail(struct server_ctx *ctx)
{
    struct passwd *pw = NULL;
    const char *user = ctx->state->ops->tls_owner ? ctx->params.tls_owner : ctx->params.mail_owner;
    const char *param = ctx->state->ops->tls_owner ? "tls_owner" : "mail_owner";
    uid_t uid;
    gid_t gid;

    if (chdir(ctx->params.queue_directory) < 0 && !ctx->state->standalone)
        log_fatal("chdir %s: %m", ctx->params.queue_directory);
    if (ctx->state->ops->pre_jail)
        ctx->state->ops->pre_jail(ctx);
    if (geteuid() != 0)
        return;
    ctx->state->was_root = true;
    if (ctx->state->ops->tls_owner) { /* its clients run as mail_owner */
        if ((pw = getpwnam(ctx->params.mail_owner)) == NULL)
            log_fatal("mail_owner \"%s\" is not a user on this system", ctx->params.mail_owner);
        ctx->state->owner_known = true;
        ctx->state->owner_uid = pw->pw_uid;
    }
    pw = NULL;
    if (ctx->state->want_drop) {
        if ((pw = getpwnam(user)) == NULL)
            log_fatal("%s \"%s\" is not a user on this system", param, user);
        if (pw->pw_uid == 0)
            log_fatal("%s \"%s\" has uid 0", param, user);
    }
    uid = pw ? pw->pw_uid : 0;
    gid = pw ? pw->pw_gid : 0;
    if (ctx->state->want_chroot && (chroot(ctx->params.queue_directory) < 0 || chdir("/") < 0))
        log_fatal("chroot %s: %m", ctx->params.queue_directory);
    if (pw == NULL)
        return;
    if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
        log_fatal("drop privileges to %s: %m", user);
    if (setuid(0) == 0 || geteuid() == 0)
        log_panic("privileges could be regained after the drop to %s", user);
}

static bool
server_is_fifo(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

/* server_trigger - a wakeup on a fifo: hand the bytes to the daemon */
static void
server_trigger(int fd, unsigned events, void *arg)
{
    struct server_ctx *ctx = arg;
    char data[1024];
    ssize_t n = read(fd, data, sizeof(data));

    if (n > 0 && ctx->state->ops->trigger && !ctx->state->draining)
        ctx->state->ops->trigger(ctx, data, (size_t)n);
}

/* server_listen_fds - the listeners the master passed, from POSTERN_LISTEN_FDS */
static void
server_listen_fds(struct server_ctx *ctx)
{
    const char *count = getenv("POSTERN_LISTEN_FDS");
    long n;

    ctx->state->status_fd = -1;
    if (ctx->state->standalone || count == NULL)
        return;
    if (!str_to_long(count, 0, SERVER_LISTEN_FD_MAX, &n))
        log_fatal("bad POSTERN_LISTEN_FDS \"%s\"", count);
    unsetenv("POSTERN_LISTEN_FDS");
    ctx->state->status_fd = SERVER_STATUS_FD;
    fcntl(ctx->state->status_fd, F_SETFD, FD_CLOEXEC);
    ctx->state->nlisten = (int)n;
    ctx->state->listen_fds = xcalloc((size_t)n + 1, sizeof(int));
    ctx->state->accept_watch = xcalloc((size_t)n + 1, sizeof(*ctx->state->accept_watch));
    for (int i = 0; i < ctx->state->nlisten; i++) {
        ctx->state->listen_fds[i] = SERVER_LISTEN_FD_FIRST + i;
        fcntl(ctx->state->listen_fds[i], F_SETFD, FD_CLOEXEC);
        fcntl(ctx->state->listen_fds[i], F_SETFL, O_NONBLOCK);
        ctx->state->accept_watch[i] = loop_fd_add(
            ctx->loop, ctx->state->listen_fds[i], LOOP_READ,
            server_is_fifo(ctx->state->listen_fds[i]) ? server_trigger : server_accept, ctx);
    }
}

static int
server_capacity(const struct server_ctx *ctx)
{
    return ctx->state->max_sessions > 0 ? ctx->state->max_sessions : 1;
}

/* server_update - accept while there is room; tell the master when that changes */
static void
server_update(struct server_ctx *ctx)
{
    bool room = !ctx->state->draining && ctx->state->active < server_capacity(ctx);

    for (int i = 0; i < ctx->state->nlisten; i++)
        loop_fd_set(ctx->state->accept_watch[i], room ? LOOP_READ : 0);
    if (room == ctx->state->busy_reported) {
        ctx->state->busy_reported = !room;
        server_status_send(ctx->state->status_fd, room ? PROTO_STATUS_IDLE : PROTO_STATUS_BUSY);
    }
    if (ctx->state->active == 0 && !ctx->state->draining && !ctx->state->ops->unlimited)
        loop_timer_start(ctx->state->idle_timer, ctx->params.max_idle * 1000L);
    else
        loop_timer_stop(ctx->state->idle_timer);
    if (ctx->state->active == 0 && ctx->state->draining)
        loop_break(ctx->loop);
}

/* server_owner_uid - mail_owner's uid, the uid every unprivileged role runs as */
static bool
server_owner_uid(const struct server_ctx *ctx, uid_t *uid)
{
    const struct passwd *pw = getpwnam(ctx->params.mail_owner);

    if (pw == NULL)
        return false;
    *uid = pw->pw_uid;
    return true;
}

/*
 * server_admit - a client of a UNIX socket named in the peer table must run as one of the
 * roles allowed to use it (lib/mail/peers.c). Every role runs as mail_owner, the user this
 * process became, so that is the uid to match; a daemon that stays root also matches
 * mail_owner itself; tlsproxy, as tls_owner, matches mail_owner for every role but its own;
 * the postern command (queue administration) is root's unless all runs as one user.
 */
static bool
server_admit(const struct server_ctx *ctx, int conn)
{
    const struct peer_socket *peer = peers_lookup(ctx->service_name);
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof(ss);
    struct peer_uids uids;
    struct ipc_cred cred;
    struct err err;
    bool good;

    if (peer == NULL || getsockname(conn, (struct sockaddr *)&ss, &len) < 0 ||
        ss.ss_family != AF_UNIX)
        return true;
    peers_uids_all(&uids, ctx->state->owner_known ? ctx->state->owner_uid : geteuid());
    uids.uid[PEER_TLSPROXY] = geteuid();
    if (ctx->state->was_root)
        uids.uid[PEER_POSTERN] = 0; /* the administrator's command runs as root */
    good = ipc_peer_cred(conn, &cred, &err) && peers_check(peer, &cred, &uids, &err);
    if (!good && geteuid() == 0 && cred.uid != 0 && server_owner_uid(ctx, &uids.uid[0])) {
        /* A daemon that stays root (local) serves clients that dropped to mail_owner. */
        peers_uids_all(&uids, uids.uid[0]);
        good = peers_check(peer, &cred, &uids, &err);
    }
    if (!good)
        log_warn("rejecting client: %s", err.text);
    return good;
}

/*
 * server_accept - a listener is readable: take the client, unless draining or full;
 * ops.service owns it from here
 */
static void
server_accept(int fd, unsigned events, void *arg)
{
    struct server_ctx *ctx = arg;
    int conn = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (conn < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
            log_warn("accept: %m");
        return;
    }
    if (!server_admit(ctx, conn)) {
        close(conn);
        return;
    }
    ctx->state->active++;
    if (++ctx->state->served >= ctx->params.max_use * server_capacity(ctx) &&
        !ctx->state->ops->unlimited)
        ctx->state->draining = true;
    server_update(ctx);
    ctx->state->ops->service(ctx, conn);
}

void
server_session_done(struct server_ctx *ctx)
{
    const char *table;

    if (ctx->state->active <= 0)
        log_panic("server_session_done without a session");
    ctx->state->active--;
    if (!ctx->state->draining && (table = map_changed()) != NULL) {
        log_info("table %s has changed -- restarting", table);
        ctx->state->draining = true;
    }
    server_update(ctx);
}

static void
server_idle(void *arg)
{
    struct server_ctx *ctx = arg;

    log_trace("server", "idle for %lds: exiting", ctx->params.max_idle);
    ctx->state->draining = true;
    server_update(ctx);
}

/* server_watchdog - as long as the loop runs, the alarm never goes off */
static void
server_watchdog(void *arg)
{
    struct server_ctx *ctx = arg;

    alarm((unsigned)ctx->params.daemon_timeout);
}

static void
server_on_signal(int signo, void *arg)
{
    struct server_ctx *ctx = arg;

    if (signo == SIGHUP && ctx->state->ops->reload != NULL && !ctx->state->draining)
        server_reload(ctx);
    if (signo != SIGTERM)
        return;
    log_trace("server", "SIGTERM: finishing %d session%s", ctx->state->active,
              ctx->state->active == 1 ? "" : "s");
    for (int i = 0; i < ctx->state->nlisten; i++) {
        loop_fd_free(ctx->state->accept_watch[i]);
        close(ctx->state->listen_fds[i]);
    }
    ctx->state->nlisten = 0;
    ctx->state->draining = true;
    server_update(ctx);
}

/* server_files - a process that serves many clients may hold as many descriptors as allowed */
static void
server_files(const struct server_ctx *ctx)
{
    struct rlimit rl;

    if (server_capacity(ctx) > 1 && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
        rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warn("raise the descriptor limit to %lu: %m", (unsigned long)rl.rlim_max);
    }
}

/*
 * server_run - timers (idle, watchdog), signals, listeners, then the event loop until the
 * process is done
 */
static void
server_run(struct server_ctx *ctx)
{
    ctx->state->idle_timer = loop_timer_new(ctx->loop, server_idle, ctx);
    ctx->state->watchdog_timer = loop_timer_new(ctx->loop, server_watchdog, ctx);
    loop_timer_every(ctx->state->watchdog_timer, ctx->params.daemon_timeout * 500L);
    server_watchdog(ctx);
    ctx->state->signals[0] = loop_signal_add(ctx->loop, SIGTERM, server_on_signal, ctx);
    ctx->state->signals[1] = loop_signal_add(ctx->loop, SIGHUP, server_on_signal, ctx);
    signal(SIGPIPE, SIG_IGN);
    if (ctx->state->standalone) {
        ctx->state->active = 1;
        ctx->state->draining = true;
        ctx->state->ops->service(ctx, server_stdio_session(ctx));
    } else {
        server_status_send(ctx->state->status_fd, PROTO_STATUS_READY);
        if (ctx->state->ops->reload != NULL)
            server_status_send(ctx->state->status_fd, PROTO_STATUS_RELOADS);
        server_update(ctx);
    }
    if (ctx->state->active > 0 || !ctx->state->draining)
        loop_run(ctx->loop);
    if (ctx->state->standalone)
        server_stdio_drain();
    if (ctx->state->ops->on_exit)
        ctx->state->ops->on_exit(ctx);
}

/* server_cleanup - give everything back, so that leak checkers see only real leaks */
static void
server_cleanup(struct server_ctx *ctx)
{
    for (int i = 0; i < ctx->state->nlisten; i++)
        loop_fd_free(ctx->state->accept_watch[i]);
    for (size_t i = 0; i < sizeof(ctx->state->signals) / sizeof(ctx->state->signals[0]); i++)
        if (ctx->state->signals[i])
            loop_signal_free(ctx->state->signals[i]);
    loop_timer_free(ctx->state->idle_timer);
    loop_timer_free(ctx->state->watchdog_timer);
    free(ctx->state->accept_watch);
    free(ctx->state->listen_fds);
    loop_free(ctx->loop);
    params_free(&ctx->params);
    conf_free(ctx->conf);
    strvec_free(&ctx->state->overrides);
}

/*
 * server_main - the whole life of a daemon: options, configuration, logging, listeners,
 * privilege drop, its post_jail, the loop, the clean-up
 */
int
server_main(int argc, char **argv, const struct server_ops *ops)
{
    struct server_state state = {.ops = ops, .max_sessions = ops->max_sessions};
    struct server_ctx ctx = {.state = &state, .role = ops->role};
    log_init("postern", ops->name);
    ctx.config_dir = getenv("POSTERN_CONFIG_DIRECTORY") ? getenv("POSTERN_CONFIG_DIRECTORY")
                                                        : POSTERN_CONFIG_DIR;
    ctx.service_name = ops->name;
    strvec_init(&state.overrides);
    server_options(&ctx, argc, argv, &state.overrides);
    server_config(&ctx);
    server_logging(&ctx);
    ctx.loop = loop_new();
    server_listen_fds(&ctx);
    server_files(&ctx);
    server_jail(&ctx);
    if (ops->post_jail)
        ops->post_jail(&ctx);
    server_run(&ctx);
    server_cleanup(&ctx);
    return 0;
}
