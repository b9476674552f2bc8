/*
 * echo_service.c - a test daemon on the server skeleton: every line a client sends comes
 * back, "quit" ends the session; a wakeup on a fifo is logged; ECHO_TABLE names a table to hold
 * open. It exists for the master's and the skeleton's tests and is never installed. Up to four
 * clients per process, lines up to 1000 bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fdio.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/map.h"
#include "core/mem.h"
#include "server/server.h"

#define ECHO_LINE_MAX 1000

struct echo_session {
    struct server_ctx *ctx;
    int fd;
    struct loop_fd *watch;
    struct buf in;
};

static void
echo_end(struct echo_session *s)
{
    loop_fd_free(s->watch);
    close(s->fd);
    buf_free(&s->in);
    server_session_done(s->ctx);
    free(s);
}

/* echo_lines - answer every complete line; false when the session is over */
static bool
echo_lines(struct echo_session *s)
{
    char out[ECHO_LINE_MAX + 2];
    char *nl;

    while ((nl = memchr(s->in.data, '\n', s->in.len)) != NULL) {
        size_t len = (size_t)(nl - s->in.data) + 1;
        size_t text = len - 1 - (len >= 2 && nl[-1] == '\r');

        if (text == 4 && memcmp(s->in.data, "quit", 4) == 0)
            return false;
        /* The line and its CRLF in one write: one reply, one segment. */
        memcpy(out, s->in.data,
               text); // NOLINT(bugprone-not-null-terminated-result): sent by length
        memcpy(out + text, "\r\n", 2); // NOLINT(bugprone-not-null-terminated-result): by length
        if (!fd_write_all(s->fd, out, text + 2))
            return false;
        buf_consume(&s->in, len);
    }
    return true;
}

static void
echo_readable(int fd, unsigned events, void *arg)
{
    struct echo_session *s = arg;
    char data[4096];
    ssize_t n = read(fd, data, sizeof(data));

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0 || !buf_append(&s->in, data, (size_t)n)) {
        if (n > 0)
            fd_write_all(s->fd, "error: line too long\r\n", 22);
        echo_end(s);
        return;
    }
    if (!echo_lines(s))
        echo_end(s);
}

static void
echo_service(struct server_ctx *ctx, int fd)
{
    struct echo_session *s = xcalloc(1, sizeof(*s));

    s->ctx = ctx;
    s->fd = fd;
    buf_init(&s->in, ECHO_LINE_MAX);
    s->watch = loop_fd_add(ctx->loop, fd, LOOP_READ, echo_readable, s);
}

/* echo_post_jail - open the table named by ECHO_TABLE, so tests can change it under us */
static void
echo_post_jail(struct server_ctx *ctx)
{
    const char *spec = getenv("ECHO_TABLE");
    struct err err;

    if (spec != NULL && (ctx->app = map_open(spec, MAP_FOLD_FIXED, &err)) == NULL)
        log_fatal("%s", err.text);
}

static void
echo_exit(struct server_ctx *ctx)
{
    map_close(ctx->app);
}

/* echo_trigger - a wakeup from the master, logged so that tests can count them */
static void
echo_trigger(struct server_ctx *ctx, const char *data, size_t len)
{
    log_info("wakeup: %zu byte%s", len, len == 1 ? "" : "s");
}

int
main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .name = "echo_service",
        .max_sessions = 4,
        .service = echo_service,
        .trigger = echo_trigger,
        .post_jail = echo_post_jail,
        .on_exit = echo_exit,
    };

    return server_main(argc, argv, &ops);
}
