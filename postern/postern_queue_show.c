/*
 * postern_queue_show.c - one queue file as postcat prints it: the envelope (-e), the
 * message headers (-h) and body (-b); all three by default.
 *
 * Trusts: nothing in the file. It comes from qmgr as a read-only descriptor, but its
 * content came from a client: queue_file_read() checks the whole structure before
 * anything is printed, and envelope values are printed with control characters as '?'.
 * The content is printed as it is stored, as Postfix's postcat does.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "mail/notice.h"
#include "mail/queue_file.h"
#include "postern/postern_queue.h"

/* Where the content printer is: in the headers, or from the first non-header line on. */
struct queue_show {
    FILE *out;
    unsigned what;
    bool in_body;
    bool at_line_start;
    bool cr; /* a CR held back: stored lines end in CRLF, printed lines in LF */
};

/* queue_show_value - "label: value", value for a terminal */
static void
queue_show_value(FILE *out, const char *label, const char *value)
{
    fprintf(out, "%s: ", label);
    for (const char *p = value; *p; p++)
        fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, out);
    fputc('\n', out);
}

/* queue_show_state - a recipient's recorded state, in postcat's words */
static const char *
queue_show_state(enum queue_rcpt_state state)
{
    switch (state) {
    case QUEUE_RCPT_DELIVERED:
        return "delivered";
    case QUEUE_RCPT_DELIVERED_NOTICE:
        return "delivered, success notice";
    case QUEUE_RCPT_RELAYED_NOTICE:
        return "relayed, success notice";
    case QUEUE_RCPT_FAILED:
        return "failed";
    case QUEUE_RCPT_FAILED_NOTICE:
        return "failed, failure notice";
    case QUEUE_RCPT_DEFERRED:
        return "deferred";
    default:
        return "pending";
    }
}

static void
queue_show_envelope(FILE *out, const struct queue_envelope *env)
{
    char when[64];
    time_t t = env->arrival.tv_sec;
    struct tm tm;

    if (localtime_r(&t, &tm) == NULL || strftime(when, sizeof(when), "%a %b %e %T %Y", &tm) == 0)
        snprintf(when, sizeof(when), "??");
    fprintf(out, "message_size: %llu %zu\n", (unsigned long long)env->size, env->nrcpt);
    fprintf(out, "message_arrival_time: %s\n", when);
    const char *const fields[][2] = {
        {"client_name", env->client_name}, {"client_address", env->client_addr},
        {"helo_name", env->helo},          {"protocol_name", env->protocol},
        {"dsn_envid", env->envid},         {"dsn_ret", env->ret},
        {"body_type", env->body},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (*fields[i][1])
            queue_show_value(out, fields[i][0], fields[i][1]);
    queue_show_value(out, "sender", env->sender);
    for (size_t i = 0; i < env->nrcpt; i++) {
        const struct queue_rcpt *r = &env->rcpt[i];

        if (*r->orcpt)
            queue_show_value(out, "original_recipient", r->orcpt);
        if (*r->notify)
            queue_show_value(out, "dsn_notify", r->notify);
        queue_show_value(out,
                         r->status.state == QUEUE_RCPT_PENDING ||
                                 r->status.state == QUEUE_RCPT_DEFERRED
                             ? "recipient"
                             : "done_recipient",
                         r->addr);
        fprintf(out, "recipient_status: %s", queue_show_state(r->status.state));
        if (notice_owed(r->status.state))
            fprintf(out, " %s", *r->status.notice ? r->status.notice : "(owed)");
        if (*r->status.reason)
            queue_show_value(out, "", r->status.reason);
        else
            fputc('\n', out);
    }
}

/*
 * queue_show_chunk - print the content selected: header lines up to the first empty line
 * (-h), everything from that line on (-b)
 */
static bool
queue_show_chunk(const char *data, size_t len, void *ctx)
{
    struct queue_show *s = ctx;

    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        bool show;

        if (!s->in_body && s->at_line_start && (c == '\n' || c == '\r'))
            s->in_body = true;
        show = (s->what & (s->in_body ? QUEUE_SHOW_BODY : QUEUE_SHOW_HEADER)) != 0;
        if (s->cr && c != '\n' && show)
            fputc('\r', s->out);
        s->cr = c == '\r';
        if (show && !s->cr)
            fputc(c, s->out);
        s->at_line_start = c == '\n';
    }
    return true;
}

/* queue_show_file - print what of the queue file fd, named name ("deferred/ID") */
int
queue_show_file(FILE *out, int fd, const char *name, unsigned what)
{
    struct queue_show s = {.out = out, .what = what, .at_line_start = true};
    struct queue_envelope env;
    struct err err;
    bool good;

    if (!queue_file_read(fd, &env, &err)) {
        log_warn("%s: %s", name, err.text);
        return 1;
    }
    if (what & QUEUE_SHOW_ENVELOPE) {
        fprintf(out, "*** ENVELOPE RECORDS %s ***\n", name);
        queue_show_envelope(out, &env);
    }
    if (what & (QUEUE_SHOW_HEADER | QUEUE_SHOW_BODY))
        fprintf(out, "*** MESSAGE CONTENTS %s ***\n", name);
    good = queue_file_content(fd, &env, queue_show_chunk, &s, &err);
    if (good)
        fprintf(out, "*** MESSAGE FILE END %s ***\n", name);
    else
        log_warn("%s: %s", name, err.text);
    queue_envelope_free(&env);
    return good ? 0 : 1;
}
