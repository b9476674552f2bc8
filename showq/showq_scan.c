/*
 * showq_scan.c - the listing: every message in active/, deferred/ and hold/ (in that
 * order, each directory in the order readdir gives), sent to the client as it is read.
 *
 * Runs as mail_owner in the queue directory, which it only reads: it opens files
 * read-only, never creates, renames or removes one (only qmgr does, doc/queue.md), so a
 * file may move or vanish while it is listed. Trusts: nothing in a queue file. Each is
 * checked whole by queue_file_read(); one that does not parse (being renamed, damaged) is
 * left out of the listing and logged, and never stops the rest. incoming/ holds files not
 * yet accepted and is not listed.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "mail/mailaddr.h"
#include "mail/queue_ctl.h"
#include "mail/queue_file.h"
#include "mail/queue_id.h"
#include "showq/showq.h"

#define SHOWQ_EMPTY_ADDR "MAILER-DAEMON" /* Postfix's empty_address_recipient */

static const char *const showq_queues[] = {"active", "deferred", "hold"};

/* showq_reason - a recorded reason without its leading DSN code, as Postfix shows it */
static char *
showq_reason(char *reason)
{
    char *p = reason;

    if (*p != '2' && *p != '4' && *p != '5')
        return reason;
    p++;
    for (int part = 0; part < 2; part++) {
        if (*p++ != '.' || !isdigit((unsigned char)*p))
            return reason;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == ' ' ? p + 1 : reason;
}

/*
 * showq_external - an address as Postfix's showq shows it: the local part quoted where
 * RFC 5321 needs it (the queue file keeps it unquoted), the null sender as MAILER-DAEMON
 */
static char *
showq_external(const char *addr)
{
    const char *at = strrchr(addr, '@');
    struct buf b;
    char *local, *s;

    if (*addr == 0)
        return xstrdup(SHOWQ_EMPTY_ADDR);
    buf_init(&b, 4 * QUEUE_FILE_ADDR_MAX);
    local = at ? xmemdup(addr, (size_t)(at - addr) + 1) : xstrdup(addr);
    local[at ? at - addr : (ptrdiff_t)strlen(addr)] = 0;
    mailaddr_quote_local(&b, local);
    if (at)
        buf_puts(&b, at);
    s = xstrdup(buf_str(&b));
    free(local);
    buf_free(&b);
    return s;
}

/* showq_entry - the listing's view of a message: recipients not yet final */
static void
showq_entry(struct queue_ctl_entry *e, const char *queue, const char *id,
            struct queue_envelope *env)
{
    static char none[1];

    memset(e, 0, sizeof(*e));
    snprintf(e->queue_name, sizeof(e->queue_name), "%s", queue);
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->arrival = (int64_t)env->arrival.tv_sec;
    e->size = (int64_t)env->size;
    e->sender = showq_external(env->sender);
    e->rcpt = xcalloc(env->nrcpt, sizeof(*e->rcpt));
    for (size_t i = 0; i < env->nrcpt; i++) {
        struct queue_rcpt *r = &env->rcpt[i];

        if (r->status.state != QUEUE_RCPT_PENDING && r->status.state != QUEUE_RCPT_DEFERRED)
            continue;
        e->rcpt[e->nrcpt].addr = showq_external(r->addr);
        e->rcpt[e->nrcpt].reason =
            r->status.state == QUEUE_RCPT_DEFERRED ? showq_reason(r->status.reason) : none;
        e->nrcpt++;
    }
}

static void
showq_entry_free(struct queue_ctl_entry *e)
{
    for (size_t i = 0; i < e->nrcpt; i++)
        free(e->rcpt[i].addr);
    free(e->rcpt);
    free(e->sender);
}

/* showq_file - one queue file to the client; a file that is gone or bad is skipped */
static bool
showq_file(int fd, int dir, const char *queue, const char *id, struct err *err)
{
    int file = openat(dir, id, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct queue_envelope env;
    struct queue_ctl_entry e;
    struct err why;
    struct stat st;
    bool good = true;

    if (file < 0) {
        if (errno != ENOENT)
            log_warn("open %s/%s: %m", queue, id);
        return true;
    }
    if (fstat(file, &st) < 0 || !S_ISREG(st.st_mode))
        log_warn("%s/%s: not a regular file", queue, id);
    else if (!queue_file_read(file, &env, &why))
        log_warn("%s/%s: %s; not listed", queue, id, why.text);
    else {
        showq_entry(&e, queue, id, &env);
        good = queue_ctl_send_entry(fd, &e, err);
        showq_entry_free(&e);
        queue_envelope_free(&env);
    }
    close(file);
    return good;
}

/* showq_dir - every message of one queue directory */
static bool
showq_dir(int fd, const char *queue, time_t deadline, struct err *err)
{
    int dir = open(queue, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int scan = dir < 0 ? -1 : dup(dir);
    DIR *d = scan < 0 ? NULL : fdopendir(scan);
    struct dirent *e;
    bool good = true;

    if (d == NULL) {
        log_warn("read queue directory %s: %m", queue);
        if (scan >= 0)
            close(scan);
        if (dir >= 0)
            close(dir);
        return true;
    }
    while (good && (e = readdir(d)) != NULL) {
        if (!queue_id_valid(e->d_name, strlen(e->d_name)))
            continue;
        if (time(NULL) > deadline)
            good = err_set(err, "the listing took longer than ipc_timeout");
        else
            good = showq_file(fd, dir, queue, e->d_name, err);
    }
    closedir(d);
    close(dir);
    return good;
}

bool
showq_scan(int fd, time_t deadline, struct err *err)
{
    for (size_t i = 0; i < sizeof(showq_queues) / sizeof(showq_queues[0]); i++)
        if (!showq_dir(fd, showq_queues[i], deadline, err))
            return false;
    return queue_ctl_send_end(fd, err);
}
