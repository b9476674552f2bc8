/*
 * smtpd_session.c - one SMTP session: socket I/O, the order of commands and replies,
 * timeouts, error counting, the end of the session.
 *
 * Runs as mail_owner; everything read from the socket is untrusted. Invariants:
 *   - Commands are taken strictly in the order they arrived; a command that must wait
 *     (for qmgr, for the error delay, for a client that does not read its replies) stops
 *     the taking of input until it is done, so replies always come out in command order.
 *   - Replies are queued and written when the input is drained (RFC 2920), before the
 *     session waits, or when the queue passes SMTPD_OUT_HIGH.
 *   - Input memory is bounded: command lines by lineio's limit, content by the data-phase
 *     read size; replies by SMTPD_OUT_LIMIT (a client that never reads is disconnected).
 *   - Every callback into this file ends in smtpd_session_settle(), the only place that
 *     ends a session, so no code touches a session after it is freed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/anvil_proto.h"
#include "smtpd/smtpd.h"

#define SMTPD_OUT_LIMIT  (256 * 1024) /* queued replies; a client that never reads */
#define SMTPD_OUT_HIGH   8192         /* stop taking commands until the replies are out */
#define SMTPD_DATA_INPUT (64 * 1024)  /* input buffer during DATA and BDAT */
#define SMTPD_KEEP_BUF   2048         /* idle sessions keep at most this much buffer */
#define SMTPD_DNS_WAIT   10           /* seconds the greeting waits for the client's name */

static void smtpd_session_settle(struct smtpd_session *sess);

/* smtpd_client_addr - the peer's numeric address, IPv4-mapped IPv6 shown as IPv4 */
static void
smtpd_client_addr(int fd, char *out, size_t len)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl = sizeof(ss);
    const void *a = NULL;
    int family = 0;

    snprintf(out, len, "unknown");
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
        return;
    if (ss.ss_family == AF_INET) {
        family = AF_INET;
        a = &((struct sockaddr_in *)&ss)->sin_addr;
    } else if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a6 = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        family = AF_INET6;
        a = a6;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            family = AF_INET;
            a = &a6->s6_addr[12];
        }
    } else if (ss.ss_family == AF_UNIX) {
        snprintf(out, len, "127.0.0.1"); /* stand-alone test mode over a socketpair */
        return;
    }
    if (a == NULL || inet_ntop(family, a, out, (socklen_t)len) == NULL)
        snprintf(out, len, "unknown");
}

/* smtpd_session_arm - the input deadline: smtpd_timeout, but never past the session's end */
void
smtpd_session_arm(struct smtpd_session *sess)
{
    const struct params *p = sess->smtpd->p;
    long left = (long)(sess->started + p->smtpd_session_timeout - time(NULL));
    long wait = p->smtpd_timeout < left ? p->smtpd_timeout : left;

    loop_timer_start(sess->timer, (wait > 0 ? wait : 0) * 1000);
}

/* smtpd_session_error - count an error reply: delay after the soft limit, end at the hard */
static void
smtpd_session_error(struct smtpd_session *sess)
{
    const struct params *p = sess->smtpd->p;

    if (++sess->errors >= p->smtpd_hard_error_limit) {
        smtpd_reply(sess, 421, "4.7.0", "%s Error: too many errors", p->myhostname);
        log_info("too many errors after %s from %s[%s]", sess->last_cmd, sess->name, sess->addr);
        smtpd_session_close(sess);
    } else if (sess->errors >= p->smtpd_soft_error_limit && p->smtpd_error_sleep_time > 0) {
        sess->sleeping = true;
        loop_timer_start(sess->timer, p->smtpd_error_sleep_time * 1000);
    }
}

/* smtpd_session_delay - the next reply waits smtpd_error_sleep_time (a failed AUTH) */
void
smtpd_session_delay(struct smtpd_session *sess)
{
    const struct params *p = sess->smtpd->p;

    if (sess->closing || sess->sleeping || p->smtpd_error_sleep_time == 0)
        return;
    sess->sleeping = true;
    loop_timer_start(sess->timer, p->smtpd_error_sleep_time * 1000);
}

/* smtpd_reply_uncounted - queue one reply, counted for the command but never as an error */
void
smtpd_reply_uncounted(struct smtpd_session *sess, const struct smtp_reply *reply)
{
    if (!smtp_reply_format(&sess->out.q, reply)) {
        log_info("reply queue full: client %s[%s] does not read", sess->name, sess->addr);
        sess->eof = true;
        smtpd_session_close(sess);
        return;
    }
    smtpd_log_count(sess, reply->code);
}

/* smtpd_reply_line - one reply line as it is, however long (a 334 challenge of up to
 * SMTP_AUTH_LINE_MAX); never an error */
void
smtpd_reply_line(struct smtpd_session *sess, int code, const char *text)
{
    char head[8];

    snprintf(head, sizeof(head), "%03d ", code);
    if (!lineio_out_put(&sess->out, head, strlen(head)) ||
        !lineio_out_put(&sess->out, text, strlen(text)) || !lineio_out_put(&sess->out, "\r\n", 2)) {
        log_info("reply queue full: client %s[%s] does not read", sess->name, sess->addr);
        sess->eof = true;
        smtpd_session_close(sess);
        return;
    }
    smtpd_log_count(sess, code);
}

/* smtpd_reply_std - queue one reply; count it for the command and as an error */
void
smtpd_reply_std(struct smtpd_session *sess, const struct smtp_reply *reply)
{
    smtpd_reply_uncounted(sess, reply);
    if (reply->code >= 400 && reply->code != 421 && !sess->closing)
        smtpd_session_error(sess);
}

/* smtpd_reply - queue a reply built from a format */
void
smtpd_reply(struct smtpd_session *sess, int code, const char *dsn, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    struct smtp_reply reply = {code, dsn, text};

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    smtpd_reply_std(sess, &reply);
}

/* smtpd_session_close - no more input: write what is queued, then end */
void
smtpd_session_close(struct smtpd_session *sess)
{
    sess->closing = true;
}

/* smtpd_session_paused - true while no command or content may be taken */
static bool
smtpd_session_paused(const struct smtpd_session *sess)
{
    return !sess->greeted || sess->closing || sess->sleeping || sess->txn.sync != NULL ||
           smtpd_queue_busy(sess) || sess->anvil_wait != NULL || sess->nss_job != NULL ||
           sess->tls_starting || sess->tls_wait != NULL || smtpd_auth_busy(sess) ||
           smtpd_milter_busy(sess) || sess->out.q.len > SMTPD_OUT_HIGH;
}

/* smtpd_session_line - one command line taken from the input */
static void
smtpd_session_line(struct smtpd_session *sess)
{
    const struct params *p = sess->smtpd->p;

    if (sess->in.end == LINEIO_END_NONE)
        return; /* a last line without its end: the client went away */
    if (sess->in.end == LINEIO_END_LF && p->smtpd_forbid_bare_newline) {
        smtpd_reply(sess, 521, "5.5.2", "%s Error: bare <LF> received", p->myhostname);
        log_info("disconnect: bare <LF> received from %s[%s]", sess->name, sess->addr);
        smtpd_session_close(sess);
        return;
    }
    if (sess->phase != SMTPD_PHASE_AUTH &&
        sess->in.line.len > (size_t)p->smtpd_command_line_limit - 2 &&
        !smtp_cmd_is_auth(buf_str(&sess->in.line), sess->in.line.len)) {
        smtpd_reply_std(sess, &smtp_reply_line_too_long); /* only AUTH may be longer */
        return;
    }
    if (sess->phase == SMTPD_PHASE_AUTH) {
        smtpd_auth_line(sess, buf_str(&sess->in.line));
        lineio_in_wipe(&sess->in);
    } else
        smtpd_cmd_line(sess, buf_str(&sess->in.line), sess->in.line.len);
}

/* smtpd_session_process - take commands and content until drained or paused; true if drained */
static bool
smtpd_session_process(struct smtpd_session *sess)
{
    while (!smtpd_session_paused(sess)) {
        if (sess->phase != SMTPD_PHASE_CMD && sess->phase != SMTPD_PHASE_AUTH) {
            size_t used;
            if (lineio_in_pending(&sess->in) == 0)
                return true;
            used = smtpd_data_input(sess, lineio_in_data(&sess->in), lineio_in_pending(&sess->in));
            lineio_in_consume(&sess->in, used);
            continue;
        }
        switch (lineio_in_get(&sess->in)) {
        case LINEIO_NEED:
            return true;
        case LINEIO_TOO_LONG:
            lineio_in_skip(&sess->in);
            if (sess->phase == SMTPD_PHASE_AUTH)
                smtpd_auth_too_long(sess); /* RFC 4954 4: 500 5.5.6, the exchange is over */
            else
                smtpd_reply_std(sess, &smtp_reply_line_too_long);
            break;
        case LINEIO_LINE:
            smtpd_session_line(sess);
            break;
        }
    }
    return false;
}

/* smtpd_session_end - log, release everything, tell the skeleton */
static void
smtpd_session_end(struct smtpd_session *sess)
{
    struct server_ctx *ctx = sess->smtpd->ctx;

    smtpd_dns_cancel(sess);
    smtpd_nss_cancel(sess);
    smtpd_tls_cancel(sess);
    smtpd_auth_cancel(sess);
    smtpd_anvil_end(sess);
    smtpd_milter_end(sess);
    smtpd_queue_disconnect(sess); /* first: qmgr drops an uncommitted file, no abort needed */
    smtpd_txn_reset(sess);
    smtpd_log_disconnect(sess);
    loop_fd_free(sess->watch);
    loop_timer_free(sess->timer);
    close(sess->fd);
    lineio_in_free(&sess->in);
    lineio_out_free(&sess->out);
    free(sess->helo);
    free(sess->verified_name);
    free(sess);
    server_session_done(ctx);
}

/* smtpd_session_trim - an idle session gives back the buffers a burst made large */
static void
smtpd_session_trim(struct smtpd_session *sess)
{
    if (sess->phase == SMTPD_PHASE_CMD)
        lineio_in_trim(&sess->in, SMTPD_KEEP_BUF);
    if (sess->out.q.len == 0 && sess->out.q.cap > SMTPD_KEEP_BUF)
        buf_free(&sess->out.q);
}

/* smtpd_session_settle - process, write, decide what to wait for; may end the session */
static void
smtpd_session_settle(struct smtpd_session *sess)
{
    bool drained = smtpd_session_process(sess);
    unsigned events = 0;

    if (!sess->sleeping && lineio_out_flush(&sess->out, sess->fd) == LINEIO_ERROR) {
        if (!sess->closing)
            log_info("lost connection after %s from %s[%s]", sess->last_cmd, sess->name,
                     sess->addr);
        smtpd_session_end(sess);
        return;
    }
    if (sess->closing && !sess->sleeping && !lineio_out_pending(&sess->out)) {
        smtpd_session_end(sess);
        return;
    }
    if (sess->tls_starting && !lineio_out_pending(&sess->out)) {
        smtpd_tls_start(sess); /* earlier replies are out: the socket goes to tlsproxy */
        if (sess->closing)
            smtpd_session_end(sess);
        return;
    }
    if (sess->eof && drained && !sess->closing) {
        log_info("lost connection after %s from %s[%s]", sess->last_cmd, sess->name, sess->addr);
        smtpd_session_end(sess);
        return;
    }
    if (!sess->sleeping && lineio_out_pending(&sess->out))
        events |= LOOP_WRITE;
    if (drained && !sess->eof && !smtpd_session_paused(sess))
        events |= LOOP_READ;
    loop_fd_set(sess->watch, events);
    smtpd_session_trim(sess);
}

/* smtpd_session_read - one read; the data phases read in larger pieces */
static void
smtpd_session_read(struct smtpd_session *sess)
{
    long n;

    lineio_in_bulk(&sess->in, sess->phase == SMTPD_PHASE_CMD ? 0 : SMTPD_DATA_INPUT);
    n = lineio_in_fill(&sess->in, sess->fd);
    /* Content comes in bulk: fill the wider buffer while the socket has more. */
    while (n > 0 && sess->phase != SMTPD_PHASE_CMD && !lineio_in_full(&sess->in)) {
        long more = lineio_in_fill(&sess->in, sess->fd);
        if (more <= 0) {
            if (more == 0)
                sess->eof = true;
            break;
        }
    }
    if (n > 0)
        smtpd_session_arm(sess);
    else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        sess->eof = true;
}

static void
smtpd_session_io(int fd, unsigned events, void *arg)
{
    struct smtpd_session *sess = arg;

    if ((events & LOOP_READ) && !sess->eof && !smtpd_session_paused(sess))
        smtpd_session_read(sess);
    smtpd_session_settle(sess);
}

/* smtpd_session_timer - the error delay ended, or the client (or qmgr) took too long */
static void
smtpd_session_timer(void *arg)
{
    struct smtpd_session *sess = arg;
    const struct params *p = sess->smtpd->p;

    if (!sess->greeted) { /* the host name lookup took too long: go on without it */
        smtpd_dns_cancel(sess);
        smtpd_session_greet(sess);
    } else if (sess->sleeping) {
        sess->sleeping = false;
        smtpd_session_arm(sess);
    } else if (sess->closing) {
        sess->sleeping = false;
        lineio_out_free(&sess->out); /* it would not read its last replies */
        lineio_out_init(&sess->out, SMTPD_OUT_LIMIT);
    } else {
        if (smtpd_queue_busy(sess))
            smtpd_queue_disconnect(sess);
        smtpd_reply(sess, 421, "4.4.2", "%s Error: timeout exceeded", p->myhostname);
        log_info("timeout after %s from %s[%s]", sess->last_cmd, sess->name, sess->addr);
        smtpd_session_close(sess);
        loop_timer_start(sess->timer, p->smtpd_timeout * 1000);
    }
    smtpd_session_settle(sess);
}

/* smtpd_session_hold - no input and no timer: the socket is being handed to tlsproxy */
void
smtpd_session_hold(struct smtpd_session *sess)
{
    loop_fd_set(sess->watch, 0);
    loop_timer_stop(sess->timer);
}

/* smtpd_session_set_fd - go on over fd (tlsproxy's plaintext side); the old one is closed */
void
smtpd_session_set_fd(struct smtpd_session *sess, int fd)
{
    loop_fd_free(sess->watch);
    close(sess->fd);
    sess->fd = fd;
    sess->watch = loop_fd_add(sess->smtpd->ctx->loop, fd, 0, smtpd_session_io, sess);
}

/* smtpd_session_resume - called when a wait (qmgr) ended: carry on with the input */
void
smtpd_session_resume(struct smtpd_session *sess)
{
    smtpd_session_settle(sess);
}

/* smtpd_session_over - which connection limit the counts exceed ("concurrency", "rate"), if any */
static const char *
smtpd_session_over(const struct params *p, const struct anvil_counts *counts, long *n)
{
    if (counts == NULL)
        return NULL;
    *n = (long)counts->count;
    if (p->smtpd_client_connection_count_limit > 0 &&
        counts->count > p->smtpd_client_connection_count_limit)
        return "concurrency";
    *n = (long)counts->rate;
    if (p->smtpd_client_connection_rate_limit > 0 &&
        counts->rate > p->smtpd_client_connection_rate_limit)
        return "rate";
    return NULL;
}

/*
 * smtpd_session_hello - the 220 once the milters saw the connection; one that refused it
 * makes every command but QUIT get its reply (as Postfix does), a 421 ends the session now
 */
static void
smtpd_session_hello(struct smtpd_session *sess, const struct smtpd_milter_verdict *v)
{
    char peek;

    if (v->result == SMTPD_MILTER_REFUSE)
        smtpd_milter_log(sess, "milter-reject", "CONNECT", v, NULL);
    if (v->result == SMTPD_MILTER_CLOSE) {
        smtpd_milter_log(sess, "milter-reject", "CONNECT", v, NULL);
        smtpd_reply_std(sess, &v->reply);
        smtpd_session_close(sess);
        return;
    }
    /* A client that talks before the greeting does not wait for replies. */
    if (recv(sess->fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
        sess->unauth_pipelining = true;
    smtpd_reply(sess, 220, NULL, "%s", sess->smtpd->greeting);
}

/* smtpd_session_welcome - the 220, unless the client is over its limits */
static void
smtpd_session_welcome(struct smtpd_session *sess, const struct anvil_counts *counts)
{
    const struct params *p = sess->smtpd->p;
    long n = 0;
    const char *what = smtpd_session_over(p, counts, &n);

    if (what != NULL) {
        log_warn("Connection %s limit exceeded: %ld from %s[%s] for service %s", what, n,
                 sess->name, sess->addr, sess->smtpd->ctx->service_name);
        smtpd_reply(sess, 421, "4.7.0", "%s Error: too many connections from %s", p->myhostname,
                    sess->addr);
        smtpd_session_close(sess);
        return;
    }
    smtpd_milter_connect(sess, smtpd_session_hello);
}

/* smtpd_session_admit - the client's limits, then the greeting */
void
smtpd_session_admit(struct smtpd_session *sess)
{
    if (!smtpd_anvil_session(sess, smtpd_session_welcome))
        smtpd_session_welcome(sess, NULL);
    smtpd_session_arm(sess);
}

/* smtpd_session_greet - once the client's name is known: TLS first on 465, then admit */
void
smtpd_session_greet(struct smtpd_session *sess)
{
    sess->greeted = true;
    log_info("connect from %s[%s]", sess->name, sess->addr);
    if (sess->smtpd->tls.wrapper)
        smtpd_tls_start(sess);
    else
        smtpd_session_admit(sess);
}

/* smtpd_session_line_max - the longest line taken: AUTH's where AUTH may be offered */
static size_t
smtpd_session_line_max(const struct smtpd *smtpd)
{
    long max = smtpd->p->smtpd_command_line_limit;

    if (smtpd->auth_enabled && max < SMTP_AUTH_LINE_MAX)
        max = SMTP_AUTH_LINE_MAX;
    return (size_t)max - 2;
}

/* smtpd_session_start - a new client: find its name, then greet it */
void
smtpd_session_start(struct smtpd *smtpd, int fd)
{
    struct smtpd_session *sess = xcalloc(1, sizeof(*sess));
    struct server_ctx *ctx = smtpd->ctx;

    sess->smtpd = smtpd;
    sess->fd = fd;
    sess->started = time(NULL);
    sess->name = "unknown";
    sess->last_cmd = "CONNECT";
    sess->counting = -1;
    sess->dns_id = -1;
    sess->txn.qfd = -1;
    sess->txn.old_qfd = -1;
    smtpd_client_addr(fd, sess->addr, sizeof(sess->addr));
    smtpd_milter_session(sess);
    lineio_in_init(&sess->in, smtpd_session_line_max(smtpd));
    lineio_out_init(&sess->out, SMTPD_OUT_LIMIT);
    sess->watch = loop_fd_add(ctx->loop, fd, 0, smtpd_session_io, sess);
    sess->timer = loop_timer_new(ctx->loop, smtpd_session_timer, sess);
    if (smtpd_dns_start(sess)) {
        long limit =
            smtpd->p->smtpd_timeout < SMTPD_DNS_WAIT ? smtpd->p->smtpd_timeout : SMTPD_DNS_WAIT;
        loop_timer_start(sess->timer, limit * 1000);
        return;
    }
    smtpd_session_greet(sess);
    smtpd_session_settle(sess);
}
