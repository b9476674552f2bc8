/*
 * showq.c - the queue lister and the users' door to a flush: answers showq_list with the
 * queue (showq_scan.c) and passes queue_flush on to qmgr, each for the users
 * authorized_mailq_users and authorized_flush_users name (root and mail_owner always).
 *
 * Runs as mail_owner in the queue directory, serving public/showq, which every local user
 * can reach (mailq, postqueue). Trusts: the kernel's word on who the client is
 * (SO_PEERCRED), never what the client says; one request per connection, checked against
 * the table of its message, which must come within ipc_timeout; a listing ends after
 * ipc_timeout too, so a client that reads slowly holds a process for a bounded time. It reads queue
 * files but never changes the queue: a flush is qmgr's job, asked over private/qmgr like any other
 * request.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/ipc.h"
#include "core/log.h"
#include "core/mem.h"
#include "mail/match_list.h"
#include "mail/proto.h"
#include "mail/queue_ctl.h"
#include "mail/queue_id.h"
#include "server/server.h"
#include "showq/showq.h"

#define SHOWQ_SITE_MAX 255

struct showq {
    struct server_ctx *ctx;
    struct match_list *mailq_users;
    struct match_list *flush_users;
};

struct showq_conn {
    struct showq *sq;
    int fd;
    struct loop_fd *watch;
    struct loop_timer *timer; /* the request must come within ipc_timeout */
    struct ipc_reader reader;
};

/*
 * showq_allowed - may the client do what (view, flush)? false with the refusal in why.
 * Root and this process's own user (mail_owner) always may, as in Postfix.
 */
static bool
showq_allowed(struct showq_conn *c, const struct match_list *acl, const char *what, char *why,
              size_t size)
{
    struct ipc_cred cred;
    const struct passwd *pw;
    char uid_name[32];
    const char *name;
    struct err err;
    enum map_status st;

    if (!ipc_peer_cred(c->fd, &cred, &err)) {
        snprintf(why, size, "cannot identify the client: %s", err.text);
        return false;
    }
    if (cred.uid == 0 || cred.uid == getuid())
        return true;
    pw = getpwuid(cred.uid);
    snprintf(uid_name, sizeof(uid_name), "%ld", (long)cred.uid);
    name = pw ? pw->pw_name : uid_name;
    st = match_list_find(acl, name, &err);
    if (st == MAP_FOUND)
        return true;
    if (st == MAP_ERROR) {
        log_warn("authorized users lookup for %s: %s", name, err.text);
        snprintf(why, size, "User %s(%ld) cannot be checked, try again later", name,
                 (long)cred.uid);
        return false;
    }
    snprintf(why, size, "User %s(%ld) is not allowed to %s the mail queue", name, (long)cred.uid,
             what);
    return false;
}

/* showq_list - the listing, for a user authorized_mailq_users admits */
static bool
showq_list(struct showq_conn *c)
{
    char why[QUEUE_CTL_WHY_SIZE];
    struct err err;

    if (!showq_allowed(c, c->sq->mailq_users, "view", why, sizeof(why)))
        return queue_ctl_send_refused(c->fd, why, &err);
    if (!showq_scan(c->fd, time(NULL) + c->sq->ctx->params.ipc_timeout, &err)) {
        log_warn("send the queue listing: %s", err.text);
        return false;
    }
    return true;
}

/* showq_site_valid - a domain name or [address] a flush may name: no space, no control */
static bool
showq_site_valid(const struct buf *site)
{
    if (site->len > SHOWQ_SITE_MAX)
        return false;
    for (size_t i = 0; i < site->len; i++)
        if ((unsigned char)site->data[i] <= ' ' || site->data[i] == 0x7f || site->data[i] == '@')
            return false;
    return true;
}

/* showq_flush_forward - ask qmgr, and answer the client with what qmgr said */
static bool
showq_flush_forward(struct showq_conn *c, const char *site, const char *id)
{
    char why[QUEUE_CTL_WHY_SIZE];
    struct err err;
    long count = 0;
    int qmgr = ipc_connect("private/qmgr", &err);
    enum queue_ctl_outcome out;

    if (qmgr < 0) {
        log_warn("flush: connect to qmgr: %s", err.text);
        return queue_ctl_send_refused(c->fd, "the queue manager is not running", &err);
    }
    out = queue_ctl_flush(qmgr, site, id, &count, why, sizeof(why));
    close(qmgr);
    if (out == QUEUE_CTL_OK)
        return queue_ctl_send_done(c->fd, count, &err);
    if (out == QUEUE_CTL_BROKEN)
        log_warn("flush: qmgr: %s", why);
    return queue_ctl_send_refused(c->fd, why, &err);
}

/* showq_flush - a flush request, for a user authorized_flush_users admits */
static bool
showq_flush(struct showq_conn *c)
{
    char why[QUEUE_CTL_WHY_SIZE];
    struct buf site, id;
    struct err err;
    bool good;
    const struct attr_spec spec[] = {{PROTO_ATTR_SITE, ATTR_STR, ATTR_TEXT, &site},
                                     {PROTO_ATTR_QUEUE_ID, ATTR_STR, ATTR_TEXT, &id}};

    buf_init(&site, SHOWQ_SITE_MAX + 1);
    buf_init(&id, QUEUE_ID_LEN);
    good = PROTO_DECODE(&c->reader.rec, c->reader.limit, &c->reader.fds, PROTO_QUEUE_FLUSH, spec,
                        &err);
    if (!good)
        log_warn("bad flush request: %s", err.text);
    else if (!showq_allowed(c, c->sq->flush_users, "flush", why, sizeof(why)))
        good = queue_ctl_send_refused(c->fd, why, &err);
    else if (!showq_site_valid(&site) || (id.len > 0 && !queue_id_valid(id.data, id.len)))
        good = queue_ctl_send_refused(c->fd, "invalid destination or queue ID", &err);
    else
        good = showq_flush_forward(c, buf_str(&site), buf_str(&id));
    buf_free(&site);
    buf_free(&id);
    return good;
}

static void
showq_conn_end(struct showq_conn *c)
{
    struct server_ctx *ctx = c->sq->ctx;

    loop_fd_free(c->watch);
    loop_timer_free(c->timer);
    ipc_reader_free(&c->reader);
    close(c->fd);
    free(c);
    server_session_done(ctx);
}

/* showq_timeout - a client that sends no request in time loses its connection */
static void
showq_timeout(void *arg)
{
    struct showq_conn *c = arg;

    log_warn("client sent no request within %lds", c->sq->ctx->params.ipc_timeout);
    showq_conn_end(c);
}

/* showq_readable - one request, answered; then the connection ends */
static void
showq_readable(int fd, unsigned events, void *arg)
{
    struct showq_conn *c = arg;
    struct err err;
    enum ipc_status st = ipc_reader_read(&c->reader, &err);
    enum proto_msg msg;

    if (st == IPC_AGAIN)
        return;
    if (st == IPC_ERROR)
        log_warn("client connection: %s", err.text);
    if (st == IPC_OK) {
        msg = proto_msg_of(&c->reader.rec);
        if (msg == PROTO_SHOWQ_LIST)
            showq_list(c);
        else if (msg == PROTO_QUEUE_FLUSH)
            showq_flush(c);
        else
            log_warn("unexpected message \"%s\" from client", proto_msg_name(msg));
        ipc_reader_reset(&c->reader);
    }
    showq_conn_end(c);
}

static void
showq_service(struct server_ctx *ctx, int fd)
{
    struct showq_conn *c = xcalloc(1, sizeof(*c));

    c->sq = ctx->app;
    c->fd = fd;
    ipc_reader_init(&c->reader, fd, QUEUE_CTL_RECORD_LIMIT);
    c->watch = loop_fd_add(ctx->loop, fd, LOOP_READ, showq_readable, c);
    c->timer = loop_timer_new(ctx->loop, showq_timeout, c);
    loop_timer_start(c->timer, ctx->params.ipc_timeout * 1000L);
}

/* showq_post_jail - the two user lists, opened once */
static void
showq_post_jail(struct server_ctx *ctx)
{
    struct showq *sq = xcalloc(1, sizeof(*sq));
    struct err err;

    ctx->app = sq;
    sq->ctx = ctx;
    sq->mailq_users =
        match_list_open_words(&ctx->params.authorized_mailq_users, MATCH_DOMAIN, false, &err);
    if (sq->mailq_users == NULL)
        log_fatal("authorized_mailq_users: %s", err.text);
    sq->flush_users =
        match_list_open_words(&ctx->params.authorized_flush_users, MATCH_DOMAIN, false, &err);
    if (sq->flush_users == NULL)
        log_fatal("authorized_flush_users: %s", err.text);
}

static void
showq_on_exit(struct server_ctx *ctx)
{
    struct showq *sq = ctx->app;

    if (sq == NULL)
        return;
    match_list_close(sq->mailq_users);
    match_list_close(sq->flush_users);
    free(sq);
    ctx->app = NULL;
}

int
main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .name = "showq",
        .post_jail = showq_post_jail,
        .service = showq_service,
        .on_exit = showq_on_exit,
    };

    return server_main(argc, argv, &ops);
}
