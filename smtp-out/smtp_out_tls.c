/*
 * smtp_out_tls.c - TLS to the next hop through tlsproxy (RFC 3207 STARTTLS, or RFC 8314 TLS
 * from the first byte with smtp_tls_wrappermode): when to ask for it, the handover of the
 * server's socket, what the level makes of the result, and the log line.
 *
 * Runs as mail_owner and never sees a key or a trust anchor: tlsproxy does the handshake on
 * the server's socket and the session goes on over tlsproxy's plaintext connection, as
 * smtpd's does. Trusts: tlsproxy's facts as tls_result_decode checked them; nothing the
 * server sent before the handshake.
 *
 * Security properties, each with a test in t/smtp-out-tls.t:
 *   - Every byte the server sent after the 220 to STARTTLS is thrown away (the
 *     CVE-2021-38371 class): the reader stops at the end of that reply and the socket then
 *     belongs to tlsproxy, which reads the rest as TLS.
 *   - After the handshake the session starts over: a new EHLO, and only its keywords count.
 *   - Plaintext only where the level allows it: at may a server without STARTTLS, or one
 *     that refuses it, gets the mail in plaintext, and a failed handshake is retried on a new
 *     connection without TLS (as Postfix does); at encrypt, verify and secure each of these
 *     defers, and verify and secure also defer a certificate that is not trusted or does
 *     not match, before MAIL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "smtp-out/smtp_out.h"

#define SMTP_OUT_TLSPROXY "private/tlsproxy"

/*
 * smtp_out_tls_after_hello - EHLO (or HELO) was accepted: STARTTLS when offered and the
 * level asks for TLS; true when that, or a deferral, took the session over, false when the
 * envelope goes next (in TLS already, or plaintext where the level allows it)
 */
bool
smtp_out_tls_after_hello(struct smtp_out_sess *s)
{
    enum tls_level level = s->tlspol.level;

    if (s->tls != NULL || level == TLS_LEVEL_NONE || s->tls_off)
        return false;
    if (s->ext.flags & SMTP_EXT_STARTTLS) {
        smtp_out_send(s, SMTP_OUT_STARTTLS, 0, "STARTTLS");
        return true;
    }
    if (level == TLS_LEVEL_MAY)
        return false;
    smtp_out_fail_all(s, DELIVER_DEFER, "4.7.4", "TLS is required, but was not offered by host %s",
                      s->host);
    smtp_out_quit(s);
    return true;
}

/* smtp_out_tls_on_starttls - the reply to STARTTLS: hand the socket over on 220 */
void
smtp_out_tls_on_starttls(struct smtp_out_sess *s)
{
    char text[256];

    if (s->resp.code == 220) {
        smtp_out_tls_start(s);
        return;
    }
    smtp_out_flat(&s->resp, text, sizeof(text));
    if (s->tlspol.level == TLS_LEVEL_MAY) {
        smtp_out_envelope(s); /* RFC 3207 4: the session goes on in plaintext */
        return;
    }
    smtp_out_fail_all(s, DELIVER_DEFER, "4.7.5",
                      "TLS is required, but host %s refused to start TLS: %d %s", s->host,
                      s->resp.code, text);
    smtp_out_quit(s);
}

/* smtp_out_tls_failed - no TLS session: at may a plaintext retry, else the delivery defers */
static void
smtp_out_tls_failed(struct smtp_out_sess *s, const char *why, bool began)
{
    log_info("%s to %s:%u: %s", began ? "SSL_connect error" : "TLS is not available", s->host,
             s->nh.port, why);
    if (s->tlspol.level == TLS_LEVEL_MAY && !s->tlspol.wrapper) {
        log_info("%s: TLS handshake with %s:%u failed: trying again in plaintext", s->req.queue_id,
                 s->host, s->nh.port);
        smtp_out_hop_again(s);
        return;
    }
    smtp_out_close(s);
    smtp_out_fail_all(s, DELIVER_DEFER, "4.7.5", "Cannot start TLS: handshake failure");
    smtp_out_hop_done(s); /* the next MX host may do better */
}

/* smtp_out_tls_trusted - verify and secure: the certificate must be trusted and match; if it
 * is not, every recipient is deferred */
static bool
smtp_out_tls_trusted(struct smtp_out_sess *s, const struct tls_result *res)
{
    if (s->tlspol.level < TLS_LEVEL_VERIFY || res->facts.trust == TLS_TRUST_VERIFIED)
        return true;
    if (res->facts.trust != TLS_TRUST_TRUSTED) {
        log_info("server certificate verification failed for %s:%u: %s", s->host, s->nh.port,
                 res->reason[0] ? res->reason : "no certificate");
        smtp_out_fail_all(s, DELIVER_DEFER, "4.7.5", "Server certificate not trusted");
    } else {
        log_info("server certificate verification failed for %s:%u: subject_CN=%s matches none "
                 "of the names wanted",
                 s->host, s->nh.port, res->facts.subject);
        smtp_out_fail_all(s, DELIVER_DEFER, "4.7.5", "Server certificate not verified");
    }
    return false;
}

/* smtp_out_tls_done - tlsproxy's answer: go on in TLS, retry in plaintext, or defer */
static void
smtp_out_tls_done(void *arg, int plain, const struct tls_result *res, bool began)
{
    struct smtp_out_sess *s = arg;
    char summary[2 * TLS_FACT_MAX];
    bool trusted;

    s->tls_wait = NULL;
    if (plain < 0) {
        smtp_out_tls_failed(s, res->reason, began);
        return;
    }
    smtp_out_set_fd(s, plain);
    s->tls = xmalloc(sizeof(*s->tls));
    *s->tls = res->facts;
    if (s->so->p->smtp_tls_loglevel >= 1) {
        tls_facts_summary(&res->facts, summary, sizeof(summary));
        log_info("%s TLS connection established to %s:%u: %s", tls_trust_name(res->facts.trust),
                 s->host, s->nh.port, summary);
    }
    smtp_resp_reset(&s->resp);
    memset(&s->ext, 0, sizeof(s->ext));
    s->whead = s->wtail = 0; /* nothing is owed: STARTTLS's reply was the last */
    trusted = smtp_out_tls_trusted(s, res);
    if (!trusted && s->tlspol.wrapper) {
        smtp_out_close(s); /* before the greeting: not even QUIT */
        smtp_out_hop_done(s);
        return;
    }
    if (!trusted)
        smtp_out_quit(s);
    else if (s->tlspol.wrapper)
        smtp_out_proto_start(s);
    else if (!smtp_out_send(s, SMTP_OUT_EHLO, 0, "EHLO %s", s->so->p->smtp_helo_name)) {
        smtp_out_hop_done(s); /* smtp_helo_name too long: the session was ended */
        return;
    }
    smtp_out_arm(s);
}

/* smtp_out_tls_ready - tlsproxy starts the handshake; nothing to tell the server */
static bool
smtp_out_tls_ready(void *arg)
{
    return true;
}

/*
 * smtp_out_tls_start - the server's socket to tlsproxy: after the 220 to STARTTLS, or at once
 * in wrapper mode. The session reads nothing more from it (what is left of the last read is
 * dropped by smtp_out_read, which stops once tls_wait is set).
 */
void
smtp_out_tls_start(struct smtp_out_sess *s)
{
    struct tls_request req;
    struct err err;

    if (!smtp_out_tlspol_request(s, &req, &err)) {
        log_warn("%s: TLS policy for %s: %s", s->req.queue_id, s->req.nexthop, err.text);
        smtp_out_lost(s, "4.7.5", "TLS policy error: %s", err.text);
        return;
    }
    req.peer = s->fd;
    if (s->watch != NULL)
        loop_fd_free(s->watch);
    s->watch = NULL;
    s->stage = SMTP_OUT_TLS;
    loop_timer_start(s->timer, smtp_out_stage_timeout(s, SMTP_OUT_TLS));
    s->tls_wait = tls_clnt_server(s->so->ctx->loop, SMTP_OUT_TLSPROXY, &req, smtp_out_tls_ready,
                                  smtp_out_tls_done, s);
}

/* smtp_out_tls_end - the session ends: stop waiting for tlsproxy, forget the facts */
void
smtp_out_tls_end(struct smtp_out_sess *s)
{
    tls_clnt_cancel(s->tls_wait);
    s->tls_wait = NULL;
    free(s->tls);
    s->tls = NULL;
}
