/*
 * mastercf.c - parse master.cf.
 *
 * Trusts: nothing in the text; errors come back as "FILE, line N: ...". The format is
 * Postfix's: one entry per logical line (a line that starts with white space continues
 * the one before; '#' lines and blank lines are skipped), eight or more columns: service,
 * type, private, unpriv, chroot, wakeup, maxproc, command and arguments. "{ ... }" makes
 * one argument of text with spaces, and "-o { name = value }" is an override whose value
 * may hold spaces. Port names are looked up in /etc/services only (no DNS, ever).
 */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mastercf.h"
#include "core/mem.h"
#include "core/textfile.h"

#define MASTERCF_FILE_MAX (4 * 1024 * 1024)

static const char *const mastercf_types[] = {
    [MASTERCF_INET] = "inet", [MASTERCF_UNIX] = "unix", [MASTERCF_UNIX_DGRAM] = "unix-dgram",
    [MASTERCF_FIFO] = "fifo", [MASTERCF_PASS] = "pass",
};

struct mcf_line {
    const char *file;
    int line;
    struct err *err;
};

static bool mcf_fail(const struct mcf_line *at, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* mcf_fail - record an error for the current entry; always false */
static bool
mcf_fail(const struct mcf_line *at, const char *fmt, ...)
{
    char text[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    return err_set(at->err, "%s, line %d: %s", at->file, at->line, text);
}

void
mastercf_init(struct mastercf *mcf)
{
    mcf->entries = NULL;
    mcf->n = 0;
}

static void
mastercf_entry_free(struct mastercf_entry *e)
{
    free(e->service);
    free(e->command);
    strvec_free(&e->args);
    strvec_free(&e->opt_names);
    strvec_free(&e->opt_values);
    free(e->host);
    free(e->port);
    free(e->file);
}

void
mastercf_free(struct mastercf *mcf)
{
    for (size_t i = 0; i < mcf->n; i++)
        mastercf_entry_free(&mcf->entries[i]);
    free(mcf->entries);
    mastercf_init(mcf);
}

const char *
mastercf_type_name(enum mastercf_type type)
{
    return mastercf_types[type];
}

/* mcf_words - split a logical line into words; "{ ... }" is one word without its braces */
static bool
mcf_words(const char *text, struct strvec *words, const struct mcf_line *at)
{
    const char *p = text;

    while (*p) {
        const char *start;
        int depth = 0;

        p += strspn(p, " \t\r");
        if (*p == 0)
            break;
        if (*p != '{') {
            size_t len = strcspn(p, " \t\r");
            strvec_add_owned(words, xstrndup(p, len));
            p += len;
            continue;
        }
        for (start = p; *p; p++) {
            if (*p == '{')
                depth++;
            else if (*p == '}' && --depth == 0)
                break;
        }
        if (*p != '}')
            return mcf_fail(at, "unbalanced '{' in \"%.60s\"", start);
        char *inner = xstrndup(start + 1, (size_t)(p - start - 1));
        strvec_add(words, str_trim(inner));
        free(inner);
        p++;
    }
    return true;
}

/* mcf_flag - y, n or - */
static bool
mcf_flag(const char *word, const char *column, int *out, const struct mcf_line *at)
{
    if (strcmp(word, "-") == 0)
        *out = MASTERCF_DEFAULT;
    else if (strcmp(word, "y") == 0)
        *out = 1;
    else if (strcmp(word, "n") == 0)
        *out = 0;
    else
        return mcf_fail(at, "bad %s column \"%.20s\" (use y, n or -)", column, word);
    return true;
}

static bool
mcf_number(const char *word, const char *column, int *out, const struct mcf_line *at)
{
    long value;

    if (strcmp(word, "-") == 0) {
        *out = MASTERCF_DEFAULT;
        return true;
    }
    if (!str_to_long(word, 0, 1000000, &value))
        return mcf_fail(at, "bad %s column \"%.20s\"", column, word);
    *out = (int)value;
    return true;
}

static bool
mcf_wakeup(struct mastercf_entry *e, const char *word, const struct mcf_line *at)
{
    char copy[32];
    size_t len = strlen(word);

    if (len && len < sizeof(copy) && word[len - 1] == '?') {
        memcpy(copy, word, len - 1);
        copy[len - 1] = 0;
        e->wakeup_if_running = true;
        if (strcmp(copy, "-") == 0)
            return mcf_fail(at, "bad wakeup column \"%.20s\"", word);
        return mcf_number(copy, "wakeup", &e->wakeup, at);
    }
    return mcf_number(word, "wakeup", &e->wakeup, at);
}

/* mcf_port - a port number, or a name from /etc/services */
static bool
mcf_port(struct mastercf_entry *e, const char *port, const struct mcf_line *at)
{
    struct servent *se;
    long value;

    if (str_to_long(port, 1, 65535, &value)) {
        e->port = xstrdup(port);
        return true;
    }
    if (*port && strspn(port, "0123456789") != strlen(port) &&
        (se = getservbyname(port, "tcp")) != NULL) {
        e->port = xasprintf("%d", ntohs((unsigned short)se->s_port));
        return true;
    }
    return mcf_fail(at, "bad port \"%.40s\"", port);
}

/* mcf_inet_address - "port", "host:port", "[v6]:port" or "*:port" */
static bool
mcf_inet_address(struct mastercf_entry *e, const struct mcf_line *at)
{
    const char *s = e->service, *colon;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return mcf_fail(at, "bad IPv6 listen address \"%.60s\"", s);
        e->host = xstrndup(s + 1, (size_t)(close - s - 1));
        return mcf_port(e, close + 2, at);
    }
    if ((colon = strrchr(s, ':')) == NULL)
        return mcf_port(e, s, at);
    if (colon == s || memchr(s, ':', (size_t)(colon - s)) != NULL)
        return mcf_fail(at, "bad listen address \"%.60s\" (write IPv6 as [addr]:port)", s);
    if (!(colon - s == 1 && s[0] == '*'))
        e->host = xstrndup(s, (size_t)(colon - s));
    return mcf_port(e, colon + 1, at);
}

/* mcf_override - one -o argument: "name=value" */
static bool
mcf_override(struct mastercf_entry *e, const char *arg, const struct mcf_line *at)
{
    const char *eq = strchr(arg, '=');
    char *name, *value;

    if (eq == NULL)
        return mcf_fail(at, "-o \"%.60s\": expected name=value", arg);
    name = xstrndup(arg, (size_t)(eq - arg));
    value = xstrdup(eq + 1);
    str_trim(name);
    if (*name == 0 || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789_") != strlen(name)) {
        free(name);
        free(value);
        return mcf_fail(at, "-o \"%.60s\": bad parameter name", arg);
    }
    strvec_add_owned(&e->opt_names, name);
    strvec_add(&e->opt_values, str_trim(value));
    free(value);
    return true;
}

static bool
mcf_args(struct mastercf_entry *e, char **words, size_t n, const struct mcf_line *at)
{
    for (size_t i = 0; i < n; i++) {
        strvec_add(&e->args, words[i]);
        if (strcmp(words[i], "-o") != 0)
            continue;
        if (i + 1 == n)
            return mcf_fail(at, "-o without a value");
        if (!mcf_override(e, words[++i], at))
            return false;
        strvec_add(&e->args, words[i]);
    }
    return true;
}

static bool
mcf_type(struct mastercf_entry *e, const char *word, const struct mcf_line *at)
{
    for (size_t i = 0; i < sizeof(mastercf_types) / sizeof(mastercf_types[0]); i++) {
        if (strcmp(word, mastercf_types[i]) == 0) {
            e->type = (enum mastercf_type)i;
            return true;
        }
    }
    return mcf_fail(at, "bad type \"%.20s\" (use inet, unix, unix-dgram, fifo or pass)", word);
}

/* mcf_entry - the columns of one logical line */
static bool
mcf_entry(struct mastercf_entry *e, struct strvec *w, const struct mcf_line *at)
{
    if (w->n < 8)
        return mcf_fail(at, "%s: expected at least 8 columns", w->v[0]);
    e->service = xstrdup(w->v[0]);
    if (!mcf_type(e, w->v[1], at) || !mcf_flag(w->v[2], "private", &e->private_sock, at) ||
        !mcf_flag(w->v[3], "unpriv", &e->unpriv, at) ||
        !mcf_flag(w->v[4], "chroot", &e->chroot, at) || !mcf_wakeup(e, w->v[5], at) ||
        !mcf_number(w->v[6], "maxproc", &e->maxproc, at))
        return false;
    e->command = xstrdup(w->v[7]);
    if (!mcf_args(e, w->v + 8, w->n - 8, at))
        return false;
    if (e->type == MASTERCF_INET) {
        if (e->private_sock == 1)
            return mcf_fail(at, "%s: an inet service cannot be private", e->service);
        return mcf_inet_address(e, at);
    }
    if (strchr(e->service, '/') || strcmp(e->service, ".") == 0 || strcmp(e->service, "..") == 0)
        return mcf_fail(at, "bad service name \"%.60s\"", e->service);
    return true;
}

static bool
mcf_duplicate(const struct mastercf *mcf, const struct mastercf_entry *e, const struct mcf_line *at)
{
    if (mastercf_find(mcf, e->service, mastercf_type_name(e->type)) == NULL)
        return false;
    return !mcf_fail(at, "duplicate service %.60s", e->service);
}

/* mcf_logical - parse and keep one entry */
static bool
mcf_logical(struct mastercf *mcf, const char *text, const struct mcf_line *at)
{
    struct mastercf_entry e = {0};
    struct strvec words;
    bool good;

    strvec_init(&words);
    good = mcf_words(text, &words, at) && mcf_entry(&e, &words, at) && !mcf_duplicate(mcf, &e, at);
    strvec_free(&words);
    if (!good) {
        mastercf_entry_free(&e);
        return false;
    }
    e.file = xstrdup(at->file);
    e.line = at->line;
    mcf->entries = xreallocarray(mcf->entries, mcf->n + 1, sizeof(e));
    mcf->entries[mcf->n++] = e;
    return true;
}

struct mcf_reader {
    struct mastercf *mcf;
    struct mcf_line at;
};

static bool
mcf_read_line(void *ctx, char *line, int lineno)
{
    struct mcf_reader *rd = ctx;

    rd->at.line = lineno;
    return mcf_logical(rd->mcf, line, &rd->at);
}

bool
mastercf_read_text(struct mastercf *mcf, const char *origin, const char *text, struct err *err)
{
    struct mcf_reader rd = {mcf, {.file = origin, .err = err}};
    int orphan;

    if (textfile_logical(text, mcf_read_line, &rd, &orphan))
        return true;
    if (orphan) {
        rd.at.line = orphan;
        mcf_fail(&rd.at, "continuation line without an entry before it");
    }
    return false;
}

bool
mastercf_read_file(struct mastercf *mcf, const char *path, struct err *err)
{
    struct buf text;
    bool good;

    if (!textfile_read(path, MASTERCF_FILE_MAX, &text, err))
        return false;
    good = mastercf_read_text(mcf, path, buf_str(&text), err);
    buf_free(&text);
    return good;
}

const struct mastercf_entry *
mastercf_find(const struct mastercf *mcf, const char *service, const char *type)
{
    for (size_t i = 0; i < mcf->n; i++)
        if (strcmp(mcf->entries[i].service, service) == 0 &&
            strcmp(mastercf_type_name(mcf->entries[i].type), type) == 0)
            return &mcf->entries[i];
    return NULL;
}
