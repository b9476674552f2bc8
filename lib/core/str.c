/*
 * str.c - ASCII string helpers.
 *
 * Trusts: nothing; all routines take NUL-terminated strings and never read past them.
 * Case folding is ASCII only on purpose: protocol keywords and DNS names are ASCII, and the
 * result must not depend on the process locale.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/str.h"

static int
ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static bool
ascii_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

char *
str_lower(char *s)
{
    for (char *p = s; *p; p++)
        *p = (char)ascii_lower((unsigned char)*p);
    return s;
}

bool
str_eq_nocase(const char *a, const char *b)
{
    while (*a && ascii_lower((unsigned char)*a) == ascii_lower((unsigned char)*b))
        a++, b++;
    return *a == 0 && *b == 0;
}

bool
str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool
str_has_suffix_nocase(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);

    return ls >= lx && str_eq_nocase(s + ls - lx, suffix);
}

/* str_trim - strip leading and trailing white space in place */
char *
str_trim(char *s)
{
    char *end;

    while (ascii_space((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && ascii_space((unsigned char)end[-1]))
        *--end = 0;
    return s;
}

/*
 * str_token - cut the next token out of *cursor, skipping any run of delimiters first.
 * Returns NULL when only delimiters remain. The string is modified in place.
 */
char *
str_token(char **cursor, const char *delims)
{
    char *start = *cursor + strspn(*cursor, delims);
    char *end;

    if (*start == 0) {
        *cursor = start;
        return NULL;
    }
    end = start + strcspn(start, delims);
    if (*end)
        *end++ = 0;
    *cursor = end;
    return start;
}

/* str_to_long - parse a whole decimal number within [min, max]; no sign games, no junk */
bool
str_to_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    if (*s == 0 || ascii_space((unsigned char)*s) || *s == '+')
        return false;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

void
strvec_init(struct strvec *sv)
{
    sv->v = NULL;
    sv->n = 0;
    sv->cap = 0;
}

/* strvec_add_owned - append s, taking ownership; v[n] stays NULL for execv-style use */
void
strvec_add_owned(struct strvec *sv, char *s)
{
    if (sv->n + 1 >= sv->cap) {
        sv->cap = sv->cap ? sv->cap * 2 : 8;
        sv->v = xreallocarray(sv->v, sv->cap, sizeof(*sv->v));
    }
    sv->v[sv->n++] = s;
    sv->v[sv->n] = NULL;
}

void
strvec_add(struct strvec *sv, const char *s)
{
    strvec_add_owned(sv, xstrdup(s));
}

bool
strvec_contains(const struct strvec *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++)
        if (strcmp(sv->v[i], s) == 0)
            return true;
    return false;
}

void
strvec_free(struct strvec *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    strvec_init(sv);
}

/*
 * strvec_split_list - append each element of a list as main.cf writes one: separated by
 * commas and white space, except inside {braces}, which group and must balance. Returns 0,
 * or the brace that does not balance ('{' never closed, '}' never opened) with *bad set to
 * the start of the element it is in.
 */
int
strvec_split_list(struct strvec *sv, const char *text, const char **bad)
{
    const char *p = text, *start;
    int depth;

    for (;;) {
        p += strspn(p, STR_LIST_DELIMS);
        if (*p == 0)
            return 0;
        for (start = p, depth = 0; *p && (depth > 0 || !strchr(STR_LIST_DELIMS, *p)); p++) {
            if (*p == '{')
                depth++;
            else if (*p == '}' && --depth < 0)
                break;
        }
        if (depth != 0) {
            *bad = start;
            return depth > 0 ? '{' : '}';
        }
        strvec_add_owned(sv, xstrndup(start, (size_t)(p - start)));
    }
}

/* strvec_split - append every token of text, as separated by any run of delims */
void
strvec_split(struct strvec *sv, const char *text, const char *delims)
{
    char *copy = xstrdup(text), *cursor = copy, *tok;

    while ((tok = str_token(&cursor, delims)) != NULL)
        strvec_add(sv, tok);
    free(copy);
}

/* str_hash - FNV-1a of a string, for hash tables keyed by text */
unsigned
str_hash(const char *s)
{
    unsigned h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

size_t
str_copy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);
    size_t n = len < size - 1 ? len : size - 1;

    memcpy(dst, src, n);
    dst[n] = 0;
    return len;
}
