/* tls_proto.h - the protocol between tlsproxy and its users (smtpd, submission, smtp-out) */
#ifndef MAIL_TLS_PROTO_H
#define MAIL_TLS_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#include "core/attr.h"
#include "core/buf.h"
#include "core/err.h"
#include "mail/proto.h"

/*
 * A receiver that is to speak TLS on a client socket connects to private/tlsproxy and sends
 * one tls_server record with the socket attached and the policy of its service (the -o
 * overrides of its master.cf line apply): the protocol versions, the cipher list and
 * whether to ask the client for a certificate (smtpd_tls_ask_ccert, a yes or no: the CAs it
 * is verified against stay tlsproxy's smtpd_tls_CAfile, never a path a request names).
 * tlsproxy answers tls_ready when it can do the handshake (its certificates are loaded,
 * the policy is one OpenSSL takes): only then does the receiver tell the client to start
 * (the 220 to STARTTLS), so that a tlsproxy without certificates costs a 454, not the
 * session. tlsproxy then does the handshake and answers one tls_result record (or only
 * that, with ok = 0, instead of tls_ready). When the handshake succeeded, the same
 * connection carries the session's plaintext from then on, both ways; closing it ends the
 * TLS session.
 *
 * smtp-out asks for the client side the same way: one tls_client record with the server's
 * socket, the same policy strings, the name to send as SNI and the names the server's
 * certificate is to match (verify, secure). tlsproxy checks the certificate against its own
 * smtp_tls_CAfile/smtp_tls_CApath (trust anchors are tlsproxy's configuration, never a
 * path a request names) and says in the result how far it was trusted.
 *
 * The facts in a tls_result are for logs and headers: every string is printable ASCII of
 * bounded length (tls_result_decode checks), so a client certificate cannot put a line
 * break into a Received header or a log line.
 */
#define TLS_RECORD_LIMIT 4096
#define TLS_POLICY_MAX   512 /* protocols and cipher list strings */
#define TLS_FACT_MAX     256 /* each fact string */

#define TLS_TIMEOUT_MAX    3600 /* the longest handshake time limit a receiver may ask for */
#define TLS_LEVEL_NAME_MAX 16

struct tls_request {
    bool client; /* tls_client: tlsproxy is the TLS client on a server's socket */
    int peer;    /* the peer's socket; -1 once given away */
    char protocols[TLS_POLICY_MAX];
    char ciphers[TLS_POLICY_MAX];
    int64_t timeout; /* seconds the handshake may take */
    /* tls_server only: */
    bool ask_ccert; /* ask the client for a certificate */
    /* tls_client only: */
    char servername[TLS_FACT_MAX];  /* SNI, "" none */
    char match[TLS_POLICY_MAX];     /* names the certificate must match, space-separated; a name
                                     * starting with '.' matches its subdomains */
    char level[TLS_LEVEL_NAME_MAX]; /* the policy's security level ("may", ..., "secure"):
                                     * smtp-out enforces it; tlsproxy files sessions by it */
};

/* What the peer's certificate proved, as Postfix's log line words it (tls_trust_name). */
enum tls_trust {
    TLS_TRUST_ANONYMOUS, /* no certificate */
    TLS_TRUST_UNTRUSTED, /* one that did not verify */
    TLS_TRUST_TRUSTED,   /* one that verified against the CAs (smtpd_tls_CAfile, smtp_tls_CAfile) */
    TLS_TRUST_VERIFIED,  /* client side: trusted, and it matched one of the request's names */
};

struct tls_facts {
    char protocol[32]; /* "TLSv1.3" */
    char cipher[64];   /* "TLS_AES_256_GCM_SHA384" */
    int64_t bits, alg_bits;
    char detail[TLS_FACT_MAX]; /* "key-exchange X25519 server-signature RSA-PSS (2048 bits) ..." */
    enum tls_trust trust;
    char subject[TLS_FACT_MAX];
    char issuer[TLS_FACT_MAX];
    char fingerprint[TLS_FACT_MAX];
    char sni[TLS_FACT_MAX];
};

struct tls_result {
    bool ok;
    char reason[TLS_FACT_MAX]; /* why the handshake failed */
    struct tls_facts facts;
};

bool tls_request_encode(struct buf *rec, struct attr_fds *fds, const struct tls_request *req,
                        struct err *err);
bool tls_request_decode(const struct buf *rec, struct attr_fds *fds, struct tls_request *req,
                        struct err *err);
bool tls_ready_encode(struct buf *rec, struct err *err);
bool tls_result_encode(struct buf *rec, const struct tls_result *res, struct err *err);
bool tls_result_decode(const struct buf *rec, struct attr_fds *fds, struct tls_result *res,
                       struct err *err);

const char *tls_trust_name(enum tls_trust trust);

/*
 * tls_session_key - what a client-side TLS session is filed under for resumption: the peer
 * ("[addr]:port") and every field of the request that decides what a handshake proves
 * (level, SNI, match names, protocols, ciphers), each as its length, ':' and its text, so
 * that no two requests share a key. A field added to tls_request that changes what a
 * handshake proves belongs here too. False: key is too small.
 */
bool tls_session_key(const char *peer, const struct tls_request *req, char *key, size_t size);

/* tls_facts_summary - "TLSv1.3 with cipher X (256/256 bits) key-exchange ...", as Postfix logs */
void tls_facts_summary(const struct tls_facts *f, char *out, size_t size);

#endif
