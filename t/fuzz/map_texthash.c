/* map_texthash.c - fuzz target: postmap source text as texthash, then lookups (fuzz_map()) */
#include "t/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_map("texthash", data, size, "user@example.com\nexample.com\n@example.com\nuser@");
    return 0;
}
