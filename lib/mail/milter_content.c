/*
 * milter_content.c - a queue file's content in the pieces milters are sent: header fields
 * (the first one skipped), the end of the header, body chunks, the end (milter_content.h).
 * The header section ends where the edits say it does (milter_hdrs_name_len), so that what
 * milters see and how their edits count headers always agree. A header line is held up to
 * MILTER_CHUNK_MAX octets (enough to know it is a field, and to know a field is too long
 * to be sent); the body's first line, when no empty line ended the header, is read again
 * from its record, so that no line of any length is cut.
 *
 * Trusts: the queue file, which a receiver wrote and queue_file_read checked; its records
 * are read through queue_file_content_next, which checks each one.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/milter_codec.h"
#include "mail/milter_content.h"
#include "mail/milter_edit.h"
#include "mail/queue_file.h"

void
milter_content_open(struct milter_content *c, int fd, off_t size, off_t offset)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->size = size;
    c->off = offset;
    c->rec = offset;
    c->chunk = xmalloc(QUEUE_FILE_CHUNK_MAX);
    c->part = MILTER_PIECE_HEADER;
    buf_init(&c->line, BUF_UNLIMITED);
    buf_init(&c->field, BUF_UNLIMITED);
    buf_init(&c->piece, BUF_UNLIMITED);
    buf_init(&c->body, BUF_UNLIMITED);
}

void
milter_content_close(struct milter_content *c)
{
    free(c->chunk);
    free(c->name);
    buf_free(&c->line);
    buf_free(&c->field);
    buf_free(&c->piece);
    buf_free(&c->body);
    memset(c, 0, sizeof(*c));
}

/* milter_content_fill - the next content record; false at the end or on an error */
static bool
milter_content_fill(struct milter_content *c)
{
    struct err err;
    int got;

    if (c->end)
        return false;
    c->rec = c->off;
    got = queue_file_content_next(c->fd, c->size, &c->off, c->chunk, &c->len, &err);
    c->pos = 0;
    if (got <= 0) {
        c->end = true;
        c->len = 0;
        if (got < 0)
            log_warn("milter: reading the queue file back: %s", err.text);
        return false;
    }
    return true;
}

/* milter_content_rewind - back to the start of the line just read: it is the body's */
static void
milter_content_rewind(struct milter_content *c)
{
    c->off = c->line_rec;
    c->end = false;
    c->len = c->pos = 0;
    if (c->line_pos > 0 && milter_content_fill(c))
        c->pos = c->line_pos;
}

/* milter_content_scan - the line's start so far, as milter_hdrs_name_len reads it: a name
 * of printable octets but the colon, optional white space, the colon */
static void
milter_content_scan(struct milter_content *c, const char *p, size_t n)
{
    for (size_t i = 0; i < n && c->line_is < LINE_FIELD; i++) {
        unsigned char o = (unsigned char)p[i];
        if (o == ':' && c->line_named)
            c->line_is = LINE_FIELD;
        else if (c->line_is == LINE_NAME && o >= 33 && o <= 126 && o != ':')
            c->line_named = true;
        else if (c->line_named && (o == ' ' || o == '\t'))
            c->line_is = LINE_SPACE;
        else
            c->line_is = LINE_OTHER;
    }
}

/* milter_content_line - the next line into c->line, without its CRLF, its first
 * MILTER_CHUNK_MAX octets (line_long if it had more); false at the end */
static bool
milter_content_line(struct milter_content *c)
{
    buf_reset(&c->line);
    c->line_long = false;
    c->line_is = LINE_NAME;
    c->line_named = false;
    c->line_rec = c->pos < c->len ? c->rec : c->off;
    c->line_pos = c->pos < c->len ? c->pos : 0;
    for (;;) {
        char *nl;
        size_t n, room = MILTER_CHUNK_MAX - c->line.len;
        if (c->pos == c->len && !milter_content_fill(c))
            return c->line.len > 0;
        nl = memchr(c->chunk + c->pos, '\n', c->len - c->pos);
        n = nl ? (size_t)(nl - (c->chunk + c->pos)) : c->len - c->pos;
        milter_content_scan(c, c->chunk + c->pos, n);
        buf_append(&c->line, c->chunk + c->pos, n < room ? n : room);
        c->line_long = c->line_long || n > room;
        c->pos += n + (nl != NULL);
        if (nl != NULL) {
            if (!c->line_long && c->line.len > 0 && c->line.data[c->line.len - 1] == '\r')
                buf_truncate(&c->line, c->line.len - 1);
            buf_puts(&c->line, "");
            return true;
        }
    }
}

/*
 * milter_content_field - the field read so far becomes the piece (*got: a HEADER, or a
 * TOOLONG); false for the first field of the content (the receiver's Received header),
 * which milters are not shown
 */
static bool
milter_content_field(struct milter_content *c, enum milter_piece *got)
{
    size_t n = milter_hdrs_name_len(c->field.data, c->field.len);
    bool first = c->fields++ == 0;

    if (!first) {
        buf_reset(&c->piece);
        buf_append(&c->piece, c->field.data, c->field.len);
        buf_puts(&c->piece, "");
        free(c->name);
        c->name = xstrndup(c->piece.data, n > 0 ? n : 60);
        *got = c->field_long ? MILTER_PIECE_TOOLONG : MILTER_PIECE_HEADER;
        c->raw = n > 0 ? strchr(buf_str(&c->piece), ':') + 1 : "";
        c->value = c->raw + (*c->raw == ' ');
    }
    buf_reset(&c->field);
    c->field_long = false;
    return !first;
}

/* milter_content_header - read up to the next whole field; true if it is the piece (*got) */
static bool
milter_content_header(struct milter_content *c, enum milter_piece *got)
{
    while (milter_content_line(c)) {
        const char *line = buf_str(&c->line);
        if ((line[0] == ' ' || line[0] == '\t') && c->field.len > 0) {
            if (c->line_long || c->field.len + 1 + c->line.len >= MILTER_CHUNK_MAX)
                c->field_long = true;
            else if (!c->field_long) {
                buf_putc(&c->field, '\n');
                buf_append(&c->field, line, c->line.len);
            }
            continue;
        }
        if (c->line_is == LINE_FIELD) {
            bool whole = c->field.len > 0 && milter_content_field(c, got);
            buf_append(&c->field, line, c->line.len);
            c->field_long = c->line_long || c->line.len >= MILTER_CHUNK_MAX;
            if (whole)
                return true;
            continue;
        }
        if (c->line.len > 0) /* no empty line: this is the body's first line */
            milter_content_rewind(c);
        break;
    }
    c->part = MILTER_PIECE_EOH;
    return c->field.len > 0 && milter_content_field(c, got);
}

/* milter_content_body - the next body chunk into c->body; false when there is none */
static bool
milter_content_body(struct milter_content *c)
{
    buf_reset(&c->body);
    while (c->body.len < MILTER_CHUNK_MAX) {
        size_t n;
        if (c->pos == c->len && !milter_content_fill(c))
            break;
        n = c->len - c->pos;
        if (n > MILTER_CHUNK_MAX - c->body.len)
            n = MILTER_CHUNK_MAX - c->body.len;
        buf_append(&c->body, c->chunk + c->pos, n);
        c->pos += n;
    }
    return c->body.len > 0;
}

enum milter_piece
milter_content_next(struct milter_content *c)
{
    enum milter_piece got;

    if (c->part == MILTER_PIECE_HEADER && milter_content_header(c, &got)) {
        if (got == MILTER_PIECE_TOOLONG)
            c->part = MILTER_PIECE_END;
        return got;
    }
    if (c->part == MILTER_PIECE_EOH) {
        c->part = MILTER_PIECE_BODY;
        return MILTER_PIECE_EOH;
    }
    if (c->part == MILTER_PIECE_BODY && milter_content_body(c))
        return MILTER_PIECE_BODY;
    c->part = MILTER_PIECE_END;
    return MILTER_PIECE_END;
}
