/*
 * sendmail_msg.c - the message on stdin into postdrop (-bm, the default mode).
 *
 * Lines end in LF in the maildrop stream (a CR before the LF is dropped, and a last line
 * without one gets one); without -i a line of one dot ends the message. The header
 * section is held (up to SENDMAIL_HEADER_MAX) until the recipients are known: with -t
 * they come from To:, Cc: and Bcc: or, when the message has any Resent- header, from
 * Resent-To:, Resent-Cc: and Resent-Bcc: (as Postfix), and are added to those of the
 * command line; Bcc: and Resent-Bcc: are then removed. The header section ends at the
 * empty line or at the first line that is no header field.
 *
 * Runs as the invoking user. Trusts nothing in the message: addresses are parsed by
 * addr_list and checked by maildrop_addr, and postdrop checks the stream again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "core/buf.h"
#include "core/mem.h"
#include "mail/addr_list.h"
#include "sendmail/sendmail.h"

#define SENDMAIL_HEADER_MAX (1024 * 1024)

struct sendmail_in {
    FILE *fp;
    bool ignore_dots;
    char *line;
    size_t cap;
};

/* sendmail_line - the next line with its LF into *line; -1 at the end of the message */
static ssize_t
sendmail_line(struct sendmail_in *in, char **line)
{
    ssize_t n = getline(&in->line, &in->cap, in->fp);

    if (n <= 0)
        return -1;
    if (in->line[n - 1] == '\n')
        n--;
    if (n > 0 && in->line[n - 1] == '\r')
        n--;
    if (!in->ignore_dots && n == 1 && in->line[0] == '.')
        return -1;
    in->line[n++] = '\n'; /* getline left room: at least the LF or the NUL */
    *line = in->line;
    return n;
}

struct sendmail_head {
    const struct sendmail_opts *opts;
    struct buf text;  /* the header fields kept */
    struct buf field; /* the field being read, with its continuation lines */
    struct strvec to, resent_to;
    bool resent;
    bool bad;
};

static bool
sendmail_named(const char *field, const char *name)
{
    size_t n = strlen(name);

    return strncasecmp(field, name, n) == 0 && field[n] == ':';
}

/* sendmail_field - the field read is complete: recipients taken, kept or dropped */
static void
sendmail_field(struct sendmail_head *h)
{
    static const char *const plain[] = {"To", "Cc", "Bcc"};
    static const char *const resent[] = {"Resent-To", "Resent-Cc", "Resent-Bcc"};
    const char *f = buf_str(&h->field);
    const char *value = strchr(f, ':');
    bool drop = false;
    struct err err;

    if (h->field.len == 0)
        return;
    if (strncasecmp(f, "Resent-", 7) == 0)
        h->resent = true;
    for (size_t i = 0; h->opts->extract && i < 3; i++) {
        bool p = sendmail_named(f, plain[i]), r = sendmail_named(f, resent[i]);
        if (!p && !r)
            continue;
        if (!addr_list_parse(value + 1, strlen(value + 1), p ? &h->to : &h->resent_to, &err)) {
            fprintf(stderr, "sendmail: %.*s: header: %s\n", (int)(value - f), f, err.text);
            h->bad = true;
        }
        drop = i == 2;
    }
    if (!drop)
        buf_append(&h->text, h->field.data, h->field.len);
    buf_reset(&h->field);
}

/* sendmail_is_field - a header field's first line: a name of printable ASCII, a colon */
static bool
sendmail_is_field(const char *line, size_t len)
{
    size_t i = 0;

    while (i < len && line[i] > 32 && line[i] < 127 && line[i] != ':')
        i++;
    return i > 0 && i < len && line[i] == ':';
}

/*
 * sendmail_head - read the header section; the first line that is not part of it is left
 * in *body (the caller's to free), NULL when the message ended
 */
static void
sendmail_head(struct sendmail_in *in, struct sendmail_head *h, char **body, size_t *body_len)
{
    char *line;
    ssize_t n;

    *body = NULL;
    while ((n = sendmail_line(in, &line)) >= 0) {
        bool cont = (line[0] == ' ' || line[0] == '\t') && h->field.len > 0 && n > 1;
        if (!cont)
            sendmail_field(h);
        if ((!cont && !sendmail_is_field(line, (size_t)n)) ||
            h->text.len + h->field.len + (size_t)n > SENDMAIL_HEADER_MAX) {
            *body = xmemdup(line, (size_t)n);
            *body_len = (size_t)n;
            break;
        }
        buf_append(&h->field, line, (size_t)n);
    }
    sendmail_field(h);
}

/* sendmail_add - each address of an address list, checked, once, into rcpt */
static bool
sendmail_add(const char *list, struct strvec *rcpt)
{
    struct strvec found;
    struct err err;
    char *addr;
    bool good;

    strvec_init(&found);
    good = addr_list_parse(list, strlen(list), &found, &err);
    if (!good)
        fprintf(stderr, "sendmail: bad recipient \"%.100s\": %s\n", list, err.text);
    for (size_t i = 0; good && i < found.n; i++) {
        if (!(good = maildrop_addr(found.v[i], NULL, &addr, &err)))
            fprintf(stderr, "sendmail: %s\n", err.text);
        else if (strvec_contains(rcpt, addr))
            free(addr);
        else
            strvec_add_owned(rcpt, addr);
    }
    strvec_free(&found);
    return good;
}

/* sendmail_envelope - sender, full name, DSN and recipients; a sysexits.h status */
static int
sendmail_envelope(const struct sendmail_opts *o, const struct sendmail_head *h,
                  struct maildrop_envelope *env)
{
    const struct strvec *from = h->resent ? &h->resent_to : &h->to;
    struct strvec given;
    struct err err;
    char *sender;

    if (!sendmail_sender(o, env))
        return EX_NOUSER;
    strvec_init(&given);
    if (!addr_list_parse(env->sender, strlen(env->sender), &given, &err) ||
        !maildrop_addr(given.n > 0 ? given.v[0] : "", NULL, &sender, &err)) {
        fprintf(stderr, "sendmail: bad sender address \"%.100s\": %s\n", env->sender, err.text);
        strvec_free(&given);
        return EX_DATAERR;
    }
    strvec_free(&given);
    free(env->sender);
    env->sender = sender;
    for (size_t i = 0; i < o->rcpt.n; i++)
        if (!sendmail_add(o->rcpt.v[i], &env->rcpt))
            return EX_DATAERR;
    for (size_t i = 0; i < from->n; i++)
        if (!sendmail_add(from->v[i], &env->rcpt))
            return EX_DATAERR;
    if (env->rcpt.n == 0) {
        fprintf(stderr, "sendmail: no recipients: %s\n",
                o->extract ? "none in the To:, Cc: or Bcc: headers nor on the command line"
                           : "name them as arguments, or use -t");
        return EX_USAGE;
    }
    return EX_OK;
}

static void
sendmail_set(char **slot, const char *value)
{
    if (value == NULL)
        return;
    free(*slot);
    *slot = xstrdup(value);
}

int
sendmail_deliver(const struct sendmail_opts *o, const struct params *p, const char *config)
{
    struct sendmail_in in = {.fp = stdin, .ignore_dots = o->ignore_dots};
    struct sendmail_head h = {.opts = o};
    struct maildrop_envelope env;
    struct sendmail_drop drop;
    char *body, *line;
    size_t body_len = 0;
    ssize_t n;
    int status;

    buf_init(&h.text, SENDMAIL_HEADER_MAX + 4096);
    buf_init(&h.field, SENDMAIL_HEADER_MAX + 4096);
    strvec_init(&h.to);
    strvec_init(&h.resent_to);
    maildrop_envelope_init(&env);
    sendmail_head(&in, &h, &body, &body_len);
    sendmail_set(&env.notify, o->notify);
    sendmail_set(&env.ret, o->ret);
    sendmail_set(&env.body, o->body);
    sendmail_set(&env.envid, o->envid);
    status = h.bad ? EX_DATAERR : sendmail_envelope(o, &h, &env);
    if (status == EX_OK && !sendmail_drop_open(&drop, p, config, &env))
        status = EX_OSERR;
    if (status == EX_OK) {
        sendmail_drop_write(&drop, h.text.data, h.text.len);
        if (body != NULL) {
            sendmail_drop_write(&drop, body, body_len);
            while ((n = sendmail_line(&in, &line)) >= 0 && !drop.w.rec.failed)
                sendmail_drop_write(&drop, line, (size_t)n);
        }
        status = sendmail_drop_close(&drop);
    }
    if (status == EX_OK && o->verbose)
        fprintf(stderr, "sendmail: mail for %zu recipient%s handed to postdrop\n", env.rcpt.n,
                env.rcpt.n == 1 ? "" : "s");
    free(body);
    free(in.line);
    buf_free(&h.text);
    buf_free(&h.field);
    strvec_free(&h.to);
    strvec_free(&h.resent_to);
    maildrop_envelope_free(&env);
    return status;
}
