/* smtpd.h - the SMTP server (smtpd, submission): per-process context, per-session state,
 * the parts' calls */
#ifndef SMTPD_SMTPD_H
#define SMTPD_SMTPD_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/ipc.h"
#include "core/lineio.h"
#include "core/loop.h"
#include "core/map.h"
#include "core/map_retry.h"
#include "core/offload.h"
#include "mail/addr_class.h"
#include "mail/msa_fixup.h"
#include "mail/queue_file.h"
#include "mail/queue_id.h"
#include "mail/restrict.h"
#include "mail/sasl_server.h"
#include "mail/smtp_cmd.h"
#include "mail/smtp_data.h"
#include "mail/tls_clnt.h"
#include "mail/tls_policy.h"
#include "server/server.h"

/*
 * One process serves up to smtpd_sessions_per_process sessions on one event loop. What
 * is the same for every session (compiled restriction lists, tables, domain lists) lives in
 * struct smtpd, built once after the privilege drop; struct smtpd_session is kept small
 * and everything the data phase needs (content state machine, queue writer) is allocated
 * when the data phase starts and freed when it ends. doc/smtpd.md has the design.
 */

/* A restriction list that may have failed to compile: then it defers everything. When a
 * table it names was only missing (not built yet), each use tries to compile it again. */
struct smtpd_rlist {
    struct restrict_list *list;
    char *error;
    bool missing; /* the error was a missing table: worth another try */
    const char *name;
    const struct strvec *words;
    enum restrict_stage stage;
};

/* What a program makes of the shared server: smtpd (MX) or submission (MSA). */
struct smtpd_role {
    const char *name;
    bool submission; /* TLS and AUTH required before MAIL, whatever main.cf says */
};

/* The TLS policy of this service, from main.cf, the -o overrides and the role. */
struct smtpd_tls_conf {
    enum tls_level level;
    bool wrapper;           /* TLS before the greeting (465) */
    bool auth_only;         /* AUTH only inside TLS */
    struct tls_request req; /* what each handshake asks tlsproxy for (peer unset) */
    char *error;            /* the policy is broken: STARTTLS gets 454, 465 closes */
};

struct ub_ctx;
struct resolve;
struct milter_spec;
struct milter_edits;

/* How applying a milter's edits went (smtpd_data_apply). */
enum smtpd_apply {
    SMTPD_APPLY_OK,      /* the edited message is in txn.qfd */
    SMTPD_APPLY_EMPTIED, /* the edits deleted every recipient */
    SMTPD_APPLY_FAILED,  /* no new file, or it could not be written (logged) */
};
struct smtpd_session;
typedef void (*smtpd_data_applied)(struct smtpd_session *sess, enum smtpd_apply result);
struct smtpd_anvil;
struct smtpd_anvil_wait;
struct anvil_counts;

struct smtpd {
    struct server_ctx *ctx;
    const struct smtpd_role *role;
    struct smtpd_tls_conf tls;
    struct ub_ctx *dns; /* NULL unless smtpd_peername_lookup */
    struct loop_fd *dns_watch;
    const struct params *p;
    struct restrict_env renv;
    struct addr_domains domains;
    char *domains_error; /* the domain lists could not be opened: every RCPT defers */
    struct smtpd_rlist client, helo, sender, relay, recipient, data;
    struct map_retry local_rcpt, valias, vmailbox, sender_login;
    struct map_retry milter_hbc;  /* milter_header_checks */
    struct map_retry milter_maps; /* smtpd_milter_maps */
    char *qmgr_path;
    char *greeting;              /* "220 <banner>" */
    struct offload *offload;     /* queue file fsyncs, off the event loop */
    struct smtpd_anvil *anvil;   /* per-client limits (smtpd_anvil.c) */
    bool nss_offload;            /* local_recipient_maps asks NSS: do it off the loop */
    bool auth_enabled;           /* AUTH is offered (smtpd_sasl_auth_enable, or submission) */
    struct sasl_server *sasl;    /* NULL: not offered, or the backend could not start */
    char *sasl_error;            /* then: why */
    struct milter_spec *milters; /* smtpd_milters, parsed (smtpd_milter.c) */
    size_t nmilters;             /* 0: no milter, and no cost per session */
    struct smtpd_milter_lists *milter_lists; /* smtpd_milter_maps' lists, parsed */
    struct resolve *route; /* transports and next hops for the milter macros, or NULL */
};

/* Counters for the disconnect line, in Postfix's order. */
enum smtpd_count {
    SMTPD_C_EHLO,
    SMTPD_C_HELO,
    SMTPD_C_STARTTLS,
    SMTPD_C_AUTH,
    SMTPD_C_MAIL,
    SMTPD_C_RCPT,
    SMTPD_C_DATA,
    SMTPD_C_BDAT,
    SMTPD_C_RSET,
    SMTPD_C_NOOP,
    SMTPD_C_VRFY,
    SMTPD_C_HELP,
    SMTPD_C_QUIT,
    SMTPD_C_UNKNOWN,
    SMTPD_C_COUNT,
};

/* The most memory one transaction's recipients may take (addresses and DSN parameters). */
#define SMTPD_RCPT_BYTES (256 * 1024)

struct smtpd_rcpt {
    char *addr;
    char *notify; /* "SUCCESS,FAILURE" or "" */
    char *orcpt;  /* "rfc822;a@b" or "" */
};

/* The mail transaction: from MAIL to the end of DATA/BDAT LAST, RSET or a new HELO. */
struct smtpd_txn {
    char *sender; /* NULL: no MAIL yet; "" the null sender */
    bool smtputf8;
    enum smtp_ret ret;
    enum smtp_body body;
    char *envid;
    char *auth_author; /* MAIL's AUTH= where AUTH is offered, unless <>: {auth_author} */
    struct smtpd_rcpt *rcpt;
    size_t nrcpt;
    size_t nrcpt_cap;
    size_t rcpt_bytes;       /* memory the recipients take, against SMTPD_RCPT_BYTES */
    size_t overshoot;        /* recipients refused past the limit */
    char qid[QUEUE_ID_SIZE]; /* "" until qmgr opened a file */
    int qfd;
    struct queue_writer *writer; /* data phase only */
    struct smtp_data *data;      /* data phase only */
    struct smtpd_fixup *fixup;   /* data phase, submission only: Date and Message-ID */
    bool bdat;                   /* BDAT was used: DATA is refused */
    bool bdat_failed;            /* a chunk was refused: discard the rest until RSET */
    bool discard;                /* a milter said DISCARD: 250, then the message is dropped */
    bool hold;                   /* a milter said QUARANTINE: the message goes on hold */
    struct milter_edits *edits;  /* a milter's edits being applied to a new file */
    smtpd_data_applied applied;  /* then */
    int old_qfd;                 /* then: the file before it, left to be aborted */
    char old_qid[QUEUE_ID_SIZE];
    uint64_t chunk_size; /* the BDAT chunk waiting for qmgr's queue_opened */
    bool chunk_last;
    struct offload_job *sync; /* the queue file's fsync, before the commit */
};

enum smtpd_phase {
    SMTPD_PHASE_CMD,       /* reading command lines */
    SMTPD_PHASE_DATA,      /* reading DATA content */
    SMTPD_PHASE_BDAT,      /* reading one BDAT chunk into the message */
    SMTPD_PHASE_BDAT_SKIP, /* reading one BDAT chunk to throw it away */
    SMTPD_PHASE_AUTH,      /* reading the client's answer to a 334 */
};

struct smtpd_session;
struct smtpd_qlink;
/* The header lines a submission adds when missing (RFC 6409 8), and the filter adding them. */
struct smtpd_fixup {
    struct msa_fixup filter;
    char date[96];
    char msgid[320];
};
struct smtpd_auth;
typedef void (*smtpd_queue_done)(struct smtpd_session *sess, bool ok, const char *why);
/* counts NULL: anvil could not answer, go on without the limit */
typedef void (*smtpd_anvil_done)(struct smtpd_session *sess, const struct anvil_counts *counts);

/* What the milters made of a stage (smtpd_milter.c). */
enum smtpd_milter_result {
    SMTPD_MILTER_GO,      /* go on as without milters */
    SMTPD_MILTER_REFUSE,  /* answer reply (4xx or 5xx) instead */
    SMTPD_MILTER_DISCARD, /* accept the message, then drop it */
    SMTPD_MILTER_CLOSE,   /* answer reply (421) and end the session */
};

struct smtpd_milter_verdict {
    enum smtpd_milter_result result;
    struct smtp_reply reply;
    bool hold;            /* quarantine: the message goes to the hold queue */
    const char *hold_why; /* the milter's reason */
};
struct smtpd_milters;
typedef void (*smtpd_milter_done)(struct smtpd_session *sess, const struct smtpd_milter_verdict *v);

struct smtpd_session {
    struct smtpd *smtpd;
    int fd;
    struct loop_fd *watch;
    struct loop_timer *timer; /* command timeout, session timeout, or error sleep */
    time_t started;
    char addr[64];    /* numeric client address */
    const char *name; /* client host name: "unknown" without a verified lookup */
    char *verified_name;
    char *dns_candidate; /* the PTR answer while its forward lookup runs */
    int dns_id;          /* the outstanding query, -1 if none */
    bool greeted;
    char *helo;
    bool esmtp;
    bool pipelining_seen; /* EHLO answered with PIPELINING */
    bool unauth_pipelining;
    bool closing;  /* flush the replies, then end */
    bool sleeping; /* the error delay runs: no input is taken */
    bool eof;
    enum smtpd_phase phase;
    uint64_t skip_left;                  /* PHASE_BDAT_SKIP: octets of the chunk still to discard */
    const struct smtp_reply *skip_reply; /* and the reply once they are */
    const char *last_cmd;                /* for "lost connection after X" */
    int counting; /* enum smtpd_count the next final reply is counted for, or -1 */
    int errors;
    struct lineio_in in;
    struct lineio_out out;
    struct smtpd_txn txn;
    struct smtpd_qlink *q; /* the link to qmgr while a message is in flight (smtpd_queue.c) */
    struct smtpd_anvil_wait *anvil_wait; /* waiting for anvil's counts: no input meanwhile */
    unsigned anvil_generation;           /* counted by anvil on that connection; 0: not */
    struct offload_job *nss_job;         /* passwd lookups for a RCPT run: no input */
    char *nss_line;                      /* that RCPT, to handle again after them */
    bool nss_primed;                     /* handling it again: the answers are in */
    struct tls_facts *tls;               /* NULL until a TLS handshake succeeded */
    struct smtpd_auth *auth;             /* NULL until AUTH was used (smtpd_auth.c) */
    struct tls_clnt *tls_wait;           /* the handshake runs in tlsproxy: no input meanwhile */
    bool tls_starting;             /* STARTTLS taken: hand over once earlier replies are out */
    struct smtpd_milters *milters; /* NULL without smtpd_milters (smtpd_milter.c) */
    uint16_t count_ok[SMTPD_C_COUNT];
    uint16_t count_all[SMTPD_C_COUNT];
};

/* smtpd_main.c */
int smtpd_main(int argc, char **argv, const struct smtpd_role *role);

/* smtpd_session.c */
void smtpd_session_start(struct smtpd *smtpd, int fd);
void smtpd_session_greet(struct smtpd_session *sess);
void smtpd_session_admit(struct smtpd_session *sess);
void smtpd_session_arm(struct smtpd_session *sess);
void smtpd_reply(struct smtpd_session *sess, int code, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void smtpd_reply_std(struct smtpd_session *sess, const struct smtp_reply *reply);
void smtpd_reply_uncounted(struct smtpd_session *sess, const struct smtp_reply *reply);
void smtpd_reply_line(struct smtpd_session *sess, int code, const char *text);
void smtpd_session_close(struct smtpd_session *sess);
void smtpd_session_resume(struct smtpd_session *sess);
void smtpd_session_hold(struct smtpd_session *sess);
void smtpd_session_delay(struct smtpd_session *sess);
void smtpd_session_set_fd(struct smtpd_session *sess, int fd);
void smtpd_txn_reset(struct smtpd_session *sess);

/* smtpd_cmd.c */
void smtpd_cmd_line(struct smtpd_session *sess, const char *line, size_t len);

/* smtpd_tls.c */
void smtpd_tls_init(struct smtpd *smtpd);
void smtpd_tls_free(struct smtpd *smtpd);
bool smtpd_tls_offered(const struct smtpd_session *sess);
void smtpd_tls_cmd(struct smtpd_session *sess);
void smtpd_tls_start(struct smtpd_session *sess);
void smtpd_tls_cancel(struct smtpd_session *sess);
bool smtpd_tls_refuse_mail(struct smtpd_session *sess);
void smtpd_tls_received(const struct smtpd_session *sess, struct buf *out);

/* smtpd_auth.c */
void smtpd_auth_init(struct smtpd *smtpd);
void smtpd_auth_free(struct smtpd *smtpd);
const char *smtpd_auth_mechs(const struct smtpd_session *sess);
const char *smtpd_auth_user(const struct smtpd_session *sess);
const char *smtpd_auth_method(const struct smtpd_session *sess);
void smtpd_auth_cmd(struct smtpd_session *sess, const struct smtp_cmd *cmd);
void smtpd_auth_line(struct smtpd_session *sess, const char *line);
void smtpd_auth_too_long(struct smtpd_session *sess);
bool smtpd_auth_busy(const struct smtpd_session *sess);
bool smtpd_auth_refuse_mail(struct smtpd_session *sess);
void smtpd_auth_cancel(struct smtpd_session *sess);
void smtpd_auth_received(const struct smtpd_session *sess, struct buf *out);

/* smtpd_check.c */
bool smtpd_check_open(struct smtpd *smtpd);
void smtpd_check_close(struct smtpd *smtpd);
bool smtpd_check_rcpt(struct smtpd_session *sess, const char *rcpt, bool postmaster);
bool smtpd_check_local(struct smtpd_session *sess, const char *rcpt);
bool smtpd_check_data(struct smtpd_session *sess);

/* smtpd_data.c */
void smtpd_data_cmd(struct smtpd_session *sess);
void smtpd_bdat_cmd(struct smtpd_session *sess, uint64_t size, bool last);
size_t smtpd_data_input(struct smtpd_session *sess, const char *data, size_t len);
void smtpd_data_free(struct smtpd_session *sess);
const char *smtpd_protocol(bool esmtp, bool utf8, bool tls, bool auth);
void smtpd_data_comment(struct buf *out, const char *s);
/*
 * smtpd_data_apply - a milter's edits (the caller's no more) into a new queue file from
 * qmgr, which takes txn.qfd's place; the file it replaces stays uncommitted and goes with
 * the link to qmgr. then hears how it went: applied, every recipient deleted, or failed.
 */
void smtpd_data_apply(struct smtpd_session *sess, struct milter_edits *edits,
                      smtpd_data_applied then);

/* smtpd_queue.c */
void smtpd_queue_open(struct smtpd_session *sess, smtpd_queue_done done);
void smtpd_queue_commit(struct smtpd_session *sess, smtpd_queue_done done);
void smtpd_queue_abort(struct smtpd_session *sess);
bool smtpd_queue_busy(const struct smtpd_session *sess);
void smtpd_queue_disconnect(struct smtpd_session *sess);

/* smtpd_nss.c */
bool smtpd_nss_wanted(const struct params *p);
bool smtpd_nss_start(struct smtpd_session *sess, const char *rcpt, const char *line);
void smtpd_nss_cancel(struct smtpd_session *sess);

/* smtpd_anvil.c */
void smtpd_anvil_init(struct smtpd *smtpd);
void smtpd_anvil_free(struct smtpd *smtpd);
bool smtpd_anvil_session(struct smtpd_session *sess, smtpd_anvil_done done);
bool smtpd_anvil_rcpt(struct smtpd_session *sess, smtpd_anvil_done done);
bool smtpd_anvil_auth(struct smtpd_session *sess, smtpd_anvil_done done);
void smtpd_anvil_end(struct smtpd_session *sess);

/* smtpd_dns.c */
void smtpd_dns_init(struct smtpd *smtpd);
void smtpd_dns_free(struct smtpd *smtpd);
bool smtpd_dns_start(struct smtpd_session *sess);
void smtpd_dns_cancel(struct smtpd_session *sess);

/* smtpd_milter.c, smtpd_milter_msg.c */
void smtpd_milter_init(struct smtpd *smtpd);
void smtpd_milter_free(struct smtpd *smtpd);
void smtpd_milter_maps_free(struct smtpd *smtpd);
void smtpd_milter_session(struct smtpd_session *sess);
void smtpd_milter_end(struct smtpd_session *sess);
bool smtpd_milter_busy(const struct smtpd_session *sess);
const struct smtp_reply *smtpd_milter_denied(const struct smtpd_session *sess);
void smtpd_milter_connect(struct smtpd_session *sess, smtpd_milter_done done);
void smtpd_milter_helo(struct smtpd_session *sess, smtpd_milter_done done);
void smtpd_milter_mail(struct smtpd_session *sess, const char *args, smtpd_milter_done done);
void smtpd_milter_rcpt(struct smtpd_session *sess, const char *rcpt, const char *args,
                       smtpd_milter_done done);
void smtpd_milter_data(struct smtpd_session *sess, smtpd_milter_done done);
void smtpd_milter_unknown(struct smtpd_session *sess, const char *line, smtpd_milter_done done);
void smtpd_milter_eom(struct smtpd_session *sess, smtpd_milter_done done);
void smtpd_milter_abort(struct smtpd_session *sess);
void smtpd_milter_log(struct smtpd_session *sess, const char *what, const char *cmd,
                      const struct smtpd_milter_verdict *v, const char *rcpt);

/* smtpd_log.c */
void smtpd_log_reject(struct smtpd_session *sess, const char *cmd, int code, const char *dsn,
                      const char *text, const char *rcpt);
void smtpd_log_disconnect(struct smtpd_session *sess);
void smtpd_log_count(struct smtpd_session *sess, int code);

#endif
