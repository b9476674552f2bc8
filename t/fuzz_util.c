/*
 * fuzz_util.c - helpers the fuzz targets share; linked into the libFuzzer programs and the
 * replay tests alike.
 *
 * fuzz_text() turns an input into a C string (cut at its first NUL) in a block of exactly
 * that size. fuzz_file() puts a text into a per-process scratch file, for parsers that read
 * a path. fuzz_map() opens one table and checks what every table type promises.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/map.h"
#include "core/mem.h"
#include "core/str.h"
#include "t/fuzz.h"

static char *fuzz_path;

char *
fuzz_text(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t len = nul ? (size_t)(nul - data) : size;
    char *text = xmalloc(len + 1);

    memcpy(text, data, len);
    text[len] = 0;
    return text;
}

static void
fuzz_file_remove(void)
{
    unlink(fuzz_path);
}

/* fuzz_file - write text to this process's scratch file, created on first use */
const char *
fuzz_file(const char *text)
{
    size_t len = strlen(text);
    int fd;

    if (fuzz_path == NULL) {
        const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

        fuzz_path = xasprintf("%s/postern-fuzz.XXXXXX", dir);
        if ((fd = mkstemp(fuzz_path)) < 0)
            abort();
        close(fd);
        atexit(fuzz_file_remove);
    }
    if ((fd = open(fuzz_path, O_WRONLY | O_TRUNC | O_CLOEXEC)) < 0 ||
        write(fd, text, len) != (ssize_t)len || close(fd) < 0)
        abort();
    return fuzz_path;
}

static bool
fuzz_map_collect(void *ctx, const char *key, const char *value)
{
    strvec_add(ctx, key);
    return true;
}

/*
 * fuzz_map_check - open spec; if that works, every key the table lists must be found, and
 * each line of keys is looked up whole and as a partial key (any outcome, but a found value
 * is a string). The table is closed again, so nothing outlives the input.
 */
static void
fuzz_map_check(const char *spec, const char *keys)
{
    struct err err = {0};
    struct map *map = map_open(spec, MAP_FOLD_FIXED, &err);
    struct strvec listed, lookups;
    const char *value;

    if (map == NULL) {
        FUZZ_ASSERT(err.text[0] != 0);
        return;
    }
    strvec_init(&listed);
    strvec_init(&lookups);
    if (map_walk(map, fuzz_map_collect, &listed, &err))
        for (size_t i = 0; i < listed.n; i++)
            FUZZ_ASSERT(map_lookup(map, listed.v[i], 0, &value, &err) == MAP_FOUND &&
                        value != NULL);
    strvec_split(&lookups, keys, "\n");
    for (size_t i = 0; i < lookups.n; i++)
        for (int flags = 0; flags <= MAP_LOOKUP_PARTIAL; flags += MAP_LOOKUP_PARTIAL)
            if (map_lookup(map, lookups.v[i], flags, &value, &err) == MAP_FOUND)
                FUZZ_ASSERT(value != NULL);
    strvec_free(&listed);
    strvec_free(&lookups);
    map_close(map);
}

/*
 * fuzz_map - input is a table's source text, optionally followed by a line "%%" and keys
 * to look up, one a line (default_keys otherwise). A file type reads the text from the
 * scratch file; inline gets it as "inline:{text}".
 */
void
fuzz_map(const char *type, const uint8_t *data, size_t size, const char *default_keys)
{
    char *text = fuzz_text(data, size), *sep = strstr(text, "\n%%\n");
    const char *keys = default_keys;
    char *spec;

    if (sep) {
        *sep = 0;
        keys = sep + 4;
    }
    if (strcmp(type, "inline") == 0)
        spec = xasprintf("inline:{%s}", text);
    else
        spec = xasprintf("%s:%s", type, fuzz_file(text));
    fuzz_map_check(spec, keys);
    free(spec);
    free(text);
}
