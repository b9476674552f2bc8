/*
 * conf_expand.c - "$name" expansion and the typed getters built on it.
 *
 * Trusts: nothing in the values. Expansion is recursive with two guards: a name that is
 * already being expanded is an error ("recursive"), and so is nesting deeper than
 * CONF_EXPAND_DEPTH or a result longer than CONF_EXPAND_MAX. Forms: $name, ${name},
 * $(name), ${name?text} (text if name is non-empty), ${name:text} (text if it is empty),
 * $$ (a dollar). A '$' before anything else stays as it is, as in Postfix. A name
 * nobody defined expands to nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/conf.h"
#include "core/conf_impl.h"
#include "core/mem.h"

#define CONF_EXPAND_DEPTH 40
#define CONF_EXPAND_MAX   (1024 * 1024)

struct expand {
    const struct conf *conf;
    struct err *err;
    const char *stack[CONF_EXPAND_DEPTH];
    int depth;
};

static bool expand_text(struct expand *ex, const char *text, size_t len, struct buf *out);

static bool
name_char(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* expand_name - append the expanded value of one parameter */
static bool
expand_name(struct expand *ex, const char *name, struct buf *out)
{
    const char *raw = conf_raw(ex->conf, name);
    bool good;

    if (raw == NULL)
        return true;
    for (int i = 0; i < ex->depth; i++) {
        if (strcmp(ex->stack[i], name) == 0) {
            return err_set(ex->err, "recursive reference to $%s", name);
        }
    }
    if (ex->depth == CONF_EXPAND_DEPTH) {
        return err_set(ex->err, "$%s: nested too deeply", name);
    }
    ex->stack[ex->depth++] = name;
    good = expand_text(ex, raw, strlen(raw), out);
    ex->depth--;
    return good;
}

/* expand_close - the offset of the bracket that closes the one at text[0], or 0 */
static size_t
expand_close(const char *text, size_t len)
{
    char open = text[0], close = open == '{' ? '}' : ')';
    int depth = 0;

    for (size_t i = 0; i < len; i++) {
        if (text[i] == open)
            depth++;
        else if (text[i] == close && --depth == 0)
            return i;
    }
    return 0;
}

/*
 * expand_choice - the body of ${name?{yes}:{no}} after the '?': yes when value is not empty,
 * else no (Postfix 3.0's form, used by the stress-dependent defaults)
 */
static bool
expand_choice(struct expand *ex, const char *text, size_t len, bool set, struct buf *out)
{
    size_t yes_end = expand_close(text, len), no_start = yes_end + 2;

    if (yes_end == 0 || no_start >= len || text[yes_end + 1] != ':' || text[no_start] != '{' ||
        expand_close(text + no_start, len - no_start) != len - no_start - 1)
        return err_set(ex->err, "bad ${name?{value}:{value}}: \"%.*s\"", (int)(len > 60 ? 60 : len),
                       text);
    if (set)
        return expand_text(ex, text + 1, yes_end - 1, out);
    return expand_text(ex, text + no_start + 1, len - no_start - 2, out);
}

/* expand_braced - ${name}, $(name), ${name?text}, ${name:text}, ${name?{text}:{text}};
 * body excludes the brackets */
static bool
expand_braced(struct expand *ex, const char *body, size_t len, struct buf *out)
{
    size_t n = 0;
    char name[256];
    struct buf value;
    bool good;

    while (n < len && name_char(body[n]))
        n++;
    if (n == 0 || n >= sizeof(name) || (n < len && body[n] != '?' && body[n] != ':')) {
        return err_set(ex->err, "bad parameter reference \"${%.*s}\"", (int)(len > 60 ? 60 : len),
                       body);
    }
    memcpy(name, body, n);
    name[n] = 0;
    if (n == len)
        return expand_name(ex, name, out);
    buf_init(&value, CONF_EXPAND_MAX);
    good = expand_name(ex, name, &value);
    if (good && body[n] == '?' && n + 1 < len && body[n + 1] == '{')
        good = expand_choice(ex, body + n + 1, len - n - 1, value.len > 0, out);
    else if (good && ((body[n] == '?') == (value.len > 0)))
        good = expand_text(ex, body + n + 1, len - n - 1, out);
    buf_free(&value);
    return good;
}

/* expand_text - text with every $name, ${name}, $(name) and conditional form replaced */
static bool
expand_text(struct expand *ex, const char *text, size_t len, struct buf *out)
{
    for (size_t i = 0; i < len; i++) {
        size_t n, close;
        char name[256];

        if (text[i] != '$' || i + 1 == len) {
            if (!buf_putc(out, text[i]))
                goto too_long;
            continue;
        }
        if (text[i + 1] == '$') {
            buf_putc(out, '$');
            i++;
        } else if (text[i + 1] == '{' || text[i + 1] == '(') {
            if ((close = expand_close(text + i + 1, len - i - 1)) == 0) {
                return err_set(ex->err, "unbalanced '%c' after '$'", text[i + 1]);
            }
            if (!expand_braced(ex, text + i + 2, close - 1, out))
                return false;
            i += close + 1;
        } else if (name_char(text[i + 1])) {
            for (n = 0; i + 1 + n < len && name_char(text[i + 1 + n]); n++)
                ;
            if (n >= sizeof(name)) {
                return err_set(ex->err, "parameter name too long");
            }
            memcpy(name, text + i + 1, n);
            name[n] = 0;
            if (!expand_name(ex, name, out))
                return false;
            i += n;
        } else {
            buf_putc(out, '$');
        }
        if (out->len >= CONF_EXPAND_MAX)
            goto too_long;
    }
    return true;
too_long:
    return err_set(ex->err, "value longer than %d bytes after expansion", CONF_EXPAND_MAX);
}

/* conf_expand - text with every $name replaced; NULL and err on failure */
char *
conf_expand(const struct conf *conf, const char *text, struct err *err)
{
    struct expand ex = {.conf = conf, .err = err};
    struct buf out;

    buf_init(&out, CONF_EXPAND_MAX);
    if (!expand_text(&ex, text, strlen(text), &out)) {
        buf_free(&out);
        return NULL;
    }
    return buf_steal(&out);
}

/* conf_where - prefix an error with where the parameter was set */
static void
conf_where(const struct conf *conf, const char *name, struct err *err)
{
    char text[sizeof(err->text)];
    const struct conf_entry *entry = NULL;

    for (size_t i = 0; i < conf->nentries; i++)
        if (strcmp(conf->entries[i].name, name) == 0)
            entry = &conf->entries[i];
    for (size_t i = 0; i < conf->noverrides; i++)
        if (strcmp(conf->overrides[i].name, name) == 0)
            entry = NULL;
    if (conf_is_set(conf, name) && entry)
        snprintf(text, sizeof(text), "%s, line %d: %s: %.400s", entry->file, entry->line, name,
                 err->text);
    else if (conf_is_set(conf, name))
        snprintf(text, sizeof(text), "-o %s: %.400s", name, err->text);
    else
        snprintf(text, sizeof(text), "default of %s: %.400s", name, err->text);
    memcpy(err->text, text, sizeof(text));
}

/* conf_value - the expanded value of a parameter; a loop back to it names it */
static char *
conf_value(const struct conf *conf, const char *name, struct err *err)
{
    struct expand ex = {.conf = conf, .err = err};
    struct buf out;

    if (conf_raw(conf, name) == NULL) {
        err_set(err, "unknown parameter %s", name);
        return NULL;
    }
    buf_init(&out, CONF_EXPAND_MAX);
    if (!expand_name(&ex, name, &out)) {
        buf_free(&out);
        conf_where(conf, name, err);
        return NULL;
    }
    return buf_steal(&out);
}

bool
conf_get_str(const struct conf *conf, const char *name, char **out, struct err *err)
{
    return (*out = conf_value(conf, name, err)) != NULL;
}

/* conf_get_long - an INT, TIME (seconds) or SIZE (bytes) parameter, within its bounds */
bool
conf_get_long(const struct conf *conf, const char *name, long *out, struct err *err)
{
    const struct param_decl *decl = conf_decl(conf, name);
    char *value = conf_value(conf, name, err);
    bool good;

    if (value == NULL)
        return false;
    if (decl && decl->type == PARAM_TIME)
        good = conf_parse_time(value, decl->unit ? decl->unit : 's', out);
    else if (decl && decl->type == PARAM_SIZE)
        good = conf_parse_size(value, out);
    else
        good = str_to_long(value, -2147483647L, 2147483647L, out);
    if (!good)
        err_set(err, "bad %s value \"%.80s\"",
                decl && decl->type == PARAM_TIME   ? "time"
                : decl && decl->type == PARAM_SIZE ? "size"
                                                   : "numerical",
                value);
    else if (decl && decl->max > decl->min && (*out < decl->min || *out > decl->max)) {
        err_set(err, "value %ld out of range [%ld, %ld]", *out, decl->min, decl->max);
        good = false;
    }
    free(value);
    if (!good)
        conf_where(conf, name, err);
    return good;
}

bool
conf_get_bool(const struct conf *conf, const char *name, bool *out, struct err *err)
{
    char *value = conf_value(conf, name, err);
    bool good;

    if (value == NULL)
        return false;
    if (!(good = conf_parse_bool(value, out))) {
        err_set(err, "bad boolean value \"%.80s\" (use yes or no)", value);
        conf_where(conf, name, err);
    }
    free(value);
    return good;
}

bool
conf_get_list(const struct conf *conf, const char *name, struct strvec *out, struct err *err)
{
    char *value = conf_value(conf, name, err);
    bool good;

    if (value == NULL)
        return false;
    strvec_init(out);
    if (!(good = conf_split_list(value, out, err))) {
        strvec_free(out);
        conf_where(conf, name, err);
    }
    free(value);
    return good;
}
