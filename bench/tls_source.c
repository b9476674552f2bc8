/*
 * tls_source.c - the load generator of `make bench` workload W4: Postfix's smtp-source over
 * TLS. Not part of postern; bench/run builds it into $BENCH_DIR with
 * `cc -O2 -pthread bench/tls_source.c -lssl -lcrypto`.
 *
 * Usage: tls_source [-T starttls|implicit] [-a user:password] [-s sessions] [-m messages]
 *                   [-l size] [-f from] [-t to] [-M helo] [-q] [-R] host:port
 *
 * Like smtp-source, -m messages go over -s concurrent sessions, one new connection per
 * message: (TLS from the first byte with -T implicit) greeting, EHLO, (STARTTLS and EHLO
 * again with -T starttls), (AUTH PLAIN with the initial response after TLS with -a), MAIL,
 * RCPT, DATA with a message of about -l bytes, QUIT. No pipelining. The TLS client is a
 * normal one (TLS 1.2 or 1.3, whatever the server picks, a full handshake on every
 * connection, no session resumption; with -R each session resumes its previous connection's
 * TLS session, as an MTA that caches sessions per destination does) except that it
 * verifies no certificate: the bench's are self-signed. One thread per session; a session's thread
 * runs each of its messages start to end with blocking I/O and a 60 s timeout.
 *
 * Any unexpected reply, a timeout, a failed handshake or a lost connection ends the whole
 * program with status 1 and the reason on stderr. At the end one line on stdout: messages,
 * seconds, messages/s, and the program's own CPU seconds per 1,000 messages (so that a run
 * against a trivial TLS server shows how much of the machine the client itself takes).
 *
 * Trusts: its command line; the server's replies are only compared with what they should be.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#define LINE_MAX_LEN 4096 /* longest reply line accepted */
#define IO_TIMEOUT   60   /* seconds a read or write may block */

enum tls_mode {
    TLS_NONE,
    TLS_STARTTLS,
    TLS_IMPLICIT,
};

struct options {
    enum tls_mode mode;
    const char *auth; /* "user:password", or NULL */
    char *auth_plain; /* base64 of "\0user\0password" */
    int sessions;
    long messages;
    long size;
    const char *from;
    const char *to;
    const char *helo;
    bool quiet;
    bool resume; /* -R: each session offers the ticket of its last connection */
    struct addrinfo *addr;
    char *message; /* the DATA payload, dot-stuffed, ending in CRLF.CRLF */
    size_t message_len;
    SSL_CTX *ssl_ctx;
};

/* One connection: the socket, its TLS state once started, and the reply reader's buffer. */
struct conn {
    const struct options *opt;
    int fd;
    SSL *ssl;
    SSL_SESSION *last; /* -R: the session of the previous connection, to resume */
    char buf[LINE_MAX_LEN + 2];
    size_t len;
    size_t pos;
    long msgno;
};

static atomic_long next_message;

/* fail - the reason on stderr, and the whole program ends with status 1 */
static void __attribute__((noreturn, format(printf, 2, 3)))
fail(const struct conn *c, const char *fmt, ...)
{
    char text[LINE_MAX_LEN + 200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (c != NULL)
        fprintf(stderr, "tls_source: message %ld: %s\n", c->msgno, text);
    else
        fprintf(stderr, "tls_source: %s\n", text);
    exit(1);
}

/* conn_tls_error - OpenSSL's reason for the failed call what */
static void __attribute__((noreturn))
conn_tls_error(const struct conn *c, const char *what, int ret)
{
    unsigned long e = ERR_get_error();
    char reason[256] = "";

    if (e != 0)
        ERR_error_string_n(e, reason, sizeof(reason));
    fail(c, "%s: SSL error %d%s%s%s", what, SSL_get_error(c->ssl, ret), reason[0] ? " (" : "",
         reason, reason[0] ? ")" : "");
}

/* conn_fill - more bytes into the reply buffer; fails on EOF, error or timeout */
static void
conn_fill(struct conn *c)
{
    ssize_t n;

    if (c->pos > 0) {
        memmove(c->buf, c->buf + c->pos, c->len - c->pos);
        c->len -= c->pos;
        c->pos = 0;
    }
    if (c->len >= LINE_MAX_LEN)
        fail(c, "reply line longer than %d bytes", LINE_MAX_LEN);
    if (c->ssl != NULL) {
        int r = SSL_read(c->ssl, c->buf + c->len, (int)(LINE_MAX_LEN - c->len));
        if (r <= 0)
            conn_tls_error(c, "reading a reply", r);
        n = r;
    } else {
        n = read(c->fd, c->buf + c->len, LINE_MAX_LEN - c->len);
        if (n < 0)
            fail(c, "reading a reply: %s", strerror(errno));
        if (n == 0)
            fail(c, "connection closed by the server");
    }
    c->len += (size_t)n;
}

/* conn_line - the next reply line, without its CRLF, in line (LINE_MAX_LEN + 1 bytes) */
static void
conn_line(struct conn *c, char *line)
{
    for (;;) {
        char *nl = memchr(c->buf + c->pos, '\n', c->len - c->pos);
        if (nl != NULL) {
            size_t n = (size_t)(nl - (c->buf + c->pos));
            if (n > 0 && c->buf[c->pos + n - 1] == '\r')
                n--;
            memcpy(line, c->buf + c->pos, n);
            line[n] = 0;
            c->pos = (size_t)(nl - c->buf) + 1;
            return;
        }
        conn_fill(c);
    }
}

/* conn_reply - read one reply (all its lines); fail unless its code is want. With
 * saw != NULL, *saw tells whether a line of it began (after the code) with keyword. */
static void
conn_reply(struct conn *c, const char *want, const char *keyword, bool *saw)
{
    char line[LINE_MAX_LEN + 1] = "";

    if (saw != NULL)
        *saw = false;
    do {
        conn_line(c, line);
        if (strlen(line) < 3 || strncmp(line, want, 3) != 0)
            fail(c, "expected %s, got \"%s\"", want, line);
        if (saw != NULL && strncasecmp(line + 4, keyword, strlen(keyword)) == 0)
            *saw = true;
    } while (line[3] == '-');
}

/* conn_write - all of data, through TLS once it is on */
static void
conn_write(struct conn *c, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n;
        if (c->ssl != NULL) {
            int r = SSL_write(c->ssl, data, (int)len);
            if (r <= 0)
                conn_tls_error(c, "writing", r);
            n = r;
        } else {
            n = write(c->fd, data, len);
            if (n < 0)
                fail(c, "writing: %s", strerror(errno));
        }
        data += n;
        len -= (size_t)n;
    }
}

/* conn_vsend - one command line with its CRLF, in one write (one TLS record) */
static void
conn_vsend(struct conn *c, const char *fmt, va_list ap)
{
    char line[LINE_MAX_LEN];
    int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);

    if (n < 0 || (size_t)n >= sizeof(line) - 2)
        fail(c, "command too long");
    line[n] = '\r';
    line[n + 1] = '\n';
    conn_write(c, line, (size_t)n + 2);
}

static void __attribute__((format(printf, 2, 3))) conn_send(struct conn *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    conn_vsend(c, fmt, ap);
    va_end(ap);
}

/* conn_command - one command line, then its reply, which must have code want */
static void __attribute__((format(printf, 3, 4)))
conn_command(struct conn *c, const char *want, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    conn_vsend(c, fmt, ap);
    va_end(ap);
    conn_reply(c, want, "", NULL);
}

/* conn_connect - a new TCP connection to the server; fails on error */
static void
conn_connect(struct conn *c)
{
    const struct addrinfo *ai = c->opt->addr;
    struct timeval tv = {.tv_sec = IO_TIMEOUT};
    int one = 1;

    c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (c->fd < 0)
        fail(c, "socket: %s", strerror(errno));
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0)
        fail(c, "connect: %s", strerror(errno));
}

/* conn_handshake - the TLS client handshake on the connection's socket */
static void
conn_handshake(struct conn *c)
{
    int r;

    /* Bytes the server sent ahead of its handshake would be an injection (RFC 3207). */
    if (c->pos != c->len)
        fail(c, "server sent data after its STARTTLS reply");
    c->pos = c->len = 0;
    if ((c->ssl = SSL_new(c->opt->ssl_ctx)) == NULL)
        conn_tls_error(c, "SSL_new", 0);
    if (c->last != NULL)
        SSL_set_session(c->ssl, c->last);
    SSL_set_fd(c->ssl, c->fd);
    if ((r = SSL_connect(c->ssl)) != 1)
        conn_tls_error(c, "TLS handshake", r);
}

/* conn_close - close_notify (not waiting for the server's), then the socket */
static void
conn_close(struct conn *c)
{
    if (c->ssl != NULL) {
        if (c->opt->resume) { /* the newest ticket the server sent on this connection */
            SSL_SESSION_free(c->last);
            c->last = SSL_get1_session(c->ssl);
        }
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    close(c->fd);
    c->fd = -1;
    c->len = c->pos = 0;
}

/* conn_hello - greeting and EHLO, with TLS and AUTH as the options say */
static void
conn_hello(struct conn *c)
{
    const struct options *opt = c->opt;
    bool starttls;

    if (opt->mode == TLS_IMPLICIT)
        conn_handshake(c);
    conn_reply(c, "220", "", NULL);
    conn_send(c, "EHLO %s", opt->helo);
    conn_reply(c, "250", "STARTTLS", &starttls);
    if (opt->mode == TLS_STARTTLS) {
        if (!starttls)
            fail(c, "server does not offer STARTTLS");
        conn_command(c, "220", "STARTTLS");
        conn_handshake(c);
        conn_command(c, "250", "EHLO %s", opt->helo);
    }
    if (opt->auth_plain != NULL)
        conn_command(c, "235", "AUTH PLAIN %s", opt->auth_plain);
}

/* send_message - one message over one new connection, start to end */
static void
send_message(struct conn *c)
{
    const struct options *opt = c->opt;

    conn_connect(c);
    conn_hello(c);
    conn_command(c, "250", "MAIL FROM:<%s>", opt->from);
    conn_command(c, "250", "RCPT TO:<%s>", opt->to);
    conn_command(c, "354", "DATA");
    conn_write(c, opt->message, opt->message_len);
    conn_reply(c, "250", "", NULL);
    conn_command(c, "221", "QUIT");
    conn_close(c);
}

/* session - one of the -s concurrent sessions: messages until all are taken */
static void *
session(void *arg)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        fail(NULL, "out of memory");
    c->opt = arg;
    c->fd = -1;
    while ((c->msgno = atomic_fetch_add(&next_message, 1)) < c->opt->messages)
        send_message(c);
    SSL_SESSION_free(c->last);
    free(c);
    return NULL;
}

/* make_message - headers and about size bytes of body in lines of 72, ending in CRLF.CRLF */
static void
make_message(struct options *opt)
{
    static const char line[] = "La de da de da, the quick brown fox jumps over the lazy dog. "
                               "0123456789\r\n";
    size_t cap = (size_t)opt->size + 1024 + sizeof(line);
    size_t n;

    if ((opt->message = malloc(cap)) == NULL)
        fail(NULL, "out of memory");
    n = (size_t)snprintf(opt->message, cap,
                         "From: <%s>\r\nTo: <%s>\r\nSubject: tls_source test message\r\n\r\n",
                         opt->from, opt->to);
    for (long body = 0; body < opt->size; body += (long)sizeof(line) - 1) {
        memcpy(opt->message + n, line, sizeof(line) - 1);
        n += sizeof(line) - 1;
    }
    memcpy(opt->message + n, ".\r\n", 3);
    opt->message_len = n + 3;
}

/* make_auth - base64 of "\0user\0password" from -a user:password (RFC 4616) */
static void
make_auth(struct options *opt)
{
    const char *colon = strchr(opt->auth, ':');
    unsigned char raw[1024];
    size_t user, pass;

    if (colon == NULL)
        fail(NULL, "-a wants user:password");
    user = (size_t)(colon - opt->auth);
    pass = strlen(colon + 1);
    if (user + pass + 2 > sizeof(raw))
        fail(NULL, "-a: user and password too long");
    raw[0] = 0;
    memcpy(raw + 1, opt->auth, user);
    raw[1 + user] = 0;
    memcpy(raw + 2 + user, colon + 1, pass);
    if ((opt->auth_plain = malloc(4 * sizeof(raw) / 3 + 4)) == NULL)
        fail(NULL, "out of memory");
    EVP_EncodeBlock((unsigned char *)opt->auth_plain, raw, (int)(user + pass + 2));
}

/* make_ssl_ctx - a client context: TLS 1.2 and up, no verification, no resumption */
static void
make_ssl_ctx(struct options *opt)
{
    if ((opt->ssl_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
        fail(NULL, "SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(opt->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(opt->ssl_ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(opt->ssl_ctx, SSL_SESS_CACHE_OFF);
}

/* resolve - host:port (numeric or a name) into opt->addr */
static void
resolve(struct options *opt, const char *address)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    char host[256];
    const char *colon = strrchr(address, ':');
    int e;

    if (colon == NULL || (size_t)(colon - address) >= sizeof(host))
        fail(NULL, "address must be host:port");
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = 0;
    if ((e = getaddrinfo(host, colon + 1, &hints, &opt->addr)) != 0)
        fail(NULL, "%s: %s", address, gai_strerror(e));
}

static void __attribute__((noreturn)) usage(void)
{
    fail(NULL, "usage: tls_source [-T starttls|implicit] [-a user:password] [-s sessions] "
               "[-m messages] [-l size] [-f from] [-t to] [-M helo] [-q] [-R] host:port");
}

/* number - a decimal count from 0 to max, or the usage message */
static long
number(const char *text, long max)
{
    char *end;
    long n = strtol(text, &end, 10);

    if (end == text || *end != 0 || n < 0 || n > max)
        usage();
    return n;
}

/* parse_options - the command line into opt; the address is resolved */
static void
parse_options(struct options *opt, int argc, char **argv)
{
    int ch;

    while ((ch = getopt(argc, argv, "T:a:s:m:l:f:t:M:qR")) != -1) {
        switch (ch) {
        case 'T':
            if (strcmp(optarg, "starttls") == 0)
                opt->mode = TLS_STARTTLS;
            else if (strcmp(optarg, "implicit") == 0)
                opt->mode = TLS_IMPLICIT;
            else
                usage();
            break;
        case 'a':
            opt->auth = optarg;
            break;
        case 's':
            opt->sessions = (int)number(optarg, 100000);
            break;
        case 'm':
            opt->messages = number(optarg, 1000000000);
            break;
        case 'l':
            opt->size = number(optarg, 100000000);
            break;
        case 'f':
            opt->from = optarg;
            break;
        case 't':
            opt->to = optarg;
            break;
        case 'M':
            opt->helo = optarg;
            break;
        case 'q':
            opt->quiet = true;
            break;
        case 'R':
            opt->resume = true;
            break;
        default:
            usage();
        }
    }
    if (optind != argc - 1 || opt->sessions < 1 || opt->messages < 0 || opt->size < 0)
        usage();
    resolve(opt, argv[optind]);
}

/* cpu_seconds - user and system time of this process so far */
static double
cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    struct options opt = {.sessions = 1,
                          .messages = 1,
                          .size = 1024,
                          .from = "sender@bench.test",
                          .to = "postern-bench@bench.test",
                          .helo = "bench.client"};
    pthread_t *threads;
    double t0, t1;

    parse_options(&opt, argc, argv);
    if (opt.auth != NULL)
        make_auth(&opt);
    make_message(&opt);
    make_ssl_ctx(&opt);
    if ((threads = calloc((size_t)opt.sessions, sizeof(*threads))) == NULL)
        fail(NULL, "out of memory");
    t0 = now();
    for (int i = 0; i < opt.sessions; i++)
        if (pthread_create(&threads[i], NULL, session, &opt) != 0)
            fail(NULL, "cannot start session %d", i);
    for (int i = 0; i < opt.sessions; i++)
        pthread_join(threads[i], NULL);
    t1 = now();
    if (!opt.quiet)
        printf("%ld messages in %.2f s: %.0f msgs/s, client CPU %.2f s per 1000 msgs\n",
               opt.messages, t1 - t0, (double)opt.messages / (t1 - t0),
               opt.messages > 0 ? cpu_seconds() / (double)opt.messages * 1000 : 0.0);
    SSL_CTX_free(opt.ssl_ctx);
    freeaddrinfo(opt.addr);
    free(opt.message);
    free(opt.auth_plain);
    free(threads);
    return 0;
}
