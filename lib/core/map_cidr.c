/*
 * map_cidr.c - cidr:/path: IPv4 and IPv6 networks, cidr_table(5) syntax.
 *
 * File format, one rule per logical line (see map_source.c for comments and continuations):
 *
 *   192.0.2.0/24 result         a network: the first matching rule's result is the value
 *   192.0.2.1 result            one address (the same as /32 or /128)
 *   [2001:db8::]/32 result      IPv6, with or without the brackets
 *   !198.51.100.0/24 result     applies to every address outside the network
 *   if 10.0.0.0/8  ... endif    the rules inside apply only to addresses in the network;
 *   if !10.0.0.0/8 ... endif    ... only outside it; blocks nest
 *
 * A rule of the other address family never applies, negated or not: an IPv6 key skips every
 * IPv4 rule and IPv4 "if" block, and the other way round. A key that is not an address is
 * not found.
 *
 * Trusts: nothing in the file. A network with bits set beyond its prefix (192.0.2.1/24) is an
 * error, not silently truncated as Postfix does with a warning: the administrator may have
 * meant a different prefix. Every error names the file and line.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cidr.h"
#include "core/map_source.h"
#include "core/map_type.h"
#include "core/mem.h"
#include "core/str.h"

enum map_cidr_kind {
    MAP_CIDR_MATCH,
    MAP_CIDR_IF,
    MAP_CIDR_ENDIF,
};

struct map_cidr_rule {
    enum map_cidr_kind kind;
    bool negate;
    struct cidr net;
    char *result; /* MATCH only */
    size_t endif; /* IF only: index of its endif */
};

struct map_cidr {
    struct map map;
    struct map_cidr_rule *rules;
    size_t n;
    size_t cap;
    size_t *open_ifs;
    int *open_lines;
    size_t nopen;
};

/*
 * map_cidr_lookup - the first rule whose network holds the address key, honouring if/endif
 * blocks
 */
static enum map_status
map_cidr_lookup(struct map *map, const char *key, int lookup_flags, struct err *err)
{
    struct map_cidr *mc = (struct map_cidr *)map;
    struct cidr addr;

    if (!cidr_parse_addr(key, &addr))
        return MAP_NOTFOUND;
    for (size_t i = 0; i < mc->n; i++) {
        const struct map_cidr_rule *rule = &mc->rules[i];

        if (rule->kind == MAP_CIDR_ENDIF)
            continue;
        if (rule->net.family != addr.family) {
            if (rule->kind == MAP_CIDR_IF)
                i = rule->endif;
            continue;
        }
        if (cidr_contains(&rule->net, &addr) == rule->negate) {
            if (rule->kind == MAP_CIDR_IF)
                i = rule->endif;
            continue;
        }
        if (rule->kind == MAP_CIDR_MATCH)
            return map_set_value(map, rule->result, strlen(rule->result), err) ? MAP_FOUND
                                                                               : MAP_ERROR;
    }
    return MAP_NOTFOUND;
}

static void
map_cidr_close(struct map *map)
{
    struct map_cidr *mc = (struct map_cidr *)map;

    for (size_t i = 0; i < mc->n; i++)
        free(mc->rules[i].result);
    free(mc->rules);
    free(mc->open_ifs);
    free(mc->open_lines);
    free(mc);
}

static const struct map_ops map_cidr_ops = {
    .lookup = map_cidr_lookup,
    .close = map_cidr_close,
};

/* map_cidr_parse_net - a network pattern, with the file and line in any error */
static bool
map_cidr_parse_net(char *text, struct cidr *net, const char *file, int line, struct err *err)
{
    struct err why;

    if (cidr_parse(text, net, &why))
        return true;
    return err_set(err, "%s, line %d: %s", file, line, why.text);
}

/* map_cidr_add - append an empty rule */
static struct map_cidr_rule *
map_cidr_add(struct map_cidr *mc, enum map_cidr_kind kind)
{
    struct map_cidr_rule *rule;

    if (mc->n == mc->cap) {
        mc->cap = mc->cap ? mc->cap * 2 : 16;
        mc->rules = xreallocarray(mc->rules, mc->cap, sizeof(*mc->rules));
        mc->open_ifs = xreallocarray(mc->open_ifs, mc->cap, sizeof(*mc->open_ifs));
        mc->open_lines = xreallocarray(mc->open_lines, mc->cap, sizeof(*mc->open_lines));
    }
    rule = &mc->rules[mc->n++];
    memset(rule, 0, sizeof(*rule));
    rule->kind = kind;
    return rule;
}

/* map_cidr_keyword - text starts with the word kw (any case) followed by space or end */
static bool
map_cidr_keyword(const char *text, const char *kw)
{
    size_t len = strlen(kw);

    return strncasecmp(text, kw, len) == 0 && (text[len] == 0 || isspace((unsigned char)text[len]));
}

/* map_cidr_line - parse one logical line into a rule */
static bool
map_cidr_line(void *ctx, const char *file, int line, char *text, struct err *err)
{
    struct map_cidr *mc = ctx;
    struct map_cidr_rule *rule;
    char *p = text, *pattern;

    if (map_cidr_keyword(text, "endif")) {
        if (text[5] != 0 || mc->nopen == 0) {
            return err_set(err, "%s, line %d: %s", file, line,
                           mc->nopen ? "text after endif" : "endif without if");
        }
        map_cidr_add(mc, MAP_CIDR_ENDIF);
        mc->rules[mc->open_ifs[--mc->nopen]].endif = mc->n - 1;
        return true;
    }
    rule = map_cidr_add(mc, map_cidr_keyword(text, "if") ? MAP_CIDR_IF : MAP_CIDR_MATCH);
    if (rule->kind == MAP_CIDR_IF)
        p += 2;
    pattern = str_token(&p, " \t\f\v");
    if (pattern && (rule->negate = (*pattern == '!')))
        pattern++;
    if (pattern == NULL || !map_cidr_parse_net(pattern, &rule->net, file, line, err)) {
        if (pattern == NULL)
            err_set(err, "%s, line %d: missing address pattern", file, line);
        return false;
    }
    p = str_trim(p);
    if (rule->kind == MAP_CIDR_IF) {
        if (*p) {
            return err_set(err, "%s, line %d: text after the if pattern: \"%s\"", file, line, p);
        }
        mc->open_lines[mc->nopen] = line;
        mc->open_ifs[mc->nopen++] = mc->n - 1;
        return true;
    }
    if (*p == 0) {
        return err_set(err, "%s, line %d: missing result after the address pattern", file, line);
    }
    rule->result = xstrdup(p);
    return true;
}

struct map *
map_cidr_open(const char *type, const char *name, int flags, struct err *err)
{
    struct map_cidr *mc = xcalloc(1, sizeof(*mc));

    mc->map.ops = &map_cidr_ops;
    mc->map.props = MAP_PROP_PATTERN;
    if (!map_source_read(name, map_cidr_line, mc, err)) {
        map_cidr_close(&mc->map);
        return NULL;
    }
    if (mc->nopen > 0) {
        err_set(err, "%s, line %d: if without endif", name, mc->open_lines[mc->nopen - 1]);
        map_cidr_close(&mc->map);
        return NULL;
    }
    return &mc->map;
}
