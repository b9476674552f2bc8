/* listen.h - create listening sockets and fifos for the master */
#ifndef CORE_LISTEN_H
#define CORE_LISTEN_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/buf.h"

enum listen_family {
    LISTEN_ANY,
    LISTEN_IPV4,
    LISTEN_IPV6,
};

/*
 * Each function returns a non-blocking, close-on-exec descriptor, or -1 with a reason in
 * why ("bind 127.0.0.1:25: Address already in use"). host NULL or "" means every address
 * of the family; addresses are numeric only, so no call here ever sends a DNS query.
 */
int listen_inet(const char *host, const char *port, enum listen_family family, int backlog,
                struct buf *why);
int listen_unix(const char *path, mode_t mode, uid_t owner, gid_t group, int backlog,
                struct buf *why);
int listen_fifo(const char *path, mode_t mode, uid_t owner, gid_t group, struct buf *why);

#endif
