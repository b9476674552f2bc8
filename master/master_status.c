/*
 * master_status.c - read the children's status reports.
 *
 * Runs as root in the master and trusts the children only this far: a report is one
 * datagram holding one attribute record (lib/mail/proto.h: status_ready, status_busy,
 * status_idle, status_reloads, with the sender's pid). The kernel says who really sent each
 * datagram (SO_PASSCRED on the master's end): a report about another process, a malformed one, or
 * one naming a pid that is not a child of this service is logged and dropped. A
 * compromised child can lie about its own load, nothing more.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "core/attr.h"
#include "core/log.h"
#include "mail/proto.h"
#include "master/master.h"

#define MASTER_STATUS_MAX 512

static struct master_proc *
master_status_proc(struct master_service *svc, long long pid)
{
    for (struct master_proc *p = svc->procs; p; p = p->next)
        if (p->pid == pid)
            return p;
    return NULL;
}

/* master_status_apply - one report: the child is idle, busy, or has just started */
static void
master_status_apply(struct master_service *svc, struct master_proc *proc, enum proto_msg msg)
{
    bool idle = msg != PROTO_STATUS_BUSY;

    if (msg == PROTO_STATUS_RELOADS) {
        proc->reloads = true;
        return;
    }
    if (msg == PROTO_STATUS_READY)
        proc->ready = true;
    if (proc->retiring || proc->idle == idle)
        return;
    proc->idle = idle;
    svc->nidle += idle ? 1 : -1;
    master_avail_update(svc);
}

/* master_status_one - one report, sent (says the kernel) by process sender */
static void
master_status_one(struct master_service *svc, const char *data, size_t len, pid_t sender)
{
    struct buf name;
    int64_t pid = 0;
    struct attr_fds fds;
    struct err err;
    struct master_proc *proc;
    enum proto_msg msg;
    const struct attr_spec spec[] = {
        {PROTO_ATTR_MSG, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &name},
        {PROTO_ATTR_PID, ATTR_INT, ATTR_REQUIRED, &pid},
    };

    buf_init(&name, PROTO_MSG_NAME_SIZE);
    attr_fds_init(&fds);
    if (!attr_decode(data, len, MASTER_STATUS_MAX, &fds, spec, nitems(spec), &err)) {
        log_warn("service %s: bad status report: %s", svc->key, err.text);
    } else if (pid != sender) {
        log_warn("service %s: status report about pid %lld from pid %ld dropped", svc->key,
                 (long long)pid, (long)sender);
    } else if ((msg = proto_msg_lookup(buf_str(&name))) != PROTO_STATUS_READY &&
               msg != PROTO_STATUS_BUSY && msg != PROTO_STATUS_IDLE &&
               msg != PROTO_STATUS_RELOADS) {
        log_warn("service %s: unexpected status message \"%s\"", svc->key, buf_str(&name));
    } else if ((proc = master_status_proc(svc, pid)) == NULL) {
        log_trace("master", "service %s: status from unknown pid %lld", svc->key, (long long)pid);
    } else {
        master_status_apply(svc, proc, msg);
    }
    buf_free(&name);
}

/* master_status_sender - the pid the kernel attached to a datagram, or 0 if none */
static pid_t
master_status_sender(struct msghdr *msg)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
            c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
            struct ucred cred;

            memcpy(&cred, CMSG_DATA(c), sizeof(cred));
            return cred.pid;
        }
    return 0;
}

/* master_status_read - drain the service's status socket */
void
master_status_read(int fd, unsigned events, void *ctx)
{
    struct master_service *svc = ctx;
    char data[MASTER_STATUS_MAX];
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(struct ucred))];
    } control;
    struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n;

    for (;;) {
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof(control.buf);
        if ((n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC)) <= 0)
            break;
        if ((size_t)n > sizeof(data))
            log_warn("service %s: oversized status report dropped", svc->key);
        else
            master_status_one(svc, data, (size_t)n, master_status_sender(&msg));
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
        log_warn("service %s: status socket: %m", svc->key);
}
