/*
 * mime_down.c - 8-bit MIME content made 7-bit, for a server that does not offer 8BITMIME
 * (RFC 6152 section 3: convert, or do not send). What Postfix does by default, without its
 * guessing: a header with 8-bit bytes, or 8-bit bytes in a multipart's preamble or epilogue
 * or in a part already base64 or quoted-printable, cannot be converted without inventing a
 * charset or an encoding, so the caller refuses such a message (5.6.3) instead.
 *
 * The content is read twice. The scan finds which leaf parts hold 8-bit bytes; the convert
 * pass walks the same structure in the same order and rewrites just those parts as
 * quoted-printable (RFC 2045 section 6.7), their Content-Transfer-Encoding with them, and
 * declares 7bit on every multipart or message/rfc822 around them that said 8bit or binary
 * (RFC 2045 section 6.4: a composite's encoding must describe what it holds). Content-Type
 * is read whether or not MIME-Version is there, as Postfix's mime_state reads it: a
 * multipart without MIME-Version (old scripts, broken MUAs) is converted part by part, and
 * gets MIME-Version. A message without MIME-Version or Content-Type is one text part;
 * converted, it gets MIME-Version and "Content-Type: text/plain; charset=unknown-8bit"
 * (RFC 1428). 8-bit bytes in a multipart without a boundary, or in a message/partial or
 * message/external-body part (RFC 2046 5.2: 7bit only), cannot be converted.
 *
 * Trusts: nothing in the content. A line is held up to MIME_DOWN_LINE_MAX octets, longer
 * ones are taken in pieces (only a whole line can be a boundary; a quoted-printable line
 * goes on with soft breaks); a header is held up to MIME_DOWN_HEADER_MAX; boundaries are
 * matched as RFC 2046 section 5.1.1 says (transport padding allowed); nesting is bounded.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "core/str.h"
#include "mail/mime_down.h"

#define MIME_DOWN_QP_WIDTH  76 /* characters per encoded line, the soft break's "=" included */
#define MIME_DOWN_BOUND_MAX 200

/* What an entity's header says. */
struct mime_head {
    char type[32];    /* "multipart", "message", "text", ... lower case; "" none */
    char subtype[32]; /* lower case */
    char boundary[MIME_DOWN_BOUND_MAX + 1];
    char cte[32]; /* Content-Transfer-Encoding, lower case; "" none */
    bool has_type;
    bool has_version; /* MIME-Version */
};

void
mime_down_init(struct mime_down *md)
{
    memset(md, 0, sizeof(*md));
    buf_init(&md->line, MIME_DOWN_LINE_MAX);
    buf_init(&md->header, MIME_DOWN_HEADER_MAX);
    md->in_header = true;
    md->top = true;
}

/* mime_down_rewind - ready for the convert pass, keeping the scan's findings */
void
mime_down_rewind(struct mime_down *md, struct buf *out)
{
    while (md->depth > 0)
        free(md->bound[--md->depth]);
    buf_reset(&md->line);
    buf_reset(&md->header);
    md->more = false;
    md->rest = MIME_DOWN_REST_NONE;
    md->qp_col = 0;
    md->in_header = true;
    md->top = true;
    md->kind = MIME_DOWN_LEAF;
    md->nscanned = md->nleaf;
    md->leaf = md->nleaf = 0;
    md->out = out;
}

void
mime_down_free(struct mime_down *md)
{
    while (md->depth > 0)
        free(md->bound[--md->depth]);
    buf_free(&md->line);
    buf_free(&md->header);
    free(md->eight);
    md->eight = NULL;
}

static void
mime_down_cannot(struct mime_down *md, const char *why)
{
    if (md->verdict != MIME_DOWN_CANNOT)
        md->why = why;
    md->verdict = MIME_DOWN_CANNOT;
}

static bool
mime_down_has_8bit(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)p[i] >= 0x80)
            return true;
    return false;
}

/* mime_down_leaf8 - the convert pass: did the scan find 8-bit bytes in the current leaf? */
static bool
mime_down_leaf8(const struct mime_down *md)
{
    return md->leaf < md->nscanned && md->eight[md->leaf];
}

/* mime_down_emit - bytes to the convert pass's output (nothing while scanning) */
static void
mime_down_emit(struct mime_down *md, const char *p, size_t len)
{
    if (md->out != NULL)
        buf_append(md->out, p, len);
}

/* mime_down_emit_field - a header field of our own, and its CRLF */
static void
mime_down_emit_field(struct mime_down *md, const char *field)
{
    mime_down_emit(md, field, strlen(field));
    mime_down_emit(md, "\r\n", 2);
}

static void
mime_down_emit_line(struct mime_down *md, const char *p, size_t len, bool ended)
{
    mime_down_emit(md, p, len);
    if (ended)
        mime_down_emit(md, "\r\n", 2);
}

/* mime_down_lower_token - the token at *p (up to a delimiter), lower case, into out */
static void
mime_down_lower_token(const char **p, const char *delims, char *out, size_t size)
{
    size_t n = 0;

    while (**p && strchr(delims, **p) == NULL) {
        if (n + 1 < size)
            out[n++] = (char)((**p >= 'A' && **p <= 'Z') ? **p + 32 : **p);
        (*p)++;
    }
    out[n] = 0;
}

/* mime_down_param - the value of parameter name in a Content-Type value, quoted or not */
static void
mime_down_param(const char *v, const char *name, char *out, size_t size)
{
    size_t nlen = strlen(name);

    out[0] = 0;
    for (const char *p = strchr(v, ';'); p != NULL; p = strchr(p + 1, ';')) {
        const char *q = p + 1;
        while (*q == ' ' || *q == '\t')
            q++;
        if (strncasecmp(q, name, nlen) != 0 || q[nlen] != '=')
            continue;
        q += nlen + 1;
        size_t n = 0;
        if (*q == '"') {
            for (q++; *q && *q != '"'; q++) {
                if (*q == '\\' && q[1])
                    q++;
                if (n + 1 < size)
                    out[n++] = *q;
            }
        } else
            while (*q && strchr(" \t;()<>@,:\\\"/[]?=", *q) == NULL && n + 1 < size)
                out[n++] = *q++;
        out[n] = 0;
        return;
    }
}

/* mime_down_field - one header field (name, unfolded value) into what h records */
static void
mime_down_field(struct mime_head *h, const char *name, size_t nlen, const char *value)
{
    const char *p = value;

    while (*p == ' ' || *p == '\t')
        p++;
    if (nlen == 12 && strncasecmp(name, "Content-Type", nlen) == 0) {
        h->has_type = true;
        mime_down_lower_token(&p, "/; \t(", h->type, sizeof(h->type));
        if (*p == '/') {
            p++;
            mime_down_lower_token(&p, "; \t(", h->subtype, sizeof(h->subtype));
        }
        mime_down_param(p, "boundary", h->boundary, sizeof(h->boundary));
    } else if (nlen == 25 && strncasecmp(name, "Content-Transfer-Encoding", nlen) == 0)
        mime_down_lower_token(&p, "; \t(", h->cte, sizeof(h->cte));
    else if (nlen == 12 && strncasecmp(name, "MIME-Version", nlen) == 0)
        h->has_version = true;
}

/* mime_down_field_end - where the field that starts at p ends (after its continuations) */
static const char *
mime_down_field_end(const char *p, const char *end)
{
    do {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    } while (p < end && (*p == ' ' || *p == '\t'));
    return p;
}

/* mime_down_is_cte - is the field at p Content-Transfer-Encoding? */
static bool
mime_down_is_cte(const char *p, const char *end)
{
    static const char name[] = "Content-Transfer-Encoding:";

    return (size_t)(end - p) >= sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0;
}

/* mime_down_parse - the fields of the header held in md->header */
static void
mime_down_parse(const struct mime_down *md, struct mime_head *h)
{
    const char *p = buf_str(&md->header), *end = p + md->header.len;
    struct buf value;

    memset(h, 0, sizeof(*h));
    buf_init(&value, BUF_UNLIMITED);
    while (p < end) {
        const char *next = mime_down_field_end(p, end);
        const char *colon = memchr(p, ':', (size_t)(next - p));
        if (colon != NULL) {
            buf_reset(&value);
            for (const char *q = colon + 1; q < next; q++)
                if (*q != '\r' && *q != '\n')
                    buf_putc(&value, *q);
            size_t nlen = (size_t)(colon - p);
            while (nlen > 0 && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
                nlen--;
            mime_down_field(h, p, nlen, buf_str(&value));
        }
        p = next;
    }
    buf_free(&value);
}

static bool
mime_down_cte_is(const struct mime_head *h, const char *a, const char *b)
{
    return strcmp(h->cte, a) == 0 || strcmp(h->cte, b) == 0;
}

/* mime_down_write_header - the convert pass: the header as read, with the encoding
 * rewritten where the scan says so, and the empty line that ends it */
static void
mime_down_write_header(struct mime_down *md, const struct mime_head *h)
{
    bool leaf8 = md->kind == MIME_DOWN_LEAF && mime_down_leaf8(md);
    bool outer = md->kind != MIME_DOWN_LEAF && mime_down_cte_is(h, "8bit", "binary");
    const char *p = buf_str(&md->header), *end = p + md->header.len;

    while (p < end) {
        const char *next = mime_down_field_end(p, end);
        if (!((leaf8 || outer) && mime_down_is_cte(p, next)))
            mime_down_emit(md, p, (size_t)(next - p));
        p = next;
    }
    /* The convert pass runs only when a part is converted: the result is MIME, and says so */
    if (md->top && !h->has_version && (leaf8 || md->kind != MIME_DOWN_LEAF))
        mime_down_emit_field(md, "MIME-Version: 1.0");
    if (leaf8 && md->top && !h->has_type)
        mime_down_emit_field(md, "Content-Type: text/plain; charset=unknown-8bit");
    if (leaf8)
        mime_down_emit_field(md, "Content-Transfer-Encoding: quoted-printable");
    else if (outer)
        mime_down_emit_field(md, "Content-Transfer-Encoding: 7bit");
    mime_down_emit(md, "\r\n", 2);
}

/* mime_down_new_leaf - the next leaf part; the scan's table grows with it */
static void
mime_down_new_leaf(struct mime_down *md)
{
    md->leaf = md->nleaf++;
    if (md->out != NULL)
        return;
    if (md->nleaf > md->eight_cap) {
        md->eight_cap = md->eight_cap ? 2 * md->eight_cap : 8;
        md->eight = xreallocarray(md->eight, md->eight_cap, sizeof(*md->eight));
    }
    md->eight[md->leaf] = false;
}

/* mime_down_leaf_no8 - why 8-bit bytes in this leaf cannot be made quoted-printable, or
 * NULL: encoded already, or a type whose encoding can only be 7bit, 8bit or binary */
static const char *
mime_down_leaf_no8(const struct mime_head *h, bool multipart, bool message)
{
    if (mime_down_cte_is(h, "base64", "quoted-printable"))
        return "8-bit bytes in a base64 or quoted-printable part";
    if (multipart)
        return "8-bit bytes in a multipart without a boundary";
    if (message && (strcmp(h->subtype, "partial") == 0 || strcmp(h->subtype, "external-body") == 0))
        return "8-bit bytes in a message/partial or message/external-body part";
    return NULL;
}

/* mime_down_header_end - an entity's header is complete: what the entity is, and on */
static void
mime_down_header_end(struct mime_down *md)
{
    struct mime_head h;
    bool multipart, message;

    mime_down_parse(md, &h);
    multipart = strcmp(h.type, "multipart") == 0;
    message = strcmp(h.type, "message") == 0;
    md->no8 = NULL;
    if (multipart && *h.boundary) {
        md->kind = MIME_DOWN_MULTIPART;
        if (md->depth == MIME_DOWN_DEPTH)
            mime_down_cannot(md, "MIME nested too deeply");
        else
            md->bound[md->depth++] = xstrdup(h.boundary);
    } else if (message && strcmp(h.subtype, "rfc822") == 0)
        md->kind = MIME_DOWN_MESSAGE;
    else {
        md->kind = MIME_DOWN_LEAF;
        md->no8 = mime_down_leaf_no8(&h, multipart, message);
        mime_down_new_leaf(md);
    }
    if (md->out != NULL)
        mime_down_write_header(md, &h);
    buf_reset(&md->header);
    /* A message/rfc822 part's content is an entity of its own, header first. */
    md->in_header = md->kind == MIME_DOWN_MESSAGE;
    md->top = false;
}

/* mime_down_boundary - a delimiter of an open multipart? Then the structure moves on. */
static bool
mime_down_boundary(struct mime_down *md, const char *p, size_t len, bool ended)
{
    if (len < 2 || p[0] != '-' || p[1] != '-')
        return false;
    for (size_t k = md->depth; k-- > 0;) {
        size_t blen = strlen(md->bound[k]), i = 2 + blen;
        if (len < i || memcmp(p + 2, md->bound[k], blen) != 0)
            continue;
        bool close = len >= i + 2 && p[i] == '-' && p[i + 1] == '-';
        for (i += close ? 2 : 0; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
            ;
        if (i != len)
            continue;
        while (md->depth > k + 1)
            free(md->bound[--md->depth]);
        if (close) {
            free(md->bound[k]);
            md->depth = k;
            md->kind = MIME_DOWN_MULTIPART; /* the epilogue: text outside any part */
        } else
            md->in_header = true;
        mime_down_emit_line(md, p, len, ended);
        return true;
    }
    return false;
}

/* mime_down_qp_line - one line (or piece of one) of a converted part, quoted-printable,
 * soft breaks at 76; white space at the end of a piece is encoded, as the line may end
 * right after it */
static void
mime_down_qp_line(struct mime_down *md, const char *p, size_t len, bool ended)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t col = md->qp_col;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        char tok[3] = {(char)c};
        size_t n = 1;
        bool literal =
            (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && i + 1 < len);
        if (!literal) {
            tok[0] = '=';
            tok[1] = hex[c >> 4];
            tok[2] = hex[c & 15];
            n = 3;
        }
        if (col + n > MIME_DOWN_QP_WIDTH - 1) {
            mime_down_emit(md, "=\r\n", 3);
            col = 0;
        }
        mime_down_emit(md, tok, n);
        col += n;
    }
    md->qp_col = md->more ? col : 0;
    if (ended)
        mime_down_emit(md, "\r\n", 2);
}

/* mime_down_body_line - a line of the current entity's body */
static void
mime_down_body_line(struct mime_down *md, const char *p, size_t len, bool ended)
{
    bool eight = mime_down_has_8bit(p, len);

    if (md->more)
        md->rest = MIME_DOWN_REST_BODY;
    if (md->kind != MIME_DOWN_LEAF) {
        if (eight)
            mime_down_cannot(md, "8-bit text outside any MIME part");
        mime_down_emit_line(md, p, len, ended);
        return;
    }
    if (md->out == NULL) {
        if (eight && md->no8 != NULL)
            mime_down_cannot(md, md->no8);
        else if (eight)
            md->eight[md->leaf] = true;
        return;
    }
    if (mime_down_leaf8(md))
        mime_down_qp_line(md, p, len, ended);
    else
        mime_down_emit_line(md, p, len, ended);
}

/* mime_down_header_add - a field's line (or piece of one) to the header being read; a
 * header past MIME_DOWN_HEADER_MAX is not kept, and its content cannot be converted */
static void
mime_down_header_add(struct mime_down *md, const char *p, size_t len)
{
    if (md->more)
        md->rest = MIME_DOWN_REST_HEADER;
    if (mime_down_has_8bit(p, len))
        mime_down_cannot(md, "8-bit bytes in a header");
    if (md->header.len + len + 2 > MIME_DOWN_HEADER_MAX) {
        mime_down_cannot(md, "a MIME header longer than 64 KiB");
        return;
    }
    buf_append(&md->header, p, len);
    if (!md->more)
        buf_puts(&md->header, "\r\n");
}

/* mime_down_header_line - a line while a header is read: a field, a continuation, the
 * empty line that ends it, or (no empty line came) the body's first line */
static void mime_down_line(struct mime_down *md, const char *p, size_t len, bool ended);

static void
mime_down_header_line(struct mime_down *md, const char *p, size_t len, bool ended)
{
    bool cont = len > 0 && (p[0] == ' ' || p[0] == '\t') && md->header.len > 0;
    size_t name = 0;

    while (name < len && p[name] > ' ' && p[name] < 0x7f && p[name] != ':')
        name++;
    if (len == 0) {
        mime_down_header_end(md);
        return;
    }
    if (!cont && (name == 0 || name == len || p[name] != ':')) {
        mime_down_header_end(md);
        mime_down_line(md, p, len, ended);
        return;
    }
    mime_down_header_add(md, p, len);
}

static void
mime_down_line(struct mime_down *md, const char *p, size_t len, bool ended)
{
    if (md->rest == MIME_DOWN_REST_HEADER)
        mime_down_header_add(md, p, len);
    else if (md->rest == MIME_DOWN_REST_BODY)
        mime_down_body_line(md, p, len, ended);
    else if (md->in_header)
        mime_down_header_line(md, p, len, ended);
    else if (md->more || md->depth == 0 || !mime_down_boundary(md, p, len, ended))
        mime_down_body_line(md, p, len, ended);
}

/* mime_down_take - the end of a line as read (its LF, CRLF or nothing at the end): the
 * whole line, or its last piece */
static void
mime_down_take(struct mime_down *md, const char *p, size_t len)
{
    bool ended = len > 0 && p[len - 1] == '\n';

    if (ended)
        len -= len > 1 && p[len - 2] == '\r' ? 2 : 1;
    md->more = false;
    mime_down_line(md, p, len, ended);
    md->rest = MIME_DOWN_REST_NONE;
    md->qp_col = 0;
}

/* mime_down_piece - md->line is full and has no LF: handle it as a piece of a longer line
 * (a CR at its end waits: it may be the CRLF's) */
static void
mime_down_piece(struct mime_down *md)
{
    size_t n = md->line.len - (md->line.data[md->line.len - 1] == '\r');

    md->more = true;
    mime_down_line(md, md->line.data, n, false);
    buf_reset(&md->line);
    if (n < MIME_DOWN_LINE_MAX)
        buf_putc(&md->line, '\r');
}

bool
mime_down_feed(const char *data, size_t len, void *arg)
{
    struct mime_down *md = arg;

    if (md->out == NULL && !md->any8)
        md->any8 = mime_down_has_8bit(data, len);
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) + 1 : len;
        if (md->line.len == 0 && nl != NULL && n <= MIME_DOWN_LINE_MAX) {
            mime_down_take(md, data, n); /* a whole line, taken where it lies */
        } else {
            if (n > MIME_DOWN_LINE_MAX - md->line.len)
                n = MIME_DOWN_LINE_MAX - md->line.len;
            buf_append(&md->line, data, n);
            if (md->line.data[md->line.len - 1] == '\n') {
                mime_down_take(md, md->line.data, md->line.len);
                buf_reset(&md->line);
            } else if (md->line.len == MIME_DOWN_LINE_MAX)
                mime_down_piece(md);
        }
        data += n;
        len -= n;
    }
    return true;
}

/* mime_down_finish - the end of the content; after the scan, the verdict (content without
 * an 8-bit byte goes as it is, whatever its structure) */
void
mime_down_finish(struct mime_down *md)
{
    if (md->line.len > 0 || md->rest != MIME_DOWN_REST_NONE)
        mime_down_take(md, md->line.data != NULL ? md->line.data : "", md->line.len);
    buf_reset(&md->line);
    if (md->in_header && md->header.len > 0)
        mime_down_header_end(md);
    if (md->out != NULL)
        return;
    if (!md->any8) {
        md->verdict = MIME_DOWN_7BIT;
        md->why = NULL;
        return;
    }
    if (md->verdict == MIME_DOWN_CANNOT)
        return;
    for (size_t i = 0; i < md->nleaf; i++)
        if (md->eight[i])
            md->verdict = MIME_DOWN_CONVERT;
}
