/*
 * fdaudit.c - LD_PRELOAD shim for t/local-limits.t: when a process connects to a socket
 * whose path ends in "private/qmgr", append one line to $FDAUDIT_LOG: the program's name
 * and what each of its descriptors from 3 up refers to (readlink of /proc/self/fd/N), each
 * after a "|". The test reads what local's forwarding child still holds when it talks to
 * qmgr. Trusts its environment (tests only).
 */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

/* fdaudit_line - "exe: target target ..." for every descriptor from 3 up but skip */
static size_t
fdaudit_line(char *line, size_t size, int skip)
{
    char exe[256] = "?", path[64], target[256];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    size_t len;
    DIR *d;
    struct dirent *e;

    exe[n > 0 ? n : 1] = 0;
    len = (size_t)snprintf(line, size, "%s:", strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe);
    if ((d = opendir("/proc/self/fd")) == NULL)
        return len;
    while ((e = readdir(d)) != NULL && len < size - 300) {
        int fd = (int)strtol(e->d_name, NULL, 10);

        if (e->d_name[0] == '.' || fd < 3 || fd == skip || fd == dirfd(d))
            continue;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if ((n = readlink(path, target, sizeof(target) - 1)) < 0)
            continue;
        target[n] = 0;
        len += (size_t)snprintf(line + len, size - len, "|%s", target);
    }
    closedir(d);
    return len;
}

int
connect(int sock, const struct sockaddr *sa, socklen_t salen)
{
    const char *log = getenv("FDAUDIT_LOG");
    const char *p =
        sa && sa->sa_family == AF_UNIX ? ((const struct sockaddr_un *)sa)->sun_path : "";
    size_t plen = strlen(p);

    if (log != NULL && plen >= 12 && strcmp(p + plen - 12, "private/qmgr") == 0) {
        char line[8192];
        size_t len = fdaudit_line(line, sizeof(line) - 1, sock);
        int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);

        line[len++] = '\n';
        if (fd >= 0) {
            (void)!write(fd, line, len);
            close(fd);
        }
    }
    return ((connect_fn)dlsym(RTLD_NEXT, "connect"))(sock, sa, salen);
}
