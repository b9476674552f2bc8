/*
 * smtp_out_hop.c - the walk down the next hop's address list (smtp_out_dns.c made it):
 * connect to the next address, and when an attempt fails decide whether the next address
 * (of the same MX host or the next one) may take the delivery over, as Postfix does.
 *
 * After an attempt, each recipient that got a temporary failure and was never accepted by
 * this server goes to the next address, as Postfix does for a server that is not the last:
 * the connection was refused or timed out, the greeting was not 2xx (a 5xx greeting counts
 * as temporary, Postfix's smtp_skip_5xx_greeting), the server said 421 or 4xx to MAIL or
 * to this RCPT or 4xx to DATA or the final dot, or the conversation broke before the
 * recipient was accepted. Recipients whose message the server may hold (a conversation
 * lost after their RCPT was accepted) keep their deferral, and those it took or refused
 * with 5xx keep their outcome; the next server is asked only for the others. The walk ends after
 * smtp_mx_session_limit connections were made (failed connects do not count), at the end of the
 * list (smtp_mx_address_limit cut it), or when no recipient is left to retry. Each recipient's
 * outcome is the last one it got, with the relay= of that server; each earlier failure is logged as
 * it happens, Postfix's way.
 *
 * Trusts: the session's own state.
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "smtp-out/smtp_out.h"

/* smtp_out_hop_retry - may recipient i go to the next server? deferred, and the server
 * cannot have the message for it */
static bool
smtp_out_hop_retry(const struct smtp_out_sess *s, size_t i)
{
    return s->decided[i] && s->res[i].status == DELIVER_DEFER && !s->accepted[i];
}

/* smtp_out_hop_reset - forget the failed attempt: the retried recipients' outcomes and the
 * connection state (outcomes from this server, sent or bounced, stay) */
static void
smtp_out_hop_reset(struct smtp_out_sess *s)
{
    for (size_t i = 0; i < s->req.nrcpt; i++)
        if (smtp_out_hop_retry(s, i)) {
            memset(&s->res[i], 0, sizeof(s->res[i]));
            s->decided[i] = false;
        }
    memset(s->accepted, 0, s->req.nrcpt * sizeof(*s->accepted));
    memset(&s->ext, 0, sizeof(s->ext));
    s->naccepted = 0;
    s->whead = s->wtail = 0;
    buf_reset(&s->out);
    smtp_out_src_stop(s);
    smtp_out_downgrade_free(s); /* the next server may offer 8BITMIME */
    smtp_resp_reset(&s->resp);
    s->connected = s->pipelining = s->mail_ok = s->quitting = s->quit_sent = s->over = false;
    s->ready = s->in_txn = s->saw_421 = s->rset_failed = s->keep = false;
    s->reused = s->mail_answered = s->stale = false;
    s->conn_use = 0;
    snprintf(s->relay, sizeof(s->relay), "none");
    smtp_out_tls_end(s);
    smtp_out_sasl_end(s);
    s->sasl_user[0] = 0;
    s->tls_off = false;
}

/* smtp_out_hop_may_look - are recipients left for another server, within the session limit? */
static bool
smtp_out_hop_may_look(const struct smtp_out_sess *s)
{
    long limit = s->so->p->smtp_mx_session_limit;

    if (limit > 0 && s->sessions >= (unsigned long)limit)
        return false;
    for (size_t i = 0; i < s->req.nrcpt; i++)
        if (smtp_out_hop_retry(s, i))
            return true;
    return false;
}

/* smtp_out_hop_may_move - may the next address take over after this attempt? */
static bool
smtp_out_hop_may_move(const struct smtp_out_sess *s)
{
    return s->next_addr < s->naddrs && smtp_out_hop_may_look(s);
}

/* smtp_out_hop_log - the failure the next address makes up for, in Postfix's words */
static void
smtp_out_hop_log(const struct smtp_out_sess *s)
{
    for (size_t i = 0; i < s->req.nrcpt; i++) {
        if (!smtp_out_hop_retry(s, i))
            continue;
        if (strncmp(s->res[i].reason, "connect to ", 11) == 0)
            log_info("%s", s->res[i].reason);
        else
            log_info("%s: %s", s->req.queue_id, s->res[i].reason);
        return;
    }
}

/* smtp_out_hop_next - connect to the next address; the session ends when none is left */
void
smtp_out_hop_next(struct smtp_out_sess *s)
{
    const struct mx_addr *a;

    while (s->next_addr < s->naddrs && strcmp(s->addrs[s->next_addr].addr, s->tried) == 0)
        s->next_addr++; /* a kept connection's server said its piece already */
    if (s->next_addr >= s->naddrs) {
        smtp_out_sess_end(s);
        return;
    }
    a = &s->addrs[s->next_addr++];
    s->stage = SMTP_OUT_CONNECT;
    loop_timer_start(s->timer, smtp_out_stage_timeout(s, SMTP_OUT_CONNECT));
    smtp_out_connect(s, s->hosts[a->host].name, a->addr);
}

/* smtp_out_hop_again - the same address once more on a new connection, without TLS (at may,
 * after a failed handshake: smtp_out_tls.c) */
void
smtp_out_hop_again(struct smtp_out_sess *s)
{
    smtp_out_close(s);
    smtp_out_hop_reset(s);
    s->tls_off = true;
    s->next_addr--;
    smtp_out_hop_next(s);
}

/*
 * smtp_out_hop_fresh - after a kept connection, the next hop is looked up and the walk down
 * its addresses starts. stale: the kept connection failed before MAIL FROM was answered (the
 * server had closed it, or said 421), and the delivery starts over as if it had never been,
 * so nothing is deferred for it and qmgr's feedback judges the new connection. Else some
 * recipients are left for other servers, as after any first attempt: the address of the kept
 * connection is not asked again.
 */
static void
smtp_out_hop_fresh(struct smtp_out_sess *s, bool stale)
{
    if (stale) {
        log_info("%s: reused connection to %s failed before MAIL FROM was answered: trying a "
                 "new connection",
                 s->req.queue_id, s->host);
        s->reached = false;
    } else {
        snprintf(s->tried, sizeof(s->tried), "%s", s->addr);
        smtp_out_hop_log(s);
    }
    smtp_out_hop_reset(s);
    s->stage = SMTP_OUT_CONNECT;
    loop_timer_start(s->timer, smtp_out_stage_timeout(s, SMTP_OUT_CONNECT));
    smtp_out_dns_start(s);
}

/* smtp_out_hop_host - the name of the host the session is connected to (or trying) */
const char *
smtp_out_hop_host(const struct smtp_out_sess *s)
{
    if (s->next_addr == 0 || s->next_addr > s->naddrs)
        return s->nh.host;
    return s->hosts[s->addrs[s->next_addr - 1].host].name;
}

/* smtp_out_hop_done - the attempt at the current address is over: the next one, or the end */
void
smtp_out_hop_done(struct smtp_out_sess *s)
{
    if (s->keep)
        smtp_out_cache_put(s);
    smtp_out_close(s);
    if (s->stale) {
        smtp_out_hop_fresh(s, true);
        return;
    }
    if (s->connected)
        s->sessions++;
    if (s->reused && smtp_out_hop_may_look(s)) {
        smtp_out_hop_fresh(s, false);
        return;
    }
    if (!smtp_out_hop_may_move(s)) {
        smtp_out_sess_end(s);
        return;
    }
    smtp_out_hop_log(s);
    smtp_out_hop_reset(s);
    smtp_out_hop_next(s);
}
