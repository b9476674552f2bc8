/*
 * buf.c - fuzz target for struct buf: the input is a program of buffer operations, run
 * against a buf and against a plain array that models it.
 *
 * Byte 0 sets the limit (0..1020). Each following operation is an opcode byte and an
 * argument byte: append n bytes of the input, putc, printf of n digits, consume, truncate,
 * reset, steal. After each one the buf must hold exactly the model's bytes, stay within its
 * limit, stay NUL-terminated, and have refused exactly the appends that would pass the limit.
 */
#include <stdbool.h>
#include <string.h>

#include "core/buf.h"
#include "t/fuzz.h"

#define MODEL_MAX 1024

struct model {
    char data[MODEL_MAX];
    size_t len;
    size_t limit;
};

/* model_append - what buf_append should do: all n bytes, or nothing past the limit */
static bool
model_append(struct model *m, const void *p, size_t n)
{
    if (n > m->limit - m->len)
        return false;
    memcpy(m->data + m->len, p, n);
    m->len += n;
    return true;
}

static void
fuzz_compare(const struct buf *b, const struct model *m)
{
    FUZZ_ASSERT(b->len == m->len && b->len <= b->limit);
    FUZZ_ASSERT(memcmp(buf_str(b), m->data, m->len) == 0 && buf_str(b)[b->len] == 0);
}

/* fuzz_op - one operation on both; returns how many bytes after the opcode it used */
static size_t
fuzz_op(struct buf *b, struct model *m, int op, const uint8_t *arg, size_t left)
{
    size_t n;
    char digits[256];
    char *stolen;

    if (left == 0)
        return 0;
    n = arg[0];
    switch (op % 7) {
    case 0:
        n = n < left - 1 ? n : left - 1;
        FUZZ_ASSERT(buf_append(b, arg + 1, n) == model_append(m, arg + 1, n));
        return 1 + n;
    case 1:
        FUZZ_ASSERT(buf_putc(b, (int)n) == model_append(m, &(char){(char)n}, 1));
        break;
    case 2:
        memset(digits, '7', n);
        FUZZ_ASSERT(buf_printf(b, "%.*s", (int)n, digits) == model_append(m, digits, n));
        break;
    case 3:
        n = b->len ? n % (b->len + 1) : 0;
        buf_consume(b, n);
        memmove(m->data, m->data + n, m->len - n);
        m->len -= n;
        break;
    case 4:
        buf_truncate(b, n);
        m->len = n < m->len ? n : m->len;
        break;
    case 5:
        buf_reset(b);
        m->len = 0;
        break;
    default:
        stolen = buf_steal(b);
        FUZZ_ASSERT(memcmp(stolen, m->data, m->len) == 0 && stolen[m->len] == 0);
        free(stolen);
        m->len = 0;
        break;
    }
    return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct model m = {.len = 0};
    struct buf b;
    size_t i = 1;

    if (size == 0)
        return 0;
    m.limit = (size_t)data[0] * 4;
    buf_init(&b, m.limit);
    while (i < size) {
        int op = data[i++];

        i += fuzz_op(&b, &m, op, data + i, size - i);
        fuzz_compare(&b, &m);
    }
    buf_free(&b);
    return 0;
}
