/*
 * master_listen.c - open and close the listeners of one service.
 *
 * Runs as root in the master. Trusts master.cf and main.cf (root's files). inet listeners
 * follow inet_interfaces and inet_protocols unless the entry names its own address; UNIX
 * sockets and fifos live under $queue_directory/private (postern's own processes only: the
 * directory is mail_owner's, mode 0700) or $queue_directory/public (0711, for local users).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/listen.h"
#include "core/log.h"
#include "core/mem.h"
#include "mail/peers.h"
#include "master/master.h"

/*
 * As deep as the kernel allows (net.core.somaxconn caps it): one event-driven smtpd holds
 * thousands of sessions, and a burst of connections must wait in the queue, not lose its
 * SYNs and retry seconds later.
 */
#define MASTER_BACKLOG SOMAXCONN

static void
master_listen_add(struct master_service *svc, int fd)
{
    svc->fds = xreallocarray(svc->fds, svc->nfds + 1, sizeof(*svc->fds));
    svc->fds[svc->nfds++] = fd;
}

static enum listen_family
master_family(const struct params *p)
{
    bool v4 = false, v6 = false;

    for (size_t i = 0; i < p->inet_protocols.n; i++) {
        const char *word = p->inet_protocols.v[i];
        if (strcmp(word, "all") == 0)
            v4 = v6 = true;
        else if (strcmp(word, "ipv4") == 0)
            v4 = true;
        else if (strcmp(word, "ipv6") == 0)
            v6 = true;
    }
    return v4 && !v6 ? LISTEN_IPV4 : v6 && !v4 ? LISTEN_IPV6 : LISTEN_ANY;
}

/* master_listen_host - one numeric address, with IPv6 brackets removed */
static bool
master_listen_host(struct master_service *svc, const char *host, enum listen_family family,
                   struct err *err)
{
    char addr[128];
    size_t len = strlen(host);
    int fd;

    if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof(addr)) {
        memcpy(addr, host + 1, len - 2);
        addr[len - 2] = 0;
        host = addr;
    }
    if ((fd = listen_inet(host, svc->listen_port, family, MASTER_BACKLOG, err)) < 0)
        return false;
    master_listen_add(svc, fd);
    return true;
}

/* master_listen_any - the wildcard address of each enabled family */
static bool
master_listen_any(struct master_service *svc, enum listen_family family, struct err *err)
{
    if (family != LISTEN_IPV6 && !master_listen_host(svc, "0.0.0.0", LISTEN_IPV4, err))
        return false;
    if (family != LISTEN_IPV4 && !master_listen_host(svc, "::", LISTEN_IPV6, err)) {
        /* A host without IPv6 still serves IPv4 when both were asked for. */
        if (family == LISTEN_ANY && errno == EAFNOSUPPORT)
            return true;
        return false;
    }
    return true;
}

/*
 * master_listen_inet - the TCP listeners of an inet service: its own address, or each of
 * inet_interfaces in each of inet_protocols
 */
static bool
master_listen_inet(struct master *m, struct master_service *svc, struct err *err)
{
    const struct strvec *ifaces = &m->params.inet_interfaces;
    enum listen_family family = master_family(&m->params);

    if (svc->listen_host)
        return master_listen_host(svc, svc->listen_host, LISTEN_ANY, err);
    for (size_t i = 0; i < ifaces->n; i++) {
        const char *iface = ifaces->v[i];
        bool good;

        if (strcmp(iface, "all") == 0)
            good = master_listen_any(svc, family, err);
        else if (strcmp(iface, "loopback-only") == 0)
            good = (family == LISTEN_IPV6 || master_listen_host(svc, "127.0.0.1", family, err)) &&
                   (family == LISTEN_IPV4 || master_listen_host(svc, "::1", family, err));
        else
            good = master_listen_host(svc, iface, family, err);
        if (!good)
            return false;
    }
    return true;
}

/*
 * master_listen_local - a UNIX socket or fifo. Sockets named in the peer table get its
 * mode, and public ones setgid_group as their group (postdrop wakes pickup with it);
 * others are reachable by whoever can enter their directory.
 */
static bool
master_listen_local(struct master *m, struct master_service *svc, struct err *err)
{
    char *path = xasprintf("%s/%s/%s", m->params.queue_directory,
                           svc->private_sock ? "private" : "public", svc->name);
    const struct peer_socket *peer = peers_lookup(svc->name);
    const struct listen_owner *owner = peer && peer->public ? &m->drop : &m->owner;
    int fd;

    if (svc->type == MASTER_FIFO)
        fd = listen_fifo(path, peer ? peer->mode : 0622, owner, err);
    else
        fd = listen_unix(path, peer ? peer->mode : 0666, owner, MASTER_BACKLOG, err);
    if (fd < 0) {
        free(path);
        return false;
    }
    master_listen_add(svc, fd);
    strvec_add_owned(&svc->sock_paths, path);
    return true;
}

/* master_listen_open - create every listener of svc; on failure none is left open */
bool
master_listen_open(struct master *m, struct master_service *svc, struct err *err)
{
    bool good;

    switch (svc->type) {
    case MASTER_INET:
        good = master_listen_inet(m, svc, err);
        break;
    case MASTER_UNIX:
    case MASTER_PASS:
    case MASTER_FIFO:
        good = master_listen_local(m, svc, err);
        break;
    default:
        good = err_set(err, "service type of %s is not supported yet", svc->key);
        break;
    }
    if (!good)
        master_listen_close(svc);
    return good;
}

/* master_listen_close - close the listeners and remove the socket files */
void
master_listen_close(struct master_service *svc)
{
    for (size_t i = 0; i < svc->nfds; i++)
        close(svc->fds[i]);
    free(svc->fds);
    svc->fds = NULL;
    svc->nfds = 0;
    for (size_t i = 0; i < svc->sock_paths.n; i++)
        listen_remove(svc->sock_paths.v[i], &svc->master->owner);
    strvec_free(&svc->sock_paths);
}
