/*
 * milter_resp.c - fuzz target for the MTA's reader of milter replies: framing and parsing.
 *
 * Input: what a milter sends, fed in pieces whose sizes byte 0 chooses. Invariants: the
 * framing never takes more than it was given nor holds more than MILTER_PACKET_MAX; a parsed
 * reply's strings end inside the packet; a custom reply code is 4xx or 5xx; an option
 * negotiation reply that passes the check asks for nothing beyond the offer.
 */
#include <string.h>

#include "mail/milter_codec.h"
#include "t/fuzz.h"

/* fuzz_inside - s (if any) is a string that ends within the packet */
static void
fuzz_inside(const struct buf *p, const char *s)
{
    if (s == NULL)
        return;
    FUZZ_ASSERT(s > p->data && s < p->data + p->len);
    FUZZ_ASSERT(s + strlen(s) < p->data + p->len);
}

/* fuzz_packet - the invariants of one parsed packet */
static void
fuzz_packet(const struct buf *p)
{
    struct milter_reply r;
    struct err err;

    FUZZ_ASSERT(p->len >= 1 && p->len <= MILTER_PACKET_MAX);
    if (!milter_reply_parse(p, &r, &err))
        return;
    fuzz_inside(p, r.text);
    fuzz_inside(p, r.name);
    fuzz_inside(p, r.value);
    fuzz_inside(p, r.addr);
    fuzz_inside(p, r.args);
    for (int i = 0; i < MILTER_STAGES; i++) {
        fuzz_inside(p, r.symlist[i]);
        FUZZ_ASSERT(r.symlist[i] == NULL || strlen(r.symlist[i]) <= MILTER_SYMLIST_MAX);
    }
    if (r.cmd == MILTER_REPLY_REPLYCODE)
        FUZZ_ASSERT(r.text[0] == '4' || r.text[0] == '5');
    if (r.cmd == MILTER_REPLY_REPLBODY)
        FUZZ_ASSERT(r.body + r.body_len == p->data + p->len);
    if (milter_optneg_check(&r, MILTER_ACT_ADDHDRS, MILTER_P_NR_HDR, &err))
        FUZZ_ASSERT((r.actions & ~MILTER_ACT_ADDHDRS) == 0 && (r.protocol & ~MILTER_P_NR_HDR) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct milter_frame f;
    struct err err;
    size_t step, at = 1;

    if (size == 0)
        return 0;
    step = (size_t)(data[0] % 16) + 1;
    milter_frame_init(&f);
    while (at < size) {
        size_t n = size - at < step ? size - at : step, used = 0;
        enum milter_frame_status st = milter_frame_feed(&f, data + at, n, &used, &err);
        FUZZ_ASSERT(used <= n);
        if (st == MILTER_FRAME_ERROR)
            break;
        if (st == MILTER_FRAME_DONE)
            fuzz_packet(&f.packet);
        else
            FUZZ_ASSERT(used == n);
        at += used;
    }
    milter_frame_free(&f);
    return 0;
}
