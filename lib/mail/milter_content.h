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
 * A header field is never cut: one whose HEADER packet would be longer than a milter takes
 * (MILTER_CHUNK_MAX octets of data, libmilter's limit: the field, folded lines joined, of
 * MILTER_CHUNK_MAX octets or more) is MILTER_PIECE_TOOLONG, and the content ends there; the
 * caller gives each milter its default action, as for a milter that broke, rather than
 * show it a message that is not the one queued (sendmail and pickup keep lines of any
 * length; over SMTP a field folded into many lines can be as long). The first line that is
 * no header field is the body's first line, whole, read again from the file. The file is
 * read a record at a time: the message is never in memory whole. A read error is logged
 * and ends the content early (the caller has fsynced or will fsync the same file, which
 * reports it).
 */
enum milter_piece {
    MILTER_PIECE_HEADER, /* name, value (after "name:" and one space), raw (after the colon) */
    MILTER_PIECE_EOH,
    MILTER_PIECE_BODY, /* body */
    MILTER_PIECE_END,
    MILTER_PIECE_TOOLONG, /* a header field too long to be sent (name: its first octets) */
};

struct milter_content {
    int fd;
    off_t size; /* of the file */
    off_t off;  /* the next content record */
    off_t rec;  /* the record in chunk */
    bool end;   /* no more records */
    char *chunk;
    size_t len, pos;
    enum milter_piece part; /* where the reading is */
    struct buf line;        /* the header line being read (its first MILTER_CHUNK_MAX octets) */
    bool line_long;         /* it had more */
    enum {
        LINE_NAME,
        LINE_SPACE,
        LINE_FIELD,
        LINE_OTHER
    } line_is;        /* its start, so far */
    bool line_named;  /* a name's first octet was seen */
    off_t line_rec;   /* where it starts: the record, */
    size_t line_pos;  /* and the offset in it */
    struct buf field; /* the header field read so far (folded lines joined) */
    bool field_long;  /* it is too long for a HEADER packet */
    size_t fields;    /* header fields read */
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
