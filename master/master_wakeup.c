/*
 * master_wakeup.c - the wakeup column of master.cf: every N seconds, poke the service.
 *
 * Runs as root in the master. A poke is one byte, 'W', written to the service's fifo or
 * sent over a fresh connection to its UNIX socket, without ever blocking the master: if the
 * fifo is full or nobody accepts, the service is busy anyway and the poke is dropped. With
 * "N?" in the column a service is only poked while it has a child.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "master/master.h"

#define WAKEUP_BYTE "W"

static void
master_wakeup_fifo(const char *path)
{
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0)
        return;
    if (write(fd, WAKEUP_BYTE, 1) < 0 && errno != EAGAIN)
        log_warn("wakeup %s: %m", path);
    close(fd);
}

static void
master_wakeup_socket(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path))
        return;
    strcpy(sun.sun_path, path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
        send(fd, WAKEUP_BYTE, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    close(fd);
}

static void
master_wakeup_fire(void *arg)
{
    struct master_service *svc = arg;

    if (svc->removed || svc->sock_paths.n == 0 || (svc->wakeup_if_running && svc->nprocs == 0))
        return;
    log_trace("master", "wakeup %s", svc->key);
    if (svc->type == MASTER_FIFO)
        master_wakeup_fifo(svc->sock_paths.v[0]);
    else
        master_wakeup_socket(svc->sock_paths.v[0]);
}

/* master_wakeup_start - arm the periodic wakeup of a fifo or UNIX-socket service */
void
master_wakeup_start(struct master_service *svc)
{
    if (svc->wakeup <= 0 || svc->type == MASTER_INET)
        return;
    svc->wakeup_timer = loop_timer_new(svc->master->loop, master_wakeup_fire, svc);
    loop_timer_every(svc->wakeup_timer, svc->wakeup * 1000L);
}
