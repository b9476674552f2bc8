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
#include "mail/tls_clnt.h"
#include "mail/tls_policy.h"
#include "server/server.h"

struct ub_ctx;
struct smtp_out_q;
struct smtp_out_idle;
struct map_list;

/* The process: its resolver and TLS policy table, shared by every delivery it carries. */
struct smtp_out {
    struct server_ctx *ctx;
    const struct params *p;
    struct ub_ctx *dns;
    struct loop_fd *dns_watch;
    struct map_list *tls_policy; /* smtp_tls_policy_maps; NULL when empty or broken */
    char *tls_policy_error;      /* broken: why (every delivery defers) */
    struct smtp_out_idle *idle;  /* connections kept for the next delivery (smtp_out_cache.c) */
    size_t nidle;
    struct map_list *sasl_passwd; /* smtp_sasl_password_maps, opened as root; NULL if none */
    char *sasl_error;             /* SASL cannot work: why (deliveries that need it defer) */
    bool sasl_ready;              /* sasl_client_init succeeded */
    unsigned sasl_opts[2];        /* SASL_OPT_* bits: [0] without TLS, [1] inside TLS */
};

/* One delivery's TLS policy: main.cf's, or its next hop's entry in smtp_tls_policy_maps. */
struct smtp_out_tlspol {
    enum tls_level level;           /* dane will come here as a level of its own */
    bool wrapper;                   /* TLS before the greeting (smtp_tls_wrappermode) */
    char match[TLS_POLICY_MAX];     /* verify/secure: "hostname nexthop .example" (unexpanded) */
    char protocols[TLS_POLICY_MAX]; /* the entry's protocols=, "" the parameter's */
    char ciphers[32];               /* the entry's ciphers= grade, "" the parameter's */
    char servername[TLS_FACT_MAX];  /* the entry's servername=, "" smtp_tls_servername */
};

/* The stages of a conversation: what the client waits for, each with its time limit. */
enum smtp_out_stage {
    SMTP_OUT_CONNECT,
    SMTP_OUT_GREETING,
    SMTP_OUT_EHLO,
    SMTP_OUT_HELO,
    SMTP_OUT_STARTTLS,
    SMTP_OUT_TLS, /* tlsproxy does the handshake */
    SMTP_OUT_AUTH,
    SMTP_OUT_MAIL,
    SMTP_OUT_RCPT,
    SMTP_OUT_DATA,
    SMTP_OUT_CONTENT,
    SMTP_OUT_DOT,
    SMTP_OUT_RSET, /* after a failed transaction, before the connection is kept */
    SMTP_OUT_QUIT,
};

/* A reply the server owes: to which command, and for RCPT which recipient. A transaction
 * owes at most one per recipient and SMTP_OUT_WAIT_EXTRA others (greeting, EHLO, HELO,
 * MAIL, DATA, the dot, RSET, QUIT). */
#define SMTP_OUT_WAIT_EXTRA 8
struct smtp_out_sasl;
#define SMTP_OUT_SASL_USER_MAX 256

struct smtp_out_wait {
    enum smtp_out_stage stage;
    size_t rcpt;
};

/* The content on its way from the queue file to the server (smtp_out_data.c). */
struct smtp_out_src {
    struct queue_content *cur; /* NULL: nothing more to read */
    bool stuff;                /* DATA: dots doubled, the final dot at the end; else BDAT */
    bool line_start;           /* the last byte put out was LF, or none was */
    struct buf seven;          /* converted content not yet put out (s->down) */
};

/* The 8-bit check of the content for a server without 8BITMIME (smtp_out_data.c). */
struct smtp_out_scan {
    struct queue_content *cur; /* the check is reading; NULL not */
    struct loop_timer *timer;  /* its next step */
    unsigned long long octets; /* read so far */
    unsigned steps;
    bool done; /* the content is ready for this server (s->down: converted) */
};

/* One delivery: one request from qmgr, one connection to the next hop. */
struct smtp_out_sess {
    struct smtp_out *so;
    int qmgr_fd;
    struct deliver_req req;
    struct queue_envelope env;
    struct deliver_result *res; /* per recipient */
    bool *decided;              /* res[i] holds the outcome */
    bool *accepted;             /* RCPT got 2xx, and no 4xx to DATA or the dot since */
    size_t naccepted;
    struct nexthop nh;
    struct mx_host *hosts; /* the next hop's MX hosts (or the host itself), in order */
    size_t nhosts;
    enum mx_self self;    /* myhostname was among the MX hosts */
    struct smtp_out_q *q; /* DNS queries of the lookup (smtp_out_dns.c) */
    size_t nq, qpending;
    struct mx_addr *addrs; /* every address to try, in order (smtp_out_hop.c) */
    size_t naddrs, next_addr;
    unsigned sessions;                 /* connections made so far (smtp_mx_session_limit) */
    char addr[64];                     /* the server's numeric address */
    char host[320];                    /* "name[addr]" for reasons */
    char relay[DELIVER_RELAY_MAX];     /* "name[addr]:port", or "none" before a connection */
    char (*relays)[DELIVER_RELAY_MAX]; /* per recipient: relay when its outcome was set */
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
    bool reached; /* the destination is not to blame for a deferral: some session sent MAIL
                     FROM, or the failure was this host's own (qmgr's feedback) */
    struct smtp_out_tlspol tlspol;
    struct tls_clnt *tls_wait; /* the handshake runs in tlsproxy: the socket is not ours */
    struct tls_facts *tls;     /* the session is in TLS (over tlsproxy's connection) */
    bool tls_off;              /* may: the handshake failed, this is the plaintext retry */
    /* The connection's reuse (smtp_out_cache.c); reset with the connection (smtp_out_hop.c) */
    unsigned conn_use; /* deliveries on this connection, this one included; 0 before one */
    long long born;   /* when it was established (monotonic ms): smtp_connection_reuse_time_limit */
    bool ready;       /* EHLO done and TLS as the policy wants: the envelope may follow */
    bool in_txn;      /* MAIL was accepted and the dot not answered: RSET before keeping it */
    bool saw_421;     /* the server is closing: never kept */
    bool rset_failed; /* RSET was not accepted: QUIT */
    bool keep;        /* the connection goes to the cache when the session lets it go */
    bool reused;      /* taken from the cache */
    bool mail_answered;         /* MAIL FROM got a reply other than 421 */
    bool stale;                 /* reused, and it failed before MAIL FROM was answered: a new one */
    char tried[64];             /* the address of the kept connection this delivery used, or "" */
    struct mime_down *down;     /* 8-bit content going to this server as 7-bit, or NULL */
    struct smtp_out_scan scan;  /* its check; reset with the connection */
    struct smtp_out_sasl *sasl; /* the AUTH exchange in progress */
    char sasl_user[SMTP_OUT_SASL_USER_MAX]; /* this connection authenticated as, "" not */
    char sasl_id[SMTP_OUT_SASL_USER_MAX];   /* smtp_out_sasl_identity's answer, once known */
    bool sasl_id_known;
    bool sasl_id_entry;    /* the sender has an entry (sasl_id is its user name) */
    bool sasl_id_failed;   /* the sender's entry could not be looked up: no reuse, AUTH defers */
    char sasl_id_why[256]; /* why */
    struct smtp_out_src src;
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

/* smtp_out_cache.c */
void smtp_out_cache_free(struct smtp_out *so);
long long smtp_out_cache_now(void);
bool smtp_out_cache_may(struct smtp_out_sess *s);
void smtp_out_cache_put(struct smtp_out_sess *s);
bool smtp_out_cache_take(struct smtp_out_sess *s);

/* smtp_out_hop.c */
void smtp_out_hop_next(struct smtp_out_sess *s);
void smtp_out_hop_done(struct smtp_out_sess *s);
void smtp_out_hop_again(struct smtp_out_sess *s);
const char *smtp_out_hop_host(const struct smtp_out_sess *s);

/* smtp_out_conn.c */
void smtp_out_connect(struct smtp_out_sess *s, const char *name, const char *addr);
void smtp_out_set_fd(struct smtp_out_sess *s, int fd);
void smtp_out_arm(struct smtp_out_sess *s);
void smtp_out_expect(struct smtp_out_sess *s, enum smtp_out_stage stage, size_t rcpt);
void smtp_out_io(int fd, unsigned events, void *arg);
void smtp_out_close(struct smtp_out_sess *s);
void smtp_out_lost(struct smtp_out_sess *s, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* smtp_out_proto.c */
void smtp_out_proto_start(struct smtp_out_sess *s);
void smtp_out_proto_reply(struct smtp_out_sess *s);
enum deliver_handoff smtp_out_handoff(const struct smtp_out_sess *s, size_t i);
bool smtp_out_send(struct smtp_out_sess *s, enum smtp_out_stage stage, size_t rcpt, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));
void smtp_out_quit(struct smtp_out_sess *s);
void smtp_out_envelope(struct smtp_out_sess *s);

/* smtp_out_tls.c */
bool smtp_out_tls_after_hello(struct smtp_out_sess *s);
void smtp_out_tls_on_starttls(struct smtp_out_sess *s);
void smtp_out_tls_start(struct smtp_out_sess *s);
void smtp_out_tls_end(struct smtp_out_sess *s);

/* smtp_out_sasl.c */
void smtp_out_sasl_init(struct smtp_out *so);
void smtp_out_sasl_free(struct smtp_out *so);
bool smtp_out_sasl_after_hello(struct smtp_out_sess *s);
void smtp_out_sasl_reply(struct smtp_out_sess *s);
void smtp_out_sasl_end(struct smtp_out_sess *s);
const char *smtp_out_sasl_identity(struct smtp_out_sess *s);
bool smtp_out_sasl_identity_failed(struct smtp_out_sess *s);

/* smtp_out_tlspol.c */
void smtp_out_tlspol_init(struct smtp_out *so);
void smtp_out_tlspol_free(struct smtp_out *so);
bool smtp_out_tlspol_find(struct smtp_out_sess *s);
bool smtp_out_tlspol_request(const struct smtp_out_sess *s, struct tls_request *req,
                             struct err *err);

/* smtp_out_outcome.c */
void smtp_out_flat(const struct smtp_resp *r, char *out, size_t len);
void smtp_out_outcome(struct smtp_out_sess *s, size_t i, enum smtp_out_stage stage);
void smtp_out_outcome_all(struct smtp_out_sess *s, enum smtp_out_stage stage);
const char *smtp_out_stage_doing(enum smtp_out_stage stage);
const char *smtp_out_stage_command(enum smtp_out_stage stage);
long smtp_out_stage_timeout(const struct smtp_out_sess *s, enum smtp_out_stage stage);

/* smtp_out_data.c */
bool smtp_out_content(struct smtp_out_sess *s);
bool smtp_out_bdat(struct smtp_out_sess *s);
bool smtp_out_fill(struct smtp_out_sess *s);
void smtp_out_src_stop(struct smtp_out_sess *s);
bool smtp_out_downgrade(struct smtp_out_sess *s);
void smtp_out_downgrade_free(struct smtp_out_sess *s);

#endif
