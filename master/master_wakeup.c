/*
 * master_wakeup.c - the wakeup column of master.cf: every N seconds, poke the service.
 *
 * Runs as root in the master. A poke is one byte, 'W', written into the service's fifo
 * through the master's own descriptor of it, or sent over a fresh connection to its UNIX
 * socket made as mail_owner (the socket's directory is mail_owner's: root never opens a
 * path there). It never blocks the master: if the fifo is full or nobody accepts, the
 * service is busy anyway and the poke is dropped. With "N?" in the column a service is only
 * poked while it has a child.
 *
 * Trusts: nothing beyond its own descriptors and the service's socket path, which it
 * reaches only as mail_owner.
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

/* master_wakeup_fifo - into the fifo the master opened read-write when it created it */
static void
master_wakeup_fifo(const struct master_service *svc)
{
    if (svc->nfds > 0 && write(svc->fds[0], WAKEUP_BYTE, 1) < 0 && errno != EAGAIN)
        log_warn("wakeup %s: %m", svc->sock_paths.v[0]);
}

/* master_wakeup_socket - over a connection made as the socket's owner */
static void
master_wakeup_socket(const struct master_service *svc)
{
    int fd = listen_connect(svc->sock_paths.v[0], &svc->master->owner);

    if (fd < 0)
        return;
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
        master_wakeup_fifo(svc);
    else
        master_wakeup_socket(svc);
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
