/*
 * mime_down.c - fuzz target for the 8-bit to 7-bit MIME conversion: the input is message
 * content as a client may send it. The first byte sets the chunk size the content is fed
 * in, so that line and header assembly across chunk edges is explored too.
 *
 * Invariants: no crash; a refusal says why; a conversion's output holds no 8-bit byte;
 * the verdict and the output do not depend on the chunk size; at most MIME_DOWN_LINE_MAX
 * octets of a line and MIME_DOWN_HEADER_MAX of a header are ever held.
 */
#include <stdbool.h>
#include <string.h>

#include "mail/mime_down.h"
#include "t/fuzz.h"

/* passes - scan, and convert when it may; the verdict; the output in out */
static enum mime_down_verdict
passes(const char *text, size_t len, size_t step, struct buf *out)
{
    struct mime_down md;
    enum mime_down_verdict v;

    mime_down_init(&md);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < len; i += step) {
            mime_down_feed(text + i, len - i < step ? len - i : step, &md);
            FUZZ_ASSERT(md.line.len <= MIME_DOWN_LINE_MAX && md.header.len <= MIME_DOWN_HEADER_MAX);
        }
        mime_down_finish(&md);
        if (pass == 0 && md.verdict != MIME_DOWN_CONVERT)
            break;
        if (pass == 0)
            mime_down_rewind(&md, out);
    }
    v = md.verdict;
    FUZZ_ASSERT(v != MIME_DOWN_CANNOT || (md.why != NULL && *md.why));
    mime_down_free(&md);
    return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf whole, chunked;
    enum mime_down_verdict v;
    size_t step;

    if (size == 0)
        return 0;
    step = 1 + data[0] % 64;
    buf_init(&whole, BUF_UNLIMITED);
    buf_init(&chunked, BUF_UNLIMITED);
    v = passes((const char *)data + 1, size - 1, size, &whole);
    FUZZ_ASSERT(passes((const char *)data + 1, size - 1, step, &chunked) == v);
    FUZZ_ASSERT(whole.len == chunked.len &&
                (whole.len == 0 || memcmp(whole.data, chunked.data, whole.len) == 0));
    for (size_t i = 0; i < whole.len; i++)
        FUZZ_ASSERT((unsigned char)whole.data[i] < 0x80);
    buf_free(&whole);
    buf_free(&chunked);
    return 0;
}
