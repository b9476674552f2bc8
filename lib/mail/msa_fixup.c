/*
 * msa_fixup.c - missing Date: and Message-ID: added at the end of the header section
 * (msa_fixup.h).
 *
 * Trusts: nothing in the content; it only looks at each header line's field name, up to
 * its colon, to know which fields are there. Bytes pass through unchanged and in order;
 * the only bytes added are the two lines the caller gave.
 */
#include <string.h>
#include <strings.h>

#include "mail/msa_fixup.h"

void
msa_fixup_init(struct msa_fixup *f, smtp_data_sink sink, void *ctx, const char *date,
               const char *msgid)
{
    memset(f, 0, sizeof(*f));
    f->sink = sink;
    f->ctx = ctx;
    f->date = date;
    f->msgid = msgid;
    f->in_header = true;
    f->line_start = true;
}

/* msa_fixup_add - the header section ends here: the missing lines go in before this byte */
static void
msa_fixup_add(struct msa_fixup *f)
{
    f->in_header = false;
    if (f->date != NULL && !f->seen_date)
        f->sink(f->ctx, f->date, strlen(f->date));
    if (f->msgid != NULL && !f->seen_msgid)
        f->sink(f->ctx, f->msgid, strlen(f->msgid));
    if (f->from != NULL && !f->seen_from)
        f->sink(f->ctx, f->from, strlen(f->from));
}

void
msa_fixup_set_from(struct msa_fixup *f, const char *from)
{
    f->from = from;
}

/* msa_fixup_field_char - RFC 5322 ftext: printable ASCII but the colon */
static bool
msa_fixup_field_char(unsigned char c)
{
    return c > 32 && c < 127 && c != ':';
}

/* msa_fixup_release - pass on the held start of the line; it is a field */
static void
msa_fixup_release(struct msa_fixup *f)
{
    if (f->held_len > 0)
        f->sink(f->ctx, f->held, f->held_len);
    f->held_len = 0;
    f->named = true;
}

/* msa_fixup_colon - the held name is complete: is it one of ours? */
static void
msa_fixup_colon(struct msa_fixup *f)
{
    size_t n = f->held_len;

    if (n == 4 && strncasecmp(f->held, "Date", 4) == 0)
        f->seen_date = true;
    else if (n == 10 && strncasecmp(f->held, "Message-ID", 10) == 0)
        f->seen_msgid = true;
    else if (n == 4 && strncasecmp(f->held, "From", 4) == 0)
        f->seen_from = true;
    msa_fixup_release(f);
}

/*
 * msa_fixup_byte - one byte of a header line not yet known to be a field: held, or it
 * makes the line a field (passed on), or it ends the header section (false)
 */
static bool
msa_fixup_byte(struct msa_fixup *f, char c)
{
    unsigned char u = (unsigned char)c;

    if (f->line_start) {
        f->line_start = false;
        if (c == ' ' || c == '\t') { /* a continuation line */
            f->named = true;
            f->sink(f->ctx, &c, 1);
            return true;
        }
    }
    if (c == ':' && f->held_len > 0) {
        msa_fixup_colon(f);
        f->sink(f->ctx, &c, 1);
        return true;
    }
    if (!msa_fixup_field_char(u)) /* the empty line, or a line that is not a field */
        return false;
    if (f->held_len == sizeof(f->held)) /* a name this long is no field of ours */
        msa_fixup_release(f);
    if (f->named)
        f->sink(f->ctx, &c, 1);
    else
        f->held[f->held_len++] = c;
    return true;
}

void
msa_fixup_feed(void *ctx, const char *data, size_t len)
{
    struct msa_fixup *f = ctx;
    size_t i = 0;

    while (f->in_header && i < len) {
        if (f->named) { /* the rest of a field's line, up to its LF */
            const char *lf = memchr(data + i, '\n', len - i);
            size_t n = lf ? (size_t)(lf - (data + i)) + 1 : len - i;
            f->sink(f->ctx, data + i, n);
            i += n;
            if (lf != NULL) {
                f->named = false;
                f->line_start = true;
            }
            continue;
        }
        if (!msa_fixup_byte(f, data[i])) {
            msa_fixup_add(f);
            if (f->held_len > 0)
                f->sink(f->ctx, f->held, f->held_len);
            f->held_len = 0;
            break;
        }
        i++;
    }
    if (i < len)
        f->sink(f->ctx, data + i, len - i);
}

/* msa_fixup_end - the content is complete; a last line without its end (which smtp_data
 * never delivers) is passed on after the lines, as the first that is not a known field */
void
msa_fixup_end(struct msa_fixup *f)
{
    if (f->in_header)
        msa_fixup_add(f);
    if (f->held_len > 0)
        f->sink(f->ctx, f->held, f->held_len);
    f->held_len = 0;
}
