/*
 * smtp_out_conn.c - the connection to the next hop: a non-blocking connect (from
 * smtp_bind_address when set), then reading replies and writing commands on the loop.
 *
 * Time limits are per stage (smtp_out_arm): the limit of the reply the session waits for
 * runs from the moment it starts waiting until the reply is complete, so a server that
 * drips one byte at a time gains nothing; while message content is written, the limit
 * restarts at each write the server accepts (smtp_data_xfer_timeout), then the final reply
 * has smtp_data_done_timeout. A BDAT pipelined with the envelope counts as content from the
 * start: a server may answer MAIL and RCPT only once it has read the whole chunk. With
 * smtp_skip_quit_response (the default) the connection is closed once QUIT is out, without
 * waiting for its reply, as Postfix does.
 *
 * Trusts: nothing from the network; bytes go to smtp_resp_feed, which bounds them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "smtp-out/smtp_out.h"

/* smtp_out_close - drop the connection (the session's outcomes stay) */
void
smtp_out_close(struct smtp_out_sess *s)
{
    if (s->watch != NULL)
        loop_fd_free(s->watch);
    s->watch = NULL;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    loop_timer_stop(s->timer);
}

/*
 * smtp_out_lost - the conversation broke: every recipient without an outcome is deferred
 * with why; after the final dot was sent the message may arrive twice, and the reason says
 * so, as Postfix's does
 */
void
smtp_out_lost(struct smtp_out_sess *s, const char *dsn, const char *fmt, ...)
{
    char why[sizeof(s->res[0].reason)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    smtp_out_close(s);
    if (s->reused && !s->mail_answered)
        s->stale = true; /* a kept connection the server had given up: a new one */
    smtp_out_fail_all(s, DELIVER_DEFER, dsn, "%s%s", why,
                      s->stage == SMTP_OUT_DOT ? " -- message may be sent more than once" : "");
    s->over = true;
}

/* smtp_out_name - a host's name for logs, cut to fit */
static void smtp_out_name(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
smtp_out_name(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out, len, fmt, ap);
    va_end(ap);
}

/* smtp_out_arm - the time limit of what the session now waits for */
void
smtp_out_arm(struct smtp_out_sess *s)
{
    if (s->whead < s->wtail)
        s->stage = s->wait[s->whead].stage;
    if (s->whead < s->wtail && s->wait[s->wtail - 1].stage == SMTP_OUT_DOT)
        s->stage = s->out.len > 0 ? SMTP_OUT_CONTENT : SMTP_OUT_DOT; /* BDAT pipelined too */
    loop_timer_start(s->timer, smtp_out_stage_timeout(s, s->stage));
    if (s->watch != NULL)
        loop_fd_set(s->watch, LOOP_READ | (s->out.len > 0 ? LOOP_WRITE : 0));
}

/* smtp_out_write - send what the server takes now */
static void
smtp_out_write(struct smtp_out_sess *s)
{
    ssize_t n = send(s->fd, s->out.data, s->out.len, MSG_NOSIGNAL);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0) {
        smtp_out_lost(s, "4.4.2", "lost connection with %s while %s", s->host,
                      smtp_out_stage_doing(s->stage));
        return;
    }
    buf_consume(&s->out, (size_t)n);
    if (!smtp_out_fill(s))
        return;
    if (s->out.len == 0 && s->quit_sent && s->wtail - s->whead == 1 &&
        s->so->p->smtp_skip_quit_response) {
        smtp_out_close(s); /* only QUIT's reply is owed */
        s->over = true;
        return;
    }
    if (s->stage == SMTP_OUT_CONTENT || s->out.len == 0)
        smtp_out_arm(s);
}

/* smtp_out_read - what the server sent: each complete reply to the protocol */
static void
smtp_out_read(struct smtp_out_sess *s)
{
    char data[4096];
    ssize_t n = recv(s->fd, data, sizeof(data), 0);
    size_t at = 0, used;
    struct err err;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        smtp_out_lost(s, "4.4.2", "lost connection with %s while %s", s->host,
                      smtp_out_stage_doing(s->stage));
        return;
    }
    /* Once a reply hands the socket to tlsproxy, the rest of this read is dropped unread: a
     * server's bytes after its 220 to STARTTLS are never replies (CVE-2021-38371). */
    while (at < (size_t)n && !s->over && s->tls_wait == NULL) {
        enum smtp_resp_status st = smtp_resp_feed(&s->resp, data + at, (size_t)n - at, &used, &err);
        at += used;
        if (st == SMTP_RESP_ERROR || (st == SMTP_RESP_DONE && s->whead == s->wtail)) {
            smtp_out_lost(s, "4.5.0", "protocol error with %s while %s: %s", s->host,
                          smtp_out_stage_doing(s->stage),
                          st == SMTP_RESP_ERROR ? err.text : "reply to no command");
        } else if (st == SMTP_RESP_DONE)
            smtp_out_proto_reply(s);
    }
    if (s->keep && at < (size_t)n)
        s->keep = false; /* the server said more than it was asked: not a clean connection */
}

/* smtp_out_io - the connection is readable or writable */
void
smtp_out_io(int fd, unsigned events, void *arg)
{
    struct smtp_out_sess *s = arg;

    if (events & LOOP_WRITE)
        smtp_out_write(s);
    if ((events & LOOP_READ) && !s->over)
        smtp_out_read(s);
    if (s->over)
        smtp_out_hop_done(s);
}

/* smtp_out_connected - the connect finished: greeting next, or the reason it failed */
static void
smtp_out_connected(int fd, unsigned events, void *arg)
{
    struct smtp_out_sess *s = arg;
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr != 0) {
        smtp_out_close(s);
        smtp_out_fail_all(s, DELIVER_DEFER, "4.4.1", "connect to %s:%u: %s", s->host, s->nh.port,
                          strerror(soerr));
        smtp_out_hop_done(s);
        return;
    }
    loop_fd_free(s->watch);
    s->watch = loop_fd_add(s->so->ctx->loop, s->fd, LOOP_READ, smtp_out_io, s);
    s->connected = true;
    s->conn_use = 1;
    s->born = smtp_out_cache_now();
    smtp_out_name(s->relay, sizeof(s->relay), "%s:%u", s->host, s->nh.port);
    if (!s->tlspol.wrapper) {
        smtp_out_proto_start(s);
        return;
    }
    smtp_out_tls_start(s); /* smtp_tls_wrappermode: TLS before the greeting */
    if (s->over)
        smtp_out_hop_done(s);
}

/* smtp_out_set_fd - go on over fd (tlsproxy's plaintext side); the server's socket is closed */
void
smtp_out_set_fd(struct smtp_out_sess *s, int fd)
{
    smtp_out_close(s);
    s->fd = fd;
    s->watch = loop_fd_add(s->so->ctx->loop, s->fd, LOOP_READ, smtp_out_io, s);
}

/* smtp_out_bind - the local address of smtp_bind_address(6), when set */
static bool
smtp_out_bind(struct smtp_out_sess *s, int family)
{
    const char *local =
        family == AF_INET ? s->so->p->smtp_bind_address : s->so->p->smtp_bind_address6;
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    bool good;

    if (*local == 0)
        return true;
    ss.ss_family = (sa_family_t)family;
    good = family == AF_INET ? inet_pton(AF_INET, local, &in4->sin_addr) == 1
                             : inet_pton(AF_INET6, local, &in6->sin6_addr) == 1;
    if (good)
        good = bind(s->fd, (struct sockaddr *)&ss,
                    family == AF_INET ? sizeof(*in4) : sizeof(*in6)) == 0;
    if (!good)
        smtp_out_fail_all(s, DELIVER_DEFER, "4.4.1", "bind to %s: %s", local,
                          errno ? strerror(errno) : "bad address");
    return good;
}

/* smtp_out_sockaddr - addr and the next hop's port as a socket address; its length or 0 */
static socklen_t
smtp_out_sockaddr(const char *addr, unsigned port, struct sockaddr_storage *ss)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        return sizeof(*in4);
    }
    if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        return sizeof(*in6);
    }
    return 0;
}

/* smtp_out_connect - start connecting to host name's address addr; the attempt ends here if
 * that fails (smtp_out_hop_done) */
void
smtp_out_connect(struct smtp_out_sess *s, const char *name, const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len = smtp_out_sockaddr(addr, s->nh.port, &ss);

    smtp_out_name(s->addr, sizeof(s->addr), "%s", addr);
    smtp_out_name(s->host, sizeof(s->host), "%s[%s]", name, addr);
    errno = 0;
    if (len == 0 ||
        (s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
        smtp_out_fail_all(s, DELIVER_DEFER, "4.4.1", "connect to %s:%u: %s", s->host, s->nh.port,
                          len == 0 ? "bad address" : strerror(errno));
        smtp_out_hop_done(s);
        return;
    }
    if (!smtp_out_bind(s, ss.ss_family)) {
        smtp_out_hop_done(s);
        return;
    }
    if (connect(s->fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
        smtp_out_fail_all(s, DELIVER_DEFER, "4.4.1", "connect to %s:%u: %s", s->host, s->nh.port,
                          strerror(errno));
        smtp_out_hop_done(s);
        return;
    }
    s->watch = loop_fd_add(s->so->ctx->loop, s->fd, LOOP_WRITE, smtp_out_connected, s);
}
