/*
 * bounce_template.c - bounce_template_file: a site's own text for notices, in Postfix's
 * template format (its bounce(5)), so that a Postfix site's file works here unchanged.
 *
 * The file holds up to four templates, each "name = <<WORD" up to a line that is WORD
 * alone: failure_template (also used for double bounces), delay_template,
 * success_template and verify_template (accepted; postern does not verify addresses).
 * Lines outside a template are blank or comments. A template starts with header lines
 * (Charset, From, Subject, Postmaster-Subject), then an empty line, then the text that
 * opens the human-readable part, before the list of recipients. The text may name main.cf
 * parameters ($name, ${name}); the times bounce_queue_lifetime, delay_warning_time and
 * maximal_queue_lifetime also as $name_seconds, _minutes, _hours, _days and _weeks. The
 * text is expanded once, at load: parameters do not change while a process runs.
 *
 * Trusts: the file as root's configuration, but checks it as text: a malformed template
 * is refused as a whole (the caller logs why and keeps the built-in text), 8-bit text must
 * come with a charset other than us-ascii, and header values hold no control characters.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounce/bounce.h"
#include "core/mem.h"
#include "core/textfile.h"

#define BOUNCE_TEMPLATE_FILE_MAX (256 * 1024)

static const char *const bounce_template_names[BOUNCE_TEMPLATE_COUNT] = {
    [BOUNCE_TEMPLATE_FAILURE] = "failure_template",
    [BOUNCE_TEMPLATE_DELAY] = "delay_template",
    [BOUNCE_TEMPLATE_SUCCESS] = "success_template",
    [BOUNCE_TEMPLATE_VERIFY] = "verify_template",
};

/* Where the loader is. */
struct bounce_loader {
    struct bounce_templates *bt;
    const struct conf *conf;
    const struct params *p;
    struct bounce_template *cur; /* inside a template: the one being read */
    char *end;                   /* its end word */
    bool in_header;
    struct buf body;
    struct err *err;
    int lineno;
};

static void
bounce_template_free(struct bounce_template *t)
{
    free(t->charset);
    free(t->from);
    free(t->subject);
    free(t->postmaster_subject);
    free(t->text);
    memset(t, 0, sizeof(*t));
}

void
bounce_templates_free(struct bounce_templates *bt)
{
    for (int i = 0; i < BOUNCE_TEMPLATE_COUNT; i++)
        bounce_template_free(&bt->t[i]);
}

/* bounce_time_name - "$maximal_queue_lifetime_days" and the like: the value, or -1 */
static long
bounce_time_name(const struct params *p, const char *name, size_t len)
{
    static const struct {
        const char *suffix;
        long unit;
    } units[] = {
        {"_seconds", 1}, {"_minutes", 60}, {"_hours", 3600}, {"_days", 86400}, {"_weeks", 604800}};
    const struct {
        const char *name;
        long value;
    } times[] = {{"bounce_queue_lifetime", p->bounce_queue_lifetime},
                 {"delay_warning_time", p->delay_warning_time},
                 {"maximal_queue_lifetime", p->maximal_queue_lifetime}};

    for (size_t t = 0; t < sizeof(times) / sizeof(times[0]); t++) {
        size_t n = strlen(times[t].name);
        if (len <= n || strncmp(name, times[t].name, n) != 0)
            continue;
        for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
            if (len - n == strlen(units[u].suffix) &&
                strncmp(name + n, units[u].suffix, len - n) == 0)
                return times[t].value / units[u].unit;
    }
    return -1;
}

/* bounce_times - the text with the time names replaced by their numbers */
static char *
bounce_times(const struct params *p, const char *text)
{
    struct buf out;

    buf_init(&out, BUF_UNLIMITED);
    for (const char *s = text; *s;) {
        bool braced = s[0] == '$' && s[1] == '{';
        const char *name = s + 1 + braced;
        size_t len = 0;
        long v;

        while (s[0] == '$' && (isalnum((unsigned char)name[len]) || name[len] == '_'))
            len++;
        if (len > 0 && (!braced || name[len] == '}') && (v = bounce_time_name(p, name, len)) >= 0) {
            char num[32];
            snprintf(num, sizeof(num), "%ld", v);
            buf_append(&out, num, strlen(num));
            s = name + len + braced;
        } else
            buf_append(&out, s++, 1);
    }
    buf_append(&out, "", 1);
    return out.data;
}

/* bounce_printable - no control characters */
static bool
bounce_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* bounce_field - where a template header's value goes, or NULL for an unknown name */
static char **
bounce_field(struct bounce_template *t, const char *name)
{
    if (strcasecmp(name, "Charset") == 0)
        return &t->charset;
    if (strcasecmp(name, "From") == 0)
        return &t->from;
    if (strcasecmp(name, "Subject") == 0)
        return &t->subject;
    if (strcasecmp(name, "Postmaster-Subject") == 0)
        return &t->postmaster_subject;
    return NULL;
}

/* bounce_header - one header line of a template */
static bool
bounce_header(struct bounce_loader *l, char *line)
{
    char *colon = strchr(line, ':'), *value;
    char **field;

    if (colon == NULL)
        return err_set(l->err, "line %d: not a header line: \"%.40s\"", l->lineno, line);
    *colon = 0;
    value = colon + 1 + strspn(colon + 1, " \t");
    if ((field = bounce_field(l->cur, line)) == NULL)
        return err_set(l->err, "line %d: unknown template header \"%s\"", l->lineno, line);
    if (!bounce_printable(value))
        return err_set(l->err, "line %d: control character in %s", l->lineno, line);
    free(*field);
    *field = xstrdup(value);
    return true;
}

/* bounce_finish - the template's end: defaults, checks, expansion */
static bool
bounce_finish(struct bounce_loader *l)
{
    struct bounce_template *t = l->cur;
    char *timed;
    bool eight = false;

    buf_append(&l->body, "", 1);
    for (const char *c = l->body.data; *c; c++)
        eight |= (unsigned char)*c >= 0x80;
    if (t->charset == NULL)
        t->charset = xstrdup("us-ascii");
    if (strspn(t->charset, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") !=
        strlen(t->charset))
        return err_set(l->err, "line %d: Charset \"%s\" is no charset name", l->lineno, t->charset);
    if (eight && strcasecmp(t->charset, "us-ascii") == 0)
        return err_set(l->err, "line %d: 8-bit text with Charset: us-ascii", l->lineno);
    timed = bounce_times(l->p, l->body.data);
    t->text = conf_expand(l->conf, timed, l->err);
    free(timed);
    buf_reset(&l->body);
    l->cur = NULL;
    free(l->end);
    l->end = NULL;
    return t->text != NULL;
}

/* bounce_start - "name = <<WORD" */
static bool
bounce_start(struct bounce_loader *l, const char *line)
{
    char name[64], word[64], rest[2];

    if (sscanf(line, " %63[a-z_] = <<%63[^ \t] %1s", name, word, rest) != 2)
        return err_set(l->err, "line %d: expected \"name = <<EOF\"", l->lineno);
    for (int i = 0; i < BOUNCE_TEMPLATE_COUNT; i++)
        if (strcmp(name, bounce_template_names[i]) == 0) {
            bounce_template_free(&l->bt->t[i]);
            l->cur = &l->bt->t[i];
            l->cur->present = true;
            l->end = xstrdup(word);
            l->in_header = true;
            return true;
        }
    return err_set(l->err, "line %d: unknown template \"%s\"", l->lineno, name);
}

/* bounce_line - one physical line of the file */
static bool
bounce_line(struct bounce_loader *l, char *line)
{
    if (l->cur == NULL) {
        const char *s = line + strspn(line, " \t");
        return *s == 0 || *s == '#' || bounce_start(l, line);
    }
    if (strcmp(line, l->end) == 0)
        return bounce_finish(l);
    if (l->in_header) {
        if (*line == 0) {
            l->in_header = false;
            return true;
        }
        return bounce_header(l, line);
    }
    buf_append(&l->body, line, strlen(line));
    buf_append(&l->body, "\n", 1);
    return true;
}

/* bounce_templates_load - read bounce_template_file; false with why (bt then empty) */
bool
bounce_templates_load(struct bounce_templates *bt, const char *path, const struct conf *conf,
                      const struct params *p, struct err *err)
{
    struct bounce_loader l = {.bt = bt, .conf = conf, .p = p, .err = err};
    struct buf text;
    bool good;
    char *line, *next;

    memset(bt, 0, sizeof(*bt));
    if (!textfile_read(path, BOUNCE_TEMPLATE_FILE_MAX, &text, err))
        return false;
    buf_append(&text, "", 1);
    buf_init(&l.body, BUF_UNLIMITED);
    good = true;
    for (line = text.data; good && line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        l.lineno++;
        good = bounce_line(&l, line);
    }
    if (good && l.cur != NULL)
        good = err_set(err, "end of file inside a template (no \"%s\" line)", l.end);
    free(l.end);
    buf_free(&l.body);
    buf_free(&text);
    if (!good)
        bounce_templates_free(bt);
    return good;
}

/* bounce_template_for - the site's template for a kind of notice, or NULL */
const struct bounce_template *
bounce_template_for(const struct bounce_templates *bt, enum queue_notice_kind kind)
{
    enum bounce_template_id id = bounce_kind_template(kind);

    return bt->t[id].present ? &bt->t[id] : NULL;
}
