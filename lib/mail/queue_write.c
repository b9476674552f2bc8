/*
 * queue_write.c - writing a new queue file: envelope, recipients with pending status slots,
 * content in chunks, the end marker, fsync (the format is in queue_file.c).
 *
 * Trusts: its caller for the order of calls; checks every value against the format's
 * limits and refuses NUL in text, so that the reader never meets what the writer made.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mail/queue_format.h"

/* queue_writer_text - a text record, checked for its limit and for NUL bytes */
static void
queue_writer_text(struct queue_writer *w, char type, const char *what, const char *text, size_t max)
{
    size_t len = text ? strnlen(text, max + 1) : 0;

    if (len > max)
        record_writer_fail(&w->rec, 0, "%s longer than %zu bytes", what, max);
    else
        record_writer_put(&w->rec, type, text ? text : "", len);
}

/* queue_writer_origin - a notice's 'O' record: what it reports on */
static void
queue_writer_origin(struct queue_writer *w, const struct queue_notice_origin *o)
{
    unsigned char rec[QUEUE_ORIGIN_MAX];

    if (o->nrcpt == 0 || o->nrcpt > QUEUE_NOTICE_RCPT_MAX || strlen(o->id) != QUEUE_ID_LEN) {
        record_writer_fail(&w->rec, 0, "notice origin with %zu recipients", o->nrcpt);
        return;
    }
    rec[0] = (unsigned char)o->kind;
    memcpy(rec + 1, o->id, QUEUE_ID_LEN);
    for (size_t i = 0; i < o->nrcpt; i++)
        be_put(rec + 1 + QUEUE_ID_LEN + 4 * i, o->rcpt[i], 4);
    record_writer_put(&w->rec, 'O', rec, 1 + QUEUE_ID_LEN + 4 * o->nrcpt);
}

/* queue_writer_init - start a file on fd: version and envelope */
void
queue_writer_init(struct queue_writer *w, int fd, const struct queue_envelope *env)
{
    unsigned char version[QUEUE_VERSION_LEN], arrival[QUEUE_TIME_LEN];

    memset(w, 0, sizeof(*w));
    record_writer_init(&w->rec, fd, QUEUE_OUT_LIMIT, "queue file");
    buf_init(&w->chunk, QUEUE_FILE_CHUNK_MAX);
    be_put(version, QUEUE_FILE_VERSION, 4);
    record_writer_put(&w->rec, 'V', version, sizeof(version));
    be_put(arrival, (uint64_t)env->arrival.tv_sec, 8);
    be_put(arrival + 8, (uint64_t)env->arrival.tv_usec, 4);
    record_writer_put(&w->rec, 'T', arrival, sizeof(arrival));
    queue_writer_text(w, 'S', "sender", env->sender, QUEUE_FILE_ADDR_MAX);
    if (env->ret && *env->ret)
        queue_writer_text(w, 'r', "RET", env->ret, QUEUE_FILE_TEXT_MAX);
    if (env->envid && *env->envid)
        queue_writer_text(w, 'i', "ENVID", env->envid, QUEUE_FILE_ADDR_MAX);
    if (env->body && *env->body)
        queue_writer_text(w, 'b', "body type", env->body, QUEUE_FILE_TEXT_MAX);
    queue_writer_text(w, 'c', "client name", env->client_name, QUEUE_FILE_TEXT_MAX);
    queue_writer_text(w, 'a', "client address", env->client_addr, QUEUE_FILE_TEXT_MAX);
    queue_writer_text(w, 'h', "HELO name", env->helo, QUEUE_FILE_TEXT_MAX);
    queue_writer_text(w, 'p', "protocol", env->protocol, QUEUE_FILE_TEXT_MAX);
    if (env->origin.kind != QUEUE_NOTICE_NONE)
        queue_writer_origin(w, &env->origin);
}

/* queue_writer_rcpt - one recipient with a pending status slot */
void
queue_writer_rcpt(struct queue_writer *w, const char *addr, const char *notify, const char *orcpt)
{
    struct queue_rcpt_status pending = {.state = QUEUE_RCPT_PENDING};
    unsigned char slot[QUEUE_SLOT_LEN];

    if (w->in_content)
        record_writer_fail(&w->rec, 0, "recipient after content");
    if (w->nrcpt >= QUEUE_FILE_RCPT_MAX)
        record_writer_fail(&w->rec, 0, "more than %d recipients", QUEUE_FILE_RCPT_MAX);
    queue_writer_text(w, 'R', "recipient", addr, QUEUE_FILE_ADDR_MAX);
    if (notify && *notify)
        queue_writer_text(w, 'n', "NOTIFY", notify, QUEUE_FILE_TEXT_MAX);
    if (orcpt && *orcpt)
        queue_writer_text(w, 'o', "ORCPT", orcpt, QUEUE_FILE_ADDR_MAX);
    queue_slot_encode(slot, &pending);
    record_writer_put(&w->rec, 'Q', slot, sizeof(slot));
    w->nrcpt++;
}

/* queue_writer_chunk - the buffered content as one record */
static void
queue_writer_chunk(struct queue_writer *w)
{
    if (w->chunk.len > 0)
        record_writer_put(&w->rec, 'D', w->chunk.data, w->chunk.len);
    buf_reset(&w->chunk);
}

/* queue_writer_content - message bytes, in as many calls as the caller likes */
void
queue_writer_content(struct queue_writer *w, const void *data, size_t len)
{
    const char *p = data;

    w->in_content = true;
    while (len > 0 && !w->rec.failed) {
        size_t room = QUEUE_FILE_CHUNK_MAX - w->chunk.len;
        size_t n = len < room ? len : room;

        buf_append(&w->chunk, p, n);
        if (w->chunk.len == QUEUE_FILE_CHUNK_MAX)
            queue_writer_chunk(w);
        w->size += n;
        p += n;
        len -= n;
    }
}

/* queue_writer_end - the end marker, then write what is buffered (no fsync: the caller
 * does it, as smtpd does off its event loop); false with err on failure */
bool
queue_writer_end(struct queue_writer *w, struct err *err)
{
    unsigned char end[QUEUE_END_LEN];

    if (w->nrcpt == 0)
        record_writer_fail(&w->rec, 0, "no recipients");
    queue_writer_chunk(w);
    be_put(end, w->size, 8);
    be_put(end + 8, w->nrcpt, 4);
    record_writer_put(&w->rec, 'E', end, sizeof(end));
    return record_writer_flush(&w->rec, err);
}

/* queue_writer_finish - queue_writer_end, then fsync; false with err on failure */
bool
queue_writer_finish(struct queue_writer *w, struct err *err)
{
    if (queue_writer_end(w, NULL) && fsync(w->rec.fd) < 0)
        record_writer_fail(&w->rec, errno, "queue file fsync: %s", strerror(errno));
    if (w->rec.failed && err)
        *err = w->rec.err;
    return !w->rec.failed;
}

void
queue_writer_free(struct queue_writer *w)
{
    record_writer_free(&w->rec);
    buf_free(&w->chunk);
}
