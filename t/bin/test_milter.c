/*
 * test_milter.c - a milter built with libmilter (the filter side of the protocol), told per
 * test what to answer at which stage, recording what it saw. It exists for the tests of
 * postern's milter client and is never installed.
 *
 *   test_milter -s SOCKET -l LOGFILE [-a STAGE[/MATCH]=ACTION]... [-p PROTOCOL] [-M STAGE=LIST]
 *
 * SOCKET is libmilter's: unix:/path or inet:PORT@127.0.0.1. STAGE is connect, helo, mail,
 * rcpt, data, header, eoh, body or eom; MATCH, if given, must be a substring of the stage's
 * argument (the host name, HELO name, address, "name: value") for the rule to apply. ACTION:
 *   continue accept reject tempfail discard skip  the verdict of that name
 *   reply:CODE:DSN:TEXT                          a custom reply (smfi_setreply) and reject
 *   stall                                        sleep an hour (a milter that hangs)
 *   addheader:NAME:VALUE insheader:IDX:NAME:VALUE chgheader:IDX:NAME:VALUE
 *   addrcpt:ADDR addrcptpar:ADDR:ARGS delrcpt:ADDR chgfrom:ADDR chgfrompar:ADDR:ARGS
 *   quarantine:REASON replbody:TEXT
 *                                                edits: eom only, each rule in order, and
 *                                                the first verdict rule ends the stage
 * PROTOCOL (hex) is the set of SMFIP_* flags it asks for in negotiation (default none); -M
 * asks for a macro list at a stage (smfi_setsymlist). Every event is one line in LOGFILE:
 * the stage, its argument, then each macro of a fixed list that has a value, as name=value,
 * separated by tabs; a session's end is the line "close".
 *
 * Trusts: its arguments and the MTA (it is a test fixture).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#define RULES_MAX 64

struct rule {
    const char *stage;
    const char *match;
    const char *action;
};

static struct rule rules[RULES_MAX];
static int nrules;
static FILE *log_file;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long want_protocol;
static char *symlists[SMFIM_EOH + 1];

static const char *const macro_names[] = {
    "j",
    "_",
    "v",
    "{daemon_name}",
    "{daemon_addr}",
    "{client_addr}",
    "{client_name}",
    "{tls_version}",
    "{cipher}",
    "{cipher_bits}",
    "{cert_subject}",
    "{cert_issuer}",
    "{auth_type}",
    "{auth_authen}",
    "{auth_author}",
    "{mail_addr}",
    "{mail_host}",
    "{mail_mailer}",
    "i",
    "{rcpt_addr}",
    "{rcpt_host}",
    "{rcpt_mailer}",
    "{x_test}",
};

/* log_event - one line: stage, argument, the macros that have a value */
static void
log_event(SMFICTX *ctx, const char *stage, const char *arg)
{
    pthread_mutex_lock(&log_lock);
    fprintf(log_file, "%s %s", stage, arg ? arg : "");
    for (size_t i = 0; ctx && i < sizeof(macro_names) / sizeof(macro_names[0]); i++) {
        char name[32];
        const char *v;
        snprintf(name, sizeof(name), "%s", macro_names[i]);
        v = smfi_getsymval(ctx, name);
        if (v != NULL)
            fprintf(log_file, "\t%s=%s", macro_names[i], v);
    }
    fputc('\n', log_file);
    fflush(log_file);
    pthread_mutex_unlock(&log_lock);
}

/* field - the n-th ':'-separated field of s (n from 0) into out, the rest if last */
static char *
field(const char *s, int n, int last, char *out, size_t size)
{
    const char *end;

    out[0] = 0;
    for (int i = 0; i < n && s; i++)
        s = strchr(s, ':') ? strchr(s, ':') + 1 : NULL;
    if (s == NULL)
        return out;
    end = last ? s + strlen(s) : strchrnul(s, ':');
    snprintf(out, size, "%.*s", (int)(end - s), s);
    return out;
}

/* verdict - the status of a verdict action, or -1 if action is no verdict */
static int
verdict(SMFICTX *ctx, const char *action)
{
    char code[8], dsn[16], text[512];

    if (strcmp(action, "continue") == 0)
        return SMFIS_CONTINUE;
    if (strcmp(action, "accept") == 0)
        return SMFIS_ACCEPT;
    if (strcmp(action, "reject") == 0)
        return SMFIS_REJECT;
    if (strcmp(action, "tempfail") == 0)
        return SMFIS_TEMPFAIL;
    if (strcmp(action, "discard") == 0)
        return SMFIS_DISCARD;
    if (strcmp(action, "skip") == 0)
        return SMFIS_SKIP;
    if (strcmp(action, "stall") == 0) {
        sleep(3600);
        return SMFIS_CONTINUE;
    }
    if (strncmp(action, "reply:", 6) == 0) {
        smfi_setreply(ctx, field(action, 1, 0, code, sizeof(code)),
                      field(action, 2, 0, dsn, sizeof(dsn)),
                      field(action, 3, 1, text, sizeof(text)));
        return code[0] == '4' ? SMFIS_TEMPFAIL : SMFIS_REJECT;
    }
    return -1;
}

/* edit - one end-of-message edit; logs a failure of libmilter to send it */
static void
edit(SMFICTX *ctx, const char *action)
{
    char a[512], b[512], c[512];
    int r = MI_SUCCESS;

    if (strncmp(action, "addheader:", 10) == 0)
        r = smfi_addheader(ctx, field(action, 1, 0, a, sizeof(a)),
                           field(action, 2, 1, b, sizeof(b)));
    else if (strncmp(action, "insheader:", 10) == 0)
        r = smfi_insheader(ctx, (int)strtol(field(action, 1, 0, a, sizeof(a)), NULL, 10),
                           field(action, 2, 0, b, sizeof(b)), field(action, 3, 1, c, sizeof(c)));
    else if (strncmp(action, "chgheader:", 10) == 0)
        r = smfi_chgheader(ctx, field(action, 2, 0, b, sizeof(b)),
                           (int)strtol(field(action, 1, 0, a, sizeof(a)), NULL, 10),
                           *field(action, 3, 1, c, sizeof(c)) ? c : NULL);
    else if (strncmp(action, "addrcptpar:", 11) == 0)
        r = smfi_addrcpt_par(ctx, field(action, 1, 0, a, sizeof(a)),
                             field(action, 2, 1, b, sizeof(b)));
    else if (strncmp(action, "chgfrompar:", 11) == 0)
        r = smfi_chgfrom(ctx, field(action, 1, 0, a, sizeof(a)), field(action, 2, 1, b, sizeof(b)));
    else if (strncmp(action, "addrcpt:", 8) == 0)
        r = smfi_addrcpt(ctx, field(action, 1, 1, a, sizeof(a)));
    else if (strncmp(action, "delrcpt:", 8) == 0)
        r = smfi_delrcpt(ctx, field(action, 1, 1, a, sizeof(a)));
    else if (strncmp(action, "chgfrom:", 8) == 0)
        r = smfi_chgfrom(ctx, field(action, 1, 1, a, sizeof(a)), NULL);
    else if (strncmp(action, "quarantine:", 11) == 0)
        r = smfi_quarantine(ctx, field(action, 1, 1, a, sizeof(a)));
    else if (strncmp(action, "replbody:", 9) == 0)
        r = smfi_replacebody(ctx, (unsigned char *)field(action, 1, 1, a, sizeof(a)),
                             (int)strnlen(action + 9, sizeof(a) - 1));
    if (r != MI_SUCCESS)
        log_event(NULL, "edit-failed", action);
}

/* stage - log the event, then apply the rules of that stage whose match fits arg */
static sfsistat
stage(SMFICTX *ctx, const char *name, const char *arg)
{
    log_event(ctx, name, arg);
    for (int i = 0; i < nrules; i++) {
        int v;
        if (strcmp(rules[i].stage, name) != 0 ||
            (rules[i].match && (arg == NULL || strstr(arg, rules[i].match) == NULL)))
            continue;
        if ((v = verdict(ctx, rules[i].action)) >= 0)
            return (sfsistat)v;
        edit(ctx, rules[i].action);
    }
    return SMFIS_CONTINUE;
}

static sfsistat
on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    return stage(ctx, "connect", host);
}

static sfsistat
on_helo(SMFICTX *ctx, char *helo)
{
    return stage(ctx, "helo", helo);
}

/* on_args - MAIL and RCPT: the address and its ESMTP parameters, space-separated */
static sfsistat
on_args(SMFICTX *ctx, const char *name, char **argv)
{
    char line[2048] = "";

    for (int i = 0; argv[i]; i++)
        snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s%s", i ? " " : "", argv[i]);
    return stage(ctx, name, line);
}

static sfsistat
on_mail(SMFICTX *ctx, char **argv)
{
    return on_args(ctx, "mail", argv);
}

static sfsistat
on_rcpt(SMFICTX *ctx, char **argv)
{
    return on_args(ctx, "rcpt", argv);
}

static sfsistat
on_data(SMFICTX *ctx)
{
    return stage(ctx, "data", NULL);
}

static sfsistat
on_header(SMFICTX *ctx, char *name, char *value)
{
    char line[4096];

    snprintf(line, sizeof(line), "%s:%s", name, value);
    return stage(ctx, "header", line);
}

static sfsistat
on_eoh(SMFICTX *ctx)
{
    return stage(ctx, "eoh", NULL);
}

/* on_body - the chunk's size, and its text if short, as the argument */
static sfsistat
on_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    char line[256];

    snprintf(line, sizeof(line), "%zu %.*s", len, len < 64 ? (int)len : 0, chunk);
    for (char *p = line; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = '|';
    return stage(ctx, "body", line);
}

static sfsistat
on_eom(SMFICTX *ctx)
{
    return stage(ctx, "eom", NULL);
}

static sfsistat
on_abort(SMFICTX *ctx)
{
    log_event(ctx, "abort", NULL);
    return SMFIS_CONTINUE;
}

static sfsistat
on_close(SMFICTX *ctx)
{
    log_event(NULL, "close", NULL);
    return SMFIS_CONTINUE;
}

static sfsistat
on_unknown(SMFICTX *ctx, const char *cmd)
{
    return stage(ctx, "unknown", cmd);
}

/* on_negotiate - every action the MTA offers, the steps -p asked for, the -M lists */
static sfsistat
on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2, unsigned long f3,
             unsigned long *pf0, unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    char line[128];

    snprintf(line, sizeof(line), "actions=0x%lx protocol=0x%lx", f0, f1);
    log_event(NULL, "negotiate", line);
    *pf0 = f0;
    *pf1 = f1 & want_protocol;
    *pf2 = 0;
    *pf3 = 0;
    for (int i = 0; i <= SMFIM_EOH; i++)
        if (symlists[i] != NULL)
            smfi_setsymlist(ctx, i, symlists[i]);
    return SMFIS_CONTINUE;
}

/* add_rule - "stage[/match]=action" */
static void
add_rule(char *spec)
{
    char *eq = strchr(spec, '='), *slash;

    if (eq == NULL || nrules == RULES_MAX) {
        fprintf(stderr, "test_milter: bad rule %s\n", spec);
        exit(2);
    }
    *eq = 0;
    slash = strchr(spec, '/');
    if (slash)
        *slash = 0;
    rules[nrules].stage = spec;
    rules[nrules].match = slash ? slash + 1 : NULL;
    rules[nrules++].action = eq + 1;
}

/* add_symlist - "stage=list" with the stage names of SMFIM_* */
static void
add_symlist(char *spec)
{
    static const char *const names[] = {"connect", "helo", "mail", "rcpt", "data", "eom", "eoh"};
    char *eq = strchr(spec, '=');

    for (int i = 0; eq && i <= SMFIM_EOH; i++)
        if (strncmp(spec, names[i], (size_t)(eq - spec)) == 0 && names[i][eq - spec] == 0) {
            symlists[i] = eq + 1;
            return;
        }
    fprintf(stderr, "test_milter: bad macro list %s\n", spec);
    exit(2);
}

int
main(int argc, char **argv)
{
    struct smfiDesc desc = {
        "test_milter",
        SMFI_VERSION,
        SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT | SMFIF_ADDRCPT_PAR |
            SMFIF_DELRCPT | SMFIF_QUARANTINE | SMFIF_CHGFROM | SMFIF_SETSYMLIST,
        on_connect,
        on_helo,
        on_mail,
        on_rcpt,
        on_header,
        on_eoh,
        on_body,
        on_eom,
        on_abort,
        on_close,
        on_unknown,
        on_data,
        on_negotiate,
    };
    char *sock = NULL, *logname = NULL;
    int c;

    while ((c = getopt(argc, argv, "s:l:a:p:M:")) != -1) {
        if (c == 's')
            sock = optarg;
        else if (c == 'l')
            logname = optarg;
        else if (c == 'a')
            add_rule(optarg);
        else if (c == 'p')
            want_protocol = strtoul(optarg, NULL, 16);
        else if (c == 'M')
            add_symlist(optarg);
        else
            return 2;
    }
    if (sock == NULL || logname == NULL || (log_file = fopen(logname, "a")) == NULL) {
        fprintf(stderr, "usage: test_milter -s SOCKET -l LOGFILE [-a RULE] [-p HEX] [-M LIST]\n");
        return 2;
    }
    if (smfi_setconn(sock) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS ||
        smfi_opensocket(1) != MI_SUCCESS)
        return 1;
    log_event(NULL, "ready", sock);
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
