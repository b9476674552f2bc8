/* deliver.h - the common core of mailbox delivery: results, message source, added headers */
#ifndef MAIL_DELIVER_H
#define MAIL_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "mail/deliver_req.h"

/* The message content: length bytes at offset of an open descriptor (a queue file). */
struct deliver_source {
    int fd;
    off_t offset;
    off_t length;
};

/* One recipient's delivery into a mailbox; the caller already runs as the recipient's uid.
 * (struct deliver_req, in deliver_req.h, is qmgr's request to an agent: another thing.) */
struct mailbox_request {
    const char *sender;    /* envelope sender, "" for the null sender */
    const char *recipient; /* goes into Delivered-To: */
    const char *hostname;  /* for Maildir names */
    time_t arrival;        /* for the mbox From_ line; 0 means now */
    off_t size_limit;      /* mailbox_size_limit: largest mbox or Maildir file; 0: none */
    struct deliver_source src;
};

/* Bound on the header section read by loop detection. */
#define DELIVER_HEADER_LIMIT (256 * 1024)

void deliver_errno(struct deliver_result *res, int err, const char *what, const char *path);
bool deliver_fits(const struct mailbox_request *req, off_t have, off_t add,
                  struct deliver_result *res);
bool deliver_headers_loop(const char *text, size_t len, const char *recipient);
bool deliver_check_loop(const struct mailbox_request *req, struct deliver_result *res);
char *deliver_prepend(const struct mailbox_request *req);

/* A byte sink that copies the source, optionally mboxrd-quoting "From " lines. */
struct deliver_sink {
    int fd;
    bool quote_from;
    int err;         /* first errno, 0 if none */
    char last;       /* last byte written, '\n' at start */
    bool line_start; /* at the start of a line */
    off_t gt_run;    /* pending '>' at line start */
    size_t match;    /* bytes of "From " matched after the run */
    size_t fill;
    char buf[8192];
};

void deliver_sink_init(struct deliver_sink *s, int fd, bool quote_from);
void deliver_sink_raw(struct deliver_sink *s, const char *data, size_t len);
void deliver_sink_copy(struct deliver_sink *s, const struct deliver_source *src);
bool deliver_sink_flush(struct deliver_sink *s);

#endif
