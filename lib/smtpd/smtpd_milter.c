/*
 * smtpd_milter.c - the milters of smtpd_milters, in order, at each SMTP stage: connect,
 * HELO, MAIL, RCPT, DATA, unknown commands (the content and the end of the message are in
 * smtpd_milter_msg.c), ABORT when a transaction is dropped and QUIT at the session's end.
 *
 * A session has one connection per milter (smtpd_milter_conn.c), opened at its connect
 * stage. A stage asks each milter in turn, with the stage's macros before the command, and
 * stops at the first verdict that is not "go on": reject (550 5.7.1 Command rejected),
 * tempfail (451 4.7.1 Service unavailable - try again later), a custom reply, discard, 421.
 * ACCEPT ends that milter's part in the session (at connect or HELO) or in the transaction
 * (later), as the protocol says; a step the milter asked to skip (SMFIP_NO*) is not sent,
 * one it said it does not answer (SMFIP_NR_*) is not waited for. While a stage runs the
 * session takes no input; its verdict comes to the session's callback from the loop, never
 * from inside the call that started the stage.
 *
 * A milter that cannot be reached, takes longer than its timeout, closes or sends what does
 * not parse is closed for the session with a warning, and its default_action applies to
 * this stage and every later one it would have seen: accept (it is left out), reject,
 * tempfail, quarantine (the message goes to the hold queue). Postfix does the same.
 *
 * Without smtpd_milters a session has no struct smtpd_milters and none of this runs.
 * smtpd_milter_maps (smtpd_milter_maps.c) may pick other milters, or none, per client.
 *
 * Trusts: main.cf; a milter's replies as far as the codec checked them (custom replies are
 * 4xx or 5xx with the same code on every line).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/milter_edit.h"
#include "mail/milter_macro.h"
#include "smtpd/smtpd_milter.h"

static const struct smtp_reply smtpd_milter_shutdown = {421, "4.7.0", "Server closing connection"};

static void smtpd_milter_next(struct smtpd_milters *ms);

/* smtpd_milter_init - parse smtpd_milters once; a broken entry is kept, unreachable */
void
smtpd_milter_init(struct smtpd *smtpd)
{
    smtpd->milters =
        milter_specs_load(smtpd->p, "smtpd_milters", &smtpd->p->smtpd_milters, &smtpd->nmilters);
    smtpd_milter_route_init(smtpd);
}

void
smtpd_milter_free(struct smtpd *smtpd)
{
    milter_specs_free(smtpd->milters, smtpd->nmilters);
    smtpd_milter_maps_free(smtpd);
    smtpd_milter_route_free(smtpd);
    smtpd->milters = NULL;
    smtpd->nmilters = 0;
}

/* smtpd_milter_timeout - the time a milter may take to answer cmd */
long
smtpd_milter_timeout(const struct smtpd_mconn *mc, int cmd)
{
    return milter_step_of(cmd)->content ? mc->spec->set.content_timeout
                                        : mc->spec->set.command_timeout;
}

/* smtpd_milter_value - a macro's value by its bare name, from the session */
static const char *
smtpd_milter_value(void *ctx, const char *name)
{
    struct smtpd_milters *ms = ctx;
    struct smtpd_session *sess = ms->sess;
    const struct tls_facts *tls = sess->tls;
    const char *value;
    /* Postfix: the certificate's names only when it verified (smtpd_tls_ask_ccert, CAfile) */
    bool trusted = tls != NULL && tls->trust == TLS_TRUST_TRUSTED && tls->subject[0];
    struct milter_macro_facts facts = {
        .client = ms->client_macro,
        .client_name = sess->name,
        .client_addr = sess->addr,
        .qid = sess->txn.qid[0] ? sess->txn.qid : NULL,
        .sender = sess->txn.sender,
        .rcpt = ms->rcpt,
    };

    if (strcmp(name, "_") == 0)
        snprintf(ms->client_macro, sizeof(ms->client_macro), "%s [%s]", sess->name, sess->addr);
    if (strcmp(name, "daemon_addr") == 0)
        return ms->daemon_addr[0] ? ms->daemon_addr : NULL;
    if (strcmp(name, "client_port") == 0)
        return ms->client_port;
    if (tls != NULL && strcmp(name, "tls_version") == 0)
        return tls->protocol;
    if (tls != NULL && strcmp(name, "cipher") == 0)
        return tls->cipher;
    if (tls != NULL && strcmp(name, "cipher_bits") == 0) {
        snprintf(ms->bits_macro, sizeof(ms->bits_macro), "%lld", (long long)tls->bits);
        return ms->bits_macro;
    }
    if (trusted && strcmp(name, "cert_subject") == 0)
        return tls->subject;
    if (trusted && strcmp(name, "cert_issuer") == 0)
        return tls->issuer;
    if (strcmp(name, "auth_type") == 0)
        return smtpd_auth_method(sess);
    if (strcmp(name, "auth_authen") == 0)
        return smtpd_auth_user(sess);
    if (strcmp(name, "auth_author") == 0)
        return sess->txn.auth_author;
    if (milter_route_macro(&ms->route, sess->txn.sender, ms->rcpt, name, &value))
        return value;
    return milter_macro_common(sess->smtpd->p, &facts, name);
}

/* smtpd_milter_put_macros - the stage's macros for this milter, if it has any */
static void
smtpd_milter_put_macros(struct smtpd_milters *ms, const struct smtpd_mconn *mc, int cmd,
                        struct buf *out)
{
    int stage = milter_macro_stage(cmd);
    const char *list =
        milter_macro_list(ms->sess->smtpd->p, cmd, stage >= 0 ? mc->symlist[stage] : NULL);
    struct milter_macros mm;

    if (list == NULL || *list == 0)
        return;
    milter_macros_build(&mm, list, smtpd_milter_value, ms);
    if (mm.n > 0)
        milter_put_macros(out, cmd, mm.m, mm.n);
    milter_macros_free(&mm);
}

/* smtpd_milter_refuse - the stage's verdict is reply */
static void
smtpd_milter_refuse(struct smtpd_milters *ms, const struct smtp_reply *reply)
{
    ms->verdict.result = reply->code == 421 ? SMTPD_MILTER_CLOSE : SMTPD_MILTER_REFUSE;
    ms->verdict.reply = *reply;
}

/* smtpd_milter_default - a dead milter's default action at this stage; true: it decided */
static bool
smtpd_milter_default(struct smtpd_milters *ms, const struct smtpd_mconn *mc)
{
    switch (mc->spec->set.default_action) {
    case MILTER_DEFAULT_REJECT:
        smtpd_milter_refuse(ms, &milter_reject_reply);
        return true;
    case MILTER_DEFAULT_TEMPFAIL:
        smtpd_milter_refuse(ms, &milter_tempfail_reply);
        return true;
    case MILTER_DEFAULT_QUARANTINE:
        if (milter_step_of(ms->cmd)->message)
            ms->verdict.hold = true;
        return false;
    default:
        return false;
    }
}

/* smtpd_milter_skipped - does this milter see nothing of this stage? */
static bool
smtpd_milter_skipped(const struct smtpd_milters *ms, const struct smtpd_mconn *mc)
{
    const struct milter_step *step = milter_step_of(ms->cmd);

    if (mc->done_session || (step->message && mc->done_message))
        return true;
    if (ms->cmd == MILTER_CMD_BODY && mc->skip_body)
        return true;
    return mc->state == MCONN_READY && (mc->protocol & step->no) != 0;
}

/* smtpd_milter_ask - send the stage to milter i; true if its reply is awaited */
static bool
smtpd_milter_ask(struct smtpd_milters *ms, struct smtpd_mconn *mc)
{
    const struct milter_step *step = milter_step_of(ms->cmd);
    struct buf out;
    bool reply, wait;

    if (mc->state == MCONN_DEAD)
        return false;
    if (mc->state != MCONN_READY) { /* what is sent depends on what it negotiates */
        ms->asking = true;
        smtpd_mconn_start(mc);
        ms->asking = false;
        return mc->state != MCONN_DEAD; /* smtpd_milter_ready asks again */
    }
    if (smtpd_milter_skipped(ms, mc))
        return false;
    buf_init(&out, BUF_UNLIMITED);
    smtpd_milter_put_macros(ms, mc, ms->cmd, &out);
    if (ms->cmd == MILTER_CMD_HEADER && (mc->protocol & MILTER_P_HDR_LEADSPC))
        buf_append(&out, ms->packet_lead.data, ms->packet_lead.len);
    else
        buf_append(&out, ms->packet.data, ms->packet.len);
    reply = (mc->protocol & step->nr) == 0;
    if (step->message)
        mc->in_message = true;
    ms->asking = true;
    wait = smtpd_mconn_send(mc, &out, reply, smtpd_milter_timeout(mc, ms->cmd));
    ms->asking = false;
    buf_free(&out);
    return mc->state != MCONN_DEAD && wait;
}

/* smtpd_milter_ready - the milter being asked has negotiated: ask it again, for real */
static void
smtpd_milter_ready(struct smtpd_mconn *mc)
{
    struct smtpd_milters *ms = mc->owner;

    if (ms->busy && &ms->m[ms->cur] == mc)
        smtpd_milter_next(ms);
}

/* smtpd_milter_drained - the milter being asked took what it was sent: the stage goes on */
static void
smtpd_milter_drained(struct smtpd_mconn *mc)
{
    struct smtpd_milters *ms = mc->owner;

    if (!ms->busy || &ms->m[ms->cur] != mc)
        return;
    ms->cur++;
    smtpd_milter_next(ms);
}

/* smtpd_milter_kick - the stage is over: its verdict to the session, from the loop */
static void
smtpd_milter_kick(void *arg)
{
    struct smtpd_milters *ms = arg;
    struct smtpd_session *sess = ms->sess;
    smtpd_milter_done done = ms->done;

    ms->busy = false;
    ms->done = NULL;
    done(sess, &ms->verdict);
    smtpd_session_resume(sess);
}

/* smtpd_milter_finish - the stage has its verdict; the session hears of it from the loop */
void
smtpd_milter_finish(struct smtpd_milters *ms)
{
    loop_timer_start(ms->kick, 0);
}

/* smtpd_milter_next - ask the milters from cur on until one is awaited or a verdict falls */
static void
smtpd_milter_next(struct smtpd_milters *ms)
{
    while (ms->cur < ms->n) {
        struct smtpd_mconn *mc = &ms->m[ms->cur];
        if (ms->only != SMTPD_MILTER_ALL && ms->cur != ms->only) {
            ms->cur++;
            continue;
        }
        if (smtpd_milter_ask(ms, mc))
            return;
        if (mc->state == MCONN_DEAD && !smtpd_milter_skipped(ms, mc) &&
            smtpd_milter_default(ms, mc))
            break;
        ms->cur++;
    }
    smtpd_milter_finish(ms);
}

/* smtpd_milter_custom - a custom reply "550 5.7.1 text" (more lines after CRLF) */
static void
smtpd_milter_custom(struct smtpd_milters *ms, const char *text)
{
    struct milter_custom *c = &ms->custom;

    milter_custom_parse(text, c);
    ms->verdict.reply = (struct smtp_reply){c->code, c->status, c->text};
    ms->verdict.result = c->code == 421 ? SMTPD_MILTER_CLOSE : SMTPD_MILTER_REFUSE;
}

/* smtpd_milter_settle - the awaited milter gave its verdict: no more waiting for it */
static void
smtpd_milter_settle(struct smtpd_mconn *mc)
{
    mc->waiting = false;
    loop_timer_stop(mc->timer);
}

/* smtpd_milter_fail - a milter broke: warn, close it, apply its default action if asked */
static void
smtpd_milter_fail(struct smtpd_mconn *mc, const char *why)
{
    struct smtpd_milters *ms = mc->owner;
    struct smtpd_session *sess = ms->sess;

    log_warn("milter %s: %s; default_action=%s for %s[%s]", mc->spec->name, why,
             milter_action_name(mc->spec->set.default_action), sess->name, sess->addr);
    if (mc->state != MCONN_DEAD)
        smtpd_mconn_close(mc);
    if (ms->asking || !ms->busy || &ms->m[ms->cur] != mc)
        return; /* the caller sees it dead, or the next stage will */
    if (smtpd_milter_default(ms, mc)) {
        smtpd_milter_finish(ms);
        return;
    }
    ms->cur++;
    smtpd_milter_next(ms);
}

/* smtpd_milter_conn_failed - the same, for a reply the end of the message refused */
void
smtpd_milter_conn_failed(struct smtpd_mconn *mc, const char *why)
{
    smtpd_milter_fail(mc, why);
}

/*
 * smtpd_milter_take - what a reply to the stage means: a verdict in ms->verdict, or an
 * ACCEPT or SKIP for this milter; NULL, or why it breaks the protocol
 */
static const char *
smtpd_milter_take(struct smtpd_milters *ms, struct smtpd_mconn *mc, const struct milter_reply *r)
{
    const struct milter_step *step = milter_step_of(ms->cmd);

    switch (r->cmd) {
    case MILTER_REPLY_CONTINUE:
        return NULL;
    case MILTER_REPLY_ACCEPT:
        if (step->message)
            mc->done_message = true;
        else
            mc->done_session = true;
        return NULL;
    case MILTER_REPLY_SKIP: /* only where it may come: in the body, negotiated */
        if (ms->cmd != MILTER_CMD_BODY || (mc->protocol & MILTER_P_SKIP) == 0)
            return "SKIP where it was not negotiated or not in the body";
        mc->skip_body = true;
        return NULL;
    case MILTER_REPLY_REJECT:
        smtpd_milter_refuse(ms, &milter_reject_reply);
        return NULL;
    case MILTER_REPLY_TEMPFAIL:
        smtpd_milter_refuse(ms, &milter_tempfail_reply);
        return NULL;
    case MILTER_REPLY_REPLYCODE:
        smtpd_milter_custom(ms, r->text);
        return NULL;
    case MILTER_REPLY_SHUTDOWN:
        smtpd_milter_refuse(ms, &smtpd_milter_shutdown);
        return NULL;
    case MILTER_REPLY_DISCARD:
        if (!step->message)
            return "DISCARD is not allowed at connect, HELO or an unknown command";
        ms->verdict.result = SMTPD_MILTER_DISCARD;
        return NULL;
    default:
        return "a reply that does not belong to this stage";
    }
}

/* smtpd_milter_reply - one reply of the milter being asked */
static void
smtpd_milter_reply(struct smtpd_mconn *mc, const struct milter_reply *r)
{
    struct smtpd_milters *ms = mc->owner;
    const char *broken;
    char why[160];

    if (!ms->busy || &ms->m[ms->cur] != mc) {
        smtpd_mconn_close(mc);
        smtpd_milter_fail(mc, "a reply nobody asked for");
        return;
    }
    if (ms->cmd == MILTER_CMD_BODYEOB && smtpd_milter_msg_reply(ms, mc, r))
        return; /* an edit or the quarantine: the verdict follows */
    if ((broken = smtpd_milter_take(ms, mc, r)) != NULL) {
        snprintf(why, sizeof(why), "reply '%s' at %s: %s", milter_reply_name(r->cmd),
                 milter_reply_name(ms->cmd), broken);
        smtpd_milter_fail(mc, why);
        return;
    }
    smtpd_milter_settle(mc);
    if (ms->verdict.result != SMTPD_MILTER_GO) {
        if (ms->verdict.result == SMTPD_MILTER_DISCARD)
            mc->done_message = true; /* a refused recipient leaves the message to go on */
        smtpd_milter_finish(ms);
        return;
    }
    ms->cur++;
    smtpd_milter_next(ms);
}

/* smtpd_milter_stage - run the stage whose command packet is in ms->packet */
void
smtpd_milter_stage(struct smtpd_milters *ms, int cmd, smtpd_milter_done done)
{
    ms->cmd = cmd;
    ms->done = done;
    ms->cur = 0;
    ms->busy = true;
    ms->verdict.result = SMTPD_MILTER_GO;
    ms->verdict.reply = (struct smtp_reply){0, NULL, NULL};
    if (cmd == MILTER_CMD_MAIL)
        ms->verdict.hold = false; /* a quarantine holds for the whole transaction */
    smtpd_milter_next(ms);
}

/* smtpd_milter_addrs - the daemon's address and the client's port, for the macros */
static void
smtpd_milter_addrs(struct smtpd_milters *ms, int fd)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl = sizeof(ss);
    unsigned port = 0;

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ms->daemon_addr,
                      sizeof(ms->daemon_addr));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ms->daemon_addr,
                      sizeof(ms->daemon_addr));
    }
    sl = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    ms->port = port;
    snprintf(ms->client_port, sizeof(ms->client_port), "%u", port);
}

static const struct smtpd_mconn_ops smtpd_milter_ops = {smtpd_milter_ready, smtpd_milter_reply,
                                                        smtpd_milter_fail, smtpd_milter_drained};

/* smtpd_milter_session - a new session: its milters, not connected yet */
void
smtpd_milter_session(struct smtpd_session *sess)
{
    static const struct smtp_reply deferred = {451, "4.3.0", "Server configuration error"};
    struct smtpd *smtpd = sess->smtpd;
    struct smtpd_milter_pick pick;
    struct smtpd_milters *ms;

    smtpd_milter_pick(sess, &pick);
    if (pick.n == 0 && !pick.failed)
        return;
    ms = sess->milters = xcalloc(1, sizeof(*ms));
    ms->sess = sess;
    ms->n = pick.n;
    ms->own = pick.own;
    ms->m = xcalloc(ms->n ? ms->n : 1, sizeof(*ms->m));
    for (size_t i = 0; i < ms->n; i++)
        smtpd_mconn_init(&ms->m[i], &pick.specs[i], smtpd->ctx->loop, ms, &smtpd_milter_ops);
    if (pick.failed) { /* every command but QUIT: no mail in unfiltered */
        ms->deny = deferred;
        ms->deny_set = true;
    }
    buf_init(&ms->packet, BUF_UNLIMITED);
    buf_init(&ms->packet_lead, BUF_UNLIMITED);
    ms->kick = loop_timer_new(smtpd->ctx->loop, smtpd_milter_kick, ms);
    ms->only = SMTPD_MILTER_ALL;
    ms->route.resolve = smtpd->route;
    smtpd_milter_addrs(ms, sess->fd);
}

/* smtpd_milter_end - the session ends: QUIT to each milter still there, then close */
void
smtpd_milter_end(struct smtpd_session *sess)
{
    struct smtpd_milters *ms = sess->milters;

    if (ms == NULL)
        return;
    smtpd_milter_msg_free(ms);
    milter_route_forget(&ms->route);
    free(ms->rcpt);
    for (size_t i = 0; i < ms->n; i++) {
        struct smtpd_mconn *mc = &ms->m[i];
        if (mc->state == MCONN_READY && !mc->waiting) {
            /* Best effort, never waited for: a milter that does not read loses its QUIT. */
            milter_put_simple(&mc->out, MILTER_CMD_QUIT);
            (void)send(mc->fd, mc->out.data, mc->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        smtpd_mconn_free(mc);
    }
    free(ms->m);
    milter_specs_free(ms->own, ms->n);
    buf_free(&ms->packet);
    buf_free(&ms->packet_lead);
    loop_timer_free(ms->kick);
    free(ms);
    sess->milters = NULL;
}

bool
smtpd_milter_busy(const struct smtpd_session *sess)
{
    return sess->milters != NULL && sess->milters->busy;
}

/* smtpd_milter_denied - the reply every command but QUIT gets after a refused connect/HELO */
const struct smtp_reply *
smtpd_milter_denied(const struct smtpd_session *sess)
{
    return sess->milters != NULL && sess->milters->deny_set ? &sess->milters->deny : NULL;
}

/* smtpd_milter_go - the verdict of a stage without milters */
static void
smtpd_milter_go(struct smtpd_session *sess, smtpd_milter_done done)
{
    static const struct smtpd_milter_verdict go = {SMTPD_MILTER_GO, {0, NULL, NULL}, false, NULL};

    done(sess, &go);
}

/* smtpd_milter_deny_later - a refused connect or HELO: remember the reply for what follows */
static void
smtpd_milter_deny_later(struct smtpd_milters *ms)
{
    if (ms->verdict.result != SMTPD_MILTER_REFUSE)
        return;
    snprintf(ms->deny_dsn, sizeof(ms->deny_dsn), "%s", ms->verdict.reply.status);
    snprintf(ms->deny_text, sizeof(ms->deny_text), "%s", ms->verdict.reply.text);
    ms->deny = (struct smtp_reply){ms->verdict.reply.code, ms->deny_dsn, ms->deny_text};
    ms->deny_set = true;
}

/* smtpd_milter_greeted - the verdict on connect or HELO, kept for the commands */
static void
smtpd_milter_greeted(struct smtpd_session *sess, const struct smtpd_milter_verdict *v)
{
    smtpd_milter_deny_later(sess->milters);
    sess->milters->after_connect(sess, v);
}

void
smtpd_milter_connect(struct smtpd_session *sess, smtpd_milter_done done)
{
    struct smtpd_milters *ms = sess->milters;
    bool v6 = strchr(sess->addr, ':') != NULL;
    char host[300];

    if (ms == NULL) {
        smtpd_milter_go(sess, done);
        return;
    }
    if (strcmp(sess->name, "unknown") == 0)
        snprintf(host, sizeof(host), "[%s]", sess->addr);
    else
        snprintf(host, sizeof(host), "%s", sess->name);
    buf_reset(&ms->packet);
    milter_put_connect(&ms->packet, sess->name[0] ? host : "unknown",
                       v6 ? MILTER_FAMILY_INET6 : MILTER_FAMILY_INET, ms->port, sess->addr);
    ms->after_connect = done;
    smtpd_milter_stage(ms, MILTER_CMD_CONNECT, smtpd_milter_greeted);
}

void
smtpd_milter_helo(struct smtpd_session *sess, smtpd_milter_done done)
{
    struct smtpd_milters *ms = sess->milters;

    if (ms == NULL) {
        smtpd_milter_go(sess, done);
        return;
    }
    buf_reset(&ms->packet);
    milter_put_string(&ms->packet, MILTER_CMD_HELO, sess->helo);
    ms->after_connect = done;
    smtpd_milter_stage(ms, MILTER_CMD_HELO, smtpd_milter_greeted);
}

/* smtpd_milter_args - "<addr>" and the ESMTP parameters as separate strings */
static void
smtpd_milter_args(struct smtpd_milters *ms, int cmd, const char *addr, const char *args)
{
    struct strvec v;
    char *first = xasprintf("<%s>", addr);

    strvec_init(&v);
    strvec_add_owned(&v, first);
    strvec_split(&v, args ? args : "", " ");
    buf_reset(&ms->packet);
    milter_put_strings(&ms->packet, cmd, (const char *const *)v.v, v.n);
    strvec_free(&v);
}

void
smtpd_milter_mail(struct smtpd_session *sess, const char *args, smtpd_milter_done done)
{
    struct smtpd_milters *ms = sess->milters;

    if (ms == NULL) {
        smtpd_milter_go(sess, done);
        return;
    }
    for (size_t i = 0; i < ms->n; i++)
        ms->m[i].done_message = false;
    smtpd_milter_args(ms, MILTER_CMD_MAIL, sess->txn.sender, args);
    smtpd_milter_stage(ms, MILTER_CMD_MAIL, done);
}

void
smtpd_milter_rcpt(struct smtpd_session *sess, const char *rcpt, const char *args,
                  smtpd_milter_done done)
{
    struct smtpd_milters *ms = sess->milters;

    if (ms == NULL) {
        smtpd_milter_go(sess, done);
        return;
    }
    free(ms->rcpt); /* the session's copy goes when a refused recipient is dropped */
    ms->rcpt = xstrdup(rcpt);
    smtpd_milter_args(ms, MILTER_CMD_RCPT, rcpt, args);
    smtpd_milter_stage(ms, MILTER_CMD_RCPT, done);
}

void
smtpd_milter_data(struct smtpd_session *sess, smtpd_milter_done done)
{
    struct smtpd_milters *ms = sess->milters;

    if (ms == NULL) {
        smtpd_milter_go(sess, done);
        return;
    }
    buf_reset(&ms->packet);
    milter_put_simple(&ms->packet, MILTER_CMD_DATA);
    smtpd_milter_stage(ms, MILTER_CMD_DATA, done);
}

void
smtpd_milter_unknown(struct smtpd_session *sess, const char *line, smtpd_milter_done done)
{
    struct smtpd_milters *ms = sess->milters;

    if (ms == NULL) {
        smtpd_milter_go(sess, done);
        return;
    }
    buf_reset(&ms->packet);
    milter_put_string(&ms->packet, MILTER_CMD_UNKNOWN, line);
    smtpd_milter_stage(ms, MILTER_CMD_UNKNOWN, done);
}

/*
 * smtpd_milter_abort_one - ABORT to a milter that saw the transaction. One that still owes
 * a reply (or has output held) is closed instead: its late reply would come after the
 * ABORT and be taken for the answer to the next request. Postfix's milter8 reads every
 * reply before it sends anything else, and closes a milter it gave up on; here the session
 * takes no command while a stage waits, so this is for a caller that ends a transaction
 * in the middle of a stage, which none does today.
 */
static void
smtpd_milter_abort_one(struct smtpd_mconn *mc, const struct buf *abort)
{
    if (mc->waiting || mc->draining) {
        log_warn("milter %s: the transaction ended while it owed a reply: closed", mc->spec->name);
        smtpd_mconn_close(mc);
        return;
    }
    smtpd_mconn_post(mc, abort);
}

/* smtpd_milter_abort - the transaction is dropped: ABORT to each milter that saw it */
void
smtpd_milter_abort(struct smtpd_session *sess)
{
    struct smtpd_milters *ms = sess->milters;
    struct buf abort;

    if (ms == NULL)
        return;
    smtpd_milter_msg_free(ms);
    buf_init(&abort, 16);
    milter_put_simple(&abort, MILTER_CMD_ABORT);
    for (size_t i = 0; i < ms->n; i++) {
        struct smtpd_mconn *mc = &ms->m[i];
        if (mc->in_message)
            smtpd_milter_abort_one(mc, &abort);
        mc->in_message = false;
        mc->done_message = false;
        mc->skip_body = false;
    }
    buf_free(&abort);
    ms->verdict.hold = false;
    free(ms->rcpt);
    ms->rcpt = NULL;
}

/*
 * smtpd_milter_log - in Postfix's shapes: "NOQUEUE: milter-reject: RCPT from host[addr]: 550
 * 5.7.1 text; from=<s> to=<r> proto=ESMTP helo=<h>"; at the end of the message (where
 * Postfix's cleanup logs it) "QID: milter-reject: END-OF-MESSAGE from host[addr]: 5.7.1
 * text; from=<s> to=<first recipient> ...", "milter-discard" and "milter-hold" the same way
 */
void
smtpd_milter_log(struct smtpd_session *sess, const char *what, const char *cmd,
                 const struct smtpd_milter_verdict *v, const char *rcpt)
{
    bool eom = strcmp(cmd, "END-OF-MESSAGE") == 0;
    char to[600] = "", reply[700];

    if (eom && rcpt == NULL && sess->txn.nrcpt > 0)
        rcpt = sess->txn.rcpt[0].addr;
    if (rcpt != NULL)
        snprintf(to, sizeof(to), " to=<%s>", rcpt);
    if (strcmp(what, "milter-discard") == 0)
        snprintf(reply, sizeof(reply), "milter triggers DISCARD action");
    else if (strcmp(what, "milter-hold") == 0)
        snprintf(reply, sizeof(reply), "milter triggers HOLD action");
    else if (eom)
        snprintf(reply, sizeof(reply), "%s %s", v->reply.status, v->reply.text);
    else
        snprintf(reply, sizeof(reply), "%d %s %s", v->reply.code, v->reply.status, v->reply.text);
    for (char *p = reply; *p; p++)
        if (*p == '\n')
            *p = ' ';
    log_info("%s: %s: %s from %s[%s]: %s; from=<%s>%s proto=%s helo=<%s>",
             sess->txn.qid[0] ? sess->txn.qid : "NOQUEUE", what, cmd, sess->name, sess->addr, reply,
             sess->txn.sender ? sess->txn.sender : "", to,
             smtpd_protocol(sess->esmtp, false, false, false), sess->helo ? sess->helo : "");
}
