/* attr.h - named attribute records: binary-safe, length-prefixed, descriptors beside */
#ifndef CORE_ATTR_H
#define CORE_ATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/*
 * A record is a sequence of (type, name, value). The wire format is described at the top
 * of attr.c. Writing: attr_begin(), attr_put_*() any number of times, attr_end(); the
 * struct buf's limit is the record limit, and a record that did not fit makes attr_end()
 * fail. Reading: attr_frame() says whether a complete record is at hand, attr_decode()
 * checks it against a table of what the receiver expects.
 */

enum attr_type {
    ATTR_INT = 'I', /* int64_t */
    ATTR_STR = 'S', /* bytes, may contain NUL */
    ATTR_FD = 'F',  /* a descriptor passed beside the record */
};

#define ATTR_HEADER_SIZE 4   /* the record's length prefix */
#define ATTR_MAX_FDS     8   /* descriptors one record may carry */
#define ATTR_NAME_MAX    255 /* bytes in a name: [a-z0-9_], at least one */

/* Descriptors that travel with one record, in the order their attributes name them. */
struct attr_fds {
    int fd[ATTR_MAX_FDS];
    size_t n;
};

void attr_fds_init(struct attr_fds *fds);
void attr_fds_close(struct attr_fds *fds);

/* Encoding. A put that does not fit marks the record broken (attr_end() fails). The fd
 * put records fd in fds (not duplicated: the caller keeps it open until the record is
 * sent). */
void attr_begin(struct buf *rec);
void attr_put_int(struct buf *rec, const char *name, int64_t value);
void attr_put_str(struct buf *rec, const char *name, const void *data, size_t len);
void attr_put_text(struct buf *rec, const char *name, const char *text);
void attr_put_fd(struct buf *rec, struct attr_fds *fds, const char *name, int fd);
bool attr_end(struct buf *rec, struct err *err);

/* Framing: how many bytes the record at data takes, once its header is there. */
enum attr_frame_status {
    ATTR_FRAME_NEED, /* fewer than ATTR_HEADER_SIZE bytes, or the body is incomplete */
    ATTR_FRAME_OK,   /* *total bytes make one complete record */
    ATTR_FRAME_BAD,  /* the header announces more than limit or an empty body */
};
enum attr_frame_status attr_frame(const void *data, size_t len, size_t limit, size_t *total,
                                  struct err *err);

/*
 * Decoding. The table lists every attribute the receiver knows. Destinations by type:
 * ATTR_INT int64_t *, ATTR_STR struct buf * (its limit bounds the value; reset before the
 * value is stored), ATTR_FD int *. An absent optional attribute leaves its destination
 * untouched, so callers preset defaults.
 */
#define ATTR_REQUIRED 0x1u /* absence is an error */
#define ATTR_TEXT     0x2u /* ATTR_STR only: a NUL byte in the value is an error */

struct attr_spec {
    const char *name;
    enum attr_type type;
    unsigned flags;
    void *dest;
};

/*
 * attr_decode - check and unpack one complete record (header included). It takes every
 * descriptor in fds: on success those the table names go to their destinations and the
 * rest are closed; on failure nothing is stored and all are closed. fds->n is 0 after.
 */
bool attr_decode(const void *rec, size_t len, size_t limit, struct attr_fds *fds,
                 const struct attr_spec *spec, size_t nspec, struct err *err);

/* attr_peek_str - find a string attribute without decoding the record (say, to learn
 * which message it is); false if absent, malformed or longer than size - 1. */
bool attr_peek_str(const void *rec, size_t len, const char *name, char *out, size_t size);

#endif
