/*
 * milter_hdrs.c - a message's header section in memory, and the header edits milters
 * ask for applied to it with Postfix's index rules (doc/milter.md, "Edits"):
 *   ADDHEADER appends after the last header;
 *   INSHEADER index n goes after the first n headers, counting the MTA's own Received
 *     header (0: above it, at the top); past the last header it appends;
 *   CHGHEADER index n (0 taken as 1) is the n-th header of that name, case-insensitive,
 *     not counting the first header of the message (the MTA's own Received header, which
 *     milters are not shown); an empty value deletes it; past the last occurrence a new
 *     value is appended and a deletion does nothing.
 * Counts are over the header section as the earlier edits left it.
 *
 * Trusts: the header section it is given may be anything (the client wrote it); the
 * edits were checked by milter_edit.c. Every header and the section as a whole are held
 * to the caller's limits.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "mail/milter_codec.h"
#include "mail/milter_edit_impl.h"

/* milter_hdr_name_char - may this octet be part of a header field name (RFC 5322 ftext)? */
static bool
milter_hdr_name_char(unsigned char c)
{
    return c >= 33 && c <= 126 && c != ':';
}

/* milter_hdrs_name_len - the length of the name if line starts a header ("Name :"), else 0 */
size_t
milter_hdrs_name_len(const char *line, size_t len)
{
    size_t n = 0, i;

    while (n < len && milter_hdr_name_char((unsigned char)line[n]))
        n++;
    for (i = n; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
        ;
    return n > 0 && i < len && line[i] == ':' ? n : 0;
}

/*
 * milter_hdrs_format - a header as it will be written: "Name: value" (no space of
 * ours with SMFIP_HDR_LEADSPC: the value brings its own), the milter's LF line breaks as
 * CRLF, each continuation line starting with white space (a TAB is put before one that
 * does not), blank continuation lines dropped, and a stray CR dropped: nothing a milter
 * sends can end the header section or start another header.
 */
bool
milter_hdrs_format(struct buf *out, const char *name, const char *value, bool leadspc,
                   struct err *err)
{
    bool good;

    if (name[0] == 0) {
        return err_set(err, "empty header name");
    }
    for (const char *p = name; *p; p++)
        if (!milter_hdr_name_char((unsigned char)*p))
            return err_set(err, "header name \"%.100s\" is not a field name", name);
    good = buf_puts(out, name) && buf_puts(out, leadspc ? ":" : ": ");
    for (const char *line = value; good && line != NULL;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        size_t blank = strspn(line, " \t\r");

        if (line != value && blank >= len) {
            line = nl ? nl + 1 : NULL; /* an empty continuation line would end the header */
            continue;
        }
        if (line != value)
            good = buf_puts(out, line[0] == ' ' || line[0] == '\t' ? "\r\n" : "\r\n\t");
        for (size_t i = 0; good && i < len; i++)
            if (line[i] != '\r')
                good = buf_putc(out, line[i]);
        line = nl ? nl + 1 : NULL;
    }
    if (!good || !buf_puts(out, "\r\n")) {
        return err_set(err, "header %.100s longer than %zu bytes", name, out->limit);
    }
    return true;
}

/* milter_hdrs_room - may the section take one more header of len octets? */
static bool
milter_hdrs_room(const struct milter_hdrs *h, size_t headers, size_t len, struct err *err)
{
    if (headers > h->lim->headers) {
        return err_set(err, "more than %zu headers", h->lim->headers);
    }
    if (h->bytes + len > h->lim->header_bytes) {
        return err_set(err, "header section larger than %zu bytes", h->lim->header_bytes);
    }
    return true;
}

/* milter_hdrs_add - a header (one or more whole lines) inserted before the one at `at` */
bool
milter_hdrs_add(struct milter_hdrs *h, size_t at, const char *text, size_t len, struct err *err)
{
    struct milter_hdr *hdr;

    if (!milter_hdrs_room(h, h->n + 1, len, err))
        return false;
    if ((h->n & (h->n - 1)) == 0)
        h->v = xreallocarray(h->v, h->n ? 2 * h->n : 1, sizeof(*h->v));
    memmove(&h->v[at + 1], &h->v[at], (h->n - at) * sizeof(*h->v));
    hdr = &h->v[at];
    hdr->text = xmemdup(text, len + 1);
    hdr->text[len] = 0;
    hdr->len = len;
    hdr->name_len = milter_hdrs_name_len(text, len);
    h->n++;
    h->bytes += len;
    return true;
}

/* milter_hdrs_continue - a continuation line of the last header */
bool
milter_hdrs_continue(struct milter_hdrs *h, const char *line, size_t len, struct err *err)
{
    struct milter_hdr *hdr = &h->v[h->n - 1];

    if (!milter_hdrs_room(h, h->n, len, err))
        return false;
    hdr->text = xreallocarray(hdr->text, hdr->len + len + 1, 1);
    memcpy(hdr->text + hdr->len, line, len);
    hdr->len += len;
    hdr->text[hdr->len] = 0;
    h->bytes += len;
    return true;
}

static void
milter_hdrs_remove(struct milter_hdrs *h, size_t at)
{
    h->bytes -= h->v[at].len;
    free(h->v[at].text);
    memmove(&h->v[at], &h->v[at + 1], (h->n - at - 1) * sizeof(*h->v));
    h->n--;
}

/* milter_hdrs_find - the index-th header named name, the first header not counted; or n */
static size_t
milter_hdrs_find(const struct milter_hdrs *h, const char *name, uint32_t index)
{
    size_t name_len = strlen(name);

    for (size_t i = 1; i < h->n; i++) {
        const struct milter_hdr *hdr = &h->v[i];

        if (hdr->name_len == name_len && strncasecmp(hdr->text, name, name_len) == 0 &&
            --index == 0)
            return i;
    }
    return h->n;
}

/* milter_hdrs_change - CHGHEADER: replace, delete, or append past the last occurrence */
static bool
milter_hdrs_change(struct milter_hdrs *h, const struct milter_edit *ed, struct err *err)
{
    size_t at = milter_hdrs_find(h, ed->name, ed->index ? ed->index : 1);
    size_t len = ed->text ? strlen(ed->text) : 0;

    if (at == h->n)
        return ed->text == NULL || milter_hdrs_add(h, h->n, ed->text, len, err);
    if (ed->text == NULL) {
        milter_hdrs_remove(h, at);
        return true;
    }
    if (!milter_hdrs_room(h, h->n, len - (h->v[at].len < len ? h->v[at].len : len), err))
        return false;
    h->bytes = h->bytes - h->v[at].len + len;
    free(h->v[at].text);
    h->v[at].text = xstrdup(ed->text);
    h->v[at].len = len;
    h->v[at].name_len = strlen(ed->name);
    return true;
}

/* milter_hdrs_edit - one header edit applied to the section */
bool
milter_hdrs_edit(struct milter_hdrs *h, const struct milter_edit *ed, struct err *err)
{
    switch (ed->cmd) {
    case MILTER_REPLY_ADDHEADER:
        return milter_hdrs_add(h, h->n, ed->text, strlen(ed->text), err);
    case MILTER_REPLY_INSHEADER:
        return milter_hdrs_add(h, ed->index < h->n ? ed->index : h->n, ed->text, strlen(ed->text),
                               err);
    case MILTER_REPLY_CHGHEADER:
        return milter_hdrs_change(h, ed, err);
    default:
        return true;
    }
}

void
milter_hdrs_free(struct milter_hdrs *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->v[i].text);
    free(h->v);
    h->v = NULL;
    h->n = h->bytes = 0;
}
