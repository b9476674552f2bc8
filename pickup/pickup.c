/*
 * pickup.c - take the messages the local sendmail command left in maildrop/ and give
 * them to qmgr, like any other receiver (Postfix's pickup(8)).
 *
 * Runs as mail_owner, one process (master.cf: fifo service public/pickup, maxproc 1). It
 * scans maildrop/ when it starts, when postdrop writes into the fifo, and on the master's
 * periodic wakeup; each scan takes the files oldest first, one per turn of the event loop
 * so that a stop or a reload is never held up by a full maildrop. While qmgr cannot take
 * mail the scan stops and is tried again after a second, then after twice as long each
 * time up to a minute (qmgr may not listen yet when both start); a file a milter said to try
 * later (pickup_milter.c) stays and the scan goes on. Files being written (a
 * temporary name) are left alone, and removed when untouched for PICKUP_STALE_SECONDS
 * (a postdrop killed before it could remove its own).
 *
 * Trusts: nothing in maildrop/: every file is a local user's (pickup_file.c); names are
 * recognised by maildrop_name_kind and anything else is moved aside.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/maildrop.h"
#include "pickup/pickup.h"
#include "pickup/pickup_milter.h"

#define PICKUP_STALE_SECONDS 3600
#define PICKUP_RETRY_MS      1000
#define PICKUP_RETRY_MAX_MS  60000

static int
pickup_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* pickup_stale - remove a temporary file nobody has written for an hour */
static void
pickup_stale(struct pickup *pk, const char *name)
{
    struct stat st;

    if (fstatat(pk->maildrop_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        st.st_mtime + PICKUP_STALE_SECONDS < time(NULL) && unlinkat(pk->maildrop_fd, name, 0) == 0)
        log_warn("maildrop/%s: uid=%lu: removed an unfinished file untouched for an hour", name,
                 (unsigned long)st.st_uid);
}

/* pickup_scan - the names of the ready files, oldest first, into pk->todo */
static void
pickup_scan(struct pickup *pk)
{
    int fd = dup(pk->maildrop_fd);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;

    strvec_free(&pk->todo);
    pk->next = 0;
    if (dir == NULL) {
        log_warn("scan maildrop/: %m");
        if (fd >= 0)
            close(fd);
        return;
    }
    rewinddir(dir);
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (maildrop_name_kind(e->d_name) == MAILDROP_NAME_TEMP)
            pickup_stale(pk, e->d_name);
        else
            strvec_add(&pk->todo, e->d_name);
    }
    closedir(dir);
    if (pk->todo.n > 1)
        qsort(pk->todo.v, pk->todo.n, sizeof(pk->todo.v[0]), pickup_name_cmp);
}

/* pickup_step - take the next file; scan again when asked to while this scan ran */
static void
pickup_step(void *arg)
{
    struct pickup *pk = arg;

    if (pk->next < pk->todo.n) {
        if (pickup_file(pk, pk->todo.v[pk->next++]) == PICKUP_RETRY) {
            pk->next = pk->todo.n;
            pk->rescan = true;
            loop_timer_start(pk->step, pk->retry_ms);
            pk->retry_ms =
                pk->retry_ms * 2 > PICKUP_RETRY_MAX_MS ? PICKUP_RETRY_MAX_MS : pk->retry_ms * 2;
            return;
        }
        pk->retry_ms = PICKUP_RETRY_MS;
        loop_timer_start(pk->step, 0);
        return;
    }
    if (pk->rescan) {
        pk->rescan = false;
        pickup_scan(pk);
        if (pk->todo.n > 0)
            loop_timer_start(pk->step, 0);
    }
}

/* pickup_wakeup - scan now, or once the scan under way is done */
static void
pickup_wakeup(struct pickup *pk)
{
    pk->rescan = true;
    if (pk->next >= pk->todo.n) /* no scan under way (a retry may be waiting: now) */
        loop_timer_start(pk->step, 0);
}

static void
pickup_trigger(struct server_ctx *ctx, const char *data, size_t len)
{
    pickup_wakeup(ctx->app);
}

/* pickup_open_dir - a queue directory, opened without following a link */
static int
pickup_open_dir(const char *name)
{
    int fd = open(name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0)
        log_fatal("open %s/: %m", name);
    return fd;
}

static void
pickup_post_jail(struct server_ctx *ctx)
{
    struct pickup *pk = xcalloc(1, sizeof(*pk));

    pk->ctx = ctx;
    pk->qmgr = -1;
    pk->retry_ms = PICKUP_RETRY_MS;
    pk->maildrop_fd = pickup_open_dir("maildrop");
    pk->corrupt_fd = pickup_open_dir("corrupt");
    strvec_init(&pk->todo);
    pk->step = loop_timer_new(ctx->loop, pickup_step, pk);
    pickup_milter_init(pk);
    ctx->app = pk;
    pickup_wakeup(pk); /* what came while postern was stopped */
}

static void
pickup_on_exit(struct server_ctx *ctx)
{
    struct pickup *pk = ctx->app;

    if (pk == NULL)
        return;
    if (pk->qmgr >= 0)
        close(pk->qmgr);
    loop_timer_free(pk->step);
    pickup_milter_free(pk);
    strvec_free(&pk->todo);
    close(pk->maildrop_fd);
    close(pk->corrupt_fd);
    free(pk);
    ctx->app = NULL;
}

int
main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .name = "pickup",
        .unlimited = true,
        .post_jail = pickup_post_jail,
        .trigger = pickup_trigger,
        .on_exit = pickup_on_exit,
    };

    return server_main(argc, argv, &ops);
}
