/* core_map_lmdb.c - lmdb: and hash: tables: build, look up, list, and refuse broken files */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "core/map.h"
#include "core/mem.h"
#include "t/tap.h"

static const char source[] = "# access table\n"
                             "Example.COM   REJECT no thanks\n"
                             "user@         OK\n"
                             "long  a,\n"
                             "   b\n";

static const struct {
    const char *type;
    int flags;
    const char *key;
    enum map_status status;
    const char *value;
} lookups[] = {
    {"lmdb", MAP_FOLD_FIXED, "example.com", MAP_FOUND, "REJECT no thanks"},
    {"lmdb", MAP_FOLD_FIXED, "EXAMPLE.com", MAP_FOUND, "REJECT no thanks"},
    {"hash", MAP_FOLD_FIXED, "user@", MAP_FOUND, "OK"},
    {"hash", MAP_FOLD_FIXED, "long", MAP_FOUND, "a, b"},
    {"lmdb", MAP_FOLD_FIXED, "nothere", MAP_NOTFOUND, NULL},
    {"lmdb", MAP_FOLD_FIXED, "", MAP_NOTFOUND, NULL},
    {"lmdb", 0, "EXAMPLE.com", MAP_NOTFOUND, NULL},
    {"lmdb", 0, "example.com", MAP_FOUND, "REJECT no thanks"},
};

/* build - write source to name and build it; the path of the source */
static char *
build(const char *name, const char *text, int flags)
{
    char *path = tap_write_file(name, text);
    char *spec = xasprintf("lmdb:%s", path);
    struct err err;

    if (!ok(map_build(spec, flags, &err), "build %s", spec))
        diag("%s", err.text);
    free(spec);
    return path;
}

static void
test_lookups(void)
{
    char *path = build("access", source, MAP_FOLD_FIXED);

    for (size_t i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
        char *spec = xasprintf("%s:%s", lookups[i].type, path);
        struct err err;
        struct map *map = map_open(spec, lookups[i].flags, &err);
        const char *value = NULL;

        if (!ok(map != NULL, "open %s", spec)) {
            diag("%s", err.text);
            free(spec);
            continue;
        }
        is_int(map_lookup(map, lookups[i].key, 0, &value, &err), lookups[i].status,
               "%s lookup '%s'", lookups[i].type, lookups[i].key);
        if (lookups[i].value)
            is_str(value, lookups[i].value, "... value");
        map_close(map);
        free(spec);
    }
    free(path);
}

static bool
collect(void *ctx, const char *key, const char *value)
{
    char *all = ctx;

    strcat(all, key);
    strcat(all, "=");
    strcat(all, value);
    strcat(all, ";");
    return true;
}

static void
test_walk_and_rebuild(void)
{
    char *path = build("walk", "b 2\na 1\n", MAP_FOLD_FIXED);
    char *spec = xasprintf("lmdb:%s", path);
    struct err err;
    struct map *old = map_open(spec, MAP_FOLD_FIXED, &err), *new;
    char all[256] = "";
    const char *value;
    struct stat st;
    char *db = xasprintf("%s.lmdb", path);

    ok(old && map_walk(old, collect, all, &err), "walk");
    is_str(all, "a=1;b=2;", "every entry, in key order");
    ok(map_changed() == NULL, "no open table has changed");

    free(build("walk", "a changed\n", MAP_FOLD_FIXED));
    is_str(map_changed(), spec, "a rebuild is noticed (map_changed)");
    ok(map_lookup(old, "a", 0, &value, &err) == MAP_FOUND && strcmp(value, "1") == 0,
       "a table opened before a rebuild keeps reading the old file");
    ok(map_lookup(old, "b", 0, &value, &err) == MAP_FOUND, "... all of it");
    new = map_open("lmdb:", 0, &err);
    ok(new == NULL, "(no name is an error)");
    new = map_open(spec, 0, &err);
    ok(new &&map_lookup(new, "a", 0, &value, &err) == MAP_FOUND &&strcmp(value, "changed") == 0,
       "a new open reads the new file");
    ok(new &&map_lookup(new, "b", 0, &value, &err) == MAP_NOTFOUND, "... only it");
    map_close(new);
    map_close(old);

    chmod(path, 0640);
    free(build("walk", "a x\n", MAP_FOLD_FIXED));
    ok(stat(db, &st) == 0 && (st.st_mode & 0777) == 0640, "the database gets the source's mode");
    free(db);
    free(spec);
    free(path);
}

static void
expect_open_error(const char *spec, const char *error)
{
    struct err err = {0};
    struct map *map = map_open(spec, 0, &err);

    ok(map == NULL, "open %s fails", spec);
    like(err.text, error, "... %s", error);
    map_close(map);
}

static void
test_broken_files(void)
{
    char *path = build("trunc", source, MAP_FOLD_FIXED);
    char *spec = xasprintf("lmdb:%s", path);
    char *db = xasprintf("%s.lmdb", path);
    char *missing = xasprintf("lmdb:%s/missing", tap_tmpdir());
    char *unbuilt = tap_write_file("unbuilt", "a b\n");
    char *unbuilt_spec = xasprintf("hash:%s", unbuilt);
    struct stat st;
    FILE *fp;

    ok(stat(db, &st) == 0 && st.st_size > 8192, "a built file has at least three pages");
    if (truncate(db, st.st_size - 4096) < 0)
        diag("truncate failed");
    expect_open_error(spec, "is truncated or corrupt");
    if (truncate(db, 100) < 0)
        diag("truncate failed");
    expect_open_error(spec, ".lmdb: ");
    if (truncate(db, 0) < 0)
        diag("truncate failed");
    expect_open_error(spec, "is empty: rebuild it");
    fp = fopen(db, "w");
    for (int i = 0; i < 3 * 4096; i++)
        fputc((i * 7919) & 0xff, fp);
    fclose(fp);
    expect_open_error(spec, "trunc.lmdb");

    expect_open_error(missing, "missing.lmdb: No such file or directory");
    expect_open_error(unbuilt_spec, "is not built: run \"postern map hash:");
    free(unbuilt_spec);
    free(unbuilt);
    free(missing);
    free(db);
    free(spec);
    free(path);
}

static void
test_build_errors(void)
{
    char *path = build("keep", "a 1\n", MAP_FOLD_FIXED);
    char *spec = xasprintf("lmdb:%s", path);
    char *longkey = xmalloc(700);
    struct err err = {0};
    struct map *map;
    const char *value;
    FILE *fp;

    fp = fopen(path, "w");
    fputs("a 2\nbroken\n", fp);
    fclose(fp);
    ok(!map_build(spec, MAP_FOLD_FIXED, &err), "a malformed source does not build");
    like(err.text, "keep, line 2: expected \"key value\"", "... naming file and line");
    map = map_open(spec, MAP_FOLD_FIXED, &err);
    ok(map && map_lookup(map, "a", 0, &value, &err) == MAP_FOUND && strcmp(value, "1") == 0,
       "the old database is untouched");
    map_close(map);

    memset(longkey, 'k', 699);
    longkey[699] = 0;
    fp = fopen(path, "w");
    fprintf(fp, "a 1\n%s v\n", longkey);
    fclose(fp);
    ok(!map_build(spec, MAP_FOLD_FIXED, &err), "a key LMDB cannot hold does not build");
    like(err.text, "line 2: key longer than", "... saying so");

    ok(!map_build("lmdb:/nonexistent/src", MAP_FOLD_FIXED, &err), "no source");
    like(err.text, "open /nonexistent/src: No such file", "... saying so");
    free(longkey);
    free(spec);
    free(path);
}

static void
test_big_table(void)
{
    size_t n = 20000;
    char *text = xmalloc(n * 64), *p = text, *path, *spec;
    struct err err;
    struct map *map;
    const char *value;

    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "key%zu value number %zu with some padding to grow the map\n", i, i);
    path = build("big", text, MAP_FOLD_FIXED);
    spec = xasprintf("lmdb:%s", path);
    map = map_open(spec, MAP_FOLD_FIXED, &err);
    ok(map && map_lookup(map, "key19999", 0, &value, &err) == MAP_FOUND &&
           strncmp(value, "value number 19999 ", 19) == 0,
       "a table larger than the first map size guess");
    map_close(map);
    free(spec);
    free(path);
    free(text);
}

/* test_postfix_keys - a file written without NUL bytes (postmap -n) is read too */
static void
test_postfix_keys(void)
{
    char *path = tap_write_file("nonul", "x y\n");
    char *db = xasprintf("%s.lmdb", path), *spec = xasprintf("lmdb:%s", path);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {3, (void *)"key"}, v = {5, (void *)"value"};
    struct err err;
    struct map *map;
    const char *value;

    mdb_env_create(&env);
    mdb_env_open(env, db, MDB_NOSUBDIR | MDB_NOLOCK, 0644);
    mdb_txn_begin(env, NULL, 0, &txn);
    mdb_dbi_open(txn, NULL, 0, &dbi);
    mdb_put(txn, dbi, &k, &v, 0);
    mdb_txn_commit(txn);
    mdb_env_close(env);
    map = map_open(spec, MAP_FOLD_FIXED, &err);
    ok(map && map_lookup(map, "KEY", 0, &value, &err) == MAP_FOUND && strcmp(value, "value") == 0,
       "keys and values without a NUL byte are found");
    map_close(map);
    free(spec);
    free(db);
    free(path);
}

int
main(void)
{
    test_lookups();
    test_walk_and_rebuild();
    test_broken_files();
    test_build_errors();
    test_big_table();
    test_postfix_keys();
    return done_testing();
}
