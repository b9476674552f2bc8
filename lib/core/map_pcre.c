/*
 * map_pcre.c - pcre:/path: Perl-compatible regular expressions (PCRE2), pcre_table(5) syntax.
 *
 * File format, one rule per logical line (see map_source.c for comments and continuations):
 *
 *   /pattern/flags result       the first matching rule's result is the value
 *   !/pattern/flags result      a rule that applies when the pattern does not match
 *   if /pattern/flags           the rules up to the matching endif apply only on a match
 *   if !/pattern/flags          ... only without a match
 *   endif
 *
 * The delimiter may be any character but a letter, digit, white space or backslash; a
 * backslash in the pattern escapes the next character (the pair is passed to PCRE2 as is).
 * Flags toggle PCRE2 options: i (case-insensitive, on by default), m (MULTILINE),
 * s (DOTALL), x (EXTENDED), A (ANCHORED), E (DOLLAR_ENDONLY), U (UNGREEDY); X (Postfix's
 * PCRE_EXTRA) is accepted and has nothing to do, since PCRE2 always rejects unknown escapes.
 * In a result, $1 or ${1} is the text captured by that group (empty when it did not take
 * part), $$ is a '$'. "if", "endif" and "if" blocks nest as in Postfix.
 *
 * Keys are matched as given (never folded). Matching runs under a match and depth limit: a
 * pattern that would backtrack for ever makes the lookup MAP_ERROR instead of a hang. No JIT.
 *
 * Trusts: nothing in the file: an unknown flag, a missing delimiter or result, an
 * unbalanced if/endif, a $n beyond the pattern's groups or a PCRE2 compile error is an open
 * error naming the file and line. Keys are untrusted and only matched.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pcre2.h>

#include "core/map_source.h"
#include "core/map_type.h"
#include "core/mem.h"
#include "core/str.h"

#define MAP_PCRE_MATCH_LIMIT 1000000
#define MAP_PCRE_DEPTH_LIMIT 10000

enum map_pcre_kind {
    MAP_PCRE_MATCH,
    MAP_PCRE_IF,
    MAP_PCRE_ENDIF,
};

struct map_pcre_rule {
    enum map_pcre_kind kind;
    bool negate;
    pcre2_code *code;
    char *result; /* MATCH only */
    size_t endif; /* IF only: index of its endif */
    int line;
};

struct map_pcre {
    struct map map;
    char *path;
    struct map_pcre_rule *rules;
    size_t n;
    size_t cap;
    size_t *open_ifs; /* a stack of IF indexes while parsing */
    size_t nopen;
    pcre2_match_data *match;
    pcre2_match_context *mctx;
    uint32_t max_groups;
};

/* map_pcre_match - 1 on a match, 0 without, -1 on a matching error (err set) */
static int
map_pcre_match(struct map_pcre *mp, const struct map_pcre_rule *rule, const char *key,
               struct err *err)
{
    int rc = pcre2_match(rule->code, (PCRE2_SPTR)key, strlen(key), 0, 0, mp->match, mp->mctx);
    PCRE2_UCHAR msg[256];

    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    pcre2_get_error_message(rc, msg, sizeof(msg));
    err_set(err, "%s: %s, line %d: matching failed: %s", mp->map.spec, mp->path, rule->line,
            (const char *)msg);
    return -1;
}

/* map_pcre_expand - the result with $n replaced by what group n matched */
static bool
map_pcre_expand(struct map_pcre *mp, const struct map_pcre_rule *rule, const char *key,
                struct err *err)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(mp->match);
    uint32_t pairs = pcre2_get_ovector_count(mp->match);
    struct buf *out = &mp->map.value;
    bool room = true;

    buf_reset(out);
    for (const char *p = rule->result; *p && room; p++) {
        unsigned long n;
        char *end;

        if (*p != '$') {
            room = buf_putc(out, *p);
            continue;
        }
        if (p[1] == '$') {
            room = buf_putc(out, '$');
            p++;
            continue;
        }
        n = strtoul(p + 1 + (p[1] == '{'), &end, 10);
        p = end + (p[1] == '{') - 1;
        if (n < pairs && ov[2 * n] != PCRE2_UNSET)
            room = buf_append(out, key + ov[2 * n], ov[2 * n + 1] - ov[2 * n]);
    }
    if (!room)
        err_set(err, "%.200s: lookup result longer than %d bytes", mp->map.spec, MAP_VALUE_MAX);
    return room;
}

/*
 * map_pcre_lookup - the first rule that matches key (or, with !, does not), its value with
 * $1... substituted
 */
static enum map_status
map_pcre_lookup(struct map *map, const char *key, int lookup_flags, struct err *err)
{
    struct map_pcre *mp = (struct map_pcre *)map;

    for (size_t i = 0; i < mp->n; i++) {
        const struct map_pcre_rule *rule = &mp->rules[i];
        int rc;

        if (rule->kind == MAP_PCRE_ENDIF)
            continue;
        if ((rc = map_pcre_match(mp, rule, key, err)) < 0)
            return MAP_ERROR;
        if ((rc == 1) == rule->negate) {
            if (rule->kind == MAP_PCRE_IF)
                i = rule->endif;
            continue;
        }
        if (rule->kind == MAP_PCRE_MATCH)
            return map_pcre_expand(mp, rule, key, err) ? MAP_FOUND : MAP_ERROR;
    }
    return MAP_NOTFOUND;
}

static void
map_pcre_close(struct map *map)
{
    struct map_pcre *mp = (struct map_pcre *)map;

    for (size_t i = 0; i < mp->n; i++) {
        pcre2_code_free(mp->rules[i].code);
        free(mp->rules[i].result);
    }
    free(mp->rules);
    free(mp->open_ifs);
    pcre2_match_data_free(mp->match);
    pcre2_match_context_free(mp->mctx);
    free(mp->path);
    free(mp);
}

static const struct map_ops map_pcre_ops = {
    .lookup = map_pcre_lookup,
    .close = map_pcre_close,
};

/* map_pcre_flags - apply the flag letters after the closing delimiter */
static bool
map_pcre_flags(const char **cursor, uint32_t *options, const char *file, int line, struct err *err)
{
    static const struct {
        char letter;
        uint32_t option;
    } flags[] = {
        {'i', PCRE2_CASELESS}, {'m', PCRE2_MULTILINE},
        {'s', PCRE2_DOTALL},   {'x', PCRE2_EXTENDED},
        {'A', PCRE2_ANCHORED}, {'E', PCRE2_DOLLAR_ENDONLY},
        {'U', PCRE2_UNGREEDY}, {'X', 0},
    };
    const char *p;

    for (p = *cursor; *p && !isspace((unsigned char)*p); p++) {
        size_t i;
        for (i = 0; i < sizeof(flags) / sizeof(flags[0]) && flags[i].letter != *p; i++)
            continue;
        if (i == sizeof(flags) / sizeof(flags[0])) {
            return err_set(err, "%s, line %d: unknown pattern flag '%c'", file, line, *p);
        }
        *options ^= flags[i].option;
    }
    *cursor = p;
    return true;
}

/* map_pcre_pattern - parse "[!]/pattern/flags" at *cursor and compile it into rule */
static bool
map_pcre_pattern(struct map_pcre_rule *rule, const char **cursor, const char *file, int line,
                 struct err *err)
{
    const char *p = *cursor, *start, *end;
    uint32_t options = PCRE2_CASELESS;
    PCRE2_UCHAR msg[256];
    PCRE2_SIZE offset;
    int code;
    char delim;

    if ((rule->negate = (*p == '!')))
        p++;
    delim = *p;
    if (delim == 0 || isalnum((unsigned char)delim) || isspace((unsigned char)delim) ||
        delim == '\\') {
        return err_set(err, "%s, line %d: expected /pattern/ at \"%s\"", file, line, *cursor);
    }
    for (start = ++p; *p && *p != delim; p++)
        if (*p == '\\' && p[1])
            p++;
    if (*p != delim) {
        return err_set(err, "%s, line %d: missing closing delimiter '%c'", file, line, delim);
    }
    end = p++;
    if (!map_pcre_flags(&p, &options, file, line, err))
        return false;
    rule->code =
        pcre2_compile((PCRE2_SPTR)start, (PCRE2_SIZE)(end - start), options, &code, &offset, NULL);
    if (rule->code == NULL) {
        pcre2_get_error_message(code, msg, sizeof(msg));
        return err_set(err, "%s, line %d: error in pattern \"%.*s\" at offset %zu: %s", file, line,
                       (int)(end - start), start, (size_t)offset, (const char *)msg);
    }
    *cursor = p;
    return true;
}

/* map_pcre_check_result - every $ in result must be $$, $n or ${n} with a group n */
static bool
map_pcre_check_result(const struct map_pcre_rule *rule, const char *file, int line, struct err *err)
{
    uint32_t groups = 0;

    pcre2_pattern_info(rule->code, PCRE2_INFO_CAPTURECOUNT, &groups);
    for (const char *p = rule->result; (p = strchr(p, '$')) != NULL; p++) {
        bool braced = p[1] == '{';
        const char *digits = p + 1 + braced;
        size_t len = strspn(digits, "0123456789");
        unsigned long n = strtoul(digits, NULL, 10);

        if (p[1] == '$') {
            p++;
            continue;
        }
        if (len == 0 || len > 5 || (braced && digits[len] != '}')) {
            return err_set(err, "%s, line %d: expected $number, ${number} or $$ in \"%s\"", file,
                           line, rule->result);
        }
        if (rule->negate) {
            return err_set(err, "%s, line %d: $%lu in the result of a negated pattern", file, line,
                           n);
        }
        if (n == 0 || n > groups) {
            return err_set(err, "%s, line %d: $%lu is out of range: the pattern has %u groups",
                           file, line, n, groups);
        }
        p = digits + len - !braced;
    }
    return true;
}

/* map_pcre_add - append an empty rule */
static struct map_pcre_rule *
map_pcre_add(struct map_pcre *mp, enum map_pcre_kind kind, int line)
{
    struct map_pcre_rule *rule;

    if (mp->n == mp->cap) {
        mp->cap = mp->cap ? mp->cap * 2 : 16;
        mp->rules = xreallocarray(mp->rules, mp->cap, sizeof(*mp->rules));
        mp->open_ifs = xreallocarray(mp->open_ifs, mp->cap, sizeof(*mp->open_ifs));
    }
    rule = &mp->rules[mp->n++];
    memset(rule, 0, sizeof(*rule));
    rule->kind = kind;
    rule->line = line;
    return rule;
}

/* map_pcre_keyword - text starts with the word kw (any case) followed by space or end */
static bool
map_pcre_keyword(const char *text, const char *kw)
{
    size_t len = strlen(kw);

    return strncasecmp(text, kw, len) == 0 && (text[len] == 0 || isspace((unsigned char)text[len]));
}

/* map_pcre_line - parse one logical line into a rule */
static bool
map_pcre_line(void *ctx, const char *file, int line, char *text, struct err *err)
{
    struct map_pcre *mp = ctx;
    const char *p = text;
    struct map_pcre_rule *rule;
    uint32_t groups = 0;

    if (map_pcre_keyword(text, "endif")) {
        if (text[5] != 0 || mp->nopen == 0) {
            return err_set(err, "%s, line %d: %s", file, line,
                           mp->nopen ? "text after endif" : "endif without if");
        }
        map_pcre_add(mp, MAP_PCRE_ENDIF, line);
        mp->rules[mp->open_ifs[--mp->nopen]].endif = mp->n - 1;
        return true;
    }
    rule = map_pcre_add(mp, map_pcre_keyword(text, "if") ? MAP_PCRE_IF : MAP_PCRE_MATCH, line);
    if (rule->kind == MAP_PCRE_IF)
        for (p += 2; isspace((unsigned char)*p); p++)
            continue;
    if (!map_pcre_pattern(rule, &p, file, line, err))
        return false;
    pcre2_pattern_info(rule->code, PCRE2_INFO_CAPTURECOUNT, &groups);
    if (groups > mp->max_groups)
        mp->max_groups = groups;
    while (isspace((unsigned char)*p))
        p++;
    if (rule->kind == MAP_PCRE_IF) {
        if (*p) {
            return err_set(err, "%s, line %d: text after the if pattern: \"%s\"", file, line, p);
        }
        mp->open_ifs[mp->nopen++] = mp->n - 1;
        return true;
    }
    if (*p == 0) {
        return err_set(err, "%s, line %d: missing result after the pattern", file, line);
    }
    rule->result = xstrdup(p);
    return map_pcre_check_result(rule, file, line, err);
}

/*
 * map_pcre_open - read and compile every rule of the file; the first bad one fails the
 * open with its line
 */
struct map *
map_pcre_open(const char *type, const char *name, int flags, struct err *err)
{
    struct map_pcre *mp = xcalloc(1, sizeof(*mp));

    mp->map.ops = &map_pcre_ops;
    mp->map.props = MAP_PROP_PATTERN;
    mp->path = xstrdup(name);
    if (!map_source_read(name, map_pcre_line, mp, err))
        goto fail;
    if (mp->nopen > 0) {
        err_set(err, "%s, line %d: if without endif", name,
                mp->rules[mp->open_ifs[mp->nopen - 1]].line);
        goto fail;
    }
    mp->match = pcre2_match_data_create(mp->max_groups + 1, NULL);
    mp->mctx = pcre2_match_context_create(NULL);
    if (mp->match == NULL || mp->mctx == NULL) {
        err_set(err, "%s:%s: out of memory", type, name);
        goto fail;
    }
    pcre2_set_match_limit(mp->mctx, MAP_PCRE_MATCH_LIMIT);
    pcre2_set_depth_limit(mp->mctx, MAP_PCRE_DEPTH_LIMIT);
    return &mp->map;

fail:
    map_pcre_close(&mp->map);
    return NULL;
}
