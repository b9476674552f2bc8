/*
 * milter_content.c - a queue file's content in the pieces milters are sent: header fields
 * (the first one skipped), the end of the header, body chunks, the end (milter_content.h).
 * The header section ends where the edits say it does (milter_hdrs_name_len), so that what
 * milters see and how their edits count headers always agree.
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
    c->chunk = xmalloc(QUEUE_FILE_CHUNK_MAX);
    c->part = MILTER_PIECE_HEADER;
    buf_init(&c->line, BUF_UNLIMITED);
    buf_init(&c->field, BUF_UNLIMITED);
    buf_init(&c->carry, BUF_UNLIMITED);
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
    buf_free(&c->carry);
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

/* milter_content_line - the next line into c->line, without its CRLF; false at the end */
static bool
milter_content_line(struct milter_content *c)
{
    buf_reset(&c->line);
    for (;;) {
        char *nl;
        size_t n;
        if (c->pos == c->len && !milter_content_fill(c))
            return c->line.len > 0;
        nl = memchr(c->chunk + c->pos, '\n', c->len - c->pos);
        n = nl ? (size_t)(nl - (c->chunk + c->pos)) : c->len - c->pos;
        if (c->line.len + n <= MILTER_CHUNK_MAX)
            buf_append(&c->line, c->chunk + c->pos, n);
        c->pos += n + (nl != NULL);
        if (nl != NULL) {
            if (c->line.len > 0 && c->line.data[c->line.len - 1] == '\r')
                buf_truncate(&c->line, c->line.len - 1);
            buf_puts(&c->line, "");
            return true;
        }
    }
}

/* milter_content_field - the field read so far becomes the piece; false for the first field
 * of the content (the receiver's Received header), which milters are not shown */
static bool
milter_content_field(struct milter_content *c)
{
    size_t n = milter_hdrs_name_len(c->field.data, c->field.len);
    bool first = c->fields++ == 0;

    if (!first) {
        buf_reset(&c->piece);
        buf_append(&c->piece, c->field.data, c->field.len);
        buf_puts(&c->piece, "");
        free(c->name);
        c->name = xstrndup(c->piece.data, n);
        c->raw = strchr(buf_str(&c->piece), ':') + 1;
        c->value = c->raw + (*c->raw == ' ');
    }
    buf_reset(&c->field);
    return !first;
}

/* milter_content_header - read up to the next whole field; true if it is the piece */
static bool
milter_content_header(struct milter_content *c)
{
    while (milter_content_line(c)) {
        const char *line = buf_str(&c->line);
        if ((line[0] == ' ' || line[0] == '\t') && c->field.len > 0) {
            if (c->field.len + c->line.len < MILTER_CHUNK_MAX) {
                buf_putc(&c->field, '\n');
                buf_append(&c->field, line, c->line.len);
            }
            continue;
        }
        if (line[0] != 0 && milter_hdrs_name_len(c->line.data, c->line.len) > 0) {
            bool whole = c->field.len > 0 && milter_content_field(c);
            buf_append(&c->field, line, c->line.len);
            if (whole)
                return true;
            continue;
        }
        if (line[0] != 0) { /* no empty line: this is the body's first line */
            buf_append(&c->carry, line, c->line.len);
            buf_append(&c->carry, "\r\n", 2);
        }
        break;
    }
    c->part = MILTER_PIECE_EOH;
    return c->field.len > 0 && milter_content_field(c);
}

/* milter_content_body - the next body chunk into c->body; false when there is none */
static bool
milter_content_body(struct milter_content *c)
{
    buf_reset(&c->body);
    buf_append(&c->body, c->carry.data, c->carry.len);
    buf_reset(&c->carry);
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
    if (c->part == MILTER_PIECE_HEADER && milter_content_header(c))
        return MILTER_PIECE_HEADER;
    if (c->part == MILTER_PIECE_EOH) {
        c->part = MILTER_PIECE_BODY;
        return MILTER_PIECE_EOH;
    }
    if (c->part == MILTER_PIECE_BODY && milter_content_body(c))
        return MILTER_PIECE_BODY;
    c->part = MILTER_PIECE_END;
    return MILTER_PIECE_END;
}
