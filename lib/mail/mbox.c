/*
 * mbox.c - append one message to an mbox file under fcntl and dotlock locking.
 *
 * Runs as the recipient. Refuses symlinks, non-regular files, files with more than one
 * link and files not owned by the caller. Lock order: dotlock first, then the fcntl lock,
 * both given up after opts->lock_timeout seconds (4.2.0). A dotlock older than
 * opts->stale_lock_age is removed; without write access to the directory the dotlock is
 * skipped (as mutt and Postfix do when the spool is not writable). The format is mboxrd.
 * On any write error the file is truncated back to its size before delivery.
 *
 * Trusts: the path it is given (the caller resolved it) only to name a file it then
 * checks; nothing in the message, which it copies without interpreting.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/mem.h"
#include "mail/mbox.h"

#define MBOX_RETRY_USEC 100000

/* mbox_dotlock - create path.lock with O_EXCL; 1 held, 0 skipped, -1 failed (res set) */
static int
mbox_dotlock(const char *lock, const struct mbox_opts *opts, struct deliver_result *res)
{
    time_t deadline = time(NULL) + opts->lock_timeout;
    struct stat st;

    for (;;) {
        int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

        if (fd >= 0) {
            close(fd);
            return 1;
        }
        if (errno == EACCES || errno == EPERM || errno == EROFS)
            return 0;
        if (errno != EEXIST) {
            deliver_errno(res, errno, "create lock", lock);
            return -1;
        }
        /* a stale lock that we cannot remove is waited out like a live one */
        if (lstat(lock, &st) == 0 && time(NULL) - st.st_mtime > opts->stale_lock_age &&
            unlink(lock) == 0)
            continue;
        if (time(NULL) >= deadline) {
            deliver_set(res, DELIVER_DEFER, "4.2.0", "lock timeout: %s", lock);
            return -1;
        }
        usleep(MBOX_RETRY_USEC);
    }
}

/* mbox_fcntl_lock - F_SETLK with retries until the deadline */
static bool
mbox_fcntl_lock(int fd, const char *path, const struct mbox_opts *opts, struct deliver_result *res)
{
    time_t deadline = time(NULL) + opts->lock_timeout;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

    while (fcntl(fd, F_SETLK, &fl) < 0) {
        if (errno != EACCES && errno != EAGAIN && errno != EINTR) {
            deliver_errno(res, errno, "lock", path);
            return false;
        }
        if (time(NULL) >= deadline) {
            deliver_set(res, DELIVER_DEFER, "4.2.0", "lock timeout: %s", path);
            return false;
        }
        usleep(MBOX_RETRY_USEC);
    }
    return true;
}

/* mbox_open - open or create the mbox, refusing anything but our own regular file */
static int
mbox_open(const char *path, struct deliver_result *res)
{
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    struct stat st;

    if (fd < 0) {
        if (errno == ELOOP)
            deliver_set(res, DELIVER_BOUNCE, "5.2.0", "mailbox is a symbolic link: %s", path);
        else
            deliver_errno(res, errno, "open", path);
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        deliver_errno(res, errno, "fstat", path);
    } else if (!S_ISREG(st.st_mode)) {
        deliver_set(res, DELIVER_BOUNCE, "5.2.0", "mailbox is not a regular file: %s", path);
    } else if (st.st_nlink != 1) {
        deliver_set(res, DELIVER_BOUNCE, "5.2.0", "mailbox has %lu links: %s",
                    (unsigned long)st.st_nlink, path);
    } else if (st.st_uid != geteuid()) {
        deliver_set(res, DELIVER_BOUNCE, "5.2.0", "mailbox is not owned by uid %lu: %s",
                    (unsigned long)geteuid(), path);
    } else {
        fcntl(fd, F_SETFL, O_APPEND);
        return fd;
    }
    close(fd);
    return -1;
}

/* mbox_separator - "From sender date" in asctime form; the null sender is MAILER-DAEMON */
static char *
mbox_separator(const struct mailbox_request *req)
{
    time_t when = req->arrival ? req->arrival : time(NULL);
    struct tm tm;
    char date[64];

    gmtime_r(&when, &tm);
    strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
    return xasprintf("From %s %s\n", *req->sender ? req->sender : "MAILER-DAEMON", date);
}

/* mbox_append - write one message at the end; 0 or an errno */
static int
mbox_append(int fd, const struct mailbox_request *req, off_t size)
{
    struct deliver_sink sink;
    char *sep = mbox_separator(req), *head = deliver_prepend(req);
    char last = '\n';

    if (size > 0 && pread(fd, &last, 1, size - 1) != 1)
        last = '\n';
    deliver_sink_init(&sink, fd, true);
    if (last != '\n')
        deliver_sink_raw(&sink, "\n\n", 2);
    deliver_sink_raw(&sink, sep, strlen(sep));
    deliver_sink_raw(&sink, head, strlen(head));
    free(sep), free(head);
    deliver_sink_copy(&sink, &req->src);
    if (sink.last != '\n')
        deliver_sink_raw(&sink, "\n", 1);
    deliver_sink_raw(&sink, "\n", 1);
    if (!deliver_sink_flush(&sink))
        return sink.err;
    return fsync(fd) < 0 ? errno : 0;
}

/* mbox_growth - at most how many bytes one message adds (From_ quoting aside) */
static off_t
mbox_growth(const struct mailbox_request *req)
{
    char *sep = mbox_separator(req), *head = deliver_prepend(req);
    off_t n = (off_t)(strlen(sep) + strlen(head)) + req->src.length + 3;

    free(sep);
    free(head);
    return n;
}

/* mbox_deliver_locked - append under both locks, truncating back on failure */
static void
mbox_deliver_locked(int fd, const struct mailbox_request *req, const char *path,
                    struct deliver_result *res)
{
    struct stat st;
    int err;

    if (fstat(fd, &st) < 0) {
        deliver_errno(res, errno, "fstat", path);
        return;
    }
    if (!deliver_fits(req, st.st_size, mbox_growth(req), res))
        return;
    if ((err = mbox_append(fd, req, st.st_size)) != 0) {
        deliver_errno(res, err, "write", path);
        if (ftruncate(fd, st.st_size) < 0 || fsync(fd) < 0)
            deliver_errno(res, errno, "truncate after failed write", path);
        return;
    }
    deliver_set(res, DELIVER_OK, "2.0.0", "delivered to mailbox");
}

/*
 * deliver_mbox - deliver req to the mbox at path; returns res->status. Each message
 * ends with a blank line; a file without a final newline gets one (and a blank line) first.
 */
int
deliver_mbox(const struct mailbox_request *req, const char *path, const struct mbox_opts *opts,
             struct deliver_result *res)
{
    char *lock = xasprintf("%s.lock", path);
    int dotlocked = 0, fd;

    if (!deliver_check_loop(req, res))
        goto out;
    if (opts->dotlock && (dotlocked = mbox_dotlock(lock, opts, res)) < 0)
        goto out;
    if ((fd = mbox_open(path, res)) < 0)
        goto unlock;
    if (mbox_fcntl_lock(fd, path, opts, res))
        mbox_deliver_locked(fd, req, path, res);
    close(fd);
unlock:
    if (dotlocked > 0)
        unlink(lock);
out:
    free(lock);
    return res->status;
}
