/*
 * attr.c - named attribute records, the unit of every IPC exchange between daemons.
 *
 * Trusts: nothing in a record it decodes; the peer may be a compromised daemon. Every
 * length is checked against the bytes present before it is used, and a record is checked
 * completely before anything is stored in the caller's destinations.
 *
 * Wire format (all integers big-endian):
 *
 *     record    = length:u32 attribute*      length counts the bytes after itself;
 *                                             4 + length <= the receiver's record limit
 *     attribute = type:u8 namelen:u8 name value
 *     name      = namelen bytes of [a-z0-9_], namelen >= 1
 *     value     = int64:8                     type 'I': two's complement
 *               | len:u32 bytes:len           type 'S': any bytes, NUL included
 *               | index:u8                    type 'F': which of the descriptors sent
 *                                             beside the record (SCM_RIGHTS), from 0
 *
 * A receiver lists the attributes it knows. It refuses a record with a missing required
 * attribute, a known name twice, a known name with another type, an unknown type byte, a
 * bad name, a length that runs past the end, a descriptor index out of range or used twice.
 * Unknown names are skipped so that a protocol can grow; their descriptors are closed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/be.h"
#include "core/log.h"
#include "core/mem.h"

/* One attribute as it sits in the record; pointers into the record. */
struct attr_item {
    enum attr_type type;
    const char *name;
    size_t namelen;
    int64_t ival;
    const unsigned char *sval;
    size_t slen;
    unsigned fdindex;
};

struct attr_cursor {
    const unsigned char *start;
    const unsigned char *p;
    const unsigned char *end;
};

void
attr_fds_init(struct attr_fds *fds)
{
    fds->n = 0;
}

/* attr_fds_close - close every descriptor held and forget them */
void
attr_fds_close(struct attr_fds *fds)
{
    for (size_t i = 0; i < fds->n; i++)
        if (fds->fd[i] >= 0)
            close(fds->fd[i]);
    fds->n = 0;
}

static bool
attr_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > ATTR_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '_'))
            return false;
    return true;
}

/*
 * A record being written is marked broken by emptying the buffer: attr_begin() always
 * stores the header, so a record in progress is never shorter than it, every later put is
 * a no-op and attr_end() reports the failure.
 */
static bool
attr_broken(const struct buf *rec)
{
    return rec->len < ATTR_HEADER_SIZE;
}

static void
attr_break(struct buf *rec)
{
    buf_truncate(rec, 0);
}

/* attr_begin - start a record in rec, dropping whatever it held */
void
attr_begin(struct buf *rec)
{
    static const unsigned char header[ATTR_HEADER_SIZE];

    buf_reset(rec);
    buf_append(rec, header, sizeof(header));
}

/* attr_put_head - the type, name length and name of one attribute */
static bool
attr_put_head(struct buf *rec, enum attr_type type, const char *name)
{
    size_t len = strlen(name);
    unsigned char head[2] = {(unsigned char)type, (unsigned char)len};

    if (!attr_name_ok(name, len))
        log_panic("attr: bad attribute name \"%s\"", name);
    if (attr_broken(rec))
        return false;
    if (!buf_append(rec, head, sizeof(head)) || !buf_append(rec, name, len)) {
        attr_break(rec);
        return false;
    }
    return true;
}

static void
attr_put_value(struct buf *rec, const void *data, size_t len)
{
    if (!attr_broken(rec) && !buf_append(rec, data, len))
        attr_break(rec);
}

void
attr_put_int(struct buf *rec, const char *name, int64_t value)
{
    unsigned char v[8];

    if (!attr_put_head(rec, ATTR_INT, name))
        return;
    be_put(v, (uint64_t)value, 8);
    attr_put_value(rec, v, sizeof(v));
}

void
attr_put_str(struct buf *rec, const char *name, const void *data, size_t len)
{
    unsigned char n[4];

    if (len > UINT32_MAX) {
        attr_break(rec);
        return;
    }
    if (!attr_put_head(rec, ATTR_STR, name))
        return;
    be_put(n, len, 4);
    attr_put_value(rec, n, sizeof(n));
    attr_put_value(rec, data, len);
}

void
attr_put_text(struct buf *rec, const char *name, const char *text)
{
    attr_put_str(rec, name, text, strlen(text));
}

/* attr_put_fd - name the next descriptor of fds; the caller keeps fd open until sent */
void
attr_put_fd(struct buf *rec, struct attr_fds *fds, const char *name, int fd)
{
    unsigned char index = (unsigned char)fds->n;

    if (fd < 0)
        log_panic("attr: attribute \"%s\": negative descriptor", name);
    if (fds->n >= ATTR_MAX_FDS) {
        attr_break(rec);
        return;
    }
    if (!attr_put_head(rec, ATTR_FD, name))
        return;
    attr_put_value(rec, &index, 1);
    if (!attr_broken(rec))
        fds->fd[fds->n++] = fd;
}

/* attr_end - fill in the length prefix; false if any put did not fit */
bool
attr_end(struct buf *rec, struct err *err)
{
    if (attr_broken(rec) || rec->len - ATTR_HEADER_SIZE > UINT32_MAX) {
        err_set(err,
                "attribute record larger than %zu bytes or with more than %d "
                "descriptors",
                rec->limit, ATTR_MAX_FDS);
        buf_reset(rec);
        return false;
    }
    be_put((unsigned char *)rec->data, rec->len - ATTR_HEADER_SIZE, 4);
    return true;
}

/* attr_frame - is a whole record at data? */
enum attr_frame_status
attr_frame(const void *data, size_t len, size_t limit, size_t *total, struct err *err)
{
    uint64_t body;

    if (len < ATTR_HEADER_SIZE)
        return ATTR_FRAME_NEED;
    body = be_get(data, 4);
    if (limit < ATTR_HEADER_SIZE || body > limit - ATTR_HEADER_SIZE) {
        err_set(err, "attribute record of %llu bytes exceeds the limit of %zu",
                (unsigned long long)body + ATTR_HEADER_SIZE, limit);
        return ATTR_FRAME_BAD;
    }
    *total = ATTR_HEADER_SIZE + (size_t)body;
    return len < *total ? ATTR_FRAME_NEED : ATTR_FRAME_OK;
}

static bool
attr_take(struct attr_cursor *c, size_t n, const unsigned char **out)
{
    if ((size_t)(c->end - c->p) < n)
        return false;
    *out = c->p;
    c->p += n;
    return true;
}

/* attr_next - parse one attribute; 1 = got one, 0 = end of record, -1 = malformed */
static int
attr_next(struct attr_cursor *c, struct attr_item *item, struct err *err)
{
    const unsigned char *head, *name, *v;
    size_t offset = (size_t)(c->p - c->start);

    if (c->p == c->end)
        return 0;
    if (!attr_take(c, 2, &head) || !attr_take(c, head[1], &name)) {
        err_set(err, "attribute record: truncated attribute at offset %zu", offset);
        return -1;
    }
    item->type = head[0];
    item->name = (const char *)name;
    item->namelen = head[1];
    if (!attr_name_ok(item->name, item->namelen)) {
        err_set(err, "attribute record: bad attribute name at offset %zu", offset);
        return -1;
    }
    switch (head[0]) {
    case ATTR_INT:
        if (!attr_take(c, 8, &v))
            break;
        item->ival = (int64_t)be_get(v, 8);
        return 1;
    case ATTR_STR:
        if (!attr_take(c, 4, &v))
            break;
        item->slen = (size_t)be_get(v, 4);
        if (!attr_take(c, item->slen, &item->sval))
            break;
        return 1;
    case ATTR_FD:
        if (!attr_take(c, 1, &v))
            break;
        item->fdindex = v[0];
        return 1;
    default:
        err_set(err, "attribute record: unknown type 0x%02x of \"%.*s\"", head[0],
                (int)item->namelen, item->name);
        return -1;
    }
    err_set(err, "attribute record: value of \"%.*s\" runs past the end", (int)item->namelen,
            item->name);
    return -1;
}

static const struct attr_spec *
attr_find(const struct attr_spec *spec, size_t nspec, const struct attr_item *item)
{
    for (size_t i = 0; i < nspec; i++)
        if (strlen(spec[i].name) == item->namelen &&
            memcmp(spec[i].name, item->name, item->namelen) == 0)
            return &spec[i];
    return NULL;
}

static const char *
attr_type_name(enum attr_type type)
{
    switch (type) {
    case ATTR_INT:
        return "int";
    case ATTR_STR:
        return "string";
    case ATTR_FD:
        return "descriptor";
    }
    return "unknown";
}

/* attr_check_item - the checks one attribute must pass, known or not */
static bool
attr_check_item(const struct attr_item *item, const struct attr_spec *s, bool *seen, bool *fd_used,
                size_t nfds, struct err *err)
{
    if (item->type == ATTR_FD) {
        if (item->fdindex >= nfds || fd_used[item->fdindex]) {
            return err_set(err, "attribute record: \"%.*s\" names descriptor %u, which is %s",
                           (int)item->namelen, item->name, item->fdindex,
                           item->fdindex >= nfds ? "missing" : "already used");
        }
        fd_used[item->fdindex] = true;
    }
    if (s == NULL)
        return true;
    if (*seen) {
        return err_set(err, "attribute record: duplicate attribute \"%s\"", s->name);
    }
    *seen = true;
    if (item->type != s->type) {
        return err_set(err, "attribute record: \"%s\" is a %s, expected a %s", s->name,
                       attr_type_name(item->type), attr_type_name(s->type));
    }
    if (s->type == ATTR_STR && item->slen > ((struct buf *)s->dest)->limit) {
        return err_set(err, "attribute record: \"%s\" is longer than %zu bytes", s->name,
                       ((struct buf *)s->dest)->limit);
    }
    if (s->type == ATTR_STR && (s->flags & ATTR_TEXT) && memchr(item->sval, 0, item->slen)) {
        return err_set(err, "attribute record: \"%s\" contains a NUL byte", s->name);
    }
    return true;
}

/* attr_check - first pass: the whole record is well formed and matches the table */
static bool
attr_check(struct attr_cursor c, const struct attr_spec *spec, size_t nspec, size_t nfds,
           struct err *err)
{
    bool *seen = xcalloc(nspec, sizeof(*seen));
    bool fd_used[ATTR_MAX_FDS] = {false};
    struct attr_item item;
    bool good = true;
    int got;

    while (good && (got = attr_next(&c, &item, err)) != 0) {
        const struct attr_spec *s = got > 0 ? attr_find(spec, nspec, &item) : NULL;

        good = got > 0 && attr_check_item(&item, s, s ? &seen[s - spec] : NULL, fd_used, nfds, err);
    }
    for (size_t i = 0; good && i < nspec; i++) {
        if ((spec[i].flags & ATTR_REQUIRED) && !seen[i]) {
            err_set(err, "attribute record: required attribute \"%s\" is missing", spec[i].name);
            good = false;
        }
    }
    free(seen);
    return good;
}

/* attr_store - second pass over a checked record: fill the destinations */
static void
attr_store(struct attr_cursor c, const struct attr_spec *spec, size_t nspec, struct attr_fds *fds)
{
    struct attr_item item;

    while (attr_next(&c, &item, NULL) > 0) {
        const struct attr_spec *s = attr_find(spec, nspec, &item);

        if (s == NULL)
            continue;
        switch (s->type) {
        case ATTR_INT:
            *(int64_t *)s->dest = item.ival;
            break;
        case ATTR_STR:
            buf_reset(s->dest);
            buf_append(s->dest, item.sval, item.slen);
            break;
        case ATTR_FD:
            *(int *)s->dest = fds->fd[item.fdindex];
            fds->fd[item.fdindex] = -1;
            break;
        }
    }
}

/* attr_decode - check one whole record against spec, then unpack it */
bool
attr_decode(const void *rec, size_t len, size_t limit, struct attr_fds *fds,
            const struct attr_spec *spec, size_t nspec, struct err *err)
{
    struct attr_cursor c;
    size_t total;
    bool good = false;

    switch (attr_frame(rec, len, limit, &total, err)) {
    case ATTR_FRAME_NEED:
        err_set(err, "attribute record: truncated (%zu bytes)", len);
        break;
    case ATTR_FRAME_BAD:
        break;
    case ATTR_FRAME_OK:
        if (total != len) {
            err_set(err, "attribute record: %zu bytes of trailing garbage", len - total);
            break;
        }
        c.start = c.p = (const unsigned char *)rec + ATTR_HEADER_SIZE;
        c.end = (const unsigned char *)rec + len;
        if ((good = attr_check(c, spec, nspec, fds->n, err)) == true)
            attr_store(c, spec, nspec, fds);
        break;
    }
    attr_fds_close(fds);
    return good;
}

/* attr_peek_str - look up one string attribute in a record, no checks beyond framing */
bool
attr_peek_str(const void *rec, size_t len, const char *name, char *out, size_t size)
{
    struct attr_cursor c;
    struct attr_item item;
    size_t namelen = strlen(name);

    if (len < ATTR_HEADER_SIZE || be_get(rec, 4) != len - ATTR_HEADER_SIZE)
        return false;
    c.start = c.p = (const unsigned char *)rec + ATTR_HEADER_SIZE;
    c.end = (const unsigned char *)rec + len;
    while (attr_next(&c, &item, NULL) > 0) {
        if (item.type != ATTR_STR || item.namelen != namelen ||
            memcmp(item.name, name, namelen) != 0)
            continue;
        if (item.slen >= size || memchr(item.sval, 0, item.slen))
            return false;
        memcpy(out, item.sval, item.slen);
        out[item.slen] = 0;
        return true;
    }
    return false;
}
