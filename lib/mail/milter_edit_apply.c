/*
 * milter_edit_apply.c - the collected edits applied: the old queue file (uncommitted,
 * written by smtpd) read and a whole new one written with the edited envelope, recipients,
 * header section and body (doc/milter.md, "Edits").
 *
 * Trusts: nothing in the old file (queue_read checks it whole before anything is written);
 * the edits were checked when collected. Only the header section is held in memory, to its
 * limits; the body is copied, or the replacement streamed from its spool, in chunks.
 * Crash safety: the old file is not changed (but for cutting the spool off its end), the
 * new one is not committed by us; a crash anywhere leaves two uncommitted files that the
 * queue manager removes, and no 250 was sent for them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "mail/milter_codec.h"
#include "mail/milter_edit_impl.h"
#include "mail/queue_file.h"

#define MILTER_SPOOL_CHUNK 65536

/* One recipient of the edited envelope; the strings belong to the old envelope or an edit. */
struct milter_rcpt {
    const char *addr;
    const char *notify;
    const char *orcpt;
};

struct milter_rcpts {
    struct milter_rcpt *v;
    size_t n;
    size_t cap;
};

/* Where the copy of the content is. */
enum milter_apply_phase {
    MILTER_APPLY_HEADERS, /* reading the header section into memory */
    MILTER_APPLY_TAIL,    /* copying what follows it */
    MILTER_APPLY_STOPPED, /* the body is replaced: the old one is not wanted */
};

struct milter_apply {
    const struct milter_edits *e;
    struct queue_writer w;
    struct milter_hdrs hdrs;
    struct buf line; /* a line of the header section, not complete yet */
    enum milter_apply_phase phase;
    struct err *err;
    bool failed;
};

/* milter_addr_same - one address: the local part exact, the domain in any case */
static bool
milter_addr_same(const char *a, const char *b)
{
    const char *at_a = strrchr(a, '@'), *at_b = strrchr(b, '@');

    if (at_a == NULL || at_b == NULL)
        return strcasecmp(a, b) == 0 && (at_a == NULL) == (at_b == NULL);
    return at_a - a == at_b - b && strncmp(a, b, (size_t)(at_a - a)) == 0 &&
           strcasecmp(at_a, at_b) == 0;
}

/* milter_rcpts_add - one more recipient, unless the very same one is there already */
static bool
milter_rcpts_add(struct milter_rcpts *r, const char *addr, const char *notify, const char *orcpt,
                 size_t max, struct err *err)
{
    for (size_t i = 0; i < r->n; i++)
        if (milter_addr_same(r->v[i].addr, addr) && strcmp(r->v[i].notify, notify) == 0 &&
            strcmp(r->v[i].orcpt, orcpt) == 0)
            return true;
    if (r->n >= max) {
        return err_set(err, "more than %zu recipients", max);
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 8;
        r->v = xreallocarray(r->v, r->cap, sizeof(*r->v));
    }
    r->v[r->n++] = (struct milter_rcpt){addr, notify, orcpt};
    return true;
}

/* milter_rcpts_del - DELRCPT: every recipient with that address goes */
static void
milter_rcpts_del(struct milter_rcpts *r, const char *addr)
{
    size_t kept = 0;

    for (size_t i = 0; i < r->n; i++)
        if (!milter_addr_same(r->v[i].addr, addr))
            r->v[kept++] = r->v[i];
    r->n = kept;
}

/* milter_apply_envelope - the sender, DSN fields and recipients after the edits */
static bool
milter_apply_envelope(struct milter_edits *e, const struct queue_envelope *old,
                      struct queue_envelope *env, struct milter_rcpts *r, struct err *err)
{
    bool utf8 = strncmp(old->protocol, "UTF8", 4) == 0; /* the client said SMTPUTF8 */

    r->cap = old->nrcpt;
    r->v = xreallocarray(NULL, r->cap, sizeof(*r->v));
    for (size_t i = 0; i < old->nrcpt; i++) /* as smtpd wrote them, duplicates and all */
        r->v[r->n++] =
            (struct milter_rcpt){old->rcpt[i].addr, old->rcpt[i].notify, old->rcpt[i].orcpt};
    for (size_t i = 0; i < e->n; i++) {
        const struct milter_edit *ed = &e->v[i];

        if (ed->utf8 && !utf8 && ed->cmd != MILTER_REPLY_DELRCPT) {
            return err_set(err, "%s <%.300s>: non-ASCII address in a message without SMTPUTF8",
                           milter_reply_name(ed->cmd), ed->addr);
        }
        if (ed->cmd == MILTER_REPLY_CHGFROM) {
            env->sender = ed->addr;
            env->ret = ed->ret ? ed->ret : env->ret;
            env->envid = ed->envid ? ed->envid : env->envid;
            env->body = ed->body ? ed->body : env->body;
        } else if (ed->cmd == MILTER_REPLY_DELRCPT) {
            milter_rcpts_del(r, ed->addr);
        } else if ((ed->cmd == MILTER_REPLY_ADDRCPT || ed->cmd == MILTER_REPLY_ADDRCPT_PAR) &&
                   ed->addr[0] != 0 &&
                   !milter_rcpts_add(r, ed->addr, ed->notify, ed->orcpt, e->lim.rcpt, err)) {
            return false;
        }
    }
    if (r->n == 0) {
        e->emptied = true;
        return err_set(err, "the milters deleted every recipient");
    }
    return true;
}

/* milter_apply_put - content into the new file, held to the message size limit */
static bool
milter_apply_put(struct milter_apply *a, const char *data, size_t len)
{
    uint64_t max = a->e->lim.message_size;

    if (a->failed)
        return false;
    if (max > 0 && a->w.size + len > max) {
        a->failed = true;
        return err_set(a->err, "edited message larger than %llu bytes", (unsigned long long)max);
    }
    queue_writer_content(&a->w, data, len);
    return true;
}

/* milter_apply_headers - the header edits applied, the section written */
static bool
milter_apply_headers(struct milter_apply *a)
{
    for (size_t i = 0; i < a->e->n && !a->failed; i++)
        a->failed = !milter_hdrs_edit(&a->hdrs, &a->e->v[i], a->err);
    for (size_t i = 0; i < a->hdrs.n && !a->failed; i++)
        milter_apply_put(a, a->hdrs.v[i].text, a->hdrs.v[i].len);
    return !a->failed;
}

/* milter_apply_tail - what follows the header section; the first call ends that section */
static bool
milter_apply_tail(struct milter_apply *a, const char *data, size_t len)
{
    if (a->phase == MILTER_APPLY_HEADERS) {
        if (!milter_apply_headers(a))
            return false;
        a->phase = a->e->body_replaced ? MILTER_APPLY_STOPPED : MILTER_APPLY_TAIL;
    }
    return a->phase == MILTER_APPLY_STOPPED || milter_apply_put(a, data, len);
}

/* milter_apply_line - one line of the header section (or the first one after it) */
static bool
milter_apply_line(struct milter_apply *a, const char *line, size_t len)
{
    bool eol = len > 0 && line[len - 1] == '\n';
    bool good;

    if ((line[0] == ' ' || line[0] == '\t') && a->hdrs.n > 0)
        good = milter_hdrs_continue(&a->hdrs, line, len, a->err);
    else if (milter_hdrs_name_len(line, len) > 0)
        good = milter_hdrs_add(&a->hdrs, a->hdrs.n, line, len, a->err);
    else
        return milter_apply_tail(a, line, len);
    /* The last header of a content without a final line end gets one: more may follow. */
    if (good && !eol)
        good = milter_hdrs_continue(&a->hdrs, "\r\n", 2, a->err);
    a->failed = !good;
    return good;
}

/* milter_apply_content - queue_file_content callback: the old content, chunk by chunk */
static bool
milter_apply_content(const char *data, size_t len, void *ctx)
{
    struct milter_apply *a = ctx;

    while (len > 0 && a->phase == MILTER_APPLY_HEADERS && !a->failed) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) + 1 : len;

        if (!buf_append(&a->line, data, n)) {
            a->failed = true;
            return err_set(a->err, "header section larger than %zu bytes", a->e->lim.header_bytes);
        }
        data += n;
        len -= n;
        if (nl != NULL) {
            milter_apply_line(a, a->line.data, a->line.len);
            buf_reset(&a->line);
        }
    }
    if (a->failed || a->phase == MILTER_APPLY_STOPPED)
        return false;
    return len == 0 || milter_apply_tail(a, data, len);
}

/* milter_apply_body - the replacement body from its spool: CRLF line ends, a final CRLF */
static bool
milter_apply_body(struct milter_apply *a)
{
    const struct milter_edits *e = a->e;
    char *in = xmalloc(MILTER_SPOOL_CHUNK), *out = xmalloc(2 * MILTER_SPOOL_CHUNK + 2);
    bool cr = false, good = milter_apply_put(a, "\r\n", 2);
    char last = '\n';

    for (uint64_t done = 0; good && done < e->spool_len;) {
        size_t want = e->spool_len - done < MILTER_SPOOL_CHUNK ? (size_t)(e->spool_len - done)
                                                               : MILTER_SPOOL_CHUNK;
        ssize_t n = pread(e->spool_fd, in, want, e->spool_base + (off_t)done);
        size_t o = 0;

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            good = err_set(a->err, "read of the replaced body: %s",
                           n < 0 ? strerror(errno) : "unexpected end of file");
            break;
        }
        for (ssize_t i = 0; i < n; i++) {
            char c = in[i];

            if (cr || c == '\n') {
                out[o++] = '\r';
                out[o++] = '\n';
            }
            cr = c == '\r';
            if (c != '\r' && c != '\n')
                out[o++] = c;
        }
        if (o > 0)
            last = out[o - 1];
        good = milter_apply_put(a, out, o);
        done += (uint64_t)n;
    }
    if (good && (cr || last != '\n'))
        good = milter_apply_put(a, "\r\n", 2);
    free(in);
    free(out);
    return good;
}

/* milter_apply_write - the new file: envelope, recipients, content, end marker */
static bool
milter_apply_write(struct milter_apply *a, int old_fd, int new_fd, struct queue_envelope *env,
                   const struct milter_rcpts *r)
{
    struct err cerr;
    bool good;

    queue_writer_init(&a->w, new_fd, env);
    for (size_t i = 0; i < r->n; i++)
        queue_writer_rcpt(&a->w, r->v[i].addr, r->v[i].notify, r->v[i].orcpt);
    good = queue_file_content(old_fd, env, milter_apply_content, a, &cerr);
    if (a->failed)
        good = false;
    else if (!good && a->phase != MILTER_APPLY_STOPPED)
        err_set(a->err, "old queue file: %s", cerr.text);
    else
        good = true;
    if (good && a->phase == MILTER_APPLY_HEADERS && a->line.len > 0)
        good = milter_apply_line(a, a->line.data, a->line.len);
    if (good && a->phase == MILTER_APPLY_HEADERS)
        good = milter_apply_tail(a, "", 0);
    if (good && a->e->body_replaced)
        good = milter_apply_body(a);
    good = good && !a->failed && queue_writer_end(&a->w, a->err);
    queue_writer_free(&a->w);
    return good;
}

/* milter_apply_unspool - the old file as smtpd left it, whatever came of the apply */
static bool
milter_apply_unspool(struct milter_edits *e, bool good, struct err *err)
{
    struct err uerr;

    if (e->spool_base < 0)
        return good;
    e->spool_cut = true;
    if (milter_edits_unspool(e, &uerr) || !good)
        return good;
    *err = uerr;
    return false;
}

/* milter_apply_old - the old file read, the new one written */
static bool
milter_apply_old(struct milter_edits *e, int old_fd, int new_fd, struct err *err)
{
    struct milter_apply a = {.e = e, .err = err, .hdrs = {.lim = &e->lim}};
    struct milter_rcpts r = {0};
    struct queue_envelope env, edited;
    struct stat st;
    off_t size;
    bool good;

    if (e->spool_base >= 0)
        size = e->spool_base;
    else if (fstat(old_fd, &st) == 0)
        size = st.st_size;
    else
        return err_set(err, "old queue file: fstat: %s", strerror(errno));
    if (!queue_file_read_len(old_fd, size, &env, err))
        return false;
    edited = env; /* the strings stay the old envelope's, or the edits' */
    good = milter_apply_envelope(e, &env, &edited, &r, err);
    if (good) {
        buf_init(&a.line, e->lim.header_bytes);
        good = milter_apply_write(&a, old_fd, new_fd, &edited, &r);
        buf_free(&a.line);
        milter_hdrs_free(&a.hdrs);
    }
    free(r.v);
    queue_envelope_free(&env);
    return good;
}

/* milter_edits_apply - the edited message written whole to new_fd (not fsynced) */
bool
milter_edits_apply(struct milter_edits *e, int old_fd, int new_fd, struct err *err)
{
    bool good;

    e->emptied = false;
    if (e->body_replaced && (old_fd != e->spool_fd || e->spool_cut))
        good = err_set(err, "the replaced body is %s",
                       e->spool_cut ? "gone with an earlier apply" : "spooled in another file");
    else
        good = milter_apply_old(e, old_fd, new_fd, err);
    return milter_apply_unspool(e, good, err);
}
