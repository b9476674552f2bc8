/*
 * pidlock.c - pid files held with an fcntl write lock.
 *
 * The lock, not the number in the file, says whether the owner is alive: the kernel drops
 * it when the process dies, however it dies, so a stale file from a crash never blocks a
 * start and a reused pid never fakes a running master. Trusts: the path (from main.cf).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/pidlock.h"

/*
 * pidlock_acquire - lock path and write our pid into it. Returns the descriptor, which must
 * stay open as long as the lock is wanted, or -1 with the reason (naming the owner's pid
 * when another process holds it).
 */
int
pidlock_acquire(const char *path, struct err *err)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    char text[32];
    int fd, len;

    if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0) {
        err_set(err, "open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fcntl(fd, F_SETLK, &fl) < 0) {
        if (errno == EACCES || errno == EAGAIN)
            err_set(err, "%s is locked by process %ld", path, (long)pidlock_owner(path));
        else
            err_set(err, "lock %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    len = snprintf(text, sizeof(text), "%10ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)len, 0) != len) {
        err_set(err, "write %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* pidlock_owner - the pid of the live process that holds the lock, or 0 if none does */
pid_t
pidlock_owner(const char *path)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    pid_t owner = 0;

    if (fd < 0)
        return 0;
    if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
        owner = fl.l_pid;
    close(fd);
    return owner;
}
