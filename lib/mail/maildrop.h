/* maildrop.h - the maildrop file: a message handed over by the local sendmail command */
#ifndef MAIL_MAILDROP_H
#define MAIL_MAILDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/record.h"
#include "core/str.h"
#include "mail/queue_id.h"

/* The format is described at the top of maildrop.c. */
#define MAILDROP_VERSION   1
#define MAILDROP_ADDR_MAX  1024  /* bytes in an address or ENVID (the queue file's limit) */
#define MAILDROP_NAME_MAX  256   /* bytes in the full name */
#define MAILDROP_WORD_MAX  64    /* bytes in RET, NOTIFY and the body type */
#define MAILDROP_CHUNK_MAX 65536 /* bytes of content in one record */
#define MAILDROP_RCPT_MAX  10000

/* The envelope: every string is set (possibly ""), and each is free of control bytes. */
struct maildrop_envelope {
    char *sender;   /* "" is the null sender; no domain: pickup adds $myorigin */
    char *fullname; /* -F, for a From: header pickup adds; "" if none */
    char *ret;      /* DSN RET: "FULL", "HDRS" or "" */
    char *body;     /* -B: "7BIT", "8BITMIME" or "" */
    char *envid;    /* DSN ENVID, "" if none */
    char *notify;   /* DSN NOTIFY for every recipient ("SUCCESS,FAILURE"), "" if none */
    struct strvec rcpt;
};

void maildrop_envelope_init(struct maildrop_envelope *env);
void maildrop_envelope_free(struct maildrop_envelope *env);

/*
 * Writing: the envelope first, then the content in as many calls as the caller likes
 * (lines ending in LF), then maildrop_writer_end(), which writes the end marker. Every
 * value is checked against the format's limits; a failure (a write error, a value too
 * long) is sticky and reported by maildrop_writer_end() (errnum: the write's errno).
 */
struct maildrop_writer {
    struct record_writer rec; /* its failed, err and errnum say how the writing went */
    uint64_t size;
    size_t nrcpt;
};

void maildrop_writer_init(struct maildrop_writer *w, int fd, const struct maildrop_envelope *env);
void maildrop_writer_content(struct maildrop_writer *w, const void *data, size_t len);
bool maildrop_writer_end(struct maildrop_writer *w, struct err *err);
void maildrop_writer_free(struct maildrop_writer *w);

/*
 * Reading, from a file or a pipe, front to back with read(): the envelope is checked and
 * handed to on_envelope once it is complete (before the first byte of content); then each
 * content record to on_content. A callback that returns false stops the read (false, with
 * the callback's err). size_limit bounds the content (0: no limit). The read succeeds only
 * at a valid end marker whose counts match, with nothing after it.
 */
struct maildrop_reader_ops {
    bool (*on_envelope)(void *ctx, const struct maildrop_envelope *env, struct err *err);
    bool (*on_content)(void *ctx, const char *data, size_t len, struct err *err);
};

bool maildrop_read(int fd, uint64_t size_limit, const struct maildrop_reader_ops *ops, void *ctx,
                   struct err *err);

/* maildrop_addr.c: a mailbox checked, and completed with origin (NULL: left bare) */
bool maildrop_addr(const char *in, const char *origin, char **out, struct err *err);

/*
 * File names in maildrop/ (maildrop_name.c): a finished file is MAILDROP_NAME_LEN hex
 * digits (seconds and microseconds of its making, then 64 random bits), so that names sort
 * by age and cannot be guessed; a file being written has the same name after "t"; a file
 * whose commit pickup has asked of qmgr is renamed to its name, "-" and the queue ID.
 */
#define MAILDROP_NAME_LEN   29
#define MAILDROP_NAME_SIZE  (MAILDROP_NAME_LEN + 2)
#define MAILDROP_CLAIM_SIZE (MAILDROP_NAME_LEN + 1 + QUEUE_ID_LEN + 1)

enum maildrop_name_kind {
    MAILDROP_NAME_READY,
    MAILDROP_NAME_TEMP,
    MAILDROP_NAME_CLAIMED,
    MAILDROP_NAME_OTHER,
};

bool maildrop_name_new(char ready[MAILDROP_NAME_SIZE], char temp[MAILDROP_NAME_SIZE],
                       struct err *err);
enum maildrop_name_kind maildrop_name_kind(const char *name);
/* maildrop_name_claim - the claimed name of ready for queue ID qid */
void maildrop_name_claim(char out[MAILDROP_CLAIM_SIZE], const char *ready, const char *qid);
/* maildrop_name_unclaim - a claimed name's ready name and queue ID */
void maildrop_name_unclaim(const char *claimed, char ready[MAILDROP_NAME_SIZE],
                           char qid[QUEUE_ID_SIZE]);

#endif
