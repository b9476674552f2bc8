/*
 * smtpd_auth.c - AUTH (RFC 4954): the command, the 334 exchange, what a login permits.
 *
 * Runs as mail_owner; the passwords are checked by the SASL backend (lib/mail/sasl_*.c:
 * Cyrus SASL or Dovecot's auth service), never here. Trusts: the backend's verdict; nothing
 * the client sends, which reaches the backend only as base64 the backend decodes strictly.
 *
 * Rules, each with a test in t/submission.t:
 *   - AUTH is offered only where configured (smtpd_sasl_auth_enable, always in submission)
 *     and, with smtpd_tls_auth_only (always in submission), only inside TLS.
 *   - A wrong password and an unknown user get the same 535 5.7.8; the log says which.
 *     Each failure is an error for smtpd_hard_error_limit and delays the next reply by
 *     smtpd_error_sleep_time, so guessing is slow and ends the session.
 *   - smtpd_client_auth_rate_limit counts AUTH commands per client address in anvil, across
 *     sessions and processes; past it, AUTH gets 503 5.7.0.
 *   - "*" cancels with 501; undecodable base64 is 501 5.5.2; a second AUTH after success
 *     is 503; AUTH inside a mail transaction is 503.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/anvil_proto.h"
#include "smtpd/smtpd.h"

struct smtpd_auth {
    struct sasl_auth *exchange; /* the exchange in progress, NULL between exchanges */
    bool waiting;               /* the backend has not answered yet: no input */
    char method[32];            /* the mechanism of the exchange, as the client wrote it */
    char *initial;              /* the initial response while anvil counts the AUTH, or NULL */
    char *user;                 /* the login, once one succeeded */
};

/* smtpd_auth_init - the SASL backend, when this service offers AUTH */
void
smtpd_auth_init(struct smtpd *smtpd)
{
    struct err err;

    smtpd->auth_enabled = smtpd->p->smtpd_sasl_auth_enable || smtpd->role->submission;
    if (!smtpd->auth_enabled)
        return;
    if ((smtpd->sasl = sasl_server_create(smtpd->ctx->loop, smtpd->p, &err)) == NULL) {
        smtpd->sasl_error = xstrdup(err.text);
        log_warn("%s: SASL authentication is not available: %s", smtpd->ctx->service_name,
                 err.text);
    }
}

void
smtpd_auth_free(struct smtpd *smtpd)
{
    sasl_server_free(smtpd->sasl);
    free(smtpd->sasl_error);
}

/* smtpd_auth_mechs - the mechanisms for the EHLO reply, or NULL when AUTH is not offered */
const char *
smtpd_auth_mechs(const struct smtpd_session *sess)
{
    const struct smtpd *smtpd = sess->smtpd;
    const char *mechs;

    if (!smtpd->auth_enabled || smtpd->sasl == NULL || smtpd_auth_user(sess) != NULL)
        return NULL;
    if (smtpd->tls.auth_only && sess->tls == NULL)
        return NULL;
    mechs = sasl_server_mechs(smtpd->sasl, sess->tls != NULL);
    return mechs[0] ? mechs : NULL;
}

/* smtpd_auth_user - the SASL login of the session, or NULL */
const char *
smtpd_auth_user(const struct smtpd_session *sess)
{
    return sess->auth ? sess->auth->user : NULL;
}

const char *
smtpd_auth_method(const struct smtpd_session *sess)
{
    return sess->auth && sess->auth->user ? sess->auth->method : NULL;
}

/* smtpd_auth_end_exchange - back to commands */
static void
smtpd_auth_end_exchange(struct smtpd_session *sess)
{
    sasl_auth_free(sess->auth->exchange);
    sess->auth->exchange = NULL;
    sess->auth->waiting = false;
    sess->phase = SMTPD_PHASE_CMD;
}

/* smtpd_auth_failed - 535 for every kind of failure; the log line fail2ban reads */
static void
smtpd_auth_failed(struct smtpd_session *sess, const char *why)
{
    const char *tried = sasl_auth_tried_user(sess->auth->exchange);

    log_warn("%s[%s]: SASL %s authentication failed: %s%s%s", sess->name, sess->addr,
             sess->auth->method, why && *why ? why : "authentication failure",
             tried ? ", sasl_username=" : "", tried ? tried : "");
    smtpd_auth_end_exchange(sess);
    smtpd_reply(sess, 535, "5.7.8", "Error: authentication failed: authentication failure");
    smtpd_session_delay(sess);
}

/* smtpd_auth_done - the backend's answer to one step */
static void
smtpd_auth_done(void *arg, enum sasl_result result, const char *text)
{
    struct smtpd_session *sess = arg;
    struct smtpd_auth *auth = sess->auth;

    auth->waiting = false;
    switch (result) {
    case SASL_RESULT_CHALLENGE:
        sess->phase = SMTPD_PHASE_AUTH;
        smtpd_reply_line(sess, 334, text);
        break;
    case SASL_RESULT_OK:
        auth->user = xstrdup(sasl_auth_user(auth->exchange));
        smtpd_auth_end_exchange(sess);
        smtpd_reply(sess, 235, "2.7.0", "Authentication successful");
        break;
    case SASL_RESULT_FAIL:
        smtpd_auth_failed(sess, text);
        break;
    case SASL_RESULT_BAD_DATA:
        smtpd_auth_end_exchange(sess);
        smtpd_reply(sess, 501, "5.5.2", "Cannot decode response");
        break;
    case SASL_RESULT_TEMP:
        log_warn("%s[%s]: SASL %s authentication aborted: %s", sess->name, sess->addr, auth->method,
                 text);
        smtpd_auth_end_exchange(sess);
        smtpd_reply(sess, 454, "4.7.0", "Temporary authentication failure");
        break;
    }
    smtpd_session_resume(sess);
}

/* smtpd_auth_refuse - the reasons AUTH cannot start now; true if it was refused */
static bool
smtpd_auth_refuse(struct smtpd_session *sess)
{
    const struct smtpd *smtpd = sess->smtpd;

    if (!smtpd->auth_enabled) {
        smtpd_reply(sess, 503, "5.5.1", "Error: authentication not enabled");
    } else if (smtpd->tls.auth_only && sess->tls == NULL) {
        if (smtpd->tls.level == TLS_LEVEL_ENCRYPT)
            smtpd_reply(sess, 530, "5.7.0", "Must issue a STARTTLS command first");
        else
            smtpd_reply(sess, 503, "5.5.1", "Error: authentication not enabled");
    } else if (!sess->esmtp) {
        smtpd_reply(sess, 503, "5.5.1", "Error: send EHLO first");
    } else if (smtpd_auth_user(sess) != NULL) {
        smtpd_reply(sess, 503, "5.5.1", "Error: already authenticated");
    } else if (sess->txn.sender != NULL) {
        smtpd_reply(sess, 503, "5.5.1", "Error: MAIL transaction in progress");
    } else if (smtpd->sasl == NULL) {
        smtpd_reply(sess, 454, "4.7.0", "Temporary authentication failure");
    } else {
        return false;
    }
    return true;
}

/* smtpd_auth_forget_initial - the initial response is credentials: wipe it */
static void
smtpd_auth_forget_initial(struct smtpd_auth *auth)
{
    if (auth->initial == NULL)
        return;
    explicit_bzero(auth->initial, strlen(auth->initial));
    free(auth->initial);
    auth->initial = NULL;
}

/* smtpd_auth_begin - hand the mechanism and its initial response to the backend */
static void
smtpd_auth_begin(struct smtpd_session *sess)
{
    struct sasl_peer peer = {.client_addr = sess->addr, .tls = sess->tls != NULL};
    struct smtpd_auth *auth = sess->auth;
    bool unsupported = false;

    auth->exchange = sasl_auth_start(sess->smtpd->sasl, &peer, auth->method, auth->initial,
                                     smtpd_auth_done, sess, &unsupported);
    smtpd_auth_forget_initial(auth);
    if (auth->exchange == NULL) {
        smtpd_reply(sess, 504, "5.5.4", "Unsupported authentication mechanism");
        return;
    }
    auth->waiting = true;
}

/* smtpd_auth_counted - anvil's count of this client's AUTH commands, or NULL without anvil */
static void
smtpd_auth_counted(struct smtpd_session *sess, const struct anvil_counts *counts)
{
    const struct params *p = sess->smtpd->p;

    if (counts != NULL && counts->rate > p->smtpd_client_auth_rate_limit) {
        log_warn("AUTH command rate limit exceeded: %ld from %s[%s] for service %s",
                 (long)counts->rate, sess->name, sess->addr, sess->smtpd->ctx->service_name);
        smtpd_auth_forget_initial(sess->auth);
        smtpd_reply(sess, 503, "5.7.0", "Error: too many AUTH commands from %s", sess->addr);
        return;
    }
    smtpd_auth_begin(sess);
}

/* smtpd_auth_cmd - AUTH mechanism [initial-response]: counted by anvil, then begun */
void
smtpd_auth_cmd(struct smtpd_session *sess, const struct smtp_cmd *cmd)
{
    struct smtpd_auth *auth;

    if (smtpd_auth_refuse(sess))
        return;
    if (sess->auth == NULL)
        sess->auth = xcalloc(1, sizeof(*sess->auth));
    auth = sess->auth;
    snprintf(auth->method, sizeof(auth->method), "%s", cmd->arg);
    auth->initial = cmd->auth_response ? xstrdup(cmd->auth_response) : NULL;
    if (!smtpd_anvil_auth(sess, smtpd_auth_counted))
        smtpd_auth_begin(sess);
}

/* smtpd_auth_line - the client's line after a 334: a response, or "*" to cancel */
void
smtpd_auth_line(struct smtpd_session *sess, const char *line)
{
    if (strcmp(line, "*") == 0) {
        smtpd_auth_end_exchange(sess);
        smtpd_reply(sess, 501, "5.0.0", "Authentication aborted");
        return;
    }
    sess->auth->waiting = true;
    sasl_auth_step(sess->auth->exchange, line);
}

/* smtpd_auth_too_long - an answer to 334 longer than RFC 4954 allows: the exchange ends */
void
smtpd_auth_too_long(struct smtpd_session *sess)
{
    smtpd_auth_end_exchange(sess);
    smtpd_reply(sess, 500, "5.5.6", "Authentication Exchange line is too long");
}

/* smtpd_auth_busy - the backend is working on this session's exchange: no input */
bool
smtpd_auth_busy(const struct smtpd_session *sess)
{
    return sess->auth != NULL && sess->auth->waiting;
}

/* smtpd_auth_refuse_mail - submission: no MAIL before AUTH */
bool
smtpd_auth_refuse_mail(struct smtpd_session *sess)
{
    if (!sess->smtpd->role->submission || smtpd_auth_user(sess) != NULL)
        return false;
    smtpd_reply(sess, 530, "5.7.0", "Authentication required");
    return true;
}

void
smtpd_auth_cancel(struct smtpd_session *sess)
{
    if (sess->auth == NULL)
        return;
    sasl_auth_free(sess->auth->exchange);
    smtpd_auth_forget_initial(sess->auth);
    free(sess->auth->user);
    free(sess->auth);
    sess->auth = NULL;
}

/* smtpd_auth_received - "(Authenticated sender: login)" in Received, when asked for */
void
smtpd_auth_received(const struct smtpd_session *sess, struct buf *out)
{
    const char *user = smtpd_auth_user(sess);

    if (user == NULL || !sess->smtpd->p->smtpd_sasl_authenticated_header)
        return;
    buf_puts(out, "\r\n\t(Authenticated sender: ");
    smtpd_data_comment(out, user);
    buf_putc(out, ')');
}
