/* pickup.h - the daemon that takes mail from maildrop/ to qmgr */
#ifndef PICKUP_PICKUP_H
#define PICKUP_PICKUP_H

#include <stdbool.h>

#include "core/map_retry.h"
#include "core/str.h"
#include "server/server.h"

struct milter_spec;
struct resolve;

struct pickup {
    struct server_ctx *ctx;
    int maildrop_fd;    /* $queue_directory/maildrop */
    int corrupt_fd;     /* $queue_directory/corrupt: where bad files are moved */
    int qmgr;           /* connection to qmgr, -1 when there is none */
    struct strvec todo; /* names found by the last scan, not yet taken */
    size_t next;
    bool rescan; /* a wakeup came during a scan: scan again when it is done */
    struct loop_timer *step;
    long retry_ms; /* after PICKUP_RETRY: the next wait, doubled up to PICKUP_RETRY_MAX_MS */
    struct milter_spec *milters; /* non_smtpd_milters, parsed (pickup_milter.c) */
    size_t nmilters;
    struct map_retry milter_hbc; /* milter_header_checks, opened when there are milters */
    struct resolve *route;       /* the tables of their {rcpt_host} and the like, or NULL */
};

#define PICKUP_QMGR_MS 60000 /* the longest wait for an answer from qmgr */

/* What became of one maildrop file. */
enum pickup_result {
    PICKUP_DONE,  /* queued and removed, or gone already */
    PICKUP_BAD,   /* refused as malformed: moved to corrupt/ */
    PICKUP_RETRY, /* qmgr or the disk failed: the file stays, the scan stops */
    PICKUP_LATER, /* a milter said "later": the file stays, the scan goes on */
};

/* pickup_file.c */
enum pickup_result pickup_file(struct pickup *pk, const char *name);

#endif
