/*
 * listen.c - listening endpoints: TCP, UNIX stream sockets and fifos.
 *
 * Runs in the master, usually as root. Trusts its arguments (they come from master.cf,
 * which root owns). Never resolves a host name: addresses must be numeric, so a listener
 * is never at the mercy of DNS. An IPv6 socket is IPv6-only, so that separate IPv4 and
 * IPv6 listeners on one port do not collide.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/listen.h"

static int
listen_fail(struct buf *why, int fd, const char *what, const char *where)
{
    int saved = errno;

    buf_reset(why);
    buf_printf(why, "%s %s: %s", what, where, strerror(saved));
    if (fd >= 0)
        close(fd);
    errno = saved;
    return -1;
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
            struct buf *why)
{
    struct addrinfo hints = {0}, *ai;
    char where[300];
    int fd, on = 1, rc;

    hints.ai_family = family == LISTEN_IPV4 ? AF_INET : family == LISTEN_IPV6 ? AF_INET6 : 0;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    listen_describe(where, sizeof(where), host, port, hints.ai_family);
    if ((rc = getaddrinfo(host && *host ? host : NULL, port, &hints, &ai)) != 0) {
        buf_reset(why);
        buf_printf(why, "address %s: %s", where, gai_strerror(rc));
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return listen_fail(why, -1, "socket", where);
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    rc = bind(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc < 0)
        return listen_fail(why, fd, "bind", where);
    if (listen(fd, backlog) < 0)
        return listen_fail(why, fd, "listen", where);
    return fd;
}

/* listen_unix - a UNIX stream socket at path, replacing a stale one */
int
listen_unix(const char *path, mode_t mode, uid_t owner, gid_t group, int backlog, struct buf *why)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return listen_fail(why, -1, "socket path", path);
    }
    strcpy(sun.sun_path, path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return listen_fail(why, -1, "socket", path);
    if (unlink(path) < 0 && errno != ENOENT)
        return listen_fail(why, fd, "unlink", path);
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
        return listen_fail(why, fd, "bind", path);
    if (chown(path, owner, group) < 0 && errno != EPERM)
        return listen_fail(why, fd, "chown", path);
    if (chmod(path, mode) < 0)
        return listen_fail(why, fd, "chmod", path);
    if (listen(fd, backlog) < 0)
        return listen_fail(why, fd, "listen", path);
    return fd;
}

/*
 * listen_fifo - a named pipe at path, opened read-write so that it never reports EOF when
 * the last writer goes away.
 */
int
listen_fifo(const char *path, mode_t mode, uid_t owner, gid_t group, struct buf *why)
{
    struct stat st;
    int fd;

    if (lstat(path, &st) == 0 && !S_ISFIFO(st.st_mode) && unlink(path) < 0)
        return listen_fail(why, -1, "unlink", path);
    if (mkfifo(path, mode) < 0 && errno != EEXIST)
        return listen_fail(why, -1, "mkfifo", path);
    if ((fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0)
        return listen_fail(why, -1, "open", path);
    if (fchown(fd, owner, group) < 0 && errno != EPERM)
        return listen_fail(why, fd, "chown", path);
    if (fchmod(fd, mode) < 0)
        return listen_fail(why, fd, "chmod", path);
    return fd;
}
