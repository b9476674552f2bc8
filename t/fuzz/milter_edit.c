/*
 * milter_edit.c - fuzz target for the milter edits: the input is a message's content and a
 * sequence of edit replies as a milter might send them, applied to a queue file.
 *
 * Input: the content up to the first NUL, then edits, each a command octet, an index octet
 * and two NUL-terminated strings (name/address, value/arguments); for REPLBODY ('b') the
 * first string is the chunk. A 'M' command stands for the next milter (its index octet's
 * low bit: SMFIP_HDR_LEADSPC).
 *
 * Invariants: nothing crashes; an applied edit gives a file that queue_file_read accepts,
 * with recipients, and whose content adds up to its size; the old file is left byte for
 * byte as it was, spool or not.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/buf.h"
#include "mail/milter_edit.h"
#include "mail/queue_file.h"
#include "t/fuzz.h"

static bool
fuzz_collect(const char *data, size_t len, void *ctx)
{
    return buf_append(ctx, data, len);
}

/* fuzz_old - the uncommitted file smtpd would have written with this content */
static int
fuzz_old(const uint8_t *content, size_t len)
{
    struct queue_envelope env = {
        .arrival = {1700000000, 0},
        .sender = "s@example.org",
        .client_name = "c",
        .client_addr = "192.0.2.1",
        .helo = "c",
        .protocol = "ESMTP",
    };
    struct queue_writer w;
    struct err err;
    int fd = memfd_create("fuzz-old", MFD_CLOEXEC);

    FUZZ_ASSERT(fd >= 0);
    queue_writer_init(&w, fd, &env);
    queue_writer_rcpt(&w, "one@example.com", "", "");
    queue_writer_rcpt(&w, "two@example.com", "SUCCESS", "");
    queue_writer_content(&w, content, len);
    FUZZ_ASSERT(queue_writer_end(&w, &err));
    queue_writer_free(&w);
    return fd;
}

/* fuzz_file_bytes - the whole file, to compare before and after */
static void
fuzz_file_bytes(int fd, struct buf *out)
{
    char chunk[4096];
    ssize_t n;
    off_t off = 0;

    buf_init(out, BUF_UNLIMITED);
    while ((n = pread(fd, chunk, sizeof(chunk), off)) > 0) {
        buf_append(out, chunk, (size_t)n);
        off += n;
    }
}

/* fuzz_edits - feed the edits in the input to the collector; failures are fine */
static void
fuzz_edits(struct milter_edits *e, const char *p, const char *end)
{
    while (end - p >= 2) {
        struct milter_reply r = {.cmd = (unsigned char)p[0], .index = (unsigned char)p[1]};
        const char *a = p + 2, *a_end = memchr(a, 0, (size_t)(end - a));
        const char *b = a_end ? a_end + 1 : end, *b_end = memchr(b, 0, (size_t)(end - b));
        struct err err;

        if (a_end == NULL || b_end == NULL)
            return;
        p = b_end + 1;
        if (r.cmd == 'M') {
            milter_edits_milter(e, (r.index & 1) ? MILTER_P_HDR_LEADSPC : 0, MILTER_ACT_ALL);
            continue;
        }
        r.name = r.addr = r.body = a;
        r.body_len = (size_t)(a_end - a);
        r.value = r.args = b;
        milter_edits_add(e, &r, &err);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t content_len = nul ? (size_t)(nul - data) : size;
    struct milter_edit_limits lim = {.headers = 50, .header_bytes = 8192, .rcpt = 20};
    struct milter_edits *e = milter_edits_new();
    int old = fuzz_old(data, content_len), fresh = memfd_create("fuzz-new", MFD_CLOEXEC);
    struct queue_envelope env;
    struct buf before, after, content;
    struct err err;

    FUZZ_ASSERT(fresh >= 0);
    fuzz_file_bytes(old, &before);
    milter_edits_limits(e, &lim);
    milter_edits_spool(e, old);
    if (nul != NULL)
        fuzz_edits(e, (const char *)nul + 1, (const char *)data + size);
    if (milter_edits_apply(e, old, fresh, &err)) {
        FUZZ_ASSERT(queue_file_read(fresh, &env, &err));
        FUZZ_ASSERT(env.nrcpt > 0 && env.nrcpt <= 20);
        buf_init(&content, BUF_UNLIMITED);
        FUZZ_ASSERT(queue_file_content(fresh, &env, fuzz_collect, &content, &err));
        FUZZ_ASSERT(content.len == env.size);
        buf_free(&content);
        queue_envelope_free(&env);
    }
    fuzz_file_bytes(old, &after);
    FUZZ_ASSERT(before.len == after.len && memcmp(before.data, after.data, before.len) == 0);
    buf_free(&before);
    buf_free(&after);
    milter_edits_free(e);
    close(old);
    close(fresh);
    return 0;
}
