/* mail_milter_edit.c - milter edits applied to a queue file: every edit kind, the index
 * rules, folded values, body replacement in chunks, limits, damaged old files */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/mem.h"
#include "mail/milter_edit.h"
#include "mail/queue_file.h"
#include "t/tap.h"

#define RECEIVED "Received: from c (c [192.0.2.1])\r\n\tby mx (postern) with ESMTP id Q; now\r\n"
#define CONTENT                            \
    RECEIVED "Received: from far away\r\n" \
             "Subject: hello\r\n"          \
             "From: a@example.org\r\n"     \
             "subject: second\r\n"         \
             " folded\r\n"                 \
             "\r\n"                        \
             "body 1\r\nbody 2\r\n"
#define BODY "\r\nbody 1\r\nbody 2\r\n"

static int file_seq;

/* old_file - an uncommitted queue file as smtpd leaves it: two recipients, this content */
static int
old_file(const char *content, size_t len)
{
    char *path = xasprintf("%s/old%d", tap_tmpdir(), file_seq++);
    struct queue_envelope env = {
        .arrival = {1700000000, 5},
        .sender = "sender@example.org",
        .ret = "FULL",
        .envid = "",
        .body = "8BITMIME",
        .client_name = "c",
        .client_addr = "192.0.2.1",
        .helo = "c",
        .protocol = "ESMTP",
    };
    struct queue_writer w;
    struct err err;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

    queue_writer_init(&w, fd, &env);
    queue_writer_rcpt(&w, "one@example.com", "", "");
    queue_writer_rcpt(&w, "Two@example.com", "SUCCESS", "rfc822;two@example.com");
    queue_writer_content(&w, content, len);
    if (!queue_writer_end(&w, &err))
        diag("old file: %s", err.text);
    queue_writer_free(&w);
    free(path);
    return fd;
}

static int
new_file(void)
{
    char *path = xasprintf("%s/new%d", tap_tmpdir(), file_seq++);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

    free(path);
    return fd;
}

static bool
collect(const char *data, size_t len, void *ctx)
{
    return buf_append(ctx, data, len);
}

/* The result of one apply: the new file's envelope and content. */
struct result {
    bool applied;
    struct err err;
    struct queue_envelope env;
    struct buf content;
};

static void
result_free(struct result *r)
{
    queue_envelope_free(&r->env);
    buf_free(&r->content);
}

/* apply_to - apply e to a fresh old file with this content; read the new file back */
static bool
apply_to(struct milter_edits *e, int old, struct result *res)
{
    int fd = new_file();
    struct err err;

    memset(res, 0, sizeof(*res));
    buf_init(&res->content, BUF_UNLIMITED);
    buf_puts(&res->content, "");
    res->applied = milter_edits_apply(e, old, fd, &res->err);
    if (res->applied && !queue_file_read(fd, &res->env, &err)) {
        diag("new file unreadable: %s", err.text);
        res->applied = false;
    } else if (res->applied && !queue_file_content(fd, &res->env, collect, &res->content, &err)) {
        diag("new content unreadable: %s", err.text);
        res->applied = false;
    }
    close(fd);
    return res->applied;
}

/* Edit replies, as milter_reply_parse() gives them. */
static bool
add(struct milter_edits *e, int cmd, const char *name, const char *value, uint32_t index,
    struct err *err)
{
    struct milter_reply r = {.cmd = cmd};

    if (cmd == 'h' || cmd == 'i' || cmd == 'm') {
        r.name = name;
        r.value = value;
        r.index = index;
    } else {
        r.addr = name;
        r.args = value;
    }
    return milter_edits_add(e, &r, err);
}

static bool
add_body(struct milter_edits *e, const char *data, size_t len, struct err *err)
{
    struct milter_reply r = {.cmd = 'b', .body = data, .body_len = len};

    return milter_edits_add(e, &r, err);
}

/* headers_after - apply one list of header edits to CONTENT; the content must be want */
struct hcase {
    const char *what;
    struct {
        int cmd;
        const char *name, *value;
        uint32_t index;
    } ed[4];
    const char *want;
};

static void
test_headers(void)
{
    static const struct hcase cases[] = {
        {"ADDHEADER goes after the last header",
         {{'h', "X-A", "1", 0}},
         RECEIVED "Received: from far away\r\nSubject: hello\r\nFrom: a@example.org\r\n"
                  "subject: second\r\n folded\r\nX-A: 1\r\n" BODY},
        {"two ADDHEADERs keep their order",
         {{'h', "X-A", "1", 0}, {'h', "X-B", "2", 0}},
         RECEIVED "Received: from far away\r\nSubject: hello\r\nFrom: a@example.org\r\n"
                  "subject: second\r\n folded\r\nX-A: 1\r\nX-B: 2\r\n" BODY},
        {"INSHEADER 0 goes above our Received header",
         {{'i', "X-A", "1", 0}},
         "X-A: 1\r\n" RECEIVED "Received: from far away\r\nSubject: hello\r\n"
         "From: a@example.org\r\nsubject: second\r\n folded\r\n" BODY},
        {"INSHEADER 1 goes below it",
         {{'i', "X-A", "1", 1}},
         RECEIVED "X-A: 1\r\nReceived: from far away\r\nSubject: hello\r\n"
                  "From: a@example.org\r\nsubject: second\r\n folded\r\n" BODY},
        {"INSHEADER 3 goes after three headers",
         {{'i', "X-A", "1", 3}},
         RECEIVED "Received: from far away\r\nSubject: hello\r\nX-A: 1\r\n"
                  "From: a@example.org\r\nsubject: second\r\n folded\r\n" BODY},
        {"INSHEADER past the last header appends",
         {{'i', "X-A", "1", 99}},
         RECEIVED "Received: from far away\r\nSubject: hello\r\nFrom: a@example.org\r\n"
                  "subject: second\r\n folded\r\nX-A: 1\r\n" BODY},
        {"CHGHEADER 1 changes the first of that name, whatever its case",
         {{'m', "SUBJECT", "new", 1}},
         RECEIVED "Received: from far away\r\nSUBJECT: new\r\nFrom: a@example.org\r\n"
                  "subject: second\r\n folded\r\n" BODY},
        {"CHGHEADER 0 is taken as 1",
         {{'m', "Subject", "new", 0}},
         RECEIVED "Received: from far away\r\nSubject: new\r\nFrom: a@example.org\r\n"
                  "subject: second\r\n folded\r\n" BODY},
        {"CHGHEADER 2 changes the second, folded lines and all",
         {{'m', "Subject", "new", 2}},
         RECEIVED "Received: from far away\r\nSubject: hello\r\nFrom: a@example.org\r\n"
                  "Subject: new\r\n" BODY},
        {"an empty value deletes",
         {{'m', "subject", "", 2}},
         RECEIVED "Received: from far away\r\nSubject: hello\r\nFrom: a@example.org\r\n" BODY},
        {"CHGHEADER past the last occurrence appends",
         {{'m', "Subject", "third", 3}},
         RECEIVED "Received: from far away\r\nSubject: hello\r\nFrom: a@example.org\r\n"
                  "subject: second\r\n folded\r\nSubject: third\r\n" BODY},
        {"deleting past the last occurrence does nothing",
         {{'m', "Subject", "", 3}, {'m', "X-None", "", 1}},
         CONTENT},
        {"our own Received header is not counted: Received 1 is the client's",
         {{'m', "Received", "changed", 1}},
         RECEIVED "Received: changed\r\nSubject: hello\r\nFrom: a@example.org\r\n"
                  "subject: second\r\n folded\r\n" BODY},
        {"counts follow the earlier edits",
         {{'h', "X-A", "1", 0}, {'i', "x-a", "0", 1}, {'m', "X-A", "two", 2}, {'m', "X-A", "", 1}},
         RECEIVED "Received: from far away\r\nSubject: hello\r\nFrom: a@example.org\r\n"
                  "subject: second\r\n folded\r\nX-A: two\r\n" BODY},
        {"a folded value: LF becomes CRLF, a line without white space gets a TAB",
         {{'h', "X-F", "a\n\tb\nc\r\n d", 0}},
         RECEIVED "Received: from far away\r\nSubject: hello\r\nFrom: a@example.org\r\n"
                  "subject: second\r\n folded\r\nX-F: a\r\n\tb\r\n\tc\r\n d\r\n" BODY},
        {"blank lines and a final LF in a value cannot end the header section",
         {{'h', "X-F", "a\n\n \nb\n", 0}},
         RECEIVED "Received: from far away\r\nSubject: hello\r\nFrom: a@example.org\r\n"
                  "subject: second\r\n folded\r\nX-F: a\r\n\tb\r\n" BODY},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct hcase *c = &cases[i];
        struct milter_edits *e = milter_edits_new();
        int old = old_file(CONTENT, strlen(CONTENT));
        struct result res = {0};
        struct err err;
        bool added = true;

        for (size_t j = 0; j < 4 && c->ed[j].cmd; j++)
            added =
                added && add(e, c->ed[j].cmd, c->ed[j].name, c->ed[j].value, c->ed[j].index, &err);
        if (!ok(added && apply_to(e, old, &res), "%s: applied", c->what))
            diag("%s", added ? res.err.text : err.text);
        else
            is_str(buf_str(&res.content), c->want, "%s", c->what);
        is_int((long long)res.env.size, (long long)strlen(c->want), "%s: size", c->what);
        result_free(&res);
        milter_edits_free(e);
        close(old);
    }
}

static void
test_leadspc(void)
{
    struct milter_edits *e = milter_edits_new();
    int old = old_file(RECEIVED "\r\nx\r\n", strlen(RECEIVED) + 5);
    struct result res;
    struct err err;

    add(e, 'h', "X-Before", "plain", 0, &err);
    milter_edits_milter(e, MILTER_P_HDR_LEADSPC, MILTER_ACT_ALL);
    add(e, 'h', "X-Space", " v", 0, &err);
    add(e, 'h', "X-Tight", "v", 0, &err);
    apply_to(e, old, &res);
    is_str(buf_str(&res.content),
           RECEIVED "X-Before: plain\r\nX-Space: v\r\nX-Tight:v\r\n\r\nx\r\n",
           "SMFIP_HDR_LEADSPC: the value brings its own space");
    result_free(&res);
    milter_edits_free(e);
    close(old);
}

/* test_odd_content - no blank line, no final CRLF, no header at all */
static void
test_odd_content(void)
{
    static const struct {
        const char *what, *content, *want;
    } cases[] = {
        {"headers only", RECEIVED "Subject: s\r\n", RECEIVED "Subject: s\r\nX-A: 1\r\n"},
        {"no final CRLF", RECEIVED "Subject: s", RECEIVED "Subject: s\r\nX-A: 1\r\n"},
        {"a body line right after the headers", RECEIVED "Subject: s\r\nnot a header\r\n",
         RECEIVED "Subject: s\r\nX-A: 1\r\nnot a header\r\n"},
        {"no header", "just text\r\n", "X-A: 1\r\njust text\r\n"},
        {"empty", "", "X-A: 1\r\n"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct milter_edits *e = milter_edits_new();
        int old = old_file(cases[i].content, strlen(cases[i].content));
        struct result res = {0};
        struct err err;

        add(e, 'h', "X-A", "1", 0, &err);
        if (ok(apply_to(e, old, &res), "%s: applied", cases[i].what))
            is_str(buf_str(&res.content), cases[i].want, "%s", cases[i].what);
        else
            diag("%s", res.err.text);
        result_free(&res);
        milter_edits_free(e);
        close(old);
    }
}

static void
test_header_refused(void)
{
    struct milter_edit_limits lim = {.header_size = 40, .headers = 7};
    struct milter_edits *e = milter_edits_new();
    int old = old_file(CONTENT, strlen(CONTENT));
    struct result res;
    struct err err;

    ok(!add(e, 'h', "Bad Name", "v", 0, &err), "a header name with a space is refused");
    like(err.text, "not a field name", "and says so");
    ok(!add(e, 'i', "X:Y", "v", 0, &err), "a header name with a colon is refused");
    ok(!add(e, 'h', "", "v", 0, &err), "an empty header name is refused");
    ok(!add(e, 'a', NULL, NULL, 0, &err), "a verdict is not an edit");
    milter_edits_limits(e, &lim);
    ok(!add(e, 'h', "X-Long", "0123456789012345678901234567890123456789", 0, &err),
       "a header past header_size is refused");
    like(err.text, "longer than 40 bytes", "and says so");
    ok(milter_edits_empty(e), "nothing refused was kept");
    ok(add(e, 'h', "X-1", "1", 0, &err) && add(e, 'h', "X-2", "2", 0, &err) &&
           add(e, 'h', "X-3", "3", 0, &err),
       "three headers added");
    ok(!apply_to(e, old, &res), "one past the header count limit: not applied");
    like(res.err.text, "more than 7 headers", "the count limit is named");
    result_free(&res);
    milter_edits_free(e);
    close(old);
}

static void
test_recipients(void)
{
    struct milter_edits *e = milter_edits_new();
    int old = old_file(CONTENT, strlen(CONTENT));
    struct result res;
    struct err err;

    ok(add(e, '-', "<Two@EXAMPLE.com>", NULL, 0, &err), "DELRCPT");
    ok(add(e, '-', "<ONE@example.com>", NULL, 0, &err), "DELRCPT of a local part in another case");
    ok(add(e, '+', " new@example.net ", NULL, 0, &err), "ADDRCPT without angle brackets");
    ok(add(e, '2', "<dsn@example.net>", "NOTIFY=FAILURE,DELAY ORCPT=rfc822;orig+2B@example.net", 0,
           &err),
       "ADDRCPT_PAR with NOTIFY and ORCPT");
    ok(add(e, '+', "<new@EXAMPLE.NET>", NULL, 0, &err), "the same recipient again");
    ok(add(e, '+', "<\"a b\"@example.net>", NULL, 0, &err), "a quoted local part");
    ok(add(e, '2', "<x@example.net>", NULL, 0, &err), "ADDRCPT_PAR without arguments");
    ok(!add(e, '2', "<y@example.net>", "FOO=bar", 0, &err), "an unknown argument is refused");
    like(err.text, "ADDRCPT_PAR arguments \"FOO=bar\"", "and named");
    ok(!add(e, '+', "<not an address>", NULL, 0, &err), "a malformed address is refused");
    if (!ok(apply_to(e, old, &res), "applied"))
        diag("%s", res.err.text);
    is_int((long long)res.env.nrcpt, 5, "five recipients");
    if (res.env.nrcpt == 5) {
        is_str(res.env.rcpt[0].addr, "one@example.com",
               "the first stays: local parts match exactly");
        is_str(res.env.rcpt[1].addr, "new@example.net", "Two@ went (domain in any case)");
        is_str(res.env.rcpt[1].notify, "", "an added recipient has the default NOTIFY");
        is_str(res.env.rcpt[2].addr, "dsn@example.net", "ADDRCPT_PAR's");
        is_str(res.env.rcpt[2].notify, "FAILURE,DELAY", "with its NOTIFY");
        is_str(res.env.rcpt[2].orcpt, "rfc822;orig+@example.net", "and its ORCPT, decoded");
        is_str(res.env.rcpt[3].addr, "\"a b\"@example.net", "quotes kept where needed");
        is_str(res.env.rcpt[4].addr, "x@example.net", "a duplicate is not added twice");
        ok(res.env.rcpt[4].status.state == QUEUE_RCPT_PENDING, "recipients are pending");
    }
    is_str(buf_str(&res.content), CONTENT, "the content is untouched");
    result_free(&res);
    milter_edits_free(e);
    close(old);
}

static void
test_recipient_limits(void)
{
    struct milter_edit_limits lim = {.rcpt = 3};
    struct milter_edits *e = milter_edits_new();
    int old = old_file(CONTENT, strlen(CONTENT));
    struct result res;
    struct err err;

    add(e, '-', "one@example.com", NULL, 0, &err);
    add(e, '-', "Two@example.com", NULL, 0, &err);
    ok(!apply_to(e, old, &res), "every recipient deleted: not applied");
    ok(milter_edits_emptied(e), "and the caller can tell why");
    like(res.err.text, "every recipient", "the error says so");
    result_free(&res);
    add(e, '+', "<>", NULL, 0, &err);
    ok(!apply_to(e, old, &res), "a null recipient is not added");
    result_free(&res);
    add(e, '+', "postmaster", NULL, 0, &err);
    ok(apply_to(e, old, &res) && !milter_edits_emptied(e), "a new one saves the message");
    is_str(res.env.nrcpt ? res.env.rcpt[0].addr : "", "postmaster", "bare postmaster");
    result_free(&res);
    milter_edits_free(e);

    e = milter_edits_new();
    milter_edits_limits(e, &lim);
    add(e, '+', "a@example.net", NULL, 0, &err);
    ok(apply_to(e, old, &res), "three recipients fit the limit");
    result_free(&res);
    add(e, '+', "b@example.net", NULL, 0, &err);
    ok(!apply_to(e, old, &res), "four do not");
    like(res.err.text, "more than 3 recipients", "the limit is named");
    result_free(&res);
    milter_edits_free(e);
    close(old);
}

static void
test_sender(void)
{
    struct milter_edits *e = milter_edits_new();
    int old = old_file(CONTENT, strlen(CONTENT));
    struct result res;
    struct err err;

    ok(add(e, 'e', "<new@example.org>", "RET=HDRS ENVID=abc+2Bd BODY=7BIT", 0, &err),
       "CHGFROM with arguments");
    ok(!add(e, 'e', "<x@example.org>", "XYZ=1", 0, &err), "an unknown argument is refused");
    apply_to(e, old, &res);
    is_str(res.env.sender, "new@example.org", "new sender");
    is_str(res.env.ret, "HDRS", "RET");
    is_str(res.env.envid, "abc+2Bd", "ENVID, as xtext");
    is_str(res.env.body, "7BIT", "BODY");
    is_str(res.env.client_addr, "192.0.2.1", "the rest of the envelope stays");
    ok(res.env.arrival.tv_sec == 1700000000, "so does the arrival time");
    result_free(&res);
    ok(add(e, 'e', "<>", NULL, 0, &err), "CHGFROM to the null sender, no arguments");
    apply_to(e, old, &res);
    is_str(res.env.sender, "", "null sender");
    is_str(res.env.ret, "HDRS", "the arguments of the earlier CHGFROM stay");
    result_free(&res);
    milter_edits_free(e);
    close(old);
}

/* big_body - n octets of lines ending in a bare LF (the milter's own line ends) */
static char *
big_body(size_t n, char fill)
{
    char *b = xmalloc(n);

    for (size_t i = 0; i < n; i++)
        b[i] = i % 80 == 79 ? '\n' : fill;
    return b;
}

static void
test_body(void)
{
    struct milter_edits *e = milter_edits_new();
    int old = old_file(CONTENT, strlen(CONTENT));
    size_t chunk = 300000; /* more than a milter chunk and a queue file record */
    char *part[3] = {big_body(chunk, 'a'), big_body(chunk, 'b'), big_body(chunk, 'c')};
    struct stat before, after;
    struct result res;
    struct buf want;
    struct err err;

    fstat(old, &before);
    ok(!add_body(e, "x", 1, &err), "no spool file: body replacement refused");
    milter_edits_spool(e, old);
    ok(add_body(e, part[0], chunk, &err), "first chunk");
    ok(add(e, 'h', "X-Between", "1", 0, &err), "a header edit between chunks");
    ok(add_body(e, part[1], chunk, &err) && add_body(e, part[2], chunk, &err), "two more");
    ok(!milter_edits_empty(e), "the collector is not empty");
    buf_init(&want, BUF_UNLIMITED);
    buf_puts(&want, RECEIVED "Received: from far away\r\nSubject: hello\r\nFrom: a@example.org\r\n"
                             "subject: second\r\n folded\r\nX-Between: 1\r\n\r\n");
    for (int p = 0; p < 3; p++)
        for (size_t i = 0; i < chunk; i++)
            buf_puts(&want, part[p][i] == '\n' ? "\r\n" : (char[]){part[p][i], 0});
    if (!ok(apply_to(e, old, &res), "applied"))
        diag("%s", res.err.text);
    ok(res.content.len == want.len && memcmp(res.content.data, want.data, want.len) == 0,
       "headers, separator, the three chunks with CRLF line ends (%zu octets)", want.len);
    fstat(old, &after);
    is_int((long long)after.st_size, (long long)before.st_size,
           "the spool is cut off the old file");
    result_free(&res);
    buf_free(&want);
    milter_edits_free(e);

    e = milter_edits_new();
    milter_edits_spool(e, old);
    add_body(e, "first\r", 6, &err);
    add_body(e, "\nmilter", 7, &err);
    milter_edits_milter(e, 0, MILTER_ACT_ALL);
    add(e, 'h', "X-B", "1", 0, &err);
    add_body(e, "second\rmilter\n\nend", 18, &err);
    apply_to(e, old, &res);
    like(buf_str(&res.content), "X-B: 1\r\n\r\nsecond\r\nmilter\r\n\r\nend\r\n",
         "a later milter's body replaces the earlier one; bare CR and LF become CRLF, a final "
         "CRLF is added");
    result_free(&res);
    ok(milter_edits_unspool(e, &err), "unspool");
    fstat(old, &after);
    is_int((long long)after.st_size, (long long)before.st_size, "the old file is as it was");
    milter_edits_free(e);

    e = milter_edits_new();
    milter_edits_spool(e, old);
    add_body(e, "", 0, &err);
    apply_to(e, old, &res);
    like(buf_str(&res.content), "folded\r\n\r\n", "an empty replacement body");
    ok(res.content.len > 2 && strcmp(res.content.data + res.content.len - 5, "d\r\n\r\n") == 0,
       "ends after the separator");
    result_free(&res);
    milter_edits_free(e);
    for (int p = 0; p < 3; p++)
        free(part[p]);
    close(old);
}

static void
test_size_limit(void)
{
    struct milter_edit_limits lim = {.message_size = 200};
    struct milter_edits *e = milter_edits_new();
    int old = old_file(CONTENT, strlen(CONTENT));
    char *body = big_body(150, 'x');
    struct result res;
    struct err err;

    milter_edits_limits(e, &lim);
    milter_edits_spool(e, old);
    ok(add_body(e, body, 150, &err), "a body under the limit is spooled");
    ok(!apply_to(e, old, &res), "but with the headers it passes message_size_limit");
    like(res.err.text, "larger than 200 bytes", "which the error names");
    result_free(&res);
    ok(!add_body(e, body, 150, &err), "a spool past the limit is refused at once");
    milter_edits_free(e);
    free(body);
    close(old);
}

static void
test_damaged(void)
{
    struct milter_edits *e = milter_edits_new();
    int old = old_file(CONTENT, strlen(CONTENT));
    struct result res;
    struct stat st;
    struct err err;

    add(e, 'h', "X-A", "1", 0, &err);
    fstat(old, &st);
    if (ftruncate(old, st.st_size - 3) != 0)
        diag("truncate failed");
    ok(!apply_to(e, old, &res), "a truncated old file is refused");
    like(res.err.text, "truncated at offset", "with its offset");
    result_free(&res);
    if (ftruncate(old, 0) != 0 || pwrite(old, "garbage", 7, 0) != 7)
        diag("write failed");
    ok(!apply_to(e, old, &res), "garbage is refused");
    like(res.err.text, "offset 0", "at offset 0");
    result_free(&res);
    milter_edits_free(e);
    close(old);
}

static void
test_utf8(void)
{
    struct milter_edits *e = milter_edits_new();
    int old = old_file(CONTENT, strlen(CONTENT));
    struct result res;
    struct err err;

    ok(add(e, '-', "<j\xc3\xb6rg@example.net>", NULL, 0, &err), "DELRCPT of a UTF-8 address");
    ok(apply_to(e, old, &res), "does nothing in a message without SMTPUTF8");
    result_free(&res);
    ok(add(e, '+', "<j\xc3\xb6rg@example.net>", NULL, 0, &err), "ADDRCPT of a UTF-8 address");
    ok(!apply_to(e, old, &res), "is refused in a message without SMTPUTF8");
    like(res.err.text, "without SMTPUTF8", "which the error says");
    result_free(&res);
    milter_edits_free(e);
    close(old);
}

/* test_write_error - a full disk under the new file: an error, the old file as it was */
static void
test_write_error(void)
{
    struct milter_edits *e = milter_edits_new();
    int old = old_file(CONTENT, strlen(CONTENT));
    int full = open("/dev/full", O_WRONLY);
    struct queue_envelope env;
    struct stat before, after;
    struct err err;

    fstat(old, &before);
    milter_edits_spool(e, old);
    add_body(e, "new body\r\n", 10, &err);
    if (full < 0) {
        ok(true, "# SKIP no /dev/full");
    } else {
        ok(!milter_edits_apply(e, old, full, &err), "a write error fails the apply");
        like(err.text, "No space left", "and names it");
        close(full);
    }
    fstat(old, &after);
    is_int((long long)after.st_size, (long long)before.st_size, "the spool is cut off anyway");
    ok(queue_file_read(old, &env, &err), "the old file reads as before");
    queue_envelope_free(&env);
    milter_edits_free(e);
    close(old);
}

static void
test_name_len(void)
{
    static const struct {
        const char *line;
        size_t want;
    } cases[] = {{"Subject: x\r\n", 7},
                 {"Subject :x", 7},
                 {"X-A:", 3},
                 {"Subject\t: x", 7},
                 {" Subject: x", 0},
                 {"Two words: x", 0},
                 {": x", 0},
                 {"Subject", 0},
                 {"\r\n", 0},
                 {"", 0}};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        is_int((long long)milter_hdrs_name_len(cases[i].line, strlen(cases[i].line)),
               (long long)cases[i].want, "header name length, case %zu", i);
}

int
main(void)
{
    test_name_len();
    test_headers();
    test_leadspc();
    test_odd_content();
    test_header_refused();
    test_recipients();
    test_recipient_limits();
    test_sender();
    test_body();
    test_size_limit();
    test_damaged();
    test_utf8();
    test_write_error();
    return done_testing();
}
