/*
 * pathops.c - LD_PRELOAD shim for t/privsep.t: records, for every path operation on a path
 * that contains one of the colon-separated strings in $PATHOPS_WATCH, the effective uid it
 * ran with, one line per call in $PATHOPS_LOG ("EUID OP PATH"). The test then checks that root
 * never touched a path in a directory mail_owner can write. Trusts its environment (tests only).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* pathops_watched - does path contain one of the colon-separated strings in watch? */
static int
pathops_watched(const char *path, const char *watch)
{
    while (*watch) {
        size_t len = strcspn(watch, ":");

        if (len > 0 && memmem(path, strlen(path), watch, len) != NULL)
            return 1;
        watch += len + (watch[len] == ':');
    }
    return 0;
}

/* pathops_note - one line for a watched path; the log is opened per call (fork-safe) */
#define REAL(name, type) ((type)dlsym(RTLD_NEXT, name))

static void
pathops_note(const char *op, const char *path)
{
    const char *watch = getenv("PATHOPS_WATCH"), *log = getenv("PATHOPS_LOG");
    char line[600];
    int fd, n;

    if (watch == NULL || log == NULL || path == NULL || !pathops_watched(path, watch))
        return;
    n = snprintf(line, sizeof(line), "%ld %s %s\n", (long)geteuid(), op, path);
    fd = REAL("open", int (*)(const char *, int, ...))(
        log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    if (n > 0)
        (void)!write(fd, line, (size_t)n); /* a lost line shows as a missing operation */
    close(fd);
}

int
unlink(const char *path)
{
    pathops_note("unlink", path);
    return REAL("unlink", int (*)(const char *))(path);
}

int
chown(const char *path, uid_t uid, gid_t gid)
{
    pathops_note("chown", path);
    return REAL("chown", int (*)(const char *, uid_t, gid_t))(path, uid, gid);
}

int
lchown(const char *path, uid_t uid, gid_t gid)
{
    pathops_note("lchown", path);
    return REAL("lchown", int (*)(const char *, uid_t, gid_t))(path, uid, gid);
}

int
chmod(const char *path, mode_t mode)
{
    pathops_note("chmod", path);
    return REAL("chmod", int (*)(const char *, mode_t))(path, mode);
}

int
mkfifo(const char *path, mode_t mode)
{
    pathops_note("mkfifo", path);
    return REAL("mkfifo", int (*)(const char *, mode_t))(path, mode);
}

int
rename(const char *from, const char *to)
{
    pathops_note("rename", to);
    return REAL("rename", int (*)(const char *, const char *))(from, to);
}

int
bind(int fd, const struct sockaddr *sa, socklen_t len)
{
    if (sa != NULL && sa->sa_family == AF_UNIX)
        pathops_note("bind", ((const struct sockaddr_un *)sa)->sun_path);
    return REAL("bind", int (*)(int, const struct sockaddr *, socklen_t))(fd, sa, len);
}

/* pathops_mode - the mode argument of an open that creates */
static mode_t
pathops_mode(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

/* pathops_open - note, then call the real name with the mode an O_CREAT open carries */
static int
pathops_open(const char *real, const char *path, int flags, va_list ap)
{
    mode_t mode = pathops_mode(flags, ap);

    pathops_note("open", path);
    return REAL(real, int (*)(const char *, int, ...))(path, flags, mode);
}

int
open(const char *path, int flags, ...)
{
    va_list ap;
    int fd;

    va_start(ap, flags);
    fd = pathops_open("open", path, flags, ap);
    va_end(ap);
    return fd;
}

int
open64(const char *path, int flags, ...)
{
    va_list ap;
    int fd;

    va_start(ap, flags);
    fd = pathops_open("open64", path, flags, ap);
    va_end(ap);
    return fd;
}
