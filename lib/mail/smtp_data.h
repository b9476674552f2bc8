/* smtp_data.h - the DATA and BDAT content state machine: unstuffing, end-of-data, limits */
#ifndef MAIL_SMTP_DATA_H
#define MAIL_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/smtp_reply.h"

/* What to do with a CR or LF that is not part of a CRLF pair. */
enum smtp_data_bare {
    SMTP_DATA_BARE_REJECT,    /* refuse the message (default) */
    SMTP_DATA_BARE_NORMALIZE, /* store it as CRLF; it still never ends the message */
};

/* Violations, recorded as bits; any but a normalized bare CR/LF refuses the message. */
#define SMTP_DATA_BARE_LF   (1 << 0)
#define SMTP_DATA_BARE_CR   (1 << 1)
#define SMTP_DATA_LONG_LINE (1 << 2) /* a line over 1000 octets with its CRLF */
#define SMTP_DATA_NUL       (1 << 3)
#define SMTP_DATA_TOO_BIG   (1 << 4) /* content passed the size limit */

#define SMTP_DATA_LINE_MAX 1000 /* RFC 5321 4.5.3.1.6, CRLF included */

/*
 * Receives content: CRLF-terminated lines, unstuffed. Nothing arrives after a refusing
 * violation; what arrived before it must be discarded by the caller (smtp_data_refused).
 */
typedef void (*smtp_data_sink)(void *ctx, const char *data, size_t len);

struct smtp_data {
    enum smtp_data_bare bare;
    uint64_t limit; /* content octets allowed; UINT64_MAX for no limit */
    smtp_data_sink sink;
    void *ctx;
    bool bdat; /* BDAT: no dot-stuffing, ends with the LAST chunk */
    uint64_t chunk_left;
    bool chunk_last;
    int state;
    size_t line_len; /* octets of the current line as received, without its CRLF */
    uint64_t size;   /* content octets counted, stored or not */
    unsigned violations;
    bool done;
    size_t out_len;
    char out[4096];
};

void smtp_data_init(struct smtp_data *d, enum smtp_data_bare bare, uint64_t limit,
                    smtp_data_sink sink, void *ctx);
void smtp_data_init_bdat(struct smtp_data *d, enum smtp_data_bare bare, uint64_t limit,
                         smtp_data_sink sink, void *ctx);
void smtp_data_chunk(struct smtp_data *d, uint64_t size, bool last);
size_t smtp_data_feed(struct smtp_data *d, const char *data, size_t len);
bool smtp_data_refused(const struct smtp_data *d);
const struct smtp_reply *smtp_data_reply(const struct smtp_data *d);

#endif
