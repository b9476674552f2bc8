/*
 * fdpass.c - descriptor passing over UNIX stream sockets.
 *
 * Trusts: nothing the peer sends. Every descriptor that arrives is close-on-exec from the
 * start (MSG_CMSG_CLOEXEC) and is either handed to the caller or closed here: a peer
 * cannot make us leak descriptors by sending more than a record may carry, or by sending
 * them in a control message type we do not expect.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/fdpass.h"
#include "core/log.h"

/* Room for as many descriptors as Linux passes in one message (SCM_MAX_FD), so that a
 * flood is seen and closed here rather than cut off by the kernel. */
#define FDPASS_CTL_FDS 253

/* fdpass_send - one sendmsg of data with nfds descriptors attached; send(2)'s result */
ssize_t
fdpass_send(int sock, const void *data, size_t len, const int *fds, size_t nfds, int flags)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * ATTR_MAX_FDS)];
    } ctl;
    struct iovec iov = {.iov_base = (void *)(uintptr_t)data, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

    if (nfds > ATTR_MAX_FDS)
        log_panic("fdpass_send: %zu descriptors", nfds);
    if (nfds > 0) {
        struct cmsghdr *cmsg;

        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
    }
    return sendmsg(sock, &msg, flags | MSG_NOSIGNAL);
}

/* fdpass_take - move the descriptors of one SCM_RIGHTS message into fds or close them */
static void
fdpass_take(struct cmsghdr *cmsg, struct attr_fds *fds, size_t *dropped)
{
    size_t n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char *p = CMSG_DATA(cmsg);

    for (size_t i = 0; i < n; i++) {
        int fd;

        memcpy(&fd, p + i * sizeof(int), sizeof(int));
        if (fds->n < ATTR_MAX_FDS) {
            fds->fd[fds->n++] = fd;
        } else {
            close(fd);
            (*dropped)++;
        }
    }
}

/*
 * fdpass_recv - one recvmsg into data; descriptors that came go to fds, those beyond room
 * are closed and counted in *dropped
 */
ssize_t
fdpass_recv(int sock, void *data, size_t len, struct attr_fds *fds, int flags, size_t *dropped)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * FDPASS_CTL_FDS)];
    } ctl;
    struct iovec iov = {.iov_base = data, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    ssize_t got;

    do {
        got = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
    } while (got < 0 && errno == EINTR);
    if (got < 0)
        return got;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            fdpass_take(c, fds, dropped);
    if (msg.msg_flags & MSG_CTRUNC)
        (*dropped)++;
    return got;
}
