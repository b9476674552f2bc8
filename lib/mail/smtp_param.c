/*
 * smtp_param.c - ESMTP parameters of MAIL FROM and RCPT TO, decoded into structs.
 *
 * Trusts: nothing; s is the client's text after the path. Each keyword may appear once
 * (a repeat is 501 5.5.4), an unknown keyword is 555 5.5.4, keywords and keyword-like
 * values are case-insensitive. xtext values are decoded here and stored decoded, so the
 * queue and the DSN code never see the wire form. BODY=BINARYMIME is refused with 555:
 * postern does not offer it.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/mem.h"
#include "mail/mailaddr.h"
#include "mail/smtp_cmd.h"

/* One parameter, split: keyword and optional value, neither NUL-terminated. */
struct smtp_param {
    const char *key;
    size_t key_len;
    const char *value; /* NULL when there was no '=' */
    size_t value_len;
};

/* smtp_param_is_key - the keyword is what the text says, case-insensitively */
static bool
smtp_param_is_key(const struct smtp_param *p, const char *name)
{
    return p->key_len == strlen(name) && strncasecmp(p->key, name, p->key_len) == 0;
}

/* smtp_param_value_is - the value is exactly name, case-insensitively */
static bool
smtp_param_value_is(const struct smtp_param *p, const char *name)
{
    return p->value != NULL && p->value_len == strlen(name) &&
           strncasecmp(p->value, name, p->value_len) == 0;
}

/*
 * smtp_param_split - cut "keyword[=value]" (RFC 5321 esmtp-param); false on bad syntax.
 * 8-bit octets pass here (RFC 6531 allows UTF-8 in values); each value's own decoder
 * refuses them unless it takes UTF-8.
 */
static bool
smtp_param_split(const char *s, size_t len, struct smtp_param *p)
{
    size_t k = 0;

    while (k < len && s[k] != '=') {
        unsigned char c = (unsigned char)s[k];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (k == 0 || c != '-'))
            return false;
        k++;
    }
    if (k == 0)
        return false;
    p->key = s;
    p->key_len = k;
    p->value = NULL;
    p->value_len = 0;
    if (k == len)
        return true;
    p->value = s + k + 1;
    p->value_len = len - k - 1;
    if (p->value_len == 0)
        return false;
    for (size_t i = 0; i < p->value_len; i++) {
        unsigned char c = (unsigned char)p->value[i];
        if (c < 33 || c == 127 || c == '=')
            return false;
    }
    return true;
}

/* smtp_param_hex - value of an uppercase hex digit, -1 otherwise (RFC 3461 hexchar) */
static int
smtp_param_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * smtp_param_xtext - decode RFC 3461 xtext into out; false on bad syntax (a '+' without two
 * uppercase hex digits, or a character outside '!'..'~', or '=').
 */
bool
smtp_param_xtext(const char *s, size_t len, struct buf *out)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+') {
            int hi, lo;
            if (i + 2 >= len)
                return false;
            hi = smtp_param_hex(s[i + 1]);
            lo = smtp_param_hex(s[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else if (c < 33 || c > 126 || c == '=') {
            return false;
        }
        if (!buf_putc(out, c))
            return false;
    }
    return true;
}

/* smtp_xtext_encode - RFC 3461 xtext of a decoded value, as the queue file keeps ENVID */
char *
smtp_xtext_encode(const char *s)
{
    struct buf b;

    buf_init(&b, BUF_UNLIMITED);
    buf_puts(&b, "");
    for (; *s; s++) {
        if (*s == '+' || *s == '=' || (unsigned char)*s < 33 || (unsigned char)*s > 126)
            buf_printf(&b, "+%02X", (unsigned char)*s);
        else
            buf_putc(&b, *s);
    }
    return buf_steal(&b);
}

/* smtp_param_size - RFC 1870 SIZE=digits, refused past 2^64-1 */
static bool
smtp_param_size(const struct smtp_param *p, uint64_t *size)
{
    uint64_t v = 0;

    if (p->value == NULL || p->value_len > 20)
        return false;
    for (size_t i = 0; i < p->value_len; i++) {
        unsigned d = (unsigned)(p->value[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *size = v;
    return true;
}

/* smtp_param_printable - decode xtext that must decode to printable ASCII (ENVID, AUTH) */
static char *
smtp_param_printable(const struct smtp_param *p, size_t max)
{
    struct buf out;

    if (p->value == NULL || p->value_len > max)
        return NULL;
    buf_init(&out, max);
    if (!smtp_param_xtext(p->value, p->value_len, &out)) {
        buf_free(&out);
        return NULL;
    }
    for (size_t i = 0; i < out.len; i++) {
        if ((unsigned char)out.data[i] < 32 || (unsigned char)out.data[i] > 126) {
            buf_free(&out);
            return NULL;
        }
    }
    return buf_steal(&out);
}

enum smtp_param_seen {
    SEEN_SIZE = 1 << 0,
    SEEN_BODY = 1 << 1,
    SEEN_UTF8 = 1 << 2,
    SEEN_RET = 1 << 3,
    SEEN_ENVID = 1 << 4,
    SEEN_AUTH = 1 << 5,
    SEEN_NOTIFY = 1 << 6,
    SEEN_ORCPT = 1 << 7,
};

/* smtp_param_mail_key - the SEEN_ bit of a MAIL keyword, 0 when unknown */
static unsigned
smtp_param_mail_key(const struct smtp_param *p)
{
    static const struct {
        const char *name;
        unsigned bit;
    } keys[] = {{"SIZE", SEEN_SIZE}, {"BODY", SEEN_BODY},   {"SMTPUTF8", SEEN_UTF8},
                {"RET", SEEN_RET},   {"ENVID", SEEN_ENVID}, {"AUTH", SEEN_AUTH}};

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (smtp_param_is_key(p, keys[i].name))
            return keys[i].bit;
    return 0;
}

/* smtp_param_mail_one - apply one MAIL parameter; NULL on success */
static const struct smtp_reply *
smtp_param_mail_one(const struct smtp_param *p, struct smtp_mail_params *m, unsigned *seen)
{
    unsigned bit = smtp_param_mail_key(p);
    bool good = false;

    if (bit == 0)
        return &smtp_reply_unknown_param;
    if (*seen & bit)
        return &smtp_reply_bad_param;
    *seen |= bit;
    switch (bit) {
    case SEEN_SIZE:
        good = m->has_size = smtp_param_size(p, &m->size);
        break;
    case SEEN_BODY:
        if (smtp_param_value_is(p, "BINARYMIME"))
            return &smtp_reply_binarymime;
        if (smtp_param_value_is(p, "7BIT"))
            m->body = SMTP_BODY_7BIT;
        else if (smtp_param_value_is(p, "8BITMIME"))
            m->body = SMTP_BODY_8BITMIME;
        good = m->body != SMTP_BODY_NONE;
        break;
    case SEEN_UTF8:
        good = m->smtputf8 = p->value == NULL;
        break;
    case SEEN_RET:
        if (smtp_param_value_is(p, "FULL"))
            m->ret = SMTP_RET_FULL;
        else if (smtp_param_value_is(p, "HDRS"))
            m->ret = SMTP_RET_HDRS;
        good = m->ret != SMTP_RET_NONE;
        break;
    case SEEN_ENVID:
        good = (m->envid = smtp_param_printable(p, SMTP_ENVID_MAX)) != NULL;
        break;
    case SEEN_AUTH:
        good = (m->auth = smtp_param_printable(p, SMTP_ORCPT_MAX)) != NULL;
        break;
    }
    return good ? NULL : &smtp_reply_bad_param;
}

/* smtp_param_notify - RFC 3461 NOTIFY: NEVER alone, or a list of SUCCESS, FAILURE, DELAY */
static unsigned
smtp_param_notify(const struct smtp_param *p)
{
    static const struct {
        const char *name;
        unsigned bit;
    } words[] = {{"NEVER", SMTP_NOTIFY_NEVER},
                 {"SUCCESS", SMTP_NOTIFY_SUCCESS},
                 {"FAILURE", SMTP_NOTIFY_FAILURE},
                 {"DELAY", SMTP_NOTIFY_DELAY}};
    unsigned bits = 0;
    size_t start = 0;

    if (p->value == NULL)
        return 0;
    for (size_t i = 0; i <= p->value_len; i++) {
        unsigned bit = 0;
        if (i < p->value_len && p->value[i] != ',')
            continue;
        for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++)
            if (i - start == strlen(words[w].name) &&
                strncasecmp(p->value + start, words[w].name, i - start) == 0)
                bit = words[w].bit;
        if (bit == 0 || (bits & bit))
            return 0;
        bits |= bit;
        start = i + 1;
    }
    return (bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER ? 0 : bits;
}

/* smtp_param_utf8_encode - the UTF-8 form of code point cp (at most U+10FFFF) */
static size_t
smtp_param_utf8_encode(unsigned long cp, unsigned char *enc)
{
    if (cp < 0x80) {
        enc[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        enc[0] = (unsigned char)(0xc0 | cp >> 6);
        enc[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        enc[0] = (unsigned char)(0xe0 | cp >> 12);
        enc[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        enc[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    enc[0] = (unsigned char)(0xf0 | cp >> 18);
    enc[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    enc[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    enc[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/*
 * smtp_param_escape - one RFC 6533 EmbeddedUnicodeChar "\x{HEX}" at s, appended to out as
 * UTF-8; the octets taken, 0 when malformed or naming a surrogate, a control or no
 * character at all.
 */
static size_t
smtp_param_escape(const char *s, size_t len, struct buf *out)
{
    unsigned long cp = 0;
    size_t j = 3;
    unsigned char enc[4];

    if (len < 4 || s[1] != 'x' || s[2] != '{')
        return 0;
    for (; j < len && j < 9 && smtp_param_hex(s[j]) >= 0; j++)
        cp = cp * 16 + (unsigned long)smtp_param_hex(s[j]);
    if (j >= len || s[j] != '}' || j < 5 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
        (cp >= 0x7f && cp < 0xa0) || cp < 0x20)
        return 0;
    return buf_append(out, enc, smtp_param_utf8_encode(cp, enc)) ? j + 1 : 0;
}

/* smtp_param_utf8_xtext - RFC 6533 utf-8-addr-xtext, or -unitext (raw UTF-8) when utf8 */
static bool
smtp_param_utf8_xtext(const char *s, size_t len, bool utf8, struct buf *out)
{
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t n = 1;
        if (c == '\\')
            n = smtp_param_escape(s + i, len - i, out);
        else if (c >= 0x80)
            n = utf8 ? mailaddr_utf8_len((const unsigned char *)s + i, len - i) : 0;
        else if (c < 33 || c > 126 || c == '+' || c == '=')
            n = 0;
        if (n == 0 || (c != '\\' && !buf_append(out, s + i, n)))
            return false;
        i += n;
    }
    return true;
}

/* smtp_param_orcpt - RFC 3461 ORCPT=addr-type;xtext, types rfc822 and utf-8 (RFC 6533) */
static bool
smtp_param_orcpt(const struct smtp_param *p, bool utf8, struct smtp_rcpt_params *r)
{
    const char *semi;
    size_t type_len, rest;
    struct buf out;
    bool good;

    if (p->value == NULL || p->value_len > SMTP_ORCPT_MAX)
        return false;
    semi = memchr(p->value, ';', p->value_len);
    if (semi == NULL)
        return false;
    type_len = (size_t)(semi - p->value);
    rest = p->value_len - type_len - 1;
    buf_init(&out, SMTP_ORCPT_MAX);
    if (type_len == 6 && strncasecmp(p->value, "rfc822", 6) == 0) {
        good = smtp_param_xtext(semi + 1, rest, &out);
        for (size_t i = 0; good && i < out.len; i++)
            good = (unsigned char)out.data[i] >= 32 && (unsigned char)out.data[i] < 127;
        r->orcpt_type = xstrdup("rfc822");
    } else if (type_len == 5 && strncasecmp(p->value, "utf-8", 5) == 0) {
        good = smtp_param_utf8_xtext(semi + 1, rest, utf8, &out);
        r->orcpt_type = xstrdup("utf-8");
    } else {
        good = false;
    }
    good = good && out.len > 0;
    r->orcpt_addr = good ? buf_steal(&out) : NULL;
    buf_free(&out);
    return good;
}

/* smtp_param_rcpt_one - apply one RCPT parameter; NULL on success */
static const struct smtp_reply *
smtp_param_rcpt_one(const struct smtp_param *p, bool utf8, struct smtp_rcpt_params *r,
                    unsigned *seen)
{
    unsigned bit = smtp_param_is_key(p, "NOTIFY")  ? SEEN_NOTIFY
                   : smtp_param_is_key(p, "ORCPT") ? SEEN_ORCPT
                                                   : 0;
    bool good;

    if (bit == 0)
        return &smtp_reply_unknown_param;
    if (*seen & bit)
        return &smtp_reply_bad_param;
    *seen |= bit;
    if (bit == SEEN_NOTIFY)
        good = (r->notify = smtp_param_notify(p)) != 0;
    else
        good = smtp_param_orcpt(p, utf8, r);
    return good ? NULL : &smtp_reply_bad_param;
}

/* smtp_param_each - split s at single spaces and hand each parameter to one() */
static const struct smtp_reply *
smtp_param_each(const char *s, size_t len,
                const struct smtp_reply *(*one)(const struct smtp_param *, void *), void *ctx)
{
    size_t start = 0;

    for (size_t i = 0; i <= len; i++) {
        struct smtp_param p;
        const struct smtp_reply *reply;
        if (i < len && s[i] != ' ')
            continue;
        if (!smtp_param_split(s + start, i - start, &p))
            return &smtp_reply_bad_param;
        if ((reply = one(&p, ctx)) != NULL)
            return reply;
        start = i + 1;
    }
    return NULL;
}

struct smtp_param_ctx {
    struct smtp_mail_params *mail;
    struct smtp_rcpt_params *rcpt;
    bool utf8;
    unsigned seen;
};

/* smtp_param_mail_cb - smtp_param_each() callback for MAIL */
static const struct smtp_reply *
smtp_param_mail_cb(const struct smtp_param *p, void *ctx)
{
    struct smtp_param_ctx *c = ctx;
    return smtp_param_mail_one(p, c->mail, &c->seen);
}

/* smtp_param_rcpt_cb - smtp_param_each() callback for RCPT */
static const struct smtp_reply *
smtp_param_rcpt_cb(const struct smtp_param *p, void *ctx)
{
    struct smtp_param_ctx *c = ctx;
    return smtp_param_rcpt_one(p, c->utf8, c->rcpt, &c->seen);
}

/* smtp_param_mail - parse MAIL parameters (s without the leading space); NULL on success */
const struct smtp_reply *
smtp_param_mail(const char *s, size_t len, struct smtp_mail_params *p)
{
    struct smtp_param_ctx ctx = {.mail = p};
    const struct smtp_reply *reply = smtp_param_each(s, len, smtp_param_mail_cb, &ctx);

    if (reply != NULL)
        smtp_param_mail_free(p);
    return reply;
}

/* smtp_param_rcpt - parse RCPT parameters; utf8 allows raw UTF-8 in ORCPT=utf-8 */
const struct smtp_reply *
smtp_param_rcpt(const char *s, size_t len, bool utf8, struct smtp_rcpt_params *p)
{
    struct smtp_param_ctx ctx = {.rcpt = p, .utf8 = utf8};
    const struct smtp_reply *reply = smtp_param_each(s, len, smtp_param_rcpt_cb, &ctx);

    if (reply != NULL)
        smtp_param_rcpt_free(p);
    return reply;
}

/* smtp_param_mail_free - release decoded MAIL parameters */
void
smtp_param_mail_free(struct smtp_mail_params *p)
{
    free(p->envid);
    free(p->auth);
    memset(p, 0, sizeof(*p));
}

/* smtp_param_rcpt_free - release decoded RCPT parameters */
void
smtp_param_rcpt_free(struct smtp_rcpt_params *p)
{
    free(p->orcpt_type);
    free(p->orcpt_addr);
    memset(p, 0, sizeof(*p));
}

/* smtp_body_word - BODY= as the queue file and the next hop's MAIL FROM carry it ("" if none) */
const char *
smtp_body_word(enum smtp_body body)
{
    return body == SMTP_BODY_8BITMIME ? "8BITMIME" : body == SMTP_BODY_7BIT ? "7BIT" : "";
}
