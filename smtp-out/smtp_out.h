/* smtp_out.h - the SMTP delivery agent's shared state: the process and one delivery */
#ifndef SMTP_OUT_SMTP_OUT_H
#define SMTP_OUT_SMTP_OUT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/loop.h"
#include "mail/deliver_req.h"
#include "mail/mx_list.h"
#include "mail/nexthop.h"
#include "mail/queue_file.h"
#include "mail/smtp_resp.h"
#include "server/server.h"

struct ub_ctx;
struct smtp_out_q;

/* The process: its resolver, shared by every delivery it carries. */
struct smtp_out {
    struct server_ctx *ctx;
    const struct params *p;
    struct ub_ctx *dns;
    struct loop_fd *dns_watch;
};

/* The stages of a conversation: what the client waits for, each with its time limit. */
enum smtp_out_stage {
    SMTP_OUT_CONNECT,
    SMTP_OUT_GREETING,
    SMTP_OUT_EHLO,
    SMTP_OUT_HELO,
    SMTP_OUT_MAIL,
    SMTP_OUT_RCPT,
    SMTP_OUT_DATA,
    SMTP_OUT_CONTENT,
    SMTP_OUT_DOT,
    SMTP_OUT_QUIT,
};

/* A reply the server owes: to which command, and for RCPT which recipient. A transaction
 * owes at most one per recipient and SMTP_OUT_WAIT_EXTRA others (greeting, EHLO, HELO,
 * MAIL, DATA, the dot, QUIT). */
#define SMTP_OUT_WAIT_EXTRA 7
struct smtp_out_wait {
    enum smtp_out_stage stage;
    size_t rcpt;
};

/* One delivery: one request from qmgr, one connection to the next hop. */
struct smtp_out_sess {
    struct smtp_out *so;
    int qmgr_fd;
    struct deliver_req req;
    struct queue_envelope env;
    struct deliver_result *res; /* per recipient */
    bool *decided;              /* res[i] holds the outcome */
    bool *accepted;             /* RCPT got 2xx */
    size_t naccepted;
    struct nexthop nh;
    struct mx_host *hosts; /* the next hop's MX hosts (or the host itself), in order */
    size_t nhosts;
    enum mx_self self;    /* myhostname was among the MX hosts */
    struct smtp_out_q *q; /* DNS queries of the lookup (smtp_out_dns.c) */
    size_t nq, qpending;
    struct mx_addr *addrs; /* every address to try, in order (smtp_out_hop.c) */
    size_t naddrs, next_addr;
    unsigned sessions;             /* connections made so far (smtp_mx_session_limit) */
    char addr[64];                 /* the server's numeric address */
    char host[320];                /* "name[addr]" for reasons */
    char relay[DELIVER_RELAY_MAX]; /* "name[addr]:port", or "none" before a connection */
    int fd;
    struct loop_fd *watch;
    struct loop_timer *timer;
    struct buf out; /* bytes not yet written to the server */
    struct smtp_resp resp;
    struct smtp_ext ext;
    struct smtp_out_wait *wait; /* replies owed, in order */
    size_t whead, wtail;
    enum smtp_out_stage stage; /* what the session is doing, for time limits and reasons */
    bool connected, pipelining, mail_ok, quitting, quit_sent, over;
};

/* smtp_out_sess.c */
void smtp_out_sess_start(struct smtp_out *so, int fd);
void smtp_out_sess_end(struct smtp_out_sess *s);
void smtp_out_set(struct smtp_out_sess *s, size_t i, enum deliver_status status, const char *dsn,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void smtp_out_fail_all(struct smtp_out_sess *s, enum deliver_status status, const char *dsn,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* smtp_out_dns.c */
void smtp_out_dns_init(struct smtp_out *so);
void smtp_out_dns_free(struct smtp_out *so);
void smtp_out_dns_start(struct smtp_out_sess *s);
void smtp_out_dns_cancel(struct smtp_out_sess *s);

/* smtp_out_hop.c */
void smtp_out_hop_next(struct smtp_out_sess *s);
void smtp_out_hop_done(struct smtp_out_sess *s);

/* smtp_out_conn.c */
void smtp_out_connect(struct smtp_out_sess *s, const char *name, const char *addr);
void smtp_out_arm(struct smtp_out_sess *s);
void smtp_out_close(struct smtp_out_sess *s);
void smtp_out_lost(struct smtp_out_sess *s, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* smtp_out_proto.c */
void smtp_out_proto_start(struct smtp_out_sess *s);
void smtp_out_proto_reply(struct smtp_out_sess *s);
enum deliver_handoff smtp_out_handoff(const struct smtp_out_sess *s, size_t i);
void smtp_out_send(struct smtp_out_sess *s, enum smtp_out_stage stage, size_t rcpt, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

/* smtp_out_outcome.c */
void smtp_out_outcome(struct smtp_out_sess *s, size_t i, enum smtp_out_stage stage);
void smtp_out_outcome_all(struct smtp_out_sess *s, enum smtp_out_stage stage);
const char *smtp_out_stage_doing(enum smtp_out_stage stage);
long smtp_out_stage_timeout(const struct smtp_out_sess *s, enum smtp_out_stage stage);

/* smtp_out_data.c */
bool smtp_out_content(struct smtp_out_sess *s);

#endif
