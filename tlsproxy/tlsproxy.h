/* tlsproxy.h - the TLS proxy: per-process context, and the calls between its parts */
#ifndef TLSPROXY_TLSPROXY_H
#define TLSPROXY_TLSPROXY_H

#include <openssl/ssl.h>

#include "core/err.h"
#include "mail/params.h"
#include "mail/tls_proto.h"
#include "server/server.h"

/*
 * One process serves many sessions on one event loop. Its certificates live in one
 * SSL_CTX, built once after the drop to tls_owner: the key files must be readable by that
 * user, and by nobody the other daemons run as. The policy of each handshake (versions,
 * ciphers) comes with the receiver's request and is set on that session alone, so the
 * -o overrides of each smtpd or submission service apply. doc/tls.md has the design.
 */
struct tlsproxy {
    struct server_ctx *ctx;
    const struct params *p;
    SSL_CTX *ssl_ctx;        /* NULL: none could be built, and every handshake is refused */
    char *error;             /* then: why */
    SSL_CTX *client_ctx;     /* the client side (smtp-out); NULL: client handshakes refused */
    char *client_error;      /* then: why */
    struct loop_timer *trim; /* gives the heap a handshake left free back to the system */
};

/* tlsproxy.c */
void tlsproxy_trim_soon(struct tlsproxy *tp);

/* tlsproxy_session.c */
void tlsproxy_session_start(struct tlsproxy *tp, int conn);

/* tlsproxy_ctx.c */
SSL_CTX *tlsproxy_ctx_new(const struct params *p, struct err *err);
SSL_CTX *tlsproxy_ctx_build(const char *cafile, const struct strvec *chain, const char *cert,
                            const char *key, struct err *err);
bool tlsproxy_ctx_policy(SSL *ssl, const struct tls_request *req, struct err *err);
void tlsproxy_ctx_ask_ccert(SSL *ssl);
void tlsproxy_ctx_error(struct err *err, const char *what);
SSL_CTX *tlsproxy_ctx_base(const SSL_METHOD *method, struct err *err);
int tlsproxy_ctx_accept_any(int ok, X509_STORE_CTX *store);
void tlsproxy_ctx_trace(const SSL *ssl, int where, int ret);

/* tlsproxy_sni.c */
bool tlsproxy_sni_setup(SSL_CTX *ctx, const struct params *p, struct err *err);

/* tlsproxy_ticket.c */
void tlsproxy_ticket_setup(SSL_CTX *ctx, long period);

/* tlsproxy_client.c */
SSL_CTX *tlsproxy_client_ctx_new(const struct params *p, struct err *err);
bool tlsproxy_client_setup(SSL *ssl, const struct tls_request *req, struct err *err);
enum tls_trust tlsproxy_client_trust(SSL *ssl, X509 *peer, const char *match);

/* tlsproxy_client_cache.c */
void tlsproxy_client_cache_init(SSL_CTX *ctx, long timeout);
void tlsproxy_client_cache_use(SSL *ssl, int fd, const struct tls_request *req);
void tlsproxy_client_cache_flush(void);

/* tlsproxy_facts.c */
void tlsproxy_facts(SSL *ssl, const struct tls_request *req, struct tls_facts *f);

#endif
