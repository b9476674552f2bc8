/* postern_queue.h - the queue tools: postern queue, mailq, postqueue, postsuper, postcat */
#ifndef POSTERN_POSTERN_QUEUE_H
#define POSTERN_POSTERN_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/str.h"
#include "mail/params.h"
#include "mail/queue_ctl.h"

/* sysexits.h values, as Postfix's commands exit with them */
#define QUEUE_EX_USAGE       64
#define QUEUE_EX_UNAVAILABLE 69
#define QUEUE_EX_SOFTWARE    70
#define QUEUE_EX_NOPERM      77

/* postern_queue_print.c: a listing as postqueue -p (text) or -j (JSON lines) prints it */
struct queue_print {
    FILE *out;
    bool json;
    unsigned long count;
    uint64_t bytes;
};
void queue_print_entry(const struct queue_ctl_entry *e, void *ctx);
void queue_print_end(struct queue_print *p);

/* postern_queue_show.c: one queue file as postcat prints it (-e, -h, -b: what to show) */
#define QUEUE_SHOW_ENVELOPE 0x1u
#define QUEUE_SHOW_HEADER   0x2u
#define QUEUE_SHOW_BODY     0x4u
int queue_show_file(FILE *out, int fd, const char *name, unsigned what);

/*
 * postern_queue_cmd.c: the requests. Each loads main.cf from config_dir (NULL: the
 * default), asks showq or qmgr, prints the answer or "NAME: fatal: ..." on stderr (NAME as
 * queue_cmd_tag() set it) and returns the exit status. admin's verb is delete, hold,
 * release or requeue; its operands are IDs, ALL or "-" (IDs on stdin).
 */
struct queue_cmd {
    char *config_dir;
    struct params params;
    bool loaded;
};
void queue_cmd_tag(const char *name);
void queue_cmd_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int queue_cmd_list(struct queue_cmd *pq, bool json);
int queue_cmd_flush(struct queue_cmd *pq, const char *site, const char *id);
int queue_cmd_admin(struct queue_cmd *pq, const char *verb, const struct strvec *operands,
                    const char *queues);
int queue_cmd_show(struct queue_cmd *pq, const char *id, unsigned what);
int queue_cmd_show_path(const char *path, unsigned what);
void queue_cmd_free(struct queue_cmd *pq);

/* postern_queue.c: the command lines */
int postern_queue_main(int argc, char **argv);
bool postern_queue_compat(const char *name, int argc, char **argv, int *status);

#endif
