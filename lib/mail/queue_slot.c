/*
 * queue_slot.c - a recipient's status slot, rewritten in place (one pwrite of fixed size,
 * then fdatasync when durable) and locked by the delivery agent that delivers it.
 *
 * Trusts: the caller for the slot's offset (it came from queue_read.c); a slot that does
 * not decode is refused, never acted on.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "mail/queue_format.h"

static void
queue_unlock_slot(int fd, off_t offset)
{
    struct flock fl = {
        .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = offset, .l_len = QUEUE_SLOT_LEN};

    (void)fcntl(fd, F_OFD_SETLK, &fl);
}

/* queue_file_write_slot - one recipient's status slot at offset; fdatasync when durable */
bool
queue_file_write_slot(int fd, off_t offset, const struct queue_rcpt_status *status, bool durable,
                      struct err *err)
{
    unsigned char slot[QUEUE_SLOT_LEN];
    ssize_t n;

    if (!queue_state_known(status->state) || offset <= 0) {
        return err_set(err, "bad status update");
    }
    queue_slot_encode(slot, status);
    while ((n = pwrite(fd, slot, sizeof(slot), offset)) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof(slot) || (durable && fdatasync(fd) < 0)) {
        return err_set(err, "status update at offset %lld: %s", (long long)offset,
                       n < 0 || n == (ssize_t)sizeof(slot) ? strerror(errno) : "short write");
    }
    return true;
}

/*
 * queue_file_lock_slot - take a write lock on one recipient's slot (waiting while another
 * delivery agent holds it) and read the slot. The lock is an open file description lock:
 * it goes away with the last descriptor of this open, so with a killed holder too.
 */
bool
queue_file_lock_slot(int fd, off_t offset, struct queue_rcpt_status *status, struct err *err)
{
    struct flock fl = {
        .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = offset, .l_len = QUEUE_SLOT_LEN};
    unsigned char slot[QUEUE_SLOT_LEN];
    bool torn;

    while (fcntl(fd, F_OFD_SETLKW, &fl) < 0) {
        if (errno != EINTR) {
            return err_set(err, "lock status slot at offset %lld: %s", (long long)offset,
                           strerror(errno));
        }
    }
    if (pread(fd, slot, sizeof(slot), offset) != (ssize_t)sizeof(slot) ||
        !queue_slot_decode(slot, status, &torn)) {
        queue_unlock_slot(fd, offset);
        return err_set(err, "offset %lld: unreadable status slot", (long long)offset);
    }
    return true;
}

void
queue_file_unlock_slot(int fd, off_t offset)
{
    queue_unlock_slot(fd, offset);
}

/* queue_file_set_status - record a recipient's outcome in place, durably */
bool
queue_file_set_status(int fd, const struct queue_rcpt *rcpt, const struct queue_rcpt_status *status,
                      struct err *err)
{
    return queue_file_write_slot(fd, rcpt->status_offset, status, true, err);
}
