/* fdpass.h - one sendmsg/recvmsg with descriptors beside the bytes (SCM_RIGHTS) */
#ifndef CORE_FDPASS_H
#define CORE_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#include "core/attr.h"

/* fdpass_send - one sendmsg() of len bytes with nfds descriptors; flags as for sendmsg
 * (MSG_NOSIGNAL is always added). Returns what sendmsg returns. */
ssize_t fdpass_send(int sock, const void *data, size_t len, const int *fds, size_t nfds, int flags);

/* fdpass_recv - one recvmsg() of at most len bytes, retried on EINTR. Descriptors that
 * arrive are added to fds (close-on-exec); any beyond ATTR_MAX_FDS are closed and counted
 * in *dropped, as is a control message the kernel had to cut short. */
ssize_t fdpass_recv(int sock, void *data, size_t len, struct attr_fds *fds, int flags,
                    size_t *dropped);

#endif
