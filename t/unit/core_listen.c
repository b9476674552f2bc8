/* core_listen.c - listeners bind where asked, report clear reasons, never resolve names */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/listen.h"
#include "core/mem.h"
#include "t/tap.h"

static int
bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    memset(&ss, 0, sizeof(ss));

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void
test_inet(struct err *why)
{
    int fd = listen_inet("127.0.0.1", "0", LISTEN_ANY, 16, why), again;
    char port[16];

    ok(fd >= 0, "TCP listener on 127.0.0.1");
    snprintf(port, sizeof(port), "%d", bound_port(fd));
    again = listen_inet("127.0.0.1", port, LISTEN_IPV4, 16, why);
    ok(again < 0, "a port in use is refused");
    like(why->text, "bind 127.0.0.1:", "and the reason names the address");
    like(why->text, "in use", "and says why");
    close(fd);
    ok(listen_inet("localhost", "25", LISTEN_ANY, 16, why) < 0, "a host name is not looked up");
    like(why->text, "address localhost:25", "the refusal names the address");
    fd = listen_inet("::1", "0", LISTEN_IPV6, 16, why);
    ok(fd >= 0 || like(why->text, "::1", "no IPv6 here"), "IPv6 loopback listener");
    if (fd >= 0)
        close(fd);
}

static void
test_unix_and_fifo(struct err *why)
{
    char *sock = xasprintf("%s/public-sock", tap_tmpdir());
    char *fifo = xasprintf("%s/wakeup", tap_tmpdir());
    struct listen_owner me = {getuid(), getgid()};
    struct stat st;
    int fd;

    fd = listen_unix(sock, 0666, &me, 16, why);
    ok(fd >= 0 && stat(sock, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0666,
       "UNIX socket with the requested mode");
    close(fd);
    fd = listen_unix(sock, 0600, &me, 16, why);
    ok(fd >= 0, "a stale socket file is replaced");
    close(fd);
    fd = listen_fifo(fifo, 0622, &me, why);
    ok(fd >= 0 && stat(fifo, &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0622,
       "fifo with the requested mode");
    close(fd);
    free(sock);
    free(fifo);
}

int
main(void)
{
    struct err why;
    test_inet(&why);
    test_unix_and_fifo(&why);
    return done_testing();
}
