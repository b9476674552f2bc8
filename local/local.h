/* local.h - the local delivery agent's shared state, split across local/ by job */
#ifndef LOCAL_LOCAL_H
#define LOCAL_LOCAL_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "core/map.h"
#include "core/str.h"
#include "mail/addr_class.h"
#include "mail/deliver.h"
#include "mail/deliver_req.h"
#include "server/server.h"

/* Rights a delivery runs with. */
struct local_privs {
    uid_t uid;
    gid_t gid;
    char *user; /* for USER/LOGNAME */
    char *home; /* for HOME */
};

/* A long-lived delivery process with one user's rights (local_worker.c). */
struct local_worker {
    pid_t pid; /* 0: the slot is free */
    int sock;
    struct local_privs who;
    unsigned long used; /* struct local's tick at its last task */
};

#define LOCAL_WORKERS 8 /* per local process; the least recently used goes first */

/* One alias table with the uid its commands and files run as (its file's owner). */
struct local_alias_map {
    char *spec;
    struct map_list *map;
};

/* A table list that may not open yet (local_table.c). */
struct local_table {
    struct map_list *maps; /* NULL: empty parameter, or not open yet */
    const struct strvec *specs;
    const char *name;
};

struct local {
    struct server_ctx *ctx;
    bool virtual_mode; /* started as the "virtual" service: virtual mailboxes */
    struct local_alias_map *alias;
    size_t nalias;
    struct addr_domains domains;
    struct local_table vmailbox, vuid, vgid;
    struct local_worker worker[LOCAL_WORKERS];
    unsigned long tick;
};

/* The message of one request, as the mailboxes get it (LF line ends). */
struct local_msg {
    const struct deliver_req *req;
    int fd; /* a memory file, read with pread */
    off_t len;
};

/* Where in a recipient's expansion a destination came from (Postfix's allow_* words). */
enum local_origin {
    LOCAL_FROM_ALIAS,
    LOCAL_FROM_FORWARD,
    LOCAL_FROM_INCLUDE,
};

/* One recipient's delivery: every destination it expands to, merged into one result. */
struct local_rcpt {
    struct local *lc;
    struct local_msg *msg;
    const struct deliver_req_rcpt *rcpt;
    struct deliver_result res;
    bool any;              /* some destination was tried */
    struct strvec seen;    /* destinations already delivered: each once */
    struct strvec visited; /* items met while expanding, with their rights (local_visit) */
    bool expansion_over;   /* past local_expansion_limit: failed, nothing more expanded */
    struct strvec chain;   /* names being expanded (loops) */
    struct strvec remote;  /* addresses of other domains, to forward */
};

/* What a delivery process is asked to do: self-contained, as it crosses a socket. */
enum local_task_kind {
    LOCAL_TASK_MAILDIR,
    LOCAL_TASK_MBOX, /* also a file named by an alias or .forward entry */
    LOCAL_TASK_COMMAND,
};

struct local_task {
    enum local_task_kind kind;
    const char *path;       /* mailbox, file or command */
    const char *mkdir_base; /* virtual: create missing directories below this; "" none */
    const char *sender;
    const char *recipient;
    const char *orcpt;
    time_t arrival;
    int fd; /* the message: a memory file with LF line ends, read with pread */
    off_t len;
};

/* local_content.c */
bool local_content(const struct deliver_req *req, struct local_msg *msg,
                   struct deliver_result *res);

/* local_priv.c */
void local_privs_free(struct local_privs *p);
bool local_privs_user(const char *name, struct local_privs *p, bool *failed);
bool local_privs_owner(struct local *lc, uid_t owner, struct local_privs *p);
void local_child_signals(void);
bool local_become(const struct local_privs *p, struct deliver_result *res);
void local_result_check(struct deliver_result *res);
typedef void (*local_child_fn)(void *arg, struct deliver_result *res);
void local_run_as(const struct local_privs *p, local_child_fn fn, void *arg, int need,
                  struct deliver_result *res);

/* local_worker.c */
void local_worker_run(struct local *lc, const struct local_privs *p, const struct local_task *t,
                      struct deliver_result *res);
void local_workers_stop(struct local *lc);

/* local_task.c: in a delivery process */
void local_task_run(const struct params *params, const struct local_privs *p,
                    const struct local_task *t, struct deliver_result *res);

/* local_mailbox.c */
void local_merge(struct local_rcpt *r, const struct deliver_result *res);
void local_deliver_mailbox(struct local_rcpt *r, const struct local_privs *user);
void local_deliver_file(struct local_rcpt *r, const char *path, const struct local_privs *p);
void local_deliver_command(struct local_rcpt *r, const char *cmd, const struct local_privs *p);
void local_deliver_virtual(struct local_rcpt *r);

/* local_forward.c */
void local_forward_remote(struct local_rcpt *r);

/* local_alias.c */
void local_alias_open(struct local *lc);
void local_alias_close(struct local *lc);
void local_deliver_local(struct local_rcpt *r, const char *addr, int depth);

/* local_table.c */
struct map_addr_opts;
struct map_addr_match;
void local_table_open(struct local_table *t, const struct strvec *specs, const char *name);
void local_table_close(struct local_table *t);
enum map_status local_table_find(struct local_table *t, const char *addr,
                                 const struct map_addr_opts *opts, struct map_addr_match *m,
                                 struct err *err);

#endif
