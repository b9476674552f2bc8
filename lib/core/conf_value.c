/*
 * conf_value.c - the typed values of main.cf, and which entries nobody uses.
 *
 * Trusts: nothing in the text. Strict where Postfix is strict: booleans are "yes" or "no",
 * sizes are plain byte counts, a time is a number with at most one unit letter. Lists are
 * split at commas and white space; "{ ... }" keeps its inside together (nested braces
 * balance, or it is an error), as Postfix does for restriction and table lists.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conf.h"
#include "core/conf_impl.h"
#include "core/mem.h"

bool
conf_parse_bool(const char *text, bool *out)
{
    if (str_eq_nocase(text, "yes"))
        *out = true;
    else if (str_eq_nocase(text, "no"))
        *out = false;
    else
        return false;
    return true;
}

static long
conf_unit_seconds(char unit)
{
    switch (unit) {
    case 's':
        return 1;
    case 'm':
        return 60;
    case 'h':
        return 3600;
    case 'd':
        return 86400;
    case 'w':
        return 7 * 86400;
    default:
        return 0;
    }
}

/* conf_parse_time - "90", "90s", "5m", "1h", "2d", "1w"; a bare number is in default_unit */
bool
conf_parse_time(const char *text, char default_unit, long *seconds)
{
    char digits[32];
    size_t n = strspn(text, "0123456789");
    long value, scale;

    if (n == 0 || n >= sizeof(digits) || (text[n] && text[n + 1]))
        return false;
    if ((scale = conf_unit_seconds(text[n] ? text[n] : default_unit)) == 0)
        return false;
    memcpy(digits, text, n);
    digits[n] = 0;
    if (!str_to_long(digits, 0, LONG_MAX, &value) || value > LONG_MAX / scale)
        return false;
    *seconds = value * scale;
    return true;
}

bool
conf_parse_size(const char *text, long *bytes)
{
    return str_to_long(text, 0, LONG_MAX, bytes);
}

/* conf_split_list - append each element of a list; braces group and must balance */
bool
conf_split_list(const char *text, struct strvec *out, struct err *err)
{
    const char *bad;
    int brace = strvec_split_list(out, text, &bad);

    if (brace != 0)
        err_set(err, "unbalanced '%c' in \"%.60s\"", brace, bad);
    return brace == 0;
}

/* conf_mentions - does text refer to $name, ${name...} or $(name...)? */
static bool
conf_mentions(const char *text, const char *name)
{
    size_t len = strlen(name);

    for (const char *p = strchr(text, '$'); p; p = strchr(p + 1, '$')) {
        const char *q = p + 1;
        if (*q == '{' || *q == '(')
            q++;
        if (strncmp(q, name, len) == 0 &&
            !(q[len] == '_' || (q[len] >= 'a' && q[len] <= 'z') ||
              (q[len] >= 'A' && q[len] <= 'Z') || (q[len] >= '0' && q[len] <= '9')))
            return true;
    }
    return false;
}

static bool
conf_used_somewhere(const struct conf *conf, const char *name, const struct strvec *extra)
{
    for (size_t i = 0; i < conf->nentries; i++)
        if (conf_mentions(conf->entries[i].value, name))
            return true;
    for (size_t i = 0; i < conf->noverrides; i++)
        if (conf_mentions(conf->overrides[i].value, name))
            return true;
    for (size_t i = 0; i < conf->ndecls; i++)
        if (conf_mentions(conf->decls[i].dflt, name))
            return true;
    for (size_t i = 0; extra && i < extra->n; i++)
        if (conf_mentions(extra->v[i], name))
            return true;
    return false;
}

/* conf_pattern_match - "name" exactly, or "*suffix" at the end of a longer name */
static bool
conf_pattern_match(const char *pattern, const char *name)
{
    size_t lp = strlen(pattern), ln = strlen(name);

    if (pattern[0] != '*')
        return strcmp(pattern, name) == 0;
    return ln > lp - 1 && strcmp(name + ln - (lp - 1), pattern + 1) == 0;
}

void
conf_unused(const struct conf *conf, const struct strvec *extra_values,
            const struct strvec *extra_names, struct strvec *unused_names)
{
    for (size_t i = 0; i < conf->nentries; i++) {
        const char *name = conf->entries[i].name;
        bool used = conf_decl(conf, name) || conf_used_somewhere(conf, name, extra_values);

        for (size_t j = 0; !used && extra_names && j < extra_names->n; j++)
            used = conf_pattern_match(extra_names->v[j], name);
        if (!used)
            strvec_add(unused_names, name);
    }
}
