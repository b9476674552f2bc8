/*
 * conf.c - main.cf: reading the file, overrides, defaults and lookups.
 *
 * Trusts: nothing in the file's text (it may be a copy from anywhere); every problem comes
 * back as "FILE, line N: ..." and nothing here exits. The syntax is Postfix's:
 *   - "name = value"; white space around '=' and at the ends is dropped;
 *   - a line that starts with white space continues the previous logical line (joined
 *     with one space); comment lines ('#' first) and blank lines are skipped and do not
 *     end a logical line;
 *   - a later entry for the same name wins, the first one keeps its place in the order.
 * Lookups fall back: -o override, main.cf, computed default, declared default.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/conf.h"
#include "core/conf_impl.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/textfile.h"

#define CONF_FILE_MAX (16 * 1024 * 1024)

struct conf *
conf_new(const struct param_decl *decls, size_t ndecls)
{
    struct conf *conf = xcalloc(1, sizeof(*conf));

    conf->decls = decls;
    conf->ndecls = ndecls;
    strvec_init(&conf->files);
    return conf;
}

static void
conf_kv_free(struct conf_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].name);
        free(kv[i].value);
    }
    free(kv);
}

void
conf_free(struct conf *conf)
{
    if (conf == NULL)
        return;
    for (size_t i = 0; i < conf->nentries; i++) {
        free(conf->entries[i].name);
        free(conf->entries[i].value);
    }
    free(conf->entries);
    conf_kv_free(conf->overrides, conf->noverrides);
    conf_kv_free(conf->defaults, conf->ndefaults);
    strvec_free(&conf->files);
    free(conf);
}

const struct param_decl *
conf_decl(const struct conf *conf, const char *name)
{
    for (size_t i = 0; i < conf->ndecls; i++)
        if (strcmp(conf->decls[i].name, name) == 0)
            return &conf->decls[i];
    return NULL;
}

static struct conf_kv *
conf_kv_find(struct conf_kv *kv, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].name, name) == 0)
            return &kv[i];
    return NULL;
}

/* conf_kv_set - set name in a small table, replacing an earlier value */
static void
conf_kv_set(struct conf_kv **kv, size_t *n, const char *name, const char *value)
{
    struct conf_kv *found = conf_kv_find(*kv, *n, name);

    if (found) {
        free(found->value);
        found->value = xstrdup(value);
        return;
    }
    *kv = xreallocarray(*kv, *n + 1, sizeof(**kv));
    (*kv)[*n] = (struct conf_kv){.name = xstrdup(name), .value = xstrdup(value)};
    (*n)++;
}

static struct conf_entry *
conf_entry_find(const struct conf *conf, const char *name)
{
    for (size_t i = 0; i < conf->nentries; i++)
        if (strcmp(conf->entries[i].name, name) == 0)
            return &conf->entries[i];
    return NULL;
}

void
conf_set_default(struct conf *conf, const char *name, const char *value)
{
    conf_kv_set(&conf->defaults, &conf->ndefaults, name, value);
}

/*
 * conf_set_default_fn - a default computed from other parameters at lookup time (mydomain
 * from myhostname), so that it follows what main.cf says.
 */
void
conf_set_default_fn(struct conf *conf, const char *name, conf_default_fn fn)
{
    conf_kv_set(&conf->defaults, &conf->ndefaults, name, "");
    conf_kv_find(conf->defaults, conf->ndefaults, name)->fn = fn;
}

/* conf_computed - run a computed default; the table is not part of the const contract */
static const char *
conf_computed(const struct conf *conf, struct conf_kv *kv)
{
    char *value;

    if (kv->busy)
        return "";
    kv->busy = true;
    value = kv->fn(conf);
    kv->busy = false;
    free(kv->value);
    kv->value = value;
    return value;
}

const char *
conf_raw(const struct conf *conf, const char *name)
{
    struct conf_kv *kv;
    const struct conf_entry *entry;
    const struct param_decl *decl;

    if ((kv = conf_kv_find(conf->overrides, conf->noverrides, name)) != NULL)
        return kv->value;
    if ((entry = conf_entry_find(conf, name)) != NULL)
        return entry->value;
    if ((kv = conf_kv_find(conf->defaults, conf->ndefaults, name)) != NULL)
        return kv->fn ? conf_computed(conf, kv) : kv->value;
    if ((decl = conf_decl(conf, name)) != NULL)
        return decl->dflt;
    return NULL;
}

bool
conf_is_set(const struct conf *conf, const char *name)
{
    return conf_kv_find(conf->overrides, conf->noverrides, name) || conf_entry_find(conf, name);
}

bool
conf_name_valid(const char *name, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

/* conf_override - a -o name=value from master.cf or the command line */
bool
conf_override(struct conf *conf, const char *name, const char *value, struct err *err)
{
    if (!conf_name_valid(name, strlen(name))) {
        return err_set(err, "-o %s: not a valid parameter name", name);
    }
    conf_kv_set(&conf->overrides, &conf->noverrides, name, value);
    return true;
}

static const char *
conf_intern_file(struct conf *conf, const char *origin)
{
    for (size_t i = 0; i < conf->files.n; i++)
        if (strcmp(conf->files.v[i], origin) == 0)
            return conf->files.v[i];
    strvec_add(&conf->files, origin);
    return conf->files.v[conf->files.n - 1];
}

/* conf_store - one complete logical line: record or replace the entry */
static void
conf_store(struct conf *conf, const char *name, const char *value, const char *file, int line)
{
    struct conf_entry *entry = conf_entry_find(conf, name);

    if (entry == NULL) {
        conf->entries = xreallocarray(conf->entries, conf->nentries + 1, sizeof(*entry));
        entry = &conf->entries[conf->nentries++];
        entry->name = xstrdup(name);
    } else {
        free(entry->value);
    }
    entry->value = xstrdup(value);
    entry->file = file;
    entry->line = line;
}

/* conf_logical - split one logical line into name and value and store it */
static bool
conf_logical(struct conf *conf, char *text, const char *file, int line, struct err *err)
{
    char *eq = strchr(text, '=');
    char *name, *value;

    if (eq == NULL) {
        return err_set(err, "%s, line %d: missing '=' after \"%.60s\"", file, line, text);
    }
    *eq = 0;
    name = str_trim(text);
    value = str_trim(eq + 1);
    if (!conf_name_valid(name, strlen(name))) {
        return err_set(err, "%s, line %d: bad parameter name \"%.60s\"", file, line, name);
    }
    conf_store(conf, name, value, file, line);
    return true;
}

struct conf_reader {
    struct conf *conf;
    const char *file;
    struct err *err;
};

static bool
conf_read_line(void *ctx, char *line, int lineno)
{
    struct conf_reader *rd = ctx;

    return conf_logical(rd->conf, line, rd->file, lineno, rd->err);
}

/* conf_read_text - parse main.cf text; origin names it in errors */
bool
conf_read_text(struct conf *conf, const char *origin, const char *text, struct err *err)
{
    struct conf_reader rd = {conf, conf_intern_file(conf, origin), err};
    int orphan;

    if (textfile_logical(text, conf_read_line, &rd, &orphan))
        return true;
    if (orphan)
        err_set(err, "%s, line %d: continuation line without a parameter before it", rd.file,
                orphan);
    return false;
}

/* conf_read_file - read and parse a main.cf file */
bool
conf_read_file(struct conf *conf, const char *path, struct err *err)
{
    struct buf text;
    bool good;

    if (!textfile_read(path, CONF_FILE_MAX, &text, err))
        return false;
    good = conf_read_text(conf, path, buf_str(&text), err);
    buf_free(&text);
    return good;
}

size_t
conf_entry_count(const struct conf *conf)
{
    return conf->nentries;
}

const struct conf_entry *
conf_entry_at(const struct conf *conf, size_t i)
{
    return i < conf->nentries ? &conf->entries[i] : NULL;
}
