/*
 * noop_milter.c - W1M's milter: libmilter's filter side with a callback at every stage
 * (connect, HELO, MAIL, RCPT, DATA, each header, end of headers, each body chunk, end of
 * message) that answers "continue" and changes nothing, so the MTA pays the whole
 * protocol for each message and nothing else. bench/run builds it into BENCH_DIR:
 *
 *   cc -O2 -pthread -o noop_milter noop_milter.c -lmilter
 *   noop_milter inet:PORT@127.0.0.1
 *
 * When libmilter stops (SIGTERM, SIGINT) it prints "messages=N", the ends of message it
 * saw, so that the bench can tell that every message went through it.
 *
 * Trusts: its argument. What the MTA sends is libmilter's to parse.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <libmilter/mfapi.h>

static atomic_ulong messages;

static sfsistat
noop_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
    (void)ctx, (void)host, (void)addr;
    return SMFIS_CONTINUE;
}

static sfsistat
noop_args(SMFICTX *ctx, char **argv)
{
    (void)ctx, (void)argv;
    return SMFIS_CONTINUE;
}

static sfsistat
noop_string(SMFICTX *ctx, char *arg)
{
    (void)ctx, (void)arg;
    return SMFIS_CONTINUE;
}

static sfsistat
noop_header(SMFICTX *ctx, char *name, char *value)
{
    (void)ctx, (void)name, (void)value;
    return SMFIS_CONTINUE;
}

static sfsistat
noop_ctx(SMFICTX *ctx)
{
    (void)ctx;
    return SMFIS_CONTINUE;
}

static sfsistat
noop_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    (void)ctx, (void)chunk, (void)len;
    return SMFIS_CONTINUE;
}

static sfsistat
noop_eom(SMFICTX *ctx)
{
    (void)ctx;
    atomic_fetch_add(&messages, 1);
    return SMFIS_CONTINUE;
}

int
main(int argc, char **argv)
{
    struct smfiDesc desc;

    if (argc != 2) {
        fprintf(stderr, "usage: noop_milter SOCKET (inet:PORT@127.0.0.1 or unix:/path)\n");
        return 2;
    }
    memset(&desc, 0, sizeof(desc));
    desc.xxfi_name = "noop";
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_connect = noop_connect;
    desc.xxfi_helo = noop_string;
    desc.xxfi_envfrom = noop_args;
    desc.xxfi_envrcpt = noop_args;
    desc.xxfi_data = noop_ctx;
    desc.xxfi_header = noop_header;
    desc.xxfi_eoh = noop_ctx;
    desc.xxfi_body = noop_body;
    desc.xxfi_eom = noop_eom;
    desc.xxfi_abort = noop_ctx;
    if (smfi_setconn(argv[1]) == MI_FAILURE || smfi_register(desc) == MI_FAILURE) {
        fprintf(stderr, "noop_milter: cannot use %s\n", argv[1]);
        return 1;
    }
    if (smfi_main() == MI_FAILURE)
        return 1;
    printf("messages=%lu\n", (unsigned long)atomic_load(&messages));
    return 0;
}
