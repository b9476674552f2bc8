/* queue_file.h - the queue file: envelope, per-recipient state, content, end marker */
#ifndef MAIL_QUEUE_FILE_H
#define MAIL_QUEUE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/record.h"
#include "mail/queue_id.h"

/* The format is described at the top of queue_file.c. */
#define QUEUE_FILE_VERSION    1
#define QUEUE_FILE_ADDR_MAX   1024  /* bytes in an address, ORCPT or ENVID */
#define QUEUE_FILE_TEXT_MAX   1024  /* bytes in client name, address, HELO, protocol */
#define QUEUE_FILE_REASON_MAX 200   /* bytes of a deferral or failure reason kept */
#define QUEUE_FILE_CHUNK_MAX  65536 /* bytes of content in one record */
#define QUEUE_FILE_RCPT_MAX   100000
#define QUEUE_NOTICE_RCPT_MAX 1000 /* recipients one notice reports on */

enum queue_rcpt_state {
    QUEUE_RCPT_PENDING = 'P',
    QUEUE_RCPT_DELIVERED = 'D',
    QUEUE_RCPT_DEFERRED = 'd',
    QUEUE_RCPT_FAILED = 'F',
    /* Final once the notice in the slot is committed (doc/bounce.md): */
    QUEUE_RCPT_FAILED_NOTICE = 'B',    /* failed; the sender is owed a failure notice */
    QUEUE_RCPT_DELIVERED_NOTICE = 'S', /* delivered; the sender asked for a success notice */
    QUEUE_RCPT_RELAYED_NOTICE = 'R',   /* the same, relayed to a next hop without DSN */
};

/* One recipient's state slot, updated in place after each delivery attempt. */
struct queue_rcpt_status {
    enum queue_rcpt_state state;
    int64_t next_try;           /* deferred: when to try again (seconds since the epoch) */
    char notice[QUEUE_ID_SIZE]; /* B, S, R: the notice that reports it, "" while owed;
                                   d: the delay warning that reported it, "" if none */
    char reason[QUEUE_FILE_REASON_MAX + 1];
};

struct queue_rcpt {
    char *addr;
    char *notify; /* DSN NOTIFY as given ("SUCCESS,FAILURE"), "" if none */
    char *orcpt;  /* DSN ORCPT as given ("rfc822;a@b"), "" if none */
    struct queue_rcpt_status status;
    off_t status_offset; /* where the slot is, for queue_file_set_status() */
    bool status_torn;    /* the slot failed its check (a write cut short): read as pending */
};

/* What a notice (a message the queue wrote to tell a sender) reports on. */
enum queue_notice_kind {
    QUEUE_NOTICE_NONE = 0,      /* an ordinary message */
    QUEUE_NOTICE_FAILURE = 'F', /* non-delivery notification to the sender */
    QUEUE_NOTICE_SUCCESS = 'S', /* delivery status notification (NOTIFY=SUCCESS) */
    QUEUE_NOTICE_DOUBLE = '2',  /* a failed notice, to 2bounce_notice_recipient */
    QUEUE_NOTICE_DELAY = 'W',   /* delay warning to the sender (delay_warning_time) */
    QUEUE_NOTICE_COPY = 'C',    /* the postmaster's copy of one of those (notify_classes) */
};

struct queue_notice_origin {
    enum queue_notice_kind kind;
    char id[QUEUE_ID_SIZE]; /* the message reported on */
    uint32_t *rcpt;         /* its recipients reported on, as indexes in its file */
    size_t nrcpt;
};

/* Everything about a message but its content. Strings are never NULL. */
struct queue_envelope {
    struct timeval arrival;
    char *sender; /* "" is the null sender */
    char *ret;    /* DSN RET: "FULL", "HDRS" or "" */
    char *envid;  /* DSN ENVID (xtext, as given), "" if none */
    char *body;   /* BODY= as declared (RFC 6152): "8BITMIME", "7BIT" or "" */
    char *client_name;
    char *client_addr;
    char *helo;
    char *protocol;                    /* "ESMTP", "ESMTPS", ... */
    struct queue_notice_origin origin; /* kind NONE unless the message is a notice */
    struct queue_rcpt *rcpt;
    size_t nrcpt;
    uint64_t size;        /* content bytes */
    off_t content_offset; /* the first content record */
};

void queue_envelope_free(struct queue_envelope *env);

/*
 * Writing, by the receiver on the descriptor qmgr gave it. Values are checked for length
 * and NUL bytes; any failure (including write errors such as ENOSPC) is sticky and
 * reported by queue_writer_finish(), which also writes the end marker and fsyncs (or by
 * queue_writer_end(), the same without the fsync, for a caller that fsyncs elsewhere).
 * Recipients go after the sender and before the content.
 */
struct queue_writer {
    struct record_writer rec; /* rec.errnum: errno of a failed write or fsync (ENOSPC: 452) */
    uint64_t size;
    size_t nrcpt;
    bool in_content;
    struct buf chunk; /* content not yet written as a record */
};

void queue_writer_init(struct queue_writer *w, int fd, const struct queue_envelope *env);
void queue_writer_rcpt(struct queue_writer *w, const char *addr, const char *notify,
                       const char *orcpt);
void queue_writer_content(struct queue_writer *w, const void *data, size_t len);
bool queue_writer_end(struct queue_writer *w, struct err *err);
bool queue_writer_finish(struct queue_writer *w, struct err *err);
void queue_writer_free(struct queue_writer *w);

/*
 * Reading. queue_file_read() checks the whole file's structure (every record, the end
 * marker, nothing after it) and fills env; a truncated or corrupt file gives false and
 * err names the offset and what is wrong. queue_file_content() hands the content to fn
 * chunk by chunk (fn returns false to stop, which makes the call return false).
 */
bool queue_file_read(int fd, struct queue_envelope *env, struct err *err);
/* queue_file_read_len - the file's first size bytes, as if it ended there (a milter's
 * replaced body is spooled past the end marker of a file not yet committed) */
bool queue_file_read_len(int fd, off_t size, struct queue_envelope *env, struct err *err);
typedef bool (*queue_content_fn)(const char *data, size_t len, void *ctx);
bool queue_file_content(int fd, const struct queue_envelope *env, queue_content_fn fn, void *ctx,
                        struct err *err);
int queue_file_content_next(int fd, off_t size, off_t *off, char *chunk, size_t *len,
                            struct err *err);

/*
 * The same, a chunk at a time, for a reader that sends the content as its peer takes it:
 * open, then each queue_content_next() hands one chunk (at most QUEUE_FILE_CHUNK_MAX bytes)
 * to fn, until QUEUE_CONTENT_END or QUEUE_CONTENT_ERROR (err says why). queue_content_last()
 * gives the content's last byte (0 when there is none) without reading the rest.
 */
enum queue_content_step {
    QUEUE_CONTENT_MORE,
    QUEUE_CONTENT_END,
    QUEUE_CONTENT_ERROR,
};
struct queue_content;
struct queue_content *queue_content_open(int fd, const struct queue_envelope *env, struct err *err);
enum queue_content_step queue_content_next(struct queue_content *c, queue_content_fn fn, void *ctx,
                                           struct err *err);
void queue_content_close(struct queue_content *c);
bool queue_content_last(int fd, const struct queue_envelope *env, char *last, struct err *err);

/* Recording an outcome: one fixed-size write into the slot, then fdatasync. */
/*
 * queue_file_write_slot - the same by the slot's offset; without durable, no fdatasync: a
 * delivery agent's "delivered" mark, which must survive the death of a process, not a power
 * cut (then the delivery repeats, as the durability rule allows).
 */
bool queue_file_write_slot(int fd, off_t offset, const struct queue_rcpt_status *status,
                           bool durable, struct err *err);
/*
 * queue_file_lock_slot - a delivery agent's claim on one recipient: wait for any other agent
 * delivering it (after a qmgr restart, the old agent may still be at work), then read its
 * state; queue_file_unlock_slot lets the next one in.
 */
bool queue_file_lock_slot(int fd, off_t offset, struct queue_rcpt_status *status, struct err *err);
void queue_file_unlock_slot(int fd, off_t offset);
bool queue_file_set_status(int fd, const struct queue_rcpt *rcpt,
                           const struct queue_rcpt_status *status, struct err *err);

#endif
