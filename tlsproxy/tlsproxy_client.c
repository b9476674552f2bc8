/*
 * tlsproxy_client.c - the client side, for smtp-out: one SSL_CTX with the trust anchors of
 * smtp_tls_CAfile and smtp_tls_CApath, each session's SNI, and how far the server's
 * certificate was trusted.
 *
 * Trusts: main.cf and the files it names (read as tls_owner; a request never names a file).
 * The server's certificate not at all: the handshake goes on whatever it is (smtp-out
 * decides what its level needs), and the result says Untrusted, Trusted (the chain verified)
 * or Verified (and a name of the request matched, as Postfix's words go). With neither
 * CAfile nor CApath nothing is trusted: the system's CAs are not used, as Postfix's default
 * tls_append_default_CA = no.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tlsproxy/tlsproxy.h"

/* tlsproxy_client_ctx_new - the client context: main.cf's trust anchors, no certificate */
SSL_CTX *
tlsproxy_client_ctx_new(const struct params *p, struct err *err)
{
    const char *file = *p->smtp_tls_CAfile ? p->smtp_tls_CAfile : NULL;
    const char *path = *p->smtp_tls_CApath ? p->smtp_tls_CApath : NULL;
    SSL_CTX *ctx = tlsproxy_ctx_base(TLS_client_method(), err);

    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tlsproxy_ctx_accept_any);
    if ((file != NULL || path != NULL) && SSL_CTX_load_verify_locations(ctx, file, path) != 1) {
        tlsproxy_ctx_error(err, "cannot load smtp_tls_CAfile or smtp_tls_CApath");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (p->smtp_tls_loglevel >= 2)
        SSL_CTX_set_info_callback(ctx, tlsproxy_ctx_trace);
    tlsproxy_client_cache_init(ctx, p->smtp_tls_session_cache_timeout);
    return ctx;
}

/* tlsproxy_client_setup - a new session's client side: connect state, and SNI when asked */
bool
tlsproxy_client_setup(SSL *ssl, const struct tls_request *req, struct err *err)
{
    char name[sizeof(req->servername)]; /* OpenSSL's macro takes a char *, not a const one */

    SSL_set_connect_state(ssl);
    memcpy(name, req->servername, sizeof(name));
    if (name[0] && SSL_set_tlsext_host_name(ssl, name) != 1) {
        tlsproxy_ctx_error(err, "SNI");
        return false;
    }
    return true;
}

/* tlsproxy_client_match - does the certificate carry one of the space-separated names? */
static bool
tlsproxy_client_match(X509 *peer, const char *names)
{
    char name[TLS_POLICY_MAX];
    const char *p = names;

    while (*p) {
        size_t n = strcspn(p, " ");
        if (n > 0 && n < sizeof(name)) {
            memcpy(name, p, n);
            name[n] = 0;
            if (X509_check_host(peer, name, n, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1)
                return true;
        }
        p += n;
        p += strspn(p, " ");
    }
    return false;
}

/* tlsproxy_client_trust - Untrusted, Trusted (the chain verified) or Verified (and matched) */
enum tls_trust
tlsproxy_client_trust(SSL *ssl, X509 *peer, const char *match)
{
    if (peer == NULL)
        return TLS_TRUST_ANONYMOUS;
    if (SSL_get_verify_result(ssl) != X509_V_OK)
        return TLS_TRUST_UNTRUSTED;
    return tlsproxy_client_match(peer, match) ? TLS_TRUST_VERIFIED : TLS_TRUST_TRUSTED;
}
