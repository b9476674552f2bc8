/*
 * milter_edit.c - the collector of the edits milters ask for at end of message: each reply
 * checked and turned into the form the queue file will hold (doc/milter.md, "Edits");
 * the replacement body spooled past the end of the old queue file.
 *
 * Trusts: nothing in a reply. Header names must be printable ASCII without a colon,
 * header values are refolded so that no line can end the header section or start a header
 * of its own, addresses are parsed as SMTP paths and ESMTP arguments as MAIL and RCPT
 * parameters; an edit that breaks a limit is refused here, not when the file is written.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "mail/mailaddr.h"
#include "mail/milter_edit_impl.h"
#include "mail/queue_file.h"
#include "mail/smtp_cmd.h"

struct milter_edits *
milter_edits_new(void)
{
    struct milter_edits *e = xcalloc(1, sizeof(*e));

    e->spool_fd = -1;
    e->spool_base = -1;
    e->actions = MILTER_ACT_ALL;
    milter_edits_limits(e, NULL);
    return e;
}

static void
milter_edit_free(struct milter_edit *ed)
{
    char *s[] = {ed->name, ed->text, ed->addr, ed->notify, ed->orcpt, ed->ret, ed->envid, ed->body};

    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        free(s[i]);
}

void
milter_edits_free(struct milter_edits *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n; i++)
        milter_edit_free(&e->v[i]);
    free(e->v);
    free(e);
}

/* milter_edits_limits - the limits to enforce; NULL or 0 fields: the defaults */
void
milter_edits_limits(struct milter_edits *e, const struct milter_edit_limits *lim)
{
    struct milter_edit_limits l = {0};

    if (lim != NULL)
        l = *lim;
    l.header_size = l.header_size ? l.header_size : MILTER_EDIT_HEADER_SIZE;
    l.headers = l.headers ? l.headers : MILTER_EDIT_HEADERS;
    l.header_bytes = l.header_bytes ? l.header_bytes : MILTER_EDIT_HEADER_BYTES;
    l.rcpt = l.rcpt && l.rcpt < QUEUE_FILE_RCPT_MAX ? l.rcpt : QUEUE_FILE_RCPT_MAX;
    e->lim = l;
}

void
milter_edits_spool(struct milter_edits *e, int old_fd)
{
    e->spool_fd = old_fd;
}

void
milter_edits_milter(struct milter_edits *e, uint32_t protocol, uint32_t actions)
{
    e->protocol = protocol;
    e->actions = actions;
    e->milter_seq++;
}

bool
milter_edits_empty(const struct milter_edits *e)
{
    return e->n == 0 && !e->body_replaced;
}

bool
milter_edits_emptied(const struct milter_edits *e)
{
    return e->emptied;
}

/* milter_edit_push - room for one more edit, zeroed */
static struct milter_edit *
milter_edit_push(struct milter_edits *e)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 8;
        e->v = xreallocarray(e->v, e->cap, sizeof(*e->v));
    }
    memset(&e->v[e->n], 0, sizeof(e->v[0]));
    return &e->v[e->n++];
}

/*
 * milter_edit_addr - an address as a milter gives it ("<a@b>", "a@b", " <a@b> ") in the
 * form smtpd writes into the queue file (quotes only where needed); "" for <>
 */
static char *
milter_edit_addr(const char *what, const char *s, bool rcpt, bool *utf8, struct err *err)
{
    struct buf path, out;
    struct mailaddr addr;
    size_t len, used;
    enum mailaddr_error bad;
    int flags = MAILADDR_ALLOW_UTF8 | (rcpt ? MAILADDR_ALLOW_POSTMASTER : MAILADDR_ALLOW_NULL);
    char *res = NULL;

    while (*s == ' ' || *s == '\t')
        s++;
    len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    buf_init(&path, MAILADDR_PATH_MAX + 2);
    if (len == 0 || s[0] != '<')
        buf_putc(&path, '<');
    buf_append(&path, s, len);
    if (len == 0 || s[0] != '<')
        buf_putc(&path, '>');
    memset(&addr, 0, sizeof(addr));
    bad = path.len > MAILADDR_PATH_MAX + 2
              ? MAILADDR_TOO_LONG
              : mailaddr_parse_path(buf_str(&path), path.len, flags, &addr, &used);
    if (bad == MAILADDR_OK && used != path.len)
        bad = MAILADDR_SYNTAX;
    if (bad != MAILADDR_OK) {
        err_set(err, "%s <%.*s>: %s", what, (int)(len > 300 ? 300 : len), s,
                mailaddr_strerror(bad));
    } else {
        buf_init(&out, QUEUE_FILE_ADDR_MAX + 1);
        *utf8 = addr.utf8;
        if (mailaddr_format(&out, &addr))
            res = xstrdup(out.len ? buf_str(&out) : "");
        else
            err_set(err, "%s longer than %d bytes", what, QUEUE_FILE_ADDR_MAX);
        buf_free(&out);
    }
    mailaddr_free(&addr);
    buf_free(&path);
    return res;
}

/* milter_edit_notify - DSN NOTIFY bits as the queue file keeps them ("SUCCESS,FAILURE") */
static char *
milter_edit_notify(unsigned bits)
{
    static const struct {
        unsigned bit;
        const char *name;
    } words[] = {{SMTP_NOTIFY_NEVER, "NEVER"},
                 {SMTP_NOTIFY_SUCCESS, "SUCCESS"},
                 {SMTP_NOTIFY_FAILURE, "FAILURE"},
                 {SMTP_NOTIFY_DELAY, "DELAY"}};
    struct buf b;

    buf_init(&b, BUF_UNLIMITED);
    buf_puts(&b, "");
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (bits & words[i].bit)
            buf_printf(&b, "%s%s", b.len ? "," : "", words[i].name);
    return buf_steal(&b);
}

/* milter_edit_rcpt_args - ADDRCPT_PAR's ESMTP arguments: NOTIFY and ORCPT, nothing else */
static bool
milter_edit_rcpt_args(struct milter_edit *ed, const char *args, struct err *err)
{
    struct smtp_rcpt_params p = {0};
    const struct smtp_reply *bad;
    size_t len = args ? strlen(args) : 0;

    while (len > 0 && (*args == ' ' || *args == '\t'))
        args++, len--;
    bad = len ? smtp_param_rcpt(args, len, true, &p) : NULL;
    if (bad != NULL) {
        return err_set(err, "ADDRCPT_PAR arguments \"%.200s\": %s", args, bad->text);
    }
    ed->notify = milter_edit_notify(p.notify);
    ed->orcpt = p.orcpt_type ? xasprintf("%s;%s", p.orcpt_type, p.orcpt_addr) : xstrdup("");
    smtp_param_rcpt_free(&p);
    if (strlen(ed->orcpt) > QUEUE_FILE_ADDR_MAX) {
        return err_set(err, "ADDRCPT_PAR ORCPT longer than %d bytes", QUEUE_FILE_ADDR_MAX);
    }
    return true;
}

/*
 * milter_edit_from_args - CHGFROM's ESMTP arguments: BODY, RET and ENVID replace the
 * envelope's; SIZE, AUTH and SMTPUTF8 are accepted and have nothing to change
 */
static bool
milter_edit_from_args(struct milter_edit *ed, const char *args, struct err *err)
{
    static const char *const rets[] = {
        [SMTP_RET_NONE] = NULL, [SMTP_RET_FULL] = "FULL", [SMTP_RET_HDRS] = "HDRS"};
    struct smtp_mail_params p = {0};
    const struct smtp_reply *bad;
    size_t len = args ? strlen(args) : 0;

    while (len > 0 && (*args == ' ' || *args == '\t'))
        args++, len--;
    bad = len ? smtp_param_mail(args, len, &p) : NULL;
    if (bad != NULL) {
        return err_set(err, "CHGFROM arguments \"%.200s\": %s", args, bad->text);
    }
    if (p.body != SMTP_BODY_NONE)
        ed->body = xstrdup(smtp_body_word(p.body));
    if (rets[p.ret] != NULL)
        ed->ret = xstrdup(rets[p.ret]);
    if (p.envid != NULL)
        ed->envid = smtp_xtext_encode(p.envid);
    smtp_param_mail_free(&p);
    return true;
}

/* milter_edit_header - ADDHEADER, INSHEADER, CHGHEADER */
static bool
milter_edit_header(struct milter_edits *e, struct milter_edit *ed, const struct milter_reply *r,
                   struct err *err)
{
    struct buf text;
    bool good;

    ed->name = xstrdup(r->name);
    ed->index = r->index;
    if (r->cmd == MILTER_REPLY_CHGHEADER && r->value[0] == 0)
        return true; /* an empty value deletes */
    buf_init(&text, e->lim.header_size);
    good = milter_hdrs_format(&text, r->name, r->value, (e->protocol & MILTER_P_HDR_LEADSPC) != 0,
                              err);
    if (good)
        ed->text = buf_steal(&text);
    buf_free(&text);
    return good;
}

/* milter_edit_envelope - ADDRCPT, ADDRCPT_PAR, DELRCPT, CHGFROM */
static bool
milter_edit_envelope(struct milter_edit *ed, const struct milter_reply *r, struct err *err)
{
    bool from = r->cmd == MILTER_REPLY_CHGFROM;

    ed->addr = milter_edit_addr(milter_reply_name(r->cmd), r->addr, !from, &ed->utf8, err);
    if (ed->addr == NULL)
        return false;
    if (from)
        return milter_edit_from_args(ed, r->args, err);
    if (r->cmd == MILTER_REPLY_ADDRCPT_PAR)
        return milter_edit_rcpt_args(ed, r->args, err);
    ed->notify = xstrdup("");
    ed->orcpt = xstrdup("");
    return true;
}

/* milter_edit_pwrite - all of data at off */
static bool
milter_edit_pwrite(int fd, const char *data, size_t len, off_t off, struct err *err)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, data, len, off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            return err_set(err, "spool of the replaced body: %s",
                           n < 0 ? strerror(errno) : "short write");
        }
        data += n;
        len -= (size_t)n;
        off += n;
    }
    return true;
}

/* milter_edit_body - one REPLBODY chunk, appended to the spool past the old file's end */
static bool
milter_edit_body(struct milter_edits *e, const struct milter_reply *r, struct err *err)
{
    struct stat st;

    if (e->spool_fd < 0 || e->spool_cut) {
        return err_set(err, "body replacement %s",
                       e->spool_cut ? "after the edits were applied" : "without a spool file");
    }
    if (e->spool_base < 0) {
        if (fstat(e->spool_fd, &st) < 0) {
            return err_set(err, "spool of the replaced body: fstat: %s", strerror(errno));
        }
        e->spool_base = st.st_size;
    }
    if (!e->body_replaced || e->body_seq != e->milter_seq)
        e->spool_len = 0; /* a body of its own, not the end of an earlier milter's */
    e->body_seq = e->milter_seq;
    e->body_replaced = true;
    if (e->lim.message_size > 0 && e->spool_len + r->body_len > e->lim.message_size) {
        return err_set(err, "replaced body larger than the message size limit (%llu bytes)",
                       (unsigned long long)e->lim.message_size);
    }
    if (!milter_edit_pwrite(e->spool_fd, r->body, r->body_len, e->spool_base + (off_t)e->spool_len,
                            err))
        return false;
    e->spool_len += r->body_len;
    return true;
}

bool
milter_edits_add(struct milter_edits *e, const struct milter_reply *r, struct err *err)
{
    struct milter_edit *ed;
    bool good;

    if (!milter_reply_is_edit(r->cmd))
        return err_set(err, "%s is not an edit", milter_reply_name(r->cmd));
    if ((milter_reply_action(r->cmd) & e->actions) == 0)
        return err_set(err, "%s without negotiating its action", milter_reply_name(r->cmd));
    if (r->cmd == MILTER_REPLY_REPLBODY)
        return milter_edit_body(e, r, err);
    ed = milter_edit_push(e);
    ed->cmd = r->cmd;
    if (r->cmd == MILTER_REPLY_ADDHEADER || r->cmd == MILTER_REPLY_INSHEADER ||
        r->cmd == MILTER_REPLY_CHGHEADER)
        good = milter_edit_header(e, ed, r, err);
    else
        good = milter_edit_envelope(ed, r, err);
    if (!good) {
        milter_edit_free(ed);
        e->n--;
    }
    return good;
}

/* milter_edits_unspool - cut the old file back to its length before the first body chunk */
bool
milter_edits_unspool(struct milter_edits *e, struct err *err)
{
    if (e->spool_fd < 0 || e->spool_base < 0)
        return true;
    while (ftruncate(e->spool_fd, e->spool_base) < 0) {
        if (errno != EINTR) {
            return err_set(err, "truncate the old queue file: %s", strerror(errno));
        }
    }
    return true;
}
