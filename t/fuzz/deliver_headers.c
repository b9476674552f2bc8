/*
 * deliver_headers.c - fuzz target for the header-section scanner behind loop detection.
 *
 * The input is raw message bytes (NULs included); the recipient is fixed. Invariants: the
 * scanner never reads outside the input, a hit implies the text holds a Delivered-To
 * header (case-insensitive) before the first empty line, and prepending an empty line
 * always hides every header.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "mail/deliver.h"
#include "t/fuzz.h"

/* fuzz_has_name - does the text contain "delivered-to:" anywhere? */
static int
fuzz_has_name(const char *text, size_t len)
{
    for (size_t i = 0; i + 13 <= len; i++)
        if (strncasecmp(text + i, "delivered-to:", 13) == 0)
            return 1;
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = xmemdup(data, size), *hidden = xmalloc(size + 1);
    bool loop = deliver_headers_loop(copy, size, "user@example.org");

    if (loop)
        FUZZ_ASSERT(fuzz_has_name(copy, size));
    hidden[0] = '\n';
    memcpy(hidden + 1, data, size);
    FUZZ_ASSERT(!deliver_headers_loop(hidden, size + 1, "user@example.org"));
    free(copy), free(hidden);
    return 0;
}
