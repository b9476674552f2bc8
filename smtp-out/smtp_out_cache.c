/*
 * smtp_out_cache.c - connections kept open between deliveries (Postfix's connection cache,
 * scache, but inside the process that owns the connections).
 *
 * When a delivery's transaction is over and the connection is clean (the dot answered, or a
 * failed transaction reset with RSET), the session gives the connection here instead of
 * sending QUIT. The next delivery with the same key takes it and goes straight to MAIL FROM:
 * no DNS lookup, no TCP handshake, no greeting, no EHLO, no TLS handshake (a TLS
 * connection is kept as tlsproxy's plaintext stream, which stays open).
 *
 * The key is what makes two deliveries interchangeable on one connection: the next hop as
 * qmgr names it (a domain, or "[host]:port"; for a domain the connection was made to one of
 * its MX hosts and keeps that host's name and address for relay=), its port, the TLS policy
 * in force (level, wrapper mode, match names, protocols, ciphers, SNI), and the SASL identity
 * of the sender (smtp_out_sasl_identity: with smtp_sender_dependent_authentication, the
 * login the sender's smtp_sasl_password_maps entry gives, else ""), so that a connection
 * authenticated for one sender never carries another sender's mail. Credentials found by
 * the server's name or the next hop are the same for every delivery with that key. A
 * connection whose AUTH failed is never kept (the envelope never started), and a delivery
 * whose sender's entry could not be looked up (a table error) neither takes nor leaves one.
 *
 * An idle connection is closed, with QUIT, after smtp_connection_cache_time_limit; one the
 * server speaks on (421, EOF or anything) is closed at once without a word. A connection is
 * kept again only while it is younger than smtp_connection_reuse_time_limit and has carried
 * fewer than smtp_connection_reuse_count_limit deliveries (0: no limit).
 *
 * Trusts: the session's own state; nothing an idle server sends is read as a reply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "smtp-out/smtp_out.h"

/* What makes a connection fit a delivery. */
struct smtp_out_key {
    char nexthop[DELIVER_RELAY_MAX]; /* as qmgr named it in the request */
    unsigned port;
    struct smtp_out_tlspol tlspol;
    char sasl_user[SMTP_OUT_SASL_USER_MAX]; /* the sender's SASL identity; "" none */
};

/* One idle connection. */
struct smtp_out_idle {
    struct smtp_out *so;
    struct smtp_out_idle *next, *prev;
    struct smtp_out_key key;
    int fd;
    struct loop_fd *watch;
    struct loop_timer *timer;
    struct tls_facts *tls; /* NULL: plaintext */
    struct smtp_ext ext;
    char addr[64], host[320], relay[DELIVER_RELAY_MAX];
    unsigned uses;
    long long born;
};

/* smtp_out_cache_now - a monotonic clock in milliseconds */
long long
smtp_out_cache_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* smtp_out_cache_key - the session's key */
static void
smtp_out_cache_key(struct smtp_out_sess *s, struct smtp_out_key *k)
{
    memset(k, 0, sizeof(*k));
    str_copy(k->nexthop, s->req.nexthop, sizeof(k->nexthop));
    k->port = s->nh.port;
    k->tlspol = s->tlspol;
    str_copy(k->sasl_user, smtp_out_sasl_identity(s), sizeof(k->sasl_user));
}

/* smtp_out_cache_same - do two keys fit each other? */
static bool
smtp_out_cache_same(const struct smtp_out_key *a, const struct smtp_out_key *b)
{
    const struct smtp_out_tlspol *x = &a->tlspol, *y = &b->tlspol;

    return strcmp(a->nexthop, b->nexthop) == 0 && a->port == b->port && x->level == y->level &&
           x->wrapper == y->wrapper && strcmp(x->match, y->match) == 0 &&
           strcmp(x->protocols, y->protocols) == 0 && strcmp(x->ciphers, y->ciphers) == 0 &&
           strcmp(x->servername, y->servername) == 0 && strcmp(a->sasl_user, b->sasl_user) == 0;
}

/* smtp_out_cache_wanted - is the next hop's connection kept? (on demand: every one) */
static bool
smtp_out_cache_wanted(const struct smtp_out_sess *s)
{
    const struct strvec *dests = &s->so->p->smtp_connection_cache_destinations;

    if (s->so->p->smtp_connection_cache_on_demand)
        return true;
    for (size_t i = 0; i < dests->n; i++)
        if (str_eq_nocase(dests->v[i], s->req.nexthop))
            return true;
    return false;
}

/* smtp_out_cache_may - may the session's connection be kept once its transaction is over? */
bool
smtp_out_cache_may(struct smtp_out_sess *s)
{
    const struct params *p = s->so->p;

    if (!s->ready || s->saw_421 || s->rset_failed || s->fd < 0 || s->over || s->tls_wait != NULL ||
        !smtp_out_cache_wanted(s))
        return false;
    if (smtp_out_sasl_identity_failed(s))
        return false; /* its key would not say whose connection it is */
    if (p->smtp_connection_reuse_count_limit > 0 &&
        s->conn_use >= (unsigned long)p->smtp_connection_reuse_count_limit)
        return false;
    if (smtp_out_cache_now() - s->born >= p->smtp_connection_reuse_time_limit * 1000LL)
        return false;
    return s->so->nidle < (size_t)p->smtp_sessions_per_process;
}

/* smtp_out_cache_drop - close an idle connection; QUIT first when it is still ours to end */
static void
smtp_out_cache_drop(struct smtp_out_idle *e, bool quit)
{
    struct smtp_out *so = e->so;

    if (quit)
        (void)send(e->fd, "QUIT\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        so->idle = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    so->nidle--;
    if (e->watch != NULL)
        loop_fd_free(e->watch);
    loop_timer_free(e->timer);
    if (e->fd >= 0)
        close(e->fd);
    free(e->tls);
    free(e);
}

/* smtp_out_cache_expire - idle too long (smtp_connection_cache_time_limit): QUIT */
static void
smtp_out_cache_expire(void *arg)
{
    struct smtp_out_idle *e = arg;

    log_trace("smtp-out", "%s: idle connection closed", e->host);
    smtp_out_cache_drop(e, true);
}

/* smtp_out_cache_io - the server spoke while idle (421, EOF, anything): close, silently */
static void
smtp_out_cache_io(int fd, unsigned events, void *arg)
{
    struct smtp_out_idle *e = arg;

    log_trace("smtp-out", "%s: idle connection ended by the server", e->host);
    smtp_out_cache_drop(e, false);
}

/* smtp_out_cache_put - keep the session's connection; the session no longer has one */
void
smtp_out_cache_put(struct smtp_out_sess *s)
{
    struct smtp_out *so = s->so;
    struct smtp_out_idle *e = xcalloc(1, sizeof(*e));

    e->so = so;
    smtp_out_cache_key(s, &e->key);
    e->fd = s->fd;
    s->fd = -1;
    if (s->watch != NULL)
        loop_fd_free(s->watch);
    s->watch = NULL;
    e->tls = s->tls;
    s->tls = NULL;
    e->ext = s->ext;
    str_copy(e->addr, s->addr, sizeof(e->addr));
    str_copy(e->host, s->host, sizeof(e->host));
    str_copy(e->relay, s->relay, sizeof(e->relay));
    e->uses = s->conn_use;
    e->born = s->born;
    e->watch = loop_fd_add(so->ctx->loop, e->fd, LOOP_READ, smtp_out_cache_io, e);
    e->timer = loop_timer_new(so->ctx->loop, smtp_out_cache_expire, e);
    loop_timer_start(e->timer, so->p->smtp_connection_cache_time_limit * 1000L);
    e->next = so->idle;
    if (so->idle != NULL)
        so->idle->prev = e;
    so->idle = e;
    so->nidle++;
}

/* smtp_out_cache_install - the idle connection becomes the session's */
static void
smtp_out_cache_install(struct smtp_out_sess *s, struct smtp_out_idle *e)
{
    s->fd = e->fd;
    e->fd = -1;
    loop_fd_free(e->watch);
    e->watch = NULL;
    s->watch = loop_fd_add(s->so->ctx->loop, s->fd, LOOP_READ, smtp_out_io, s);
    s->tls = e->tls;
    e->tls = NULL;
    s->ext = e->ext;
    str_copy(s->addr, e->addr, sizeof(s->addr));
    str_copy(s->host, e->host, sizeof(s->host));
    str_copy(s->relay, e->relay, sizeof(s->relay));
    s->conn_use = e->uses + 1;
    s->born = e->born;
    s->connected = s->ready = s->reused = true;
    smtp_out_cache_drop(e, false);
}

/*
 * smtp_out_cache_take - a kept connection for the session's delivery: it goes straight to
 * MAIL FROM; false when none fits (the session looks the next hop up and connects)
 */
bool
smtp_out_cache_take(struct smtp_out_sess *s)
{
    struct smtp_out_key k;
    struct smtp_out_idle *e;

    if (!smtp_out_cache_wanted(s))
        return false;
    if (smtp_out_sasl_identity_failed(s))
        return false; /* the sender's SASL identity is not known: a connection of its own */
    smtp_out_cache_key(s, &k);
    for (e = s->so->idle; e != NULL && !smtp_out_cache_same(&e->key, &k); e = e->next)
        ;
    if (e == NULL)
        return false;
    smtp_out_cache_install(s, e);
    smtp_out_envelope(s);
    if (s->over)
        smtp_out_hop_done(s);
    return true;
}

/* smtp_out_cache_free - the process ends: every idle connection is closed with QUIT */
void
smtp_out_cache_free(struct smtp_out *so)
{
    struct smtp_out_idle *next;

    for (struct smtp_out_idle *e = so->idle; e != NULL; e = next) {
        next = e->next;
        smtp_out_cache_drop(e, true);
    }
}
