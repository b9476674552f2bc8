/*
 * tlsproxy_session.c - one TLS session: the receiver's request, the handshake, the result,
 * then plaintext both ways between the receiver's connection and the client's socket. For
 * smtp-out the sides turn (a tls_client request): "receiver" is smtp-out and "client" the
 * server it delivers to, and tlsproxy is the TLS client.
 *
 * Trusts: the receiver's request as far as tls_request_decode checks it; nothing from the
 * network. Memory per session is bounded: at most one TLS_BUF buffer each way, allocated
 * only while data is in flight, so an idle session costs its SSL object and this struct.
 * Flow control is by not reading: a side that does not take what it is sent stops the
 * other side's reads, never grows a buffer.
 *
 * Ends: the client closing (close_notify or EOF) is passed on as a half-close of the
 * receiver's connection, so that it sees the end; what it still says is dropped, as the
 * client has gone. The receiver closing ends the session with a close_notify once its last
 * bytes are sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "core/ipc.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "tlsproxy/tlsproxy.h"

#define TLS_BUF         (16 * 1024) /* one TLS record's plaintext */
#define TP_REQUEST_WAIT 30          /* seconds a receiver may take to send its request */

/* Bytes on their way from one side to the other; data is NULL while empty. */
struct tp_buf {
    char *data;
    size_t len, off;
};

enum tp_state {
    TP_REQUEST,   /* reading the receiver's tls_server request */
    TP_HANDSHAKE, /* the client and we agree on keys */
    TP_PUMP,      /* plaintext to and fro */
};

struct tp_session {
    struct tlsproxy *tp;
    enum tp_state state;
    int conn; /* the receiver: request, result, then plaintext */
    int net;  /* the client's socket, -1 until the request came */
    struct loop_fd *conn_watch, *net_watch;
    struct loop_timer *timer; /* the handshake's time limit */
    struct ipc_reader reader; /* TP_REQUEST only */
    struct tls_request *req;  /* TP_HANDSHAKE only: what the facts are checked against */
    SSL *ssl;
    struct tp_buf down; /* from the client, decrypted, for the receiver */
    struct tp_buf up;   /* from the receiver, to encrypt for the client */
    unsigned down_want; /* what SSL_read waits for on net (LOOP_READ or LOOP_WRITE) */
    unsigned up_want;   /* what SSL_write waits for */
    bool net_done;      /* the client closed, or its connection broke */
    bool conn_done;     /* the receiver closed its side */
    bool down_shut;     /* the receiver was told no more comes (half-close) */
};

/* Reads land here, so that a read that finds nothing costs no allocation; a session keeps
 * only the bytes it got (the loop is single-threaded). */
static char tp_scratch[TLS_BUF];

/* tp_buf_fill - n bytes just read into tp_scratch become the buffer's content */
static void
tp_buf_fill(struct tp_buf *b, size_t n)
{
    if (b->data == NULL)
        b->data = xmalloc(TLS_BUF);
    memcpy(b->data, tp_scratch, n);
    b->len = n;
    b->off = 0;
}

static void
tp_buf_drop(struct tp_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->off = 0;
}

static void
tp_end(struct tp_session *s)
{
    struct server_ctx *ctx = s->tp->ctx;

    loop_fd_free(s->conn_watch);
    loop_fd_free(s->net_watch);
    loop_timer_free(s->timer);
    if (s->state == TP_REQUEST)
        ipc_reader_free(&s->reader);
    free(s->req);
    SSL_free(s->ssl);
    if (s->net >= 0)
        close(s->net);
    close(s->conn);
    tp_buf_drop(&s->down);
    tp_buf_drop(&s->up);
    free(s);
    server_session_done(ctx);
}

/* tp_send - one record to the receiver (a fresh connection has room for it); false if it
 * cannot be sent */
static bool
tp_send(struct tp_session *s, struct buf *rec, bool encoded, const struct err *why)
{
    struct attr_fds fds;
    struct err err = *why;
    bool good;

    attr_fds_init(&fds);
    good = encoded && ipc_send(s->conn, rec, &fds, 1000, &err) == IPC_OK;
    if (!good)
        log_warn("cannot answer the receiver: %s", err.text);
    buf_free(rec);
    return good;
}

/* tp_result - tell the receiver how the handshake went */
static bool
tp_result(struct tp_session *s, const struct tls_result *res)
{
    struct buf rec;
    struct err err = {0};

    buf_init(&rec, 512);
    return tp_send(s, &rec, tls_result_encode(&rec, res, &err), &err);
}

/* tp_ready - tell the receiver the handshake can start */
static bool
tp_ready(struct tp_session *s)
{
    struct buf rec;
    struct err err = {0};

    buf_init(&rec, 64);
    return tp_send(s, &rec, tls_ready_encode(&rec, &err), &err);
}

/* tp_refuse - the handshake did not happen or failed: say why, and end */
static void
tp_refuse(struct tp_session *s, const char *why)
{
    struct tls_result res = {.ok = false};

    str_copy(res.reason, why, sizeof(res.reason));
    tp_result(s, &res);
    tp_end(s);
}

/* tp_ssl_why - why an SSL call failed, in words for the receiver's log line */
static void
tp_ssl_why(SSL *ssl, int r, char *out, size_t size)
{
    int e = SSL_get_error(ssl, r);
    unsigned long code = ERR_get_error();

    if (code != 0)
        ERR_error_string_n(code, out, size);
    else if (e == SSL_ERROR_SYSCALL && errno != 0)
        snprintf(out, size, "%s", strerror(errno));
    else
        snprintf(out, size, "lost connection");
    ERR_clear_error();
}

/* tp_wants - what a failed non-blocking SSL call waits for: LOOP_READ, LOOP_WRITE, or 0
 * when the connection is over */
static unsigned
tp_wants(SSL *ssl, int r)
{
    switch (SSL_get_error(ssl, r)) {
    case SSL_ERROR_WANT_READ:
        return LOOP_READ;
    case SSL_ERROR_WANT_WRITE:
        return LOOP_WRITE;
    default:
        ERR_clear_error();
        return 0;
    }
}

/* tp_down - client to receiver: one SSL_read into an empty buffer, or one write out of it */
static bool
tp_down(struct tp_session *s)
{
    struct tp_buf *b = &s->down;

    if (!s->net_done && b->len == 0) {
        int r = SSL_read(s->ssl, tp_scratch, TLS_BUF);
        if (r > 0) {
            tp_buf_fill(b, (size_t)r);
            s->down_want = 0;
            return true;
        }
        if ((s->down_want = tp_wants(s->ssl, r)) == 0)
            s->net_done = true;
        return s->net_done;
    }
    if (b->len > b->off) {
        ssize_t w = write(s->conn, b->data + b->off, b->len - b->off);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return false;
        if (w <= 0) {
            s->conn_done = true; /* the receiver is gone: nothing more goes either way */
            tp_buf_drop(b);
            tp_buf_drop(&s->up);
            return true;
        }
        b->off += (size_t)w;
        if (b->off == b->len)
            tp_buf_drop(b);
        return true;
    }
    return false;
}

/* tp_up - receiver to client: one read into an empty buffer, or one SSL_write out of it */
static bool
tp_up(struct tp_session *s)
{
    struct tp_buf *b = &s->up;

    if (!s->conn_done && b->len == 0) {
        ssize_t r = read(s->conn, tp_scratch, TLS_BUF);
        if (r > 0) {
            tp_buf_fill(b, (size_t)r);
            return true;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return false;
        s->conn_done = true;
        return true;
    }
    if (b->len > b->off && !s->net_done) {
        int w = SSL_write(s->ssl, b->data + b->off, (int)(b->len - b->off));
        if (w > 0) {
            s->up_want = 0;
            b->off += (size_t)w;
            if (b->off == b->len)
                tp_buf_drop(b);
            return true;
        }
        if ((s->up_want = tp_wants(s->ssl, w)) == 0)
            s->net_done = true;
        return s->net_done;
    }
    if (s->net_done && b->len > 0) {
        tp_buf_drop(b); /* the client is gone: what the receiver still says goes nowhere */
        return true;
    }
    return false;
}

/* tp_watch - the events each side waits for, from what the buffers and OpenSSL need */
static void
tp_watch(struct tp_session *s)
{
    unsigned net = 0, conn = 0;

    if (!s->net_done && ((s->down.len == 0 && s->down_want == LOOP_READ) ||
                         (s->up.len > 0 && s->up_want == LOOP_READ)))
        net |= LOOP_READ;
    if (!s->net_done && (s->down_want == LOOP_WRITE || (s->up.len > 0 && s->up_want == LOOP_WRITE)))
        net |= LOOP_WRITE;
    if (!s->conn_done && s->up.len == 0)
        conn |= LOOP_READ;
    if (s->down.len > s->down.off)
        conn |= LOOP_WRITE;
    loop_fd_set(s->net_watch, net);
    loop_fd_set(s->conn_watch, conn);
}

/* tp_pump - move what can be moved; end the session when both directions are over */
static void
tp_pump(struct tp_session *s)
{
    bool progress = true;

    while (progress) {
        progress = tp_down(s);
        progress |= tp_up(s);
        if (s->net_done && s->down.len == 0 && !s->down_shut && !s->conn_done) {
            shutdown(s->conn, SHUT_WR);
            s->down_shut = true;
        }
    }
    if (s->conn_done && s->up.len == 0) {
        if (!s->net_done)
            SSL_shutdown(s->ssl); /* one close_notify; we do not wait for the client's */
        ERR_clear_error();
        tp_end(s);
        return;
    }
    tp_watch(s);
}

/* tp_established - the handshake is done: the facts to the receiver, then plaintext */
static void
tp_established(struct tp_session *s)
{
    struct tls_result res = {.ok = true};
    long verify = SSL_get_verify_result(s->ssl);

    loop_timer_stop(s->timer);
    tlsproxy_facts(s->ssl, s->req, &res.facts);
    if (s->req->client && res.facts.trust == TLS_TRUST_UNTRUSTED && verify != X509_V_OK)
        snprintf(res.reason, sizeof(res.reason), "certificate verification failed: %s",
                 X509_verify_cert_error_string(verify)); /* for the client's log */
    free(s->req);
    s->req = NULL;
    tlsproxy_trim_soon(s->tp);
    if (!tp_result(s, &res)) {
        tp_end(s);
        return;
    }
    s->state = TP_PUMP;
    s->down_want = LOOP_READ;
    tp_pump(s);
}

/* tp_handshake - one step of the handshake; done, waiting for the client, or refused */
static void
tp_handshake(struct tp_session *s)
{
    int r = SSL_do_handshake(s->ssl);
    char why[TLS_FACT_MAX];

    if (r == 1) {
        tp_established(s);
        return;
    }
    switch (SSL_get_error(s->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        loop_fd_set(s->net_watch, LOOP_READ);
        return;
    case SSL_ERROR_WANT_WRITE:
        loop_fd_set(s->net_watch, LOOP_WRITE);
        return;
    default:
        tp_ssl_why(s->ssl, r, why, sizeof(why));
        tp_refuse(s, why);
        return;
    }
}

/* tp_net_io - the client's socket is ready: handshake or pump */
static void
tp_net_io(int fd, unsigned events, void *arg)
{
    struct tp_session *s = arg;

    if (s->state == TP_HANDSHAKE)
        tp_handshake(s);
    else
        tp_pump(s);
}

/* tp_timeout - no request in time, or a handshake past its limit */
static void
tp_timeout(void *arg)
{
    struct tp_session *s = arg;

    if (s->state == TP_REQUEST)
        tp_end(s);
    else
        tp_refuse(s, "timeout");
}

/* tp_ssl_new - the SSL object of the request's side, with its policy; NULL: refused */
static SSL *
tp_ssl_new(struct tp_session *s, const struct tls_request *req)
{
    SSL_CTX *ctx = req->client ? s->tp->client_ctx : s->tp->ssl_ctx;
    const char *error = req->client ? s->tp->client_error : s->tp->error;
    struct err err;
    SSL *ssl;

    if (ctx == NULL) {
        tp_refuse(s, error);
        return NULL;
    }
    if ((ssl = SSL_new(ctx)) == NULL) {
        tlsproxy_ctx_error(&err, "SSL_new");
        tp_refuse(s, err.text);
        return NULL;
    }
    if (!tlsproxy_ctx_policy(ssl, req, &err)) {
        SSL_free(ssl);
        tp_refuse(s, err.text);
        return NULL;
    }
    if (SSL_set_fd(ssl, s->net) != 1) {
        tlsproxy_ctx_error(&err, "SSL_set_fd");
        SSL_free(ssl);
        tp_refuse(s, err.text);
        return NULL;
    }
    if (!req->client) {
        SSL_set_accept_state(ssl);
        if (req->ask_ccert)
            tlsproxy_ctx_ask_ccert(ssl);
    } else if (!tlsproxy_client_setup(ssl, req, &err)) {
        SSL_free(ssl);
        tp_refuse(s, err.text);
        return NULL;
    } else
        tlsproxy_client_cache_use(ssl, s->net, req);
    return ssl;
}

/* tp_begin - the request is in: set up the SSL object with its policy, start the handshake */
static void
tp_begin(struct tp_session *s, struct tls_request *req)
{
    SSL *ssl;

    s->net = req->peer;
    if (fcntl(s->net, F_SETFL, fcntl(s->net, F_GETFL) | O_NONBLOCK) < 0) {
        tp_refuse(s, "cannot make the peer's socket non-blocking");
        return;
    }
    /* TLS writes whole records: none of them should wait for the peer's delayed ACK. */
    (void)setsockopt(s->net, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    if ((ssl = tp_ssl_new(s, req)) == NULL)
        return; /* refused: s is gone */
    s->ssl = ssl;
    if (!tp_ready(s)) {
        tp_end(s);
        return;
    }
    s->req = xmalloc(sizeof(*s->req));
    *s->req = *req;
    s->state = TP_HANDSHAKE;
    s->net_watch = loop_fd_add(s->tp->ctx->loop, s->net, 0, tp_net_io, s);
    loop_timer_start(s->timer, req->timeout * 1000);
    tp_handshake(s);
}

/* tp_request - the receiver's request; anything else ends the session */
static void
tp_request(struct tp_session *s)
{
    struct tls_request req;
    struct err err;
    enum ipc_status st = ipc_reader_read(&s->reader, &err);
    bool good;

    if (st == IPC_AGAIN)
        return;
    if (st != IPC_OK) {
        if (st != IPC_EOF)
            log_warn("receiver request: %s", err.text);
        tp_end(s);
        return;
    }
    good = tls_request_decode(&s->reader.rec, &s->reader.fds, &req, &err);
    ipc_reader_free(&s->reader);
    s->state = TP_HANDSHAKE;
    if (!good) {
        log_warn("receiver request: %s", err.text);
        tp_end(s);
        return;
    }
    loop_fd_set(s->conn_watch, 0);
    tp_begin(s, &req);
}

/* tp_conn_io - the receiver's connection is ready: its request, or plaintext */
static void
tp_conn_io(int fd, unsigned events, void *arg)
{
    struct tp_session *s = arg;

    if (s->state == TP_REQUEST)
        tp_request(s);
    else
        tp_pump(s);
}

/* tlsproxy_session_start - a receiver connected: wait for its request */
void
tlsproxy_session_start(struct tlsproxy *tp, int conn)
{
    struct tp_session *s = xcalloc(1, sizeof(*s));

    s->tp = tp;
    s->conn = conn;
    s->net = -1;
    s->state = TP_REQUEST;
    ipc_reader_init(&s->reader, conn, TLS_RECORD_LIMIT);
    s->timer = loop_timer_new(tp->ctx->loop, tp_timeout, s);
    loop_timer_start(s->timer, TP_REQUEST_WAIT * 1000L);
    s->conn_watch = loop_fd_add(tp->ctx->loop, conn, LOOP_READ, tp_conn_io, s);
}
