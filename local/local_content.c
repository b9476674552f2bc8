/*
 * local_content.c - the message as mailboxes get it: a memory file with LF line ends.
 *
 * The queue file holds the content in records with CRLF line ends (as SMTP carries it);
 * mailboxes and commands get bare LF, as Postfix's local writes. The copy is made once per
 * request, as root, before any child drops privileges (the children read it with pread,
 * the queue file itself is never handed to a process running as a user).
 *
 * Trusts: the queue file as queue_read.c checked it; the content is copied, never
 * interpreted.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/buf.h"
#include "local/local.h"
#include "mail/queue_file.h"

struct local_copy {
    int fd;
    struct buf out;
    bool cr; /* the last chunk ended in CR */
    int err;
};

static void
local_copy_flush(struct local_copy *c)
{
    size_t off = 0;

    while (c->err == 0 && off < c->out.len) {
        ssize_t n = write(c->fd, c->out.data + off, c->out.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            c->err = n < 0 ? errno : EIO;
        else
            off += (size_t)n;
    }
    buf_reset(&c->out);
}

/* local_copy_chunk - CRLF becomes LF, also across chunks; a bare CR stays */
static bool
local_copy_chunk(const char *data, size_t len, void *arg)
{
    struct local_copy *c = arg;

    for (size_t i = 0; i < len; i++) {
        if (c->cr && data[i] != '\n')
            buf_putc(&c->out, '\r');
        c->cr = data[i] == '\r';
        if (!c->cr)
            buf_putc(&c->out, data[i]);
        if (c->out.len >= 65536)
            local_copy_flush(c);
    }
    return c->err == 0;
}

/* local_content - copy the request's content into msg->fd */
bool
local_content(const struct deliver_req *req, struct local_msg *msg, struct deliver_result *res)
{
    struct queue_envelope env = {.content_offset = req->offset};
    struct err err;
    struct local_copy c = {0};
    bool good;

    msg->req = req;
    msg->fd = memfd_create("postern-message", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (msg->fd < 0) {
        deliver_errno(res, errno, "create", "memory file");
        return false;
    }
    c.fd = msg->fd;
    buf_init(&c.out, 128 * 1024);
    good = queue_file_content(req->fd, &env, local_copy_chunk, &c, &err);
    if (c.cr)
        buf_putc(&c.out, '\r');
    local_copy_flush(&c);
    buf_free(&c.out);
    if (!good || c.err) {
        deliver_set(res, DELIVER_DEFER, "4.3.0", "read queue file: %s",
                    c.err ? strerror(c.err) : err.text);
        close(msg->fd);
        msg->fd = -1;
        return false;
    }
    msg->len = lseek(msg->fd, 0, SEEK_CUR);
    /* Sealed: a delivery process running as one recipient cannot change what the next
     * recipient of the request gets. */
    if (fcntl(msg->fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
        deliver_errno(res, errno, "seal", "memory file");
        close(msg->fd);
        msg->fd = -1;
        return false;
    }
    return true;
}
