/* record.h - the type-length-value records of postern's own files (the queue file, the
 * maildrop file) and a buffered writer for them */
#ifndef CORE_RECORD_H
#define CORE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/be.h"
#include "core/buf.h"
#include "core/err.h"

/* A record: its type (1 byte), its value's length (4 bytes, big-endian), the value. */
#define RECORD_HEADER 5

/*
 * The writer buffers records up to its limit before each write(). The first failure sticks:
 * every later call does nothing, and the caller reads failed, err and errnum (the errno of a
 * failed write, ENOSPC for a full disk; 0 for a value the format refuses) at the end.
 */
struct record_writer {
    int fd;
    struct buf out;
    size_t limit;
    const char *what; /* the file, for messages: "queue file" */
    struct err err;
    int errnum;
    bool failed;
};

void record_writer_init(struct record_writer *w, int fd, size_t limit, const char *what);
void record_writer_fail(struct record_writer *w, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void record_writer_put(struct record_writer *w, char type, const void *data, size_t len);
bool record_writer_flush(struct record_writer *w, struct err *err);
void record_writer_free(struct record_writer *w);

#endif
