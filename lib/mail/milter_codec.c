/*
 * milter_codec.c - the packets of the milter protocol as the MTA writes them, and the framing
 * of the packets a milter sends back.
 *
 * Trusts: the caller's strings for the encoders (they are what smtpd already parsed; a
 * string is cut at its NUL, which is how the protocol ends it). Nothing the milter sends: the
 * framing reader takes a length of 1..MILTER_PACKET_MAX only and holds at most that much.
 */
#include <arpa/inet.h>
#include <string.h>

#include "mail/milter_codec.h"

/* milter_put_head - the length word and command octet of a packet of data_len data octets */
static void
milter_put_head(struct buf *out, int cmd, size_t data_len)
{
    uint32_t len = htonl((uint32_t)(data_len + 1));
    char c = (char)cmd;

    buf_append(out, &len, 4);
    buf_append(out, &c, 1);
}

static void
milter_put_u32(struct buf *out, uint32_t v)
{
    v = htonl(v);
    buf_append(out, &v, 4);
}

static void
milter_put_cstr(struct buf *out, const char *s)
{
    buf_append(out, s, strlen(s) + 1);
}

const struct milter_step *
milter_step_of(int cmd)
{
    static const struct milter_step steps[] = {
        {MILTER_CMD_CONNECT, MILTER_P_NOCONNECT, MILTER_P_NR_CONN, false, false},
        {MILTER_CMD_HELO, MILTER_P_NOHELO, MILTER_P_NR_HELO, false, false},
        {MILTER_CMD_MAIL, MILTER_P_NOMAIL, MILTER_P_NR_MAIL, false, true},
        {MILTER_CMD_RCPT, MILTER_P_NORCPT, MILTER_P_NR_RCPT, false, true},
        {MILTER_CMD_DATA, MILTER_P_NODATA, MILTER_P_NR_DATA, false, true},
        {MILTER_CMD_HEADER, MILTER_P_NOHDRS, MILTER_P_NR_HDR, true, true},
        {MILTER_CMD_EOH, MILTER_P_NOEOH, MILTER_P_NR_EOH, true, true},
        {MILTER_CMD_BODY, MILTER_P_NOBODY, MILTER_P_NR_BODY, true, true},
        {MILTER_CMD_BODYEOB, 0, 0, true, true},
        {MILTER_CMD_UNKNOWN, MILTER_P_NOUNKNOWN, MILTER_P_NR_UNKN, false, false},
    };

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        if (steps[i].cmd == cmd)
            return &steps[i];
    return &steps[0];
}

/* milter_put_simple - a command without data: DATA, EOH, BODYEOB, ABORT, QUIT, QUIT_NC */
void
milter_put_simple(struct buf *out, int cmd)
{
    milter_put_head(out, cmd, 0);
}

void
milter_put_optneg(struct buf *out, uint32_t version, uint32_t actions, uint32_t protocol)
{
    milter_put_head(out, MILTER_CMD_OPTNEG, 12);
    milter_put_u32(out, version);
    milter_put_u32(out, actions);
    milter_put_u32(out, protocol);
}

/*
 * milter_put_connect - hostname, family, then for the inet families the port and address;
 * a UNIX client has the socket path as its address and no port; an unknown family has
 * nothing after it.
 */
bool
milter_put_connect(struct buf *out, const char *hostname, int family, unsigned port,
                   const char *addr)
{
    size_t len = strlen(hostname) + 2;
    uint16_t p = htons((uint16_t)port);
    char f = (char)family;

    if (family == MILTER_FAMILY_INET || family == MILTER_FAMILY_INET6)
        len += 2 + strlen(addr) + 1;
    else if (family == MILTER_FAMILY_UNIX)
        len += strlen(addr) + 1;
    else if (family != MILTER_FAMILY_UNKNOWN)
        return false;
    milter_put_head(out, MILTER_CMD_CONNECT, len);
    milter_put_cstr(out, hostname);
    buf_append(out, &f, 1);
    if (family == MILTER_FAMILY_INET || family == MILTER_FAMILY_INET6)
        buf_append(out, &p, 2);
    if (family != MILTER_FAMILY_UNKNOWN)
        milter_put_cstr(out, addr);
    return true;
}

/* milter_put_string - one string: HELO's name, UNKNOWN's command line */
void
milter_put_string(struct buf *out, int cmd, const char *s)
{
    milter_put_head(out, cmd, strlen(s) + 1);
    milter_put_cstr(out, s);
}

/* milter_put_strings - MAIL and RCPT: the address in <>, then each ESMTP parameter */
void
milter_put_strings(struct buf *out, int cmd, const char *const *v, size_t n)
{
    size_t len = 0;

    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    milter_put_head(out, cmd, len);
    for (size_t i = 0; i < n; i++)
        milter_put_cstr(out, v[i]);
}

void
milter_put_header(struct buf *out, const char *name, const char *value)
{
    milter_put_head(out, MILTER_CMD_HEADER, strlen(name) + strlen(value) + 2);
    milter_put_cstr(out, name);
    milter_put_cstr(out, value);
}

/* milter_put_body - one chunk of at most MILTER_CHUNK_MAX octets; the caller splits */
void
milter_put_body(struct buf *out, const void *data, size_t len)
{
    milter_put_head(out, MILTER_CMD_BODY, len);
    buf_append(out, data, len);
}

/*
 * milter_put_macros - the macros for the command cmd that follows; a macro without a value
 * is left out, as the milter cannot tell an empty one from an absent one anyway.
 */
void
milter_put_macros(struct buf *out, int cmd, const struct milter_macro *m, size_t n)
{
    size_t len = 1;
    char c = (char)cmd;

    for (size_t i = 0; i < n; i++)
        if (m[i].value != NULL)
            len += strlen(m[i].name) + strlen(m[i].value) + 2;
    milter_put_head(out, MILTER_CMD_MACRO, len);
    buf_append(out, &c, 1);
    for (size_t i = 0; i < n; i++) {
        if (m[i].value == NULL)
            continue;
        milter_put_cstr(out, m[i].name);
        milter_put_cstr(out, m[i].value);
    }
}

void
milter_frame_init(struct milter_frame *f)
{
    memset(f, 0, sizeof(*f));
    buf_init(&f->packet, MILTER_PACKET_MAX);
}

void
milter_frame_free(struct milter_frame *f)
{
    buf_free(&f->packet);
}

/* milter_frame_head - take length octets; at 4, check the length */
static bool
milter_frame_head(struct milter_frame *f, const unsigned char *p, size_t len, size_t *i,
                  struct err *err)
{
    uint32_t n;

    while (*i < len && f->head_len < 4)
        f->head[f->head_len++] = p[(*i)++];
    if (f->head_len < 4)
        return true;
    memcpy(&n, f->head, 4);
    n = ntohl(n);
    if (n == 0 || n > MILTER_PACKET_MAX)
        return err_set(err, "milter packet length %lu out of range", (unsigned long)n);
    f->want = n;
    return true;
}

/* milter_frame_feed - take bytes up to the end of one packet */
enum milter_frame_status
milter_frame_feed(struct milter_frame *f, const void *data, size_t len, size_t *used,
                  struct err *err)
{
    const unsigned char *p = data;
    size_t i = 0, take;

    if (f->done) {
        f->done = false;
        f->head_len = 0;
        f->want = 0;
        buf_reset(&f->packet);
    }
    *used = 0;
    if (f->head_len < 4 && !milter_frame_head(f, p, len, &i, err))
        return MILTER_FRAME_ERROR;
    if (f->head_len < 4) {
        *used = i;
        return MILTER_FRAME_MORE;
    }
    take = f->want - f->packet.len;
    if (take > len - i)
        take = len - i;
    if (!buf_append(&f->packet, p + i, take))
        return err_set(err, "milter packet over its limit"), MILTER_FRAME_ERROR;
    i += take;
    *used = i;
    f->done = f->packet.len == f->want;
    return f->done ? MILTER_FRAME_DONE : MILTER_FRAME_MORE;
}
