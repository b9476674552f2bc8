/* map_pcre.c - fuzz target: pcre_table(5) source text, then lookups (see fuzz_map()) */
#include "t/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_map("pcre", data, size, "user@example.com\nexample.com\nuser@\n\nAAAAAAAAAAAAAAAAAAAA!");
    return 0;
}
