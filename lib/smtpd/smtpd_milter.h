/* smtpd_milter.h - smtpd's milter client: the connections (smtpd_milter_conn.c), the chain
 * of milters per stage (smtpd_milter.c) and the message's content (smtpd_milter_msg.c) */
#ifndef SMTPD_SMTPD_MILTER_H
#define SMTPD_SMTPD_MILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/loop.h"
#include "mail/header_action.h"
#include "mail/milter_codec.h"
#include "mail/milter_conf.h"
#include "mail/milter_hbc.h"
#include "mail/milter_route.h"
#include "smtpd/smtpd.h"

struct smtpd_mconn;

/* What the connection tells its owner: negotiated; one reply packet, parsed; or the end;
 * or that held output was written (see smtpd_mconn_send). */
struct smtpd_mconn_ops {
    void (*ready)(struct smtpd_mconn *mc);
    void (*reply)(struct smtpd_mconn *mc, const struct milter_reply *r);
    void (*fail)(struct smtpd_mconn *mc, const char *why);
    void (*drained)(struct smtpd_mconn *mc);
};

enum smtpd_mconn_state {
    MCONN_IDLE,       /* not connected yet */
    MCONN_CONNECTING, /* the socket connects */
    MCONN_NEGOTIATE,  /* OPTNEG sent, its answer awaited */
    MCONN_READY,      /* negotiated; a request may be outstanding (waiting) */
    MCONN_DEAD,       /* failed or closed for the rest of the session */
};

/* One milter's connection in one session. */
struct smtpd_mconn {
    const struct milter_spec *spec;
    void *owner;
    void (*on_ready)(struct smtpd_mconn *mc);
    void (*on_reply)(struct smtpd_mconn *mc, const struct milter_reply *r);
    void (*on_fail)(struct smtpd_mconn *mc, const char *why);
    void (*on_drained)(struct smtpd_mconn *mc);
    struct loop *loop;
    enum smtpd_mconn_state state;
    int fd;
    struct loop_fd *watch;
    struct loop_timer *timer;
    struct buf out; /* packets not written yet */
    struct milter_frame frame;
    bool waiting;      /* a reply is outstanding */
    bool draining;     /* too much output: the sender waits for it to drain */
    long wait_seconds; /* its time limit (PROGRESS starts it again) */
    uint32_t actions;  /* negotiated */
    uint32_t protocol;
    char *symlist[MILTER_STAGES];
    /* Where it is in the session (smtpd_milter.c): */
    bool done_session; /* accepted at connect or HELO, or rejected the session */
    bool done_message; /* accepted or done with this transaction */
    bool in_message;   /* MAIL was sent: an ABORT is owed at a reset */
    bool skip_body;    /* it answered SKIP to a body chunk */
    bool reported;     /* its failure was logged */
};

void smtpd_mconn_init(struct smtpd_mconn *mc, const struct milter_spec *spec, struct loop *loop,
                      void *owner, const struct smtpd_mconn_ops *ops);
void smtpd_mconn_start(struct smtpd_mconn *mc);
bool smtpd_mconn_send(struct smtpd_mconn *mc, const struct buf *packets, bool want_reply,
                      long seconds);
void smtpd_mconn_post(struct smtpd_mconn *mc, const struct buf *packets);
void smtpd_mconn_close(struct smtpd_mconn *mc);
void smtpd_mconn_free(struct smtpd_mconn *mc);

/* The chain of milters of one session (smtpd_milter.c). */
#define SMTPD_MILTER_ALL SIZE_MAX
struct smtpd_milters {
    struct smtpd_session *sess;
    size_t n;
    struct smtpd_mconn *m;
    size_t cur;             /* the milter being asked */
    int cmd;                /* the stage's SMFIC_* command */
    int macro_cmd;          /* the stage its macros go with */
    struct buf packet;      /* the stage's command packet (macros come per milter) */
    struct buf packet_lead; /* a HEADER packet with the value's leading space, for the
                               milters that negotiated SMFIP_HDR_LEADSPC */
    smtpd_milter_done done;
    bool busy;                       /* a stage runs: the session waits */
    bool asking;                     /* inside smtpd_mconn_send: a failure is seen by the caller */
    struct loop_timer *kick;         /* hands the verdict to the session from the loop */
    smtpd_milter_done after_connect; /* the session's callback after connect or HELO */
    bool deny_set; /* the connection or HELO was refused: every command gets deny */
    struct smtp_reply deny;
    struct smtp_reply verdict_reply; /* the reply of the last verdict */
    char deny_dsn[16], deny_text[512];
    struct milter_custom custom; /* the reply of a REPLYCODE verdict */
    char hold_why[256];
    struct smtpd_milter_verdict verdict;
    char *rcpt; /* the last RCPT stage's recipient (a copy, until the transaction ends) */
    struct milter_route route; /* {mail_host} and the like */
    char daemon_addr[64];
    char client_port[8];
    char client_macro[600]; /* "_": "name [addr]" (each macro value its own storage) */
    char bits_macro[24];    /* "{cipher_bits}" */
    unsigned port;
    struct smtpd_milter_msg *msg; /* the content being sent (smtpd_milter_msg.c) */
    size_t only;             /* the milter whose turn it is with the content, or SMTPD_MILTER_ALL */
    struct milter_spec *own; /* the specs smtpd_milter_maps gave this session, or NULL */
    struct milter_hbc hbc;   /* milter_header_checks on the edits of this message */
};

void smtpd_milter_stage(struct smtpd_milters *ms, int cmd, smtpd_milter_done done);

/* smtpd_milter_route.c: the tables of {mail_host} {mail_mailer} {rcpt_host} {rcpt_mailer} */
void smtpd_milter_route_init(struct smtpd *smtpd);
void smtpd_milter_route_free(struct smtpd *smtpd);

/* smtpd_milter_maps.c: the milters of one session */
struct smtpd_milter_pick {
    const struct milter_spec *specs;
    size_t n;
    struct milter_spec *own; /* specs parsed for this session (the caller frees), or NULL */
    bool failed;             /* smtpd_milter_maps could not be read: defer the session */
};
void smtpd_milter_pick(struct smtpd_session *sess, struct smtpd_milter_pick *pick);
void smtpd_milter_finish(struct smtpd_milters *ms);
void smtpd_milter_conn_failed(struct smtpd_mconn *mc, const char *why);
long smtpd_milter_timeout(const struct smtpd_mconn *mc, int cmd);

/* smtpd_milter_hbc.c */
bool smtpd_milter_hbc(struct smtpd_session *sess, struct milter_hbc *st,
                      const struct milter_reply *r, bool leadspc);
void smtpd_milter_hbc_verdict(const struct milter_hbc *st, struct smtpd_milter_verdict *v);

/* smtpd_milter_msg.c */
struct smtpd_milter_msg;
bool smtpd_milter_msg_reply(struct smtpd_milters *ms, struct smtpd_mconn *mc,
                            const struct milter_reply *r);
void smtpd_milter_msg_free(struct smtpd_milters *ms);

#endif
