/*
 * mailaddr.c - fuzz target for the RFC 5321 path and host parsers.
 *
 * Byte 0 holds the MAILADDR_ALLOW_* flags (low three bits); the rest is the path as a
 * client would send it after "MAIL FROM:" or "RCPT TO:". Invariants: a parsed path took at
 * most 256 octets of the input; local and domain are within their limits and carry no
 * controls; non-ASCII only when allowed; formatting the address and parsing it again gives
 * the same local part and domain (the canonical form round-trips).
 */
#include <string.h>

#include "core/buf.h"
#include "mail/mailaddr.h"
#include "t/fuzz.h"

/* fuzz_clean - no controls, and 8-bit octets only when UTF-8 was allowed */
static void
fuzz_clean(const char *s, bool utf8_ok)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        FUZZ_ASSERT(*p >= 32 && *p != 127);
        FUZZ_ASSERT(utf8_ok || *p < 128);
    }
}

/* fuzz_round_trip - format the address and parse it again */
static void
fuzz_round_trip(const struct mailaddr *a, int flags)
{
    struct buf b;
    struct mailaddr again;
    size_t used = 0;

    buf_init(&b, 4096);
    buf_putc(&b, '<');
    FUZZ_ASSERT(mailaddr_format(&b, a));
    buf_putc(&b, '>');
    FUZZ_ASSERT(mailaddr_parse_path(b.data, b.len, flags, &again, &used) == MAILADDR_OK ||
                b.len > MAILADDR_PATH_MAX);
    if (again.kind == a->kind && used == b.len) {
        FUZZ_ASSERT(strcmp(again.local ? again.local : "", a->local ? a->local : "") == 0);
        FUZZ_ASSERT(strcmp(again.domain ? again.domain : "", a->domain ? a->domain : "") == 0);
    }
    mailaddr_free(&again);
    buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mailaddr a;
    struct mailaddr_host h;
    size_t used = 0;
    int flags;

    if (size == 0)
        return 0;
    flags = data[0] & 7;
    if (mailaddr_parse_path((const char *)data + 1, size - 1, flags, &a, &used) == MAILADDR_OK) {
        FUZZ_ASSERT(used <= size - 1 && used <= MAILADDR_PATH_MAX);
        FUZZ_ASSERT(a.kind == MAILADDR_NULL || a.local != NULL);
        if (a.kind == MAILADDR_MAILBOX) {
            FUZZ_ASSERT(a.domain != NULL && strlen(a.domain) <= MAILADDR_DOMAIN_MAX);
            fuzz_clean(a.local, (flags & MAILADDR_ALLOW_UTF8) != 0);
            fuzz_clean(a.domain, (flags & MAILADDR_ALLOW_UTF8) != 0);
        }
        fuzz_round_trip(&a, flags);
        mailaddr_free(&a);
    } else {
        FUZZ_ASSERT(a.local == NULL && a.domain == NULL);
    }
    if (mailaddr_parse_host((const char *)data + 1, size - 1, true, (flags & 4) != 0, &h) ==
        MAILADDR_OK) {
        FUZZ_ASSERT(h.name != NULL && strlen(h.name) == size - 1);
        fuzz_clean(h.name, (flags & 4) != 0);
    }
    mailaddr_host_free(&h);
    return 0;
}
