/* mastercf.h - master.cf, the service table, parsed into one struct per entry */
#ifndef CORE_MASTERCF_H
#define CORE_MASTERCF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/conf.h"
#include "core/str.h"

enum mastercf_type {
    MASTERCF_INET,
    MASTERCF_UNIX,
    MASTERCF_UNIX_DGRAM,
    MASTERCF_FIFO,
    MASTERCF_PASS,
};

#define MASTERCF_DEFAULT (-1) /* the column said "-" */

struct mastercf_entry {
    char *service; /* as written: "smtp", "127.0.0.1:2525", "qmgr" */
    enum mastercf_type type;
    int private_sock; /* 1, 0 or MASTERCF_DEFAULT */
    int unpriv;
    int chroot;
    int wakeup; /* seconds, 0 for none, or MASTERCF_DEFAULT */
    bool wakeup_if_running;
    int maxproc;             /* 0 = no limit, or MASTERCF_DEFAULT */
    char *command;           /* the program name (first word of the command column) */
    struct strvec args;      /* every word after the command, "-o" pairs included, braces removed */
    struct strvec opt_names; /* -o name=value, split */
    struct strvec opt_values;
    char *host; /* inet: the address part, NULL when none was given or it was '*' */
    char *port; /* inet: the port, as a number */
    char *file;
    int line;
};

struct mastercf {
    struct mastercf_entry *entries;
    size_t n;
};

void mastercf_init(struct mastercf *mcf);
void mastercf_free(struct mastercf *mcf);
bool mastercf_read_file(struct mastercf *mcf, const char *path, struct err *err);
bool mastercf_read_text(struct mastercf *mcf, const char *origin, const char *text,
                        struct err *err);
const char *mastercf_type_name(enum mastercf_type type);
const struct mastercf_entry *mastercf_find(const struct mastercf *mcf, const char *service,
                                           const char *type);

#endif
