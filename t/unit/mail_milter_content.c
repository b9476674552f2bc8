/* mail_milter_content.c - a queue file's content in the pieces milters are sent: the first
 * header hidden, folded fields joined, a header section without its empty line, body chunks
 * of at most MILTER_CHUNK_MAX octets */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/mem.h"
#include "mail/milter_codec.h"
#include "mail/milter_content.h"
#include "mail/queue_file.h"
#include "t/tap.h"

/* content_of - a queue file holding content; its content reader opened */
static int
content_of(const struct buf *content, struct milter_content *c)
{
    static int seq;
    char *path = xasprintf("%s/q%d", tap_tmpdir(), seq++);
    struct queue_envelope env = {.arrival = {1700000000, 0},
                                 .sender = "s@example.org",
                                 .ret = "",
                                 .envid = "",
                                 .body = "",
                                 .client_name = "c",
                                 .client_addr = "192.0.2.1",
                                 .helo = "c",
                                 .protocol = "ESMTP"};
    struct queue_envelope back;
    struct queue_writer w;
    struct err err;
    struct stat st = {0};
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

    queue_writer_init(&w, fd, &env);
    queue_writer_rcpt(&w, "r@example.com", "", "");
    queue_writer_content(&w, content->data, content->len);
    ok(queue_writer_end(&w, &err), "the queue file is written");
    queue_writer_free(&w);
    if (!queue_file_read(fd, &back, &err) || fstat(fd, &st) < 0) {
        diag("%s", err.text);
        exit(1);
    }
    milter_content_open(c, fd, st.st_size, back.content_offset);
    queue_envelope_free(&back);
    free(path);
    return fd;
}

#define LINE "a body line of some length, to make more than one chunk\r\n"

/* headers_then_body - the pieces of one message, header by header, then the body whole */
static void
headers_then_body(void)
{
    struct buf in, body;
    struct milter_content c;
    int fd;

    buf_init(&in, BUF_UNLIMITED);
    buf_init(&body, BUF_UNLIMITED);
    buf_puts(&in, "Received: from c\r\n\tby mx\r\nSubject: hi\r\nX-Folded: one\r\n two\r\n"
                  "X-Lead:  spaced\r\n\r\n");
    for (int i = 0; i < 2000; i++)
        buf_puts(&in, LINE);
    fd = content_of(&in, &c);
    is_int(milter_content_next(&c), MILTER_PIECE_HEADER, "a header first");
    is_str(c.name, "Subject", "the Received header is not shown: Subject");
    is_str(c.value, "hi", "its value without the space after the colon");
    is_int(milter_content_next(&c), MILTER_PIECE_HEADER, "the second header");
    is_str(c.value, "one\n two", "folded lines joined by LF");
    is_int(milter_content_next(&c), MILTER_PIECE_HEADER, "the third header");
    is_str(c.value, " spaced", "one space taken, the other kept");
    is_str(c.raw, "  spaced", "raw: the whole value");
    is_int(milter_content_next(&c), MILTER_PIECE_EOH, "then the end of the header");
    while (milter_content_next(&c) == MILTER_PIECE_BODY) {
        ok(c.body.len <= MILTER_CHUNK_MAX, "a chunk of %zu octets", c.body.len);
        buf_append(&body, c.body.data, c.body.len);
    }
    is_int(c.part, MILTER_PIECE_END, "then the end");
    is_int((long long)body.len, 2000 * (long long)strlen(LINE),
           "the body whole, without the empty line");
    ok(memcmp(body.data, in.data + in.len - body.len, body.len) == 0, "byte for byte");
    milter_content_close(&c);
    close(fd);
    buf_free(&in);
    buf_free(&body);
}

/* no_empty_line - a line that is no header field ends the header and starts the body */
static void
no_empty_line(void)
{
    struct buf in;
    struct milter_content c;
    int fd;

    buf_init(&in, BUF_UNLIMITED);
    buf_puts(&in, "Received: x\r\nSubject: s\r\nnot a header\r\nmore\r\n");
    fd = content_of(&in, &c);
    is_int(milter_content_next(&c), MILTER_PIECE_HEADER, "Subject");
    is_int(milter_content_next(&c), MILTER_PIECE_EOH, "the end of the header");
    is_int(milter_content_next(&c), MILTER_PIECE_BODY, "the body");
    is_int((long long)c.body.len, 20, "from the line that is no header");
    ok(memcmp(c.body.data, "not a header\r\nmore\r\n", 20) == 0, "as it was");
    is_int(milter_content_next(&c), MILTER_PIECE_END, "the end");
    milter_content_close(&c);
    close(fd);
    buf_free(&in);
}

/* only_received - our header alone: no field shown, no body */
static void
only_received(void)
{
    struct buf in;
    struct milter_content c;
    int fd;

    buf_init(&in, BUF_UNLIMITED);
    buf_puts(&in, "Received: x\r\n\r\n");
    fd = content_of(&in, &c);
    is_int(milter_content_next(&c), MILTER_PIECE_EOH, "no header shown");
    is_int(milter_content_next(&c), MILTER_PIECE_END, "no body");
    milter_content_close(&c);
    close(fd);
    buf_free(&in);
}

/* long_of - n octets of c */
static void
long_of(struct buf *b, char c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_putc(b, c);
}

/* body_whole - the body the content gives from here on, whole */
static void
body_whole(struct milter_content *c, struct buf *body)
{
    buf_reset(body);
    while (milter_content_next(c) == MILTER_PIECE_BODY)
        buf_append(body, c->body.data, c->body.len);
}

/* long_fields - a header field as long as a HEADER packet may carry goes whole; one octet
 * more, in one line or folded, is TOOLONG and ends the content: never a cut field */
static void
long_fields(void)
{
    struct buf in;
    struct milter_content c;
    int fd;

    buf_init(&in, BUF_UNLIMITED);
    buf_puts(&in, "Received: x\r\nX-Max: ");
    long_of(&in, 'a', MILTER_CHUNK_MAX - 1 - strlen("X-Max: "));
    buf_puts(&in, "\r\nX-Long: ");
    long_of(&in, 'b', 100000);
    buf_puts(&in, "\r\nSubject: after\r\n\r\nbody\r\n");
    fd = content_of(&in, &c);
    is_int(milter_content_next(&c), MILTER_PIECE_HEADER, "a field of MILTER_CHUNK_MAX - 1 octets");
    is_int((long long)strlen(c.value), MILTER_CHUNK_MAX - 1 - strlen("X-Max: "), "whole");
    is_int(milter_content_next(&c), MILTER_PIECE_TOOLONG, "a line of 100 KB: TOOLONG");
    is_str(c.name, "X-Long", "named");
    is_int(milter_content_next(&c), MILTER_PIECE_END, "and the content ends there");
    milter_content_close(&c);
    close(fd);

    buf_reset(&in);
    buf_puts(&in, "Received: x\r\nX-Folded: start\r\n");
    for (int i = 0; i < 100; i++)
        buf_puts(&in, " a folded line of a header field that goes on and on, a thousand times\r\n");
    for (int i = 0; i < 1000; i++)
        buf_puts(&in, " and on and on and on and on and on and on and on and on and on\r\n");
    buf_puts(&in, "\r\nbody\r\n");
    fd = content_of(&in, &c);
    is_int(milter_content_next(&c), MILTER_PIECE_TOOLONG, "a folded field over 64 KB: TOOLONG");
    is_str(c.name, "X-Folded", "named");
    milter_content_close(&c);
    close(fd);

    buf_reset(&in);
    buf_puts(&in, "Received: x\r\n");
    long_of(&in, 'N', 70000);
    buf_puts(&in, ": a name longer than a line is kept\r\n\r\n");
    fd = content_of(&in, &c);
    is_int(milter_content_next(&c), MILTER_PIECE_TOOLONG, "a name over 64 KB: TOOLONG, not body");
    milter_content_close(&c);
    close(fd);
    buf_free(&in);
}

/* long_body_line - the body's first line, when no empty line ended the header, is whole
 * however long it is, and so is a long first line after the empty line */
static void
long_body_line(void)
{
    struct buf in, body, want;
    struct milter_content c;
    int fd;

    buf_init(&in, BUF_UNLIMITED);
    buf_init(&body, BUF_UNLIMITED);
    buf_init(&want, BUF_UNLIMITED);
    long_of(&want, 'x', 200000);
    buf_puts(&want, " no colon here\r\nsecond\r\n");
    buf_puts(&in, "Received: x\r\nSubject: s\r\n");
    buf_append(&in, want.data, want.len);
    fd = content_of(&in, &c);
    is_int(milter_content_next(&c), MILTER_PIECE_HEADER, "Subject");
    is_int(milter_content_next(&c), MILTER_PIECE_EOH, "a 200 KB line that is no field ends it");
    body_whole(&c, &body);
    is_int((long long)body.len, (long long)want.len, "the body has that line whole");
    ok(body.len == want.len && memcmp(body.data, want.data, want.len) == 0, "byte for byte");
    milter_content_close(&c);
    close(fd);

    buf_reset(&in);
    buf_puts(&in, "Received: x\r\nSubject: s\r\nlast line without its end");
    fd = content_of(&in, &c);
    is_int(milter_content_next(&c), MILTER_PIECE_HEADER, "Subject");
    is_int(milter_content_next(&c), MILTER_PIECE_EOH, "the end of the header");
    body_whole(&c, &body);
    is_int((long long)body.len, 25, "a last line without CRLF is the body");
    milter_content_close(&c);
    close(fd);
    buf_free(&in);
    buf_free(&body);
    buf_free(&want);
}

int
main(void)
{
    headers_then_body();
    no_empty_line();
    only_received();
    long_fields();
    long_body_line();
    return done_testing();
}
