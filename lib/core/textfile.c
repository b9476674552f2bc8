/*
 * textfile.c - read a whole text file into a buffer.
 *
 * Trusts: nothing in the file. It must fit in limit bytes and hold no NUL byte (our text
 * parsers work on C strings, and a NUL would silently cut the rest off).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/str.h"
#include "core/textfile.h"

/* textfile_read - the file's bytes in text (a C string), or false with the reason */
bool
textfile_read(const char *path, size_t limit, struct buf *text, struct err *err)
{
    FILE *fp = fopen(path, "r");
    char chunk[8192];
    size_t n;
    bool good = true;

    buf_init(text, limit);
    if (fp == NULL) {
        return err_set_kind(err, errno == ENOENT ? ERR_MISSING : ERR_FAILED, "open %s: %s", path,
                            strerror(errno));
    }
    while (good && (n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        if (!buf_append(text, chunk, n)) {
            err_set(err, "%s: larger than %zu bytes", path, limit);
            good = false;
        }
    if (good && ferror(fp)) {
        err_set(err, "read %s: %s", path, strerror(errno));
        good = false;
    }
    if (good && memchr(buf_str(text), 0, text->len) != NULL) {
        err_set(err, "%s: contains a NUL byte", path);
        good = false;
    }
    fclose(fp);
    if (!good)
        buf_free(text);
    return good;
}

static bool
textfile_skip(const char *line)
{
    line += strspn(line, " \t\r\f\v");
    return *line == 0 || *line == '#';
}

/*
 * textfile_logical - the logical lines of text (a line starting with white space continues
 * the one before; empty and # lines skipped) to fn; *orphan is the line of a continuation
 * with nothing before it
 */
bool
textfile_logical(const char *text, textfile_line_fn fn, void *ctx, int *orphan)
{
    struct buf logical;
    int lineno = 0, start = 0;
    bool good = true;

    *orphan = 0;
    buf_init(&logical, BUF_UNLIMITED);
    for (const char *p = text; good && *p;) {
        size_t len = strcspn(p, "\n");
        char *line = xstrndup(p, len);

        p += len + (p[len] == '\n');
        lineno++;
        if (textfile_skip(line)) {
            free(line);
            continue;
        }
        if (line[0] == ' ' || line[0] == '\t') {
            if (logical.len == 0) {
                *orphan = lineno;
                good = false;
            } else {
                buf_putc(&logical, ' ');
                buf_puts(&logical, str_trim(line));
            }
        } else {
            if (logical.len)
                good = fn(ctx, logical.data, start);
            buf_reset(&logical);
            buf_puts(&logical, str_trim(line));
            start = lineno;
        }
        free(line);
    }
    if (good && logical.len)
        good = fn(ctx, logical.data, start);
    buf_free(&logical);
    return good;
}
