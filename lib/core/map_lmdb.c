/*
 * map_lmdb.c - lmdb:/path and hash:/path: the LMDB file /path.lmdb, built from /path.
 *
 * File format: one LMDB environment in a single file (MDB_NOSUBDIR), main database only.
 * Keys and values are stored with a terminating NUL byte, as Postfix's postmap writes its
 * lmdb tables by default; lookups try "key\0" first and then "key" (files built by
 * `postmap -n`), and a value's trailing NUL is dropped. Keys of fixed tables are stored in
 * lower case unless the table was built with `postern map -f`.
 *
 * Invariant: a published /path.lmdb is never written again. map_lmdb_build() writes a new
 * file beside it and renames it into place, so a reader sees the old table or the new one,
 * never a half-written one. That is why readers may open with MDB_NOLOCK (no lock file, so
 * an unprivileged daemon can read a root-owned table in a root-owned directory).
 *
 * Trusts: nothing in the file. After opening, the file size is checked against the last page
 * LMDB will touch, so a truncated file is an error naming the file instead of a SIGBUS;
 * LMDB itself checks page numbers against that bound on every read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "core/log.h"
#include "core/map_source.h"
#include "core/map_type.h"
#include "core/mem.h"

#define MAP_LMDB_BUILD_TRIES 10

struct map_lmdb {
    struct map map;
    char *path; /* the .lmdb file */
    MDB_env *env;
    MDB_txn *txn; /* a reset read transaction, renewed for each lookup */
    MDB_dbi dbi;
    size_t maxkey;
};

static void
map_lmdb_close(struct map *map)
{
    struct map_lmdb *ml = (struct map_lmdb *)map;

    if (ml->txn)
        mdb_txn_abort(ml->txn);
    if (ml->env)
        mdb_env_close(ml->env);
    free(ml->path);
    free(ml);
}

/* map_lmdb_get - one mdb_get in a renewed read transaction; MDB_NOTFOUND or another code */
static int
map_lmdb_get(struct map_lmdb *ml, const char *key, size_t len, struct err *err)
{
    MDB_val k = {len, (void *)(uintptr_t)key}, v;
    int rc;

    if (len == 0 || len > ml->maxkey)
        return MDB_NOTFOUND;
    if ((rc = mdb_txn_renew(ml->txn)) != 0)
        return rc;
    if ((rc = mdb_get(ml->txn, ml->dbi, &k, &v)) == 0) {
        size_t vlen = v.mv_size;
        if (vlen > 0 && ((const char *)v.mv_data)[vlen - 1] == 0)
            vlen--;
        if (!map_set_value(&ml->map, v.mv_data, vlen, err))
            rc = EOVERFLOW;
    }
    mdb_txn_reset(ml->txn);
    return rc;
}

static enum map_status
map_lmdb_lookup(struct map *map, const char *key, int lookup_flags, struct err *err)
{
    struct map_lmdb *ml = (struct map_lmdb *)map;
    size_t len = strlen(key);
    int rc = map_lmdb_get(ml, key, len + 1, err);

    if (rc == MDB_NOTFOUND)
        rc = map_lmdb_get(ml, key, len, err);
    if (rc == 0)
        return MAP_FOUND;
    if (rc == MDB_NOTFOUND)
        return MAP_NOTFOUND;
    if (rc != EOVERFLOW)
        err_set(err, "%s: lookup in %s: %s", map->spec, ml->path, mdb_strerror(rc));
    return MAP_ERROR;
}

/* map_lmdb_string - a key or value as a C string, without its stored NUL */
static char *
map_lmdb_string(const MDB_val *val)
{
    size_t len = val->mv_size;

    if (len > 0 && ((const char *)val->mv_data)[len - 1] == 0)
        len--;
    return xstrndup(val->mv_data, len);
}

/* map_lmdb_walk - every key and value of the table, in key order, to fn (postern map -s) */
static bool
map_lmdb_walk(struct map *map, map_walk_fn fn, void *ctx, struct err *err)
{
    struct map_lmdb *ml = (struct map_lmdb *)map;
    MDB_cursor *cursor = NULL;
    MDB_val k, v;
    int rc;

    if ((rc = mdb_txn_renew(ml->txn)) == 0 &&
        (rc = mdb_cursor_open(ml->txn, ml->dbi, &cursor)) == 0) {
        for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
            char *key = map_lmdb_string(&k), *value = map_lmdb_string(&v);
            bool more = fn(ctx, key, value);
            free(key);
            free(value);
            if (!more)
                break;
        }
        mdb_cursor_close(cursor);
    }
    mdb_txn_reset(ml->txn);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return true;
    return err_set(err, "%s: reading %s: %s", map->spec, ml->path, mdb_strerror(rc));
}

static const struct map_ops map_lmdb_ops = {
    .lookup = map_lmdb_lookup,
    .walk = map_lmdb_walk,
    .close = map_lmdb_close,
};

/* map_lmdb_missing - explain a missing .lmdb file: never built, or no source either */
static void
map_lmdb_missing(const char *type, const char *name, const char *path, struct err *err)
{
    struct stat st;

    if (stat(name, &st) == 0)
        err_set_kind(err, ERR_MISSING, "%s:%s: %s is not built: run \"postern map %s:%s\"", type,
                     name, path, type, name);
    else
        err_set_kind(err, ERR_MISSING, "%s:%s: open %s: %s", type, name, path, strerror(ENOENT));
}

/* map_lmdb_validate - the file must hold every page the database says it uses */
static bool
map_lmdb_validate(struct map_lmdb *ml, const char *type, const char *name, struct err *err)
{
    MDB_envinfo info;
    MDB_stat stat;
    struct stat st;
    int fd;

    if (mdb_env_get_fd(ml->env, &fd) != 0 || fstat(fd, &st) < 0) {
        return err_set(err, "%s:%s: stat %s: %s", type, name, ml->path, strerror(errno));
    }
    if (mdb_env_info(ml->env, &info) != 0 || mdb_env_stat(ml->env, &stat) != 0 ||
        stat.ms_psize == 0 ||
        (unsigned long long)(info.me_last_pgno + 1) * stat.ms_psize >
            (unsigned long long)st.st_size) {
        return err_set(err, "%s:%s: %s is truncated or corrupt (%lld bytes): rebuild it", type,
                       name, ml->path, (long long)st.st_size);
    }
    return true;
}

/* map_lmdb_check_age - warn, as Postfix does, when the source changed after the build */
static void
map_lmdb_check_age(const char *name, const char *path)
{
    struct stat src, db;

    if (stat(name, &src) == 0 && stat(path, &db) == 0 && src.st_mtime > db.st_mtime)
        log_warn("database %s is older than source file %s", path, name);
}

/*
 * map_lmdb_open - open name.lmdb read-only, after checking that it is built, not empty and
 * whole
 */
struct map *
map_lmdb_open(const char *type, const char *name, int flags, struct err *err)
{
    struct map_lmdb *ml = xcalloc(1, sizeof(*ml));
    struct stat st;
    int rc;

    ml->map.ops = &map_lmdb_ops;
    ml->map.props = MAP_PROP_FIXED;
    ml->path = xasprintf("%s%s", name, MAP_LMDB_SUFFIX);
    if (stat(ml->path, &st) < 0) {
        if (errno == ENOENT)
            map_lmdb_missing(type, name, ml->path, err);
        else
            err_set(err, "%s:%s: open %s: %s", type, name, ml->path, strerror(errno));
        goto fail;
    }
    if (st.st_size == 0) {
        err_set(err, "%s:%s: %s is empty: rebuild it", type, name, ml->path);
        goto fail;
    }
    if ((rc = mdb_env_create(&ml->env)) != 0 ||
        (rc = mdb_env_open(ml->env, ml->path, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK, 0)) != 0 ||
        (rc = mdb_txn_begin(ml->env, NULL, MDB_RDONLY, &ml->txn)) != 0 ||
        (rc = mdb_dbi_open(ml->txn, NULL, 0, &ml->dbi)) != 0) {
        err_set(err, "%s:%s: open %s: %s", type, name, ml->path, mdb_strerror(rc));
        goto fail;
    }
    mdb_txn_reset(ml->txn);
    ml->maxkey = (size_t)mdb_env_get_maxkeysize(ml->env);
    if (!map_lmdb_validate(ml, type, name, err))
        goto fail;
    map_lmdb_check_age(name, ml->path);
    return &ml->map;

fail:
    map_lmdb_close(&ml->map);
    return NULL;
}

/* map_lmdb_put_all - write every pair into a fresh database file at tmp; an LMDB code */
static int
map_lmdb_put_all(const char *tmp, const struct map_pairs *pairs, size_t mapsize, const char *source,
                 struct err *err)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    int rc;

    if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_mapsize(env, mapsize)) != 0 ||
        (rc = mdb_env_open(env, tmp, MDB_NOSUBDIR | MDB_NOLOCK, 0600)) != 0 ||
        (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0)
        goto done;
    for (size_t i = 0; i < pairs->n; i++) {
        const struct map_pair *p = &pairs->v[i];
        MDB_val k = {strlen(p->key) + 1, p->key}, v = {strlen(p->value) + 1, p->value};

        if (k.mv_size > (size_t)mdb_env_get_maxkeysize(env)) {
            err_set(err, "%s, line %d: key longer than %d bytes", source, p->line,
                    mdb_env_get_maxkeysize(env) - 1);
            rc = MDB_BAD_VALSIZE;
            goto done;
        }
        if ((rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND)) != 0)
            goto done;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc == 0)
        rc = mdb_env_sync(env, 1);
done:
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    return rc;
}

/* map_lmdb_mapsize - a first guess at the map size; doubled while LMDB says it is full */
static size_t
map_lmdb_mapsize(const struct map_pairs *pairs)
{
    size_t total = 1024 * 1024;

    for (size_t i = 0; i < pairs->n; i++)
        total += 2 * (strlen(pairs->v[i].key) + strlen(pairs->v[i].value) + 32);
    return total;
}

/* map_lmdb_make_temp - create an empty file beside path with the source's owner and mode */
static char *
map_lmdb_make_temp(const char *path, const struct stat *src, struct err *err)
{
    char *tmp = xasprintf("%s.XXXXXX", path);
    int fd = mkstemp(tmp);

    if (fd < 0) {
        err_set(err, "create %s: %s", tmp, strerror(errno));
        free(tmp);
        return NULL;
    }
    if (geteuid() == 0 && fchown(fd, src->st_uid, src->st_gid) < 0)
        log_warn("chown %s: %s", tmp, strerror(errno));
    if (fchmod(fd, src->st_mode & 0666) < 0)
        log_warn("chmod %s: %s", tmp, strerror(errno));
    close(fd);
    return tmp;
}

/* map_lmdb_sync_dir - make the rename durable */
static void
map_lmdb_sync_dir(const char *path)
{
    char *dir = xstrdup(path), *slash = strrchr(dir, '/');
    int fd;

    if (slash == dir)
        slash[1] = 0;
    else if (slash)
        *slash = 0;
    else
        strcpy(dir, ".");
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        if (fsync(fd) < 0)
            log_warn("fsync %s: %s", dir, strerror(errno));
        close(fd);
    }
    free(dir);
}

/* map_lmdb_write - build tmp from pairs, growing the map until it fits */
static bool
map_lmdb_write(const char *spec, const char *tmp, const char *source, const struct map_pairs *pairs,
               struct err *err)
{
    size_t mapsize = map_lmdb_mapsize(pairs);
    int rc = MDB_MAP_FULL;

    err->text[0] = 0;
    for (int i = 0; i < MAP_LMDB_BUILD_TRIES && rc == MDB_MAP_FULL; i++, mapsize *= 2) {
        if (truncate(tmp, 0) < 0) {
            return err_set(err, "%s: truncate %s: %s", spec, tmp, strerror(errno));
        }
        rc = map_lmdb_put_all(tmp, pairs, mapsize, source, err);
    }
    if (rc != 0 && err->text[0] == 0)
        err_set(err, "%s: writing %s: %s", spec, tmp, mdb_strerror(rc));
    return rc == 0;
}

/*
 * map_lmdb_build - read the source file and write name.lmdb beside it: a temporary file
 * renamed into place, so readers see the old or the new table, never half of one
 */
bool
map_lmdb_build(const char *type, const char *name, int flags, struct err *err)
{
    char *spec = xasprintf("%s:%s", type, name);
    char *path = xasprintf("%s%s", name, MAP_LMDB_SUFFIX);
    struct map_pairs pairs;
    struct stat st;
    char *tmp = NULL;
    bool done = false;

    map_pairs_init(&pairs);
    if (stat(name, &st) < 0)
        err_set(err, "%s: open %s: %s", spec, name, strerror(errno));
    else if (map_source_pairs(name, flags, &pairs, err) &&
             (tmp = map_lmdb_make_temp(path, &st, err)) != NULL &&
             map_lmdb_write(spec, tmp, name, &pairs, err)) {
        if (rename(tmp, path) < 0)
            err_set(err, "%s: rename %s to %s: %s", spec, tmp, path, strerror(errno));
        else
            done = true;
    }
    if (tmp && !done)
        unlink(tmp);
    if (done)
        map_lmdb_sync_dir(path);
    map_pairs_free(&pairs);
    free(tmp);
    free(path);
    free(spec);
    return done;
}
