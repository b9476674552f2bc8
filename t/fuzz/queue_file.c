/*
 * queue_file.c - fuzz target for the queue file reader: the input is a whole queue file as
 * a crash, a damaged disk or a confused receiver might leave it.
 *
 * Invariants: the reader never crashes and never reads past a length it checked; a file it
 * accepts has recipients, bounded strings and content whose records add up to env.size;
 * an accepted file stays accepted after every recipient's status is rewritten in place,
 * and the new status reads back.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mail/queue_file.h"
#include "t/fuzz.h"

static bool
fuzz_count(const char *data, size_t len, void *ctx)
{
    *(uint64_t *)ctx += len;
    return data != NULL;
}

/* fuzz_rewrite - defer every recipient in place; the file must read back the same way */
static void
fuzz_rewrite(int fd, struct queue_envelope *env)
{
    struct queue_rcpt_status deferred = {
        .state = QUEUE_RCPT_DEFERRED, .next_try = 1700000000, .reason = "4.0.0 fuzz"};
    struct queue_envelope again;
    struct err err;

    for (size_t i = 0; i < env->nrcpt; i++)
        FUZZ_ASSERT(queue_file_set_status(fd, &env->rcpt[i], &deferred, &err));
    FUZZ_ASSERT(queue_file_read(fd, &again, &err));
    FUZZ_ASSERT(again.nrcpt == env->nrcpt && again.size == env->size);
    for (size_t i = 0; i < again.nrcpt; i++)
        FUZZ_ASSERT(again.rcpt[i].status.state == QUEUE_RCPT_DEFERRED &&
                    strcmp(again.rcpt[i].status.reason, deferred.reason) == 0);
    queue_envelope_free(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct queue_envelope env;
    struct err err;
    uint64_t content = 0;
    int fd = memfd_create("fuzz-queue-file", MFD_CLOEXEC);

    FUZZ_ASSERT(fd >= 0);
    FUZZ_ASSERT(write(fd, data, size) == (ssize_t)size);
    if (queue_file_read(fd, &env, &err)) {
        FUZZ_ASSERT(env.nrcpt > 0 && env.nrcpt <= QUEUE_FILE_RCPT_MAX);
        FUZZ_ASSERT(strlen(env.sender) <= QUEUE_FILE_ADDR_MAX);
        for (size_t i = 0; i < env.nrcpt; i++)
            FUZZ_ASSERT(strlen(env.rcpt[i].addr) <= QUEUE_FILE_ADDR_MAX &&
                        env.rcpt[i].status_offset > 0 && (size_t)env.rcpt[i].status_offset < size);
        FUZZ_ASSERT(queue_file_content(fd, &env, fuzz_count, &content, &err));
        FUZZ_ASSERT(content == env.size);
        fuzz_rewrite(fd, &env);
        queue_envelope_free(&env);
    } else {
        FUZZ_ASSERT(env.nrcpt == 0 && env.rcpt == NULL && strlen(err.text) > 0);
    }
    close(fd);
    return 0;
}
