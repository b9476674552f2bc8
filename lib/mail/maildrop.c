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

/* maildrop_writer_text - a text record, checked for its limit and for control bytes */
static void
maildrop_writer_text(struct maildrop_writer *w, char type, const char *what, const char *text,
                     size_t max)
{
    size_t len = strnlen(text, max + 1);

    if (len > max)
        record_writer_fail(&w->rec, 0, "%s longer than %zu bytes", what, max);
    else if (!maildrop_text_ok(text, len))
        record_writer_fail(&w->rec, 0, "%s holds a control character", what);
    else
        record_writer_put(&w->rec, type, text, len);
}

/* maildrop_writer_init - start a stream on fd: version, envelope, recipients */
void
maildrop_writer_init(struct maildrop_writer *w, int fd, const struct maildrop_envelope *env)
{
    unsigned char version[4];

    memset(w, 0, sizeof(*w));
    record_writer_init(&w->rec, fd, MAILDROP_OUT_LIMIT, "maildrop file");
    be_put(version, MAILDROP_VERSION, 4);
    record_writer_put(&w->rec, 'V', version, sizeof(version));
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
        record_writer_fail(&w->rec, 0, "more than %d recipients", MAILDROP_RCPT_MAX);
    for (size_t i = 0; i < env->rcpt.n; i++)
        maildrop_writer_text(w, 'R', "recipient", env->rcpt.v[i], MAILDROP_ADDR_MAX);
    w->nrcpt = env->rcpt.n;
}

/* maildrop_writer_content - message bytes, cut into records */
void
maildrop_writer_content(struct maildrop_writer *w, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0 && !w->rec.failed) {
        size_t n = len < MAILDROP_CHUNK_MAX ? len : MAILDROP_CHUNK_MAX;

        record_writer_put(&w->rec, 'D', p, n);
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
        record_writer_fail(&w->rec, 0, "no recipients");
    be_put(end, w->size, 8);
    be_put(end + 8, w->nrcpt, 4);
    record_writer_put(&w->rec, 'E', end, sizeof(end));
    return record_writer_flush(&w->rec, err);
}

void
maildrop_writer_free(struct maildrop_writer *w)
{
    record_writer_free(&w->rec);
}
