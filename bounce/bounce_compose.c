/*
 * bounce_compose.c - a notice's content: an RFC 3464 multipart/report with a part for
 * people (what happened, one line per recipient), a message/delivery-status part (one
 * field group for the message, one per recipient) and the returned message: whole
 * (message/rfc822) for a failure notice when RET is not HDRS and the message is at most
 * bounce_size_limit bytes, else its header (text/rfc822-headers). Lines end in CRLF, as
 * queue files hold content.
 *
 * Trusts: the envelope as queue_read.c checked it. Text from the envelope (addresses,
 * reasons, ENVID) goes into header fields only after CR, LF and other control characters
 * are replaced, so nothing in them can start a field or a part of its own.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "bounce/bounce.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"

#define BOUNCE_LINE_MAX 2048

/* bounce_put - formatted text into the notice */
static void bounce_put(struct queue_writer *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
bounce_put(struct queue_writer *w, const char *fmt, ...)
{
    char line[BOUNCE_LINE_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(line))
        n = (int)sizeof(line) - 1;
    queue_writer_content(w, line, (size_t)n);
}

/* bounce_clean - text safe inside one header line: controls become spaces */
static char *
bounce_clean(const char *s)
{
    char *out = xstrdup(s);

    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    return out;
}

static int
bounce_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* bounce_xtext - RFC 3461 xtext decoded ("+2B" is "+"); a "+" not followed by two
 * upper-case hex digits stays as it is */
static char *
bounce_xtext(const char *s)
{
    char *out = xmalloc(strlen(s) + 1), *o = out;

    while (*s) {
        int hi = s[0] == '+' && s[1] ? bounce_hex(s[1]) : -1;
        int lo = hi >= 0 && s[2] ? bounce_hex(s[2]) : -1;

        if (lo >= 0 && (hi << 4 | lo) >= 0x21 && (hi << 4 | lo) <= 0x7e) {
            *o++ = (char)(hi << 4 | lo);
            s += 3;
        } else
            *o++ = *s++;
    }
    *o = 0;
    return out;
}

/* bounce_date - an RFC 5322 date */
static void
bounce_date(char *out, size_t size, time_t t)
{
    struct tm tm;

    localtime_r(&t, &tm);
    strftime(out, size, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* What differs between the kinds of notice: the one table of them in bounce/. */
struct bounce_style {
    enum queue_notice_kind kind;
    const char *log;              /* "QID: <log>: NEWQID" */
    enum bounce_template_id tmpl; /* the site's template for it */
    const char *subject;
    const char *postmaster_subject; /* of the postmaster's copy */
    const char *action;             /* RFC 3464 Action */
    const char *code;               /* the Status when a reason has none */
    const char *intro;              /* for people, before the recipients */
    bool returns_message;           /* the whole message, RET and bounce_size_limit allowing */
};

static const struct bounce_style bounce_styles[] = {
    {QUEUE_NOTICE_FAILURE, "sender non-delivery notification", BOUNCE_TEMPLATE_FAILURE,
     "Undelivered Mail Returned to Sender", "Postmaster Copy: Undelivered Mail", "failed", "5.0.0",
     "Your message could not be delivered to the recipients below, and\r\n"
     "it will not be tried again. The reason for each is given with it;\r\n"
     "your message is attached.\r\n\r\n"
     "If you need help, write to the postmaster of this host and include\r\n"
     "this report. Remove the attached message first if it is private.\r\n",
     true},
    {QUEUE_NOTICE_DOUBLE, "postmaster non-delivery notification", BOUNCE_TEMPLATE_FAILURE,
     "Postmaster Copy: Undelivered Mail", "Postmaster Copy: Undelivered Mail", "failed", "5.0.0",
     "A notice about undelivered mail could not be delivered to its\r\n"
     "recipient, the sender of that mail. The notice is attached.\r\n",
     true},
    {QUEUE_NOTICE_SUCCESS, "sender delivery status notification", BOUNCE_TEMPLATE_SUCCESS,
     "Successful Mail Delivery Report", "Successful Mail Delivery Report", "delivered", "2.0.0",
     "Your message was delivered to the recipients below, as you asked\r\n"
     "to be told. A recipient marked \"relayed\" was handed to a mail\r\n"
     "system that does not report delivery: it may still report a\r\n"
     "failure. Only the header of your message is attached.\r\n",
     false},
    {QUEUE_NOTICE_DELAY, "sender delay notification", BOUNCE_TEMPLATE_DELAY,
     "Delayed Mail (still being retried)", "Postmaster Warning: Delayed Mail", "delayed", "4.0.0",
     "Your message has not been delivered yet to the recipients below.\r\n"
     "This is only a warning: nothing needs to be done, and the mail\r\n"
     "system will go on trying. You will be told if it gives up.\r\n"
     "The header of your message is attached.\r\n",
     false},
};

static const struct bounce_style *
bounce_style_of(enum queue_notice_kind kind)
{
    for (size_t i = 0; i < sizeof(bounce_styles) / sizeof(bounce_styles[0]); i++)
        if (bounce_styles[i].kind == kind)
            return &bounce_styles[i];
    return &bounce_styles[0];
}

static const struct bounce_style *
bounce_style(const struct bounce_notice *n)
{
    return bounce_style_of(n->kind);
}

/* bounce_kind_log - how the log line names a notice of this kind */
const char *
bounce_kind_log(enum queue_notice_kind kind)
{
    return bounce_style_of(kind)->log;
}

/* bounce_kind_template - which of the site's templates a notice of this kind uses */
enum bounce_template_id
bounce_kind_template(enum queue_notice_kind kind)
{
    return bounce_style_of(kind)->tmpl;
}

/* bounce_status - a slot's reason "5.1.1 text" split into its code and its text */
static void
bounce_status(const struct queue_rcpt *r, const char *dflt, char *code, size_t size,
              const char **text)
{
    const char *reason = r->status.reason;
    size_t n = strcspn(reason, " ");

    if (n > 0 && n < size && (reason[0] == '2' || reason[0] == '4' || reason[0] == '5')) {
        memcpy(code, reason, n);
        code[n] = 0;
        *text = reason + n + (reason[n] == ' ');
    } else {
        snprintf(code, size, "%s", dflt);
        *text = reason;
    }
}

/* bounce_relayed - a success notice's recipient handed to a next hop without DSN */
static bool
bounce_relayed(const struct bounce_notice *n, const struct queue_rcpt *r)
{
    return n->kind == QUEUE_NOTICE_SUCCESS && r->status.state == QUEUE_RCPT_RELAYED_NOTICE;
}

/* bounce_returns_all - whether the whole message goes back, or only its header */
static bool
bounce_returns_all(const struct bounce_notice *n)
{
    return bounce_style(n)->returns_message && !n->copy && strcasecmp(n->env->ret, "HDRS") != 0 &&
           n->env->size <= (uint64_t)n->p->bounce_size_limit;
}

/* bounce_from - the From field: the template's, its address qualified with myhostname as
 * Postfix's cleanup would ("MAILER-DAEMON (Mail Delivery System)" becomes
 * "MAILER-DAEMON@host (Mail Delivery System)"), or the built-in one */
static char *
bounce_from(const struct bounce_notice *n)
{
    const char *from = n->tmpl && n->tmpl->from ? n->tmpl->from : NULL;
    const char *gt = from ? strchr(from, '>') : NULL;
    size_t word;

    if (from == NULL)
        return xasprintf("MAILER-DAEMON@%s (Mail Delivery System)", n->p->myhostname);
    if (strchr(from, '@') != NULL)
        return xstrdup(from);
    if (strchr(from, '<') != NULL && gt != NULL)
        return xasprintf("%.*s@%s%s", (int)(gt - from), from, n->p->myhostname, gt);
    word = strcspn(from, " \t(");
    return xasprintf("%.*s@%s%s", (int)word, from, n->p->myhostname, from + word);
}

/* bounce_subject - the template's subject (its Postmaster-Subject for a double bounce), or
 * the built-in one */
static const char *
bounce_subject(const struct bounce_notice *n)
{
    const struct bounce_template *t = n->tmpl;

    bool postmaster = n->copy || n->kind == QUEUE_NOTICE_DOUBLE;

    if (t && postmaster && t->postmaster_subject)
        return t->postmaster_subject;
    if (t && !postmaster && t->subject)
        return t->subject;
    return postmaster ? bounce_style(n)->postmaster_subject : bounce_style(n)->subject;
}

static void
bounce_headers(struct queue_writer *w, const struct bounce_notice *n, const char *boundary)
{
    char date[64], *to = bounce_clean(n->to), *from = bounce_from(n);

    bounce_date(date, sizeof(date), time(NULL));
    bounce_put(w, "Date: %s\r\n", date);
    bounce_put(w, "From: %s\r\n", from);
    bounce_put(w, "To: %s\r\n", to);
    bounce_put(w, "Subject: %s\r\n", bounce_subject(n));
    bounce_put(w, "Message-Id: <%s@%s>\r\n", n->id, n->p->myhostname);
    bounce_put(w, "Auto-Submitted: auto-replied\r\n");
    bounce_put(w, "MIME-Version: 1.0\r\n");
    bounce_put(w,
               "Content-Type: multipart/report; report-type=delivery-status;\r\n"
               "\tboundary=\"%s\"\r\n",
               boundary);
    bounce_put(w, "Content-Transfer-Encoding: 8bit\r\n\r\n");
    bounce_put(w, "This is a MIME-encapsulated message.\r\n\r\n");
    free(to);
    free(from);
}

/* bounce_text - a template's text, its LF line ends made CRLF, and an empty line */
static void
bounce_text(struct queue_writer *w, const char *text)
{
    for (const char *s = text; *s;) {
        size_t n = strcspn(s, "\n");
        queue_writer_content(w, s, n);
        queue_writer_content(w, "\r\n", 2);
        s += n + (s[n] == '\n');
    }
    queue_writer_content(w, "\r\n", 2);
}

/* bounce_human - the part for people: the template's text or the built-in one, then a
 * line per recipient */
static void
bounce_human(struct queue_writer *w, const struct bounce_notice *n, const char *boundary)
{
    bounce_put(w,
               "--%s\r\nContent-Description: Notification\r\n"
               "Content-Type: text/plain; charset=%s\r\n\r\n",
               boundary, n->tmpl ? n->tmpl->charset : "us-ascii");
    if (n->tmpl)
        bounce_text(w, n->tmpl->text);
    else {
        bounce_put(w, "This is the mail system at host %s.\r\n\r\n", n->p->myhostname);
        bounce_put(w, "%s\r\n", bounce_style(n)->intro);
        bounce_put(w, "                   The mail system\r\n\r\n");
    }
    for (size_t i = 0; i < n->nrcpt; i++) {
        const struct queue_rcpt *r = &n->env->rcpt[n->rcpt[i]];
        char code[16], *addr = bounce_clean(r->addr), *text;
        const char *why;

        bounce_status(r, bounce_style(n)->code, code, sizeof(code), &why);
        text = bounce_clean(why);
        bounce_put(w, "<%s>: %s%s\r\n\r\n", addr, bounce_relayed(n, r) ? "relayed: " : "", text);
        free(addr);
        free(text);
    }
}

/* bounce_report_message - the per-message fields of the delivery-status part */
static void
bounce_report_message(struct queue_writer *w, const struct bounce_notice *n)
{
    char date[64], *sender = bounce_clean(n->env->sender);

    bounce_put(w, "Reporting-MTA: dns; %s\r\n", n->p->myhostname);
    bounce_put(w, "X-Postern-Queue-ID: %s\r\n", n->req->queue_id);
    bounce_put(w, "X-Postern-Sender: rfc822; %s\r\n", sender);
    if (*n->env->envid) {
        char *raw = bounce_xtext(n->env->envid), *envid = bounce_clean(raw);
        bounce_put(w, "Original-Envelope-Id: %s\r\n", envid);
        free(raw);
        free(envid);
    }
    bounce_date(date, sizeof(date), n->env->arrival.tv_sec);
    bounce_put(w, "Arrival-Date: %s\r\n", date);
    free(sender);
}

/*
 * bounce_diagnostic - Remote-MTA and Diagnostic-Code. A reason in smtp-out's words, "host
 * NAME[ADDR] said: 550 5.1.1 text (in reply to RCPT TO command)", names the server and its
 * reply: "Remote-MTA: dns; NAME" and "Diagnostic-Code: smtp; 550 5.1.1 text", as RFC 3464
 * has them for SMTP; any other reason is postern's own ("X-Postern; reason").
 */
static void
bounce_diagnostic(struct queue_writer *w, const char *text)
{
    const char *said = strncmp(text, "host ", 5) == 0 ? strstr(text, " said: ") : NULL;
    const char *bracket = said ? memchr(text + 5, '[', (size_t)(said - text - 5)) : NULL;
    const char *reply, *tail;

    if (said == NULL || bracket == NULL || bracket == text + 5) {
        bounce_put(w, "Diagnostic-Code: X-Postern; %s\r\n", text);
        return;
    }
    reply = said + strlen(" said: ");
    tail = strstr(reply, " (in reply to ");
    bounce_put(w, "Remote-MTA: dns; %.*s\r\n", (int)(bracket - text - 5), text + 5);
    bounce_put(w, "Diagnostic-Code: smtp; %.*s\r\n",
               (int)(tail ? (size_t)(tail - reply) : strlen(reply)), reply);
}

/* bounce_report_rcpt - one recipient's fields */
static void
bounce_report_rcpt(struct queue_writer *w, const struct bounce_notice *n,
                   const struct queue_rcpt *r)
{
    char code[16], *addr = bounce_clean(r->addr), *text;
    const char *why;

    bounce_status(r, bounce_style(n)->code, code, sizeof(code), &why);
    text = bounce_clean(why);
    bounce_put(w, "\r\nFinal-Recipient: rfc822; %s\r\n", addr);
    if (*r->orcpt) {
        char *raw = bounce_xtext(r->orcpt), *orcpt = bounce_clean(raw);
        const char *semi = strchr(orcpt, ';');
        if (semi)
            bounce_put(w, "Original-Recipient: %.*s; %s\r\n", (int)(semi - orcpt), orcpt,
                       semi + 1 + strspn(semi + 1, " "));
        free(raw);
        free(orcpt);
    }
    bounce_put(w, "Action: %s\r\n", bounce_relayed(n, r) ? "relayed" : bounce_style(n)->action);
    bounce_put(w, "Status: %s\r\n", code);
    if (n->kind == QUEUE_NOTICE_DELAY) {
        char until[64];
        bounce_date(until, sizeof(until), n->env->arrival.tv_sec + n->p->maximal_queue_lifetime);
        bounce_put(w, "Will-Retry-Until: %s\r\n", until);
    }
    bounce_diagnostic(w, text);
    free(addr);
    free(text);
}

static void
bounce_report(struct queue_writer *w, const struct bounce_notice *n, const char *boundary)
{
    bounce_put(w,
               "--%s\r\nContent-Description: Delivery report\r\n"
               "Content-Type: message/delivery-status\r\n\r\n",
               boundary);
    bounce_report_message(w, n);
    for (size_t i = 0; i < n->nrcpt; i++)
        bounce_report_rcpt(w, n, &n->env->rcpt[n->rcpt[i]]);
    bounce_put(w, "\r\n");
}

/* The returned message as it is copied: all of it, or up to the end of its header. */
struct bounce_copy {
    struct queue_writer *w;
    bool header_only;
    bool ended;   /* the header's end was met */
    char last[2]; /* the two bytes before this chunk, for a CRLF CRLF split across chunks */
};

static bool
bounce_copy_chunk(const char *data, size_t len, void *ctx)
{
    struct bounce_copy *c = ctx;

    if (!c->header_only) {
        queue_writer_content(c->w, data, len);
        if (len > 0)
            c->last[1] = data[len - 1];
        return true;
    }
    for (size_t i = 0; i < len; i++) {
        bool crlf = data[i] == '\n' && c->last[1] == '\r';
        bool empty_line = crlf && c->last[0] == '\n';

        c->last[0] = c->last[1];
        c->last[1] = data[i];
        if (empty_line) {
            c->ended = true;
            queue_writer_content(c->w, data, i + 1);
            return false; /* the rest of the message is not needed */
        }
    }
    queue_writer_content(c->w, data, len);
    return true;
}

/* bounce_returned - the returned message or its header */
static void
bounce_returned(struct queue_writer *w, const struct bounce_notice *n, const char *boundary)
{
    struct bounce_copy c = {.w = w, .header_only = !bounce_returns_all(n), .last = {'\n', 0}};
    struct err err;

    bounce_put(w,
               "--%s\r\nContent-Description: %s\r\nContent-Type: %s\r\n"
               "Content-Transfer-Encoding: 8bit\r\n\r\n",
               boundary, c.header_only ? "Message Headers" : "Undelivered Message",
               c.header_only ? "text/rfc822-headers" : "message/rfc822");
    if (!queue_file_content(n->req->fd, n->env, bounce_copy_chunk, &c, &err) && !c.ended)
        bounce_put(w, "\r\n[the message could not be read: %s]\r\n", err.text);
    if (c.last[1] != '\n')
        bounce_put(w, "\r\n");
    bounce_put(w, "\r\n--%s--\r\n", boundary);
}

/* bounce_boundary - the notice's ID and 16 random hex digits: within RFC 2046's 70
 * characters, and not to be guessed by a sender who would put the line in the returned
 * message to end its part early */
static void
bounce_boundary(char *out, size_t size, const char *id)
{
    unsigned char r[8] = {0};

    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        log_warn("getrandom: %m; the MIME boundary is less random");
    snprintf(out, size, "%s/%02x%02x%02x%02x%02x%02x%02x%02x", id, r[0], r[1], r[2], r[3], r[4],
             r[5], r[6], r[7]);
}

/* bounce_compose - the whole notice */
void
bounce_compose(struct queue_writer *w, const struct bounce_notice *n)
{
    char boundary[QUEUE_ID_SIZE + 40];

    bounce_boundary(boundary, sizeof(boundary), n->id);
    bounce_headers(w, n, boundary);
    bounce_human(w, n, boundary);
    bounce_report(w, n, boundary);
    bounce_returned(w, n, boundary);
}
