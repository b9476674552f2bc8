/*
 * tlsproxy_ctx.c - the server SSL_CTX from main.cf, and each session's policy on top.
 *
 * Trusts: main.cf and the files it names (read as tls_owner). Every failure is an error
 * with OpenSSL's reason: a certificate that does not match its key, a file that cannot be
 * read, a policy OpenSSL refuses. Nothing falls back to weaker settings silently.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "core/log.h"
#include "mail/tls_policy.h"
#include "tlsproxy/tlsproxy.h"

/* The session ID context: resumed sessions and client certificates belong to postern. */
static const unsigned char tlsproxy_sid_ctx[] = "postern-smtpd";
static const unsigned char tlsproxy_sid_ccert[] = "postern-smtpd-ccert";

/* tlsproxy_ctx_error - err is what, with OpenSSL's first queued reason; the queue is emptied */
void
tlsproxy_ctx_error(struct err *err, const char *what)
{
    unsigned long e = ERR_get_error();
    char reason[256] = "";

    if (e != 0)
        ERR_error_string_n(e, reason, sizeof(reason));
    ERR_clear_error();
    err_set(err, "%s%s%s", what, reason[0] ? ": " : "", reason);
}

/* tlsproxy_ctx_pair - one certificate with its chain, and its key, into ctx */
static bool
tlsproxy_ctx_pair(SSL_CTX *ctx, const char *cert, const char *key, struct err *err)
{
    char what[600];

    snprintf(what, sizeof(what), "cannot load certificate from %s", cert);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        tlsproxy_ctx_error(err, what);
        return false;
    }
    snprintf(what, sizeof(what), "cannot load private key from %s", key);
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        tlsproxy_ctx_error(err, what);
        return false;
    }
    snprintf(what, sizeof(what), "private key in %s does not match the certificate in %s", key,
             cert);
    if (SSL_CTX_check_private_key(ctx) != 1) {
        tlsproxy_ctx_error(err, what);
        return false;
    }
    return true;
}

/* tlsproxy_ctx_certs - the chain files (key, certificate and chain in each), or else cert with
 * key (the key in cert when key is empty) */
static bool
tlsproxy_ctx_certs(SSL_CTX *ctx, const struct strvec *chain, const char *cert, const char *key,
                   struct err *err)
{
    if (chain != NULL && chain->n > 0) {
        for (size_t i = 0; i < chain->n; i++)
            if (!tlsproxy_ctx_pair(ctx, chain->v[i], chain->v[i], err))
                return false;
        return true;
    }
    if (cert == NULL || *cert == 0)
        return err_set(err, "no certificate configured (smtpd_tls_cert_file or "
                            "smtpd_tls_chain_files)");
    return tlsproxy_ctx_pair(ctx, cert, key != NULL && *key != 0 ? key : cert, err);
}

/* tlsproxy_ctx_accept_any - keep the handshake going; the result says whether it verified */
int
tlsproxy_ctx_accept_any(int ok, X509_STORE_CTX *store)
{
    return 1;
}

/*
 * tlsproxy_ctx_cafile - the CAs client certificates are verified against, and named to the
 * client when it is asked for one. Whether to ask is each session's (the receiver's
 * smtpd_tls_ask_ccert, tlsproxy_ctx_ask_ccert); the CAs are tlsproxy's own.
 */
static bool
tlsproxy_ctx_cafile(SSL_CTX *ctx, const char *cafile, struct err *err)
{
    STACK_OF(X509_NAME) * names;

    if (cafile == NULL || *cafile == 0)
        return true;
    names = SSL_load_client_CA_file(cafile);
    if (names == NULL || SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
        char what[600];
        snprintf(what, sizeof(what), "cannot load smtpd_tls_CAfile %s", cafile);
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        tlsproxy_ctx_error(err, what);
        return false;
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    return true;
}

/*
 * tlsproxy_ctx_ask_ccert - this session asks the client for a certificate. Its sessions get
 * an ID context of their own, so a session resumed from a service that does not ask never
 * passes for one where a certificate was asked for, nor the other way round.
 */
void
tlsproxy_ctx_ask_ccert(SSL *ssl)
{
    SSL_set_verify(ssl, SSL_VERIFY_PEER, tlsproxy_ctx_accept_any);
    SSL_set_session_id_context(ssl, tlsproxy_sid_ccert, sizeof(tlsproxy_sid_ccert) - 1);
}

/* tlsproxy_ctx_base - a context of method with the options both sides share */
SSL_CTX *
tlsproxy_ctx_base(const SSL_METHOD *method, struct err *err)
{
    SSL_CTX *ctx = SSL_CTX_new(method);

    if (ctx == NULL) {
        tlsproxy_ctx_error(err, "SSL_CTX_new");
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return ctx;
}

/*
 * tlsproxy_ctx_build - a server context with the certificates of chain (or of cert and
 * key when chain is empty) and the client certificates' CAs of cafile
 */
SSL_CTX *
tlsproxy_ctx_build(const char *cafile, const struct strvec *chain, const char *cert,
                   const char *key, struct err *err)
{
    SSL_CTX *ctx = tlsproxy_ctx_base(TLS_server_method(), err);

    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_session_id_context(ctx, tlsproxy_sid_ctx, sizeof(tlsproxy_sid_ctx) - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF); /* stateless: tickets only */
    if (!tlsproxy_ctx_certs(ctx, chain, cert, key, err) || !tlsproxy_ctx_cafile(ctx, cafile, err)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* tlsproxy_ctx_trace - smtpd_tls_loglevel (smtp_tls_loglevel on the client side) 2 and up:
 * each step of the handshake, and alerts */
void
tlsproxy_ctx_trace(const SSL *ssl, int where, int ret)
{
    if (where & SSL_CB_ALERT)
        log_info("SSL3 alert %s:%s:%s", (where & SSL_CB_READ) ? "read" : "write",
                 SSL_alert_type_string_long(ret), SSL_alert_desc_string_long(ret));
    else if (where & SSL_CB_LOOP)
        log_info("%s:%s", SSL_is_server(ssl) ? "SSL_accept" : "SSL_connect",
                 SSL_state_string_long(ssl));
}

/* tlsproxy_ctx_new - the main context: main.cf's certificates, tickets, SNI */
SSL_CTX *
tlsproxy_ctx_new(const struct params *p, struct err *err)
{
    SSL_CTX *ctx = tlsproxy_ctx_build(p->smtpd_tls_CAfile, &p->smtpd_tls_chain_files,
                                      p->smtpd_tls_cert_file, p->smtpd_tls_key_file, err);

    if (ctx == NULL)
        return NULL;
    if (!tlsproxy_sni_setup(ctx, p, err)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    tlsproxy_ticket_setup(ctx, (long)p->smtpd_tls_session_cache_timeout); /* last: it cannot fail */
    if (p->smtpd_tls_loglevel >= 2)
        SSL_CTX_set_info_callback(ctx, tlsproxy_ctx_trace);
    return ctx;
}

/* tlsproxy_ctx_policy - the receiver's versions and ciphers, for this session only */
bool
tlsproxy_ctx_policy(SSL *ssl, const struct tls_request *req, struct err *err)
{
    int min, max;

    if (!tls_protocols_parse(req->protocols, &min, &max, err))
        return false;
    if (SSL_set_min_proto_version(ssl, min) != 1 || SSL_set_max_proto_version(ssl, max) != 1) {
        tlsproxy_ctx_error(err, "protocol versions");
        return false;
    }
    if (SSL_set_cipher_list(ssl, req->ciphers) != 1) {
        tlsproxy_ctx_error(err, "cipher list");
        return false;
    }
    return true;
}
