/*
 * tlsproxy_client_cache.c - the client side's TLS sessions, kept in this process for the
 * next connection to the same server under the same policy: a resumed handshake skips the
 * certificate chain and its verification (Postfix's smtp_tls_session_cache_database, but in
 * memory: one tlsproxy makes every client handshake of the host).
 *
 * A session is filed under the server's address and port and everything of the request
 * that decides what the session may prove: the level, SNI, the names the certificate must
 * match, the protocols and ciphers, each field length-prefixed (tls_session_key): a field
 * that decides what a handshake proves must be in the key. The trust anchors are the context's, so
 * a reload that makes a new client context empties the cache. A session is taken out when used (a
 * TLS 1.3 ticket is for one use; the new connection's ticket replaces it), and at most
 * TLSPROXY_CACHE_MAX are kept, the oldest dropped first.
 *
 * Trusts: nothing of a server's ticket; OpenSSL keeps and checks it.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/mem.h"
#include "tlsproxy/tlsproxy.h"

#define TLSPROXY_CACHE_MAX 1000

struct tlsproxy_cached {
    char *key;
    SSL_SESSION *sess;
    struct tlsproxy_cached *next; /* newer first */
};

static struct tlsproxy_cached *tlsproxy_cache;
static size_t tlsproxy_cache_n;
static int tlsproxy_cache_index = -1; /* an SSL's ex_data: its key, while the handshake runs */

static void
tlsproxy_cache_key_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    free(ptr);
}

/* tlsproxy_cache_take - the entry filed under key, out of the list; NULL if none */
static struct tlsproxy_cached *
tlsproxy_cache_take(const char *key)
{
    for (struct tlsproxy_cached **pp = &tlsproxy_cache; *pp != NULL; pp = &(*pp)->next)
        if (strcmp((*pp)->key, key) == 0) {
            struct tlsproxy_cached *c = *pp;
            *pp = c->next;
            tlsproxy_cache_n--;
            return c;
        }
    return NULL;
}

static void
tlsproxy_cached_free(struct tlsproxy_cached *c)
{
    SSL_SESSION_free(c->sess);
    free(c->key);
    free(c);
}

/* tlsproxy_cache_drop_oldest - make room: the last entry goes */
static void
tlsproxy_cache_drop_oldest(void)
{
    struct tlsproxy_cached **pp = &tlsproxy_cache;

    while (*pp != NULL && (*pp)->next != NULL)
        pp = &(*pp)->next;
    if (*pp == NULL)
        return;
    tlsproxy_cached_free(*pp);
    *pp = NULL;
    tlsproxy_cache_n--;
}

/*
 * tlsproxy_cache_new - OpenSSL has a session for this connection (after the handshake, or a
 * TLS 1.3 ticket later): file it. A TLS 1.2 session is kept as it is (1: the cache takes
 * OpenSSL's reference), so that OpenSSL can still void it if the connection ends without
 * close_notify, as RFC 5246 section 7.2.1 wants; a TLS 1.3 ticket is kept as a copy, which
 * that does not touch (RFC 8446 dropped the rule, and SMTP servers close after QUIT).
 */
static int
tlsproxy_cache_new(SSL *ssl, SSL_SESSION *sess)
{
    const char *key = SSL_get_ex_data(ssl, tlsproxy_cache_index);
    bool tls13 = SSL_SESSION_get_protocol_version(sess) == TLS1_3_VERSION;
    struct tlsproxy_cached *c;

    if (key == NULL || !SSL_SESSION_is_resumable(sess))
        return 0;
    if (tls13 && (sess = SSL_SESSION_dup(sess)) == NULL)
        return 0;
    if ((c = tlsproxy_cache_take(key)) != NULL)
        tlsproxy_cached_free(c);
    if (tlsproxy_cache_n >= TLSPROXY_CACHE_MAX)
        tlsproxy_cache_drop_oldest();
    c = xmalloc(sizeof(*c));
    *c = (struct tlsproxy_cached){.key = xstrdup(key), .sess = sess, .next = tlsproxy_cache};
    tlsproxy_cache = c;
    tlsproxy_cache_n++;
    return tls13 ? 0 : 1;
}

/* tlsproxy_client_cache_flush - forget every session (the trust anchors changed) */
void
tlsproxy_client_cache_flush(void)
{
    while (tlsproxy_cache != NULL) {
        struct tlsproxy_cached *c = tlsproxy_cache;
        tlsproxy_cache = c->next;
        tlsproxy_cached_free(c);
    }
    tlsproxy_cache_n = 0;
}

/* tlsproxy_client_cache_init - sessions of ctx go to the cache, for timeout seconds (0: no
 * cache) */
void
tlsproxy_client_cache_init(SSL_CTX *ctx, long timeout)
{
    if (timeout <= 0)
        return;
    if (tlsproxy_cache_index < 0)
        tlsproxy_cache_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, tlsproxy_cache_key_free);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_set_timeout(ctx, timeout);
    SSL_CTX_sess_set_new_cb(ctx, tlsproxy_cache_new);
}

/* tlsproxy_cache_key - what a session is filed under; false: the peer has no address */
static bool
tlsproxy_cache_key(int fd, const struct tls_request *req, char *key, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char addr[NI_MAXHOST], port[NI_MAXSERV], peer[NI_MAXHOST + NI_MAXSERV + 4];

    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0 ||
        getnameinfo((struct sockaddr *)&ss, len, addr, sizeof(addr), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return false;
    snprintf(peer, sizeof(peer), "[%s]:%s", addr, port);
    return tls_session_key(peer, req, key, size);
}

/* tlsproxy_client_cache_use - before a client handshake on fd: resume the session filed for
 * this server and policy, if one is, and file the new one under the same key */
void
tlsproxy_client_cache_use(SSL *ssl, int fd, const struct tls_request *req)
{
    char key[NI_MAXHOST + NI_MAXSERV + 4 * TLS_POLICY_MAX + TLS_FACT_MAX + 64];
    struct tlsproxy_cached *c;

    if (tlsproxy_cache_index < 0 || !tlsproxy_cache_key(fd, req, key, sizeof(key)))
        return;
    SSL_set_ex_data(ssl, tlsproxy_cache_index, xstrdup(key));
    if ((c = tlsproxy_cache_take(key)) == NULL)
        return;
    if (SSL_SESSION_is_resumable(c->sess) &&
        SSL_SESSION_get_time(c->sess) + SSL_SESSION_get_timeout(c->sess) > time(NULL))
        SSL_set_session(ssl, c->sess);
    tlsproxy_cached_free(c);
}
