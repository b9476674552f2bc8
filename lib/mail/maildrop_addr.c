/*
 * maildrop_addr.c - an address of the local sendmail command, checked as an RFC 5321
 * mailbox and completed with $myorigin when it has no domain (as Postfix's cleanup does
 * for local submissions). sendmail checks with it before handing a message over; pickup
 * checks again, as the maildrop file is a user's.
 *
 * Trusts: nothing in the address; the parser is mailaddr_parse_path's.
 */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "mail/mailaddr.h"
#include "mail/maildrop.h"

/*
 * maildrop_addr - in as a mailbox; in *out (the caller's to free) qualified with origin
 * when origin is not NULL. "" is the null sender: *out is "".
 */
bool
maildrop_addr(const char *in, const char *origin, char **out, struct err *err)
{
    size_t len = strlen(in), used = 0;
    char *path = xasprintf("<%s>", in);
    struct mailaddr addr = {0};
    enum mailaddr_error e;
    struct buf b;
    bool good;

    *out = NULL;
    if (len == 0) {
        free(path);
        *out = xstrdup("");
        return true;
    }
    e = mailaddr_parse_path(path, len + 2, MAILADDR_ALLOW_BARE | MAILADDR_ALLOW_UTF8, &addr, &used);
    free(path);
    if (e != MAILADDR_OK || used != len + 2 || addr.kind != MAILADDR_MAILBOX) {
        mailaddr_free(&addr);
        return err_set(err, "bad address <%.100s>: %s", in,
                       e != MAILADDR_OK ? mailaddr_strerror(e) : "address syntax error");
    }
    buf_init(&b, BUF_UNLIMITED);
    good = mailaddr_quote_local(&b, addr.local);
    if (addr.domain != NULL || origin != NULL)
        good = good && buf_putc(&b, '@') && buf_puts(&b, addr.domain ? addr.domain : origin);
    mailaddr_free(&addr);
    if (!good || b.len > MAILDROP_ADDR_MAX) {
        buf_free(&b);
        return err_set(err, "address <%.100s> too long", in);
    }
    *out = buf_steal(&b);
    return true;
}
