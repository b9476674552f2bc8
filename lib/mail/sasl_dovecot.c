/*
 * sasl_dovecot.c - the Dovecot backend of sasl_server.h: Dovecot's authentication protocol
 * (version 1.x, doc/auth-protocol.txt in Dovecot) over its UNIX socket, smtpd_sasl_path
 * (relative to queue_directory, the daemons' working directory, or absolute).
 *
 * One connection per process carries the AUTH exchanges of all its sessions, each a
 * request with its own id:
 *
 *   us:      VERSION 1 2, CPID pid
 *   Dovecot: VERSION 1 n, MECH name flags... (one per mechanism), SPID, CUID, COOKIE, DONE
 *   us:      AUTH id MECH service=smtp nologin lip= rip= lport= rport= [secured] resp=B64
 *   Dovecot: CONT id B64 | OK id user=... | FAIL id [user=...] [reason=...] [temp]
 *   us:      CONT id B64 (the client's next response), CANCEL id (a session gave up)
 *
 * (fields separated by TAB, lines ended by LF). We say minor version 2 so that an empty
 * "resp=" (the client's "=") is an empty initial response, not a missing one.
 *
 * The handshake is waited for only when the server is built, before the process takes
 * clients, so that its first EHLO already offers AUTH. After a lost connection it runs on
 * the loop like everything else: AUTH is offered again once it is done, and an AUTH that
 * comes meanwhile waits for it. Either way it has DOVECOT_HANDSHAKE_MS: a Dovecot that
 * accepts and never answers is not asked again for DOVECOT_HUNG_SECONDS. When
 * the connection breaks, every request waiting for Dovecot gets TEMP at once, and one waiting for
 * its client gets TEMP at its next step; while Dovecot cannot be reached no mechanism is offered.
 *
 * Trusts: Dovecot's answers only as far as they are checked here: lines are bounded
 * (DOVECOT_LINE_MAX), ids must be ours, challenges must be strict base64, mechanism names
 * must be mechanism names, user names are cut and cleaned (sasl_server.c). Nothing from an
 * SMTP client reaches the socket but a mechanism from Dovecot's own list and strict base64,
 * neither of which can hold a TAB or LF; the session's addresses and smtpd_sasl_service are
 * checked too.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/lineio.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "mail/sasl_impl.h"

#define DOVECOT_LINE_MAX     16384  /* a line either way (Dovecot's own limit) */
#define DOVECOT_OUT_LIMIT    262144 /* requests queued for a Dovecot that does not read */
#define DOVECOT_HANDSHAKE_MS 3000
#define DOVECOT_HUNG_SECONDS 10
#define DOVECOT_MECHS_MAX    64 /* mechanisms kept from one handshake */

/* What each MECH flag is, as a security option that refuses it. */
#define DOVECOT_PRIVATE 0x100u /* never offered (APOP and the like) */
#define DOVECOT_MUTUAL  0x200u /* has mutual authentication */

struct dovecot_mech {
    char name[SASL_MECH_NAME_MAX + 1];
    unsigned flags; /* SASL_OPT_* bits the mechanism fails, DOVECOT_PRIVATE, DOVECOT_MUTUAL */
};

/* One AUTH exchange known to Dovecot (or waiting for the client). */
struct dovecot_req {
    struct sasl_auth *a;
    unsigned id;
    unsigned generation; /* of the connection it was sent on */
    bool open;           /* Dovecot holds it: sent, and no OK or FAIL yet */
    bool held;           /* came during the handshake: sent when it is done */
    char *held_resp;     /* its initial response (base64) meanwhile, or NULL */
    struct dovecot_req *prev, *next;
};

enum dovecot_state {
    DOVECOT_DOWN,
    DOVECOT_HANDSHAKE,
    DOVECOT_READY
};

struct dovecot_server {
    struct sasl_server *s;
    enum dovecot_state state;
    int sock;
    struct loop_fd *watch;
    struct loop_timer *timer; /* the handshake's deadline on the loop */
    struct lineio_in in;
    struct lineio_out out;
    bool version_seen;
    unsigned minor;
    unsigned generation;
    struct dovecot_mech mechs[DOVECOT_MECHS_MAX];
    size_t nmechs;
    char *offered[2];      /* [tls]: the names passing the security options, "" when down */
    char *last_offered[2]; /* [tls]: offered after the last handshake that finished */
    struct dovecot_req *reqs;
    unsigned next_id;
    time_t hung_until; /* a handshake timed out: no new one before this */
    char why[256];     /* why the connection is down, for TEMP texts */
};

static void dovecot_readable(int fd, unsigned events, void *arg);
static void dovecot_release_held(struct dovecot_server *ds);

/* dovecot_unhold - a held request is answered otherwise: forget its credentials */
static void
dovecot_unhold(struct dovecot_req *r)
{
    if (r->held_resp != NULL)
        wipe(r->held_resp, strlen(r->held_resp));
    free(r->held_resp);
    r->held_resp = NULL;
    r->held = false;
}

/* dovecot_path - smtpd_sasl_path as given: a relative one is under the working directory */
static const char *
dovecot_path(const struct dovecot_server *ds)
{
    return ds->s->p->smtpd_sasl_path;
}

/* dovecot_set_offered - the lists to advertise: the mechanisms of the handshake that pass
 * each security option (up), or none (down) */
static void
dovecot_set_offered(struct dovecot_server *ds, bool up)
{
    for (int tls = 0; tls < 2; tls++) {
        unsigned opts = ds->s->opts[tls];
        struct buf list;

        buf_init(&list, BUF_UNLIMITED);
        for (size_t i = 0; up && i < ds->nmechs; i++) {
            const struct dovecot_mech *m = &ds->mechs[i];

            if ((m->flags & DOVECOT_PRIVATE) || (m->flags & opts & ~SASL_OPT_MUTUAL_AUTH) ||
                ((opts & SASL_OPT_MUTUAL_AUTH) && !(m->flags & DOVECOT_MUTUAL)))
                continue;
            if (list.len > 0)
                buf_putc(&list, ' ');
            buf_puts(&list, m->name);
        }
        free(ds->offered[tls]);
        ds->offered[tls] = list.len > 0 ? buf_steal(&list) : xstrdup("");
        buf_free(&list);
    }
}

/* dovecot_close - forget the connection; requests waiting for Dovecot get TEMP */
static void
dovecot_close(struct dovecot_server *ds, const char *why)
{
    char was[sizeof(ds->why)];

    if (ds->sock < 0)
        return;
    snprintf(was, sizeof(was), "%s", ds->why);
    snprintf(ds->why, sizeof(ds->why), "Dovecot auth %s: %s", dovecot_path(ds), why);
    if (strcmp(was, ds->why) != 0) /* once per cause, not once per EHLO */
        log_warn("SASL: %s", ds->why);
    loop_fd_free(ds->watch);
    ds->watch = NULL;
    loop_timer_stop(ds->timer);
    lineio_in_free(&ds->in);
    lineio_out_free(&ds->out);
    close(ds->sock);
    ds->sock = -1;
    ds->state = DOVECOT_DOWN;
    dovecot_set_offered(ds, false);
    for (struct dovecot_req *r = ds->reqs; r != NULL; r = r->next) {
        if (!r->a->busy || r->generation != ds->generation)
            continue;
        dovecot_unhold(r);
        sasl_auth_report(r->a, SASL_RESULT_TEMP, ds->why);
    }
}

/* dovecot_flush - write what is queued; false (and closed) on an error */
static bool
dovecot_flush(struct dovecot_server *ds)
{
    switch (lineio_out_flush(&ds->out, ds->sock)) {
    case LINEIO_FLUSHED:
        loop_fd_set(ds->watch, LOOP_READ);
        return true;
    case LINEIO_PENDING:
        loop_fd_set(ds->watch, LOOP_READ | LOOP_WRITE);
        return true;
    case LINEIO_ERROR:
        break;
    }
    dovecot_close(ds, strerror(errno));
    return false;
}

/* dovecot_send - one line (without its LF) to Dovecot; false if the connection broke */
static bool
dovecot_send(struct dovecot_server *ds, const char *line)
{
    size_t len = strlen(line);

    if (len > DOVECOT_LINE_MAX || !lineio_out_put(&ds->out, line, len) ||
        !lineio_out_put(&ds->out, "\n", 1)) {
        dovecot_close(ds, "requests pile up unread");
        return false;
    }
    return dovecot_flush(ds);
}

/* dovecot_find - the request with this id on the current connection */
static struct dovecot_req *
dovecot_find(struct dovecot_server *ds, const char *id_text)
{
    long id;

    if (!str_to_long(id_text, 1, UINT32_MAX, &id))
        return NULL;
    for (struct dovecot_req *r = ds->reqs; r != NULL; r = r->next)
        if (r->id == (unsigned long)id && r->generation == ds->generation && r->a->busy)
            return r;
    return NULL;
}

/* dovecot_unescape - Dovecot's tab escapes (\001 and a letter) undone in place; a NUL ends */
static char *
dovecot_unescape(char *s)
{
    char *out = s;

    for (const char *in = s; *in != 0; in++) {
        if (*in != '\001') {
            *out++ = *in;
            continue;
        }
        switch (*++in) {
        case 0:
            *out = 0;
            return s;
        case '0':
            *out = 0;
            return s;
        case '1':
            *out++ = '\001';
            break;
        case 't':
            *out++ = '\t';
            break;
        case 'r':
            *out++ = '\r';
            break;
        case 'n':
        case 'l':
            *out++ = '\n';
            break;
        default:
            *out++ = *in;
            break;
        }
    }
    *out = 0;
    return s;
}

/* dovecot_answer - OK, FAIL or CONT for one of our requests; fields after the id */
static void
dovecot_answer(struct dovecot_server *ds, const char *cmd, struct dovecot_req *r, char *rest)
{
    const char *user = NULL, *reason = NULL;
    bool temp = false;
    char *field, why[400];
    unsigned char *data;
    size_t len, n;

    if (strcmp(cmd, "CONT") == 0) {
        const char *b64 = rest != NULL ? rest : "";

        len = strcspn(b64, "\t");
        data = xmalloc(BASE64_DECODED_MAX(len) + 1);
        if (base64_decode(b64, len, data, &n)) {
            char *copy = xstrndup(b64, len);

            sasl_auth_report(r->a, SASL_RESULT_CHALLENGE, copy);
            free(copy);
        } else {
            sasl_auth_report(r->a, SASL_RESULT_TEMP, "Dovecot sent a challenge not in base64");
        }
        free(data);
        return;
    }
    while ((field = strsep(&rest, "\t")) != NULL) {
        if (strncmp(field, "user=", 5) == 0)
            user = dovecot_unescape(field + 5);
        else if (strncmp(field, "reason=", 7) == 0)
            reason = dovecot_unescape(field + 7);
        else if (strcmp(field, "temp") == 0 || strcmp(field, "code=temp_fail") == 0)
            temp = true;
    }
    if (user != NULL && *user != 0)
        sasl_auth_set_tried_user(r->a, user);
    if (strcmp(cmd, "OK") == 0) {
        if (user == NULL || *user == 0) {
            sasl_auth_report(r->a, SASL_RESULT_TEMP, "Dovecot said OK without a user name");
            return;
        }
        sasl_auth_set_user(r->a, user);
        sasl_auth_report(r->a, SASL_RESULT_OK, NULL);
        return;
    }
    snprintf(why, sizeof(why), "%s%s%s",
             temp ? "Dovecot: temporary failure" : "authentication failed", reason ? ": " : "",
             reason ? reason : "");
    for (char *c = why; *c != 0; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    sasl_auth_report(r->a, temp ? SASL_RESULT_TEMP : SASL_RESULT_FAIL, why);
}

/* dovecot_mech_line - one MECH line of the handshake */
static void
dovecot_mech_line(struct dovecot_server *ds, char *rest)
{
    static const struct {
        const char *flag;
        unsigned bit;
    } flags[] = {
        {"plaintext", SASL_OPT_NOPLAINTEXT},   {"anonymous", SASL_OPT_NOANONYMOUS},
        {"dictionary", SASL_OPT_NODICTIONARY}, {"active", SASL_OPT_NOACTIVE},
        {"private", DOVECOT_PRIVATE},          {"mutual-auth", DOVECOT_MUTUAL},
    };
    char *name = strsep(&rest, "\t"), *flag;
    struct dovecot_mech *m;
    size_t len = strlen(name);

    if (ds->nmechs == DOVECOT_MECHS_MAX || len == 0 || len > SASL_MECH_NAME_MAX ||
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != len) {
        log_warn("SASL: Dovecot auth %s: mechanism \"%.40s\" ignored", dovecot_path(ds), name);
        return;
    }
    m = &ds->mechs[ds->nmechs++];
    memcpy(m->name, name, len + 1);
    m->flags = 0;
    while ((flag = strsep(&rest, "\t")) != NULL)
        for (size_t i = 0; i < nitems(flags); i++)
            if (strcmp(flag, flags[i].flag) == 0)
                m->flags |= flags[i].bit;
}

/* dovecot_handshake_line - a line before DONE; false: close the connection (why set) */
static bool
dovecot_handshake_line(struct dovecot_server *ds, const char *cmd, char *rest, const char **why)
{
    if (!ds->version_seen) {
        char *major = strsep(&rest, "\t"), *minor = strsep(&rest, "\t");
        long v;

        if (strcmp(cmd, "VERSION") != 0 || major == NULL || strcmp(major, "1") != 0) {
            *why = "not Dovecot's authentication protocol version 1";
            return false;
        }
        ds->minor = minor != NULL && str_to_long(minor, 0, 1000000, &v) ? (unsigned)v : 0;
        ds->version_seen = true;
    } else if (strcmp(cmd, "MECH") == 0 && rest != NULL) {
        dovecot_mech_line(ds, rest);
    } else if (strcmp(cmd, "DONE") == 0) {
        ds->state = DOVECOT_READY;
        ds->hung_until = 0;
        ds->why[0] = 0;
        loop_timer_stop(ds->timer);
        dovecot_set_offered(ds, true);
        for (int tls = 0; tls < 2; tls++) {
            free(ds->last_offered[tls]);
            ds->last_offered[tls] = xstrdup(ds->offered[tls]);
        }
        dovecot_release_held(ds);
    }
    /* SPID, CUID, COOKIE: only for master requests and APOP, which SMTP AUTH needs not. */
    return true;
}

/* dovecot_line - one line from Dovecot; false: it broke the protocol and was closed */
static bool
dovecot_line(struct dovecot_server *ds, char *line)
{
    char *rest = line, *cmd = strsep(&rest, "\t"), *id;
    const char *why = NULL;
    struct dovecot_req *r;

    if (ds->state == DOVECOT_HANDSHAKE) {
        if (!dovecot_handshake_line(ds, cmd, rest, &why)) {
            dovecot_close(ds, why);
            return false;
        }
        return true;
    }
    if (strcmp(cmd, "OK") != 0 && strcmp(cmd, "FAIL") != 0 && strcmp(cmd, "CONT") != 0)
        return true; /* nothing we asked for: a later protocol's news */
    if ((id = strsep(&rest, "\t")) == NULL) {
        dovecot_close(ds, "an answer without an id");
        return false;
    }
    /* An answer for a request we cancelled (or never made) is dropped. */
    if ((r = dovecot_find(ds, id)) != NULL) {
        r->open = strcmp(cmd, "CONT") == 0;
        dovecot_answer(ds, cmd, r, rest);
    }
    return true;
}

/* dovecot_input - read and handle what Dovecot sent; false if the connection is gone */
static bool
dovecot_input(struct dovecot_server *ds)
{
    long n = lineio_in_fill(&ds->in, ds->sock);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return true;
    if (n < 0) {
        dovecot_close(ds, strerror(errno));
        return false;
    }
    for (;;) {
        switch (lineio_in_get(&ds->in)) {
        case LINEIO_LINE:
            if (!dovecot_line(ds, ds->in.line.data))
                return false;
            continue;
        case LINEIO_TOO_LONG:
            dovecot_close(ds, "a line too long");
            return false;
        case LINEIO_NEED:
            break;
        }
        break;
    }
    if (n == 0) {
        dovecot_close(ds, "connection closed");
        return false;
    }
    return true;
}

static void
dovecot_readable(int fd, unsigned events, void *arg)
{
    struct dovecot_server *ds = arg;

    if ((events & LOOP_WRITE) && !dovecot_flush(ds))
        return;
    if (events & LOOP_READ)
        dovecot_input(ds);
}

/* dovecot_wait - the handshake, waited for; false (closed) if it did not finish in time */
static bool
dovecot_wait(struct dovecot_server *ds)
{
    struct timespec start, now;
    long left = DOVECOT_HANDSHAKE_MS;

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (ds->state == DOVECOT_HANDSHAKE) {
        struct pollfd pfd = {.fd = ds->sock, .events = POLLIN};
        int rc;

        if (lineio_out_pending(&ds->out))
            pfd.events |= POLLOUT;
        if ((rc = poll(&pfd, 1, (int)left)) < 0 && errno != EINTR) {
            dovecot_close(ds, strerror(errno));
            return false;
        }
        if (rc > 0 && (pfd.revents & POLLOUT) && !dovecot_flush(ds))
            return false;
        if (rc > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)) && !dovecot_input(ds))
            return false;
        clock_gettime(CLOCK_MONOTONIC, &now);
        left = DOVECOT_HANDSHAKE_MS -
               ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
        if (ds->state == DOVECOT_HANDSHAKE && left <= 0) {
            ds->hung_until = time(NULL) + DOVECOT_HUNG_SECONDS;
            dovecot_close(ds, "no handshake in time");
            return false;
        }
    }
    return ds->state == DOVECOT_READY;
}

/* dovecot_hung - the handshake on the loop passed its deadline */
static void
dovecot_hung(void *arg)
{
    struct dovecot_server *ds = arg;

    if (ds->state != DOVECOT_HANDSHAKE)
        return;
    ds->hung_until = time(NULL) + DOVECOT_HUNG_SECONDS;
    dovecot_close(ds, "no handshake in time");
}

/*
 * dovecot_connect - true with a ready connection; else start one if Dovecot can be had,
 * and with wait, wait for its handshake (otherwise it finishes on the loop)
 */
static bool
dovecot_connect(struct dovecot_server *ds, bool wait)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    const char *path = dovecot_path(ds);
    char hello[64];
    int sock;

    if (ds->state == DOVECOT_READY)
        return true;
    if (ds->state == DOVECOT_HANDSHAKE)
        return false;
    if (ds->hung_until != 0 && time(NULL) < ds->hung_until)
        return false;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(ds->why, sizeof(ds->why), "Dovecot auth %s: path too long", path);
        return false;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    if ((sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
        connect(sock, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        char was[sizeof(ds->why)];

        snprintf(was, sizeof(was), "%s", ds->why);
        snprintf(ds->why, sizeof(ds->why), "connect to Dovecot auth %s: %s", path, strerror(errno));
        if (strcmp(was, ds->why) != 0) /* once per cause, not once per EHLO */
            log_warn("SASL: %s", ds->why);
        if (sock >= 0)
            close(sock);
        return false;
    }
    ds->sock = sock;
    ds->generation++;
    ds->state = DOVECOT_HANDSHAKE;
    ds->version_seen = false;
    ds->nmechs = 0;
    lineio_in_init(&ds->in, DOVECOT_LINE_MAX);
    lineio_out_init(&ds->out, DOVECOT_OUT_LIMIT);
    ds->watch = loop_fd_add(ds->s->loop, sock, LOOP_READ, dovecot_readable, ds);
    snprintf(hello, sizeof(hello), "VERSION\t1\t2\nCPID\t%ld\n", (long)getpid());
    if (!lineio_out_put(&ds->out, hello, strlen(hello)) || !dovecot_flush(ds))
        return false;
    if (!wait) {
        loop_timer_start(ds->timer, DOVECOT_HANDSHAKE_MS);
        return false;
    }
    if (!dovecot_wait(ds))
        return false;
    ds->why[0] = 0;
    return true;
}

static bool
dovecot_open(struct sasl_server *s, struct err *err)
{
    struct dovecot_server *ds = xcalloc(1, sizeof(*ds));

    ds->s = s;
    ds->sock = -1;
    ds->next_id = 1;
    ds->timer = loop_timer_new(s->loop, dovecot_hung, ds);
    s->data = ds;
    dovecot_set_offered(ds, false);
    dovecot_connect(ds, true); /* not there yet is no error: it is asked again at each use */
    return true;
}

static void
dovecot_close_server(struct sasl_server *s)
{
    struct dovecot_server *ds = s->data;

    if (ds->sock >= 0) {
        loop_fd_free(ds->watch);
        lineio_in_free(&ds->in);
        lineio_out_free(&ds->out);
        close(ds->sock);
    }
    loop_timer_free(ds->timer);
    for (int tls = 0; tls < 2; tls++) {
        free(ds->offered[tls]);
        free(ds->last_offered[tls]);
    }
    free(ds);
}

static const char *
dovecot_mechs(struct sasl_server *s, bool tls)
{
    struct dovecot_server *ds = s->data;

    dovecot_connect(ds, false);
    return ds->offered[tls];
}

/* dovecot_clean - text fit for a protocol field: no control characters; "" otherwise */
static const char *
dovecot_clean(const char *text)
{
    for (const char *c = text; *c != 0; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return "";
    return text;
}

/* dovecot_send_auth - the AUTH line of a request, with the initial response b64 (or none) */
static void
dovecot_send_auth(struct dovecot_server *ds, struct dovecot_req *r, const char *b64)
{
    struct sasl_auth *a = r->a;
    const char *service = dovecot_clean(a->s->p->smtpd_sasl_service);
    struct buf line;

    if (!sasl_mech_in_list(ds->offered[a->tls], a->mech)) {
        /* Offered before a restart, gone after it: Dovecot would hang up on an AUTH for it. */
        sasl_auth_report(a, SASL_RESULT_TEMP, "mechanism no longer offered by Dovecot");
        return;
    }
    r->generation = ds->generation;
    r->id = ds->next_id++;
    if (ds->next_id == 0)
        ds->next_id = 1;
    buf_init(&line, DOVECOT_LINE_MAX + 1);
    buf_printf(&line, "AUTH\t%u\t%s\tservice=%s\tnologin", r->id, a->mech,
               *service ? service : "smtp");
    if (*dovecot_clean(a->local_addr))
        buf_printf(&line, "\tlip=%s", a->local_addr);
    if (*dovecot_clean(a->client_addr))
        buf_printf(&line, "\trip=%s", a->client_addr);
    if (*dovecot_clean(a->local_port))
        buf_printf(&line, "\tlport=%s", a->local_port);
    if (*dovecot_clean(a->client_port))
        buf_printf(&line, "\trport=%s", a->client_port);
    if (a->tls)
        buf_puts(&line, "\tsecured");
    /* resp= last: Dovecot ignores whatever follows it. */
    if (b64 != NULL && !buf_printf(&line, "\tresp=%s", b64)) {
        buf_free(&line);
        sasl_auth_report(a, SASL_RESULT_FAIL, "response too long for Dovecot");
        return;
    }
    r->open = true;
    dovecot_send(ds, buf_str(&line));
    wipe(line.data, line.len);
    buf_free(&line);
}

/*
 * dovecot_release_held - the handshake is done: send what waited for it. A send can close
 * the connection, which answers every held request itself: then stop.
 */
static void
dovecot_release_held(struct dovecot_server *ds)
{
    for (struct dovecot_req *r = ds->reqs; r != NULL && ds->state == DOVECOT_READY; r = r->next) {
        char *resp = r->held_resp;

        if (!r->held || !r->a->busy)
            continue;
        r->held = false;
        r->held_resp = NULL;
        dovecot_send_auth(ds, r, resp);
        if (resp != NULL)
            wipe(resp, strlen(resp));
        free(resp);
    }
}

static void
dovecot_start(struct sasl_auth *a, const unsigned char *data, size_t len, const char *b64)
{
    struct dovecot_server *ds = a->s->data;
    struct dovecot_req *r = xcalloc(1, sizeof(*r));

    r->a = a;
    a->data = r;
    if ((r->next = ds->reqs) != NULL)
        r->next->prev = r;
    ds->reqs = r;
    if (dovecot_connect(ds, false)) {
        dovecot_send_auth(ds, r, b64);
    } else if (ds->state == DOVECOT_HANDSHAKE) { /* a reconnect under way: wait for it */
        r->held = true;
        r->held_resp = b64 ? xstrdup(b64) : NULL;
        r->generation = ds->generation;
    } else {
        sasl_auth_report(a, SASL_RESULT_TEMP, ds->why);
    }
}

static void
dovecot_step(struct sasl_auth *a, const unsigned char *data, size_t len, const char *b64)
{
    struct dovecot_server *ds = a->s->data;
    struct dovecot_req *r = a->data;
    struct buf line;

    if (r->generation != ds->generation || ds->state != DOVECOT_READY) {
        sasl_auth_report(a, SASL_RESULT_TEMP,
                         ds->why[0] ? ds->why : "the connection to Dovecot auth was lost");
        return;
    }
    buf_init(&line, DOVECOT_LINE_MAX + 1);
    if (!buf_printf(&line, "CONT\t%u\t%s", r->id, b64)) {
        buf_free(&line);
        sasl_auth_report(a, SASL_RESULT_FAIL, "response too long for Dovecot");
        return;
    }
    dovecot_send(ds, buf_str(&line));
    wipe(line.data, line.len);
    buf_free(&line);
}

/* dovecot_cancel - the session is done with its request; Dovecot is told if it still
 * holds it (working on it, or waiting for a response the session will not send) and knows
 * CANCEL (protocol 1.2, Dovecot 2.3) */
static void
dovecot_cancel(struct sasl_auth *a)
{
    struct dovecot_server *ds = a->s->data;
    struct dovecot_req *r = a->data;
    bool tell;
    char line[64];

    if (r == NULL)
        return;
    tell =
        r->open && r->generation == ds->generation && ds->state == DOVECOT_READY && ds->minor >= 2;
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        ds->reqs = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    snprintf(line, sizeof(line), "CANCEL\t%u", r->id);
    dovecot_unhold(r);
    free(r);
    a->data = NULL;
    if (tell)
        dovecot_send(ds, line);
}

static bool
dovecot_known(struct sasl_server *s, bool tls, const char *mech)
{
    struct dovecot_server *ds = s->data;

    return ds->last_offered[tls] != NULL && sasl_mech_in_list(ds->last_offered[tls], mech);
}

const struct sasl_backend sasl_dovecot_backend = {
    .name = "dovecot",
    .open = dovecot_open,
    .close = dovecot_close_server,
    .mechs = dovecot_mechs,
    .start = dovecot_start,
    .step = dovecot_step,
    .cancel = dovecot_cancel,
    .known = dovecot_known,
};
