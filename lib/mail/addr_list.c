/*
 * addr_list.c - addr-specs out of an RFC 5322 address list (addr_list.h), for sendmail's
 * -t and its command-line recipients.
 *
 * Trusts: nothing in the text (a message header a user wrote). One pass, byte by byte;
 * every member is bounded by ADDR_LIST_ADDR_MAX, and what it yields is only a candidate:
 * callers check each as a mailbox (maildrop_addr) before it is used.
 */
#include <string.h>

#include "core/buf.h"
#include "mail/addr_list.h"

struct addr_list_state {
    const char *s;
    size_t len, i;
    struct buf angle; /* the addr-spec in <...> */
    struct buf plain; /* the member without angle brackets */
    bool in_angle, had_angle;
    bool gap;    /* white space or a comment since the last byte of plain */
    bool phrase; /* two words with a gap between: a display name, not an address */
    struct strvec found;
    struct err *err;
};

static bool
addr_list_special(char c)
{
    return c == '.' || c == '@';
}

/* addr_list_put - one byte of the member, into the buffer the position says */
static bool
addr_list_put(struct addr_list_state *st, char c)
{
    struct buf *b = st->in_angle ? &st->angle : &st->plain;

    if (!st->in_angle && st->gap && st->plain.len > 0 && !addr_list_special(c) &&
        !addr_list_special(st->plain.data[st->plain.len - 1]))
        st->phrase = true;
    if (!st->in_angle)
        st->gap = false;
    return buf_putc(b, c) || err_set(st->err, "address longer than %d bytes", ADDR_LIST_ADDR_MAX);
}

/* addr_list_quoted - a quoted string or domain literal, kept with its delimiters */
static bool
addr_list_quoted(struct addr_list_state *st, char close)
{
    if (!addr_list_put(st, st->s[st->i++]))
        return false;
    while (st->i < st->len) {
        char c = st->s[st->i++];
        if (c == '\\' && st->i < st->len) {
            if (!addr_list_put(st, c))
                return false;
            c = st->s[st->i++];
        } else if (c == close)
            return addr_list_put(st, c);
        if (!addr_list_put(st, c))
            return false;
    }
    return err_set(st->err, "unbalanced %s", close == '"' ? "quote" : "bracket");
}

/* addr_list_comment - skip a comment, nested ones and quoted pairs included */
static bool
addr_list_comment(struct addr_list_state *st)
{
    int depth = 0;

    while (st->i < st->len) {
        char c = st->s[st->i++];
        if (c == '\\' && st->i < st->len)
            st->i++;
        else if (c == '(')
            depth++;
        else if (c == ')' && --depth == 0) {
            st->gap = true;
            return true;
        }
    }
    return err_set(st->err, "unbalanced comment");
}

/* addr_list_member - a member is complete: keep its addr-spec */
static bool
addr_list_member(struct addr_list_state *st)
{
    struct buf *b = st->had_angle ? &st->angle : &st->plain;
    const char *a = buf_str(b);
    const char *colon;

    if (st->in_angle)
        return err_set(st->err, "unbalanced angle bracket");
    if (!st->had_angle && st->phrase)
        return err_set(st->err, "a name without an address in angle brackets");
    if (st->had_angle && a[0] == '@' && (colon = strchr(a, ':')) != NULL)
        a = colon + 1; /* a source route */
    if (*a)
        strvec_add(&st->found, a);
    buf_reset(&st->angle);
    buf_reset(&st->plain);
    st->had_angle = st->phrase = st->gap = false;
    return true;
}

/* addr_list_byte - act on the byte at st->i */
static bool
addr_list_byte(struct addr_list_state *st)
{
    char c = st->s[st->i];

    switch (c) {
    case '"':
        return addr_list_quoted(st, '"');
    case '[':
        return addr_list_quoted(st, ']');
    case '(':
        return addr_list_comment(st);
    case '<':
        if (st->in_angle || st->had_angle)
            return err_set(st->err, "unbalanced angle bracket");
        st->in_angle = st->had_angle = true;
        break;
    case '>':
        if (!st->in_angle)
            return err_set(st->err, "unbalanced angle bracket");
        st->in_angle = false;
        break;
    case ',':
    case ';':
        if (st->in_angle && c == ',' && st->angle.len > 0 && st->angle.data[0] == '@')
            return addr_list_put(st, st->s[st->i++]); /* between the hops of a route */
        if (st->in_angle)
            return err_set(st->err, "'%c' inside angle brackets", c);
        st->i++;
        return addr_list_member(st);
    case ':':
        if (st->in_angle)
            return addr_list_put(st, st->s[st->i++]);
        buf_reset(&st->plain); /* a group's name */
        st->phrase = st->gap = false;
        break;
    case ' ':
    case '\t':
    case '\r':
    case '\n':
        st->gap = true;
        break;
    default:
        if (st->had_angle && !st->in_angle)
            break; /* text after the angle brackets */
        return addr_list_put(st, st->s[st->i++]);
    }
    st->i++;
    return true;
}

bool
addr_list_parse(const char *text, size_t len, struct strvec *out, struct err *err)
{
    struct addr_list_state st = {.s = text, .len = len, .err = err};
    bool good = true;

    buf_init(&st.angle, ADDR_LIST_ADDR_MAX);
    buf_init(&st.plain, ADDR_LIST_ADDR_MAX);
    strvec_init(&st.found);
    while (good && st.i < st.len)
        good = addr_list_byte(&st);
    if (good)
        good = addr_list_member(&st);
    for (size_t i = 0; good && i < st.found.n; i++)
        strvec_add(out, st.found.v[i]);
    strvec_free(&st.found);
    buf_free(&st.angle);
    buf_free(&st.plain);
    return good;
}
