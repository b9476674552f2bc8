/*
 * sendmail_opts.c - the sendmail command line, as real callers write it (cron, PHP, git
 * send-email, mailx, mutt): Sendmail's option letters, clustered or not, with values
 * attached or in the next argument; options end at "--" or at the first recipient.
 *
 * Runs as the invoking user and trusts nothing in argv beyond that user's own rights;
 * values are checked here (-N, -R, -V, -B) and addresses later, as mailboxes.
 * Options the issue lists as accepted and ignored: -Am -Ac -bh -h N -L label -m -n -O x=y
 * -o7 -o8 -om -oem (any -oe) -odi -odb (any -od) -o x value -U -X file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/mem.h"
#include "sendmail/sendmail.h"

struct sendmail_args {
    int argc;
    char **argv;
    int i;         /* the argument being read */
    const char *p; /* the rest of its cluster */
};

static bool sendmail_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static bool
sendmail_usage(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "sendmail: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: sendmail [options] [--] [recipient ...]; see sendmail(1)\n");
    return false;
}

/* sendmail_value - an option's value: the rest of the cluster, or the next argument */
static const char *
sendmail_value(struct sendmail_args *a, char letter)
{
    const char *v;
    char name[3] = {'-', letter, 0};

    if (*a->p) {
        v = a->p;
        a->p += strlen(a->p);
        return v;
    }
    if (a->i + 1 >= a->argc) {
        sendmail_usage("option %s needs a value", name);
        return NULL;
    }
    return a->argv[++a->i];
}

static bool
sendmail_set(char **slot, const char *value)
{
    free(*slot);
    *slot = xstrdup(value);
    return true;
}

/* sendmail_notify - -N never, or a list of success, delay, failure */
static bool
sendmail_notify(struct sendmail_opts *o, const char *v)
{
    static const char *const words[] = {"SUCCESS", "DELAY", "FAILURE"};
    bool want[3] = {false}, never = false;
    struct strvec list;
    struct buf b;
    size_t words_given;

    strvec_init(&list);
    strvec_split(&list, v, ", ");
    words_given = list.n;
    for (size_t i = 0; i < list.n; i++) {
        size_t w = 0;
        if (strcasecmp(list.v[i], "never") == 0) {
            never = true;
            continue;
        }
        while (w < 3 && strcasecmp(list.v[i], words[w]) != 0)
            w++;
        if (w == 3) {
            strvec_free(&list);
            return sendmail_usage("-N: bad DSN notification \"%.50s\"", v);
        }
        want[w] = true;
    }
    strvec_free(&list);
    if (words_given == 0 || (never && (want[0] || want[1] || want[2])))
        return sendmail_usage("-N: bad DSN notification \"%.50s\"", v);
    buf_init(&b, 64);
    buf_puts(&b, never ? "NEVER" : "");
    for (size_t w = 0; w < 3; w++)
        if (want[w])
            buf_printf(&b, "%s%s", b.len ? "," : "", words[w]);
    free(o->notify);
    o->notify = buf_steal(&b);
    return true;
}

/* sendmail_envid - -V: printable ASCII, kept as xtext (RFC 3461 4) */
static bool
sendmail_envid(struct sendmail_opts *o, const char *v)
{
    struct buf b;

    if (*v == 0 || strlen(v) > 100)
        return sendmail_usage("-V: an envelope ID is 1 to 100 characters: \"%.50s\"", v);
    buf_init(&b, 512);
    for (const char *p = v; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 33 || c > 126) {
            buf_free(&b);
            return sendmail_usage("-V: envelope ID \"%.50s\" is not printable ASCII", v);
        }
        if (c == '+' || c == '=')
            buf_printf(&b, "+%02X", c);
        else
            buf_putc(&b, (char)c);
    }
    free(o->envid);
    o->envid = buf_steal(&b);
    return true;
}

/* sendmail_o - -oX: -oi is -i; the rest are Sendmail settings we do without */
static bool
sendmail_o(struct sendmail_args *a, struct sendmail_opts *o)
{
    bool separate = *a->p == 0;
    const char *v = sendmail_value(a, 'o');

    if (v == NULL)
        return false;
    if (strcmp(v, "i") == 0)
        o->ignore_dots = true;
    else if (separate && strlen(v) == 1 && strchr("78m", v[0]) == NULL && a->i + 1 < a->argc)
        a->i++; /* -o x value */
    return true;
}

/* sendmail_b - -bX: the mode */
static bool
sendmail_b(struct sendmail_args *a, struct sendmail_opts *o)
{
    const char *v = sendmail_value(a, 'b');

    if (v == NULL)
        return false;
    if (strcmp(v, "m") == 0)
        o->mode = SENDMAIL_DELIVER;
    else if (strcmp(v, "p") == 0)
        o->mode = SENDMAIL_MAILQ;
    else if (strcmp(v, "s") == 0)
        o->mode = SENDMAIL_SMTP;
    else if (strcmp(v, "i") == 0)
        o->mode = SENDMAIL_NEWALIASES;
    else if (strcmp(v, "h") != 0)
        return sendmail_usage("-b%s is not supported (postern runs its daemons with postern start)",
                              v);
    return true;
}

/* sendmail_valued - an option that takes a value; false after a usage message */
static bool
sendmail_valued(struct sendmail_args *a, struct sendmail_opts *o, char c)
{
    const char *v = sendmail_value(a, c);

    if (v == NULL)
        return false;
    switch (c) {
    case 'f':
    case 'r':
        return sendmail_set(&o->sender, v);
    case 'F':
        return sendmail_set(&o->fullname, v);
    case 'C':
        return sendmail_set(&o->config, v);
    case 'N':
        return sendmail_notify(o, v);
    case 'V':
        return sendmail_envid(o, v);
    case 'R':
        if (strcasecmp(v, "full") != 0 && strcasecmp(v, "hdrs") != 0)
            return sendmail_usage("-R: RET is full or hdrs, not \"%.50s\"", v);
        return sendmail_set(&o->ret, strcasecmp(v, "full") == 0 ? "FULL" : "HDRS");
    case 'B':
        if (strcasecmp(v, "7BIT") != 0 && strcasecmp(v, "8BITMIME") != 0)
            return sendmail_usage("-B: the body type is 7BIT or 8BITMIME, not \"%.50s\"", v);
        return sendmail_set(&o->body, strcasecmp(v, "7BIT") == 0 ? "7BIT" : "8BITMIME");
    default: /* -A -h -L -O -X: accepted, ignored */
        return true;
    }
}

/* sendmail_letter - one option letter of a cluster */
static bool
sendmail_letter(struct sendmail_args *a, struct sendmail_opts *o, char c)
{
    char name[3] = {'-', c, 0};

    switch (c) {
    case 't':
        o->extract = true;
        return true;
    case 'i':
        o->ignore_dots = true;
        return true;
    case 'v':
        o->verbose++;
        return true;
    case 'I':
        o->mode = SENDMAIL_NEWALIASES;
        return true;
    case 'm':
    case 'n':
    case 'U':
        return true;
    case 'q':
        if (*a->p == 0 || *a->p == 'R' || *a->p == 'S')
            o->mode = SENDMAIL_FLUSH; /* -q, -qRsite, -qSsite: flush; -q15m: a no-op */
        if ((*a->p == 'R' || *a->p == 'S') && a->p[1])
            sendmail_set(&o->flush_site, a->p + 1);
        a->p += strlen(a->p);
        return true;
    case 'o':
        return sendmail_o(a, o);
    case 'b':
        return sendmail_b(a, o);
    case 'f':
    case 'r':
    case 'F':
    case 'C':
    case 'N':
    case 'V':
    case 'R':
    case 'B':
    case 'A':
    case 'h':
    case 'L':
    case 'O':
    case 'X':
        return sendmail_valued(a, o, c);
    default:
        return sendmail_usage("unknown option %s", name);
    }
}

bool
sendmail_opts_parse(int argc, char **argv, struct sendmail_opts *o)
{
    struct sendmail_args a = {.argc = argc, .argv = argv};

    memset(o, 0, sizeof(*o));
    strvec_init(&o->rcpt);
    for (a.i = 1; a.i < argc; a.i++) {
        const char *arg = argv[a.i];
        if (strcmp(arg, "--") == 0) {
            a.i++;
            break;
        }
        if (arg[0] != '-' || arg[1] == 0)
            break;
        for (a.p = arg + 1; *a.p;)
            if (!sendmail_letter(&a, o, *a.p++))
                return false;
    }
    for (; a.i < argc; a.i++)
        strvec_add(&o->rcpt, argv[a.i]);
    return true;
}

void
sendmail_opts_free(struct sendmail_opts *o)
{
    free(o->sender);
    free(o->fullname);
    free(o->notify);
    free(o->ret);
    free(o->body);
    free(o->envid);
    free(o->config);
    free(o->flush_site);
    strvec_free(&o->rcpt);
}
