/*
 * pickup_milter.c - non_smtpd_milters: mail from the sendmail command shown to milters as
 * Postfix's cleanup shows it, as if it came over ESMTP from localhost [127.0.0.1]: connect,
 * HELO localhost, MAIL, RCPT for each recipient, DATA, the content read back from the queue
 * file pickup has just written (lib/mail's milter_content), the end of the message.
 *
 * One milter after the other, each with the whole message: a milter's edits are applied
 * (a new queue file, as smtpd makes one) before the next milter reads the message, so each
 * sees what the ones before it did, as in Postfix. Its own edits are kept only if it gets
 * to its verdict; a milter that fails halfway loses them and gets its default_action.
 *
 * What the verdicts become, since the sendmail command has long exited: a reject (or
 * default_action=reject) makes the message bounce to its sender, with the milter's reply
 * as the reason; a tempfail leaves the maildrop file where it is, to be tried again at the
 * next scan; so does a reject at RCPT, which Postfix, too, takes for a configuration error
 * (a milter cannot refuse one recipient of a message that is already accepted); discard
 * drops the message; quarantine puts it on hold.
 *
 * Trusts: main.cf; the milters' replies as the codec checked them (pickup_mconn.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/milter_content.h"
#include "mail/milter_edit.h"
#include "mail/milter_macro.h"
#include "mail/milter_route.h"
#include "mail/notice.h"
#include "mail/smtp_reply.h"
#include "pickup/pickup_milter.h"

/* What one stage got from the milter being asked. */
enum pickup_ask {
    ASK_GO,   /* on to the next stage */
    ASK_MORE, /* (a reply that is no verdict: read on) */
    ASK_SKIP, /* no more body for this milter */
    ASK_DONE, /* ACCEPT: this milter is done with the message */
    ASK_STOP, /* a verdict on the message */
    ASK_FAIL, /* the milter broke: its default_action */
};

/* One message on its way through the milters. */
struct pickup_mrun {
    struct pickup *pk;
    const struct params *p;
    struct qmgr_reply *file;
    const char *name;          /* the maildrop file, for the log */
    struct queue_envelope env; /* of file */
    const char *rcpt;          /* the recipient of the RCPT stage, for its macros */
    struct pickup_mconn mc;
    struct milter_edits *edits; /* the edits of the milter being asked */
    struct milter_hbc hbc;      /* milter_header_checks on the edits of this message */
    struct pickup_milter_outcome *out;
    struct milter_route route; /* {mail_host} and the like */
};

void
pickup_milter_init(struct pickup *pk)
{
    const struct params *p = &pk->ctx->params;
    struct err err;

    pk->milters = milter_specs_load(p, "non_smtpd_milters", &p->non_smtpd_milters, &pk->nmilters);
    if (pk->nmilters == 0)
        return;
    map_retry_open(&pk->milter_hbc, "milter_header_checks", &p->milter_header_checks);
    pk->route = xcalloc(1, sizeof(*pk->route));
    if (!resolve_open(pk->route, p, &err)) {
        log_warn("milter macros: %s", err.text);
        free(pk->route);
        pk->route = NULL;
    }
}

void
pickup_milter_free(struct pickup *pk)
{
    milter_specs_free(pk->milters, pk->nmilters);
    if (pk->route != NULL)
        resolve_close(pk->route);
    free(pk->route);
    pk->route = NULL;
    pk->milters = NULL;
    pk->nmilters = 0;
    map_retry_close(&pk->milter_hbc);
}

/* pickup_milter_value - a macro's value by its bare name: localhost, this message */
static const char *
pickup_milter_value(void *ctx, const char *name)
{
    struct pickup_mrun *run = ctx;
    const struct milter_macro_facts facts = {
        .client = "localhost [127.0.0.1]",
        .client_name = "localhost",
        .client_addr = "127.0.0.1",
        .qid = run->file->id,
        .sender = run->env.sender,
        .rcpt = run->rcpt,
    };
    const char *value;

    if (milter_route_macro(&run->route, run->env.sender, run->rcpt, name, &value))
        return value;
    return milter_macro_common(run->p, &facts, name);
}

/* pickup_milter_stage_name - a stage as the log names it */
static const char *
pickup_milter_stage_name(int cmd)
{
    switch (cmd) {
    case MILTER_CMD_CONNECT:
        return "CONNECT";
    case MILTER_CMD_HELO:
        return "HELO";
    case MILTER_CMD_MAIL:
        return "MAIL";
    case MILTER_CMD_RCPT:
        return "RCPT";
    case MILTER_CMD_DATA:
        return "DATA";
    default:
        return "END-OF-MESSAGE";
    }
}

/* pickup_milter_log - "QID: milter-reject: STAGE from localhost[127.0.0.1]: why; from=..." */
static void
pickup_milter_log(struct pickup_mrun *run, const char *what, int cmd, const char *why)
{
    log_info("%s: %s: %s from localhost[127.0.0.1]: %s; from=<%s> to=<%s> proto=ESMTP "
             "helo=<localhost>",
             run->file->id, what, pickup_milter_stage_name(cmd), why, run->env.sender,
             run->env.nrcpt > 0 ? run->env.rcpt[0].addr : "");
}

/* pickup_milter_refuse - the milter's refusal as the message's fate: bounce or later */
static enum pickup_ask
pickup_milter_refuse(struct pickup_mrun *run, int cmd, const struct smtp_reply *reply)
{
    struct pickup_milter_outcome *out = run->out;
    bool permanent = reply->code >= 500;

    snprintf(out->reason, sizeof(out->reason), "%s %s", reply->status, reply->text);
    for (char *p = out->reason; *p; p++) /* the lines of a custom reply, on one */
        if (*p == '\n')
            *p = ' ';
    pickup_milter_log(run, "milter-reject", cmd, out->reason);
    if (permanent && cmd == MILTER_CMD_RCPT)
        log_warn("%s: a milter rejected a recipient of mail from sendmail, which cannot be "
                 "refused alone: the message waits in maildrop/%s (check the milter's setup)",
                 run->file->id, run->name);
    out->verdict = permanent && cmd != MILTER_CMD_RCPT ? PICKUP_MILTER_BOUNCE : PICKUP_MILTER_LATER;
    return ASK_STOP;
}

/* pickup_milter_custom - a REPLYCODE as the refusal */
static enum pickup_ask
pickup_milter_custom(struct pickup_mrun *run, int cmd, const char *text)
{
    struct milter_custom c;

    milter_custom_parse(text, &c);
    return pickup_milter_refuse(run, cmd, &(struct smtp_reply){c.code, c.status, c.text});
}

/* pickup_milter_reply - one reply to stage cmd */
static enum pickup_ask
pickup_milter_reply(struct pickup_mrun *run, int cmd, const struct milter_reply *r)
{
    struct err err;

    if (cmd == MILTER_CMD_BODYEOB && r->cmd == MILTER_REPLY_QUARANTINE &&
        (run->mc.actions & MILTER_ACT_QUARANTINE)) {
        pickup_milter_log(run, "milter-hold", cmd, "milter triggers HOLD action");
        run->out->hold = true;
        return ASK_MORE;
    }
    if (cmd == MILTER_CMD_BODYEOB && milter_reply_is_edit(r->cmd)) {
        if (!pickup_milter_hbc(run->pk, &run->hbc, r,
                               (run->mc.protocol & MILTER_P_HDR_LEADSPC) != 0, run->file->id,
                               &run->env))
            return ASK_MORE; /* IGNORE: the edit is dropped */
        if (milter_edits_add(run->edits, r, &err))
            return ASK_MORE;
        snprintf(run->mc.why, sizeof(run->mc.why), "%s: %s", milter_reply_name(r->cmd), err.text);
        return ASK_FAIL;
    }
    switch (r->cmd) {
    case MILTER_REPLY_CONTINUE:
        return ASK_GO;
    case MILTER_REPLY_ACCEPT:
        return ASK_DONE;
    case MILTER_REPLY_SKIP: /* only where it may come: in the body, negotiated */
        if (cmd == MILTER_CMD_BODY && (run->mc.protocol & MILTER_P_SKIP))
            return ASK_SKIP;
        break;
    case MILTER_REPLY_REJECT:
        return pickup_milter_refuse(run, cmd, &milter_reject_reply);
    case MILTER_REPLY_TEMPFAIL:
    case MILTER_REPLY_SHUTDOWN:
        return pickup_milter_refuse(run, cmd, &milter_tempfail_reply);
    case MILTER_REPLY_REPLYCODE:
        return pickup_milter_custom(run, cmd, r->text);
    case MILTER_REPLY_DISCARD:
        if (!milter_step_of(cmd)->message)
            break;
        pickup_milter_log(run, "milter-discard", cmd, "milter triggers DISCARD action");
        run->out->verdict = PICKUP_MILTER_DISCARD;
        return ASK_STOP;
    default:
        break;
    }
    snprintf(run->mc.why, sizeof(run->mc.why), "reply '%s' at %s", milter_reply_name(r->cmd),
             milter_reply_name(cmd));
    return ASK_FAIL;
}

/* pickup_milter_ask - one stage to the milter, with its macros; what came of it */
static enum pickup_ask
pickup_milter_ask(struct pickup_mrun *run, int cmd, const struct buf *packet)
{
    struct pickup_mconn *mc = &run->mc;
    const struct milter_step *step = milter_step_of(cmd);
    long seconds = step->content ? mc->spec->set.content_timeout : mc->spec->set.command_timeout;
    int stage = milter_macro_stage(cmd);
    const char *list = milter_macro_list(run->p, cmd, stage >= 0 ? mc->symlist[stage] : NULL);
    enum pickup_ask a = ASK_FAIL;
    struct milter_macros mm;
    struct milter_reply r;
    struct buf out;

    if (mc->protocol & step->no)
        return ASK_GO;
    buf_init(&out, BUF_UNLIMITED);
    milter_macros_build(&mm, list, pickup_milter_value, run);
    if (mm.n > 0)
        milter_put_macros(&out, cmd, mm.m, mm.n);
    milter_macros_free(&mm);
    buf_append(&out, packet->data, packet->len);
    if (pickup_mconn_send(mc, &out, seconds))
        a = (mc->protocol & step->nr) ? ASK_GO : ASK_MORE;
    buf_free(&out);
    while (a == ASK_MORE)
        a = pickup_mconn_read(mc, seconds, &r) ? pickup_milter_reply(run, cmd, &r) : ASK_FAIL;
    return a;
}

/* pickup_milter_envelope - connect, HELO, MAIL, each RCPT, DATA */
static enum pickup_ask
pickup_milter_envelope(struct pickup_mrun *run, struct buf *pkt)
{
    char *path;
    enum pickup_ask a;

    milter_put_connect(pkt, "localhost", MILTER_FAMILY_INET, 0, "127.0.0.1");
    if ((a = pickup_milter_ask(run, MILTER_CMD_CONNECT, pkt)) != ASK_GO)
        return a;
    buf_reset(pkt);
    milter_put_string(pkt, MILTER_CMD_HELO, "localhost");
    if ((a = pickup_milter_ask(run, MILTER_CMD_HELO, pkt)) != ASK_GO)
        return a;
    buf_reset(pkt);
    path = xasprintf("<%s>", run->env.sender);
    milter_put_strings(pkt, MILTER_CMD_MAIL, (const char *const *)&path, 1);
    free(path);
    if ((a = pickup_milter_ask(run, MILTER_CMD_MAIL, pkt)) != ASK_GO)
        return a;
    for (size_t i = 0; i < run->env.nrcpt; i++) {
        run->rcpt = run->env.rcpt[i].addr;
        buf_reset(pkt);
        path = xasprintf("<%s>", run->rcpt);
        milter_put_strings(pkt, MILTER_CMD_RCPT, (const char *const *)&path, 1);
        free(path);
        if ((a = pickup_milter_ask(run, MILTER_CMD_RCPT, pkt)) != ASK_GO)
            return a;
    }
    buf_reset(pkt);
    milter_put_simple(pkt, MILTER_CMD_DATA);
    return pickup_milter_ask(run, MILTER_CMD_DATA, pkt);
}

/* pickup_milter_toolong - why a milter cannot be shown the message: a header field */
static void
pickup_milter_toolong(struct pickup_mrun *run, const char *name)
{
    snprintf(run->mc.why, sizeof(run->mc.why),
             "header %.60s: a field of %u octets or more cannot be sent to a milter whole", name,
             MILTER_CHUNK_MAX);
}

/* pickup_milter_content - the header fields, the end of the header, the body, the end */
static enum pickup_ask
pickup_milter_content(struct pickup_mrun *run, struct buf *pkt)
{
    bool lead = (run->mc.protocol & MILTER_P_HDR_LEADSPC) != 0, skip = false;
    struct milter_content c;
    enum pickup_ask a = ASK_GO;
    struct stat st;
    int cmd;

    if (fstat(run->file->fd, &st) < 0) {
        snprintf(run->mc.why, sizeof(run->mc.why), "fstat of the queue file: %m");
        return ASK_FAIL;
    }
    milter_content_open(&c, run->file->fd, st.st_size, run->env.content_offset);
    do {
        enum milter_piece piece = milter_content_next(&c);
        if (piece == MILTER_PIECE_TOOLONG) {
            pickup_milter_toolong(run, c.name);
            a = ASK_FAIL;
            break;
        }
        buf_reset(pkt);
        cmd = piece == MILTER_PIECE_HEADER ? MILTER_CMD_HEADER
              : piece == MILTER_PIECE_EOH  ? MILTER_CMD_EOH
              : piece == MILTER_PIECE_BODY ? MILTER_CMD_BODY
                                           : MILTER_CMD_BODYEOB;
        if (cmd == MILTER_CMD_BODY && skip)
            continue;
        if (cmd == MILTER_CMD_HEADER)
            milter_put_header(pkt, c.name, lead ? c.raw : c.value);
        else if (cmd == MILTER_CMD_BODY)
            milter_put_body(pkt, c.body.data, c.body.len);
        else
            milter_put_simple(pkt, cmd);
        a = pickup_milter_ask(run, cmd, pkt);
        skip = skip || a == ASK_SKIP;
    } while ((a == ASK_GO || a == ASK_SKIP) && cmd != MILTER_CMD_BODYEOB);
    milter_content_close(&c);
    return a == ASK_SKIP ? ASK_GO : a;
}

/* pickup_milter_default - a broken milter's default_action; true if the message goes on */
static bool
pickup_milter_default(struct pickup_mrun *run)
{
    const struct milter_spec *spec = run->mc.spec;

    log_warn("milter %s: %s; default_action=%s for maildrop/%s", spec->name, run->mc.why,
             milter_action_name(spec->set.default_action), run->name);
    switch (spec->set.default_action) {
    case MILTER_DEFAULT_REJECT:
        run->out->verdict = PICKUP_MILTER_BOUNCE;
        snprintf(run->out->reason, sizeof(run->out->reason), "%s %s", milter_reject_reply.status,
                 milter_reject_reply.text);
        return false;
    case MILTER_DEFAULT_TEMPFAIL:
        run->out->verdict = PICKUP_MILTER_LATER;
        return false;
    case MILTER_DEFAULT_QUARANTINE:
        run->out->hold = true;
        return true;
    default:
        return true;
    }
}

/* pickup_milter_reread - the envelope of the queue file now in run->file */
static bool
pickup_milter_reread(struct pickup_mrun *run)
{
    struct err err;

    queue_envelope_free(&run->env);
    if (queue_file_read(run->file->fd, &run->env, &err))
        return true;
    log_warn("maildrop/%s: queue file %s: %s", run->name, run->file->id, err.text);
    memset(&run->env, 0, sizeof(run->env));
    return false;
}

/* pickup_milter_apply - this milter's edits into a new queue file, which replaces the old */
static bool
pickup_milter_apply(struct pickup_mrun *run)
{
    struct qmgr_reply opened, gone;
    struct err err;

    if (qmgr_clnt_open(run->pk->qmgr, PICKUP_QMGR_MS, &opened) != QMGR_OK) {
        log_warn("maildrop/%s: qmgr gave no queue file for the milter's edits: %s", run->name,
                 opened.why);
        return false;
    }
    if (!milter_edits_apply(run->edits, run->file->fd, opened.fd, &err) ||
        fdatasync(opened.fd) < 0) {
        if (milter_edits_emptied(run->edits))
            run->out->verdict = PICKUP_MILTER_DISCARD; /* every recipient deleted */
        else
            log_warn("%s: milter edits: %s", run->file->id, err.text);
        qmgr_clnt_abort(run->pk->qmgr, opened.id, PICKUP_QMGR_MS, &gone);
        close(opened.fd);
        return run->out->verdict == PICKUP_MILTER_DISCARD;
    }
    log_info("%s: milter edits applied: the message is now %s", run->file->id, opened.id);
    qmgr_clnt_abort(run->pk->qmgr, run->file->id, PICKUP_QMGR_MS, &gone);
    close(run->file->fd);
    *run->file = opened;
    return pickup_milter_reread(run);
}

/* pickup_milter_one - the message through milter spec; false on a local failure */
static bool
pickup_milter_one(struct pickup_mrun *run, const struct milter_spec *spec)
{
    const struct params *p = run->p;
    struct milter_edit_limits lim = {.header_size = (size_t)p->header_size_limit,
                                     .message_size = (uint64_t)p->message_size_limit};
    enum pickup_ask a = ASK_FAIL;
    bool good = true;
    struct err err;
    struct buf pkt;

    buf_init(&pkt, BUF_UNLIMITED);
    run->edits = milter_edits_new();
    milter_edits_limits(run->edits, &lim);
    milter_edits_spool(run->edits, run->file->fd);
    if (pickup_mconn_open(&run->mc, spec)) {
        milter_edits_milter(run->edits, run->mc.protocol, run->mc.actions);
        if ((a = pickup_milter_envelope(run, &pkt)) == ASK_GO)
            a = pickup_milter_content(run, &pkt);
    }
    if (a == ASK_FAIL)
        pickup_milter_default(run);
    pickup_milter_hbc_verdict(&run->hbc, run->file->id, run->name, run->out);
    if (a != ASK_FAIL && a != ASK_STOP && run->out->verdict == PICKUP_MILTER_GO &&
        !milter_edits_empty(run->edits))
        good = pickup_milter_apply(run);
    pickup_mconn_close(&run->mc);
    if (!milter_edits_unspool(run->edits, &err))
        log_warn("%s: milter edits: %s", run->file->id, err.text);
    milter_edits_free(run->edits);
    run->edits = NULL;
    buf_free(&pkt);
    return good;
}

bool
pickup_milter_run(struct pickup *pk, struct qmgr_reply *file, const char *name,
                  struct pickup_milter_outcome *out)
{
    struct pickup_mrun run = {
        .pk = pk,
        .p = &pk->ctx->params,
        .file = file,
        .name = name,
        .out = out,
        .route = {.resolve = pk->route},
    };
    bool good = true;

    memset(out, 0, sizeof(*out));
    if (pk->nmilters == 0)
        return true;
    if (!pickup_milter_reread(&run))
        return false;
    for (size_t i = 0; good && i < pk->nmilters && out->verdict == PICKUP_MILTER_GO; i++)
        good = pickup_milter_one(&run, &pk->milters[i]);
    queue_envelope_free(&run.env);
    milter_route_forget(&run.route);
    return good;
}

bool
pickup_milter_bounce(struct pickup *pk, int fd, const char *reason, struct err *err)
{
    struct queue_envelope env;
    bool good;

    if (!queue_file_read(fd, &env, err))
        return false;
    good = true;
    for (size_t i = 0; good && i < env.nrcpt; i++) {
        struct queue_rcpt *r = &env.rcpt[i];
        struct queue_rcpt_status st = {.state = QUEUE_RCPT_FAILED};
        if (notice_on_failure(&env, r, &pk->ctx->params) != QUEUE_NOTICE_NONE)
            st.state = QUEUE_RCPT_FAILED_NOTICE;
        snprintf(st.reason, sizeof(st.reason), "%s", reason);
        good = queue_file_write_slot(fd, r->status_offset, &st, false, err);
    }
    queue_envelope_free(&env);
    return good && (fdatasync(fd) == 0 || err_set(err, "fdatasync: %m"));
}
