/*
 * mail_sasl_server.c - what a real Dovecot never sends, played by a scripted peer on a UNIX
 * socket: the checks and limits of lib/mail/sasl_dovecot.c (t/sasl.t runs the real
 * backends). Also the configuration errors of sasl_server_create.
 *
 * The peer is a child process: it accepts one connection, sends a handshake, then answers
 * each AUTH or CONT line with the next reply of its script ("%s" is the request's id; an
 * empty reply hangs up) and writes every line it got to a file the test reads afterwards.
 * A handshake without DONE is followed by a hang-up.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/conf.h"
#include "core/log.h"
#include "core/mem.h"
#include "mail/params.h"
#include "mail/sasl_server.h"
#include "t/tap.h"

#define HANDSHAKE_PLAIN \
    "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nSPID\t1\nCUID\t1\nCOOKIE\tab\nDONE\n"

struct peer {
    pid_t pid;
    char *log;
};

/* peer_fill - a script line with each "%s" replaced by the request's id */
static char *
peer_fill(const char *reply, const char *id)
{
    struct buf out;

    buf_init(&out, BUF_UNLIMITED);
    for (const char *c = reply; *c != 0; c++) {
        if (c[0] == '%' && c[1] == 's') {
            buf_puts(&out, id);
            c++;
        } else {
            buf_putc(&out, *c);
        }
    }
    return out.len > 0 ? buf_steal(&out) : xstrdup("");
}

/* peer_serve - the child: one connection, the handshake, then the script */
static void
peer_serve(int lsock, const char *handshake, const char *const *script, const char *logpath)
{
    FILE *log = fopen(logpath, "w"), *in;
    char line[32768];
    int sock = accept(lsock, NULL, NULL);
    size_t next = 0;

    if (sock < 0 || log == NULL || (in = fdopen(dup(sock), "r")) == NULL)
        _exit(1);
    if (write(sock, handshake, strlen(handshake)) < 0)
        _exit(1);
    if (strstr(handshake, "DONE\n") == NULL)
        _exit(0);
    while (fgets(line, sizeof(line), in) != NULL) {
        char id[32] = "", *reply;

        fputs(line, log);
        fflush(log);
        if (strncmp(line, "AUTH\t", 5) != 0 && strncmp(line, "CONT\t", 5) != 0)
            continue;
        sscanf(line + 5, "%31[0-9]", id);
        if (script[next] == NULL)
            continue;
        if (*script[next] == 0)
            _exit(0);
        reply = peer_fill(script[next++], id);
        if (write(sock, reply, strlen(reply)) < 0)
            _exit(1);
        free(reply);
    }
    _exit(0);
}

static struct peer
peer_start(const char *path, const char *handshake, const char *const *script)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct peer peer;
    int lsock = socket(AF_UNIX, SOCK_STREAM, 0);

    unlink(path);
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if (lsock < 0 || bind(lsock, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(lsock, 5) < 0)
        log_fatal("peer socket %s: %m", path);
    peer.log = xasprintf("%s.log", path);
    if ((peer.pid = fork()) == 0)
        peer_serve(lsock, handshake, script, peer.log);
    close(lsock);
    return peer;
}

/* peer_end - wait for the peer (the server is gone, so it saw EOF); what it got */
static char *
peer_end(struct peer *peer)
{
    FILE *f;
    char *text = xcalloc(1, 65536);
    int status;

    waitpid(peer->pid, &status, 0);
    if ((f = fopen(peer->log, "r")) != NULL) {
        size_t n = fread(text, 1, 65535, f);

        text[n] = 0;
        fclose(f);
    }
    free(peer->log);
    return text;
}

struct outcome {
    struct loop *loop;
    bool called;
    enum sasl_result result;
    char text[512];
};

static void
outcome_done(void *arg, enum sasl_result result, const char *text)
{
    struct outcome *o = arg;

    o->called = true;
    o->result = result;
    snprintf(o->text, sizeof(o->text), "%s", text);
    loop_break(o->loop);
}

static void
outcome_timeout(void *arg)
{
    loop_break(arg);
}

/* server_for - a Dovecot-type server for the socket path with these extra settings */
static struct sasl_server *
server_for(struct loop *loop, struct conf **conf, struct params *p, const char *path,
           const char *extra)
{
    char *text = xasprintf("smtpd_sasl_type = dovecot\nsmtpd_sasl_path = %s\n%s", path, extra);
    struct sasl_server *s;
    struct err err;

    *conf = params_conf_new();
    if (!conf_read_text(*conf, "test", text, &err) || !params_load(p, *conf, &err))
        log_fatal("%s", err.text);
    free(text);
    if ((s = sasl_server_create(loop, p, &err)) == NULL)
        log_fatal("%s", err.text);
    return s;
}

static void
server_end(struct sasl_server *s, struct conf *conf, struct params *p)
{
    sasl_server_free(s);
    params_free(p);
    conf_free(conf);
}

/* The mechanisms offered, per handshake and security options. */
static void
test_mechs(struct loop *loop)
{
    static const struct {
        const char *handshake;
        const char *options;
        const char *plain, *tls;
    } cases[] = {
        {"VERSION\t2\t0\nMECH\tPLAIN\nDONE\n", "", "", ""},
        {"VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tAPOP\tprivate\nMECH\tbad name!\n"
         "MECH\tANONYMOUS\tanonymous\nMECH\tGSSAPI\tmutual-auth\tforward-secrecy\n"
         "MECH\tCRAM-MD5\tdictionary\tactive\nMECH\tTOO-LONG-A-NAME-FOR-SASL\nDONE\n",
         "", "PLAIN GSSAPI CRAM-MD5", "PLAIN GSSAPI CRAM-MD5"},
        {"VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tANONYMOUS\tanonymous\n"
         "MECH\tGSSAPI\tmutual-auth\nMECH\tCRAM-MD5\tdictionary\tactive\nDONE\n",
         "smtpd_sasl_security_options = noanonymous, nodictionary\n"
         "smtpd_sasl_tls_security_options = mutual_auth\n",
         "PLAIN GSSAPI", "GSSAPI"},
        {"VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tCRAM-MD5\tactive\nDONE\n",
         "smtpd_sasl_security_options = noactive\nsmtpd_sasl_tls_security_options =\n", "PLAIN",
         "PLAIN CRAM-MD5"},
        /* the peer hangs up before DONE: no mechanisms */
        {"VERSION\t1\t2\nMECH\tPLAIN\tplaintext\n", "", "", ""},
    };
    static const char *const none[] = {NULL};
    char *path = xasprintf("%s/mechs", tap_tmpdir());

    for (size_t i = 0; i < nitems(cases); i++) {
        struct peer peer = peer_start(path, cases[i].handshake, none);
        struct conf *conf;
        struct params p;
        struct sasl_server *s = server_for(loop, &conf, &p, path, cases[i].options);

        is_str(sasl_server_mechs(s, false), cases[i].plain, "mechs %zu without TLS", i);
        is_str(sasl_server_mechs(s, true), cases[i].tls, "mechs %zu with TLS", i);
        server_end(s, conf, &p);
        free(peer_end(&peer));
    }
    free(path);
}

/* One AUTH PLAIN per case: Dovecot's reply, what the session gets, what Dovecot got. */
static void
test_answers(struct loop *loop)
{
    static const struct {
        const char *name;
        const char *reply;
        bool tls;
        enum sasl_result result;
        const char *text; /* a part of it */
        const char *user; /* after OK: the login; after FAIL: the user tried */
        const char *sent; /* a part of what the peer got */
    } cases[] = {
        {"OK", "OK\t%s\tuser=alice\n", true, SASL_RESULT_OK, "", "alice",
         "AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=192.0.2.1\tlport=587\t"
         "rport=54321\tsecured\tresp=AGFsaWNlAHNlY3JldA==\n"},
        {"no TLS, no secured", "OK\t%s\tuser=alice\n", false, SASL_RESULT_OK, "", "alice",
         "rport=54321\tresp=AGFsaWNlAHNlY3JldA==\n"},
        {"escaped user", "OK\t%s\tuser=a\001tb\001nc\0011d\n", false, SASL_RESULT_OK, "", "a?b?c?d",
         "AUTH"},
        {"escaped NUL ends it", "OK\t%s\tuser=ab\0010cd\n", false, SASL_RESULT_OK, "", "ab",
         "AUTH"},
        {"OK without user", "OK\t%s\n", false, SASL_RESULT_TEMP, "without a user name", NULL,
         "AUTH"},
        {"FAIL", "FAIL\t%s\tuser=mallory\treason=nope\n", false, SASL_RESULT_FAIL,
         "authentication failed: nope", "mallory", "AUTH"},
        {"FAIL temp", "FAIL\t%s\ttemp\n", false, SASL_RESULT_TEMP, "temporary failure", "alice",
         "AUTH"},
        {"FAIL code=temp_fail", "FAIL\t%s\tcode=temp_fail\treason=db down\n", false,
         SASL_RESULT_TEMP, "temporary failure: db down", "alice", "AUTH"},
        {"CONT not base64", "CONT\t%s\tnot base64\n", false, SASL_RESULT_TEMP,
         "challenge not in base64", "alice", "AUTH"},
        {"CONT", "CONT\t%s\tVXNlcm5hbWU6\n", false, SASL_RESULT_CHALLENGE, "VXNlcm5hbWU6", NULL,
         "CANCEL\t1\n"},
        {"someone else's id", "OK\t77\tuser=evil\nOK\tx\tuser=evil\nFAIL\t%s\n", false,
         SASL_RESULT_FAIL, "authentication failed", "alice", "AUTH"},
        {"unknown command", "HELLO\t%s\nFAIL\t%s\n", false, SASL_RESULT_FAIL,
         "authentication failed", "alice", "AUTH"},
        {"answer without id", "OK\n", false, SASL_RESULT_TEMP, "an answer without an id", "alice",
         "AUTH"},
        {"hang up", "", false, SASL_RESULT_TEMP, "connection closed", "alice", "AUTH"},
    };
    char *path = xasprintf("%s/answers", tap_tmpdir());

    for (size_t i = 0; i < nitems(cases); i++) {
        const char *script[] = {cases[i].reply, NULL};
        struct peer peer = peer_start(path, HANDSHAKE_PLAIN, script);
        struct sasl_peer sp = {"192.0.2.1", "54321", "127.0.0.1", "587", cases[i].tls};
        struct outcome o = {.loop = loop};
        struct loop_timer *guard = loop_timer_new(loop, outcome_timeout, loop);
        struct conf *conf;
        struct params p;
        struct sasl_server *s = server_for(loop, &conf, &p, path, "");
        struct sasl_auth *a;
        const char *user;
        bool unsupported;
        char *got;

        a = sasl_auth_start(s, &sp, "PLAIN", "AGFsaWNlAHNlY3JldA==", outcome_done, &o,
                            &unsupported);
        ok(a != NULL, "%s: started", cases[i].name);
        loop_timer_start(guard, 10000);
        loop_run(loop);
        loop_timer_free(guard);
        ok(o.called && o.result == cases[i].result, "%s: result %d", cases[i].name, o.result);
        like(o.text, cases[i].text, "%s: text", cases[i].name);
        user = o.result == SASL_RESULT_OK ? sasl_auth_user(a) : sasl_auth_tried_user(a);
        if (cases[i].user != NULL)
            is_str(user, cases[i].user, "%s: user", cases[i].name);
        sasl_auth_free(a);
        server_end(s, conf, &p);
        got = peer_end(&peer);
        like(got, cases[i].sent, "%s: Dovecot got the expected lines", cases[i].name);
        free(got);
    }
    free(path);
}

/* Limits: a line from Dovecot over 16 KiB ends the connection; the session gets TEMP. */
static void
test_limits(struct loop *loop)
{
    char *path = xasprintf("%s/limits", tap_tmpdir()), *longline = xmalloc(20000);
    const char *script[] = {longline, NULL};
    struct sasl_peer sp = {"192.0.2.1", "54321", "127.0.0.1", "587", false};
    struct outcome o = {.loop = loop};
    struct conf *conf;
    struct params p;
    struct sasl_server *s;
    struct sasl_auth *a;
    struct peer peer;
    bool unsupported;

    memcpy(longline, "CONT\t%s\t", 8);
    memset(longline + 8, 'A', 20000 - 10);
    longline[20000 - 2] = '\n';
    longline[20000 - 1] = 0;
    peer = peer_start(path, HANDSHAKE_PLAIN, script);
    s = server_for(loop, &conf, &p, path, "");
    a = sasl_auth_start(s, &sp, "PLAIN", "AGFsaWNlAHNlY3JldA==", outcome_done, &o, &unsupported);
    loop_run(loop);
    ok(o.called && o.result == SASL_RESULT_TEMP, "a 20,000-byte line from Dovecot: TEMP");
    like(o.text, "a line too long", "and the reason says why");
    is_str(sasl_server_mechs(s, false), "", "the peer is gone (it served one connection)");
    sasl_auth_free(a);
    o.called = false;
    a = sasl_auth_start(s, &sp, "PLAIN\t", "=", outcome_done, &o, &unsupported);
    ok(a == NULL && unsupported, "a mechanism with a tab is unsupported, never sent");
    server_end(s, conf, &p);
    free(peer_end(&peer));
    free(longline);
    free(path);
}

static void
test_config(struct loop *loop)
{
    struct conf *conf = params_conf_new();
    struct params p;
    struct err err;

    if (!conf_read_text(conf, "test", "smtpd_sasl_type = ldap\n", &err) ||
        !params_load(&p, conf, &err))
        log_fatal("%s", err.text);
    ok(sasl_server_create(loop, &p, &err) == NULL, "smtpd_sasl_type = ldap is refused");
    like(err.text, "not cyrus or dovecot", "saying what is known");
    params_free(&p);
    conf_free(conf);
}

int
main(void)
{
    struct loop *loop = loop_new();

    log_init("postern", "mail_sasl_server");
    log_to_stderr();
    signal(SIGPIPE, SIG_IGN);
    test_config(loop);
    test_mechs(loop);
    test_answers(loop);
    test_limits(loop);
    loop_free(loop);
    return done_testing();
}
