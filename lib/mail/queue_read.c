/*
 * queue_read.c - reading a queue file: the whole file checked and its envelope loaded, and
 * the content handed out chunk by chunk (the format is in queue_file.c).
 *
 * Trusts: nothing in a file it reads. A file may be cut short by a crash, damaged on disk
 * or written by a confused receiver; every length is checked against the file size and a
 * per-type maximum before anything is read, and a bad file is refused with its offset.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "mail/queue_format.h"

/* Small reads (record headers, envelope values) come from a window read ahead with one
 * pread: a short message's whole file is one system call, not two per record. */
#define QUEUE_WINDOW 8192

struct queue_reader {
    int fd;
    off_t off;  /* the next record */
    off_t size; /* of the file */
    struct err *err;
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
    case 'b':
    case 'c':
    case 'a':
    case 'h':
    case 'p':
    case 'n':
        return QUEUE_FILE_TEXT_MAX;
    case 'O':
        return QUEUE_ORIGIN_MAX;
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
            return err_set(r->err, "read at offset %lld: %s", (long long)at,
                           n < 0 ? strerror(errno) : "unexpected end of file");
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
 * the type's maximum. The value is read into value (QUEUE_VALUE_MAX + 1 bytes,
 * NUL-terminated) unless it is content. *at is the value's offset.
 */
static bool
queue_next(struct queue_reader *r, int *type, size_t *len, char *value, off_t *at)
{
    unsigned char head[QUEUE_REC_HEADER];
    uint64_t n;

    if (r->size - r->off < QUEUE_REC_HEADER) {
        return err_set(r->err, "truncated at offset %lld: %s", (long long)r->off,
                       r->size == r->off ? "no end marker" : "partial record header");
    }
    if (!queue_pread(r, head, sizeof(head), r->off))
        return false;
    *type = head[0];
    n = be_get(head + 1, 4);
    if (queue_type_max(*type) == 0) {
        return err_set(r->err, "offset %lld: unknown record type 0x%02x", (long long)r->off, *type);
    }
    if (n > queue_type_max(*type)) {
        return err_set(r->err, "offset %lld: record '%c' length %llu exceeds %zu",
                       (long long)r->off, *type, (unsigned long long)n, queue_type_max(*type));
    }
    if ((uint64_t)(r->size - r->off - QUEUE_REC_HEADER) < n) {
        return err_set(r->err, "truncated at offset %lld: record '%c' needs %llu bytes",
                       (long long)r->off, *type, (unsigned long long)n);
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
    return err_set(r->err, "offset %lld: record '%c' has %zu bytes, not %zu",
                   (long long)(at - QUEUE_REC_HEADER), type, len, want);
}

/* queue_text - a text value: no NUL, and not seen before */
static bool
queue_text(struct queue_reader *r, int type, const char *value, size_t len, off_t at, char **dest)
{
    if (memchr(value, 0, len) != NULL) {
        return err_set(r->err, "offset %lld: record '%c' contains a NUL byte",
                       (long long)(at - QUEUE_REC_HEADER), type);
    }
    if (*dest != NULL) {
        return err_set(r->err, "offset %lld: record '%c' repeated",
                       (long long)(at - QUEUE_REC_HEADER), type);
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
    case 'b':
        return &env->body;
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
            return err_set(r->err, "offset %lld: more than %d recipients",
                           (long long)(at - QUEUE_REC_HEADER), QUEUE_FILE_RCPT_MAX);
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
        return err_set(r->err, "offset %lld: malformed status slot",
                       (long long)(at - QUEUE_REC_HEADER));
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
        return strchr("TSribcahpOR", type) != NULL;
    case QUEUE_PHASE_RCPT:
        return strchr("noQ", type) != NULL;
    case QUEUE_PHASE_NEXT:
        return strchr("RDE", type) != NULL;
    case QUEUE_PHASE_CONTENT:
        return strchr("DE", type) != NULL;
    }
    return false;
}

/* queue_origin - a notice's 'O' record: a known kind, a queue ID, whole indexes */
static bool
queue_origin(struct queue_reader *r, struct queue_envelope *env, const char *value, size_t len,
             off_t at)
{
    const unsigned char *v = (const unsigned char *)value;
    struct queue_notice_origin *o = &env->origin;

    if (o->kind != QUEUE_NOTICE_NONE || len < QUEUE_ORIGIN_MIN ||
        (len - 1 - QUEUE_ID_LEN) % 4 != 0 ||
        (v[0] != QUEUE_NOTICE_FAILURE && v[0] != QUEUE_NOTICE_SUCCESS &&
         v[0] != QUEUE_NOTICE_DOUBLE && v[0] != QUEUE_NOTICE_DELAY && v[0] != QUEUE_NOTICE_COPY) ||
        !queue_id_valid(value + 1, QUEUE_ID_LEN)) {
        return err_set(r->err, "offset %lld: malformed or repeated origin record",
                       (long long)(at - QUEUE_REC_HEADER));
    }
    o->kind = (enum queue_notice_kind)v[0];
    memcpy(o->id, value + 1, QUEUE_ID_LEN);
    o->nrcpt = (len - 1 - QUEUE_ID_LEN) / 4;
    o->rcpt = xreallocarray(NULL, o->nrcpt, sizeof(*o->rcpt));
    for (size_t i = 0; i < o->nrcpt; i++)
        o->rcpt[i] = (uint32_t)be_get(v + 1 + QUEUE_ID_LEN + 4 * i, 4);
    return true;
}

/* queue_end - the end marker agrees with what came before and is the last thing */
static bool
queue_end(struct queue_reader *r, struct queue_envelope *env, const char *value, size_t len,
          off_t at)
{
    const unsigned char *v = (const unsigned char *)value;

    if (!queue_fixed(r, 'E', len, QUEUE_END_LEN, at))
        return false;
    if (be_get(v, 8) != env->size || be_get(v + 8, 4) != env->nrcpt) {
        return err_set(r->err,
                       "offset %lld: end marker says %llu bytes and %llu recipients, file has "
                       "%llu and %zu",
                       (long long)(at - QUEUE_REC_HEADER), (unsigned long long)be_get(v, 8),
                       (unsigned long long)be_get(v + 8, 4), (unsigned long long)env->size,
                       env->nrcpt);
    }
    if (r->off != r->size) {
        return err_set(r->err, "offset %lld: %lld bytes after the end marker", (long long)r->off,
                       (long long)(r->size - r->off));
    }
    return true;
}

/* queue_header - the version record */
static bool
queue_header(struct queue_reader *r, char *value)
{
    size_t len = 0;
    int type = 0;
    off_t at = 0;

    if (!queue_next(r, &type, &len, value, &at))
        return false;
    if (type != 'V' || len != QUEUE_VERSION_LEN) {
        return err_set(r->err, "offset 0: not a queue file (no version record)");
    }
    if (be_get((const unsigned char *)value, 4) != QUEUE_FILE_VERSION) {
        return err_set(r->err, "offset 0: unsupported queue file version %llu",
                       (unsigned long long)be_get((const unsigned char *)value, 4));
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
        return err_set(r->err, "offset %lld: record '%c' out of place",
                       (long long)(at - QUEUE_REC_HEADER), type);
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
        env->arrival.tv_sec = (time_t)be_get(v, 8);
        env->arrival.tv_usec = (suseconds_t)be_get(v + 8, 4);
        return true;
    }
    if (type == 'O')
        return queue_origin(r, env, value, len, at);
    return queue_text(r, type, value, len, at, queue_envelope_field(env, type));
}

/* queue_envelope_finish - required records present; absent strings become "" */
static bool
queue_envelope_finish(struct queue_reader *r, struct queue_envelope *env)
{
    char **text[] = {&env->sender,      &env->ret,         &env->envid, &env->body,
                     &env->client_name, &env->client_addr, &env->helo,  &env->protocol};

    if (env->sender == NULL || env->arrival.tv_sec == 0) {
        return err_set(r->err, "no %s record", env->sender == NULL ? "sender" : "arrival time");
    }
    if (env->nrcpt == 0) {
        return err_set(r->err, "no recipients");
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
queue_file_read(int fd, struct queue_envelope *env, struct err *err)
{
    struct stat st;

    memset(env, 0, sizeof(*env));
    if (fstat(fd, &st) < 0) {
        return err_set(err, "fstat: %s", strerror(errno));
    }
    return queue_file_read_len(fd, st.st_size, env, err);
}

/* queue_file_read_len - the same for a file that ends at size, whatever follows there */
bool
queue_file_read_len(int fd, off_t size, struct queue_envelope *env, struct err *err)
{
    char value[QUEUE_VALUE_MAX + 1];
    struct queue_reader r = {.fd = fd, .size = size, .err = err};
    enum queue_phase phase = QUEUE_PHASE_ENVELOPE;
    bool done = false, good;

    memset(env, 0, sizeof(*env));
    good = queue_header(&r, value);
    while (good && !done)
        good = queue_record(&r, env, &phase, &done, value);
    good = good && queue_envelope_finish(&r, env);
    if (!good)
        queue_envelope_free(env);
    return good;
}

/* One reader of the content, between calls of queue_content_next. */
struct queue_content {
    int fd;
    off_t off;  /* the next content record */
    off_t size; /* of the file */
    char *chunk;
};

struct queue_content *
queue_content_open(int fd, const struct queue_envelope *env, struct err *err)
{
    struct queue_content *c;
    struct stat st;

    if (fstat(fd, &st) < 0) {
        err_set(err, "fstat: %s", strerror(errno));
        return NULL;
    }
    c = xcalloc(1, sizeof(*c));
    *c = (struct queue_content){.fd = fd, .off = env->content_offset, .size = st.st_size};
    c->chunk = xmalloc(QUEUE_FILE_CHUNK_MAX);
    return c;
}

enum queue_content_step
queue_content_next(struct queue_content *c, queue_content_fn fn, void *ctx, struct err *err)
{
    off_t at = c->off;
    size_t len = 0;

    switch (queue_file_content_next(c->fd, c->size, &c->off, c->chunk, &len, err)) {
    case 0:
        return QUEUE_CONTENT_END;
    case 1:
        break;
    default:
        return QUEUE_CONTENT_ERROR;
    }
    if (!fn(c->chunk, len, ctx)) {
        err_set(err, "content reader stopped at offset %lld", (long long)at);
        return QUEUE_CONTENT_ERROR;
    }
    return QUEUE_CONTENT_MORE;
}

void
queue_content_close(struct queue_content *c)
{
    if (c == NULL)
        return;
    free(c->chunk);
    free(c);
}

/* queue_file_content - hand the content to fn, chunk by chunk */
bool
queue_file_content(int fd, const struct queue_envelope *env, queue_content_fn fn, void *ctx,
                   struct err *err)
{
    struct queue_content *c = queue_content_open(fd, env, err);
    enum queue_content_step step = QUEUE_CONTENT_ERROR;

    if (c != NULL)
        while ((step = queue_content_next(c, fn, ctx, err)) == QUEUE_CONTENT_MORE)
            ;
    queue_content_close(c);
    return step == QUEUE_CONTENT_END;
}

/* queue_content_last - the content ends just before the end marker, the file's last record
 * (queue_file.c), so its last byte is found without reading the rest */
bool
queue_content_last(int fd, const struct queue_envelope *env, char *last, struct err *err)
{
    struct stat st;
    off_t at;

    *last = 0;
    if (env->size == 0)
        return true;
    if (fstat(fd, &st) < 0)
        return err_set(err, "fstat: %s", strerror(errno));
    at = st.st_size - QUEUE_REC_HEADER - QUEUE_END_LEN - 1;
    if (at < env->content_offset || pread(fd, last, 1, at) != 1)
        return err_set(err, "cannot read the content's last byte at offset %lld", (long long)at);
    return true;
}

/*
 * queue_file_content_next - one content record at *off (start at env.content_offset of a
 * file queue_file_read checked) into chunk (QUEUE_FILE_CHUNK_MAX bytes): 1 and its length,
 * 0 at the end marker, -1 with err on anything else. For a reader that takes the content
 * a piece at a time (smtpd's milters), between other work.
 */
int
queue_file_content_next(int fd, off_t size, off_t *off, char *chunk, size_t *len, struct err *err)
{
    struct queue_reader r = {.fd = fd, .off = *off, .size = size, .err = err};
    char value[QUEUE_VALUE_MAX + 1];
    int type = 0;
    off_t at = 0;

    if (!queue_next(&r, &type, len, value, &at))
        return -1;
    if (type == 'E')
        return 0;
    if (type != 'D') {
        err_set(err, "offset %lld: record '%c' in the content", (long long)(at - QUEUE_REC_HEADER),
                type);
        return -1;
    }
    if (!queue_pread(&r, chunk, *len, at))
        return -1;
    *off = r.off;
    return 1;
}
