/*
 * msa_fixup.c - fuzz target for the submission header fix-ups: content in two pieces (the
 * first byte says where to cut).
 *
 * Invariants: the output is the input with at most the two lines inserted, together, at one
 * place; a line is inserted only when no field of its name was seen before that place.
 */
#include <string.h>

#include "core/buf.h"
#include "mail/msa_fixup.h"
#include "t/fuzz.h"

#define DATE  "Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n"
#define MSGID "Message-ID: <fuzz@example.org>\r\n"

static void
sink(void *ctx, const char *data, size_t len)
{
    buf_append(ctx, data, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct msa_fixup f;
    struct buf out;
    size_t cut, added, at;

    if (size == 0)
        return 0;
    cut = data[0] % size;
    data++;
    size--;
    buf_init(&out, BUF_UNLIMITED);
    msa_fixup_init(&f, sink, &out, DATE, MSGID);
    msa_fixup_feed(&f, (const char *)data, cut < size ? cut : size);
    msa_fixup_feed(&f, (const char *)data + (cut < size ? cut : size),
                   size - (cut < size ? cut : size));
    msa_fixup_end(&f);
    FUZZ_ASSERT(out.len >= size);
    added = out.len - size;
    FUZZ_ASSERT(added == 0 || added == strlen(DATE) || added == strlen(MSGID) ||
                added == strlen(DATE) + strlen(MSGID));
    for (at = 0; at < size && out.data[at] == (char)data[at]; at++)
        ;
    FUZZ_ASSERT(memcmp(out.data + at + added, data + at, size - at) == 0);
    buf_free(&out);
    return 0;
}
