/*
 * peers.c - who may talk to whom (in the spirit of OpenSMTPD's setup_peers).
 *
 * Trusts: the kernel's SO_PEERCRED answer, nothing the client says about itself. The table
 * below is the only place this policy is written; the master creates sockets from it and
 * each daemon checks its clients against it.
 *
 * Limit: several roles share mail_owner's uid, so the credential check separates trust
 * classes (mail_owner, root, tlsproxy's own user, local users), not individual daemons of
 * one class; within a class the private directory and the master's socket placement
 * decide who can reach what.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "mail/peers.h"

static const char *const peers_role_names[] = {
#define PEER_ROLE_NAME(id, name) name,
    PEER_ROLES(PEER_ROLE_NAME)
#undef PEER_ROLE_NAME
};

#define B(role) PEER_BIT(PEER_##role)

/* The table. Keep it in the order a reader would look for a service. */
static const struct peer_socket peers_sockets[] = {
    {"qmgr", PEER_QMGR, B(SMTPD) | B(SUBMISSION) | B(PICKUP) | B(POSTERN) | B(BOUNCE) | B(SHOWQ),
     false, 0600},
    {"showq", PEER_SHOWQ, B(POSTERN), true, 0666}, /* every local user: mailq, postqueue */
    {"tlsproxy", PEER_TLSPROXY, B(SMTPD) | B(SUBMISSION) | B(SMTP_OUT), false, 0600},
    {"local", PEER_LOCAL, B(QMGR), false, 0600},
    {"virtual", PEER_LOCAL, B(QMGR), false, 0600}, /* the local program, virtual mailboxes */
    {"smtp-out", PEER_SMTP_OUT, B(QMGR), false, 0600},
    /* the smtp-out program under Postfix's transport names (default_transport, relay_transport);
     * the inet service "smtp" is not a UNIX socket, so this entry never applies to it */
    {"smtp", PEER_SMTP_OUT, B(QMGR), false, 0600},
    {"relay", PEER_SMTP_OUT, B(QMGR), false, 0600},
    {"bounce", PEER_BOUNCE, B(QMGR), false, 0600},
    {"pickup", PEER_PICKUP, B(SENDMAIL) | B(POSTERN), true, 0620},
    {"anvil", PEER_ANVIL, B(SMTPD) | B(SUBMISSION), false, 0600},
};

#undef B

bool
peers_role_lookup(const char *name, enum peer_role *role)
{
    for (unsigned r = 0; r < PEER_ROLE_COUNT; r++) {
        if (strcmp(peers_role_names[r], name) == 0) {
            *role = (enum peer_role)r;
            return true;
        }
    }
    return false;
}

/* peers_lookup - the table entry of a service socket, or NULL */
const struct peer_socket *
peers_lookup(const char *socket_name)
{
    for (size_t i = 0; i < sizeof(peers_sockets) / sizeof(peers_sockets[0]); i++)
        if (strcmp(peers_sockets[i].name, socket_name) == 0)
            return &peers_sockets[i];
    return NULL;
}

bool
peers_may_connect(const struct peer_socket *sock, enum peer_role client)
{
    return (unsigned)client < PEER_ROLE_COUNT && (sock->clients & PEER_BIT(client)) != 0;
}

void
peers_uids_all(struct peer_uids *uids, uid_t uid)
{
    for (unsigned r = 0; r < PEER_ROLE_COUNT; r++)
        uids->uid[r] = uid;
}

/*
 * peers_check - may the process with these credentials use this socket? A public socket
 * is open to any local user (its mode and group already said who); a private one only to
 * a uid that one of the allowed client roles runs as. Root gets no exception: it passes
 * only where an allowed role runs as root.
 */
bool
peers_check(const struct peer_socket *sock, const struct ipc_cred *cred,
            const struct peer_uids *uids, struct err *err)
{
    if (sock->public)
        return true;
    for (unsigned r = 0; r < PEER_ROLE_COUNT; r++)
        if ((sock->clients & PEER_BIT(r)) && uids->uid[r] == cred->uid)
            return true;
    return err_set(err, "%s: uid %ld (pid %ld) runs as none of the roles allowed to connect",
                   sock->name, (long)cred->uid, (long)cred->pid);
}
