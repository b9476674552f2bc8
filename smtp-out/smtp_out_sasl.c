/*
 * smtp_out_sasl.c - AUTH to the server (RFC 4954) with Cyrus SASL's client library, between
 * EHLO (the one inside TLS, when there is TLS) and MAIL FROM, as Postfix's smtp does it.
 *
 * Credentials come from smtp_sasl_password_maps ("username:password"), looked up as
 * Postfix does: the envelope sender (address, then @domain; only with
 * smtp_sender_dependent_authentication and a sender that is not null), then the server's
 * host name, then the next hop as qmgr gave it ("[relay.example]:587"). No entry, or a
 * server that offers no AUTH: the mail goes without AUTH, and the server decides.
 *
 * The tables are root's (0600 is usual): they are opened in pre_jail, as root, before the
 * skeleton drops to mail_owner, as Postfix opens them before it drops privileges; an LMDB
 * table stays mapped and a texthash one in memory. sasl_client_init runs there too, so
 * that the plugins load before a chroot.
 *
 * Security properties:
 *   - No password crosses in plaintext unless main.cf says so: the security options
 *     without TLS (smtp_sasl_security_options, default noplaintext, noanonymous) make
 *     Cyrus refuse PLAIN and LOGIN, so a server that offers AUTH without STARTTLS gets no
 *     AUTH at all and the delivery defers (4.7.0, "no mechanism available"). Inside TLS
 *     smtp_sasl_tls_security_options apply. t/smtp-out-sasl.t records the wire to check.
 *   - The server's mechanism names reach Cyrus only as smtp_ext.c kept them (SASL names),
 *     and its challenges only as strict base64.
 *   - The password lives in memory only for the exchange, and is wiped when it ends; so is
 *     the output buffer that carried it, once the server answered.
 *
 * Cyrus's client calls run on the event loop: the mechanisms a relay offers (PLAIN, LOGIN,
 * CRAM-MD5, SCRAM) compute without I/O. A mechanism that would block (GSSAPI) would stall
 * the process; filter it out with smtp_sasl_mechanism_filter.
 *
 * Trusts: main.cf and the password tables; the server's replies only as smtp_resp.c parsed
 * them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sasl/sasl.h>

#include "core/base64.h"
#include "core/log.h"
#include "core/map.h"
#include "core/mem.h"
#include "core/str.h"
#include "mail/map_addr.h"
#include "mail/sasl_opts.h"
#include "smtp-out/smtp_out.h"

#define SMTP_OUT_SASL_LINE_MAX 2000 /* the longest AUTH line smtp_out_send carries whole */

/* One AUTH exchange on one connection. */
struct smtp_out_sasl {
    sasl_conn_t *conn;
    sasl_callback_t cb[4];
    char user[SMTP_OUT_SASL_USER_MAX];
    sasl_secret_t *secret; /* the password, wiped and freed with the exchange */
    bool aborting;         /* "*" was sent: the next reply ends it */
};

/* smtp_out_sasl_log - Cyrus's SASL_CB_LOG */
static int
smtp_out_sasl_log(void *context, int level, const char *message)
{
    if (level <= SASL_LOG_WARN)
        log_warn("SASL authentication failure: %s", message);
    else if (level <= SASL_LOG_NOTE || log_verbose() > 0)
        log_info("SASL: %s", message);
    return SASL_OK;
}

/*
 * smtp_out_sasl_init - before the privilege drop: Cyrus's client library and the password
 * tables. A table that cannot be opened defers every delivery that would need it.
 */
void
smtp_out_sasl_init(struct smtp_out *so)
{
    static const sasl_callback_t callbacks[] = {
        {SASL_CB_LOG, (int (*)(void))(void (*)(void))smtp_out_sasl_log, NULL},
        {SASL_CB_LIST_END, NULL, NULL},
    };
    const struct params *p = so->p;
    struct err err;
    int rc;

    if (!p->smtp_sasl_auth_enable)
        return;
    so->sasl_opts[0] =
        sasl_opts_parse(&p->smtp_sasl_security_options, "smtp_sasl_security_options");
    so->sasl_opts[1] =
        sasl_opts_parse(&p->smtp_sasl_tls_security_options, "smtp_sasl_tls_security_options");
    if ((rc = sasl_client_init(callbacks)) != SASL_OK) {
        so->sasl_error = xasprintf("Cyrus SASL client: %s", sasl_errstring(rc, NULL, NULL));
        log_warn("%s", so->sasl_error);
        return;
    }
    so->sasl_ready = true;
    if (p->smtp_sasl_password_maps.n == 0)
        return;
    so->sasl_passwd = map_list_open_param(&p->smtp_sasl_password_maps, MAP_FOLD_FIXED, &err);
    if (so->sasl_passwd == NULL) {
        so->sasl_error = xasprintf("smtp_sasl_password_maps: %s", err.text);
        log_warn("%s", so->sasl_error);
    }
}

void
smtp_out_sasl_free(struct smtp_out *so)
{
    if (so->sasl_passwd != NULL)
        map_list_close(so->sasl_passwd);
    so->sasl_passwd = NULL;
    free(so->sasl_error);
    so->sasl_error = NULL;
    if (so->sasl_ready)
        sasl_client_done();
    so->sasl_ready = false;
}

/* smtp_out_sasl_sender - the sender's entry (address, then @domain); a map_lookup status */
static enum map_status
smtp_out_sasl_sender(struct smtp_out_sess *s, char **value, struct err *err)
{
    const struct params *p = s->so->p;
    struct map_addr_opts opts = {.recipient_delimiter = p->recipient_delimiter};
    struct map_addr_match match = {0};
    enum map_status st;

    if (!p->smtp_sender_dependent_authentication || !*s->req.sender)
        return MAP_NOTFOUND;
    st = map_addr_find(s->so->sasl_passwd, MAP_ADDR_VIRTUAL, s->req.sender, &opts, &match, err);
    if (st == MAP_FOUND)
        *value = xstrdup(match.value);
    map_addr_match_free(&match);
    return st;
}

/* smtp_out_sasl_key - one key (the host name, the next hop); a map_lookup status */
static enum map_status
smtp_out_sasl_key(struct smtp_out_sess *s, const char *key, char **value, struct err *err)
{
    const char *v;
    enum map_status st = map_list_lookup(s->so->sasl_passwd, key, 0, &v, err);

    if (st == MAP_FOUND)
        *value = xstrdup(v);
    return st;
}

/* smtp_out_sasl_free_value - a looked-up "user:password", wiped */
static void
smtp_out_sasl_free_value(char **value)
{
    if (*value == NULL)
        return;
    wipe(*value, strlen(*value));
    free(*value);
    *value = NULL;
}

/* smtp_out_sasl_is_user - does "user:password" name user? */
static bool
smtp_out_sasl_is_user(const char *value, const char *user)
{
    size_t n = strcspn(value, ":");

    return strlen(user) == n && strncmp(value, user, n) == 0;
}

/*
 * smtp_out_sasl_lookup - "user:password" for this delivery and server, in Postfix's order:
 * sender, server host name, next hop; the caller wipes and frees *value. The sender's step
 * goes by smtp_out_sasl_identity's answer (what the connection cache's key holds): its
 * error is this lookup's error, no entry then is none now, and an entry must still name the
 * same user, so that AUTH never authenticates as someone the key does not say.
 */
static enum map_status
smtp_out_sasl_lookup(struct smtp_out_sess *s, char **value, struct err *err)
{
    const char *id = smtp_out_sasl_identity(s);
    enum map_status st = MAP_NOTFOUND;

    *value = NULL;
    if (s->so->sasl_passwd == NULL)
        return MAP_NOTFOUND;
    if (s->sasl_id_failed) {
        err_set(err, "%s", s->sasl_id_why);
        return MAP_ERROR;
    }
    if (s->sasl_id_entry) {
        st = smtp_out_sasl_sender(s, value, err);
        if (st != MAP_ERROR && (*value == NULL || !smtp_out_sasl_is_user(*value, id))) {
            smtp_out_sasl_free_value(value);
            err_set(err, "the sender's entry changed during the delivery");
            return MAP_ERROR;
        }
        return st;
    }
    st = smtp_out_sasl_key(s, smtp_out_hop_host(s), value, err);
    if (st == MAP_NOTFOUND)
        st = smtp_out_sasl_key(s, s->req.nexthop, value, err);
    return st;
}

/*
 * smtp_out_sasl_identity - the SASL user name the sender maps to with
 * smtp_sender_dependent_authentication, "" otherwise (no entry, or the option off): what
 * the connection cache adds to its key, so that one sender's authenticated connection
 * never carries another sender's mail. Without the option the credentials depend only on
 * the server and the next hop, which the key has already. A table error is remembered
 * (sasl_id_failed): such a delivery neither takes nor leaves a kept connection, and defers
 * at AUTH; the lookup is made once per delivery, and AUTH goes by it.
 */
const char *
smtp_out_sasl_identity(struct smtp_out_sess *s)
{
    struct err err;
    char *value = NULL;

    if (s->sasl_id_known)
        return s->sasl_id;
    s->sasl_id_known = true;
    s->sasl_id[0] = 0;
    if (!s->so->p->smtp_sasl_auth_enable || s->so->sasl_passwd == NULL)
        return s->sasl_id;
    switch (smtp_out_sasl_sender(s, &value, &err)) {
    case MAP_FOUND:
        s->sasl_id_entry = true;
        value[strcspn(value, ":")] = 0;
        str_copy(s->sasl_id, value, sizeof(s->sasl_id));
        break;
    case MAP_ERROR:
        s->sasl_id_failed = true;
        str_copy(s->sasl_id_why, err.text, sizeof(s->sasl_id_why));
        break;
    case MAP_NOTFOUND:
        break;
    }
    smtp_out_sasl_free_value(&value);
    return s->sasl_id;
}

/* smtp_out_sasl_identity_failed - could the sender's entry not be looked up (a table
 * error)? Such a delivery neither takes nor leaves a kept connection. */
bool
smtp_out_sasl_identity_failed(struct smtp_out_sess *s)
{
    smtp_out_sasl_identity(s);
    return s->sasl_id_failed;
}

/* smtp_out_sasl_simple - SASL_CB_USER and SASL_CB_AUTHNAME: the user name (Postfix gives
 * Cyrus the same name for both: PLAIN sends user NUL user NUL password) */
static int
smtp_out_sasl_simple(void *context, int id, const char **result, unsigned *len)
{
    struct smtp_out_sasl *x = context;

    *result = x->user;
    if (len != NULL)
        *len = (unsigned)strlen(x->user);
    return SASL_OK;
}

/* smtp_out_sasl_pass - SASL_CB_PASS */
static int
smtp_out_sasl_pass(sasl_conn_t *conn, void *context, int id, sasl_secret_t **secret)
{
    struct smtp_out_sasl *x = context;

    *secret = x->secret;
    return SASL_OK;
}

/* smtp_out_sasl_new - the exchange's state for "user:password" (wiped here) */
static struct smtp_out_sasl *
smtp_out_sasl_new(char *value)
{
    struct smtp_out_sasl *x = xcalloc(1, sizeof(*x));
    char *colon = strchr(value, ':');
    const char *pass = colon != NULL ? colon + 1 : "";
    size_t plen = strlen(pass);

    if (colon != NULL)
        *colon = 0;
    str_copy(x->user, value, sizeof(x->user));
    x->secret = xcalloc(1, sizeof(*x->secret) + plen + 1);
    x->secret->len = plen;
    memcpy(x->secret->data, pass, plen);
    wipe(value, strlen(value) + (colon != NULL ? plen + 1 : 0));
    x->cb[0] =
        (sasl_callback_t){SASL_CB_USER, (int (*)(void))(void (*)(void))smtp_out_sasl_simple, x};
    x->cb[1] =
        (sasl_callback_t){SASL_CB_AUTHNAME, (int (*)(void))(void (*)(void))smtp_out_sasl_simple, x};
    x->cb[2] =
        (sasl_callback_t){SASL_CB_PASS, (int (*)(void))(void (*)(void))smtp_out_sasl_pass, x};
    x->cb[3] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
    return x;
}

/* smtp_out_sasl_end - the exchange is over (or the connection): forget the password */
void
smtp_out_sasl_end(struct smtp_out_sess *s)
{
    struct smtp_out_sasl *x = s->sasl;

    if (x == NULL)
        return;
    if (x->conn != NULL)
        sasl_dispose(&x->conn);
    wipe(x->secret, sizeof(*x->secret) + x->secret->len);
    free(x->secret);
    wipe(x, sizeof(*x));
    free(x);
    s->sasl = NULL;
}

/* smtp_out_sasl_filter - the server's mechanisms that smtp_sasl_mechanism_filter allows */
static void
smtp_out_sasl_filter(const struct smtp_out_sess *s, char *out, size_t size)
{
    const struct strvec *filter = &s->so->p->smtp_sasl_mechanism_filter;
    const char *list = s->ext.auth;
    size_t n = 0;

    out[0] = 0;
    while (*list) {
        size_t len = strcspn(list, " ");
        char mech[SMTP_EXT_AUTH_MAX];
        bool allowed = filter->n == 0;

        snprintf(mech, sizeof(mech), "%.*s", (int)len, list);
        for (size_t k = 0; k < filter->n && !allowed; k++)
            allowed = str_eq_nocase(filter->v[k], mech);
        if (allowed && n + len + 2 <= size)
            n += (size_t)snprintf(out + n, size - n, "%s%s", n ? " " : "", mech);
        list += len + (list[len] == ' ');
    }
}

/* smtp_out_sasl_defer - this server cannot be authenticated to: defer, and QUIT */
static void smtp_out_sasl_defer(struct smtp_out_sess *s, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
smtp_out_sasl_defer(struct smtp_out_sess *s, const char *dsn, const char *fmt, ...)
{
    char why[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    s->reached = true; /* the server answered: our side, not the destination, failed */
    smtp_out_sasl_end(s);
    smtp_out_fail_all(s, DELIVER_DEFER, dsn, "%s", why);
    smtp_out_quit(s);
}

/* smtp_out_sasl_cannot - Cyrus refused to go on: say so, end the exchange */
static void
smtp_out_sasl_cannot(struct smtp_out_sess *s, int rc)
{
    const char *why = rc == SASL_NOMECH                          ? "no mechanism available"
                      : s->sasl != NULL && s->sasl->conn != NULL ? sasl_errdetail(s->sasl->conn)
                                                                 : sasl_errstring(rc, NULL, NULL);

    smtp_out_sasl_defer(s, "4.7.0",
                        "SASL authentication failed; cannot authenticate to server %s: %s", s->host,
                        why);
}

/* smtp_out_sasl_send - the client's data as one base64 line, after prefix ("AUTH PLAIN ", ""):
 * "=" for an empty initial response, nothing when there is none (data NULL) */
static bool
smtp_out_sasl_send(struct smtp_out_sess *s, const char *prefix, const char *data, unsigned len)
{
    size_t blen = BASE64_ENCODED_LEN(len);
    char *b64;

    if (blen + strlen(prefix) > SMTP_OUT_SASL_LINE_MAX)
        return false;
    b64 = xmalloc(blen + 1);
    base64_encode(data != NULL ? data : "", len, b64);
    if (data == NULL)
        b64[0] = 0;
    smtp_out_send(s, SMTP_OUT_AUTH, 0, "%s%s", prefix,
                  data == NULL          ? ""
                  : len == 0 && *prefix ? "="
                                        : b64);
    wipe(b64, blen);
    free(b64);
    return true;
}

/* smtp_out_sasl_start - AUTH with the mechanism Cyrus picks from the list */
static void
smtp_out_sasl_start(struct smtp_out_sess *s, const char *mechs)
{
    struct smtp_out_sasl *x = s->sasl;
    sasl_security_properties_t props;
    sasl_interact_t *interact = NULL;
    const char *out = NULL, *mech = NULL;
    unsigned outlen = 0;
    char prefix[64];
    int rc;

    rc = sasl_client_new("smtp", smtp_out_hop_host(s), NULL, NULL, x->cb, 0, &x->conn);
    if (rc == SASL_OK) {
        sasl_opts_props(s->so->sasl_opts[s->tls != NULL], &props);
        rc = sasl_setprop(x->conn, SASL_SEC_PROPS, &props);
    }
    if (rc == SASL_OK)
        rc = sasl_client_start(x->conn, mechs, &interact, &out, &outlen, &mech);
    if (rc != SASL_OK && rc != SASL_CONTINUE) {
        smtp_out_sasl_cannot(s, rc);
        return;
    }
    snprintf(prefix, sizeof(prefix), "AUTH %s%s", mech, out != NULL ? " " : "");
    /* smtp_out_send arms AUTH's stage; a deferral has queued QUIT, whose stage stays */
    if (!smtp_out_sasl_send(s, prefix, out, outlen))
        smtp_out_sasl_defer(
            s, "4.7.0",
            "SASL authentication failed; cannot authenticate to server %s: initial response too long",
            s->host);
}

/*
 * smtp_out_sasl_after_hello - EHLO was accepted (inside TLS when there is TLS): AUTH when
 * it is enabled, offered, and this delivery has credentials for the server. True when AUTH
 * or a deferral took the session over, false when MAIL goes next.
 */
bool
smtp_out_sasl_after_hello(struct smtp_out_sess *s)
{
    struct smtp_out *so = s->so;
    char mechs[SMTP_EXT_AUTH_MAX];
    char *value = NULL;
    struct err err;
    enum map_status st;

    if (!so->p->smtp_sasl_auth_enable || *s->sasl_user || !(s->ext.flags & SMTP_EXT_AUTH))
        return false;
    if (so->sasl_error != NULL) {
        smtp_out_sasl_defer(s, "4.3.0", "%s", so->sasl_error);
        return true;
    }
    st = smtp_out_sasl_lookup(s, &value, &err);
    if (st == MAP_ERROR) {
        smtp_out_sasl_defer(s, "4.3.0", "smtp_sasl_password_maps lookup failure: %s", err.text);
        return true;
    }
    if (st != MAP_FOUND || value == NULL)
        return false; /* no credentials for this server: the mail goes without AUTH */
    smtp_out_sasl_filter(s, mechs, sizeof(mechs));
    if (!*mechs) {
        log_warn("%s offered no supported AUTH mechanisms: '%s'", s->host, s->ext.auth);
        wipe(value, strlen(value));
        free(value);
        return false;
    }
    s->sasl = smtp_out_sasl_new(value);
    free(value);
    smtp_out_sasl_start(s, mechs);
    return true;
}

/* smtp_out_sasl_step - a 334 challenge: Cyrus's answer, as one line */
static void
smtp_out_sasl_step(struct smtp_out_sess *s)
{
    struct smtp_out_sasl *x = s->sasl;
    const char *text = buf_str(&s->resp.text);
    size_t tlen = strcspn(text, " \n");
    unsigned char *in = xmalloc(BASE64_DECODED_MAX(tlen) + 1);
    sasl_interact_t *interact = NULL;
    const char *out = NULL;
    unsigned outlen = 0;
    size_t inlen = 0;
    int rc;

    if (!base64_decode(text, tlen, in, &inlen)) {
        free(in);
        log_warn("%s: malformed SASL challenge from server %s", s->req.queue_id, s->host);
        x->aborting = true;
        smtp_out_send(s, SMTP_OUT_AUTH, 0, "*");
        return;
    }
    rc = sasl_client_step(x->conn, (const char *)in, (unsigned)inlen, &interact, &out, &outlen);
    free(in);
    if ((rc != SASL_OK && rc != SASL_CONTINUE) || !smtp_out_sasl_send(s, "", out, outlen)) {
        log_warn("%s: SASL authentication with %s: %s", s->req.queue_id, s->host,
                 rc == SASL_OK || rc == SASL_CONTINUE ? "response too long"
                                                      : sasl_errdetail(x->conn));
        x->aborting = true;
        smtp_out_send(s, SMTP_OUT_AUTH, 0, "*");
    }
}

/* smtp_out_sasl_refused - the server refused: its words, deferred (or, without
 * smtp_sasl_auth_soft_bounce, a 5xx bounced) */
static void
smtp_out_sasl_refused(struct smtp_out_sess *s)
{
    int cls = s->resp.code / 100;
    enum deliver_status status =
        cls == 5 && !s->so->p->smtp_sasl_auth_soft_bounce ? DELIVER_BOUNCE : DELIVER_DEFER;
    char text[400], dsn[16];

    smtp_out_flat(&s->resp, text, sizeof(text));
    if (s->resp.dsn[0] == '0' + cls)
        snprintf(dsn, sizeof(dsn), "%s", s->resp.dsn);
    else
        snprintf(dsn, sizeof(dsn), "%d.7.0", cls == 5 ? 5 : 4);
    if (status == DELIVER_DEFER)
        dsn[0] = '4';
    s->reached = true;
    smtp_out_sasl_end(s);
    smtp_out_fail_all(s, status, dsn, "SASL authentication failed; server %s said: %d %s", s->host,
                      s->resp.code, text);
    smtp_out_quit(s);
}

/* smtp_out_sasl_reply - the server's reply to AUTH or to a response: 334 goes on, 235 is
 * the envelope's turn, anything else ends the delivery on this server */
void
smtp_out_sasl_reply(struct smtp_out_sess *s)
{
    struct smtp_out_sasl *x = s->sasl;

    s->whead = s->wtail = 0; /* AUTH is never pipelined: nothing else is owed */
    if (s->out.len == 0 && s->out.data != NULL)
        wipe(s->out.data, s->out.cap); /* the line with the credentials went out whole */
    if (x != NULL && x->aborting) {
        smtp_out_sasl_defer(s, "4.7.0",
                            "SASL authentication failed; cannot authenticate to server %s: the "
                            "exchange was aborted",
                            s->host);
        return;
    }
    if (x != NULL && s->resp.code == 334) {
        smtp_out_sasl_step(s);
        return;
    }
    if (x == NULL || s->resp.code / 100 == 4 || s->resp.code / 100 == 5) {
        smtp_out_sasl_refused(s);
        return;
    }
    if (s->resp.code / 100 != 2) { /* a 3xx other than 334: end the exchange */
        x->aborting = true;
        smtp_out_send(s, SMTP_OUT_AUTH, 0, "*");
        return;
    }
    str_copy(s->sasl_user, x->user, sizeof(s->sasl_user));
    if (log_verbose() > 0)
        log_info("%s: authenticated to %s as %s", s->req.queue_id, s->host, s->sasl_user);
    smtp_out_sasl_end(s);
    smtp_out_envelope(s);
}
