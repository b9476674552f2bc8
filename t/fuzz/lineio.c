/*
 * lineio.c - fuzz target for the protocol line reader: a peer's byte stream, delivered in
 * pieces of fuzzer-chosen sizes, against a model that finds lines in the whole stream.
 *
 * Byte 0 is the line limit (0..63), byte 1 the piece size (1..16); the rest is the stream.
 * Every line lineio_in_get() returns must be exactly the next line of the stream (CRLF or
 * LF removed, or the unterminated rest at EOF), TOO_LONG must mean that line really is
 * longer than the limit, and the input buffer must never pass 2 * (max + 2) bytes.
 */
#include <string.h>

#include "core/lineio.h"
#include "t/fuzz.h"

struct stream {
    const uint8_t *data;
    size_t size;
    size_t pos; /* where the next line starts */
};

/* stream_line - length of the line at pos without its terminator, and its end */
static size_t
stream_line(const struct stream *s, enum lineio_end *end, size_t *next)
{
    const uint8_t *lf = memchr(s->data + s->pos, '\n', s->size - s->pos);
    size_t len;

    if (lf == NULL) {
        *end = LINEIO_END_NONE;
        *next = s->size;
        return s->size - s->pos;
    }
    len = (size_t)(lf - (s->data + s->pos));
    *next = s->pos + len + 1;
    *end = len > 0 && lf[-1] == '\r' ? LINEIO_END_CRLF : LINEIO_END_LF;
    return *end == LINEIO_END_CRLF ? len - 1 : len;
}

/* fuzz_drain - take out every line that is ready and check each against the model */
static void
fuzz_drain(struct lineio_in *li, struct stream *s)
{
    enum lineio_status st;
    enum lineio_end end;
    size_t len, next;

    while ((st = lineio_in_get(li)) != LINEIO_NEED) {
        FUZZ_ASSERT(s->pos < s->size);
        len = stream_line(s, &end, &next);
        if (st == LINEIO_TOO_LONG) {
            FUZZ_ASSERT(len > li->max);
            lineio_in_skip(li);
        } else {
            FUZZ_ASSERT(len <= li->max && li->line.len == len && li->end == end);
            FUZZ_ASSERT(memcmp(buf_str(&li->line), s->data + s->pos, len) == 0);
            FUZZ_ASSERT(li->bare_cr == (memchr(s->data + s->pos, '\r', len) != NULL));
        }
        s->pos = next;
        FUZZ_ASSERT(li->in.len <= 2 * (li->max + 2));
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lineio_in li;
    struct stream s;
    size_t piece, fed;

    if (size < 2)
        return 0;
    lineio_in_init(&li, data[0] % 64);
    piece = (size_t)data[1] % 16 + 1;
    s = (struct stream){.data = data + 2, .size = size - 2, .pos = 0};
    for (fed = 0; fed < s.size;) {
        size_t room = li.in.limit - li.in.len, n = s.size - fed;

        n = n < piece ? n : piece;
        n = n < room ? n : room;
        FUZZ_ASSERT(n > 0 && buf_append(&li.in, s.data + fed, n));
        fed += n;
        fuzz_drain(&li, &s);
    }
    lineio_in_set_eof(&li);
    fuzz_drain(&li, &s);
    FUZZ_ASSERT(s.pos == s.size);
    lineio_in_free(&li);
    return 0;
}
