/*
 * qmgr_spare.c - queue files kept for reuse.
 *
 * A message that is done leaves an empty file behind instead of no file: its file moves
 * from active/ to spare/ and is truncated, and the next queue_open takes a file from
 * spare/ (renamed into incoming/ under the new queue ID) before it creates one. Creating
 * and deleting a file per message costs an inode allocation and release each time; on
 * ext4 without a journal (this project's benchmark machine) the allocator also skips
 * every inode released in the last minute, one by one, which made the create the most
 * expensive system call of the whole path (doc/queue.md has the figures).
 *
 * spare/ holds only empty files of finished messages: nothing there is ever delivered or
 * committed. Order matters for crashes: the rename comes first, then the truncation, so a
 * crash leaves either a finished file in active/ (recovery removes it, as before) or a
 * file in spare/, which recovery empties (qmgr_spare_init). A file taken from spare/ is in
 * incoming/, where every file counts as uncommitted until its commit.
 *
 * Trusts: only its own directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "qmgr/qmgr.h"

/* qmgr_spare_init - at start: spare/ is emptied (its files could be left from a crash) */
void
qmgr_spare_init(struct qmgr *q)
{
    int fd = openat(q->dir_fd[QMGR_SPARE], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd < 0 ? NULL : fdopendir(fd);
    struct dirent *e;

    q->spare = xcalloc(QMGR_SPARE_MAX, sizeof(*q->spare));
    q->nspare = 0;
    if (dir == NULL) {
        log_warn("read queue directory spare: %m");
        if (fd >= 0)
            close(fd);
        return;
    }
    while ((e = readdir(dir)) != NULL)
        if (e->d_name[0] != '.' && unlinkat(q->dir_fd[QMGR_SPARE], e->d_name, 0) < 0)
            log_warn("remove spare/%s: %m", e->d_name);
    closedir(dir);
}

/* qmgr_spare_put - the finished message m leaves its file for reuse; false if it did not
 * (spare/ is full, or a step failed) and the caller removes the file */
bool
qmgr_spare_put(struct qmgr *q, const struct qmgr_msg *m)
{
    char path[sizeof("spare/") + QUEUE_ID_SIZE];

    /* Relative to the queue directory, this process's working directory (qmgr.c). */
    snprintf(path, sizeof(path), "%s/%s", qmgr_dir_names[QMGR_SPARE], m->id);
    if (q->nspare >= QMGR_SPARE_MAX)
        return false;
    if (renameat2(q->dir_fd[QMGR_ACTIVE], m->id, q->dir_fd[QMGR_SPARE], m->id, RENAME_NOREPLACE) <
        0)
        return false;
    if (truncate(path, 0) < 0) {
        log_warn("%s: truncate spare/%s: %m", m->id, m->id);
        unlinkat(q->dir_fd[QMGR_SPARE], m->id, 0);
        return true;
    }
    memcpy(q->spare[q->nspare++], m->id, QUEUE_ID_SIZE);
    return true;
}

/* qmgr_spare_take - an empty file as incoming/id, read-write; -1 if there is none */
int
qmgr_spare_take(struct qmgr *q, const char *id)
{
    while (q->nspare > 0) {
        const char *name = q->spare[--q->nspare];
        int fd;

        if (renameat2(q->dir_fd[QMGR_SPARE], name, q->dir_fd[QMGR_INCOMING], id, RENAME_NOREPLACE) <
            0) {
            log_warn("reuse spare/%s: %m", name);
            continue;
        }
        fd = openat(q->dir_fd[QMGR_INCOMING], id, O_RDWR | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
            return fd;
        log_warn("open incoming/%s: %m", id);
        unlinkat(q->dir_fd[QMGR_INCOMING], id, 0);
    }
    return -1;
}

void
qmgr_spare_free(struct qmgr *q)
{
    free(q->spare);
    q->spare = NULL;
    q->nspare = 0;
}
