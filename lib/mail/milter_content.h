/* milter_content.h - a message in a queue file, read back in the pieces milters are sent */
#ifndef MAIL_MILTER_CONTENT_H
#define MAIL_MILTER_CONTENT_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/buf.h"

/*
 * The content of a written queue file (end marker included; committed or not), as Postfix's
 * cleanup sends it to milters: each header field but the first (the receiver's own
 * Received header, which milters are not shown and which the edits' indexes count on),
 * folded lines joined by "\n"; the end of the header; the body in pieces of at most
 * MILTER_CHUNK_MAX octets with their CRLFs, starting after the empty line that ends the
 * header (or at the first line that is no header field, when there is none); the end.
 *
 * A header field is kept up to MILTER_CHUNK_MAX octets and cut there. The file is read a
 * record at a time: the message is never in memory whole. A read error is logged and ends
 * the content early (the caller has fsynced or will fsync the same file, which reports it).
 */
enum milter_piece {
    MILTER_PIECE_HEADER, /* name, value (after "name:" and one space), raw (after the colon) */
    MILTER_PIECE_EOH,
    MILTER_PIECE_BODY, /* body */
    MILTER_PIECE_END,
};

struct milter_content {
    int fd;
    off_t size; /* of the file */
    off_t off;  /* the next content record */
    bool end;   /* no more records */
    char *chunk;
    size_t len, pos;
    enum milter_piece part; /* where the reading is */
    struct buf line;        /* the header line being read */
    struct buf field;       /* the header field read so far (folded lines joined) */
    struct buf carry;       /* the first body line, when no empty line ended the header */
    size_t fields;          /* header fields read */
    /* The piece milter_content_next() returned (valid until the next call): */
    struct buf piece; /* a header field, whole */
    char *name;
    const char *value, *raw; /* in piece */
    struct buf body;
};

/* milter_content_open - the content of fd (size octets) from its content records at offset */
void milter_content_open(struct milter_content *c, int fd, off_t size, off_t offset);
enum milter_piece milter_content_next(struct milter_content *c);
void milter_content_close(struct milter_content *c);

#endif
