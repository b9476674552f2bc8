/*
 * tls_sink.c - a trivial SMTP server over TLS that accepts and discards everything: the
 * yardstick that shows how fast bench/tls_source can go on this machine (doc/bench.md).
 * Also W2S's receiving end: bench/run builds it into BENCH_DIR and runs it. By hand:
 *
 *   cc -O2 -pthread -o /tmp/tls_sink bench/tls_sink.c -lssl -lcrypto
 *   /tmp/tls_sink [-T starttls|implicit] cert.pem key.pem 127.0.0.1:2699
 *
 * One thread per connection, blocking I/O. Answers 220, then 250 to EHLO (offering STARTTLS
 * and AUTH PLAIN), 220 to STARTTLS followed by the TLS handshake (or the handshake first with
 * -T implicit), 235 to AUTH, 250 to MAIL and RCPT, 354 to DATA and 250 after the line ".",
 * 221 to QUIT. Checks nothing: it only costs the TLS handshake and the bytes. After each
 * final dot it writes its running count to stdout as "mesg=N" and a carriage return (the
 * form of smtp-sink -c's counters, which bench/run reads).
 *
 * Trusts: its command line; its clients are the bench's own.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#define LINE_MAX_LEN 4096

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long messages;

struct client {
    SSL_CTX *ctx;
    int fd;
    SSL *ssl;
    bool implicit;
    char buf[LINE_MAX_LEN];
    size_t len;
    size_t pos;
};

/* client_line - the next line into line (without CRLF); false at EOF or error */
static bool
client_line(struct client *c, char *line, size_t size)
{
    for (;;) {
        char *nl = memchr(c->buf + c->pos, '\n', c->len - c->pos);
        if (nl != NULL) {
            size_t n = (size_t)(nl - (c->buf + c->pos));
            if (n >= size)
                n = size - 1;
            memcpy(line, c->buf + c->pos, n);
            line[n > 0 && line[n - 1] == '\r' ? n - 1 : n] = 0;
            c->pos = (size_t)(nl - c->buf) + 1;
            return true;
        }
        if (c->pos > 0) {
            memmove(c->buf, c->buf + c->pos, c->len - c->pos);
            c->len -= c->pos;
            c->pos = 0;
        }
        if (c->len == sizeof(c->buf))
            c->len = 0; /* an over-long line: dropped */
        int n = c->ssl != NULL ? SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len))
                               : (int)read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
        if (n <= 0)
            return false;
        c->len += (size_t)n;
    }
}

static bool
client_say(struct client *c, const char *text)
{
    size_t len = strlen(text);

    if (c->ssl != NULL)
        return SSL_write(c->ssl, text, (int)len) == (int)len;
    return write(c->fd, text, len) == (ssize_t)len;
}

/* client_tls - the server handshake */
static bool
client_tls(struct client *c)
{
    c->len = c->pos = 0;
    if ((c->ssl = SSL_new(c->ctx)) == NULL)
        return false;
    SSL_set_fd(c->ssl, c->fd);
    return SSL_accept(c->ssl) == 1;
}

/* count_message - one more message received, and the running count on stdout */
static void
count_message(void)
{
    pthread_mutex_lock(&count_lock);
    printf("mesg=%lu\r", ++messages);
    fflush(stdout);
    pthread_mutex_unlock(&count_lock);
}

/* client_data - lines until "." */
static bool
client_data(struct client *c)
{
    char line[LINE_MAX_LEN];

    while (client_line(c, line, sizeof(line)))
        if (strcmp(line, ".") == 0) {
            count_message();
            return client_say(c, "250 2.0.0 Ok: discarded\r\n");
        }
    return false;
}

/* client_command - the reply to one command; false ends the connection */
static bool
client_command(struct client *c, const char *line)
{
    if (strncasecmp(line, "EHLO", 4) == 0)
        return client_say(c, "250-sink\r\n250-PIPELINING\r\n250-STARTTLS\r\n"
                             "250 AUTH PLAIN LOGIN\r\n");
    if (strncasecmp(line, "STARTTLS", 8) == 0)
        return client_say(c, "220 2.0.0 Ready to start TLS\r\n") && client_tls(c);
    if (strncasecmp(line, "AUTH", 4) == 0)
        return client_say(c, "235 2.7.0 Authentication successful\r\n");
    if (strncasecmp(line, "DATA", 4) == 0)
        return client_say(c, "354 End data with <CR><LF>.<CR><LF>\r\n") && client_data(c);
    if (strncasecmp(line, "QUIT", 4) == 0) {
        client_say(c, "221 2.0.0 Bye\r\n");
        return false;
    }
    return client_say(c, "250 2.0.0 Ok\r\n");
}

static void *
client_run(void *arg)
{
    struct client *c = arg;
    char line[LINE_MAX_LEN];

    if ((!c->implicit || client_tls(c)) && client_say(c, "220 sink ESMTP\r\n"))
        while (client_line(c, line, sizeof(line)) && client_command(c, line))
            continue;
    if (c->ssl != NULL) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    close(c->fd);
    free(c);
    return NULL;
}

/* listen_on - a listening socket on IPv4 host:port */
static int
listen_on(const char *address)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    char host[64];
    const char *colon = strrchr(address, ':');
    int one = 1, fd;

    if (colon == NULL || (size_t)(colon - address) >= sizeof(host))
        return -1;
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = 0;
    sin.sin_port = htons((unsigned short)strtoul(colon + 1, NULL, 10));
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1 || (fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 1024) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int
main(int argc, char **argv)
{
    bool implicit = argc == 6 && strcmp(argv[1], "-T") == 0 && strcmp(argv[2], "implicit") == 0;
    int args = argc == 6 ? 3 : 1;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int lfd, one = 1;

    signal(SIGPIPE, SIG_IGN); /* a client that closes after QUIT without the 221 */
    if ((argc != 4 && argc != 6) || ctx == NULL) {
        fprintf(stderr, "usage: tls_sink [-T starttls|implicit] cert.pem key.pem host:port\n");
        return 2;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, argv[args]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[args + 1], SSL_FILETYPE_PEM) != 1 ||
        (lfd = listen_on(argv[args + 2])) < 0) {
        fprintf(stderr, "tls_sink: cannot load the key pair or listen on %s\n", argv[args + 2]);
        return 1;
    }
    for (;;) {
        struct client *c = calloc(1, sizeof(*c));
        pthread_t tid;
        if (c == NULL || (c->fd = accept(lfd, NULL, NULL)) < 0) {
            free(c);
            continue;
        }
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->ctx = ctx;
        c->implicit = implicit;
        if (pthread_create(&tid, NULL, client_run, c) != 0) {
            close(c->fd);
            free(c);
            continue;
        }
        pthread_detach(tid);
    }
}
