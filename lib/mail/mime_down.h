/* mime_down.h - 8-bit MIME content made 7-bit for a server without 8BITMIME (RFC 6152) */
#ifndef MAIL_MIME_DOWN_H
#define MAIL_MIME_DOWN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/*
 * Two passes over the same content, each fed in chunks of any size and then finished:
 *
 *   1. scan: mime_down_init(&md); mime_down_feed()...; mime_down_finish(); then
 *      md.verdict says whether the content is 7-bit already, can be converted, or cannot
 *      (md.why: an 8-bit header, 8-bit bytes outside any part, or in a part that is
 *      base64 or quoted-printable already, or MIME nested deeper than MIME_DOWN_DEPTH).
 *   2. convert (only after MIME_DOWN_CONVERT): mime_down_rewind(&md, out); feed the same
 *      bytes again; finish. out gets the content with every part that held 8-bit bytes
 *      quoted-printable, its Content-Transfer-Encoding rewritten, and 7bit declared on the
 *      multiparts and messages around it; lines end in CRLF. Parts without 8-bit bytes pass
 *      as they were.
 *
 * Memory is bounded whatever the content: a line is held up to MIME_DOWN_LINE_MAX octets
 * and a longer one is taken in pieces (quoted-printable continues it with soft line
 * breaks), and an entity's header is held up to MIME_DOWN_HEADER_MAX (beyond, content with
 * 8-bit bytes cannot be converted). Content without any 8-bit byte is MIME_DOWN_7BIT
 * whatever its structure: it goes as it is.
 */
#define MIME_DOWN_DEPTH      20
#define MIME_DOWN_LINE_MAX   1000 /* RFC 5322's 998 and CRLF */
#define MIME_DOWN_HEADER_MAX (64 * 1024)

enum mime_down_verdict {
    MIME_DOWN_7BIT,
    MIME_DOWN_CONVERT,
    MIME_DOWN_CANNOT,
};

/* Where the rest of a line taken in pieces goes. */
enum mime_down_rest {
    MIME_DOWN_REST_NONE, /* the next piece starts a line */
    MIME_DOWN_REST_HEADER,
    MIME_DOWN_REST_BODY,
};

enum mime_down_kind {
    MIME_DOWN_LEAF,
    MIME_DOWN_MULTIPART,
    MIME_DOWN_MESSAGE,
};

struct mime_down {
    struct buf *out;          /* the convert pass's output; NULL while scanning */
    struct buf line;          /* the line being assembled, at most MIME_DOWN_LINE_MAX */
    bool more;                /* the piece being handled is not the end of its line */
    enum mime_down_rest rest; /* a line in pieces: where its next piece goes */
    size_t qp_col;            /* quoted-printable: characters on the output line so far */
    bool any8;                /* the scan saw an 8-bit byte somewhere */
    struct buf header;        /* the current entity's header, until its empty line */
    bool in_header;           /* reading an entity's header */
    bool top;                 /* that entity is the message itself */
    enum mime_down_kind kind; /* the current entity, once its header is read */
    const char *no8;          /* a leaf whose 8-bit bytes cannot be converted: why */
    size_t leaf;              /* the current leaf's number, from 0 */
    size_t nleaf;
    size_t nscanned; /* the convert pass: how many leaves the scan saw */
    bool *eight;     /* per leaf: holds 8-bit bytes (the scan's finding) */
    size_t eight_cap;
    char *bound[MIME_DOWN_DEPTH]; /* the open multiparts' boundaries, outermost first */
    size_t depth;
    enum mime_down_verdict verdict;
    const char *why;
};

void mime_down_init(struct mime_down *md);
void mime_down_rewind(struct mime_down *md, struct buf *out);
bool mime_down_feed(const char *data, size_t len, void *md); /* a queue_content_fn */
void mime_down_finish(struct mime_down *md);
void mime_down_free(struct mime_down *md);

#endif
