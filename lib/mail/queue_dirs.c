/*
 * queue_dirs.c - create the queue's directories, or correct their owners and modes.
 *
 * Called by the master at start and by `postern check`, as root (or as the single user of
 * a development instance). The table below is the one place that says who owns what:
 *   queue_directory, pid/   root (the invoking user), 0755
 *   private/                mail_owner, 0700: sockets only postern's processes may reach
 *   public/                 mail_owner, 0711: sockets local users may reach by name
 *   incoming/ active/ deferred/ hold/ corrupt/
 *                           mail_owner, 0700: the queue states (doc/queue.md)
 *   maildrop/               mail_owner, group setgid_group, 1730: postdrop (set-gid) adds
 *                           files, nobody else can list or read it, the sticky bit keeps
 *                           one user from removing another's; pickup reads it (doc/maildrop.md)
 * Trusts: nothing that is already there. The queue directory and pid/ belong to root, so
 * mail_owner cannot plant anything next to its own directories; each directory is checked
 * and corrected through a descriptor, never by path (queue_dir_make).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "mail/queue_dirs.h"

static const struct queue_dir {
    const char *name;
    mode_t mode;
    bool mail_owned;
    bool drop_group; /* group setgid_group, not mail_owner's */
} queue_dirs[] = {
    {"", 0755, false, false},        {"pid", 0755, false, false},
    {"private", 0700, true, false},  {"public", 0711, true, false},
    {"incoming", 0700, true, false}, {"active", 0700, true, false},
    {"deferred", 0700, true, false}, {"hold", 0700, true, false},
    {"corrupt", 0700, true, false},  {"spare", 0700, true, false},
    {"maildrop", 01730, true, true},
};

/*
 * queue_dir_make - one directory; a problem is appended to problems. Owner and mode are
 * corrected through a descriptor opened without following a link, so a symlink planted in
 * place of a directory is refused instead of handing its target to mail_owner.
 */
static void
queue_dir_make(const char *path, mode_t mode, uid_t uid, gid_t gid, struct strvec *problems)
{
    struct stat st;
    int fd = -1;

    if (mkdir(path, mode) < 0 && errno != EEXIST)
        strvec_add_owned(problems, xasprintf("create %s: %s", path, strerror(errno)));
    else if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
             fstat(fd, &st) < 0)
        strvec_add_owned(problems, xasprintf("%s: not a directory", path));
    else if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0)
        strvec_add_owned(problems, xasprintf("chown %s: %s", path, strerror(errno)));
    else if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
        strvec_add_owned(problems, xasprintf("chmod %s: %s", path, strerror(errno)));
    if (fd >= 0)
        close(fd);
}

void
queue_dirs_make(const char *queue_dir, uid_t owner, gid_t group, gid_t drop_group,
                struct strvec *problems)
{
    for (size_t i = 0; i < sizeof(queue_dirs) / sizeof(queue_dirs[0]); i++) {
        const struct queue_dir *d = &queue_dirs[i];
        char *path = *d->name ? xasprintf("%s/%s", queue_dir, d->name) : xstrdup(queue_dir);

        queue_dir_make(path, d->mode, d->mail_owned ? owner : geteuid(),
                       d->drop_group   ? drop_group
                       : d->mail_owned ? group
                                       : getegid(),
                       problems);
        free(path);
    }
}

/*
 * queue_drop_group - setgid_group's gid (as root; ourselves otherwise). Without that group
 * the caller falls back to mail_owner's, which leaves local submission closed, not open.
 */
bool
queue_drop_group(const char *group, gid_t *gid, struct err *err)
{
    const struct group *gr;

    *gid = getegid();
    if (geteuid() != 0)
        return true;
    if ((gr = getgrnam(group)) == NULL)
        return err_set(err,
                       "setgid_group \"%s\" is not a group on this system: local mail "
                       "submission (sendmail, postdrop) is closed",
                       group);
    if (gr->gr_gid == 0)
        return err_set(err, "setgid_group \"%s\" has gid 0: local mail submission is closed",
                       group);
    *gid = gr->gr_gid;
    return true;
}
