/*
 * map_source.c - read table source files: Postfix's logical lines and "key value" pairs.
 *
 * Format (postmap(1)): "key value", key and value separated by white space, the value
 * being the rest of the logical line with surrounding white space removed. '#' starts a
 * comment only as the first non-blank character of a line. A line starting with white
 * space continues the previous logical line. CRLF line ends are accepted.
 *
 * Trusts: the file is the administrator's, but it is parsed strictly anyway: a line without
 * a value, a continuation with nothing to continue, a NUL byte or a line longer than
 * MAP_SOURCE_LINE_MAX is an error naming the file and line, never skipped silently.
 * A duplicate key keeps its first value and logs a warning, as postmap does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/map_source.h"
#include "core/map_type.h"
#include "core/mem.h"
#include "core/str.h"

struct map_source_reader {
    const char *path;
    FILE *fp;
    int lineno;        /* physical lines read */
    struct buf line;   /* the current physical line */
    struct buf joined; /* the logical line being assembled */
    int joined_line;   /* where it started; 0 when empty */
};

/* map_source_getline - read one physical line without its line end; false at end of file */
static bool
map_source_getline(struct map_source_reader *rd, bool *error, struct err *err)
{
    int c;

    buf_reset(&rd->line);
    *error = false;
    while ((c = getc(rd->fp)) != EOF && c != '\n') {
        if (c == 0 || !buf_putc(&rd->line, c)) {
            err_set(err, "%s, line %d: %s", rd->path, rd->lineno + 1,
                    c == 0 ? "NUL byte in line" : "line too long");
            *error = true;
            return false;
        }
    }
    if (ferror(rd->fp)) {
        err_set(err, "%s: read error: %s", rd->path, strerror(errno));
        *error = true;
        return false;
    }
    if (c == EOF && rd->line.len == 0)
        return false;
    rd->lineno++;
    if (rd->line.len > 0 && rd->line.data[rd->line.len - 1] == '\r')
        buf_truncate(&rd->line, rd->line.len - 1);
    return true;
}

/* map_source_flush - hand the assembled logical line, if any, to the caller */
static bool
map_source_flush(struct map_source_reader *rd, map_source_fn fn, void *ctx, struct err *err)
{
    bool more;

    if (rd->joined_line == 0)
        return true;
    more = fn(ctx, rd->path, rd->joined_line, rd->joined.data, err);
    buf_reset(&rd->joined);
    rd->joined_line = 0;
    return more;
}

/* map_source_add - add one physical line to the logical line, starting a new one if due */
static bool
map_source_add(struct map_source_reader *rd, map_source_fn fn, void *ctx, struct err *err)
{
    char *text = str_trim(rd->line.data ? rd->line.data : (char *)"");
    bool continues = rd->line.len > 0 && strchr(" \t\f\v", rd->line.data[0]) != NULL;

    if (*text == 0 || *text == '#')
        return true;
    if (continues) {
        if (rd->joined_line == 0) {
            return err_set(err, "%s, line %d: continuation line without a line to continue",
                           rd->path, rd->lineno);
        }
        if (!buf_putc(&rd->joined, ' ') || !buf_puts(&rd->joined, text)) {
            return err_set(err, "%s, line %d: logical line too long", rd->path, rd->joined_line);
        }
        return true;
    }
    if (!map_source_flush(rd, fn, ctx, err))
        return false;
    rd->joined_line = rd->lineno;
    return buf_puts(&rd->joined, text);
}

/*
 * map_source_read - the source file's logical lines (continuations joined, comments
 * skipped) to fn, with the file and line for errors
 */
bool
map_source_read(const char *path, map_source_fn fn, void *ctx, struct err *err)
{
    struct map_source_reader rd = {.path = path, .fp = fopen(path, "re")};
    bool good = true, error;

    if (rd.fp == NULL) {
        return err_set_kind(err, errno == ENOENT ? ERR_MISSING : ERR_FAILED, "open %s: %s", path,
                            strerror(errno));
    }
    buf_init(&rd.line, MAP_SOURCE_LINE_MAX);
    buf_init(&rd.joined, MAP_SOURCE_LINE_MAX);
    while (good && map_source_getline(&rd, &error, err))
        good = map_source_add(&rd, fn, ctx, err);
    if (good && !error)
        good = map_source_flush(&rd, fn, ctx, err);
    else
        good = false;
    buf_free(&rd.line);
    buf_free(&rd.joined);
    fclose(rd.fp);
    return good;
}

void
map_pairs_init(struct map_pairs *pairs)
{
    pairs->v = NULL;
    pairs->n = 0;
    pairs->cap = 0;
}

/* map_pairs_add - append a pair, taking ownership of key and value */
void
map_pairs_add(struct map_pairs *pairs, char *key, char *value, int line)
{
    if (pairs->n == pairs->cap) {
        pairs->cap = pairs->cap ? pairs->cap * 2 : 16;
        pairs->v = xreallocarray(pairs->v, pairs->cap, sizeof(*pairs->v));
    }
    pairs->v[pairs->n].key = key;
    pairs->v[pairs->n].value = value;
    pairs->v[pairs->n].line = line;
    pairs->n++;
}

static int
map_pairs_compare(const void *a, const void *b)
{
    const struct map_pair *pa = a, *pb = b;
    int diff = strcmp(pa->key, pb->key);

    return diff ? diff : (pa->line > pb->line) - (pa->line < pb->line);
}

/* map_pairs_finish - sort by key; of duplicate keys keep the first written, with a warning */
void
map_pairs_finish(struct map_pairs *pairs, const char *origin)
{
    size_t kept = 0;

    if (pairs->n > 0) /* an empty table has v == NULL, which qsort() must not get */
        qsort(pairs->v, pairs->n, sizeof(*pairs->v), map_pairs_compare);
    for (size_t i = 0; i < pairs->n; i++) {
        if (kept > 0 && strcmp(pairs->v[kept - 1].key, pairs->v[i].key) == 0) {
            if (pairs->v[i].line)
                log_warn("%s, line %d: duplicate entry \"%s\" (first at line %d), ignored", origin,
                         pairs->v[i].line, pairs->v[i].key, pairs->v[kept - 1].line);
            else
                log_warn("%s: duplicate entry \"%s\", ignored", origin, pairs->v[i].key);
            free(pairs->v[i].key);
            free(pairs->v[i].value);
            continue;
        }
        pairs->v[kept++] = pairs->v[i];
    }
    pairs->n = kept;
}

const struct map_pair *
map_pairs_find(const struct map_pairs *pairs, const char *key)
{
    size_t lo = 0, hi = pairs->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int diff = strcmp(key, pairs->v[mid].key);
        if (diff == 0)
            return &pairs->v[mid];
        if (diff < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

void
map_pairs_free(struct map_pairs *pairs)
{
    for (size_t i = 0; i < pairs->n; i++) {
        free(pairs->v[i].key);
        free(pairs->v[i].value);
    }
    free(pairs->v);
    map_pairs_init(pairs);
}

struct map_source_pairs_ctx {
    struct map_pairs *pairs;
    int flags;
};

/* map_source_add_pair - key (folded when asked) and value, both copied */
static void
map_source_add_pair(struct map_source_pairs_ctx *pc, const char *key, const char *value, int line)
{
    char *k = xstrdup(key);

    map_pairs_add(pc->pairs, (pc->flags & MAP_FOLD_FIXED) ? str_lower(k) : k, xstrdup(value), line);
}

/*
 * map_source_alias_line - "name: value", where name is up to the first ':' or a quoted
 * string ("a b": c); the value is what follows, trimmed, and may not be empty.
 */
static bool
map_source_alias_line(struct map_source_pairs_ctx *pc, const char *file, int line, char *text,
                      struct err *err)
{
    char *name = text, *end, *value;

    if (*text == '"') {
        name = text + 1;
        if ((end = strchr(name, '"')) == NULL) {
            return err_set(err, "%s, line %d: unterminated quoted name", file, line);
        }
        *end++ = 0;
        end += strspn(end, " \t");
    } else {
        end = text + strcspn(text, ":");
    }
    if (*end != ':') {
        return err_set(err, "%s, line %d: expected \"name: value\", got \"%s\"", file, line, text);
    }
    *end = 0;
    if (*(name = str_trim(name)) == 0) {
        return err_set(err, "%s, line %d: empty name before ':'", file, line);
    }
    value = str_trim(end + 1);
    if (*value == 0) {
        return err_set(err, "%s, line %d: no value for \"%s\"", file, line, name);
    }
    map_source_add_pair(pc, name, value, line);
    return true;
}

/* map_source_pair_line - split one logical line at the first white space */
static bool
map_source_pair_line(void *ctx, const char *file, int line, char *text, struct err *err)
{
    struct map_source_pairs_ctx *pc = ctx;
    size_t klen;
    char *value;

    if (pc->flags & MAP_SOURCE_ALIASES)
        return map_source_alias_line(pc, file, line, text, err);
    klen = strcspn(text, " \t\f\v");
    value = str_trim(text + klen);
    if (*value == 0) {
        return err_set(err, "%s, line %d: expected \"key value\", got \"%s\"", file, line, text);
    }
    text[klen] = 0;
    map_source_add_pair(pc, text, value, line);
    return true;
}

bool
map_source_pairs(const char *path, int flags, struct map_pairs *pairs, struct err *err)
{
    struct map_source_pairs_ctx pc = {pairs, flags};

    if (!map_source_read(path, map_source_pair_line, &pc, err)) {
        map_pairs_free(pairs);
        return false;
    }
    map_pairs_finish(pairs, path);
    return true;
}

/* A fixed table over finished pairs: what texthash and inline share once they have read. */
struct map_pairs_table {
    struct map map;
    struct map_pairs pairs;
};

/* map_pairs_table_lookup - binary search in the sorted pairs */
static enum map_status
map_pairs_table_lookup(struct map *map, const char *key, int lookup_flags, struct err *err)
{
    struct map_pairs_table *pt = (struct map_pairs_table *)map;
    const struct map_pair *pair = map_pairs_find(&pt->pairs, key);

    if (pair == NULL)
        return MAP_NOTFOUND;
    return map_set_value(map, pair->value, strlen(pair->value), err) ? MAP_FOUND : MAP_ERROR;
}

/* map_pairs_table_walk - call fn with each pair in key order until it returns false */
static bool
map_pairs_table_walk(struct map *map, map_walk_fn fn, void *ctx, struct err *err)
{
    struct map_pairs_table *pt = (struct map_pairs_table *)map;

    for (size_t i = 0; i < pt->pairs.n; i++)
        if (!fn(ctx, pt->pairs.v[i].key, pt->pairs.v[i].value))
            break;
    return true;
}

static void
map_pairs_table_close(struct map *map)
{
    struct map_pairs_table *pt = (struct map_pairs_table *)map;

    map_pairs_free(&pt->pairs);
    free(pt);
}

static const struct map_ops map_pairs_table_ops = {
    .lookup = map_pairs_table_lookup,
    .walk = map_pairs_table_walk,
    .close = map_pairs_table_close,
};

struct map *
map_pairs_table(struct map_pairs *pairs)
{
    struct map_pairs_table *pt = xcalloc(1, sizeof(*pt));

    pt->map.ops = &map_pairs_table_ops;
    pt->map.props = MAP_PROP_FIXED;
    pt->pairs = *pairs;
    map_pairs_init(pairs);
    return &pt->map;
}
