/* proto.h - every IPC message postern's processes exchange, declared once */
#ifndef MAIL_PROTO_H
#define MAIL_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "core/attr.h"
#include "core/buf.h"
#include "core/mem.h"

/*
 * Each record's first attribute is PROTO_ATTR_MSG, a string naming the message; the
 * names below are also what traces print. A later issue adds its messages to this list
 * and its attribute names after it, then writes its codec and stubs in one module, as
 * qmgr_clnt.c and deliver_req.c do (t/echo_clnt.c is the smallest example):
 *
 *     X(ID, "wire name", "who sends it to whom, and what it means")
 *
 * Records: see lib/core/attr.c. A receiver that expects one message decodes it with
 * PROTO_DECODE(), whose table lists only the attributes after PROTO_ATTR_MSG; one that
 * serves several learns which it got with proto_msg_of() and then decodes that one.
 */
#define PROTO_MESSAGES(X)                                                                         \
    X(ECHO_REQUEST, "echo_request", "test client -> echo service: text to send back")             \
    X(ECHO_REPLY, "echo_reply", "echo service -> test client: the text, unchanged")               \
    X(STATUS_READY, "status_ready", "child -> master: started, accepting connections")            \
    X(STATUS_BUSY, "status_busy", "child -> master: serving a client")                            \
    X(STATUS_IDLE, "status_idle", "child -> master: done with a client, may take another")        \
    X(STATUS_RELOADS, "status_reloads", "child -> master: on reload send me SIGHUP, I stay")      \
    X(QUEUE_OPEN, "queue_open", "receiver -> qmgr: create a queue file in incoming/")             \
    X(QUEUE_OPENED, "queue_opened", "qmgr -> receiver: its queue ID and descriptor")              \
    X(QUEUE_COMMIT, "queue_commit", "receiver -> qmgr: the file is written and fsynced")          \
    X(QUEUE_COMMITTED, "queue_committed", "qmgr -> receiver: on disk; the receiver may 250")      \
    X(QUEUE_HOLD, "queue_hold", "receiver -> qmgr: as queue_commit, into hold/ (quarantined)")    \
    X(QUEUE_ABORT, "queue_abort", "receiver -> qmgr: drop the file, it was never accepted")       \
    X(QUEUE_ABORTED, "queue_aborted", "qmgr -> receiver: the file is gone")                       \
    X(QUEUE_STATUS, "queue_status", "receiver -> qmgr: after a lost answer, was it committed?")   \
    X(QUEUE_REFUSED, "queue_refused", "qmgr -> receiver: the request failed, with a reason")      \
    X(DELIVER_REQUEST, "deliver_request", "qmgr -> agent: deliver one message to recipients")     \
    X(DELIVER_RCPT, "deliver_rcpt", "qmgr -> agent: one recipient, after its deliver_request")    \
    X(DELIVER_STATUS, "deliver_status", "agent -> qmgr: one recipient's outcome")                 \
    X(ANVIL_CONNECT, "anvil_connect", "smtpd -> anvil: a client connected; answer its counts")    \
    X(ANVIL_DISCONNECT, "anvil_disconnect", "smtpd -> anvil: that client's session ended")        \
    X(ANVIL_RCPT, "anvil_rcpt", "smtpd -> anvil: the client sent a recipient; answer counts")     \
    X(ANVIL_AUTH, "anvil_auth", "smtpd -> anvil: the client sent AUTH; answer counts")            \
    X(ANVIL_COUNTS, "anvil_counts", "anvil -> smtpd: concurrent sessions and rate, one client")   \
    X(LOCAL_TASK, "local_task", "local -> its user's process: one delivery (result: raw struct)") \
    X(TLS_SERVER, "tls_server", "receiver -> tlsproxy: be the TLS server on this client socket")  \
    X(TLS_CLIENT, "tls_client", "smtp-out -> tlsproxy: be the TLS client on this server socket")  \
    X(TLS_READY, "tls_ready",                                                                     \
      "tlsproxy -> receiver: certificates loaded, the handshake may start")                       \
    X(TLS_RESULT, "tls_result", "tlsproxy -> receiver: handshake done (or not); then plaintext")  \
    X(SHOWQ_LIST, "showq_list", "postern -> showq: list the queue")                               \
    X(SHOWQ_MSG, "showq_msg", "showq -> postern: one message; its showq_rcpt records follow")     \
    X(SHOWQ_RCPT, "showq_rcpt", "showq -> postern: one recipient not yet final, and why")         \
    X(SHOWQ_END, "showq_end", "showq -> postern: the listing is complete")                        \
    X(QUEUE_FLUSH, "queue_flush", "postern -> showq -> qmgr: try deferred mail now")              \
    X(QUEUE_ADMIN, "queue_admin", "postern (root) -> qmgr: delete, hold, release or requeue")     \
    X(QUEUE_DONE, "queue_done", "qmgr -> postern: a flush or admin request done, with a count")   \
    X(QUEUE_SHOW, "queue_show", "postern (root) -> qmgr: a read-only descriptor of one file")     \
    X(QUEUE_SHOWN, "queue_shown", "qmgr -> postern: that descriptor, with its queue name")

enum proto_msg {
    PROTO_NONE,
#define PROTO_MSG_ENUM(id, name, doc) PROTO_##id,
    PROTO_MESSAGES(PROTO_MSG_ENUM)
#undef PROTO_MSG_ENUM
    PROTO_MSG_COUNT
};

/* Attribute names, one place for every protocol. */
#define PROTO_ATTR_MSG         "msg"   /* string: the message name */
#define PROTO_ATTR_TEXT        "text"  /* string: echo payload */
#define PROTO_ATTR_PID         "pid"   /* int: the sender's process id (status messages) */
#define PROTO_ATTR_COUNT       "count" /* int: clients served so far (status); sessions (anvil) */
#define PROTO_ATTR_QUEUE_ID    "queue_id"    /* string: a queue ID (queue_id.h) */
#define PROTO_ATTR_QUEUE_FILE  "queue_file"  /* fd: an open queue file */
#define PROTO_ATTR_REASON      "reason"      /* string: why a request was refused */
#define PROTO_ATTR_SENDER      "sender"      /* string: envelope sender ("" null sender) */
#define PROTO_ATTR_NEXTHOP     "nexthop"     /* string: the transport's next hop */
#define PROTO_ATTR_ARRIVAL     "arrival"     /* int: arrival time, seconds since the epoch */
#define PROTO_ATTR_OFFSET      "offset"      /* int: the first content record's offset */
#define PROTO_ATTR_SIZE        "size"        /* int: content bytes */
#define PROTO_ATTR_RCPT_COUNT  "rcpt_count"  /* int: deliver_rcpt records after a deliver_request */
#define PROTO_ATTR_INDEX       "index"       /* int: a recipient's index in the queue file */
#define PROTO_ATTR_SLOT        "slot"        /* int: offset of its status slot in the queue file */
#define PROTO_ATTR_ADDRESS     "address"     /* string: a recipient address */
#define PROTO_ATTR_ORCPT       "orcpt"       /* string: DSN ORCPT as given, "" if none */
#define PROTO_ATTR_NOTIFY      "notify"      /* string: DSN NOTIFY as given, "" if none */
#define PROTO_ATTR_SERVICE     "service"     /* string: a master.cf service name */
#define PROTO_ATTR_CLIENT      "client"      /* string: a client's numeric address */
#define PROTO_ATTR_RATE        "rate"        /* int: events in the current anvil_rate_time_unit */
#define PROTO_ATTR_KIND        "kind"        /* int: local_task: enum local_task_kind */
#define PROTO_ATTR_PATH        "path"        /* string: local_task: mailbox, file or command */
#define PROTO_ATTR_MKDIR_BASE  "mkdir_base"  /* string: local_task: create directories below */
#define PROTO_ATTR_RECIPIENT   "recipient"   /* string: local_task: for Delivered-To: */
#define PROTO_ATTR_CONTENT     "content"     /* fd: local_task: the message, a memory file */
#define PROTO_ATTR_DSN         "dsn"         /* string: enhanced status code "2.0.0" */
#define PROTO_ATTR_STATUS      "status"      /* string: sent, deferred or bounced */
#define PROTO_ATTR_PEER        "peer"        /* fd: tls_server: the client's TCP socket */
#define PROTO_ATTR_PROTOCOLS   "protocols"   /* string: tls_server: ">=TLSv1.2" syntax */
#define PROTO_ATTR_CIPHERS     "ciphers"     /* string: tls_server: OpenSSL cipher list */
#define PROTO_ATTR_TIMEOUT     "timeout"     /* int: tls_server: handshake time limit, seconds */
#define PROTO_ATTR_OK          "ok"          /* int: tls_result: 1 the handshake succeeded */
#define PROTO_ATTR_TLS_PROTO   "tls_proto"   /* string: tls_result: "TLSv1.3" */
#define PROTO_ATTR_CIPHER      "cipher"      /* string: tls_result: cipher name */
#define PROTO_ATTR_BITS        "bits"        /* int: tls_result: cipher bits used */
#define PROTO_ATTR_ALG_BITS    "alg_bits"    /* int: tls_result: cipher algorithm bits */
#define PROTO_ATTR_DETAIL      "detail"      /* string: tls_result: key exchange, signature */
#define PROTO_ATTR_TRUST       "trust"       /* int: tls_result: enum tls_trust */
#define PROTO_ATTR_SUBJECT     "subject"     /* string: tls_result: client cert subject CN */
#define PROTO_ATTR_ISSUER      "issuer"      /* string: tls_result: client cert issuer CN */
#define PROTO_ATTR_FINGERPRINT "fingerprint" /* string: tls_result: client cert SHA-256 */
#define PROTO_ATTR_RELAY       "relay"   /* string: deliver_status: name[addr]:port delivered to */
#define PROTO_ATTR_HANDOFF     "handoff" /* string: deliver_status: "relayed", "notify-passed" */
#define PROTO_ATTR_UNREACHABLE \
    "unreachable" /* int: deliver_status: 1, the destination was not reached */
#define PROTO_ATTR_CONN_USE   "conn_use"   /* int: deliver_status: deliveries on the connection */
#define PROTO_ATTR_SNI        "sni"        /* string: tls_result: the name the client asked for */
#define PROTO_ATTR_SERVERNAME "servername" /* string: tls_client: SNI to send, "" none */
#define PROTO_ATTR_MATCH      "match"     /* string: tls_client: names the certificate must match */
#define PROTO_ATTR_ASK_CCERT  "ask_ccert" /* int: tls_server: 1 ask the client for a certificate */
#define PROTO_ATTR_LEVEL      "level"     /* string: tls_client: the policy's level ("may", ...) */
#define PROTO_ATTR_QUEUE_NAME "queue_name" /* string: a queue state directory ("deferred") */
#define PROTO_ATTR_SITE       "site"       /* string: queue_flush: recipients' domain, "" all */
#define PROTO_ATTR_ACTION     "action"     /* string: queue_admin: delete, hold, release, ... */
#define PROTO_ATTR_QUEUES     "queues"     /* string: queue_admin: queue names, comma-separated */

/* The longest message name, plus its NUL. */
#define PROTO_MSG_NAME_SIZE 32

const char *proto_msg_name(enum proto_msg msg);
enum proto_msg proto_msg_lookup(const char *name);
enum proto_msg proto_msg_of(const struct buf *rec);
bool proto_msg_is(const struct buf *name, enum proto_msg msg);
void proto_begin(struct buf *rec, enum proto_msg msg);

/* The most attributes one message has besides PROTO_ATTR_MSG. */
#define PROTO_SPEC_MAX 15

bool proto_decode(const struct buf *rec, size_t limit, struct attr_fds *fds, enum proto_msg msg,
                  const struct attr_spec *spec, size_t nspec, struct err *err);
#define PROTO_DECODE(rec, limit, fds, msg, spec, err) \
    proto_decode((rec), (limit), (fds), (msg), (spec), nitems(spec), (err))

#endif
