/*
 * milter_drive.c - a blocking MTA-side milter session built on lib/mail/milter_codec, for
 * the tests that check the codec against a real libmilter filter. Never installed; smtpd's
 * client is event-driven and does not look like this.
 *
 *   milter_drive SOCKET STEP...      SOCKET: unix:/path or inet:PORT (on 127.0.0.1)
 *
 * STEP: connect:HOST:ADDR helo:NAME mail:ADDR[:ARG] rcpt:ADDR[:ARG] data header:NAME:VALUE
 * eoh body:TEXT eom abort quit. Before each stage it sends that stage's macros (fixed test
 * values). It offers every action and step, skips the steps the milter asked to skip and
 * waits for no reply where the milter said it sends none. Output, one line per packet the
 * milter sends: the step, the reply's name and its fields; "negotiated" first. A verdict that
 * ends the message (accept or discard anywhere, reject or tempfail outside RCPT) ends it
 * here too: the steps after it, up to abort or quit, print "STEP not sent". Exit 0 if
 * the session followed the protocol, 1 with the reason on stderr if not. A read waits at
 * most 10 s.
 *
 * Trusts: its arguments. Nothing the milter sends (that is the codec's job, tested here).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/buf.h"
#include "mail/milter_codec.h"

struct drive {
    int fd;
    struct milter_frame frame;
    struct buf out;
    uint32_t protocol;
    int message_done; /* a verdict ended the message: no more of its steps */
};

/* A step: its name, the SMFIP_NO* flag that skips it, the NR flag that silences it. */
struct step_kind {
    const char *name;
    uint32_t skip;
    uint32_t noreply;
};

static const struct step_kind steps[] = {
    {"connect", MILTER_P_NOCONNECT, MILTER_P_NR_CONN},
    {"helo", MILTER_P_NOHELO, MILTER_P_NR_HELO},
    {"mail", MILTER_P_NOMAIL, MILTER_P_NR_MAIL},
    {"rcpt", MILTER_P_NORCPT, MILTER_P_NR_RCPT},
    {"data", MILTER_P_NODATA, MILTER_P_NR_DATA},
    {"header", MILTER_P_NOHDRS, MILTER_P_NR_HDR},
    {"eoh", MILTER_P_NOEOH, MILTER_P_NR_EOH},
    {"body", MILTER_P_NOBODY, MILTER_P_NR_BODY},
    {"eom", 0, 0},
    {"abort", 0, ~0u},
    {"quit", 0, ~0u},
};

static void
fail(const char *why, const char *detail)
{
    fprintf(stderr, "milter_drive: %s%s%s\n", why, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

/* drive_connect - the socket named unix:/path or inet:PORT */
static int
drive_connect(const char *spec)
{
    struct timeval tv = {10, 0};
    int fd = -1;

    if (strncmp(spec, "unix:", 5) == 0) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", spec + 5);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
            fail("connect", spec);
    } else if (strncmp(spec, "inet:", 5) == 0) {
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)strtoul(spec + 5, NULL, 10))};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
            fail("connect", spec);
    } else {
        fail("bad socket", spec);
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* drive_flush - write what the encoders appended */
static void
drive_flush(struct drive *d)
{
    size_t at = 0;

    while (at < d->out.len) {
        ssize_t n = write(d->fd, d->out.data + at, d->out.len - at);
        if (n <= 0)
            fail("write", NULL);
        at += (size_t)n;
    }
    buf_reset(&d->out);
}

/* drive_read - one reply packet, parsed */
static void
drive_read(struct drive *d, struct milter_reply *r)
{
    static char in[65536];
    static size_t in_len, in_at;
    struct err err;

    for (;;) {
        size_t used;
        enum milter_frame_status st;
        if (in_at == in_len) {
            ssize_t n = read(d->fd, in, sizeof(in));
            if (n <= 0)
                fail("read", n == 0 ? "milter closed" : "error or timeout");
            in_len = (size_t)n;
            in_at = 0;
        }
        st = milter_frame_feed(&d->frame, in + in_at, in_len - in_at, &used, &err);
        in_at += used;
        if (st == MILTER_FRAME_ERROR)
            fail("framing", err.text);
        if (st == MILTER_FRAME_DONE)
            break;
    }
    if (!milter_reply_parse(&d->frame.packet, r, &err))
        fail("reply", err.text);
}

/* print_reply - one line: step, reply name, fields */
static void
print_reply(const char *step, const struct milter_reply *r)
{
    printf("%s %s", step, milter_reply_name(r->cmd));
    if (r->cmd == MILTER_REPLY_INSHEADER || r->cmd == MILTER_REPLY_CHGHEADER)
        printf(" %lu", (unsigned long)r->index);
    if (r->name)
        printf(" %s:%s", r->name, r->value);
    if (r->text)
        printf(" %s", r->text);
    if (r->addr)
        printf(" %s%s%s", r->addr, r->args ? " " : "", r->args ? r->args : "");
    if (r->body)
        printf(" %.*s", (int)r->body_len, r->body);
    printf("\n");
    fflush(stdout);
}

/* ends_message - does this verdict at this step end the message (as the MTA would)? */
static int
ends_message(const char *step, int cmd)
{
    if (cmd == MILTER_REPLY_ACCEPT || cmd == MILTER_REPLY_DISCARD)
        return 1;
    if (strcmp(step, "rcpt") == 0)
        return 0;
    return cmd == MILTER_REPLY_REJECT || cmd == MILTER_REPLY_TEMPFAIL ||
           cmd == MILTER_REPLY_REPLYCODE;
}

/* drive_replies - read until a verdict (at eom: after any edits and progress) */
static void
drive_replies(struct drive *d, const char *step)
{
    struct milter_reply r;

    do {
        drive_read(d, &r);
        print_reply(step, &r);
    } while (strchr("+-2behimpq", r.cmd) != NULL);
    d->message_done = ends_message(step, r.cmd);
}

/* drive_negotiate - offer everything, print what the milter took */
static void
drive_negotiate(struct drive *d)
{
    struct milter_reply r;
    struct err err;

    milter_put_optneg(&d->out, MILTER_VERSION, MILTER_ACT_ALL, MILTER_P_ALL);
    drive_flush(d);
    drive_read(d, &r);
    if (!milter_optneg_check(&r, MILTER_ACT_ALL, MILTER_P_ALL, &err))
        fail("negotiation", err.text);
    d->protocol = r.protocol;
    printf("negotiated version=%lu actions=0x%lx protocol=0x%lx", (unsigned long)r.version,
           (unsigned long)r.actions, (unsigned long)r.protocol);
    for (int i = 0; i < MILTER_STAGES; i++)
        if (r.symlist[i])
            printf(" symlist%d=%s", i, r.symlist[i]);
    printf("\n");
}

/* put_macros - the test values of the macros of the stage whose command is cmd */
static void
put_macros(struct buf *out, int cmd, const char *arg)
{
    const struct milter_macro conn[] = {{"j", "mx.test"},
                                        {"_", "client.test [192.0.2.1]"},
                                        {"v", "postern"},
                                        {"{daemon_name}", "postern"},
                                        {"{client_addr}", "192.0.2.1"},
                                        {"{client_name}", "client.test"},
                                        {"{x_test}", "at-connect"}};
    const struct milter_macro mail[] = {{"{mail_addr}", arg}, {"{mail_mailer}", "smtp"}};
    const struct milter_macro rcpt[] = {{"{rcpt_addr}", arg}, {"{rcpt_mailer}", "local"}};
    const struct milter_macro queued[] = {{"i", "4XTEST"}};

    if (cmd == MILTER_CMD_CONNECT)
        milter_put_macros(out, cmd, conn, sizeof(conn) / sizeof(conn[0]));
    else if (cmd == MILTER_CMD_MAIL)
        milter_put_macros(out, cmd, mail, 2);
    else if (cmd == MILTER_CMD_RCPT)
        milter_put_macros(out, cmd, rcpt, 2);
    else if (cmd == MILTER_CMD_DATA || cmd == MILTER_CMD_BODYEOB)
        milter_put_macros(out, cmd, queued, 1);
}

/* put_step - the packets of one step; its arguments after the first ':' */
static void
put_step(struct buf *out, const char *name, char *arg)
{
    char *second;

    if (arg == NULL)
        arg = "";
    second = strchr(arg, ':');
    if (second)
        *second++ = 0;
    if (strcmp(name, "connect") == 0) {
        put_macros(out, MILTER_CMD_CONNECT, NULL);
        milter_put_connect(out, arg, MILTER_FAMILY_INET, 40000, second ? second : "");
    } else if (strcmp(name, "helo") == 0) {
        milter_put_string(out, MILTER_CMD_HELO, arg);
    } else if (strcmp(name, "mail") == 0 || strcmp(name, "rcpt") == 0) {
        const char *v[2] = {arg, second};
        int cmd = name[0] == 'm' ? MILTER_CMD_MAIL : MILTER_CMD_RCPT;
        put_macros(out, cmd, arg);
        milter_put_strings(out, cmd, v, second ? 2 : 1);
    } else if (strcmp(name, "header") == 0) {
        milter_put_header(out, arg, second ? second : "");
    } else if (strcmp(name, "body") == 0) {
        milter_put_body(out, arg, strlen(arg));
    } else {
        static const struct {
            const char *name;
            int cmd;
        } simple[] = {{"data", MILTER_CMD_DATA},
                      {"eoh", MILTER_CMD_EOH},
                      {"eom", MILTER_CMD_BODYEOB},
                      {"abort", MILTER_CMD_ABORT},
                      {"quit", MILTER_CMD_QUIT}};
        for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
            if (strcmp(name, simple[i].name) == 0) {
                put_macros(out, simple[i].cmd, NULL);
                milter_put_simple(out, simple[i].cmd);
            }
    }
}

/* run_step - send one step unless skipped; read its replies unless silenced */
static void
run_step(struct drive *d, char *spec)
{
    char *arg = strchr(spec, ':');
    const struct step_kind *k = NULL;

    if (arg)
        *arg++ = 0;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        if (strcmp(spec, steps[i].name) == 0)
            k = &steps[i];
    if (k == NULL)
        fail("unknown step", spec);
    if (d->message_done && k->noreply != ~0u) {
        printf("%s not sent\n", spec);
        return;
    }
    if (d->protocol & k->skip) {
        printf("%s skipped\n", spec);
        return;
    }
    put_step(&d->out, spec, arg);
    drive_flush(d);
    if ((d->protocol & k->noreply) != 0 || k->noreply == ~0u)
        printf("%s no-reply\n", spec);
    else
        drive_replies(d, spec);
}

int
main(int argc, char **argv)
{
    struct drive d;

    if (argc < 2)
        fail("usage: milter_drive SOCKET STEP...", NULL);
    d.fd = drive_connect(argv[1]);
    d.protocol = 0;
    d.message_done = 0;
    milter_frame_init(&d.frame);
    buf_init(&d.out, BUF_UNLIMITED);
    drive_negotiate(&d);
    for (int i = 2; i < argc; i++)
        run_step(&d, argv[i]);
    milter_frame_free(&d.frame);
    buf_free(&d.out);
    close(d.fd);
    return 0;
}
