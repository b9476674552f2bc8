/*
 * mailaddr.c - parse RFC 5321 paths (MAIL FROM / RCPT TO) into struct mailaddr.
 *
 * Trusts: nothing; the input is the client's bytes, any length, any octets. Every limit of
 * RFC 5321 4.5.3.1 is enforced here (local part 64 octets as received, domain 255, label 63,
 * path 256 including the angle brackets), so nothing downstream needs to re-check.
 * Invariants: on success, local holds the canonical (unquoted) local part, free of NUL and
 * of controls; non-ASCII appears only when MAILADDR_ALLOW_UTF8 was given and is then valid
 * UTF-8 without overlongs, surrogates or C1 controls. On failure the struct holds nothing
 * that needs freeing.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/mem.h"
#include "mail/mailaddr.h"

/* mailaddr_utf8_len - octets in the valid non-ASCII UTF-8 sequence at s, 0 if invalid */
size_t
mailaddr_utf8_len(const unsigned char *s, size_t len)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t need;

    if (len == 0)
        return 0;
    if (s[0] == 0xc2) { /* U+0080..U+009F are the C1 controls */
        need = 2;
        lo = 0xa0;
    } else if (s[0] > 0xc2 && s[0] <= 0xdf) {
        need = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        need = 3;
        if (s[0] == 0xe0)
            lo = 0xa0; /* overlong */
        if (s[0] == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        need = 4;
        if (s[0] == 0xf0)
            lo = 0x90; /* overlong */
        if (s[0] == 0xf4)
            hi = 0x8f; /* past U+10FFFF */
    } else {
        return 0;
    }
    if (len < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return need;
}

/* mailaddr_is_atext - an RFC 5322 atext character (ASCII only) */
static bool
mailaddr_is_atext(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* mailaddr_is_letdig - letter or digit */
static bool
mailaddr_is_letdig(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/*
 * mailaddr_utf8_step - the octets a non-ASCII character at s takes, 0 when it is not
 * valid UTF-8; *err says why when it cannot be accepted here.
 */
static size_t
mailaddr_utf8_step(const char *s, size_t len, bool utf8_ok, enum mailaddr_error *err)
{
    size_t n = mailaddr_utf8_len((const unsigned char *)s, len);

    if (n == 0)
        *err = MAILADDR_BAD_UTF8;
    else if (!utf8_ok)
        *err = MAILADDR_NON_ASCII;
    return *err == MAILADDR_OK ? n : 0;
}

/* mailaddr_label_ok - one sub-domain: Let-dig [Ldh-str], UTF-8 characters counting as letters */
static enum mailaddr_error
mailaddr_label_ok(const char *s, size_t len, bool utf8_ok)
{
    enum mailaddr_error err = MAILADDR_OK;

    if (len == 0 || s[0] == '-' || s[len - 1] == '-')
        return MAILADDR_SYNTAX;
    if (len > MAILADDR_LABEL_MAX)
        return MAILADDR_TOO_LONG;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t n = mailaddr_utf8_step(s + i, len - i, utf8_ok, &err);
            if (n == 0)
                return err;
            i += n;
        } else if (mailaddr_is_letdig(c) || c == '-') {
            i++;
        } else {
            return MAILADDR_SYNTAX;
        }
    }
    return MAILADDR_OK;
}

/* mailaddr_domain_check - RFC 5321 Domain: dot-separated sub-domains, no trailing dot */
static enum mailaddr_error
mailaddr_domain_check(const char *s, size_t len, bool utf8_ok)
{
    size_t start = 0;

    if (len == 0)
        return MAILADDR_SYNTAX;
    if (len > MAILADDR_DOMAIN_MAX)
        return MAILADDR_TOO_LONG;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            enum mailaddr_error err = mailaddr_label_ok(s + start, i - start, utf8_ok);
            if (err != MAILADDR_OK)
                return err;
            start = i + 1;
        }
    }
    return MAILADDR_OK;
}

/* mailaddr_is_domain - true when s is an RFC 5321 Domain */
bool
mailaddr_is_domain(const char *s, size_t len, bool utf8_ok)
{
    return mailaddr_domain_check(s, len, utf8_ok) == MAILADDR_OK;
}

/* mailaddr_domain_span - how many octets at s could belong to a domain name */
static size_t
mailaddr_domain_span(const char *s, size_t len)
{
    size_t n = 0;

    while (n < len && (mailaddr_is_letdig((unsigned char)s[n]) || s[n] == '-' || s[n] == '.' ||
                       (unsigned char)s[n] >= 0x80))
        n++;
    return n;
}

/* mailaddr_is_dcontent - a character allowed inside an address literal */
static bool
mailaddr_is_dcontent(unsigned char c)
{
    return (c >= 33 && c <= 90) || (c >= 94 && c <= 126);
}

/* mailaddr_literal_tag - true when the general literal's tag is an Ldh-str */
static bool
mailaddr_literal_tag(const char *s, size_t len)
{
    if (len == 0 || !mailaddr_is_letdig((unsigned char)s[0]) ||
        !mailaddr_is_letdig((unsigned char)s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!mailaddr_is_letdig((unsigned char)s[i]) && s[i] != '-')
            return false;
    return true;
}

/*
 * mailaddr_literal - parse an address literal "[...]" at s; *used gets its length. IPv4
 * and IPv6 literals must be what inet_pton() accepts; others must be Standardized-tag ":"
 * content.
 */
static enum mailaddr_error
mailaddr_literal(const char *s, size_t len, size_t *used, enum mailaddr_literal *kind,
                 unsigned char *ip)
{
    char text[64];
    const char *colon;
    size_t n = 1;

    while (n < len && mailaddr_is_dcontent((unsigned char)s[n]))
        n++;
    if (n >= len || s[n] != ']' || n == 1)
        return MAILADDR_SYNTAX;
    *used = n + 1;
    if (n - 1 > MAILADDR_DOMAIN_MAX)
        return MAILADDR_TOO_LONG;
    colon = memchr(s + 1, ':', n - 1);
    if (colon == NULL || (colon - s == 5 && strncasecmp(s + 1, "IPv6", 4) == 0)) {
        const char *addr = colon == NULL ? s + 1 : colon + 1;
        size_t alen = (size_t)(s + n - addr);
        if (alen >= sizeof(text))
            return MAILADDR_SYNTAX;
        memcpy(text, addr, alen);
        text[alen] = 0;
        *kind = colon == NULL ? MAILADDR_LIT_IPV4 : MAILADDR_LIT_IPV6;
        return inet_pton(colon == NULL ? AF_INET : AF_INET6, text, ip) == 1 ? MAILADDR_OK
                                                                            : MAILADDR_SYNTAX;
    }
    *kind = MAILADDR_LIT_GENERAL;
    if (!mailaddr_literal_tag(s + 1, (size_t)(colon - s - 1)) || colon + 1 == s + n)
        return MAILADDR_SYNTAX;
    return MAILADDR_OK;
}

/*
 * mailaddr_parse_host - the whole of s is a Domain or (when literal_ok) an address literal,
 * as in EHLO; fills host on success.
 */
enum mailaddr_error
mailaddr_parse_host(const char *s, size_t len, bool literal_ok, bool utf8_ok,
                    struct mailaddr_host *host)
{
    enum mailaddr_error err;
    size_t used = 0;

    memset(host, 0, sizeof(*host));
    if (len > 0 && s[0] == '[') {
        if (!literal_ok)
            return MAILADDR_SYNTAX;
        err = mailaddr_literal(s, len, &used, &host->literal, host->ip);
        if (err == MAILADDR_OK && used != len)
            err = MAILADDR_SYNTAX;
    } else {
        err = mailaddr_domain_check(s, len, utf8_ok);
    }
    if (err != MAILADDR_OK)
        return err;
    host->name = xstrndup(s, len);
    for (size_t i = 0; i < len; i++)
        host->utf8 |= (unsigned char)s[i] >= 0x80;
    return MAILADDR_OK;
}

/* mailaddr_route - skip a source route "@a,@b:" at s (RFC 5321 4.1.2 A-d-l, then dropped) */
static enum mailaddr_error
mailaddr_route(const char *s, size_t len, bool utf8_ok, size_t *used)
{
    size_t p = 0;

    for (;;) {
        size_t n;
        enum mailaddr_error err;
        if (p >= len || s[p] != '@')
            return MAILADDR_SYNTAX;
        p++;
        n = mailaddr_domain_span(s + p, len - p);
        err = mailaddr_domain_check(s + p, n, utf8_ok);
        if (err != MAILADDR_OK)
            return err;
        p += n;
        if (p < len && s[p] == ':') {
            *used = p + 1;
            return MAILADDR_OK;
        }
        if (p >= len || s[p] != ',')
            return MAILADDR_SYNTAX;
        p++;
    }
}

/* mailaddr_quoted - a Quoted-string at s, decoded into local; *used gets its wire length */
static enum mailaddr_error
mailaddr_quoted(const char *s, size_t len, bool utf8_ok, struct buf *local, size_t *used)
{
    enum mailaddr_error err = MAILADDR_OK;

    for (size_t p = 1; p < len;) {
        unsigned char c = (unsigned char)s[p];
        if (c == '"') {
            *used = p + 1;
            return MAILADDR_OK;
        }
        if (c == '\\') {
            if (p + 1 >= len || (unsigned char)s[p + 1] < 32 || (unsigned char)s[p + 1] > 126)
                return MAILADDR_SYNTAX;
            buf_putc(local, s[p + 1]);
            p += 2;
        } else if (c >= 0x80) {
            size_t n = mailaddr_utf8_step(s + p, len - p, utf8_ok, &err);
            if (n == 0)
                return err;
            buf_append(local, s + p, n);
            p += n;
        } else if (c >= 32 && c <= 126) {
            buf_putc(local, c);
            p++;
        } else {
            return MAILADDR_SYNTAX;
        }
    }
    return MAILADDR_SYNTAX;
}

/* mailaddr_dotstring - a Dot-string at s (atoms joined by single dots) */
static enum mailaddr_error
mailaddr_dotstring(const char *s, size_t len, bool utf8_ok, struct buf *local, size_t *used)
{
    enum mailaddr_error err = MAILADDR_OK;
    size_t p = 0;
    bool atom_start = true;

    while (p < len) {
        unsigned char c = (unsigned char)s[p];
        size_t n = 1;
        if (c == '.') {
            if (atom_start)
                return MAILADDR_SYNTAX;
            atom_start = true;
        } else if (c >= 0x80) {
            n = mailaddr_utf8_step(s + p, len - p, utf8_ok, &err);
            if (n == 0)
                return err;
            atom_start = false;
        } else if (mailaddr_is_atext(c)) {
            atom_start = false;
        } else {
            break;
        }
        p += n;
    }
    if (atom_start)
        return MAILADDR_SYNTAX;
    buf_append(local, s, p);
    *used = p;
    return MAILADDR_OK;
}

/* mailaddr_domain_part - the domain or address literal after '@' */
static enum mailaddr_error
mailaddr_domain_part(const char *s, size_t len, int flags, struct mailaddr *addr, size_t *used)
{
    enum mailaddr_error err;

    if (len > 0 && s[0] == '[')
        err = mailaddr_literal(s, len, used, &addr->literal, addr->ip);
    else {
        *used = mailaddr_domain_span(s, len);
        err = mailaddr_domain_check(s, *used, (flags & MAILADDR_ALLOW_UTF8) != 0);
    }
    if (err == MAILADDR_OK)
        addr->domain = xstrndup(s, *used);
    return err;
}

/* mailaddr_mailbox - Local-part "@" ( Domain / address-literal ), or bare postmaster */
static enum mailaddr_error
mailaddr_mailbox(const char *s, size_t len, int flags, struct mailaddr *addr, size_t *used)
{
    bool utf8_ok = (flags & MAILADDR_ALLOW_UTF8) != 0;
    struct buf local;
    enum mailaddr_error err;
    size_t n = 0, m = 0;

    buf_init(&local, BUF_UNLIMITED);
    if (len > 0 && s[0] == '"')
        err = mailaddr_quoted(s, len, utf8_ok, &local, &n);
    else
        err = mailaddr_dotstring(s, len, utf8_ok, &local, &n);
    if (err == MAILADDR_OK && n > MAILADDR_LOCAL_MAX)
        err = MAILADDR_TOO_LONG;
    if (err == MAILADDR_OK && n < len && s[n] == '>' && (flags & MAILADDR_ALLOW_POSTMASTER) &&
        !addr->had_route && n == 10 && strncasecmp(s, "postmaster", 10) == 0) {
        addr->kind = MAILADDR_POSTMASTER;
        addr->local = xstrdup("postmaster");
        *used = n;
        buf_free(&local);
        return MAILADDR_OK;
    }
    if (err == MAILADDR_OK && n < len && s[n] == '>' && (flags & MAILADDR_ALLOW_BARE) &&
        !addr->had_route && local.len > 0) { /* a submission client's unqualified address */
        addr->local = buf_steal(&local);
        *used = n;
        return MAILADDR_OK;
    }
    if (err == MAILADDR_OK && (n >= len || s[n] != '@'))
        err = MAILADDR_SYNTAX;
    if (err == MAILADDR_OK)
        err = mailaddr_domain_part(s + n + 1, len - n - 1, flags, addr, &m);
    if (err != MAILADDR_OK) {
        buf_free(&local);
        return err;
    }
    addr->local = local.len > 0 ? buf_steal(&local) : xstrdup("");
    buf_free(&local);
    *used = n + 1 + m;
    return MAILADDR_OK;
}

/* mailaddr_path_body - everything between '<' and '>' of a non-null path */
static enum mailaddr_error
mailaddr_path_body(const char *s, size_t len, int flags, struct mailaddr *addr, size_t *used)
{
    enum mailaddr_error err;
    size_t route = 0, n = 0;

    if (len > 0 && s[0] == '@') {
        err = mailaddr_route(s, len, (flags & MAILADDR_ALLOW_UTF8) != 0, &route);
        if (err != MAILADDR_OK)
            return err;
        addr->had_route = true;
    }
    err = mailaddr_mailbox(s + route, len - route, flags, addr, &n);
    if (err == MAILADDR_OK && (route + n >= len || s[route + n] != '>'))
        err = MAILADDR_SYNTAX;
    *used = route + n + 1;
    return err;
}

/*
 * mailaddr_parse_path - parse a Reverse-path or Forward-path ("<...>") at the start of s.
 * *used gets the octets the path took (the caller checks what follows). On failure addr is
 * left empty.
 */
enum mailaddr_error
mailaddr_parse_path(const char *s, size_t len, int flags, struct mailaddr *addr, size_t *used)
{
    enum mailaddr_error err;
    size_t n = 0;

    memset(addr, 0, sizeof(*addr));
    if (len < 2 || s[0] != '<')
        return MAILADDR_SYNTAX;
    if (s[1] == '>') {
        if (!(flags & MAILADDR_ALLOW_NULL))
            return MAILADDR_SYNTAX;
        addr->kind = MAILADDR_NULL;
        *used = 2;
        return MAILADDR_OK;
    }
    err = mailaddr_path_body(s + 1, len - 1, flags, addr, &n);
    if (err == MAILADDR_OK && n + 1 > MAILADDR_PATH_MAX)
        err = MAILADDR_TOO_LONG;
    if (err != MAILADDR_OK) {
        mailaddr_free(addr);
        return err;
    }
    for (const char *p = addr->local; *p; p++)
        addr->utf8 |= (unsigned char)*p >= 0x80;
    for (const char *p = addr->domain ? addr->domain : ""; *p; p++)
        addr->utf8 |= (unsigned char)*p >= 0x80;
    *used = n + 1;
    return MAILADDR_OK;
}

/* mailaddr_needs_quotes - true unless local is a valid Dot-string */
static bool
mailaddr_needs_quotes(const char *local)
{
    bool atom_start = true;

    for (const unsigned char *p = (const unsigned char *)local; *p; p++) {
        if (*p == '.') {
            if (atom_start)
                return true;
            atom_start = true;
        } else if (*p >= 0x80 || mailaddr_is_atext(*p)) {
            atom_start = false;
        } else {
            return true;
        }
    }
    return atom_start;
}

/*
 * mailaddr_quote_local - append local as it must appear on the wire: as is when it is a
 * Dot-string, otherwise a Quoted-string with '"' and '\' escaped. False at out's limit.
 */
bool
mailaddr_quote_local(struct buf *out, const char *local)
{
    bool good = true;

    if (!mailaddr_needs_quotes(local))
        return buf_puts(out, local);
    good = buf_putc(out, '"');
    for (const char *p = local; good && *p; p++) {
        if (*p == '"' || *p == '\\')
            good = buf_putc(out, '\\');
        good = good && buf_putc(out, *p);
    }
    return good && buf_putc(out, '"');
}

/* mailaddr_format - append the path's content without brackets: "", postmaster, local@domain */
bool
mailaddr_format(struct buf *out, const struct mailaddr *addr)
{
    switch (addr->kind) {
    case MAILADDR_NULL:
        return true;
    case MAILADDR_POSTMASTER:
        return buf_puts(out, "postmaster");
    case MAILADDR_MAILBOX:
        break;
    }
    return mailaddr_quote_local(out, addr->local) && buf_putc(out, '@') &&
           buf_puts(out, addr->domain);
}

/* mailaddr_strerror - a short reason for a reply text or a log line */
const char *
mailaddr_strerror(enum mailaddr_error err)
{
    switch (err) {
    case MAILADDR_OK:
        return "no error";
    case MAILADDR_SYNTAX:
        return "address syntax error";
    case MAILADDR_TOO_LONG:
        return "address too long";
    case MAILADDR_NON_ASCII:
        return "non-ASCII address without SMTPUTF8";
    case MAILADDR_BAD_UTF8:
        return "invalid UTF-8 in address";
    }
    return "unknown error";
}

/* mailaddr_free - release what a successful parse allocated; safe on an empty struct */
void
mailaddr_free(struct mailaddr *addr)
{
    free(addr->local);
    free(addr->domain);
    memset(addr, 0, sizeof(*addr));
}

/* mailaddr_host_free - release a parsed host */
void
mailaddr_host_free(struct mailaddr_host *host)
{
    free(host->name);
    memset(host, 0, sizeof(*host));
}
