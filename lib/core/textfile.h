/* textfile.h - read a whole configuration-sized text file, with a size limit */
#ifndef CORE_TEXTFILE_H
#define CORE_TEXTFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

bool textfile_read(const char *path, size_t limit, struct buf *text, struct err *err);

/*
 * Postfix's logical lines: a line that starts with white space continues the one before
 * (joined with one space); blank lines and lines whose first non-blank is '#' are skipped
 * and do not end a logical line. fn gets each logical line (modifiable) with the number of
 * its first physical line; returning false stops the walk. A continuation with nothing
 * before it stops the walk too, with *orphan set to its line (0 otherwise).
 */
typedef bool (*textfile_line_fn)(void *ctx, char *line, int lineno);
bool textfile_logical(const char *text, textfile_line_fn fn, void *ctx, int *orphan);

#endif
