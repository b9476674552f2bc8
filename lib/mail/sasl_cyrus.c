/*
 * sasl_cyrus.c - the Cyrus SASL backend (libsasl2) of sasl_server.h.
 *
 * libsasl2 may block in any start or step: saslauthd, PAM, an LDAP auxprop, a sasldb on a
 * slow disk. So every call that can reach a plugin (sasl_server_new, _start, _step,
 * sasl_dispose) runs on a helper thread (lib/core/offload.c) and the answer comes back on
 * the loop. libsasl2 is not safe to call from two threads without mutex callbacks, so one
 * mutex serializes all of them: a slow backend makes the AUTH exchanges of a process wait
 * for each other, never the loop. The loop's thread calls libsasl2 only while no helper can
 * (in open, before any job, and in close, after the helpers stopped).
 *
 * A sasl_conn_t belongs to a struct cyrus_conn, counted: the auth holds one reference and
 * each job one, so a connection freed by its session while its step still runs is disposed
 * of (on a helper) only after that step. Cyrus's log lines made on a helper are kept with the
 * job and logged on the loop.
 *
 * Security options become SASL_SEC_* properties, chosen per session from its TLS state. We
 * do not tell Cyrus the TLS strength (SASL_SSF_EXTERNAL): with an external SSF above 1 it
 * drops noplaintext by itself, and smtpd_sasl_tls_security_options = noplaintext must mean
 * what it says. An authorization identity other than the authentication identity is refused
 * by Cyrus's default SASL_CB_PROXY_POLICY, which we leave in place.
 *
 * Runs as mail_owner; trusts libsasl2 and its configuration (smtpd_sasl_path.conf under
 * cyrus_sasl_config_path), never the client's data, which sasl_server.c checked.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sasl/sasl.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/offload.h"
#include "mail/sasl_impl.h"

#define CYRUS_LOG_LIMIT 4096 /* Cyrus's log lines kept from one job */

struct cyrus_server {
    struct offload *offload;
    pthread_mutex_t lock; /* held by the one thread inside libsasl2 */
    char *mechs[2];       /* [0] without TLS, [1] with TLS */
    char *confpath;
    sasl_callback_t callbacks[3];
    bool closing; /* the helpers stopped: dispose of connections right here */
};

enum cyrus_op {
    CYRUS_START,
    CYRUS_STEP,
    CYRUS_DISPOSE
};

/* One session's connection; only the job that holds it touches conn. */
struct cyrus_conn {
    struct cyrus_server *cs;
    struct sasl_auth *a; /* NULL once the session freed it */
    int refs;
    sasl_conn_t *conn;
    unsigned opts; /* the session's security options */
    char *service, *fqdn, *realm, *local_ipport, *remote_ipport;
    struct offload_job *job; /* the start or step in progress */
    char *ok_user; /* Cyrus succeeded with data: sent as a challenge, OK next, for this user */
};

/* One start or step: what the helper gets and what it finds. */
struct cyrus_job {
    struct cyrus_conn *cc;
    enum cyrus_op op;
    char mech[SASL_MECH_NAME_MAX + 1];
    unsigned char *in; /* NULL: no initial response */
    size_t inlen;
    int rc;
    unsigned char *out;
    size_t outlen;
    char *user;
    char *detail;
    struct buf log; /* lines: 'w' (a warning) or 'i' (information), the text, LF */
};

/* Cyrus's log lines of the running job; only the thread holding cs->lock touches it. */
static struct buf *cyrus_log_sink;
static bool cyrus_active; /* sasl_server_init is once per process */

/* cyrus_log - Cyrus's SASL_CB_LOG: on the loop log now, on a helper keep it for the loop */
static int
cyrus_log(void *context, int level, const char *message)
{
    if (level > SASL_LOG_NOTE && log_verbose() == 0)
        return SASL_OK;
    if (cyrus_log_sink != NULL)
        buf_printf(cyrus_log_sink, "%c%s\n", level <= SASL_LOG_WARN ? 'w' : 'i', message);
    else if (level <= SASL_LOG_WARN)
        log_warn("SASL: %s", message);
    else
        log_info("SASL: %s", message);
    return SASL_OK;
}

/* cyrus_log_flush - on the loop: the lines a job kept */
static void
cyrus_log_flush(struct buf *log)
{
    char *text = log->data, *line;

    if (log->len == 0)
        return;
    while ((line = strsep(&text, "\n")) != NULL) {
        if (line[0] == 'w')
            log_warn("SASL: %s", line + 1);
        else if (line[0] == 'i')
            log_info("SASL: %s", line + 1);
    }
}

/* cyrus_confpath - Cyrus's SASL_CB_GETCONFPATH: cyrus_sasl_config_path */
static int
cyrus_confpath(void *context, char **path)
{
    *path = context;
    return SASL_OK;
}

/* cyrus_conn_open - a sasl_conn_t for cc (with cs->lock held); a SASL_* code */
static int
cyrus_conn_open(struct cyrus_conn *cc)
{
    sasl_security_properties_t props;
    int rc;

    rc = sasl_server_new(cc->service, cc->fqdn, cc->realm, cc->local_ipport, cc->remote_ipport,
                         NULL, 0, &cc->conn);
    if (rc != SASL_OK) {
        cc->conn = NULL;
        return rc;
    }
    sasl_opts_props(cc->opts, &props);
    return sasl_setprop(cc->conn, SASL_SEC_PROPS, &props);
}

/* cyrus_run - on a helper: one start, step or dispose, under the lock; touches only the job
 * and its connection */
static int
cyrus_run(void *data)
{
    struct cyrus_job *job = data;
    struct cyrus_conn *cc = job->cc;
    const char *out = NULL;
    unsigned outlen = 0;
    const void *user = NULL;

    pthread_mutex_lock(&cc->cs->lock);
    cyrus_log_sink = &job->log;
    if (job->op == CYRUS_DISPOSE) {
        sasl_dispose(&cc->conn);
    } else {
        if (cc->conn == NULL && job->op == CYRUS_START)
            job->rc = cyrus_conn_open(cc);
        if (cc->conn != NULL && job->rc == SASL_OK) {
            if (job->op == CYRUS_START)
                job->rc = sasl_server_start(cc->conn, job->mech, (const char *)job->in,
                                            (unsigned)job->inlen, &out, &outlen);
            else
                job->rc = sasl_server_step(cc->conn, (const char *)job->in, (unsigned)job->inlen,
                                           &out, &outlen);
            if (job->rc == SASL_OK || job->rc == SASL_CONTINUE) {
                job->out = xmalloc(outlen + 1);
                memcpy(job->out, out != NULL ? out : "", outlen);
                job->outlen = outlen;
            }
            if (job->rc == SASL_OK && sasl_getprop(cc->conn, SASL_USERNAME, &user) == SASL_OK &&
                user != NULL)
                job->user = xstrdup(user);
            if (job->rc != SASL_OK && job->rc != SASL_CONTINUE)
                job->detail = xstrdup(sasl_errdetail(cc->conn));
        } else if (job->rc != SASL_OK) {
            job->detail = xstrdup(sasl_errstring(job->rc, NULL, NULL));
        } else {
            job->rc = SASL_FAIL;
            job->detail = xstrdup("no SASL connection");
        }
    }
    cyrus_log_sink = NULL;
    pthread_mutex_unlock(&cc->cs->lock);
    return 0;
}

static void
cyrus_job_free(void *data)
{
    struct cyrus_job *job = data;

    if (job->in != NULL) {
        wipe(job->in, job->inlen);
        free(job->in);
    }
    if (job->out != NULL) {
        wipe(job->out, job->outlen);
        free(job->out);
    }
    free(job->user);
    free(job->detail);
    buf_free(&job->log);
    free(job);
}

static void
cyrus_conn_free(struct cyrus_conn *cc)
{
    free(cc->service);
    free(cc->fqdn);
    free(cc->realm);
    free(cc->local_ipport);
    free(cc->remote_ipport);
    free(cc);
}

static void cyrus_done(int unused, void *arg);
static void cyrus_released(void *data);

/* cyrus_submit - job to a helper; a start or step holds a reference to its connection */
static void
cyrus_submit(struct cyrus_conn *cc, struct cyrus_job *job)
{
    struct offload_job *oj;

    job->cc = cc;
    buf_init(&job->log, CYRUS_LOG_LIMIT);
    if (job->op == CYRUS_DISPOSE) {
        offload_call(cc->cs->offload, cyrus_run, job, cyrus_released, NULL, NULL);
        return;
    }
    cc->refs++;
    oj = offload_call(cc->cs->offload, cyrus_run, job, cyrus_released, cyrus_done, job);
    cc->job = oj;
}

/* cyrus_unref - drop a reference; the last one disposes of the connection (on a helper) */
static void
cyrus_unref(struct cyrus_conn *cc)
{
    if (--cc->refs > 0)
        return;
    if (cc->conn != NULL && !cc->cs->closing) {
        struct cyrus_job *job = xcalloc(1, sizeof(*job));

        job->op = CYRUS_DISPOSE;
        cyrus_submit(cc, job); /* its release frees cc */
        return;
    }
    if (cc->conn != NULL)
        sasl_dispose(&cc->conn); /* the helpers have stopped: nobody else is inside libsasl2 */
    cyrus_conn_free(cc);
}

/* cyrus_released - on the loop, after the job's done (or instead of it): drop its reference */
static void
cyrus_released(void *data)
{
    struct cyrus_job *job = data;
    struct cyrus_conn *cc = job->cc;

    cyrus_log_flush(&job->log);
    if (job->op == CYRUS_DISPOSE)
        cyrus_conn_free(cc);
    else
        cyrus_unref(cc);
    cyrus_job_free(job);
}

/* cyrus_done - on the loop: what Cyrus said, as a report to the session */
static void
cyrus_done(int unused, void *arg)
{
    struct cyrus_job *job = arg;
    struct cyrus_conn *cc = job->cc;
    struct sasl_auth *a = cc->a;
    char why[300];

    cc->job = NULL;
    cyrus_log_flush(&job->log);
    buf_reset(&job->log);
    switch (job->rc) {
    case SASL_OK:
        if (job->outlen > 0) {
            /* RFC 4954 has no data with success: a last challenge, answered empty. */
            cc->ok_user = xstrdup(job->user != NULL ? job->user : "");
            sasl_auth_report_data(a, job->out, job->outlen);
            break;
        }
        if (job->user == NULL) {
            sasl_auth_report(a, SASL_RESULT_TEMP, "Cyrus SASL succeeded without a user name");
            break;
        }
        sasl_auth_set_user(a, job->user);
        sasl_auth_report(a, SASL_RESULT_OK, NULL);
        break;
    case SASL_CONTINUE:
        sasl_auth_report_data(a, job->out, job->outlen);
        break;
    case SASL_TRYAGAIN:
    case SASL_UNAVAIL:
    case SASL_NOMEM:
        snprintf(why, sizeof(why), "Cyrus SASL: %s", job->detail ? job->detail : "unavailable");
        sasl_auth_report(a, SASL_RESULT_TEMP, why);
        break;
    default:
        snprintf(why, sizeof(why), "%s", job->detail ? job->detail : "authentication failure");
        sasl_auth_report(a, SASL_RESULT_FAIL, why);
        break;
    }
}

/* cyrus_ipport - "addr;port", Cyrus's form of an end point, or NULL if a part is unknown */
static char *
cyrus_ipport(const char *addr, const char *port)
{
    if (*addr == 0 || *port == 0)
        return NULL;
    return xasprintf("%s;%s", addr, port);
}

static char *
cyrus_strdup_or_null(const char *s)
{
    return s != NULL && *s != 0 ? xstrdup(s) : NULL;
}

static void
cyrus_start(struct sasl_auth *a, const unsigned char *data, size_t len, const char *b64)
{
    struct cyrus_server *cs = a->s->data;
    const struct params *p = a->s->p;
    struct cyrus_conn *cc = xcalloc(1, sizeof(*cc));
    struct cyrus_job *job = xcalloc(1, sizeof(*job));

    cc->cs = cs;
    cc->a = a;
    cc->refs = 1;
    cc->opts = a->s->opts[a->tls];
    cc->service = xstrdup(p->smtpd_sasl_service);
    cc->fqdn = cyrus_strdup_or_null(p->myhostname);
    cc->realm = cyrus_strdup_or_null(p->smtpd_sasl_local_domain);
    cc->local_ipport = cyrus_ipport(a->local_addr, a->local_port);
    cc->remote_ipport = cyrus_ipport(a->client_addr, a->client_port);
    a->data = cc;
    job->op = CYRUS_START;
    memcpy(job->mech, a->mech, sizeof(job->mech));
    if (data != NULL) {
        job->in = xmemdup(data, len + 1);
        job->inlen = len;
    }
    cyrus_submit(cc, job);
}

static void
cyrus_step(struct sasl_auth *a, const unsigned char *data, size_t len, const char *b64)
{
    struct cyrus_conn *cc = a->data;
    struct cyrus_job *job;

    if (cc->ok_user != NULL) {
        if (len != 0) {
            sasl_auth_report(a, SASL_RESULT_FAIL, "data after the last challenge of a success");
            return;
        }
        if (*cc->ok_user == 0) {
            sasl_auth_report(a, SASL_RESULT_TEMP, "Cyrus SASL succeeded without a user name");
            return;
        }
        sasl_auth_set_user(a, cc->ok_user);
        sasl_auth_report(a, SASL_RESULT_OK, NULL);
        return;
    }
    job = xcalloc(1, sizeof(*job));
    job->op = CYRUS_STEP;
    job->in = xmemdup(data, len + 1);
    job->inlen = len;
    cyrus_submit(cc, job);
}

/* cyrus_cancel - the session is done with its auth: a running job is left to finish */
static void
cyrus_cancel(struct sasl_auth *a)
{
    struct cyrus_conn *cc = a->data;

    if (cc == NULL)
        return;
    a->data = NULL;
    if (cc->job != NULL)
        offload_cancel(cc->job);
    cc->job = NULL;
    cc->a = NULL;
    free(cc->ok_user);
    cc->ok_user = NULL;
    cyrus_unref(cc);
}

/* cyrus_listmech - the mechanisms a session with these options is offered, upper case */
static char *
cyrus_listmech(const struct params *p, unsigned opts, struct err *err)
{
    sasl_security_properties_t props;
    sasl_conn_t *conn = NULL;
    const char *list = NULL;
    unsigned len = 0;
    int count = 0, rc;
    char *mechs;

    rc = sasl_server_new(p->smtpd_sasl_service, *p->myhostname ? p->myhostname : NULL,
                         *p->smtpd_sasl_local_domain ? p->smtpd_sasl_local_domain : NULL, NULL,
                         NULL, NULL, 0, &conn);
    if (rc != SASL_OK) {
        err_set(err, "Cyrus SASL: sasl_server_new: %s", sasl_errstring(rc, NULL, NULL));
        return NULL;
    }
    sasl_opts_props(opts, &props);
    if (sasl_setprop(conn, SASL_SEC_PROPS, &props) != SASL_OK) {
        err_set(err, "Cyrus SASL: security properties: %s", sasl_errdetail(conn));
        sasl_dispose(&conn);
        return NULL;
    }
    rc = sasl_listmech(conn, NULL, "", " ", "", &list, &len, &count);
    mechs = xstrdup(rc == SASL_OK && list != NULL ? list : "");
    if (rc != SASL_OK && rc != SASL_NOMECH)
        log_warn("Cyrus SASL: no mechanisms: %s", sasl_errdetail(conn));
    sasl_dispose(&conn);
    for (char *c = mechs; *c != 0; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
    return mechs;
}

/* A callback's function in sasl_callback_t's generic type (through void (*)(void), which
 * the compiler accepts as a cast between function types). */
#define CYRUS_CB(fn) ((int (*)(void))(void (*)(void))(fn))

static bool
cyrus_open(struct sasl_server *s, struct err *err)
{
    const struct params *p = s->p;
    struct cyrus_server *cs;
    sasl_callback_t *cb;
    int rc;

    if (cyrus_active)
        return err_set(err, "Cyrus SASL: a second server in one process");
    cs = xcalloc(1, sizeof(*cs));
    cb = cs->callbacks;
    cb->id = SASL_CB_LOG;
    cb->proc = CYRUS_CB(cyrus_log);
    cb++;
    if (*p->cyrus_sasl_config_path != 0) {
        cs->confpath = xstrdup(p->cyrus_sasl_config_path);
        cb->id = SASL_CB_GETCONFPATH;
        cb->proc = CYRUS_CB(cyrus_confpath);
        cb->context = cs->confpath;
        cb++;
    }
    cb->id = SASL_CB_LIST_END;
    if ((rc = sasl_server_init(cs->callbacks, p->smtpd_sasl_path)) != SASL_OK) {
        err_set(err, "Cyrus SASL: sasl_server_init(%s): %s", p->smtpd_sasl_path,
                sasl_errstring(rc, NULL, NULL));
        free(cs->confpath);
        free(cs);
        return false;
    }
    cyrus_active = true;
    s->data = cs;
    for (int tls = 0; tls < 2; tls++)
        if ((cs->mechs[tls] = cyrus_listmech(p, s->opts[tls], err)) == NULL) {
            s->data = NULL;
            free(cs->mechs[0]);
            sasl_server_done();
            cyrus_active = false;
            free(cs->confpath);
            free(cs);
            return false;
        }
    pthread_mutex_init(&cs->lock, NULL);
    cs->offload = offload_new(s->loop);
    return true;
}

/* cyrus_close - after every auth was freed: let the helpers finish, then leave libsasl2 */
static void
cyrus_close(struct sasl_server *s)
{
    struct cyrus_server *cs = s->data;

    cs->closing = true;
    offload_free(cs->offload);
    sasl_server_done();
    cyrus_active = false;
    pthread_mutex_destroy(&cs->lock);
    free(cs->mechs[0]);
    free(cs->mechs[1]);
    free(cs->confpath);
    free(cs);
}

static const char *
cyrus_mechs(struct sasl_server *s, bool tls)
{
    struct cyrus_server *cs = s->data;

    return cs->mechs[tls];
}

const struct sasl_backend sasl_cyrus_backend = {
    .name = "cyrus",
    .open = cyrus_open,
    .close = cyrus_close,
    .mechs = cyrus_mechs,
    .start = cyrus_start,
    .step = cyrus_step,
    .cancel = cyrus_cancel,
};
