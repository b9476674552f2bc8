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

int
main(void)
{
    headers_then_body();
    no_empty_line();
    only_received();
    return done_testing();
}
