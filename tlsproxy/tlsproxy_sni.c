/*
 * tlsproxy_sni.c - tls_server_sni_maps: the certificate a client asks for by name (SNI).
 *
 * The table maps a name (or a parent domain, ".example.org") to PEM files, each holding a
 * key with its certificate and chain, as smtpd_tls_chain_files does. The files are read
 * as tls_owner the first time a client asks for the name; the context built from them is
 * kept for the life of the main SSL_CTX (a reload starts afresh). A name not in the table
 * gets the default certificate; a table that fails, or files that cannot be loaded, end
 * the handshake, so a client never gets a certificate for a name other than the one the
 * administrator meant.
 *
 * Trusts: the table and the files; the name the client sends is only a lookup key.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "mail/map_addr.h"
#include "tlsproxy/tlsproxy.h"

struct tlsproxy_sni_ctx {
    char *files;  /* the table's value */
    SSL_CTX *ctx; /* NULL: the files could not be loaded (not tried again before a reload) */
    struct tlsproxy_sni_ctx *next;
};

struct tlsproxy_sni {
    struct map_list *maps;
    char *cafile; /* a copy: the params the main context came from do not outlive it */
    struct tlsproxy_sni_ctx *built;
};

static int tlsproxy_sni_index = -1;

/* tlsproxy_sni_free - the SSL_CTX's ex_data destructor: its SNI table and contexts */
static void
tlsproxy_sni_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    struct tlsproxy_sni *sni = ptr;

    if (sni == NULL)
        return;
    while (sni->built != NULL) {
        struct tlsproxy_sni_ctx *b = sni->built;
        sni->built = b->next;
        SSL_CTX_free(b->ctx);
        free(b->files);
        free(b);
    }
    map_list_close(sni->maps);
    free(sni->cafile);
    free(sni);
}

/* tlsproxy_sni_ctx - the context for a table value, built on first use; NULL when it cannot
 * be (remembered, so a client naming it again costs no file reads and no log line) */
static SSL_CTX *
tlsproxy_sni_ctx(struct tlsproxy_sni *sni, const char *files)
{
    struct tlsproxy_sni_ctx *b;
    struct strvec chain;
    struct err err;
    SSL_CTX *ctx;

    for (b = sni->built; b != NULL; b = b->next)
        if (strcmp(b->files, files) == 0)
            return b->ctx;
    strvec_init(&chain);
    strvec_split(&chain, files, STR_LIST_DELIMS);
    ctx = tlsproxy_ctx_build(sni->cafile, &chain, NULL, NULL, &err);
    strvec_free(&chain);
    if (ctx == NULL)
        log_warn("tls_server_sni_maps: %s: handshakes for its names fail until a reload", err.text);
    b = xcalloc(1, sizeof(*b));
    b->files = xstrdup(files);
    b->ctx = ctx;
    b->next = sni->built;
    sni->built = b;
    return ctx;
}

/* tlsproxy_sni_cb - OpenSSL's servername callback: switch to the name's certificate */
static int
tlsproxy_sni_cb(SSL *ssl, int *alert, void *arg)
{
    struct tlsproxy_sni *sni = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tlsproxy_sni_index);
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    struct map_addr_match match = {0};
    enum map_status status;
    struct err err;
    SSL_CTX *ctx = NULL;

    if (sni == NULL || name == NULL || *name == 0)
        return SSL_TLSEXT_ERR_OK;
    status = map_addr_domain(sni->maps, name, false, &match, &err);
    if (status == MAP_ERROR)
        log_warn("tls_server_sni_maps: %s", err.text);
    else if (status == MAP_FOUND)
        ctx = tlsproxy_sni_ctx(sni, match.value);
    map_addr_match_free(&match);
    if (status == MAP_NOTFOUND)
        return SSL_TLSEXT_ERR_OK;
    if (ctx == NULL || SSL_set_SSL_CTX(ssl, ctx) == NULL) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
}

/* tlsproxy_sni_setup - tls_server_sni_maps on the main context, if configured */
bool
tlsproxy_sni_setup(SSL_CTX *ctx, const struct params *p, struct err *err)
{
    struct tlsproxy_sni *sni;
    struct map_list *maps;

    if (p->tls_server_sni_maps.n == 0)
        return true;
    if (tlsproxy_sni_index < 0)
        tlsproxy_sni_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, tlsproxy_sni_free);
    if ((maps = map_list_open_param(&p->tls_server_sni_maps, MAP_FOLD_FIXED, err)) == NULL)
        return false;
    sni = xcalloc(1, sizeof(*sni));
    sni->maps = maps;
    sni->cafile = xstrdup(p->smtpd_tls_CAfile);
    SSL_CTX_set_ex_data(ctx, tlsproxy_sni_index, sni);
    SSL_CTX_set_tlsext_servername_callback(ctx, tlsproxy_sni_cb);
    return true;
}
