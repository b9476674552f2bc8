/*
 * queue_file.c - the queue file format: writer, reader and in-place status updates.
 *
 * Trusts: nothing in a file it reads. A file may be cut short by a crash, damaged on disk
 * or written by a confused receiver; every length is checked against the file size and a
 * per-type maximum before anything is read, and a bad file is refused with its offset.
 *
 * Format (version 1). A file is a sequence of records; every record is
 *
 *     type (1 byte) | length (4 bytes, big-endian) | length bytes of value
 *
 * in this order:
 *
 *     'V'  version: 4 bytes, big-endian; always the first record
 *     envelope, each at most once, in any order; T and S are required:
 *       'T'  arrival: 8 bytes seconds, 4 bytes microseconds (big-endian)
 *       'S'  sender address (empty: the null sender)
 *       'r'  DSN RET ("FULL" or "HDRS")      'i'  DSN ENVID (xtext)
 *       'c'  client host name    'a'  client address    'h'  HELO name    'p'  protocol
 *     per recipient, at least one:
 *       'R'  recipient address
 *       'n'  DSN NOTIFY (optional)           'o'  DSN ORCPT (optional)
 *       'Q'  status slot, QUEUE_SLOT_LEN bytes, closes the recipient:
 *              state (1: 'P' pending, 'D' delivered, 'd' deferred, 'F' failed)
 *              next try (8, big-endian seconds) | reason length (2) | reason (200, NUL padded)
 *              check (4: FNV-1a of the bytes before it)
 *     'D'  content, up to QUEUE_FILE_CHUNK_MAX bytes per record, any number of records
 *     'E'  end marker: content size (8) | recipient count (4); must be the last bytes
 *
 * Text values hold no NUL byte. The end marker proves the writer finished: it is written
 * last, its counts must match what precedes it, and nothing may follow it.
 *
 * A status slot is rewritten in place with one pwrite() of fixed size followed by
 * fdatasync(), so the file never changes length or layout after it is committed. A write
 * cut short by a power cut leaves a slot whose check fails; the reader then treats that
 * recipient as pending (at worst one delivery repeats, which the durability rule allows
 * for the delivery in flight) and says so in status_torn.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/mem.h"
#include "mail/queue_file.h"

#define QUEUE_REC_HEADER  5
#define QUEUE_SLOT_CHECK  (1 + 8 + 2 + QUEUE_FILE_REASON_MAX)
#define QUEUE_SLOT_LEN    (QUEUE_SLOT_CHECK + 4)
#define QUEUE_TIME_LEN    12
#define QUEUE_END_LEN     12
#define QUEUE_VERSION_LEN 4
#define QUEUE_OUT_LIMIT   (2 * (QUEUE_FILE_CHUNK_MAX + QUEUE_REC_HEADER))

/* --- byte order and checks ---------------------------------------------------------------- */

static void
queue_put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)(v & 0xff);
}

static uint64_t
queue_get_be(const unsigned char *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* queue_check - FNV-1a over a status slot, so that a torn write is recognised */
static uint32_t
queue_check(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void queue_err(struct queue_file_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
queue_err(struct queue_file_error *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
}

static bool
queue_state_known(int c)
{
    return c == QUEUE_RCPT_PENDING || c == QUEUE_RCPT_DELIVERED || c == QUEUE_RCPT_DEFERRED ||
           c == QUEUE_RCPT_FAILED;
}

/* queue_slot_encode - a status as the bytes of its slot */
static void
queue_slot_encode(unsigned char slot[QUEUE_SLOT_LEN], const struct queue_rcpt_status *st)
{
    size_t len = strnlen(st->reason, QUEUE_FILE_REASON_MAX);

    memset(slot, 0, QUEUE_SLOT_LEN);
    slot[0] = (unsigned char)st->state;
    queue_put_be(slot + 1, (uint64_t)st->next_try, 8);
    queue_put_be(slot + 9, len, 2);
    memcpy(slot + 11, st->reason, len);
    queue_put_be(slot + QUEUE_SLOT_CHECK, queue_check(slot, QUEUE_SLOT_CHECK), 4);
}

/* queue_slot_decode - false if the slot is malformed; *torn if only its check fails */
static bool
queue_slot_decode(const unsigned char *slot, struct queue_rcpt_status *st, bool *torn)
{
    size_t len = (size_t)queue_get_be(slot + 9, 2);

    memset(st, 0, sizeof(*st));
    st->state = QUEUE_RCPT_PENDING;
    *torn = queue_get_be(slot + QUEUE_SLOT_CHECK, 4) != queue_check(slot, QUEUE_SLOT_CHECK);
    if (*torn)
        return true;
    if (!queue_state_known(slot[0]) || len > QUEUE_FILE_REASON_MAX ||
        memchr(slot + 11, 0, len) != NULL)
        return false;
    for (size_t i = 11 + len; i < QUEUE_SLOT_CHECK; i++)
        if (slot[i] != 0)
            return false;
    st->state = (enum queue_rcpt_state)slot[0];
    st->next_try = (int64_t)queue_get_be(slot + 1, 8);
    memcpy(st->reason, slot + 11, len);
    return true;
}

/* --- writer -------------------------------------------------------------------------------- */

static void queue_writer_fail(struct queue_writer *w, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
queue_writer_fail(struct queue_writer *w, int errnum, const char *fmt, ...)
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

/* queue_writer_flush - write out what is buffered */
static void
queue_writer_flush(struct queue_writer *w)
{
    const char *p = w->out.data;
    size_t left = w->out.len;

    while (!w->failed && left > 0) {
        ssize_t n = write(w->fd, p, left);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            queue_writer_fail(w, n < 0 ? errno : EIO, "queue file write: %s",
                              strerror(n < 0 ? errno : EIO));
        else {
            p += n;
            left -= (size_t)n;
        }
    }
    buf_reset(&w->out);
}

static void
queue_writer_record(struct queue_writer *w, char type, const void *data, size_t len)
{
    unsigned char head[QUEUE_REC_HEADER];

    if (w->failed)
        return;
    if (w->out.len + QUEUE_REC_HEADER + len > QUEUE_OUT_LIMIT)
        queue_writer_flush(w);
    head[0] = (unsigned char)type;
    queue_put_be(head + 1, len, 4);
    if (!buf_append(&w->out, head, sizeof(head)) || !buf_append(&w->out, data, len))
        queue_writer_fail(w, 0, "queue file record '%c' too large", type);
}

/* queue_writer_text - a text record, checked for its limit and for NUL bytes */
static void
queue_writer_text(struct queue_writer *w, char type, const char *what, const char *text, size_t max)
{
    size_t len = text ? strnlen(text, max + 1) : 0;

    if (len > max)
        queue_writer_fail(w, 0, "%s longer than %zu bytes", what, max);
    else
        queue_writer_record(w, type, text ? text : "", len);
}

/* queue_writer_init - start a file on fd: version and envelope */
void
queue_writer_init(struct queue_writer *w, int fd, const struct queue_envelope *env)
{
    unsigned char version[QUEUE_VERSION_LEN], arrival[QUEUE_TIME_LEN];

    memset(w, 0, sizeof(*w));
    w->fd = fd;
    buf_init(&w->out, QUEUE_OUT_LIMIT);
    buf_init(&w->chunk, QUEUE_FILE_CHUNK_MAX);
    queue_put_be(version, QUEUE_FILE_VERSION, 4);
    queue_writer_record(w, 'V', version, sizeof(version));
    queue_put_be(arrival, (uint64_t)env->arrival.tv_sec, 8);
    queue_put_be(arrival + 8, (uint64_t)env->arrival.tv_usec, 4);
    queue_writer_record(w, 'T', arrival, sizeof(arrival));
    queue_writer_text(w, 'S', "sender", env->sender, QUEUE_FILE_ADDR_MAX);
    if (env->ret && *env->ret)
        queue_writer_text(w, 'r', "RET", env->ret, QUEUE_FILE_TEXT_MAX);
    if (env->envid && *env->envid)
        queue_writer_text(w, 'i', "ENVID", env->envid, QUEUE_FILE_ADDR_MAX);
    queue_writer_text(w, 'c', "client name", env->client_name, QUEUE_FILE_TEXT_MAX);
    queue_writer_text(w, 'a', "client address", env->client_addr, QUEUE_FILE_TEXT_MAX);
    queue_writer_text(w, 'h', "HELO name", env->helo, QUEUE_FILE_TEXT_MAX);
    queue_writer_text(w, 'p', "protocol", env->protocol, QUEUE_FILE_TEXT_MAX);
}

/* queue_writer_rcpt - one recipient with a pending status slot */
void
queue_writer_rcpt(struct queue_writer *w, const char *addr, const char *notify, const char *orcpt)
{
    struct queue_rcpt_status pending = {.state = QUEUE_RCPT_PENDING};
    unsigned char slot[QUEUE_SLOT_LEN];

    if (w->in_content)
        queue_writer_fail(w, 0, "recipient after content");
    if (w->nrcpt >= QUEUE_FILE_RCPT_MAX)
        queue_writer_fail(w, 0, "more than %d recipients", QUEUE_FILE_RCPT_MAX);
    queue_writer_text(w, 'R', "recipient", addr, QUEUE_FILE_ADDR_MAX);
    if (notify && *notify)
        queue_writer_text(w, 'n', "NOTIFY", notify, QUEUE_FILE_TEXT_MAX);
    if (orcpt && *orcpt)
        queue_writer_text(w, 'o', "ORCPT", orcpt, QUEUE_FILE_ADDR_MAX);
    queue_slot_encode(slot, &pending);
    queue_writer_record(w, 'Q', slot, sizeof(slot));
    w->nrcpt++;
}

/* queue_writer_chunk - the buffered content as one record */
static void
queue_writer_chunk(struct queue_writer *w)
{
    if (w->chunk.len > 0)
        queue_writer_record(w, 'D', w->chunk.data, w->chunk.len);
    buf_reset(&w->chunk);
}

/* queue_writer_content - message bytes, in as many calls as the caller likes */
void
queue_writer_content(struct queue_writer *w, const void *data, size_t len)
{
    const char *p = data;

    w->in_content = true;
    while (len > 0 && !w->failed) {
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
queue_writer_end(struct queue_writer *w, struct queue_file_error *err)
{
    unsigned char end[QUEUE_END_LEN];

    if (w->nrcpt == 0)
        queue_writer_fail(w, 0, "no recipients");
    queue_writer_chunk(w);
    queue_put_be(end, w->size, 8);
    queue_put_be(end + 8, w->nrcpt, 4);
    queue_writer_record(w, 'E', end, sizeof(end));
    queue_writer_flush(w);
    if (w->failed && err)
        *err = w->err;
    return !w->failed;
}

/* queue_writer_finish - queue_writer_end, then fsync; false with err on failure */
bool
queue_writer_finish(struct queue_writer *w, struct queue_file_error *err)
{
    if (queue_writer_end(w, NULL) && fsync(w->fd) < 0)
        queue_writer_fail(w, errno, "queue file fsync: %s", strerror(errno));
    if (w->failed && err)
        *err = w->err;
    return !w->failed;
}

void
queue_writer_free(struct queue_writer *w)
{
    buf_free(&w->out);
    buf_free(&w->chunk);
}

/* --- reader -------------------------------------------------------------------------------- */

/* Small reads (record headers, envelope values) come from a window read ahead with one
 * pread: a short message's whole file is one system call, not two per record. */
#define QUEUE_WINDOW 8192

struct queue_reader {
    int fd;
    off_t off;  /* the next record */
    off_t size; /* of the file */
    struct queue_file_error *err;
    off_t win_off; /* the window holds win_len bytes of the file from win_off */
    size_t win_len;
    unsigned char win[QUEUE_WINDOW];
};

/* The longest value each record type may have; 0: unknown type. */
static size_t
queue_type_max(int type)
{
    switch (type) {
    case 'V':
        return QUEUE_VERSION_LEN;
    case 'T':
        return QUEUE_TIME_LEN;
    case 'E':
        return QUEUE_END_LEN;
    case 'Q':
        return QUEUE_SLOT_LEN;
    case 'S':
    case 'i':
    case 'R':
    case 'o':
        return QUEUE_FILE_ADDR_MAX;
    case 'r':
    case 'c':
    case 'a':
    case 'h':
    case 'p':
    case 'n':
        return QUEUE_FILE_TEXT_MAX;
    case 'D':
        return QUEUE_FILE_CHUNK_MAX;
    default:
        return 0;
    }
}

static bool
queue_pread_direct(struct queue_reader *r, void *data, size_t len, off_t off)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = pread(r->fd, (char *)data + got, len - got, off + (off_t)got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            off_t at = off + (off_t)got;
            queue_err(r->err, "read at offset %lld: %s", (long long)at,
                      n < 0 ? strerror(errno) : "unexpected end of file");
            return false;
        }
        got += (size_t)n;
    }
    return true;
}

/* queue_pread - len bytes at off, through the window when they fit in it */
static bool
queue_pread(struct queue_reader *r, void *data, size_t len, off_t off)
{
    bool inside = off >= r->win_off && (uint64_t)(off - r->win_off) + len <= r->win_len;

    if (len > QUEUE_WINDOW || off >= r->size)
        return queue_pread_direct(r, data, len, off);
    if (!inside) {
        size_t want = r->size - off < QUEUE_WINDOW ? (size_t)(r->size - off) : QUEUE_WINDOW;
        r->win_len = 0;
        if (want < len || !queue_pread_direct(r, r->win, want, off))
            return queue_pread_direct(r, data, len, off);
        r->win_off = off;
        r->win_len = want;
    }
    memcpy(data, r->win + (off - r->win_off), len);
    return true;
}

/*
 * queue_next - the next record's type and length, checked against the file size and
 * the type's maximum. The value is read into value (at least QUEUE_FILE_ADDR_MAX + 1
 * bytes, NUL-terminated) unless it is content. *at is the value's offset.
 */
static bool
queue_next(struct queue_reader *r, int *type, size_t *len, char *value, off_t *at)
{
    unsigned char head[QUEUE_REC_HEADER];
    uint64_t n;

    if (r->size - r->off < QUEUE_REC_HEADER) {
        queue_err(r->err, "truncated at offset %lld: %s", (long long)r->off,
                  r->size == r->off ? "no end marker" : "partial record header");
        return false;
    }
    if (!queue_pread(r, head, sizeof(head), r->off))
        return false;
    *type = head[0];
    n = queue_get_be(head + 1, 4);
    if (queue_type_max(*type) == 0) {
        queue_err(r->err, "offset %lld: unknown record type 0x%02x", (long long)r->off, *type);
        return false;
    }
    if (n > queue_type_max(*type)) {
        queue_err(r->err, "offset %lld: record '%c' length %llu exceeds %zu", (long long)r->off,
                  *type, (unsigned long long)n, queue_type_max(*type));
        return false;
    }
    if ((uint64_t)(r->size - r->off - QUEUE_REC_HEADER) < n) {
        queue_err(r->err, "truncated at offset %lld: record '%c' needs %llu bytes",
                  (long long)r->off, *type, (unsigned long long)n);
        return false;
    }
    *at = r->off + QUEUE_REC_HEADER;
    *len = (size_t)n;
    r->off = *at + (off_t)n;
    if (*type == 'D')
        return true;
    value[n] = 0;
    return queue_pread(r, value, n, *at);
}

/* queue_fixed - a fixed-size binary record has exactly its size */
static bool
queue_fixed(struct queue_reader *r, int type, size_t len, size_t want, off_t at)
{
    if (len == want)
        return true;
    queue_err(r->err, "offset %lld: record '%c' has %zu bytes, not %zu",
              (long long)(at - QUEUE_REC_HEADER), type, len, want);
    return false;
}

/* queue_text - a text value: no NUL, and not seen before */
static bool
queue_text(struct queue_reader *r, int type, const char *value, size_t len, off_t at, char **dest)
{
    if (memchr(value, 0, len) != NULL) {
        queue_err(r->err, "offset %lld: record '%c' contains a NUL byte",
                  (long long)(at - QUEUE_REC_HEADER), type);
        return false;
    }
    if (*dest != NULL) {
        queue_err(r->err, "offset %lld: record '%c' repeated", (long long)(at - QUEUE_REC_HEADER),
                  type);
        return false;
    }
    *dest = xmemdup(value, len + 1);
    return true;
}

static struct queue_rcpt *
queue_rcpt_add(struct queue_envelope *env)
{
    struct queue_rcpt *rcpt;

    if ((env->nrcpt & (env->nrcpt - 1)) == 0)
        env->rcpt = xreallocarray(env->rcpt, env->nrcpt ? env->nrcpt * 2 : 1, sizeof(*env->rcpt));
    rcpt = &env->rcpt[env->nrcpt++];
    memset(rcpt, 0, sizeof(*rcpt));
    return rcpt;
}

/* queue_envelope_field - where an envelope record's value goes, or NULL */
static char **
queue_envelope_field(struct queue_envelope *env, int type)
{
    switch (type) {
    case 'S':
        return &env->sender;
    case 'r':
        return &env->ret;
    case 'i':
        return &env->envid;
    case 'c':
        return &env->client_name;
    case 'a':
        return &env->client_addr;
    case 'h':
        return &env->helo;
    case 'p':
        return &env->protocol;
    default:
        return NULL;
    }
}

/* Where the reader is in the record grammar. */
enum queue_phase {
    QUEUE_PHASE_ENVELOPE, /* after V: envelope records or the first R */
    QUEUE_PHASE_RCPT,     /* after R: n, o, then Q */
    QUEUE_PHASE_NEXT,     /* after Q: R, D or E */
    QUEUE_PHASE_CONTENT,  /* after D: D or E */
};

/* queue_rcpt_record - R, n, o or Q while reading recipients */
static bool
queue_rcpt_record(struct queue_reader *r, struct queue_envelope *env, enum queue_phase *phase,
                  int type, const char *value, size_t len, off_t at)
{
    struct queue_rcpt *rcpt;

    if (type == 'R') {
        if (env->nrcpt >= QUEUE_FILE_RCPT_MAX) {
            queue_err(r->err, "offset %lld: more than %d recipients",
                      (long long)(at - QUEUE_REC_HEADER), QUEUE_FILE_RCPT_MAX);
            return false;
        }
        *phase = QUEUE_PHASE_RCPT;
        return queue_text(r, type, value, len, at, &queue_rcpt_add(env)->addr);
    }
    rcpt = &env->rcpt[env->nrcpt - 1];
    if (type == 'n')
        return queue_text(r, type, value, len, at, &rcpt->notify);
    if (type == 'o')
        return queue_text(r, type, value, len, at, &rcpt->orcpt);
    if (!queue_fixed(r, type, len, QUEUE_SLOT_LEN, at))
        return false;
    if (!queue_slot_decode((const unsigned char *)value, &rcpt->status, &rcpt->status_torn)) {
        queue_err(r->err, "offset %lld: malformed status slot", (long long)(at - QUEUE_REC_HEADER));
        return false;
    }
    rcpt->status_offset = at;
    *phase = QUEUE_PHASE_NEXT;
    return true;
}

/* queue_allowed - may a record of this type come in this phase? */
static bool
queue_allowed(enum queue_phase phase, int type)
{
    switch (phase) {
    case QUEUE_PHASE_ENVELOPE:
        return strchr("TSricahpR", type) != NULL;
    case QUEUE_PHASE_RCPT:
        return strchr("noQ", type) != NULL;
    case QUEUE_PHASE_NEXT:
        return strchr("RDE", type) != NULL;
    case QUEUE_PHASE_CONTENT:
        return strchr("DE", type) != NULL;
    }
    return false;
}

/* queue_end - the end marker agrees with what came before and is the last thing */
static bool
queue_end(struct queue_reader *r, struct queue_envelope *env, const char *value, size_t len,
          off_t at)
{
    const unsigned char *v = (const unsigned char *)value;

    if (!queue_fixed(r, 'E', len, QUEUE_END_LEN, at))
        return false;
    if (queue_get_be(v, 8) != env->size || queue_get_be(v + 8, 4) != env->nrcpt) {
        queue_err(r->err,
                  "offset %lld: end marker says %llu bytes and %llu recipients, file has "
                  "%llu and %zu",
                  (long long)(at - QUEUE_REC_HEADER), (unsigned long long)queue_get_be(v, 8),
                  (unsigned long long)queue_get_be(v + 8, 4), (unsigned long long)env->size,
                  env->nrcpt);
        return false;
    }
    if (r->off != r->size) {
        queue_err(r->err, "offset %lld: %lld bytes after the end marker", (long long)r->off,
                  (long long)(r->size - r->off));
        return false;
    }
    return true;
}

/* queue_header - the version record */
static bool
queue_header(struct queue_reader *r, char *value)
{
    size_t len;
    int type;
    off_t at;

    if (!queue_next(r, &type, &len, value, &at))
        return false;
    if (type != 'V' || len != QUEUE_VERSION_LEN) {
        queue_err(r->err, "offset 0: not a queue file (no version record)");
        return false;
    }
    if (queue_get_be((const unsigned char *)value, 4) != QUEUE_FILE_VERSION) {
        queue_err(r->err, "offset 0: unsupported queue file version %llu",
                  (unsigned long long)queue_get_be((const unsigned char *)value, 4));
        return false;
    }
    return true;
}

/* queue_record - one record after the header; *done at the end marker */
static bool
queue_record(struct queue_reader *r, struct queue_envelope *env, enum queue_phase *phase,
             bool *done, char *value)
{
    const unsigned char *v = (const unsigned char *)value;
    size_t len;
    int type;
    off_t at;

    if (!queue_next(r, &type, &len, value, &at))
        return false;
    if (!queue_allowed(*phase, type)) {
        queue_err(r->err, "offset %lld: record '%c' out of place",
                  (long long)(at - QUEUE_REC_HEADER), type);
        return false;
    }
    if (strchr("RnoQ", type))
        return queue_rcpt_record(r, env, phase, type, value, len, at);
    if (type == 'D') {
        if (*phase != QUEUE_PHASE_CONTENT)
            env->content_offset = at - QUEUE_REC_HEADER;
        *phase = QUEUE_PHASE_CONTENT;
        env->size += len;
        return true;
    }
    if (type == 'E') {
        *done = true;
        return queue_end(r, env, value, len, at);
    }
    if (type == 'T') {
        if (!queue_fixed(r, type, len, QUEUE_TIME_LEN, at))
            return false;
        env->arrival.tv_sec = (time_t)queue_get_be(v, 8);
        env->arrival.tv_usec = (suseconds_t)queue_get_be(v + 8, 4);
        return true;
    }
    return queue_text(r, type, value, len, at, queue_envelope_field(env, type));
}

/* queue_envelope_finish - required records present; absent strings become "" */
static bool
queue_envelope_finish(struct queue_reader *r, struct queue_envelope *env)
{
    char **text[] = {&env->sender,      &env->ret,  &env->envid,   &env->client_name,
                     &env->client_addr, &env->helo, &env->protocol};

    if (env->sender == NULL || env->arrival.tv_sec == 0) {
        queue_err(r->err, "no %s record", env->sender == NULL ? "sender" : "arrival time");
        return false;
    }
    if (env->nrcpt == 0) {
        queue_err(r->err, "no recipients");
        return false;
    }
    if (env->content_offset == 0)
        env->content_offset = r->size - QUEUE_REC_HEADER - QUEUE_END_LEN;
    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
        if (*text[i] == NULL)
            *text[i] = xstrdup("");
    for (size_t i = 0; i < env->nrcpt; i++) {
        if (env->rcpt[i].notify == NULL)
            env->rcpt[i].notify = xstrdup("");
        if (env->rcpt[i].orcpt == NULL)
            env->rcpt[i].orcpt = xstrdup("");
    }
    return true;
}

/* queue_file_read - check the whole file and load its envelope */
bool
queue_file_read(int fd, struct queue_envelope *env, struct queue_file_error *err)
{
    char value[QUEUE_FILE_ADDR_MAX + 1];
    struct queue_reader r = {.fd = fd, .err = err};
    enum queue_phase phase = QUEUE_PHASE_ENVELOPE;
    bool done = false, good;
    struct stat st;

    memset(env, 0, sizeof(*env));
    if (fstat(fd, &st) < 0) {
        queue_err(err, "fstat: %s", strerror(errno));
        return false;
    }
    r.size = st.st_size;
    good = queue_header(&r, value);
    while (good && !done)
        good = queue_record(&r, env, &phase, &done, value);
    good = good && queue_envelope_finish(&r, env);
    if (!good)
        queue_envelope_free(env);
    return good;
}

/* queue_file_content - hand the content to fn, chunk by chunk */
bool
queue_file_content(int fd, const struct queue_envelope *env, queue_content_fn fn, void *ctx,
                   struct queue_file_error *err)
{
    char value[QUEUE_FILE_ADDR_MAX + 1];
    struct queue_reader r = {.fd = fd, .off = env->content_offset, .err = err};
    char *chunk = xmalloc(QUEUE_FILE_CHUNK_MAX);
    bool good = true;
    struct stat st;
    size_t len = 0;
    int type = 0;
    off_t at = 0;

    if (fstat(fd, &st) < 0) {
        queue_err(err, "fstat: %s", strerror(errno));
        good = false;
    }
    r.size = st.st_size;
    while (good && (good = queue_next(&r, &type, &len, value, &at)) && type == 'D') {
        good = queue_pread(&r, chunk, len, at);
        if (good && !(good = fn(chunk, len, ctx)))
            queue_err(err, "content reader stopped at offset %lld", (long long)at);
    }
    if (good && type != 'E') {
        queue_err(err, "offset %lld: record '%c' in the content",
                  (long long)(at - QUEUE_REC_HEADER), type);
        good = false;
    }
    free(chunk);
    return good;
}

static void
queue_unlock_slot(int fd, off_t offset)
{
    struct flock fl = {
        .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = offset, .l_len = QUEUE_SLOT_LEN};

    (void)fcntl(fd, F_OFD_SETLK, &fl);
}

/* queue_file_write_slot - one recipient's status slot at offset; fdatasync when durable */
bool
queue_file_write_slot(int fd, off_t offset, const struct queue_rcpt_status *status, bool durable,
                      struct queue_file_error *err)
{
    unsigned char slot[QUEUE_SLOT_LEN];
    ssize_t n;

    if (!queue_state_known(status->state) || offset <= 0) {
        queue_err(err, "bad status update");
        return false;
    }
    queue_slot_encode(slot, status);
    while ((n = pwrite(fd, slot, sizeof(slot), offset)) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof(slot) || (durable && fdatasync(fd) < 0)) {
        queue_err(err, "status update at offset %lld: %s", (long long)offset,
                  n < 0 || n == (ssize_t)sizeof(slot) ? strerror(errno) : "short write");
        return false;
    }
    return true;
}

/*
 * queue_file_lock_slot - take a write lock on one recipient's slot (waiting while another
 * delivery agent holds it) and read the slot. The lock is an open file description lock:
 * it goes away with the last descriptor of this open, so with a killed holder too.
 */
bool
queue_file_lock_slot(int fd, off_t offset, struct queue_rcpt_status *status,
                     struct queue_file_error *err)
{
    struct flock fl = {
        .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = offset, .l_len = QUEUE_SLOT_LEN};
    unsigned char slot[QUEUE_SLOT_LEN];
    bool torn;

    while (fcntl(fd, F_OFD_SETLKW, &fl) < 0) {
        if (errno != EINTR) {
            queue_err(err, "lock status slot at offset %lld: %s", (long long)offset,
                      strerror(errno));
            return false;
        }
    }
    if (pread(fd, slot, sizeof(slot), offset) != (ssize_t)sizeof(slot) ||
        !queue_slot_decode(slot, status, &torn)) {
        queue_unlock_slot(fd, offset);
        queue_err(err, "offset %lld: unreadable status slot", (long long)offset);
        return false;
    }
    return true;
}

void
queue_file_unlock_slot(int fd, off_t offset)
{
    queue_unlock_slot(fd, offset);
}

/* queue_file_set_status - record a recipient's outcome in place, durably */
bool
queue_file_set_status(int fd, const struct queue_rcpt *rcpt, const struct queue_rcpt_status *status,
                      struct queue_file_error *err)
{
    return queue_file_write_slot(fd, rcpt->status_offset, status, true, err);
}

void
queue_envelope_free(struct queue_envelope *env)
{
    char *text[] = {env->sender,      env->ret,  env->envid,   env->client_name,
                    env->client_addr, env->helo, env->protocol};

    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
        free(text[i]);
    for (size_t i = 0; i < env->nrcpt; i++) {
        free(env->rcpt[i].addr);
        free(env->rcpt[i].notify);
        free(env->rcpt[i].orcpt);
    }
    free(env->rcpt);
    memset(env, 0, sizeof(*env));
}
