/*
 * qmgr_recover.c - bring the queue to a consistent state at start (doc/queue.md).
 *
 * incoming/ holds only files never acknowledged: they are removed, the recent ones a few
 * minutes later (qmgr_orphan.c), so that queue_status can still tell them. Files in active/ and
 * deferred/ were acknowledged: each is parsed in full; one that does not parse (or whose
 * name is not a queue ID) goes to corrupt/ with a log line, the rest are resumed. hold/
 * and corrupt/ are left to the administrator. Trusts: no name and no file it finds.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "mail/queue_file.h"
#include "mail/queue_id.h"
#include "qmgr/qmgr.h"

/* qmgr_recover_open - a directory stream over one state, from its descriptor */
static DIR *
qmgr_recover_open(struct qmgr *q, enum qmgr_dir d)
{
    int fd = openat(q->dir_fd[d], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd < 0 ? NULL : fdopendir(fd);

    if (dir == NULL)
        log_fatal("read queue directory %s: %m", qmgr_dir_names[d]);
    return dir;
}

static bool
qmgr_recover_dot(const char *name)
{
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

static void
qmgr_recover_sync(struct qmgr *q, enum qmgr_dir d)
{
    if (fsync(q->dir_fd[d]) < 0)
        log_fatal("fsync queue directory %s: %m", qmgr_dir_names[d]);
}

/* qmgr_recover_committed - is name in a committed state (a rename half on disk)? */
static bool
qmgr_recover_committed(struct qmgr *q, const char *name)
{
    static const enum qmgr_dir states[] = {QMGR_ACTIVE, QMGR_DEFERRED, QMGR_HOLD};

    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        if (faccessat(q->dir_fd[states[i]], name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
            return true;
    return false;
}

/* qmgr_recover_notice - a complete notice in incoming/ may have marked the recipients it
 * reports before a crash took its rename: they owe it again (qmgr_notice.c) */
static void
qmgr_recover_notice(struct qmgr *q, const char *name)
{
    struct queue_envelope env;
    struct err err;
    int fd;

    if (!queue_id_valid(name, strlen(name)))
        return;
    if ((fd = openat(q->dir_fd[QMGR_INCOMING], name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        if (errno != ENOENT && errno != ELOOP)
            log_fatal("recovery: open incoming/%s: %m", name);
        return;
    }
    /* A file that does not parse was never marked: marks come after the full parse. */
    if (queue_file_read(fd, &env, &err)) {
        if (env.origin.kind != QUEUE_NOTICE_NONE && env.origin.kind != QUEUE_NOTICE_COPY &&
            !qmgr_recover_committed(q, name))
            qmgr_notice_unmark(q, &env.origin, name);
        queue_envelope_free(&env);
    }
    close(fd);
}

/*
 * qmgr_recover_incoming - no file in incoming/ was committed. Those untouched for long are
 * removed; the others may be the subject of a receiver's queue_status soon, and stay a
 * few minutes (qmgr_orphan.c).
 */
static void
qmgr_recover_incoming(struct qmgr *q)
{
    DIR *dir = qmgr_recover_open(q, QMGR_INCOMING);
    int fd = q->dir_fd[QMGR_INCOMING];
    time_t now = time(NULL);
    struct dirent *e;
    struct stat st;
    int removed = 0;

    while ((e = readdir(dir)) != NULL) {
        if (qmgr_recover_dot(e->d_name))
            continue;
        qmgr_recover_notice(q, e->d_name);
        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            !qmgr_orphan_is_old(st.st_mtime, now))
            qmgr_orphan_add(q, e->d_name);
        else if (unlinkat(fd, e->d_name, 0) < 0)
            log_warn("remove incoming/%s: %m", e->d_name);
        else
            removed++;
    }
    closedir(dir);
    if (removed > 0) {
        qmgr_recover_sync(q, QMGR_INCOMING);
        log_info("recovery: removed %d uncommitted file%s from incoming/", removed,
                 removed == 1 ? "" : "s");
    }
    if (q->orphans_new.n > 0)
        log_info("recovery: %zu uncommitted file%s in incoming/ kept for queue_status",
                 q->orphans_new.n, q->orphans_new.n == 1 ? "" : "s");
}

/*
 * qmgr_recover_check - does this entry hold a complete queue file? why not, if not. Only
 * active/ is read in full: its files are activated at once. A file in deferred/ is checked
 * for its name and type only, so that a start with 100,000 deferred messages does not read
 * them all before it accepts mail; it is read in full when it is due (qmgr_sched.c moves
 * one that does not parse to corrupt/ then).
 */
static bool
qmgr_recover_check(struct qmgr *q, enum qmgr_dir d, const char *name, struct err *err)
{
    struct queue_envelope env;
    struct stat st;
    bool good = false;
    int fd;

    if (!queue_id_valid(name, strlen(name))) {
        strcpy(err->text, "not a queue ID");
        return false;
    }
    if (d != QMGR_ACTIVE) {
        if (fstatat(q->dir_fd[d], name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            return true;
        strcpy(err->text, "not a regular file");
        return false;
    }
    if ((fd = openat(q->dir_fd[d], name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        err_set(err, "open: %s", strerror(errno));
    else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        strcpy(err->text, "not a regular file");
    else if ((good = queue_file_read(fd, &env, err)))
        queue_envelope_free(&env);
    if (fd >= 0)
        close(fd);
    return good;
}

/* qmgr_recover_state - check every file of one acknowledged state */
static void
qmgr_recover_state(struct qmgr *q, enum qmgr_dir d)
{
    DIR *dir = qmgr_recover_open(q, d);
    struct err err;
    struct dirent *e;
    int resumed = 0, moved = 0;

    while ((e = readdir(dir)) != NULL) {
        if (qmgr_recover_dot(e->d_name))
            continue;
        if (qmgr_recover_check(q, d, e->d_name, &err)) {
            resumed++;
            continue;
        }
        if (renameat(q->dir_fd[d], e->d_name, q->dir_fd[QMGR_CORRUPT], e->d_name) < 0)
            log_warn("%s/%s: %s; move to corrupt/: %m", qmgr_dir_names[d], e->d_name, err.text);
        else {
            log_warn("%s/%s: %s; moved to corrupt/", qmgr_dir_names[d], e->d_name, err.text);
            moved++;
        }
    }
    closedir(dir);
    if (moved > 0)
        qmgr_recover_sync(q, QMGR_CORRUPT);
    /* Also for files that stay: one renamed in by a qmgr that died before its fsync returned
     * counts as committed from now on (queue_status says so), so its entry goes to disk. */
    if (moved > 0 || resumed > 0)
        qmgr_recover_sync(q, d);
    if (resumed > 0)
        log_info("recovery: resumed %d file%s in %s/", resumed, resumed == 1 ? "" : "s",
                 qmgr_dir_names[d]);
}

/* qmgr_recover - run once, before the first client is accepted */
void
qmgr_recover(struct qmgr *q)
{
    qmgr_recover_incoming(q);
    qmgr_recover_state(q, QMGR_ACTIVE);
    qmgr_recover_state(q, QMGR_DEFERRED);
}
