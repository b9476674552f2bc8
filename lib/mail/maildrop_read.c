/*
 * maildrop_read.c - reading a maildrop stream front to back (the format is in maildrop.c).
 *
 * Trusts: nothing it reads. postdrop reads what a user's process wrote into its stdin;
 * pickup reads a file a user's process made. Every record's type is checked against the
 * state it may appear in, every length against the type's maximum before a byte of the
 * value is read, text values for control bytes, the content against the size limit, and
 * the end marker against the counts; a bad stream is refused with the offset and reason.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/maildrop_format.h"

enum maildrop_state {
    MAILDROP_WANT_VERSION,
    MAILDROP_ENVELOPE,
    MAILDROP_CONTENT,
};

struct maildrop_reader {
    int fd;
    uint64_t off; /* of the next byte */
    uint64_t size_limit;
    enum maildrop_state state;
    unsigned seen; /* envelope records seen, one bit per type (maildrop_bit) */
    uint64_t size;
    struct maildrop_envelope env;
    const struct maildrop_reader_ops *ops;
    void *ctx;
    struct err *err;
    char *value; /* MAILDROP_CHUNK_MAX + 1 bytes */
};

/* maildrop_read_full - exactly len bytes; *eof set (and false) when none at all came */
static bool
maildrop_read_full(struct maildrop_reader *r, void *data, size_t len, bool *eof)
{
    size_t got = 0;

    *eof = false;
    while (got < len) {
        ssize_t n = read(r->fd, (char *)data + got, len - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_set(r->err, "read at offset %llu: %s", (unsigned long long)r->off + got,
                           strerror(errno));
        if (n == 0) {
            *eof = got == 0;
            return err_set(r->err, "truncated at offset %llu", (unsigned long long)r->off + got);
        }
        got += (size_t)n;
    }
    r->off += len;
    return true;
}

/* maildrop_type_max - the longest value of a record type; 0 for an unknown type */
static size_t
maildrop_type_max(int type)
{
    switch (type) {
    case 'V':
        return 4;
    case 'E':
        return MAILDROP_END_LEN;
    case 'S':
    case 'R':
    case 'i':
        return MAILDROP_ADDR_MAX;
    case 'F':
        return MAILDROP_NAME_MAX;
    case 'r':
    case 'b':
    case 'N':
        return MAILDROP_WORD_MAX;
    case 'D':
        return MAILDROP_CHUNK_MAX;
    default:
        return 0;
    }
}

static unsigned
maildrop_bit(int type)
{
    const char *types = "SFribN";
    const char *p = strchr(types, type);

    return p ? 1u << (p - types) : 0;
}

/* maildrop_set - an envelope text value, once */
static bool
maildrop_set(struct maildrop_reader *r, int type, const char *value, size_t len)
{
    char **slot = type == 'S'   ? &r->env.sender
                  : type == 'F' ? &r->env.fullname
                  : type == 'r' ? &r->env.ret
                  : type == 'b' ? &r->env.body
                  : type == 'i' ? &r->env.envid
                                : &r->env.notify;

    if (r->seen & maildrop_bit(type))
        return err_set(r->err, "record '%c' twice", type);
    r->seen |= maildrop_bit(type);
    free(*slot);
    *slot = xstrndup(value, len);
    return true;
}

/* maildrop_envelope_done - the envelope is complete: check it, hand it on */
static bool
maildrop_envelope_done(struct maildrop_reader *r)
{
    if (r->state == MAILDROP_CONTENT)
        return true;
    if (r->env.rcpt.n == 0)
        return err_set(r->err, "no recipients");
    if (*r->env.ret && strcmp(r->env.ret, "FULL") != 0 && strcmp(r->env.ret, "HDRS") != 0)
        return err_set(r->err, "bad RET \"%s\"", r->env.ret);
    if (*r->env.body && strcmp(r->env.body, "7BIT") != 0 && strcmp(r->env.body, "8BITMIME") != 0)
        return err_set(r->err, "bad body type \"%s\"", r->env.body);
    r->state = MAILDROP_CONTENT;
    return r->ops->on_envelope == NULL || r->ops->on_envelope(r->ctx, &r->env, r->err);
}

/* maildrop_envelope_record - one record while the envelope is being read */
static bool
maildrop_envelope_record(struct maildrop_reader *r, int type, const char *value, size_t len)
{
    if (!maildrop_text_ok(value, len))
        return err_set(r->err, "record '%c' at offset %llu holds a control character", type,
                       (unsigned long long)r->off);
    if (type != 'R')
        return r->env.rcpt.n > 0 && type == 'S' ? err_set(r->err, "sender after recipients")
                                                : maildrop_set(r, type, value, len);
    if (!(r->seen & maildrop_bit('S')))
        return err_set(r->err, "recipient before the sender");
    if (len == 0)
        return err_set(r->err, "empty recipient");
    if (r->env.rcpt.n >= MAILDROP_RCPT_MAX)
        return err_set(r->err, "more than %d recipients", MAILDROP_RCPT_MAX);
    strvec_add_owned(&r->env.rcpt, xstrndup(value, len));
    return true;
}

/* maildrop_content - one content record */
static bool
maildrop_content(struct maildrop_reader *r, const char *value, size_t len)
{
    if (len == 0)
        return err_set(r->err, "empty content record at offset %llu", (unsigned long long)r->off);
    r->size += len;
    if (r->size_limit > 0 && r->size > r->size_limit)
        return err_set(r->err, "message larger than %llu bytes", (unsigned long long)r->size_limit);
    return r->ops->on_content == NULL || r->ops->on_content(r->ctx, value, len, r->err);
}

/* maildrop_end - the end marker: counts must match, and nothing may follow */
static bool
maildrop_end(struct maildrop_reader *r, const unsigned char *value)
{
    char extra;
    bool eof;

    if (be_get(value, 8) != r->size || be_get(value + 8, 4) != r->env.rcpt.n)
        return err_set(r->err, "end marker counts do not match the file");
    if (maildrop_read_full(r, &extra, 1, &eof))
        return err_set(r->err, "data after the end marker");
    return eof ? true : false;
}

/* maildrop_record - read and act on the next record; *done at the end marker */
static bool
maildrop_record(struct maildrop_reader *r, bool *done)
{
    unsigned char head[MAILDROP_REC_HEADER];
    uint64_t len;
    size_t max;
    bool eof;
    int type;

    if (!maildrop_read_full(r, head, sizeof(head), &eof))
        return eof ? err_set(r->err, "no end marker at offset %llu", (unsigned long long)r->off)
                   : false;
    type = head[0];
    len = be_get(head + 1, 4);
    if ((max = maildrop_type_max(type)) == 0)
        return err_set(r->err, "unknown record type 0x%02x at offset %llu", type,
                       (unsigned long long)(r->off - MAILDROP_REC_HEADER));
    if (len > max || ((type == 'V' || type == 'E') && len != max))
        return err_set(r->err, "record '%c' of %llu bytes at offset %llu", type,
                       (unsigned long long)len, (unsigned long long)(r->off - MAILDROP_REC_HEADER));
    if ((r->state == MAILDROP_WANT_VERSION) != (type == 'V'))
        return err_set(r->err, "record '%c' out of place", type);
    if (!maildrop_read_full(r, r->value, (size_t)len, &eof))
        return false;
    if (type == 'V') {
        if (be_get((unsigned char *)r->value, 4) != MAILDROP_VERSION)
            return err_set(r->err, "unknown version");
        r->state = MAILDROP_ENVELOPE;
        return true;
    }
    if (type == 'D' || type == 'E') {
        if (!maildrop_envelope_done(r))
            return false;
        *done = type == 'E';
        return type == 'D' ? maildrop_content(r, r->value, (size_t)len)
                           : maildrop_end(r, (unsigned char *)r->value);
    }
    if (r->state != MAILDROP_ENVELOPE)
        return err_set(r->err, "record '%c' after the content began", type);
    return maildrop_envelope_record(r, type, r->value, (size_t)len);
}

bool
maildrop_read(int fd, uint64_t size_limit, const struct maildrop_reader_ops *ops, void *ctx,
              struct err *err)
{
    struct maildrop_reader r = {
        .fd = fd, .size_limit = size_limit, .ops = ops, .ctx = ctx, .err = err};
    bool done = false, good = true;

    maildrop_envelope_init(&r.env);
    r.value = xmalloc(MAILDROP_CHUNK_MAX + 1);
    while (good && !done)
        good = maildrop_record(&r, &done);
    free(r.value);
    maildrop_envelope_free(&r.env);
    return good;
}
