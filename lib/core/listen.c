/*
 * listen.c - listening endpoints: TCP, UNIX stream sockets and fifos.
 *
 * Runs in the master, usually as root. Trusts its arguments (they come from master.cf,
 * which root owns). Never resolves a host name: addresses must be numeric, so a listener
 * is never at the mercy of DNS. An IPv6 socket is IPv6-only, so that separate IPv4 and
 * IPv6 listeners on one port do not collide.
 *
 * Sockets and fifos live in directories their owner (mail_owner) can write, so root never
 * touches those paths: every path operation runs with the owner's effective uid, gid and
 * only group (listen_as), and the mode comes from the umask at creation, not from a later
 * chmod of a path that may have been replaced in between. At worst a hostile owner makes
 * a listener fail; it can never make root change a file it points at.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/listen.h"
#include "core/log.h"

/* The identity a path operation ran with before listen_as, to go back to. */
struct listen_saved {
    bool switched;
    gid_t egid;
    gid_t groups[64];
    int ngroups;
    mode_t umask;
};

static int
listen_fail(struct err *err, int fd, const char *what, const char *where)
{
    int saved = errno;

    err_set(err, "%s %s: %s", what, where, strerror(saved));
    if (fd >= 0)
        close(fd);
    errno = saved;
    return -1;
}

/* listen_back - undo listen_as, keeping errno */
static void
listen_back(const struct listen_saved *saved)
{
    int e = errno;

    umask(saved->umask);
    if (saved->switched && (seteuid(0) < 0 || setegid(saved->egid) < 0 ||
                            setgroups((size_t)saved->ngroups, saved->groups) < 0))
        log_fatal("listen: cannot switch back to root: %m");
    errno = e;
}

/*
 * listen_as - become owner (effective ids, one group) with a umask that leaves mode, when
 * running as root for another user; otherwise only the umask changes. Every failure to
 * switch back is fatal: the master must not go on with the wrong identity.
 */
static bool
listen_as(const struct listen_owner *owner, mode_t mode, struct listen_saved *saved)
{
    saved->switched = geteuid() == 0 && owner->uid != 0;
    saved->umask = umask(~mode & 0777);
    if (!saved->switched)
        return true;
    saved->egid = getegid();
    if ((saved->ngroups = getgroups(64, saved->groups)) < 0)
        saved->ngroups = 0;
    if (setgroups(1, &owner->gid) < 0 || setegid(owner->gid) < 0 || seteuid(owner->uid) < 0) {
        listen_back(saved);
        return false;
    }
    return true;
}

static void
listen_describe(char *out, size_t len, const char *host, const char *port, int family)
{
    if (host == NULL || *host == 0)
        snprintf(out, len, "%s:%s", family == AF_INET6 ? "[::]" : "0.0.0.0", port);
    else if (family == AF_INET6)
        snprintf(out, len, "[%s]:%s", host, port);
    else
        snprintf(out, len, "%s:%s", host, port);
}

/* listen_inet - a TCP listener on one numeric address (or the wildcard) and port */
int
listen_inet(const char *host, const char *port, enum listen_family family, int backlog,
            struct err *err)
{
    struct addrinfo hints = {0}, *ai;
    char where[300];
    int fd, on = 1, rc;

    hints.ai_family = family == LISTEN_IPV4 ? AF_INET : family == LISTEN_IPV6 ? AF_INET6 : 0;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    listen_describe(where, sizeof(where), host, port, hints.ai_family);
    if ((rc = getaddrinfo(host && *host ? host : NULL, port, &hints, &ai)) != 0) {
        err_set(err, "address %s: %s", where, gai_strerror(rc));
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return listen_fail(err, -1, "socket", where);
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    rc = bind(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc < 0)
        return listen_fail(err, fd, "bind", where);
    if (listen(fd, backlog) < 0)
        return listen_fail(err, fd, "listen", where);
    return fd;
}

/* listen_unix_bind - replace a stale socket file and bind, as the owner */
static int
listen_unix_bind(int fd, const struct sockaddr_un *sun, const struct listen_owner *owner,
                 mode_t mode, struct err *err)
{
    struct listen_saved saved;
    int rc = -1;

    if (!listen_as(owner, mode, &saved))
        return listen_fail(err, -1, "become the owner of", sun->sun_path);
    if (unlink(sun->sun_path) < 0 && errno != ENOENT)
        listen_fail(err, -1, "unlink", sun->sun_path);
    else if ((rc = bind(fd, (const struct sockaddr *)sun, sizeof(*sun))) < 0)
        listen_fail(err, -1, "bind", sun->sun_path);
    listen_back(&saved);
    return rc;
}

/* listen_unix - a UNIX stream socket at path, owned by owner with mode, replacing a stale one */
int
listen_unix(const char *path, mode_t mode, const struct listen_owner *owner, int backlog,
            struct err *err)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return listen_fail(err, -1, "socket path", path);
    }
    strcpy(sun.sun_path, path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return listen_fail(err, -1, "socket", path);
    if (listen_unix_bind(fd, &sun, owner, mode, err) < 0) {
        close(fd);
        return -1;
    }
    if (listen(fd, backlog) < 0)
        return listen_fail(err, fd, "listen", path);
    return fd;
}

/* listen_fifo_open - open the fifo at path without following a link; -1 if it is not ours */
static int
listen_fifo_open(const char *path, mode_t mode, struct err *err)
{
    struct stat st;
    int fd;

    if ((fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return listen_fail(err, -1, "open", path);
    if (fstat(fd, &st) < 0)
        return listen_fail(err, fd, "fstat", path);
    if (!S_ISFIFO(st.st_mode) || st.st_uid != geteuid()) {
        errno = EPERM;
        return listen_fail(err, fd, "not our fifo:", path);
    }
    if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
        return listen_fail(err, fd, "chmod", path);
    return fd;
}

/*
 * listen_fifo - a named pipe at path, owned by owner with mode, opened read-write so that
 * it never reports EOF when the last writer goes away. Anything else at path is replaced.
 */
int
listen_fifo(const char *path, mode_t mode, const struct listen_owner *owner, struct err *err)
{
    struct listen_saved saved;
    struct stat st;
    int fd = -1;

    if (!listen_as(owner, mode, &saved))
        return listen_fail(err, -1, "become the owner of", path);
    if (lstat(path, &st) == 0 && (!S_ISFIFO(st.st_mode) || st.st_uid != geteuid()) &&
        unlink(path) < 0)
        listen_fail(err, -1, "unlink", path);
    else if (mkfifo(path, mode) < 0 && errno != EEXIST)
        listen_fail(err, -1, "mkfifo", path);
    else
        fd = listen_fifo_open(path, mode, err);
    listen_back(&saved);
    return fd;
}

/* listen_remove - remove a socket or fifo file, as its owner */
void
listen_remove(const char *path, const struct listen_owner *owner)
{
    struct listen_saved saved;

    if (!listen_as(owner, 0600, &saved)) {
        log_warn("remove %s: cannot become its owner: %m", path);
        return;
    }
    if (unlink(path) < 0 && errno != ENOENT)
        log_warn("remove %s: %m", path);
    listen_back(&saved);
}

/* listen_connect - a non-blocking connection to the UNIX socket at path, made as its owner */
int
listen_connect(const char *path, const struct listen_owner *owner)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct listen_saved saved;
    int fd, rc;

    if (strlen(path) >= sizeof(sun.sun_path))
        return -1;
    strcpy(sun.sun_path, path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    if (!listen_as(owner, 0600, &saved)) {
        close(fd);
        return -1;
    }
    rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
    listen_back(&saved);
    if (rc < 0) {
        close(fd);
        return -1;
    }
    return fd;
}
