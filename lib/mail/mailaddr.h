/* mailaddr.h - RFC 5321 paths, mailboxes, domains and address literals, parsed once */
#ifndef MAIL_MAILADDR_H
#define MAIL_MAILADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

#define MAILADDR_LOCAL_MAX  64  /* RFC 5321 4.5.3.1.1, as received (quotes included) */
#define MAILADDR_DOMAIN_MAX 255 /* RFC 5321 4.5.3.1.2 */
#define MAILADDR_LABEL_MAX  63  /* RFC 1035 */
#define MAILADDR_PATH_MAX   256 /* RFC 5321 4.5.3.1.3, angle brackets included */

/* What a path may be, beyond a mailbox. */
#define MAILADDR_ALLOW_NULL       (1 << 0) /* <> (MAIL FROM) */
#define MAILADDR_ALLOW_POSTMASTER (1 << 1) /* <postmaster> (RCPT TO) */
#define MAILADDR_ALLOW_UTF8       (1 << 2) /* RFC 6531 UTF-8 in local part and domain */
#define MAILADDR_ALLOW_BARE       (1 << 3) /* <local> without @domain: domain NULL (RFC 6409 8) */

enum mailaddr_kind {
    MAILADDR_MAILBOX,
    MAILADDR_NULL,       /* <> */
    MAILADDR_POSTMASTER, /* <postmaster>, any case; local is "postmaster", domain NULL */
};

enum mailaddr_literal {
    MAILADDR_LIT_NONE, /* domain is a domain name */
    MAILADDR_LIT_IPV4,
    MAILADDR_LIT_IPV6,
    MAILADDR_LIT_GENERAL, /* [tag:content] */
};

enum mailaddr_error {
    MAILADDR_OK,
    MAILADDR_SYNTAX,
    MAILADDR_TOO_LONG, /* local part, domain, label or path past its limit */
    MAILADDR_NON_ASCII,
    MAILADDR_BAD_UTF8,
};

/*
 * A mailbox. local is in canonical form: quotes and quoted-pairs removed, so "a\b"@x and
 * ab@x give the same local "ab"; mailaddr_quote_local() puts quotes back where needed.
 * domain is as received (address literals with their brackets); case is kept.
 */
struct mailaddr {
    enum mailaddr_kind kind;
    char *local;
    char *domain;
    enum mailaddr_literal literal;
    unsigned char ip[16]; /* IPv4 (4 octets) or IPv6 literal, network order */
    bool utf8;            /* non-ASCII somewhere */
    bool had_route;       /* a source route was given and dropped */
};

struct mailaddr_host {
    char *name; /* domain or address literal with brackets */
    enum mailaddr_literal literal;
    unsigned char ip[16];
    bool utf8;
};

enum mailaddr_error mailaddr_parse_path(const char *s, size_t len, int flags, struct mailaddr *addr,
                                        size_t *used);
enum mailaddr_error mailaddr_parse_host(const char *s, size_t len, bool literal_ok, bool utf8_ok,
                                        struct mailaddr_host *host);
bool mailaddr_is_domain(const char *s, size_t len, bool utf8_ok);
size_t mailaddr_utf8_len(const unsigned char *s, size_t len);
bool mailaddr_quote_local(struct buf *out, const char *local);
bool mailaddr_format(struct buf *out, const struct mailaddr *addr);
const char *mailaddr_strerror(enum mailaddr_error err);
void mailaddr_free(struct mailaddr *addr);
void mailaddr_host_free(struct mailaddr_host *host);

#endif
