/*
 * tlsproxy.c - the one process that holds TLS private keys and TLS sessions: per-process
 * setup and the skeleton's hooks.
 *
 * Runs as tls_owner. Trusts its main.cf; its clients only as far as the skeleton admitted
 * them (receivers running as mail_owner) and tls_request_decode checks their requests; the
 * network peers not at all. A certificate that cannot be loaded is logged and every
 * handshake is refused with the reason (the receiver then answers 454), so a broken key
 * never ends plaintext service on port 25.
 */
#include <malloc.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/mem.h"
#include "tlsproxy/tlsproxy.h"

#define TLSPROXY_TRIM_MS 1000 /* after a handshake, at most this long until the heap is trimmed */

/* tlsproxy_client_load - the client side's context from p; without one, client handshakes
 * are refused with the reason (smtp-out then defers or, at may, goes on in plaintext). On
 * reload, broken new settings keep the running context. */
static void
tlsproxy_client_load(struct tlsproxy *tp, const struct params *p)
{
    struct err err;
    SSL_CTX *ctx = tlsproxy_client_ctx_new(p, &err);

    if (ctx == NULL && tp->client_ctx != NULL) {
        log_warn("reload: keeping the running client settings: %s", err.text);
        return;
    }
    tlsproxy_client_cache_flush(); /* new trust anchors: no session of the old ones */
    SSL_CTX_free(tp->client_ctx);
    free(tp->client_error);
    tp->client_ctx = ctx;
    tp->client_error = ctx ? NULL : xstrdup(err.text);
    if (ctx == NULL)
        log_warn("TLS client side is not available: %s", err.text);
}

/* tlsproxy_trim - a handshake allocates far more than the session keeps; glibc would hold
 * on to the difference, so idle sessions would look ten times their size */
static void
tlsproxy_trim(void *arg)
{
    malloc_trim(0);
}

/* tlsproxy_trim_soon - a handshake just finished: trim within TLSPROXY_TRIM_MS, once for all */
void
tlsproxy_trim_soon(struct tlsproxy *tp)
{
    if (!loop_timer_pending(tp->trim))
        loop_timer_start(tp->trim, TLSPROXY_TRIM_MS);
}

/* tlsproxy_unavailable - server-side TLS cannot be offered: a warning when certificates are
 * configured and broken; nothing when none is, as on a host that only sends mail (smtpd
 * then gets the reason with its request) */
static void
tlsproxy_unavailable(const struct params *p, const struct err *err)
{
    if (*p->smtpd_tls_cert_file || p->smtpd_tls_chain_files.n > 0)
        log_warn("TLS is not available: %s", err->text);
}

static void
tlsproxy_post_jail(struct server_ctx *ctx)
{
    struct tlsproxy *tp = xcalloc(1, sizeof(*tp));
    struct err err;

    tp->ctx = ctx;
    tp->p = &ctx->params;
    ctx->app = tp;
    tp->trim = loop_timer_new(ctx->loop, tlsproxy_trim, tp);
    server_set_max_sessions(ctx, (int)ctx->params.tlsproxy_sessions_per_process);
    if ((tp->ssl_ctx = tlsproxy_ctx_new(tp->p, &err)) == NULL) {
        tp->error = xstrdup(err.text);
        tlsproxy_unavailable(tp->p, &err);
    }
    tlsproxy_client_load(tp, tp->p);
}

/*
 * tlsproxy_reload - `postern reload`: new certificates for new handshakes; sessions keep
 * the SSL_CTX they started with (OpenSSL counts its references). Broken new settings keep
 * the running ones in service, and the log says why.
 */
static bool
tlsproxy_reload(struct server_ctx *ctx, const struct params *fresh)
{
    struct tlsproxy *tp = ctx->app;
    struct err err;
    SSL_CTX *ssl_ctx = tlsproxy_ctx_new(fresh, &err);

    tlsproxy_client_load(tp, fresh);
    if (ssl_ctx == NULL && tp->ssl_ctx != NULL) {
        log_warn("reload: keeping the running certificates: %s", err.text);
        return false;
    }
    SSL_CTX_free(tp->ssl_ctx);
    free(tp->error);
    tp->ssl_ctx = ssl_ctx;
    tp->error = ssl_ctx ? NULL : xstrdup(err.text);
    if (ssl_ctx == NULL)
        tlsproxy_unavailable(fresh, &err);
    else
        log_info("reload: certificates loaded");
    return true;
}

static void
tlsproxy_on_exit(struct server_ctx *ctx)
{
    struct tlsproxy *tp = ctx->app;

    if (tp == NULL)
        return;
    SSL_CTX_free(tp->ssl_ctx);
    SSL_CTX_free(tp->client_ctx);
    loop_timer_free(tp->trim);
    free(tp->error);
    free(tp->client_error);
    free(tp);
    ctx->app = NULL;
}

static void
tlsproxy_service(struct server_ctx *ctx, int fd)
{
    tlsproxy_session_start(ctx->app, fd);
}

int
main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .name = "tlsproxy",
        .max_sessions = 1,
        .tls_owner = true,
        .post_jail = tlsproxy_post_jail,
        .service = tlsproxy_service,
        .on_exit = tlsproxy_on_exit,
        .reload = tlsproxy_reload,
    };

    return server_main(argc, argv, &ops);
}
