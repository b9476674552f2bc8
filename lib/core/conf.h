/* conf.h - main.cf-style parameters: declared once, read from a file, expanded, typed */
#ifndef CORE_CONF_H
#define CORE_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/str.h"

/*
 * A parameter is declared once, in a table of struct param_decl (see lib/mail/params.def
 * for postern's own). struct conf holds that table, the entries read from main.cf in file
 * order (name, value as written, file, line), and overrides (-o name=value). Lookups fall
 * back: override, then main.cf, then the declared default. Values are stored as written and
 * expanded on demand: "$name" and "${name}" are replaced recursively with a depth guard;
 * "$$" is a literal '$'; Postfix's "${name?text}" and "${name:text}" (text when name is
 * non-empty / empty) are supported. A name that is neither declared nor defined expands to
 * "" (as in Postfix); conf_unused() finds such names for a warning.
 *
 * No function here exits on bad input: errors come back in struct err as
 * "FILE, line N: text" (or "-o name: text") for the caller to report.
 */

enum param_type {
    PARAM_STR,
    PARAM_INT,
    PARAM_BOOL,
    PARAM_TIME,
    PARAM_SIZE,
    PARAM_LIST,
};

struct param_decl {
    const char *name;
    enum param_type type;
    const char *dflt; /* as main.cf text; may contain $name */
    long min;         /* numeric types: bounds after unit conversion */
    long max;
    char unit;       /* PARAM_TIME: unit of a bare number: 's', 'm', 'h', 'd' or 'w' */
    const char *doc; /* one line, for `postern conf -d` comments and the man page */
};

struct conf;

struct conf *conf_new(const struct param_decl *decls, size_t ndecls);
void conf_free(struct conf *conf);

/* Reading and changing. */
bool conf_read_file(struct conf *conf, const char *path, struct err *err);
bool conf_read_text(struct conf *conf, const char *origin, const char *text, struct err *err);
bool conf_override(struct conf *conf, const char *name, const char *value, struct err *err);
void conf_set_default(struct conf *conf, const char *name, const char *value);
typedef char *(*conf_default_fn)(const struct conf *conf);
void conf_set_default_fn(struct conf *conf, const char *name, conf_default_fn fn);

/* Looking up. */
const struct param_decl *conf_decl(const struct conf *conf, const char *name);
const char *conf_raw(const struct conf *conf, const char *name);
bool conf_is_set(const struct conf *conf, const char *name);
char *conf_expand(const struct conf *conf, const char *text, struct err *err);

bool conf_get_str(const struct conf *conf, const char *name, char **out, struct err *err);
bool conf_get_long(const struct conf *conf, const char *name, long *out, struct err *err);
bool conf_get_bool(const struct conf *conf, const char *name, bool *out, struct err *err);
bool conf_get_list(const struct conf *conf, const char *name, struct strvec *out, struct err *err);

/* Value parsers, shared with master.cf and tests. Time and size results are in seconds
 * and bytes. */
bool conf_parse_bool(const char *text, bool *out);
bool conf_parse_time(const char *text, char default_unit, long *seconds);
bool conf_parse_size(const char *text, long *bytes);
bool conf_split_list(const char *text, struct strvec *out, struct err *err);

/* Walking the file's entries in order, for `postern conf -n` and the unused check. */
struct conf_entry {
    char *name;  /* owned by struct conf: read, never change */
    char *value; /* as written, continuation lines joined with one space */
    const char *file;
    int line;
};
size_t conf_entry_count(const struct conf *conf);
const struct conf_entry *conf_entry_at(const struct conf *conf, size_t i);

/* conf_unused - entries neither declared, nor referenced as $name by any value in conf or
 * in extra_values (say master.cf -o values), nor matched by a pattern in extra_names
 * ("*_destination_concurrency_limit" style suffix patterns are accepted). */
void conf_unused(const struct conf *conf, const struct strvec *extra_values,
                 const struct strvec *extra_names, struct strvec *unused_names);

#endif
