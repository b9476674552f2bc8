/* map_inline.c - fuzz target: the text of inline:{...}, then lookups (see fuzz_map()) */
#include "t/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_map("inline", data, size, "a\nkey\nk\n{\n}");
    return 0;
}
