/*
 * smtp_data.c - the message content of DATA (RFC 5321 4.1.1.4, 4.5.2) and BDAT (RFC 3030).
 *
 * Trusts: nothing; the input is whatever the client sends, split anywhere. The machine
 * looks at one octet at a time, so a split point (inside CRLF, inside the end marker) can
 * never change the outcome.
 *
 * Invariants (SMTP smuggling, CVE-2023-51764 and kin): DATA ends only at <CRLF>.<CRLF>,
 * where both CRLFs are real pairs (the start of the content counts as a line start). A bare
 * CR or LF never starts a line that could end the message, in either policy. After the end
 * nothing more is consumed: what follows is the client's next command. After a refusing
 * violation nothing more is stored, but the machine keeps reading to the real end so the
 * session stays in step. BDAT ends exactly after the LAST chunk's octets.
 */
#include <string.h>

#include "core/log.h"
#include "mail/smtp_data.h"
#include "mail/smtp_reply.h"

enum smtp_data_state {
    DATA_LINE_START, /* after a real CRLF, or at the start */
    DATA_IN_LINE,    /* inside a line, or after a bare CR/LF */
    DATA_CR,         /* saw CR inside a line */
    DATA_DOT,        /* saw "." at a line start */
    DATA_DOT_CR,     /* saw ".<CR>" at a line start */
};

/* smtp_data_setup - the part of init DATA and BDAT share */
static void
smtp_data_setup(struct smtp_data *d, enum smtp_data_bare bare, uint64_t limit, smtp_data_sink sink,
                void *ctx)
{
    memset(d, 0, sizeof(*d));
    d->bare = bare;
    d->limit = limit;
    d->sink = sink;
    d->ctx = ctx;
    d->state = DATA_LINE_START;
}

/* smtp_data_init - start reading DATA content (after the 354 reply) */
void
smtp_data_init(struct smtp_data *d, enum smtp_data_bare bare, uint64_t limit, smtp_data_sink sink,
               void *ctx)
{
    smtp_data_setup(d, bare, limit, sink, ctx);
}

/* smtp_data_init_bdat - start a BDAT transaction; each chunk is announced by smtp_data_chunk */
void
smtp_data_init_bdat(struct smtp_data *d, enum smtp_data_bare bare, uint64_t limit,
                    smtp_data_sink sink, void *ctx)
{
    smtp_data_setup(d, bare, limit, sink, ctx);
    d->bdat = true;
}

/* smtp_data_refused - true when a violation means the message must be refused */
bool
smtp_data_refused(const struct smtp_data *d)
{
    unsigned refusing = SMTP_DATA_LONG_LINE | SMTP_DATA_NUL | SMTP_DATA_TOO_BIG;

    if (d->bare == SMTP_DATA_BARE_REJECT)
        refusing |= SMTP_DATA_BARE_LF | SMTP_DATA_BARE_CR;
    return (d->violations & refusing) != 0;
}

/* smtp_data_flush - hand the collected output to the sink */
static void
smtp_data_flush(struct smtp_data *d)
{
    if (d->out_len > 0 && !smtp_data_refused(d))
        d->sink(d->ctx, d->out, d->out_len);
    d->out_len = 0;
}

/* smtp_data_emit - count n content octets, and store them unless the message is refused */
static void
smtp_data_emit(struct smtp_data *d, const char *p, size_t n)
{
    if (d->limit - d->size < n) {
        d->size = d->limit;
        d->violations |= SMTP_DATA_TOO_BIG;
    } else {
        d->size += n;
    }
    if (smtp_data_refused(d)) {
        d->out_len = 0;
        return;
    }
    if (d->out_len + n > sizeof(d->out))
        smtp_data_flush(d);
    memcpy(d->out + d->out_len, p, n);
    d->out_len += n;
}

/* smtp_data_bare_one - a CR or LF outside a CRLF pair: record it, never start a line */
static void
smtp_data_bare_one(struct smtp_data *d, unsigned violation)
{
    d->violations |= violation;
    if (d->bare == SMTP_DATA_BARE_NORMALIZE)
        smtp_data_emit(d, "\r\n", 2);
    d->line_len = 0;
    d->state = DATA_IN_LINE;
}

/* smtp_data_in_line - one octet inside a line */
static void
smtp_data_in_line(struct smtp_data *d, unsigned char c)
{
    if (c == '\r') {
        d->state = DATA_CR;
        return;
    }
    if (c == '\n') {
        smtp_data_bare_one(d, SMTP_DATA_BARE_LF);
        return;
    }
    if (c == 0)
        d->violations |= SMTP_DATA_NUL;
    if (++d->line_len > SMTP_DATA_LINE_MAX - 2)
        d->violations |= SMTP_DATA_LONG_LINE;
    smtp_data_emit(d, (const char *)&c, 1);
    d->state = DATA_IN_LINE;
}

/* smtp_data_octet - advance the machine by one octet */
static void
smtp_data_octet(struct smtp_data *d, unsigned char c)
{
    switch (d->state) {
    case DATA_LINE_START:
        if (c == '.' && !d->bdat) {
            d->line_len = 1;
            d->state = DATA_DOT;
            return;
        }
        smtp_data_in_line(d, c);
        return;
    case DATA_DOT:
        if (c == '\r') {
            d->state = DATA_DOT_CR;
            return;
        }
        smtp_data_in_line(d, c); /* the leading dot was stuffing: dropped */
        return;
    case DATA_DOT_CR:
        if (c == '\n') {
            d->done = true;
            return;
        }
        smtp_data_bare_one(d, SMTP_DATA_BARE_CR);
        smtp_data_in_line(d, c);
        return;
    case DATA_CR:
        if (c == '\n') {
            smtp_data_emit(d, "\r\n", 2);
            d->line_len = 0;
            d->state = DATA_LINE_START;
            return;
        }
        smtp_data_bare_one(d, SMTP_DATA_BARE_CR);
        smtp_data_in_line(d, c);
        return;
    case DATA_IN_LINE:
        smtp_data_in_line(d, c);
        return;
    }
    log_panic("smtp_data_octet: bad state %d", d->state);
}

/* smtp_data_bdat_end - the LAST chunk ended: settle a pending CR, end the last line */
static void
smtp_data_bdat_end(struct smtp_data *d)
{
    if (d->state == DATA_CR)
        smtp_data_bare_one(d, SMTP_DATA_BARE_CR);
    if (d->state == DATA_IN_LINE && d->line_len > 0)
        smtp_data_emit(d, "\r\n", 2);
    d->done = true;
}

/* smtp_data_chunk - BDAT announced size octets, the last chunk if last */
void
smtp_data_chunk(struct smtp_data *d, uint64_t size, bool last)
{
    if (!d->bdat || d->done || d->chunk_left != 0)
        log_panic("smtp_data_chunk: no BDAT chunk expected");
    d->chunk_left = size;
    d->chunk_last = last;
    if (size == 0 && last) {
        smtp_data_bdat_end(d);
        smtp_data_flush(d);
    }
}

/*
 * smtp_data_feed - process up to len octets; returns how many were consumed. With DATA it
 * stops right after <CRLF>.<CRLF> (d->done); with BDAT after the current chunk (d->done
 * after the LAST one). Octets not consumed belong to the next command.
 */
size_t
smtp_data_feed(struct smtp_data *d, const char *data, size_t len)
{
    size_t i = 0;

    if (d->bdat && len > d->chunk_left)
        len = (size_t)d->chunk_left;
    while (i < len && !d->done)
        smtp_data_octet(d, (unsigned char)data[i++]);
    if (d->bdat) {
        d->chunk_left -= i;
        if (d->chunk_left == 0 && d->chunk_last && !d->done)
            smtp_data_bdat_end(d);
    }
    smtp_data_flush(d);
    return i;
}

/* smtp_data_reply - the reply for a refused message, NULL when it may be accepted */
const struct smtp_reply *
smtp_data_reply(const struct smtp_data *d)
{
    if (!smtp_data_refused(d))
        return NULL;
    if (d->violations & SMTP_DATA_TOO_BIG)
        return &smtp_reply_too_big;
    if (d->violations & (SMTP_DATA_BARE_LF | SMTP_DATA_BARE_CR) && d->bare == SMTP_DATA_BARE_REJECT)
        return &smtp_reply_bare_newline;
    if (d->violations & SMTP_DATA_NUL)
        return &smtp_reply_data_nul;
    return &smtp_reply_data_long_line;
}
