/* map_cidr.c - fuzz target: cidr_table(5) source text, then lookups (see fuzz_map()) */
#include "t/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_map("cidr", data, size, "192.0.2.1\n10.1.2.3\n2001:db8::1\n::ffff:192.0.2.1\nnot-an-ip");
    return 0;
}
