/*
 * base64.c - fuzz target for the strict base64 codec (lib/core/base64.c), which reads SMTP
 * clients' SASL responses.
 *
 * The input is tried as base64 text. Invariants: the decoder stays inside its buffer
 * (BASE64_DECODED_MAX + 1 bytes); what decodes encodes back to exactly the input (one
 * encoding per byte string); any input encoded decodes back to itself.
 */
#include <string.h>

#include "core/base64.h"
#include "core/mem.h"
#include "t/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    unsigned char *dec = xmalloc(BASE64_DECODED_MAX(size) + 1);
    char *enc = xmalloc(BASE64_ENCODED_LEN(size) + 1);
    size_t n;

    if (base64_decode(text, size, dec, &n)) {
        FUZZ_ASSERT(n <= BASE64_DECODED_MAX(size) && dec[n] == 0);
        FUZZ_ASSERT(base64_encode(dec, n, enc) == size && memcmp(enc, text, size) == 0);
    } else {
        FUZZ_ASSERT(n == 0);
    }
    free(dec);

    /* The other way round: the input as bytes. */
    n = base64_encode(data, size, enc);
    FUZZ_ASSERT(n == BASE64_ENCODED_LEN(size) && enc[n] == 0);
    dec = xmalloc(BASE64_DECODED_MAX(n) + 1);
    FUZZ_ASSERT(base64_decode(enc, n, dec, &n) && n == size && memcmp(dec, data, size) == 0);
    free(dec);
    free(enc);
    return 0;
}
