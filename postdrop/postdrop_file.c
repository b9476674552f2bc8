/*
 * postdrop_file.c - the maildrop stream on stdin into a new file in maildrop/, then a
 * wakeup for pickup.
 *
 * Runs set-gid setgid_group with the caller's uid. The file is created under a temporary
 * name (O_EXCL, no link followed), written by the maildrop writer from what the reader
 * accepted, fsynced, and renamed to its final name (RENAME_NOREPLACE) only when the whole
 * stream was good: pickup never sees a file that is being written. A signal that ends
 * postdrop first removes the temporary file; one left by SIGKILL is removed by pickup once
 * stale. The directory is opened O_PATH: the group may search it and add to it, not read
 * it. Mode 0644: only pickup (the directory's owner) can reach the file by name, as
 * nobody else can list maildrop/.
 *
 * Trusts: nothing on stdin (maildrop_read); the queue directory from main.cf, which
 * postdrop.c only takes from a trusted configuration directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "core/mem.h"
#include "mail/maildrop.h"
#include "postdrop/postdrop.h"

#define POSTDROP_WAKEUP "W"

/* The temporary file, for the signal handler to remove. */
static int postdrop_dir_fd = -1;
static char postdrop_temp[MAILDROP_NAME_SIZE];

static void
postdrop_cleanup(int sig)
{
    if (postdrop_dir_fd >= 0 && postdrop_temp[0])
        unlinkat(postdrop_dir_fd, postdrop_temp, 0);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void
postdrop_signals(void)
{
    const int sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGXFSZ};
    struct sigaction sa = {.sa_handler = postdrop_cleanup};

    sigfillset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
}

struct postdrop_copy {
    struct maildrop_writer w;
    int fd;
    bool started;
};

static bool
postdrop_envelope(void *ctx, const struct maildrop_envelope *env, struct err *err)
{
    struct postdrop_copy *c = ctx;

    maildrop_writer_init(&c->w, c->fd, env);
    c->started = true;
    return !c->w.rec.failed || err_set(err, "%s", c->w.rec.err.text);
}

static bool
postdrop_content(void *ctx, const char *data, size_t len, struct err *err)
{
    struct postdrop_copy *c = ctx;

    maildrop_writer_content(&c->w, data, len);
    return !c->w.rec.failed || err_set(err, "%s", c->w.rec.err.text);
}

static const struct maildrop_reader_ops postdrop_ops = {postdrop_envelope, postdrop_content};

/* postdrop_copy - read, check and write the message; a sysexits.h status */
static int
postdrop_copy(const struct params *p, int fd)
{
    struct postdrop_copy c = {.fd = fd};
    uint64_t limit = p->message_size_limit > 0 ? (uint64_t)p->message_size_limit : 0;
    struct err err;
    int status = EX_OK;

    if (!maildrop_read(STDIN_FILENO, limit, &postdrop_ops, &c, &err)) {
        fprintf(stderr, "postdrop: refused: %s\n", err.text);
        status = c.started && c.w.rec.failed && c.w.rec.errnum ? EX_TEMPFAIL : EX_DATAERR;
    } else if (!maildrop_writer_end(&c.w, &err) || fsync(fd) < 0) {
        fprintf(stderr, "postdrop: cannot write the maildrop file: %s\n",
                c.w.rec.failed ? err.text : strerror(errno));
        status = EX_TEMPFAIL;
    }
    if (c.started)
        maildrop_writer_free(&c.w);
    return status;
}

/* postdrop_wakeup - tell pickup; when nothing listens, the mail waits for its next scan */
static void
postdrop_wakeup(const char *queue_dir)
{
    char *path = xasprintf("%s/public/pickup", queue_dir);
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;

    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
        write(fd, POSTDROP_WAKEUP, 1) < 0 && errno != EAGAIN)
        fprintf(stderr, "postdrop: warning: cannot wake pickup: %s\n", strerror(errno));
    if (fd >= 0)
        close(fd);
    free(path);
}

int
postdrop_file(const struct params *p)
{
    char *dir = xasprintf("%s/maildrop", p->queue_directory);
    char ready[MAILDROP_NAME_SIZE], temp[MAILDROP_NAME_SIZE];
    struct err err;
    int fd, status;

    umask(022);
    postdrop_dir_fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (postdrop_dir_fd < 0) {
        fprintf(stderr, "postdrop: cannot open %s: %s\n", dir, strerror(errno));
        free(dir);
        return EX_TEMPFAIL;
    }
    if (!maildrop_name_new(ready, temp, &err)) {
        fprintf(stderr, "postdrop: %s\n", err.text);
        free(dir);
        return EX_OSERR;
    }
    postdrop_signals();
    memcpy(postdrop_temp, temp, sizeof(temp));
    if ((fd = openat(postdrop_dir_fd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     0644)) < 0) {
        fprintf(stderr, "postdrop: cannot create a file in %s: %s\n", dir, strerror(errno));
        free(dir);
        return EX_TEMPFAIL;
    }
    status = postdrop_copy(p, fd);
    if (close(fd) < 0 && status == EX_OK) {
        fprintf(stderr, "postdrop: cannot write the maildrop file: %s\n", strerror(errno));
        status = EX_TEMPFAIL;
    }
    if (status == EX_OK &&
        renameat2(postdrop_dir_fd, temp, postdrop_dir_fd, ready, RENAME_NOREPLACE) < 0) {
        fprintf(stderr, "postdrop: cannot rename %s in %s: %s\n", temp, dir, strerror(errno));
        status = EX_TEMPFAIL;
    }
    if (status != EX_OK)
        unlinkat(postdrop_dir_fd, temp, 0);
    postdrop_temp[0] = 0;
    if (status == EX_OK)
        postdrop_wakeup(p->queue_directory);
    free(dir);
    return status;
}
