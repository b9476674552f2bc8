/*
 * queue_ctl.c - fuzz target for what the queue commands read from showq and qmgr: the
 * input is the byte stream a compromised daemon would send after the request (a listing,
 * a flush answer, a show answer), read through the real socket code.
 *
 * Invariants: whatever the input, every message handed out has a valid queue ID, a queue
 * name that fits, recipients within a queue file's limit and no NULL string; a flush
 * count comes only with OK; no show answer is OK (the input carries no descriptor).
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mail/queue_ctl.h"
#include "mail/queue_file.h"
#include "t/fuzz.h"

#define FUZZ_MAX 65536 /* fits in a socket buffer: written before the call reads it */

static void
fuzz_entry(const struct queue_ctl_entry *e, void *ctx)
{
    FUZZ_ASSERT(queue_id_valid(e->id, strlen(e->id)));
    FUZZ_ASSERT(strlen(e->queue_name) < QUEUE_CTL_NAME_SIZE);
    FUZZ_ASSERT(e->sender != NULL && e->nrcpt <= QUEUE_FILE_RCPT_MAX);
    for (size_t i = 0; i < e->nrcpt; i++)
        FUZZ_ASSERT(e->rcpt[i].addr != NULL && e->rcpt[i].reason != NULL);
    ++*(int *)ctx;
}

/* fuzz_stream - a socket pair whose far end (*far) has sent data and nothing more; the
 * near end, where the request goes and the data comes from */
static int
fuzz_stream(const uint8_t *data, size_t size, int *far)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        abort();
    if (size > 0 && write(sv[1], data, size) != (ssize_t)size)
        abort();
    shutdown(sv[1], SHUT_WR);
    *far = sv[1];
    return sv[0];
}

static void
fuzz_close(int near, int far)
{
    close(near);
    close(far);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[QUEUE_CTL_WHY_SIZE], name[QUEUE_CTL_NAME_SIZE];
    int fd, far, file, seen = 0;
    long count = -1;

    if (size > FUZZ_MAX)
        return 0;
    fd = fuzz_stream(data, size, &far);
    queue_ctl_list(fd, fuzz_entry, &seen, why, sizeof(why));
    fuzz_close(fd, far);
    fd = fuzz_stream(data, size, &far);
    if (queue_ctl_flush(fd, "", "", &count, why, sizeof(why)) != QUEUE_CTL_OK)
        FUZZ_ASSERT(count == -1);
    fuzz_close(fd, far);
    fd = fuzz_stream(data, size, &far);
    FUZZ_ASSERT(queue_ctl_show(fd, "01xXV5x0qyG07po00", &file, name, why, sizeof(why)) !=
                QUEUE_CTL_OK);
    FUZZ_ASSERT(file == -1);
    fuzz_close(fd, far);
    return 0;
}
