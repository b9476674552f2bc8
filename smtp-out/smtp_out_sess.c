/*
 * smtp_out_sess.c - one delivery from request to report: read qmgr's request and the
 * envelope in the queue file, find the next hop, and at the end mark each delivered
 * recipient in the file, then tell qmgr every recipient's outcome.
 *
 * Every recipient leaves with an outcome: one the conversation gave it, else the deferral
 * that ended the conversation (smtp_out_fail_all), else a generic deferral.
 *
 * Trusts: the request as deliver_agent_read checked it and the queue file as
 * queue_file_read checked it. The queue file is not locked per recipient as local does
 * (that lock waits, and this process must never block): a qmgr restarted while an older
 * agent still delivers may have a recipient delivered twice, which the durability rule
 * allows.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/notice.h"
#include "smtp-out/smtp_out.h"

/* smtp_out_setv - recipient i's outcome, unless it has one */
static void smtp_out_setv(struct smtp_out_sess *s, size_t i, enum deliver_status status,
                          const char *dsn, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static void
smtp_out_setv(struct smtp_out_sess *s, size_t i, enum deliver_status status, const char *dsn,
              const char *fmt, va_list ap)
{
    if (s->decided[i])
        return;
    s->res[i].status = status;
    snprintf(s->res[i].dsn, sizeof(s->res[i].dsn), "%s", dsn);
    vsnprintf(s->res[i].reason, sizeof(s->res[i].reason), fmt, ap);
    memcpy(s->relays[i], s->relay, sizeof(s->relay)); /* this server's, not a later MX's */
    s->res[i].conn_use = s->conn_use;
    if (status == DELIVER_OK)
        s->res[i].handoff = smtp_out_handoff(s, i);
    s->decided[i] = true;
}

void
smtp_out_set(struct smtp_out_sess *s, size_t i, enum deliver_status status, const char *dsn,
             const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    smtp_out_setv(s, i, status, dsn, fmt, ap);
    va_end(ap);
}

/* smtp_out_fail_all - the same outcome for every recipient that has none yet */
void
smtp_out_fail_all(struct smtp_out_sess *s, enum deliver_status status, const char *dsn,
                  const char *fmt, ...)
{
    va_list ap;

    for (size_t i = 0; i < s->req.nrcpt; i++) {
        va_start(ap, fmt);
        smtp_out_setv(s, i, status, dsn, fmt, ap);
        va_end(ap);
    }
}

/*
 * smtp_out_mark - a delivered recipient is marked in the queue file before qmgr hears it
 * ('R' when the sender asked for a success notice and the server took no NOTIFY: a
 * restarted qmgr still owes it), as local marks
 */
static void
smtp_out_mark(struct smtp_out_sess *s, const struct deliver_req_rcpt *r,
              const struct deliver_result *res)
{
    const struct queue_rcpt_status done = {
        .state = notice_delivered_state(s->req.sender, r->notify, res->handoff)};
    struct err err;

    if (r->slot > 0 && !queue_file_write_slot(s->req.fd, r->slot, &done, false, &err))
        log_warn("%s: mark <%s> delivered: %s", s->req.queue_id, r->addr, err.text);
}

/* smtp_out_report - every outcome to qmgr */
static void
smtp_out_report(struct smtp_out_sess *s)
{
    int timeout = (int)(s->so->p->ipc_timeout * 1000L);
    struct err err;

    smtp_out_fail_all(s, DELIVER_DEFER, "4.4.2", "delivery ended without an answer");
    for (size_t i = 0; i < s->req.nrcpt; i++) {
        if (s->res[i].status == DELIVER_OK)
            smtp_out_mark(s, &s->req.rcpt[i], &s->res[i]);
        /* no session got as far as MAIL: the destination itself failed (qmgr's feedback) */
        s->res[i].unreachable = s->res[i].status == DELIVER_DEFER && !s->reached;
        if (!deliver_agent_reply_relay(s->qmgr_fd, timeout, &s->req.rcpt[i], &s->res[i],
                                       s->relays[i], &err)) {
            log_warn("%s: reply to qmgr: %s", s->req.queue_id, err.text);
            return;
        }
    }
}

/* smtp_out_sess_end - report, release everything, and let the skeleton take another */
void
smtp_out_sess_end(struct smtp_out_sess *s)
{
    struct server_ctx *ctx = s->so->ctx;

    smtp_out_dns_cancel(s);
    smtp_out_tls_end(s);
    smtp_out_sasl_end(s);
    smtp_out_close(s);
    smtp_out_report(s);
    close(s->qmgr_fd);
    loop_timer_free(s->timer);
    buf_free(&s->out);
    smtp_out_src_stop(s);
    smtp_out_downgrade_free(s);
    if (s->scan.timer != NULL)
        loop_timer_free(s->scan.timer);
    smtp_resp_free(&s->resp);
    queue_envelope_free(&s->env);
    deliver_req_free(&s->req);
    free(s->res);
    free(s->decided);
    free(s->accepted);
    free(s->relays);
    free(s->wait);
    free(s->hosts);
    free(s->addrs);
    free(s);
    server_session_done(ctx);
}

/* smtp_out_timer - the current stage's time limit passed */
static void
smtp_out_timer(void *arg)
{
    struct smtp_out_sess *s = arg;

    if (s->stage == SMTP_OUT_CONNECT && s->naddrs == 0) {
        smtp_out_dns_cancel(s);
        smtp_out_fail_all(s, DELIVER_DEFER, "4.4.3",
                          "Host or domain name not found. Name service error for name=%s: "
                          "lookup timed out",
                          s->nh.host);
        smtp_out_sess_end(s);
        return;
    }
    if (s->stage == SMTP_OUT_CONNECT)
        smtp_out_fail_all(s, DELIVER_DEFER, "4.4.1", "connect to %s:%u: Connection timed out",
                          s->host, s->nh.port);
    else
        smtp_out_lost(s, "4.4.2", "conversation with %s timed out while %s", s->host,
                      smtp_out_stage_doing(s->stage));
    smtp_out_hop_done(s);
}

/* smtp_out_prepare - the envelope from the queue file and the next hop; false: all failed */
static bool
smtp_out_prepare(struct smtp_out_sess *s)
{
    struct err err;

    if (!queue_file_read(s->req.fd, &s->env, &err)) {
        smtp_out_fail_all(s, DELIVER_DEFER, "4.3.0", "read queue file: %s", err.text);
        return false;
    }
    if (!nexthop_parse(s->req.nexthop, &s->nh, &err)) {
        smtp_out_fail_all(s, DELIVER_DEFER, "4.3.5", "%s", err.text);
        return false;
    }
    if (!smtp_out_tlspol_find(s))
        return false;
    return true;
}

/* smtp_out_sess_new - the session's state for a checked request */
static struct smtp_out_sess *
smtp_out_sess_new(struct smtp_out *so, int fd, struct deliver_req *req)
{
    struct smtp_out_sess *s = xcalloc(1, sizeof(*s));

    s->so = so;
    s->qmgr_fd = fd;
    s->req = *req;
    s->fd = -1;
    s->res = xcalloc(req->nrcpt, sizeof(*s->res));
    s->decided = xcalloc(req->nrcpt, sizeof(*s->decided));
    s->accepted = xcalloc(req->nrcpt, sizeof(*s->accepted));
    s->relays = xcalloc(req->nrcpt, sizeof(*s->relays));
    s->wait = xcalloc(req->nrcpt + SMTP_OUT_WAIT_EXTRA, sizeof(*s->wait));
    s->timer = loop_timer_new(so->ctx->loop, smtp_out_timer, s);
    snprintf(s->relay, sizeof(s->relay), "none");
    buf_init(&s->out, BUF_UNLIMITED);
    smtp_resp_init(&s->resp);
    return s;
}

/*
 * smtp_out_sess_start - read the request (qmgr sends it whole right after connecting, so
 * the blocking read is short), then resolve and connect on the loop
 */
void
smtp_out_sess_start(struct smtp_out *so, int fd)
{
    struct deliver_req req;
    struct smtp_out_sess *s;
    struct err err;
    enum ipc_status st;

    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    st = deliver_agent_read(fd, (int)(so->p->ipc_timeout * 1000L), &req, &err);
    if (st != IPC_OK) {
        if (st != IPC_EOF)
            log_warn("request from qmgr: %s", err.text);
        close(fd);
        server_session_done(so->ctx);
        return;
    }
    s = smtp_out_sess_new(so, fd, &req);
    if (!smtp_out_prepare(s)) {
        smtp_out_sess_end(s);
        return;
    }
    if (smtp_out_cache_take(s))
        return;
    s->stage = SMTP_OUT_CONNECT;
    loop_timer_start(s->timer, smtp_out_stage_timeout(s, SMTP_OUT_CONNECT));
    smtp_out_dns_start(s);
}
