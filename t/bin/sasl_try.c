/*
 * sasl_try.c - one SMTP AUTH exchange against a real SASL backend, for t/sasl.t: never
 * installed.
 *
 *   sasl_try -c MAIN_CF [-t] -m                  "mechs: ..." and "mechs-tls: ..."
 *   sasl_try -c MAIN_CF [-t] [-n N] [-C] [-p] [-r R] -a MECH [-i INITIAL] [RESPONSE...]
 *
 * Builds a sasl_server from MAIN_CF as a receiver would (a relative smtpd_sasl_path is
 * taken from queue_directory), starts an exchange with MECH (and the initial response
 * INITIAL, base64 or "="), and answers each challenge with the next RESPONSE; -t makes the
 * session a TLS one. Prints one line per event: "challenge B64", "ok USER", "fail TEXT
 * (tried USER)", "bad_data TEXT", "temp TEXT", "unsupported". -n runs N exchanges at once
 * (lines prefixed "N: "); -C first starts one exchange and frees it while it runs; -r runs
 * the exchange R times, one after the other, in the same process; -p pauses before each
 * RESPONSE and each new round until a line comes on stdin (the test changes the backend
 * meanwhile). Exits 0 when every exchange ended, 1 on a time-out.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/str.h"
#include "mail/params.h"
#include "mail/sasl_server.h"

#define TRY_DEADLINE_MS 30000
#define TRY_MAX         64

struct
try {
    int index;
    struct sasl_auth *auth;
    int next; /* the next RESPONSE to send */
};

static struct loop *try_loop;
static struct sasl_server *try_server;
static struct sasl_peer try_peer = {"127.0.0.1", "54321", "127.0.0.1", "587", false};
static const char *try_mech, *try_initial;
static char **try_responses;
static int try_nresponses, try_running, try_n, try_rounds = 1;
static bool try_pause;

static void try_done(void *arg, enum sasl_result result, const char *text);

static void __attribute__((format(printf, 2, 3))) try_say(struct try *t, const char *fmt, ...)
{
    va_list ap;

    if (try_n > 1)
        printf("%d: ", t->index);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

/* try_wait - with -p: wait for the test's go-ahead, a line on stdin */
static void
try_wait(void)
{
    char line[64];

    if (try_pause && fgets(line, sizeof(line), stdin) == NULL)
        exit(3);
}

/* try_begin - start t's exchange; false if the mechanism is not offered */
static bool
try_begin(struct try *t)
{
    bool unsupported;

    t->next = 0;
    t->auth =
        sasl_auth_start(try_server, &try_peer, try_mech, try_initial, try_done, t, &unsupported);
    if (t->auth == NULL)
        try_say(t, "%s", unsupported ? "unsupported" : "no auth");
    return t->auth != NULL;
}

static void
try_end(struct try *t)
{
    sasl_auth_free(t->auth);
    t->auth = NULL;
    while (--try_rounds > 0) {
        try_wait();
        if (try_begin(t))
            return;
    }
    if (--try_running == 0)
        loop_break(try_loop);
}

static void
try_done(void *arg, enum sasl_result result, const char *text)
{
    struct try *t = arg;
    const char *tried;

    switch (result) {
    case SASL_RESULT_CHALLENGE:
        try_say(t, "challenge %s", text);
        if (t->next >= try_nresponses) {
            try_say(t, "out of responses");
            try_end(t);
            return;
        }
        try_wait();
        sasl_auth_step(t->auth, try_responses[t->next++]);
        return;
    case SASL_RESULT_OK:
        try_say(t, "ok %s", sasl_auth_user(t->auth));
        break;
    case SASL_RESULT_FAIL:
        tried = sasl_auth_tried_user(t->auth);
        try_say(t, "fail %s (tried %s)", text, tried != NULL ? tried : "nobody");
        break;
    case SASL_RESULT_BAD_DATA:
        try_say(t, "bad_data %s", text);
        break;
    case SASL_RESULT_TEMP:
        try_say(t, "temp %s", text);
        break;
    }
    try_end(t);
}

static void
try_deadline(void *arg)
{
    printf("timeout\n");
    fflush(stdout);
    exit(1);
}

static void
try_usage(void)
{
    fprintf(stderr, "usage: sasl_try -c MAIN_CF [-t] [-m | [-n N] [-C] -a MECH [-i INITIAL] "
                    "[RESPONSE...]]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    const char *main_cf = NULL;
    struct try tries[TRY_MAX];
    bool list = false, cancel_first = false, unsupported;
    struct params p;
    struct conf *conf;
    struct sasl_server *s;
    struct loop_timer *deadline;
    struct err err;
    long n;
    int c;

    try_n = 1;
    while ((c = getopt(argc, argv, "a:c:Ci:mn:pr:t")) != -1) {
        switch (c) {
        case 'a':
            try_mech = optarg;
            break;
        case 'c':
            main_cf = optarg;
            break;
        case 'C':
            cancel_first = true;
            break;
        case 'i':
            try_initial = optarg;
            break;
        case 'm':
            list = true;
            break;
        case 'n':
            if (!str_to_long(optarg, 1, TRY_MAX, &n))
                try_usage();
            try_n = (int)n;
            break;
        case 'p':
            try_pause = true;
            break;
        case 'r':
            if (!str_to_long(optarg, 1, 100, &n))
                try_usage();
            try_rounds = (int)n;
            break;
        case 't':
            try_peer.tls = true;
            break;
        default:
            try_usage();
        }
    }
    if (main_cf == NULL || (!list && try_mech == NULL) || (try_n > 1 && try_rounds > 1))
        try_usage();
    try_responses = argv + optind;
    try_nresponses = argc - optind;
    log_init("postern", "sasl_try");
    log_to_stderr();
    conf = params_conf_new();
    if (!conf_read_file(conf, main_cf, &err) || !params_load(&p, conf, &err))
        log_fatal("%s", err.text);
    signal(SIGPIPE, SIG_IGN); /* as the daemons do */
    if (*p.smtpd_sasl_path != '/' && chdir(p.queue_directory) < 0)
        log_fatal("chdir %s: %m", p.queue_directory);
    try_loop = loop_new();
    if ((s = try_server = sasl_server_create(try_loop, &p, &err)) == NULL) {
        printf("server: %s\n", err.text);
        return 1;
    }
    if (list) {
        printf("mechs: %s\nmechs-tls: %s\n", sasl_server_mechs(s, false),
               sasl_server_mechs(s, true));
    } else {
        deadline = loop_timer_new(try_loop, try_deadline, NULL);
        loop_timer_start(deadline, TRY_DEADLINE_MS);
        if (cancel_first) {
            struct sasl_auth *gone =
                sasl_auth_start(s, &try_peer, try_mech, try_initial, try_done, NULL, &unsupported);

            sasl_auth_free(gone); /* its done must never come */
        }
        for (int i = 0; i < try_n; i++) {
            tries[i].index = i;
            while (!try_begin(&tries[i]) && --try_rounds > 0)
                try_wait();
            if (tries[i].auth != NULL)
                try_running++;
        }
        if (try_running > 0)
            loop_run(try_loop);
        loop_timer_free(deadline);
    }
    sasl_server_free(s);
    loop_free(try_loop);
    params_free(&p);
    conf_free(conf);
    return 0;
}
