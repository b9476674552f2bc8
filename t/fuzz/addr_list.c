/*
 * addr_list.c - fuzz target for the address list parser: the input is a To: or Cc: value,
 * or a sendmail argument, as a local user may write it.
 *
 * Invariants: no crash; a refusal has a reason and appends nothing; each address found is
 * non-empty and within ADDR_LIST_ADDR_MAX.
 */
#include <string.h>

#include "core/str.h"
#include "mail/addr_list.h"
#include "t/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct strvec out;
    struct err err;

    strvec_init(&out);
    if (addr_list_parse((const char *)data, size, &out, &err)) {
        for (size_t i = 0; i < out.n; i++) {
            size_t len = strlen(out.v[i]);
            FUZZ_ASSERT(len > 0 && len <= ADDR_LIST_ADDR_MAX);
        }
    } else {
        FUZZ_ASSERT(out.n == 0 && strlen(err.text) > 0);
    }
    strvec_free(&out);
    return 0;
}
