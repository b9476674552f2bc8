/*
 * maildrop.c - fuzz target for the maildrop reader: the input is a maildrop stream as a
 * hostile local user might hand it to postdrop, or leave it for pickup.
 *
 * Invariants: the reader never crashes and never reads a value longer than it checked; a
 * stream it accepts has recipients, bounded strings free of control bytes and content
 * whose records add up to what the end marker says; written again by the writer, an
 * accepted stream reads back with the same envelope and content.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/mem.h"
#include "mail/maildrop.h"
#include "t/fuzz.h"

struct fuzz_copy {
    struct maildrop_envelope env;
    struct buf content;
    bool have_env;
};

static bool
fuzz_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 32 || *s == 127)
            return false;
    return true;
}

static bool
fuzz_envelope(void *ctx, const struct maildrop_envelope *env, struct err *err)
{
    struct fuzz_copy *c = ctx;

    FUZZ_ASSERT(!c->have_env && env->rcpt.n > 0 && env->rcpt.n <= MAILDROP_RCPT_MAX);
    FUZZ_ASSERT(strlen(env->sender) <= MAILDROP_ADDR_MAX && fuzz_printable(env->sender));
    FUZZ_ASSERT(strlen(env->fullname) <= MAILDROP_NAME_MAX && fuzz_printable(env->fullname));
    FUZZ_ASSERT(!*env->body || strcmp(env->body, "7BIT") == 0 ||
                strcmp(env->body, "8BITMIME") == 0);
    c->have_env = true;
    free(c->env.sender);
    free(c->env.fullname);
    free(c->env.ret);
    free(c->env.body);
    free(c->env.envid);
    free(c->env.notify);
    c->env.sender = xstrdup(env->sender);
    c->env.fullname = xstrdup(env->fullname);
    c->env.ret = xstrdup(env->ret);
    c->env.body = xstrdup(env->body);
    c->env.envid = xstrdup(env->envid);
    c->env.notify = xstrdup(env->notify);
    for (size_t i = 0; i < env->rcpt.n; i++) {
        FUZZ_ASSERT(*env->rcpt.v[i] && strlen(env->rcpt.v[i]) <= MAILDROP_ADDR_MAX &&
                    fuzz_printable(env->rcpt.v[i]));
        strvec_add(&c->env.rcpt, env->rcpt.v[i]);
    }
    return true;
}

static bool
fuzz_content(void *ctx, const char *data, size_t len, struct err *err)
{
    struct fuzz_copy *c = ctx;

    FUZZ_ASSERT(c->have_env && len > 0 && len <= MAILDROP_CHUNK_MAX);
    FUZZ_ASSERT(buf_append(&c->content, data, len));
    return true;
}

static const struct maildrop_reader_ops fuzz_ops = {fuzz_envelope, fuzz_content};

/* fuzz_again - write what was read with the writer; it must read back the same */
static void
fuzz_again(const struct fuzz_copy *c)
{
    struct maildrop_writer w;
    struct fuzz_copy again = {0};
    struct err err;
    int fd = memfd_create("fuzz-maildrop-again", MFD_CLOEXEC);

    FUZZ_ASSERT(fd >= 0);
    maildrop_writer_init(&w, fd, &c->env);
    maildrop_writer_content(&w, c->content.data, c->content.len);
    FUZZ_ASSERT(maildrop_writer_end(&w, &err));
    maildrop_writer_free(&w);
    FUZZ_ASSERT(lseek(fd, 0, SEEK_SET) == 0);
    maildrop_envelope_init(&again.env);
    buf_init(&again.content, c->content.len + 1);
    FUZZ_ASSERT(maildrop_read(fd, 0, &fuzz_ops, &again, &err));
    FUZZ_ASSERT(strcmp(again.env.sender, c->env.sender) == 0 &&
                strcmp(again.env.body, c->env.body) == 0 && again.env.rcpt.n == c->env.rcpt.n &&
                again.content.len == c->content.len);
    FUZZ_ASSERT(c->content.len == 0 || /* no content: no buffer either */
                memcmp(again.content.data, c->content.data, c->content.len) == 0);
    maildrop_envelope_free(&again.env);
    buf_free(&again.content);
    close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_copy c = {0};
    struct err err;
    int fd = memfd_create("fuzz-maildrop", MFD_CLOEXEC);

    FUZZ_ASSERT(fd >= 0);
    FUZZ_ASSERT(write(fd, data, size) == (ssize_t)size);
    FUZZ_ASSERT(lseek(fd, 0, SEEK_SET) == 0);
    maildrop_envelope_init(&c.env);
    buf_init(&c.content, size + 1);
    if (maildrop_read(fd, 1 << 20, &fuzz_ops, &c, &err)) {
        FUZZ_ASSERT(c.have_env);
        fuzz_again(&c);
    } else {
        FUZZ_ASSERT(strlen(err.text) > 0);
    }
    maildrop_envelope_free(&c.env);
    buf_free(&c.content);
    close(fd);
    return 0;
}
