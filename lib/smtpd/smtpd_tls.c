/*
 * smtpd_tls.c - STARTTLS (RFC 3207) and TLS from the first byte (RFC 8314, port 465): the
 * policy of the service, the command, the handover to tlsproxy and the session afterwards.
 *
 * Runs as mail_owner and never sees a key: tlsproxy does the handshake on the client's
 * socket and the session goes on over tlsproxy's plaintext connection. Trusts: tlsproxy's
 * facts as tls_result_decode checked them; nothing the client sent before the handshake.
 *
 * Security properties, each with a test in t/tls.t:
 *   - Every byte the client sent after STARTTLS and before the handshake is thrown away
 *     (the CVE-2011-0411 injection class): input is dropped at the command, and the socket
 *     then belongs to tlsproxy, which reads the rest as TLS.
 *   - The 220 goes out only once tlsproxy said it can do the handshake; a tlsproxy without
 *     certificates costs the client a 454 and the session goes on in plaintext.
 *   - After the handshake the session starts over (RFC 3207 4.2): no HELO, no transaction.
 *   - STARTTLS inside TLS is refused; encrypt refuses MAIL (and AUTH) before TLS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "core/mem.h"
#include "smtpd/smtpd.h"

#define SMTPD_TLSPROXY "private/tlsproxy"

/* smtpd_tls_policy - the versions, ciphers and client certificate request every handshake
 * of this service asks for */
static bool
smtpd_tls_policy(const struct params *p, struct smtpd_tls_conf *tc, struct err *err)
{
    bool mandatory = tc->level == TLS_LEVEL_ENCRYPT || tc->wrapper;
    const char *protocols = mandatory ? p->smtpd_tls_mandatory_protocols : p->smtpd_tls_protocols;
    int min, max;

    tc->req.peer = -1;
    tc->req.timeout = p->smtpd_starttls_timeout;
    tc->req.ask_ccert = p->smtpd_tls_ask_ccert; /* this service's, -o included, as Postfix 3.4 */
    if (!tls_protocols_parse(protocols, &min, &max, err))
        return false;
    if (strlen(protocols) >= sizeof(tc->req.protocols))
        return err_set(err, "TLS protocols too long");
    snprintf(tc->req.protocols, sizeof(tc->req.protocols), "%s", protocols);
    return tls_cipherlist(p, mandatory, tc->req.ciphers, sizeof(tc->req.ciphers), err);
}

/*
 * smtpd_tls_init - the service's TLS policy. The submission role requires TLS: on 587
 * the level is encrypt (a main.cf shared with port 25 says may, and that is no mistake),
 * on 465 smtpd_tls_wrappermode gives TLS before the greeting. A broken policy is logged
 * once and turns STARTTLS into 454, so plaintext mail on 25 keeps flowing.
 */
void
smtpd_tls_init(struct smtpd *smtpd)
{
    const struct params *p = smtpd->p;
    struct smtpd_tls_conf *tc = &smtpd->tls;
    struct err err;

    tc->wrapper = p->smtpd_tls_wrappermode;
    tc->auth_only = p->smtpd_tls_auth_only || smtpd->role->submission;
    if (!tls_level_parse(p->smtpd_tls_security_level, &tc->level, &err)) {
        tc->error = xstrdup(err.text);
        tc->level = smtpd->role->submission ? TLS_LEVEL_ENCRYPT : TLS_LEVEL_NONE;
    }
    if (smtpd->role->submission && !tc->wrapper) /* the role, whatever main.cf says */
        tc->level = TLS_LEVEL_ENCRYPT;
    if (tc->error == NULL && (tc->level != TLS_LEVEL_NONE || tc->wrapper) &&
        !smtpd_tls_policy(p, tc, &err))
        tc->error = xstrdup(err.text);
    if (tc->error != NULL)
        log_warn("%s: TLS is not available: %s", smtpd->ctx->service_name, tc->error);
}

void
smtpd_tls_free(struct smtpd *smtpd)
{
    free(smtpd->tls.error);
}

/* smtpd_tls_offered - STARTTLS goes into the EHLO reply */
bool
smtpd_tls_offered(const struct smtpd_session *sess)
{
    const struct smtpd_tls_conf *tc = &sess->smtpd->tls;

    return sess->tls == NULL && !tc->wrapper && tc->level != TLS_LEVEL_NONE;
}

/* smtpd_tls_cmd - STARTTLS: 220, drop whatever the client sent after it, hand over */
void
smtpd_tls_cmd(struct smtpd_session *sess)
{
    const struct smtpd_tls_conf *tc = &sess->smtpd->tls;

    if (sess->tls != NULL) {
        smtpd_reply(sess, 554, "5.5.1", "Error: TLS already active");
        return;
    }
    if (tc->wrapper || tc->level == TLS_LEVEL_NONE) {
        smtpd_reply_std(sess, &smtp_reply_not_implemented);
        return;
    }
    if (tc->error != NULL) {
        smtpd_reply(sess, 454, "4.7.0", "TLS not available due to local problem");
        return;
    }
    lineio_in_discard(&sess->in);
    sess->tls_starting = true; /* the 220 waits for tlsproxy (smtpd_tls_ready) */
}

/*
 * smtpd_tls_ready - tlsproxy can do the handshake: the 220 to STARTTLS, written at once on
 * the client's socket (every earlier reply is out, so the socket has room for it); false
 * ends the session
 */
static bool
smtpd_tls_ready(void *arg)
{
    static const char go[] = "220 2.0.0 Ready to start TLS\r\n";
    struct smtpd_session *sess = arg;

    if (sess->smtpd->tls.wrapper)
        return true;
    smtpd_log_count(sess, 220);
    if (send(sess->fd, go, sizeof(go) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof(go) - 1)
        return true;
    log_info("lost connection after STARTTLS from %s[%s]", sess->name, sess->addr);
    sess->tls_wait = NULL; /* the stub frees itself when this returns false */
    sess->eof = true;
    smtpd_session_close(sess);
    smtpd_session_resume(sess);
    return false;
}

/*
 * smtpd_tls_reset - RFC 3207 4.2: after the handshake the client starts over; what it said
 * before (HELO, a login, a transaction) is forgotten. How it behaved (unauth_pipelining)
 * is kept: that was seen, not claimed.
 */
static void
smtpd_tls_reset(struct smtpd_session *sess)
{
    smtpd_txn_reset(sess);
    smtpd_auth_cancel(sess);
    free(sess->helo);
    sess->helo = NULL;
    sess->esmtp = false;
    sess->pipelining_seen = false;
    lineio_in_discard(&sess->in);
}

/* smtpd_tls_unavailable - tlsproxy cannot do a handshake: 454 and plaintext, or on 465 the end */
static void
smtpd_tls_unavailable(struct smtpd_session *sess, const char *why)
{
    log_warn("TLS not available for %s[%s]: %s", sess->name, sess->addr, why);
    if (sess->smtpd->tls.wrapper) {
        sess->eof = true;
        smtpd_session_close(sess);
    } else {
        smtpd_reply(sess, 454, "4.7.0", "TLS not available due to local problem");
        smtpd_session_arm(sess);
    }
    smtpd_session_resume(sess);
}

/* smtpd_tls_done - tlsproxy's answer: go on in TLS, 454 in plaintext, or end the session */
static void
smtpd_tls_done(void *arg, int plain, const struct tls_result *res, bool began)
{
    struct smtpd_session *sess = arg;
    char summary[2 * TLS_FACT_MAX];

    sess->tls_wait = NULL;
    if (plain < 0 && !began) {
        smtpd_tls_unavailable(sess, res->reason);
        return;
    }
    if (plain < 0) {
        log_info("SSL_accept error from %s[%s]: %s", sess->name, sess->addr, res->reason);
        sess->eof = true;
        smtpd_session_close(sess);
        smtpd_session_resume(sess);
        return;
    }
    smtpd_session_set_fd(sess, plain);
    sess->tls = xmalloc(sizeof(*sess->tls));
    *sess->tls = res->facts;
    if (sess->smtpd->p->smtpd_tls_loglevel >= 1) {
        tls_facts_summary(&res->facts, summary, sizeof(summary));
        log_info("%s TLS connection established from %s[%s]: %s", tls_trust_name(res->facts.trust),
                 sess->name, sess->addr, summary);
    }
    smtpd_tls_reset(sess);
    if (sess->smtpd->tls.wrapper)
        smtpd_session_admit(sess);
    else
        smtpd_session_arm(sess);
    smtpd_session_resume(sess);
}

/* smtpd_tls_start - the client's socket to tlsproxy; the session waits for the handshake */
void
smtpd_tls_start(struct smtpd_session *sess)
{
    struct smtpd *smtpd = sess->smtpd;
    struct tls_request req = smtpd->tls.req;

    sess->tls_starting = false;
    if (smtpd->tls.error != NULL) { /* 465 with a broken policy: nothing can be said */
        log_warn("TLS is not available for %s[%s]: %s", sess->name, sess->addr, smtpd->tls.error);
        sess->eof = true;
        smtpd_session_close(sess);
        return;
    }
    req.peer = sess->fd;
    smtpd_session_hold(sess);
    sess->tls_wait = tls_clnt_server(smtpd->ctx->loop, SMTPD_TLSPROXY, &req, smtpd_tls_ready,
                                     smtpd_tls_done, sess);
}

void
smtpd_tls_cancel(struct smtpd_session *sess)
{
    tls_clnt_cancel(sess->tls_wait);
    sess->tls_wait = NULL;
    free(sess->tls);
    sess->tls = NULL;
}

/* smtpd_tls_refuse_mail - encrypt: no MAIL before STARTTLS (530, RFC 3207 4) */
bool
smtpd_tls_refuse_mail(struct smtpd_session *sess)
{
    if (sess->tls != NULL || sess->smtpd->tls.level != TLS_LEVEL_ENCRYPT)
        return false;
    smtpd_reply(sess, 530, "5.7.0", "Must issue a STARTTLS command first");
    return true;
}

/* smtpd_tls_received - the "(using ...)" comment of the Received header, when asked for */
void
smtpd_tls_received(const struct smtpd_session *sess, struct buf *out)
{
    const struct tls_facts *f = sess->tls;

    if (f == NULL || !sess->smtpd->p->smtpd_tls_received_header)
        return;
    buf_printf(out, "\r\n\t(using %s with cipher %s (%lld/%lld bits))", f->protocol, f->cipher,
               (long long)f->bits, (long long)f->alg_bits);
    if (f->subject[0]) {
        buf_puts(out, "\r\n\t(Client CN \"");
        smtpd_data_comment(out, f->subject);
        buf_puts(out, "\", Issuer \"");
        smtpd_data_comment(out, f->issuer);
        buf_printf(out, "\" (%s))", f->trust == TLS_TRUST_TRUSTED ? "verified OK" : "not verified");
    } else
        buf_printf(out, "\r\n\t(No client certificate %s)",
                   sess->smtpd->p->smtpd_tls_ask_ccert ? "presented" : "requested");
}
