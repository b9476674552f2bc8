/*
 * maildir.c - deliver one message into a Maildir (tmp/ then new/), durably.
 *
 * Runs as the recipient. Trusts the directory path it is given (the caller resolved it);
 * the message content is copied, never interpreted. Success means the file and the new/
 * directory entry were fsynced; on any failure no file is left in tmp/ or new/.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/mem.h"
#include "mail/maildir.h"

/* maildir_mkdir - create one directory (0700) unless it exists */
static bool
maildir_mkdir(const char *path, struct deliver_result *res)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return true;
    deliver_errno(res, errno, "create directory", path);
    return false;
}

/* maildir_host - the hostname with '/' and ':' escaped as \057 and \072 */
static char *
maildir_host(const char *host)
{
    char *out = xmalloc(strlen(host) * 4 + 1), *p = out;

    for (; *host; host++) {
        if (*host == '/')
            p += sprintf(p, "\\057");
        else if (*host == ':')
            p += sprintf(p, "\\072");
        else
            *p++ = *host;
    }
    *p = 0;
    return out;
}

/* maildir_fsync_dir - fsync a directory */
static int
maildir_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    int err = 0;

    if (fd < 0)
        return errno;
    if (fsync(fd) < 0)
        err = errno;
    close(fd);
    return err;
}

/* maildir_write - create tmp/name and copy headers and content; 0, or an errno and no file */
static int
maildir_write(const struct mailbox_request *req, const char *tmp)
{
    struct deliver_sink sink;
    char *head = deliver_prepend(req);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int err;

    if (fd < 0) {
        free(head);
        return errno;
    }
    deliver_sink_init(&sink, fd, false);
    deliver_sink_raw(&sink, head, strlen(head));
    free(head);
    deliver_sink_copy(&sink, &req->src);
    err = deliver_sink_flush(&sink) ? 0 : sink.err;
    if (err == 0 && fsync(fd) < 0)
        err = errno;
    if (close(fd) < 0 && err == 0)
        err = errno;
    if (err != 0)
        unlink(tmp);
    return err;
}

/*
 * maildir_publish - move tmp/name to new/name without overwriting anything: one
 * renameat2(RENAME_NOREPLACE) where the file system has it, else link() (which refuses to
 * overwrite) and unlink, else rename() on file systems without hard links. 0 or an errno;
 * on success tmp/name is gone.
 */
static int
maildir_publish(const char *tmp, const char *new)
{
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, new, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return errno;
    if (link(tmp, new) == 0) {
        unlink(tmp);
        return 0;
    }
    if (errno != EPERM && errno != ENOSYS && errno != EOPNOTSUPP)
        return errno;
    return rename(tmp, new) == 0 ? 0 : errno;
}

/* maildir_store - tmp/name written and moved to new/name; 0, or an errno with the path
 * that failed in *failed and no file left behind */
static int
maildir_store(const struct mailbox_request *req, const char *tmp, const char *new,
              const char **failed)
{
    int err;

    *failed = tmp;
    if ((err = maildir_write(req, tmp)) != 0)
        return err;
    *failed = new;
    if ((err = maildir_publish(tmp, new)) != 0)
        unlink(tmp);
    return err;
}

/* maildir_mkdirs - the Maildir and its tmp/, new/ and cur/, those that are missing */
static bool
maildir_mkdirs(const char *dir, char *const sub[3], struct deliver_result *res)
{
    if (!maildir_mkdir(dir, res))
        return false;
    for (int i = 0; i < 3; i++)
        if (!maildir_mkdir(sub[i], res))
            return false;
    return true;
}

/* maildir_fits - a Maildir file is one message: it must be within mailbox_size_limit */
static bool
maildir_fits(const struct mailbox_request *req, struct deliver_result *res)
{
    char *head = deliver_prepend(req);
    bool fits = deliver_fits(req, 0, (off_t)strlen(head) + req->src.length, res);

    free(head);
    return fits;
}

/* deliver_maildir - deliver req into the Maildir at dir; returns res->status */
int
deliver_maildir(const struct mailbox_request *req, const char *dir, struct deliver_result *res)
{
    static unsigned long seq;
    struct timeval tv;
    char *sub[3], *host, *base, *tmp, *new;
    const char *failed = NULL;
    static const char *names[3] = {"tmp", "new", "cur"};
    int err;

    if (!deliver_check_loop(req, res) || !maildir_fits(req, res))
        return res->status;
    for (int i = 0; i < 3; i++)
        sub[i] = xasprintf("%s/%s", dir, names[i]);
    gettimeofday(&tv, NULL);
    host = maildir_host(req->hostname);
    base = xasprintf("%lld.M%ldP%ldQ%lu.%s", (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
                     ++seq, host);
    tmp = xasprintf("%s/%s", sub[0], base);
    new = xasprintf("%s/%s", sub[1], base);
    /* The directories are created only when missing: the usual delivery makes no mkdir. */
    if ((err = maildir_store(req, tmp, new, &failed)) == ENOENT) {
        if (!maildir_mkdirs(dir, sub, res))
            goto done;
        err = maildir_store(req, tmp, new, &failed);
    }
    if (err != 0)
        deliver_errno(res, err, failed == tmp ? "write" : "link", failed);
    else if ((err = maildir_fsync_dir(sub[1])) != 0) {
        deliver_errno(res, err, "fsync", sub[1]);
        unlink(new);
    } else
        deliver_set(res, DELIVER_OK, "2.0.0", "delivered to maildir");
done:
    for (int i = 0; i < 3; i++)
        free(sub[i]);
    free(host), free(base), free(tmp), free(new);
    return res->status;
}
