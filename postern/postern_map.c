/*
 * postern_map.c - `postern map`: build, query and list lookup tables (Postfix's postmap).
 *
 *   postern map [-f] [-c dir] [type:]file ...      build file.lmdb from each file
 *   postern map [-f] [-c dir] -q key table ...     print the value; the first table wins
 *   postern map [-f] [-c dir] -q - table ...       keys on stdin, "key<TAB>value" out
 *   postern map [-f] [-c dir] -s table ...         every "key<TAB>value" of each table
 *   postern alias ...                              the same, for aliases(5) sources (postalias)
 *   postern newaliases [-c dir]                    build every table of alias_database
 *
 * A table without a type is lmdb:. Exit status: 0 done or found, 1 not found, 2 any error
 * (usage, open, build or lookup), with a message on stderr naming the table, file and line.
 *
 * Runs as the invoking user. Trusts its command line; reads keys from stdin one line at a
 * time, each at most POSTERN_MAP_KEY_MAX bytes.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/conf.h"
#include "core/log.h"
#include "core/map.h"
#include "core/mem.h"
#include "mail/params.h"
#include "postern/postern.h"

#define POSTERN_MAP_KEY_MAX 65536

enum postern_map_exit {
    POSTERN_MAP_OK = 0,
    POSTERN_MAP_NOTFOUND = 1,
    POSTERN_MAP_FAIL = 2,
};

struct postern_map_tables {
    struct map **maps;
    size_t n;
};

static int
postern_map_usage(const char *verb)
{
    fprintf(stderr,
            "usage: postern %s [-f] [-c dir] [type:]file ...\n"
            "       postern %s [-f] [-c dir] -q key|- type:name ...\n"
            "       postern %s [-f] [-c dir] -s type:name ...\n",
            verb, verb, verb);
    return POSTERN_MAP_FAIL;
}

/* postern_map_spec - "type:name" as given, or the default type before a bare file name */
static char *
postern_map_spec(const char *arg, const char *default_type)
{
    size_t len = strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789_");

    if (len > 0 && arg[len] == ':')
        return xstrdup(arg);
    return xasprintf("%s:%s", default_type, arg);
}

static int
postern_map_build(char **args, int nargs, int flags, const char *default_type)
{
    struct err err;

    for (int i = 0; i < nargs; i++) {
        char *spec = postern_map_spec(args[i], default_type);
        bool built = map_build(spec, flags, &err);

        free(spec);
        if (!built) {
            log_error("%s", err.text);
            return POSTERN_MAP_FAIL;
        }
    }
    return POSTERN_MAP_OK;
}

static void
postern_map_close_all(struct postern_map_tables *tables)
{
    for (size_t i = 0; i < tables->n; i++)
        map_close(tables->maps[i]);
    free(tables->maps);
}

/* postern_map_open_all - open every table named; false (after a message) if one fails */
static bool
postern_map_open_all(struct postern_map_tables *tables, char **args, int nargs, int flags,
                     const char *default_type)
{
    struct err err;

    tables->maps = xcalloc((size_t)nargs, sizeof(*tables->maps));
    tables->n = 0;
    for (int i = 0; i < nargs; i++) {
        char *spec = postern_map_spec(args[i], default_type);

        tables->maps[i] = map_open(spec, flags, &err);
        free(spec);
        if (tables->maps[i] == NULL) {
            log_error("%s", err.text);
            postern_map_close_all(tables);
            return false;
        }
        tables->n++;
    }
    return true;
}

/* postern_map_find - the first table that has key decides */
static enum map_status
postern_map_find(struct postern_map_tables *tables, const char *key, const char **value)
{
    struct err err;

    for (size_t i = 0; i < tables->n; i++) {
        enum map_status status = map_lookup(tables->maps[i], key, 0, value, &err);
        if (status == MAP_ERROR)
            log_error("%s", err.text);
        if (status != MAP_NOTFOUND)
            return status;
    }
    return MAP_NOTFOUND;
}

/* postern_map_read_key - one line of stdin without its line end; false at end of input */
static bool
postern_map_read_key(struct buf *line, bool *too_long)
{
    int c;

    buf_reset(line);
    *too_long = false;
    while ((c = getchar()) != EOF && c != '\n') {
        if (!buf_putc(line, c)) {
            *too_long = true;
            return false;
        }
    }
    if (c == EOF && line->len == 0)
        return false;
    if (line->len > 0 && line->data[line->len - 1] == '\r')
        buf_truncate(line, line->len - 1);
    return true;
}

/* postern_map_query_stdin - `postern map -q -`: each key on stdin, with its value when found */
static int
postern_map_query_stdin(struct postern_map_tables *tables)
{
    struct buf line;
    bool found = false, too_long;
    int result = POSTERN_MAP_OK;

    buf_init(&line, POSTERN_MAP_KEY_MAX);
    while (result == POSTERN_MAP_OK && postern_map_read_key(&line, &too_long)) {
        const char *value;
        enum map_status status;

        if (line.len == 0)
            continue;
        if (strlen(buf_str(&line)) != line.len) {
            log_error("stdin: NUL byte in a key");
            result = POSTERN_MAP_FAIL;
            break;
        }
        status = postern_map_find(tables, buf_str(&line), &value);
        if (status == MAP_ERROR)
            result = POSTERN_MAP_FAIL;
        else if (status == MAP_FOUND) {
            printf("%s\t%s\n", buf_str(&line), value);
            found = true;
        }
    }
    if (too_long) {
        log_error("stdin: key longer than %d bytes", POSTERN_MAP_KEY_MAX);
        result = POSTERN_MAP_FAIL;
    }
    buf_free(&line);
    if (result == POSTERN_MAP_OK && !found)
        result = POSTERN_MAP_NOTFOUND;
    return result;
}

static int
postern_map_query(struct postern_map_tables *tables, const char *key)
{
    const char *value;

    if (strcmp(key, "-") == 0)
        return postern_map_query_stdin(tables);
    switch (postern_map_find(tables, key, &value)) {
    case MAP_FOUND:
        printf("%s\n", value);
        return POSTERN_MAP_OK;
    case MAP_NOTFOUND:
        return POSTERN_MAP_NOTFOUND;
    default:
        return POSTERN_MAP_FAIL;
    }
}

static bool
postern_map_print(void *ctx, const char *key, const char *value)
{
    printf("%s\t%s\n", key, value);
    return true;
}

static int
postern_map_list(struct postern_map_tables *tables)
{
    struct err err;

    for (size_t i = 0; i < tables->n; i++) {
        if (!map_walk(tables->maps[i], postern_map_print, NULL, &err)) {
            log_error("%s", err.text);
            return POSTERN_MAP_FAIL;
        }
    }
    return POSTERN_MAP_OK;
}

/* postern_map_flush - a failed write to stdout (a full disk, a closed pipe) is an error */
static int
postern_map_flush(int result)
{
    if (fflush(stdout) == EOF || ferror(stdout)) {
        log_error("write to standard output failed");
        return POSTERN_MAP_FAIL;
    }
    return result;
}

/*
 * postern_map_param - a parameter from main.cf: of -c dir (which must have one), else of the
 * default configuration when it exists, else the built-in default. NULL after a message.
 */
static char *
postern_map_param(const char *config_dir, const char *name)
{
    char *dir = config_dir ? xstrdup(config_dir) : postern_config_dir();
    char *path = xasprintf("%s/main.cf", dir);
    struct conf *conf = params_conf_new();
    struct err err;
    char *value = NULL;

    if ((config_dir == NULL && access(path, F_OK) != 0) || conf_read_file(conf, path, &err)) {
        if (!conf_get_str(conf, name, &value, &err))
            log_error("%s", err.text);
    } else {
        log_error("%s", err.text);
    }
    conf_free(conf);
    free(path);
    free(dir);
    return value;
}

/* postern_map_config_dir - -c must name a directory */
static bool
postern_map_config_dir(const char *config_dir)
{
    struct stat st;

    if (config_dir && (stat(config_dir, &st) < 0 || !S_ISDIR(st.st_mode))) {
        log_error("-c %s: not a directory", config_dir);
        return false;
    }
    return true;
}

/* postern_map_run - `postern map` and `postern alias`: the same options, another source */
static int
postern_map_run(int argc, char **argv, const char *verb, int source_flags)
{
    struct postern_map_tables tables;
    const char *query = NULL, *config_dir = NULL;
    char *default_type;
    bool list = false;
    int flags = MAP_FOLD_FIXED | source_flags, c, result;

    optind = 1;
    while ((c = getopt(argc, argv, "c:fq:s")) != -1) {
        switch (c) {
        case 'c':
            config_dir = optarg;
            break;
        case 'f':
            flags &= ~MAP_FOLD_FIXED;
            break;
        case 'q':
            query = optarg;
            break;
        case 's':
            list = true;
            break;
        default:
            return postern_map_usage(verb);
        }
    }
    if (optind >= argc || (query && list))
        return postern_map_usage(verb);
    if (!postern_map_config_dir(config_dir) ||
        (default_type = postern_map_param(config_dir, "default_database_type")) == NULL)
        return POSTERN_MAP_FAIL;
    if (query == NULL && !list) {
        result = postern_map_build(argv + optind, argc - optind, flags, default_type);
    } else if (!postern_map_open_all(&tables, argv + optind, argc - optind, flags, default_type)) {
        result = POSTERN_MAP_FAIL;
    } else {
        result = query ? postern_map_query(&tables, query) : postern_map_list(&tables);
        postern_map_close_all(&tables);
        result = postern_map_flush(result);
    }
    free(default_type);
    return result;
}

int
postern_map_main(int argc, char **argv)
{
    return postern_map_run(argc, argv, "map", 0);
}

int
postern_alias_main(int argc, char **argv)
{
    return postern_map_run(argc, argv, "alias", MAP_SOURCE_ALIASES);
}

/* postern_newaliases_main - build every table alias_database names, from aliases(5) sources */
int
postern_newaliases_main(int argc, char **argv)
{
    const char *config_dir = NULL;
    char *tables, *default_type = NULL;
    struct strvec specs;
    struct err err;
    int c, result = POSTERN_MAP_FAIL;

    optind = 1;
    while ((c = getopt(argc, argv, "c:")) != -1 && c == 'c')
        config_dir = optarg;
    if (c != -1 || optind != argc) {
        fprintf(stderr, "usage: postern newaliases [-c dir]\n");
        return POSTERN_MAP_FAIL;
    }
    if (!postern_map_config_dir(config_dir) ||
        (tables = postern_map_param(config_dir, "alias_database")) == NULL)
        return POSTERN_MAP_FAIL;
    strvec_init(&specs);
    if (!conf_split_list(tables, &specs, &err))
        log_error("alias_database: %s", err.text);
    else if ((default_type = postern_map_param(config_dir, "default_database_type")) != NULL)
        result = postern_map_build(specs.v, (int)specs.n, MAP_FOLD_FIXED | MAP_SOURCE_ALIASES,
                                   default_type);
    strvec_free(&specs);
    free(default_type);
    free(tables);
    return result;
}
