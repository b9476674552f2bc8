/* listen.h - create listening sockets and fifos for the master */
#ifndef CORE_LISTEN_H
#define CORE_LISTEN_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/err.h"

enum listen_family {
    LISTEN_ANY,
    LISTEN_IPV4,
    LISTEN_IPV6,
};

/* Who owns a UNIX socket or fifo; its path operations run with these ids (listen.c). */
struct listen_owner {
    uid_t uid;
    gid_t gid;
};

/*
 * Each function returns a non-blocking, close-on-exec descriptor, or -1 with a reason in
 * err ("bind 127.0.0.1:25: Address already in use"). host NULL or "" means every address
 * of the family; addresses are numeric only, so no call here ever sends a DNS query.
 */
int listen_inet(const char *host, const char *port, enum listen_family family, int backlog,
                struct err *err);
int listen_unix(const char *path, mode_t mode, const struct listen_owner *owner, int backlog,
                struct err *err);
int listen_fifo(const char *path, mode_t mode, const struct listen_owner *owner, struct err *err);
void listen_remove(const char *path, const struct listen_owner *owner);
int listen_connect(const char *path, const struct listen_owner *owner);

#endif
