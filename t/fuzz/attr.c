/*
 * attr.c - fuzz target for the IPC attribute record decoder: the input is one record as a
 * peer daemon (perhaps a compromised one) would send it, header included.
 *
 * Invariants: attr_frame() and attr_decode() agree on what a complete record is; a decoded
 * string fits its buffer's limit; attr_peek_str() finds the value the decoder stores; no
 * descriptor is left in fds whatever the outcome (the input carries none, so indexes that
 * name one must be refused).
 */
#include <string.h>

#include "core/attr.h"
#include "core/buf.h"
#include "t/fuzz.h"

#define RECORD_LIMIT 4096
#define VALUE_LIMIT  64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf name, text;
    int64_t count = -1;
    int fd = -1;
    struct attr_spec spec[] = {
        {"name", ATTR_STR, ATTR_REQUIRED, &name},
        {"count", ATTR_INT, 0, &count},
        {"text", ATTR_STR, ATTR_TEXT, &text},
        {"fd", ATTR_FD, 0, &fd},
    };
    struct attr_fds fds;
    struct err err;
    size_t total = 0;
    char peek[16] = "";
    bool decoded, peeked;

    buf_init(&name, VALUE_LIMIT);
    buf_init(&text, VALUE_LIMIT);
    attr_fds_init(&fds);
    peeked = attr_peek_str(data, size, "name", peek, sizeof(peek));
    if (attr_frame(data, size, RECORD_LIMIT, &total, &err) == ATTR_FRAME_OK) {
        FUZZ_ASSERT(total <= size && total <= RECORD_LIMIT);
        decoded = attr_decode(data, total, RECORD_LIMIT, &fds, spec, 4, &err);
        FUZZ_ASSERT(fds.n == 0 && fd == -1);
        FUZZ_ASSERT(name.len <= VALUE_LIMIT && text.len <= VALUE_LIMIT);
        FUZZ_ASSERT(!decoded || memchr(buf_str(&text), 0, text.len) == NULL);
        if (peeked && decoded)
            FUZZ_ASSERT(strcmp(peek, buf_str(&name)) == 0);
    } else {
        FUZZ_ASSERT(!attr_decode(data, size, RECORD_LIMIT, &fds, spec, 4, &err));
    }
    buf_free(&name);
    buf_free(&text);
    return 0;
}
