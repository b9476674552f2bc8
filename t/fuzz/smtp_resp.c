/*
 * smtp_resp.c - fuzz target for the client's reader of server replies.
 *
 * Input: what a server sends, fed in pieces whose sizes byte 0 chooses. Invariants: the
 * reader never takes more than it was given; a finished reply has a code from 200 to 599,
 * text without NUL and within the line and line-count limits, and a dsn of the reply's
 * class; an EHLO parse of any finished reply never fails.
 */
#include <string.h>

#include "mail/smtp_resp.h"
#include "t/fuzz.h"

/* fuzz_done - the invariants of one finished reply */
static void
fuzz_done(const struct smtp_resp *r)
{
    struct smtp_ext ext;

    FUZZ_ASSERT(r->code >= 200 && r->code <= 599);
    FUZZ_ASSERT(r->lines >= 1 && r->lines <= SMTP_RESP_LINES_MAX);
    FUZZ_ASSERT(strlen(buf_str(&r->text)) == r->text.len);
    FUZZ_ASSERT(r->text.len <= (size_t)SMTP_RESP_LINES_MAX * SMTP_RESP_LINE_MAX);
    FUZZ_ASSERT(r->dsn[0] == 0 || r->dsn[0] == '0' + r->code / 100);
    smtp_ext_parse(r, &ext);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smtp_resp r;
    struct err err;
    size_t step, at = 1;

    if (size == 0)
        return 0;
    step = (size_t)(data[0] % 16) + 1;
    smtp_resp_init(&r);
    while (at < size) {
        size_t n = size - at < step ? size - at : step, used = 0;
        enum smtp_resp_status st = smtp_resp_feed(&r, (const char *)data + at, n, &used, &err);
        FUZZ_ASSERT(used <= n);
        if (st == SMTP_RESP_ERROR)
            break;
        if (st == SMTP_RESP_DONE)
            fuzz_done(&r);
        else
            FUZZ_ASSERT(used == n);
        at += used;
    }
    smtp_resp_free(&r);
    return 0;
}
