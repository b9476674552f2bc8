/*
 * smtp_data.c - fuzz target for the DATA/BDAT content state machine.
 *
 * Byte 0: bit 0 the bare CR/LF policy, bits 1-4 a piece size (1..16) to feed the rest in,
 * bits 5-7 a size limit (none, or 2^n octets). The rest is what the client sends after
 * the 354 reply. Invariants:
 * - no smuggling: DATA ends exactly where the first <CRLF>.<CRLF> of (CRLF + input) ends,
 *   and not at all without one; nothing after it is consumed, so no second message can
 *   start inside the first;
 * - the split into pieces changes nothing (the whole input fed at once agrees);
 * - stored content of an accepted message is CRLF-clean (every CR before an LF, every LF
 *   after a CR) and within the size limit;
 * - BDAT with the same input as one LAST chunk consumes exactly the chunk and ends.
 */
#include <string.h>

#include "core/buf.h"
#include "mail/smtp_data.h"
#include "t/fuzz.h"

struct fuzz_run {
    size_t consumed;
    bool done;
    unsigned violations;
    bool refused;
    struct buf content;
};

/* fuzz_sink - collect the content */
static void
fuzz_sink(void *ctx, const char *data, size_t len)
{
    FUZZ_ASSERT(buf_append(ctx, data, len));
}

/* fuzz_feed - feed in pieces of the given size */
static void
fuzz_feed(struct smtp_data *d, const char *in, size_t len, size_t piece, struct fuzz_run *r)
{
    size_t pos = 0;

    while (pos < len && !d->done) {
        size_t n = len - pos < piece ? len - pos : piece;
        size_t used = smtp_data_feed(d, in + pos, n);
        FUZZ_ASSERT(used <= n);
        FUZZ_ASSERT(d->done || used == n || d->bdat);
        pos += used;
        if (used == 0)
            break;
    }
    r->consumed = pos;
    r->done = d->done;
    r->violations = d->violations;
    r->refused = smtp_data_refused(d);
}

/* fuzz_end - reference: where DATA must end, or (size_t)-1 */
static size_t
fuzz_end(const char *in, size_t len)
{
    if (len >= 3 && memcmp(in, ".\r\n", 3) == 0)
        return 3;
    for (size_t i = 0; i + 5 <= len; i++)
        if (memcmp(in + i, "\r\n.\r\n", 5) == 0)
            return i + 5;
    return (size_t)-1;
}

/* fuzz_clean - accepted content is CRLF-clean */
static void
fuzz_clean(const struct buf *b)
{
    for (size_t i = 0; i < b->len; i++) {
        if (b->data[i] == '\r')
            FUZZ_ASSERT(i + 1 < b->len && b->data[i + 1] == '\n');
        if (b->data[i] == '\n')
            FUZZ_ASSERT(i > 0 && b->data[i - 1] == '\r');
    }
}

/* fuzz_data - DATA in pieces and whole, against the reference end */
static void
fuzz_data(const char *in, size_t len, enum smtp_data_bare bare, size_t piece, uint64_t limit)
{
    struct smtp_data d;
    struct fuzz_run pieces, whole;
    size_t end = fuzz_end(in, len);

    buf_init(&pieces.content, BUF_UNLIMITED);
    buf_init(&whole.content, BUF_UNLIMITED);
    smtp_data_init(&d, bare, limit, fuzz_sink, &pieces.content);
    fuzz_feed(&d, in, len, piece, &pieces);
    smtp_data_init(&d, bare, limit, fuzz_sink, &whole.content);
    fuzz_feed(&d, in, len, len + 1, &whole);
    FUZZ_ASSERT(pieces.done == (end != (size_t)-1));
    FUZZ_ASSERT(pieces.consumed == (pieces.done ? end : len));
    FUZZ_ASSERT(whole.done == pieces.done && whole.consumed == pieces.consumed);
    FUZZ_ASSERT(whole.violations == pieces.violations && whole.refused == pieces.refused);
    if (!pieces.refused) {
        FUZZ_ASSERT(pieces.content.len == whole.content.len &&
                    memcmp(buf_str(&pieces.content), buf_str(&whole.content), whole.content.len) ==
                        0);
        FUZZ_ASSERT(pieces.content.len <= limit);
        if (pieces.done)
            fuzz_clean(&pieces.content);
    }
    buf_free(&pieces.content);
    buf_free(&whole.content);
}

/* fuzz_bdat - the same octets as BDAT chunks of piece octets, the last one LAST */
static void
fuzz_bdat(const char *in, size_t len, enum smtp_data_bare bare, size_t piece, uint64_t limit)
{
    struct smtp_data d;
    struct buf content;
    size_t pos = 0;

    buf_init(&content, BUF_UNLIMITED);
    smtp_data_init_bdat(&d, bare, limit, fuzz_sink, &content);
    do {
        size_t n = len - pos < piece ? len - pos : piece;
        smtp_data_chunk(&d, n, pos + n == len);
        FUZZ_ASSERT(smtp_data_feed(&d, in + pos, len - pos) == n);
        pos += n;
    } while (pos < len);
    FUZZ_ASSERT(d.done && d.chunk_left == 0);
    if (!smtp_data_refused(&d)) {
        fuzz_clean(&content);
        FUZZ_ASSERT(content.len <= limit);
    }
    buf_free(&content);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum smtp_data_bare bare;
    size_t piece;
    uint64_t limit;

    if (size == 0)
        return 0;
    bare = data[0] & 1 ? SMTP_DATA_BARE_NORMALIZE : SMTP_DATA_BARE_REJECT;
    piece = (size_t)((data[0] >> 1) & 15) + 1;
    limit = data[0] >> 5 == 0 ? UINT64_MAX : (uint64_t)1 << (data[0] >> 5);
    fuzz_data((const char *)data + 1, size - 1, bare, piece, limit);
    fuzz_bdat((const char *)data + 1, size - 1, bare, piece, limit);
    return 0;
}
