/*
 * smtpd_anvil.c - per-client limits through anvil: sessions open at once
 * (smtpd_client_connection_count_limit), connects and recipients per anvil_rate_time_unit
 * (smtpd_client_connection_rate_limit, smtpd_client_recipient_rate_limit), AUTH commands
 * per anvil_rate_time_unit (smtpd_client_auth_rate_limit), except for the
 * clients in smtpd_client_event_limit_exceptions (default $mynetworks).
 *
 * One non-blocking connection per process to private/anvil carries every session's
 * requests; anvil answers in order, so the sessions waiting for an answer form a queue. A
 * session waits (takes no input) until its answer comes. anvil is an aid, not a gate: when
 * it cannot be reached or its connection breaks, the sessions go on without the limits and
 * the problem is logged (at most once a minute).
 *
 * Trusts: anvil's counts as far as anvil_counts_decode checks them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/anvil_proto.h"
#include "mail/match_list.h"
#include "smtpd/smtpd.h"

#define SMTPD_ANVIL_WARN_EVERY 60 /* seconds between two warnings that anvil is away */

/* A session waiting for its answer; sess is NULL once the session is gone. */
struct smtpd_anvil_wait {
    struct smtpd_session *sess;
    smtpd_anvil_done done;
    struct smtpd_anvil_wait *next;
};

struct smtpd_anvil {
    int sock;
    struct loop_fd *watch;
    struct ipc_reader reader;
    struct smtpd_anvil_wait *head, *tail;
    struct match_list *exceptions;
    time_t warned;
    unsigned generation; /* of the connection: sessions counted on an older one are gone */
};

/* smtpd_anvil_warn - anvil is away: say so, not more than once a minute */
static void
smtpd_anvil_warn(struct smtpd_anvil *an, const char *why)
{
    time_t now = time(NULL);

    if (now - an->warned < SMTPD_ANVIL_WARN_EVERY)
        return;
    an->warned = now;
    log_warn("anvil: %s: client limits are not enforced meanwhile", why);
}

/* smtpd_anvil_answer - the head of the queue gets counts (NULL: go on without limits) */
static void
smtpd_anvil_answer(struct smtpd_anvil *an, const struct anvil_counts *counts)
{
    struct smtpd_anvil_wait *w = an->head;

    an->head = w->next;
    if (an->head == NULL)
        an->tail = NULL;
    if (w->sess != NULL) {
        w->sess->anvil_wait = NULL;
        w->done(w->sess, counts);
        smtpd_session_resume(w->sess);
    }
    free(w);
}

/*
 * smtpd_anvil_close - drop the connection (why: the warning, NULL for none); every waiting
 * session goes on without limits, and anvil ends the sessions this connection counted
 */
static void
smtpd_anvil_close(struct smtpd_anvil *an, const char *why)
{
    if (an->sock >= 0) {
        if (why != NULL)
            smtpd_anvil_warn(an, why);
        loop_fd_free(an->watch);
        ipc_reader_free(&an->reader);
        close(an->sock);
        an->sock = -1;
    }
    while (an->head != NULL)
        smtpd_anvil_answer(an, NULL);
}

/*
 * smtpd_anvil_readable - anvil's answers, in order, to the sessions waiting for them;
 * anything wrong closes the connection
 */
static void
smtpd_anvil_readable(int fd, unsigned events, void *arg)
{
    struct smtpd_anvil *an = arg;
    struct anvil_counts counts;
    struct err err;
    enum ipc_status st;

    while ((st = ipc_reader_read(&an->reader, &err)) == IPC_OK) {
        bool good = an->head != NULL &&
                    anvil_counts_decode(&an->reader.rec, &an->reader.fds, &counts, &err);

        ipc_reader_reset(&an->reader);
        if (!good) {
            smtpd_anvil_close(an, an->head ? err.text : "an answer nobody asked for");
            return;
        }
        smtpd_anvil_answer(an, &counts);
    }
    if (st != IPC_AGAIN)
        smtpd_anvil_close(an, st == IPC_EOF ? "anvil closed the connection" : err.text);
}

/* smtpd_anvil_connect - a connection to anvil, if there is none; false if it cannot be had */
static bool
smtpd_anvil_connect(struct smtpd *smtpd)
{
    struct smtpd_anvil *an = smtpd->anvil;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int sock;

    if (an->sock >= 0)
        return true;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "private/anvil");
    if ((sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
        return false;
    if (connect(sock, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        char why[128];

        snprintf(why, sizeof(why), "connect to private/anvil: %s", strerror(errno));
        smtpd_anvil_warn(an, why);
        close(sock);
        return false;
    }
    an->sock = sock;
    an->generation++;
    ipc_reader_init(&an->reader, sock, ANVIL_RECORD_LIMIT);
    an->watch = loop_fd_add(smtpd->ctx->loop, sock, LOOP_READ, smtpd_anvil_readable, an);
    return true;
}

/* smtpd_anvil_send - one request about sess's client; false if anvil cannot be told */
static bool
smtpd_anvil_send(struct smtpd_session *sess, enum proto_msg msg)
{
    struct smtpd *smtpd = sess->smtpd;
    struct anvil_request req = {.msg = msg};
    struct err err;
    struct buf rec;
    bool good;

    if (!smtpd_anvil_connect(smtpd))
        return false;
    snprintf(req.service, sizeof(req.service), "%s", smtpd->ctx->service_name);
    snprintf(req.client, sizeof(req.client), "%s", sess->addr);
    buf_init(&rec, ANVIL_RECORD_LIMIT);
    /* A few dozen bytes to a local daemon that reads all the time: the send does not wait. */
    good = anvil_request_encode(&rec, &req, &err) &&
           ipc_send(smtpd->anvil->sock, &rec, NULL, 1000, &err) == IPC_OK;
    buf_free(&rec);
    if (!good)
        smtpd_anvil_close(smtpd->anvil, err.text);
    return good;
}

/* smtpd_anvil_ask - send msg and queue sess for the answer; false: go on without one */
static bool
smtpd_anvil_ask(struct smtpd_session *sess, enum proto_msg msg, smtpd_anvil_done done)
{
    struct smtpd_anvil *an = sess->smtpd->anvil;
    struct smtpd_anvil_wait *w;

    if (!smtpd_anvil_send(sess, msg))
        return false;
    w = xcalloc(1, sizeof(*w));
    w->sess = sess;
    w->done = done;
    if (an->tail)
        an->tail->next = w;
    else
        an->head = w;
    an->tail = w;
    sess->anvil_wait = w;
    return true;
}

/* smtpd_anvil_exempt - is the client one the limits do not apply to? */
static bool
smtpd_anvil_exempt(struct smtpd_session *sess)
{
    struct err err;

    return sess->smtpd->anvil->exceptions != NULL &&
           match_list_find(sess->smtpd->anvil->exceptions, sess->addr, &err) == MAP_FOUND;
}

/*
 * smtpd_anvil_session - count a new session; true if done will get its counts (the
 * session waits until then), false if there is nothing to count or nobody to ask
 */
bool
smtpd_anvil_session(struct smtpd_session *sess, smtpd_anvil_done done)
{
    const struct params *p = sess->smtpd->p;

    if (p->smtpd_client_connection_count_limit == 0 && p->smtpd_client_connection_rate_limit == 0)
        return false;
    if (smtpd_anvil_exempt(sess) || !smtpd_anvil_ask(sess, PROTO_ANVIL_CONNECT, done))
        return false;
    sess->anvil_generation = sess->smtpd->anvil->generation;
    return true;
}

/* smtpd_anvil_rcpt - count a recipient; as smtpd_anvil_session */
bool
smtpd_anvil_rcpt(struct smtpd_session *sess, smtpd_anvil_done done)
{
    if (sess->smtpd->p->smtpd_client_recipient_rate_limit == 0 || smtpd_anvil_exempt(sess))
        return false;
    return smtpd_anvil_ask(sess, PROTO_ANVIL_RCPT, done);
}

/* smtpd_anvil_auth - count an AUTH command; as smtpd_anvil_session */
bool
smtpd_anvil_auth(struct smtpd_session *sess, smtpd_anvil_done done)
{
    if (sess->smtpd->p->smtpd_client_auth_rate_limit == 0 || smtpd_anvil_exempt(sess))
        return false;
    return smtpd_anvil_ask(sess, PROTO_ANVIL_AUTH, done);
}

/* smtpd_anvil_end - the session is over: forget its wait, tell anvil if it was counted */
void
smtpd_anvil_end(struct smtpd_session *sess)
{
    struct smtpd_anvil *an = sess->smtpd->anvil;

    if (sess->anvil_wait != NULL)
        sess->anvil_wait->sess = NULL;
    sess->anvil_wait = NULL;
    if (sess->anvil_generation != 0 && sess->anvil_generation == an->generation && an->sock >= 0)
        smtpd_anvil_send(sess, PROTO_ANVIL_DISCONNECT);
    sess->anvil_generation = 0;
}

void
smtpd_anvil_init(struct smtpd *smtpd)
{
    struct smtpd_anvil *an = xcalloc(1, sizeof(*an));
    struct err err;

    an->sock = -1;
    an->warned = -SMTPD_ANVIL_WARN_EVERY;
    an->exceptions = match_list_open_words(&smtpd->p->smtpd_client_event_limit_exceptions,
                                           MATCH_ADDRESS, false, &err);
    if (an->exceptions == NULL && smtpd->p->smtpd_client_event_limit_exceptions.n > 0)
        log_warn("smtpd_client_event_limit_exceptions: %s: no client is exempt", err.text);
    smtpd->anvil = an;
}

void
smtpd_anvil_free(struct smtpd *smtpd)
{
    struct smtpd_anvil *an = smtpd->anvil;

    if (an == NULL)
        return;
    smtpd_anvil_close(an, NULL);
    match_list_close(an->exceptions);
    free(an);
    smtpd->anvil = NULL;
}
