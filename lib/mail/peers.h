/* peers.h - the one table of which process may connect to which service socket */
#ifndef MAIL_PEERS_H
#define MAIL_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/err.h"
#include "core/ipc.h"

/*
 * Roles are the processes of ARCHITECTURE.md plus the two local commands that may talk
 * to a daemon. Declared once; the enum and the names come from this list.
 */
#define PEER_ROLES(X)           \
    X(MASTER, "master")         \
    X(SMTPD, "smtpd")           \
    X(SUBMISSION, "submission") \
    X(QMGR, "qmgr")             \
    X(SMTP_OUT, "smtp-out")     \
    X(LOCAL, "local")           \
    X(TLSPROXY, "tlsproxy")     \
    X(PICKUP, "pickup")         \
    X(POSTERN, "postern")       \
    X(SENDMAIL, "sendmail")     \
    X(ANVIL, "anvil")           \
    X(BOUNCE, "bounce")         \
    X(SHOWQ, "showq")

enum peer_role {
#define PEER_ROLE_ENUM(id, name) PEER_##id,
    PEER_ROLES(PEER_ROLE_ENUM)
#undef PEER_ROLE_ENUM
    PEER_ROLE_COUNT
};

#define PEER_BIT(role) (1u << (role))

/*
 * One service socket. Private sockets live in $queue_directory/private (a directory only
 * mail_owner can enter) and belong to mail_owner; public ones live in public/ and belong to
 * the group setgid_group, which the local commands run with. The master creates each
 * socket with mode; the owning daemon checks every client's credentials with
 * peers_check() as well, so a wrong mode is not enough to let a stranger in.
 */
struct peer_socket {
    const char *name; /* socket file name, also the master.cf service name */
    enum peer_role owner;
    unsigned clients; /* PEER_BIT() of every role that may connect */
    bool public;
    mode_t mode;
};

/* Which uid each role runs as, for the credential check. In development mode (not
 * started as root) every role runs as the same user. */
struct peer_uids {
    uid_t uid[PEER_ROLE_COUNT];
};

bool peers_role_lookup(const char *name, enum peer_role *role);

const struct peer_socket *peers_lookup(const char *socket_name);
bool peers_may_connect(const struct peer_socket *sock, enum peer_role client);

void peers_uids_all(struct peer_uids *uids, uid_t uid);
bool peers_check(const struct peer_socket *sock, const struct ipc_cred *cred,
                 const struct peer_uids *uids, struct err *err);

#endif
