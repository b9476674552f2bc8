/*
 * maildrop.c - the maildrop file format, its envelope and its writer; maildrop_read.c
 * reads it.
 *
 * The local sendmail command (running as the user) writes a maildrop stream into the pipe
 * to postdrop; postdrop (set-gid setgid_group) reads it with maildrop_read(), checking
 * everything, and writes it again with this writer into $queue_directory/maildrop; pickup
 * (mail_owner) reads the file with maildrop_read() as hostile input: an unprivileged user
 * made it, through postdrop or not.
 *
 * Format (version 1). A sequence of records, each
 *
 *     type (1 byte) | length (4 bytes, big-endian) | length bytes of value
 *
 * in this order:
 *
 *     'V'  version: 4 bytes, big-endian; always the first record
 *     envelope, each at most once and in any order, 'S' required:
 *       'S'  sender address ("": the null sender)      'F'  the sender's full name
 *       'r'  DSN RET ("FULL" or "HDRS")   'i'  DSN ENVID   'N'  DSN NOTIFY for every recipient
 *       'b'  body type ("7BIT" or "8BITMIME", RFC 6152)
 *     'R'  recipient address, at least one, at most MAILDROP_RCPT_MAX, after 'S'
 *     'D'  content, 1 to MAILDROP_CHUNK_MAX bytes per record: the message, lines ending in LF
 *     'E'  end marker: content size (8) | recipient count (4); the last bytes of the file
 *
 * Text values hold no control byte (below 32, or 127). The end marker proves the writer
 * finished; its counts must match what precedes it, and nothing may follow it. The uid of
 * the submitting user is the file's owner, never a value in it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/maildrop.h"
#include "mail/maildrop_format.h"

void
maildrop_put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)(v & 0xff);
}

/* maildrop_text_ok - no control byte in len bytes of s */
bool
maildrop_text_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 32 || c == 127)
            return false;
    }
    return true;
}

void
maildrop_envelope_init(struct maildrop_envelope *env)
{
    memset(env, 0, sizeof(*env));
    env->sender = xstrdup("");
    env->fullname = xstrdup("");
    env->ret = xstrdup("");
    env->body = xstrdup("");
    env->envid = xstrdup("");
    env->notify = xstrdup("");
    strvec_init(&env->rcpt);
}

void
maildrop_envelope_free(struct maildrop_envelope *env)
{
    free(env->sender);
    free(env->fullname);
    free(env->ret);
    free(env->body);
    free(env->envid);
    free(env->notify);
    strvec_free(&env->rcpt);
    memset(env, 0, sizeof(*env));
}

static void maildrop_writer_fail(struct maildrop_writer *w, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
maildrop_writer_fail(struct maildrop_writer *w, int errnum, const char *fmt, ...)
{
    va_list ap;

    if (w->failed)
        return;
    w->failed = true;
    w->errnum = errnum;
    va_start(ap, fmt);
    vsnprintf(w->err.text, sizeof(w->err.text), fmt, ap);
    va_end(ap);
}

/* maildrop_writer_flush - write out what is buffered */
static void
maildrop_writer_flush(struct maildrop_writer *w)
{
    const char *p = w->out.data;
    size_t left = w->out.len;

    while (!w->failed && left > 0) {
        ssize_t n = write(w->fd, p, left);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            maildrop_writer_fail(w, n < 0 ? errno : EIO, "write: %s",
                                 strerror(n < 0 ? errno : EIO));
        else {
            p += n;
            left -= (size_t)n;
        }
    }
    buf_reset(&w->out);
}

static void
maildrop_writer_record(struct maildrop_writer *w, char type, const void *data, size_t len)
{
    unsigned char head[MAILDROP_REC_HEADER];

    if (w->failed)
        return;
    if (w->out.len + MAILDROP_REC_HEADER + len > MAILDROP_OUT_LIMIT)
        maildrop_writer_flush(w);
    head[0] = (unsigned char)type;
    maildrop_put_be(head + 1, len, 4);
    if (!buf_append(&w->out, head, sizeof(head)) || !buf_append(&w->out, data, len))
        maildrop_writer_fail(w, 0, "record '%c' too large", type);
}

/* maildrop_writer_text - a text record, checked for its limit and for control bytes */
static void
maildrop_writer_text(struct maildrop_writer *w, char type, const char *what, const char *text,
                     size_t max)
{
    size_t len = strnlen(text, max + 1);

    if (len > max)
        maildrop_writer_fail(w, 0, "%s longer than %zu bytes", what, max);
    else if (!maildrop_text_ok(text, len))
        maildrop_writer_fail(w, 0, "%s holds a control character", what);
    else
        maildrop_writer_record(w, type, text, len);
}

/* maildrop_writer_init - start a stream on fd: version, envelope, recipients */
void
maildrop_writer_init(struct maildrop_writer *w, int fd, const struct maildrop_envelope *env)
{
    unsigned char version[4];

    memset(w, 0, sizeof(*w));
    w->fd = fd;
    buf_init(&w->out, MAILDROP_OUT_LIMIT);
    maildrop_put_be(version, MAILDROP_VERSION, 4);
    maildrop_writer_record(w, 'V', version, sizeof(version));
    maildrop_writer_text(w, 'S', "sender", env->sender, MAILDROP_ADDR_MAX);
    if (*env->fullname)
        maildrop_writer_text(w, 'F', "full name", env->fullname, MAILDROP_NAME_MAX);
    if (*env->ret)
        maildrop_writer_text(w, 'r', "RET", env->ret, MAILDROP_WORD_MAX);
    if (*env->body)
        maildrop_writer_text(w, 'b', "body type", env->body, MAILDROP_WORD_MAX);
    if (*env->envid)
        maildrop_writer_text(w, 'i', "ENVID", env->envid, MAILDROP_ADDR_MAX);
    if (*env->notify)
        maildrop_writer_text(w, 'N', "NOTIFY", env->notify, MAILDROP_WORD_MAX);
    if (env->rcpt.n > MAILDROP_RCPT_MAX)
        maildrop_writer_fail(w, 0, "more than %d recipients", MAILDROP_RCPT_MAX);
    for (size_t i = 0; i < env->rcpt.n; i++)
        maildrop_writer_text(w, 'R', "recipient", env->rcpt.v[i], MAILDROP_ADDR_MAX);
    w->nrcpt = env->rcpt.n;
}

/* maildrop_writer_content - message bytes, cut into records */
void
maildrop_writer_content(struct maildrop_writer *w, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0 && !w->failed) {
        size_t n = len < MAILDROP_CHUNK_MAX ? len : MAILDROP_CHUNK_MAX;

        maildrop_writer_record(w, 'D', p, n);
        w->size += n;
        p += n;
        len -= n;
    }
}

/* maildrop_writer_end - the end marker, then everything written; false with err */
bool
maildrop_writer_end(struct maildrop_writer *w, struct err *err)
{
    unsigned char end[MAILDROP_END_LEN];

    if (w->nrcpt == 0)
        maildrop_writer_fail(w, 0, "no recipients");
    maildrop_put_be(end, w->size, 8);
    maildrop_put_be(end + 8, w->nrcpt, 4);
    maildrop_writer_record(w, 'E', end, sizeof(end));
    maildrop_writer_flush(w);
    if (w->failed && err)
        *err = w->err;
    return !w->failed;
}

void
maildrop_writer_free(struct maildrop_writer *w)
{
    buf_free(&w->out);
}
