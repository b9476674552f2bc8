/*
 * fuzz_replay.c - run one fuzz target without libFuzzer, as a TAP test.
 *
 * Linked with t/fuzz/NAME.c into $(BUILD)/t/fuzz/NAME. With no arguments it feeds the
 * target every file in t/fuzz/corpus/NAME/ and t/fuzz/regress/NAME/ (NAME is the program's
 * own name; $FUZZ_DIR replaces "t/fuzz"); with arguments, those files or directories. Each
 * input lives in a heap block of exactly its size, as under libFuzzer, so that the sanitizer
 * and valgrind builds see a read one byte past the end. A crash or a failed invariant kills
 * the program, and prove reports the test as failed; the last "# input" line names the file.
 * Log output of the code under test goes to /dev/null unless $FUZZ_VERBOSE is set: parsers
 * are expected to warn about most of these inputs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "t/fuzz.h"
#include "t/tap.h"

/* replay_read - the whole file in a block of exactly its size; NULL (and a reason) if not */
static uint8_t *
replay_read(const char *path, size_t *size)
{
    struct stat st;
    uint8_t *data;
    ssize_t got = 0;
    int fd;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
        diag("%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    *size = (size_t)st.st_size;
    data = xmalloc(*size);
    for (size_t done = 0; done < *size; done += (size_t)got)
        if ((got = read(fd, data + done, *size - done)) <= 0) {
            diag("%s: short read", path);
            free(data);
            close(fd);
            return NULL;
        }
    close(fd);
    return data;
}

/* replay_file - one input through the target */
static void
replay_file(const char *path)
{
    size_t size = 0;
    uint8_t *data;

    printf("# input %s\n", path);
    fflush(stdout);
    if ((data = replay_read(path, &size)) == NULL) {
        ok(false, "%s", path);
        return;
    }
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    ok(true, "%s (%zu bytes)", path, size);
}

static int
replay_visible(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* replay_path - a file, or every file of a directory in name order; missing is fine */
static void
replay_path(const char *path, bool must_exist)
{
    struct dirent **list;
    struct stat st;
    int n;

    if (stat(path, &st) < 0) {
        if (must_exist)
            ok(false, "%s: %s", path, strerror(errno));
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        replay_file(path);
        return;
    }
    if ((n = scandir(path, &list, replay_visible, alphasort)) < 0) {
        ok(false, "%s: %s", path, strerror(errno));
        return;
    }
    for (int i = 0; i < n; i++) {
        char *file = xasprintf("%s/%s", path, list[i]->d_name);
        replay_file(file);
        free(file);
        free(list[i]);
    }
    free(list);
}

int
main(int argc, char **argv)
{
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    const char *dir = getenv("FUZZ_DIR") ? getenv("FUZZ_DIR") : "t/fuzz";

    if (getenv("FUZZ_VERBOSE") == NULL && !log_to_file("/dev/null"))
        return 1;
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            replay_path(argv[i], true);
    } else {
        char *corpus = xasprintf("%s/corpus/%s", dir, name);
        char *regress = xasprintf("%s/regress/%s", dir, name);

        replay_path(corpus, true);
        replay_path(regress, false);
        free(corpus);
        free(regress);
    }
    return done_testing();
}
