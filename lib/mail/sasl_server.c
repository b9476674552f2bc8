/*
 * sasl_server.c - SMTP AUTH's server side (sasl_server.h): the backend smtpd_sasl_type
 * names, the security options, and the checks every client response passes before a backend
 * sees it.
 *
 * Runs in the receivers as mail_owner and reads untrusted input: the mechanism name and the
 * base64 lines of SMTP clients. Invariants: a mechanism reaches a backend only if it is a
 * word of the list this session was offered, so it is upper case [A-Z0-9_-], at most 20
 * characters; a response reaches a backend only as strict base64 (lib/core/base64.c) of at
 * most SASL_RESPONSE_MAX characters, so neither can carry a TAB, CR or LF into a protocol;
 * done is called only from the loop (the deliver timer), once per start or step.
 */
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "mail/sasl_impl.h"
#include "mail/sasl_opts.h"

struct sasl_server *
sasl_server_create(struct loop *loop, const struct params *p, struct err *err)
{
    struct sasl_server *s = xcalloc(1, sizeof(*s));

    s->loop = loop;
    s->p = p;
    if (str_eq_nocase(p->smtpd_sasl_type, "cyrus")) {
        s->be = &sasl_cyrus_backend;
    } else if (str_eq_nocase(p->smtpd_sasl_type, "dovecot")) {
        s->be = &sasl_dovecot_backend;
    } else {
        free(s);
        err_set(err, "smtpd_sasl_type = %s: not cyrus or dovecot", p->smtpd_sasl_type);
        return NULL;
    }
    s->opts[0] = sasl_opts_parse(&p->smtpd_sasl_security_options, "smtpd_sasl_security_options");
    s->opts[1] =
        sasl_opts_parse(&p->smtpd_sasl_tls_security_options, "smtpd_sasl_tls_security_options");
    if (!s->be->open(s, err)) {
        free(s);
        return NULL;
    }
    return s;
}

/* sasl_server_free - every sasl_auth of the server must have been freed before */
void
sasl_server_free(struct sasl_server *s)
{
    if (s == NULL)
        return;
    s->be->close(s);
    free(s);
}

const char *
sasl_server_mechs(struct sasl_server *s, bool tls)
{
    return s->be->mechs(s, tls);
}

bool
sasl_mech_in_list(const char *list, const char *mech)
{
    size_t n = strlen(mech);

    for (const char *w = list; *w != 0;) {
        size_t len = strcspn(w, " ");

        if (len == n && strncmp(w, mech, n) == 0)
            return true;
        w += len;
        w += strspn(w, " ");
    }
    return false;
}

/* sasl_mech_name - the client's mechanism, upper case, into out; false if it cannot be one */
static bool
sasl_mech_name(const char *mech, char out[SASL_MECH_NAME_MAX + 1])
{
    size_t n = strlen(mech);

    if (n == 0 || n > SASL_MECH_NAME_MAX)
        return false;
    for (size_t i = 0; i <= n; i++) {
        char c = mech[i];

        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != 0 && !((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
        out[i] = c;
    }
    return true;
}

/* sasl_auth_deliver - on the loop: the pending report to the caller */
static void
sasl_auth_deliver(void *arg)
{
    struct sasl_auth *a = arg;

    /* done may free a (and so text): nothing here touches a afterwards. */
    a->done(a->arg, a->result, a->text);
}

void
sasl_auth_report(struct sasl_auth *a, enum sasl_result result, const char *text)
{
    if (!a->busy)
        log_panic("sasl_auth_report: %s: a report nobody asked for", a->s->be->name);
    a->busy = false;
    a->over = result != SASL_RESULT_CHALLENGE;
    a->result = result;
    free(a->text);
    a->text = xstrdup(text != NULL ? text : "");
    loop_timer_start(a->deliver, 0);
}

void
sasl_auth_report_data(struct sasl_auth *a, const unsigned char *data, size_t len)
{
    char *text = xmalloc(BASE64_ENCODED_LEN(len) + 1);

    base64_encode(data, len, text);
    sasl_auth_report(a, SASL_RESULT_CHALLENGE, text);
    free(text);
}

/* sasl_user_copy - a user name for the log: bounded, control characters as '?' */
static char *
sasl_user_copy(const char *user, size_t len)
{
    char *copy;

    if (len > SASL_USER_MAX)
        len = SASL_USER_MAX;
    copy = xstrndup(user, len);
    for (char *c = copy; *c != 0; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    return copy;
}

void
sasl_auth_set_user(struct sasl_auth *a, const char *user)
{
    free(a->user);
    a->user = sasl_user_copy(user, strlen(user));
}

void
sasl_auth_set_tried_user(struct sasl_auth *a, const char *user)
{
    free(a->tried_user);
    a->tried_user = sasl_user_copy(user, strlen(user));
}

/*
 * sasl_auth_note_user - the name a PLAIN or LOGIN client tries, from its response, for the
 * log line of a failure (a backend may know better and set it again)
 */
static void
sasl_auth_note_user(struct sasl_auth *a, const unsigned char *data, size_t len)
{
    const unsigned char *nul1, *nul2;

    if (strcmp(a->mech, "PLAIN") == 0 && a->steps == 1 && (nul1 = memchr(data, 0, len)) != NULL &&
        (nul2 = memchr(nul1 + 1, 0, len - (size_t)(nul1 + 1 - data))) != NULL) {
        free(a->tried_user);
        a->tried_user = sasl_user_copy((const char *)nul1 + 1, (size_t)(nul2 - nul1 - 1));
    } else if (strcmp(a->mech, "LOGIN") == 0 && a->steps == 1 && len > 0) {
        free(a->tried_user);
        a->tried_user = sasl_user_copy((const char *)data, len);
    }
}

/*
 * sasl_auth_feed - one client response (initial: the one on the AUTH line) to the backend,
 * or a report here if it is not strict base64 or too long
 */
static void
sasl_auth_feed(struct sasl_auth *a, const char *b64, bool initial)
{
    size_t len = strlen(b64), n;
    unsigned char *data;

    a->busy = true;
    if (len > SASL_RESPONSE_MAX) {
        sasl_auth_report(a, SASL_RESULT_FAIL, "response too long");
        return;
    }
    /* RFC 4954: "=" is the empty initial response; after a 334 an empty line is empty. */
    if (initial && strcmp(b64, "=") == 0)
        b64 = "";
    else if (initial && len == 0) {
        sasl_auth_report(a, SASL_RESULT_BAD_DATA, "empty initial response (not \"=\")");
        return;
    }
    len = strlen(b64);
    data = xmalloc(BASE64_DECODED_MAX(len) + 1);
    if (!base64_decode(b64, len, data, &n)) {
        free(data);
        sasl_auth_report(a, SASL_RESULT_BAD_DATA, "malformed base64 in the client's response");
        return;
    }
    a->steps++;
    sasl_auth_note_user(a, data, n);
    if (initial)
        a->s->be->start(a, data, n, b64);
    else
        a->s->be->step(a, data, n, b64);
    wipe(data, n);
    free(data);
}

struct sasl_auth *
sasl_auth_start(struct sasl_server *s, const struct sasl_peer *peer, const char *mech,
                const char *initial, sasl_auth_done done, void *arg, bool *unsupported)
{
    char name[SASL_MECH_NAME_MAX + 1];
    struct sasl_auth *a;

    *unsupported = false;
    /* A mechanism offered before the backend went away gets a 454 from start, not a 504. */
    if (!sasl_mech_name(mech, name) ||
        (!sasl_mech_in_list(sasl_server_mechs(s, peer->tls), name) &&
         (s->be->known == NULL || !s->be->known(s, peer->tls, name)))) {
        *unsupported = true;
        return NULL;
    }
    a = xcalloc(1, sizeof(*a));
    a->s = s;
    a->done = done;
    a->arg = arg;
    memcpy(a->mech, name, sizeof(name));
    a->client_addr = xstrdup(peer->client_addr ? peer->client_addr : "");
    a->client_port = xstrdup(peer->client_port ? peer->client_port : "");
    a->local_addr = xstrdup(peer->local_addr ? peer->local_addr : "");
    a->local_port = xstrdup(peer->local_port ? peer->local_port : "");
    a->tls = peer->tls;
    a->deliver = loop_timer_new(s->loop, sasl_auth_deliver, a);
    a->initial = initial != NULL;
    if (initial != NULL) {
        sasl_auth_feed(a, initial, true);
    } else {
        a->busy = true;
        s->be->start(a, NULL, 0, NULL);
    }
    return a;
}

void
sasl_auth_step(struct sasl_auth *a, const char *response)
{
    if (a->busy || loop_timer_pending(a->deliver))
        log_panic("sasl_auth_step: a step before the last one was answered");
    if (a->over) {
        a->busy = true;
        sasl_auth_report(a, SASL_RESULT_FAIL, "a response after the exchange was over");
        return;
    }
    sasl_auth_feed(a, response, false);
}

const char *
sasl_auth_user(const struct sasl_auth *a)
{
    return a->user;
}

const char *
sasl_auth_tried_user(const struct sasl_auth *a)
{
    return a->tried_user != NULL ? a->tried_user : a->user;
}

const char *
sasl_auth_mech(const struct sasl_auth *a)
{
    return a->mech;
}

void
sasl_auth_free(struct sasl_auth *a)
{
    if (a == NULL)
        return;
    a->s->be->cancel(a);
    loop_timer_free(a->deliver);
    free(a->client_addr);
    free(a->client_port);
    free(a->local_addr);
    free(a->local_port);
    free(a->text);
    free(a->user);
    free(a->tried_user);
    free(a);
}
