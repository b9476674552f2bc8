/*
 * anvil.c - per-client counters for the receivers: sessions open now, and connects and
 * recipients per anvil_rate_time_unit (the part of Postfix's anvil(8) that smtpd's
 * smtpd_client_*_limit parameters need).
 *
 * One process (master.cf: process limit 1), event-driven, one connection per smtpd process.
 * It only counts; limits and replies are the receiver's. A rate counts the events since its
 * window opened; a window lasts anvil_rate_time_unit and the next event after it opens a
 * new one (Postfix's fixed-window approximation). Memory: one entry per (service, client)
 * with sessions open or with events in its window; a sweep every unit drops the others.
 *
 * Trusts: its clients as far as the skeleton's peer check admits them (smtpd, submission),
 * and nothing in their records beyond anvil_request_decode's checks. A connection can end
 * only the sessions it started itself, and those it did not end are ended when it goes;
 * one that reports more than ANVIL_OPEN_MAX open sessions is dropped, so no client can make
 * anvil's memory grow without bound (entries without sessions go with the next sweep).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/ipc.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "mail/anvil_proto.h"
#include "server/server.h"

#define ANVIL_HASH     4096
#define ANVIL_OPEN_MAX (256 * 1024) /* sessions one receiver may report open at once */

struct anvil_entry {
    char *key; /* "service client" */
    long count;
    long conn_rate, rcpt_rate, auth_rate;
    time_t window; /* when the rates' window opened */
    struct anvil_entry *next;
};

struct anvil {
    struct server_ctx *ctx;
    struct anvil_entry *hash[ANVIL_HASH];
    struct loop_timer *sweep;
};

/* One receiver process's connection, with the sessions it reported open. */
struct anvil_conn {
    struct anvil *a;
    int fd;
    struct loop_fd *watch;
    struct ipc_reader reader;
    struct strvec open;
};

static unsigned
anvil_hash(const char *key)
{
    return str_hash(key) % ANVIL_HASH;
}

/* anvil_find - the entry of key; created when create says so, else NULL if none */
static struct anvil_entry *
anvil_find(struct anvil *a, const char *key, bool create)
{
    unsigned h = anvil_hash(key);
    struct anvil_entry *e;

    for (e = a->hash[h]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    if (!create)
        return NULL;
    e = xcalloc(1, sizeof(*e));
    e->key = xstrdup(key);
    e->window = time(NULL);
    e->next = a->hash[h];
    a->hash[h] = e;
    return e;
}

/* anvil_roll - open a new rate window when the current one is over */
static void
anvil_roll(struct anvil *a, struct anvil_entry *e, time_t now)
{
    if (now - e->window >= (time_t)a->ctx->params.anvil_rate_time_unit) {
        e->window = now;
        e->conn_rate = e->rcpt_rate = e->auth_rate = 0;
    }
}

/* anvil_sweep - drop entries without open sessions whose window is over */
static void
anvil_sweep(void *arg)
{
    struct anvil *a = arg;
    time_t now = time(NULL);

    for (size_t h = 0; h < ANVIL_HASH; h++)
        for (struct anvil_entry **pp = &a->hash[h]; *pp;) {
            struct anvil_entry *e = *pp;

            anvil_roll(a, e, now);
            if (e->count > 0 || e->conn_rate > 0 || e->rcpt_rate > 0 || e->auth_rate > 0) {
                pp = &e->next;
                continue;
            }
            *pp = e->next;
            free(e->key);
            free(e);
        }
}

/* anvil_end_session - one session of key is over (it was open on this connection) */
static bool
anvil_end_session(struct anvil_conn *c, const char *key)
{
    struct anvil_entry *e;

    for (size_t i = 0; i < c->open.n; i++)
        if (strcmp(c->open.v[i], key) == 0) {
            free(c->open.v[i]);
            c->open.v[i] = c->open.v[--c->open.n];
            if ((e = anvil_find(c->a, key, false)) != NULL && e->count > 0)
                e->count--;
            return true;
        }
    return false;
}

/* anvil_answer - the counts, back to the receiver */
static bool
anvil_answer(struct anvil_conn *c, long count, long rate)
{
    const struct anvil_counts counts = {.count = count, .rate = rate};
    struct err err;
    struct buf rec;
    bool good;

    buf_init(&rec, ANVIL_RECORD_LIMIT);
    good = anvil_counts_encode(&rec, &counts, &err) &&
           ipc_send(c->fd, &rec, NULL, 1000, &err) == IPC_OK;
    if (!good)
        log_warn("answer to a receiver: %s", err.text);
    buf_free(&rec);
    return good;
}

/* anvil_request - one request; false ends the connection */
static bool
anvil_request(struct anvil_conn *c)
{
    struct anvil_request req;
    struct anvil_entry *e;
    struct err err;
    char key[2 * ANVIL_NAME_MAX + 2];

    if (!anvil_request_decode(&c->reader.rec, &c->reader.fds, &req, &err)) {
        ipc_reader_reset(&c->reader);
        log_warn("bad request from a receiver: %s", err.text);
        return false;
    }
    ipc_reader_reset(&c->reader);
    snprintf(key, sizeof(key), "%s %s", req.service, req.client);
    if (req.msg == PROTO_ANVIL_DISCONNECT) {
        if (!anvil_end_session(c, key))
            log_warn("%s: the end of a session this receiver did not report", key);
        return true;
    }
    e = anvil_find(c->a, key, true);
    anvil_roll(c->a, e, time(NULL));
    if (req.msg == PROTO_ANVIL_RCPT)
        return anvil_answer(c, e->count, ++e->rcpt_rate);
    if (req.msg == PROTO_ANVIL_AUTH)
        return anvil_answer(c, e->count, ++e->auth_rate);
    if (c->open.n >= ANVIL_OPEN_MAX) { /* more than any receiver serves: a confused peer */
        log_warn("a receiver reports more than %d open sessions: connection dropped",
                 ANVIL_OPEN_MAX);
        return false;
    }
    e->count++;
    strvec_add(&c->open, key);
    return anvil_answer(c, e->count, ++e->conn_rate);
}

/* anvil_conn_end - the receiver went away: its open sessions end with it */
static void
anvil_conn_end(struct anvil_conn *c)
{
    struct server_ctx *ctx = c->a->ctx;

    while (c->open.n > 0)
        anvil_end_session(c, c->open.v[c->open.n - 1]);
    strvec_free(&c->open);
    loop_fd_free(c->watch);
    ipc_reader_free(&c->reader);
    close(c->fd);
    free(c);
    server_session_done(ctx);
}

static void
anvil_readable(int fd, unsigned events, void *arg)
{
    struct anvil_conn *c = arg;
    struct err err;
    enum ipc_status st;

    while ((st = ipc_reader_read(&c->reader, &err)) == IPC_OK)
        if (!anvil_request(c)) {
            anvil_conn_end(c);
            return;
        }
    if (st == IPC_AGAIN)
        return;
    if (st == IPC_ERROR)
        log_warn("receiver connection: %s", err.text);
    anvil_conn_end(c);
}

static void
anvil_service(struct server_ctx *ctx, int fd)
{
    struct anvil_conn *c = xcalloc(1, sizeof(*c));

    c->a = ctx->app;
    c->fd = fd;
    strvec_init(&c->open);
    ipc_reader_init(&c->reader, fd, ANVIL_RECORD_LIMIT);
    c->watch = loop_fd_add(ctx->loop, fd, LOOP_READ, anvil_readable, c);
}

static void
anvil_post_jail(struct server_ctx *ctx)
{
    struct anvil *a = xcalloc(1, sizeof(*a));

    ctx->app = a;
    a->ctx = ctx;
    a->sweep = loop_timer_new(ctx->loop, anvil_sweep, a);
    loop_timer_every(a->sweep, ctx->params.anvil_rate_time_unit * 1000L);
}

static void
anvil_on_exit(struct server_ctx *ctx)
{
    struct anvil *a = ctx->app;

    if (a == NULL)
        return;
    loop_timer_free(a->sweep);
    for (size_t h = 0; h < ANVIL_HASH; h++)
        while (a->hash[h]) {
            struct anvil_entry *e = a->hash[h];
            a->hash[h] = e->next;
            free(e->key);
            free(e);
        }
    free(a);
    ctx->app = NULL;
}

int
main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .name = "anvil",
        .max_sessions = 1024,
        .unlimited = true,
        .post_jail = anvil_post_jail,
        .service = anvil_service,
        .on_exit = anvil_on_exit,
    };

    return server_main(argc, argv, &ops);
}
