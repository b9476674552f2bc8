/*
 * milter_reply.c - what a milter's reply packet says, checked against the protocol's shape
 * for its command, and the check of the options a milter answers in negotiation.
 *
 * Trusts: nothing in the packet. Every string must end in NUL inside the packet, every
 * integer must be there whole, nothing may follow the last field (except in the reply to
 * option negotiation, whose macro lists are pairs of a stage and a string), and a custom
 * reply must be a 4xx or 5xx SMTP reply whose lines all carry the same code. The fields
 * point into the packet: they live as long as it does.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "mail/milter_codec.h"
#include "mail/smtp_reply.h"

/* What Postfix answers for a milter's REJECT and TEMPFAIL, and smtpd and pickup with it. */
const struct smtp_reply milter_reject_reply = {550, "5.7.1", "Command rejected"};
const struct smtp_reply milter_tempfail_reply = {451, "4.7.1",
                                                 "Service unavailable - try again later"};

/* A cursor over one packet's data. */
struct milter_cursor {
    const char *p;
    size_t len;
    size_t at;
};

/* milter_take_str - a NUL-terminated string at the cursor, or NULL */
static const char *
milter_take_str(struct milter_cursor *c)
{
    const char *s = c->p + c->at;
    const char *nul = memchr(s, 0, c->len - c->at);

    if (nul == NULL)
        return NULL;
    c->at += (size_t)(nul - s) + 1;
    return s;
}

static bool
milter_take_u32(struct milter_cursor *c, uint32_t *v)
{
    if (c->len - c->at < 4)
        return false;
    memcpy(v, c->p + c->at, 4);
    *v = ntohl(*v);
    c->at += 4;
    return true;
}

/* milter_code_line - line (up to len) has code, then '-' if more follow, else ' ' or nothing */
static bool
milter_code_line(const char *line, size_t len, const char *code, bool last)
{
    if (len < 3 || strncmp(line, code, 3) != 0 || line[1] < '0' || line[1] > '9' || line[2] < '0' ||
        line[2] > '9')
        return false;
    return len == 3 ? last : line[3] == (last ? ' ' : '-');
}

/*
 * milter_code_ok - "4xx"/"5xx" lines joined by CRLF, each with the first line's code, as a
 * multi-line SMTP reply; one CRLF may end the text. A lone CR or LF is refused: it would
 * reach the client as a line of its own, or a line without a code.
 */
static bool
milter_code_ok(const char *text)
{
    const char *line = text;

    if (text[0] != '4' && text[0] != '5')
        return false;
    for (;;) {
        size_t len = strcspn(line, "\r\n");
        const char *next = line + len;
        if (*next != 0 && strncmp(next, "\r\n", 2) != 0)
            return false;
        if (*next != 0)
            next += 2;
        if (!milter_code_line(line, len, text, *next == 0))
            return false;
        if (*next == 0)
            return true;
        line = next;
    }
}

/* milter_reply_optneg - version, actions, protocol, then (stage, macro list) pairs */
static bool
milter_reply_optneg(struct milter_cursor *c, struct milter_reply *r, struct err *err)
{
    if (!milter_take_u32(c, &r->version) || !milter_take_u32(c, &r->actions) ||
        !milter_take_u32(c, &r->protocol))
        return err_set(err, "short option negotiation reply");
    while (c->at < c->len) {
        uint32_t stage;
        const char *list;
        if (!milter_take_u32(c, &stage) || (list = milter_take_str(c)) == NULL)
            return err_set(err, "malformed macro list in option negotiation");
        if (stage >= MILTER_STAGES)
            return err_set(err, "macro list for unknown stage %lu", (unsigned long)stage);
        if (strlen(list) > MILTER_SYMLIST_MAX)
            return err_set(err, "macro list longer than %u octets", MILTER_SYMLIST_MAX);
        r->symlist[stage] = list;
    }
    return true;
}

/* milter_reply_fields - the fields of one command, from the cursor; false if malformed */
static bool
milter_reply_fields(struct milter_cursor *c, struct milter_reply *r)
{
    switch (r->cmd) {
    case MILTER_REPLY_ACCEPT:
    case MILTER_REPLY_CONTINUE:
    case MILTER_REPLY_DISCARD:
    case MILTER_REPLY_REJECT:
    case MILTER_REPLY_TEMPFAIL:
    case MILTER_REPLY_SKIP:
    case MILTER_REPLY_PROGRESS:
    case MILTER_REPLY_SHUTDOWN:
    case MILTER_REPLY_CONN_FAIL:
        return true;
    case MILTER_REPLY_REPLYCODE:
        return (r->text = milter_take_str(c)) != NULL && milter_code_ok(r->text);
    case MILTER_REPLY_QUARANTINE:
        return (r->text = milter_take_str(c)) != NULL;
    case MILTER_REPLY_INSHEADER:
    case MILTER_REPLY_CHGHEADER:
        if (!milter_take_u32(c, &r->index))
            return false;
        /* FALLTHROUGH */
    case MILTER_REPLY_ADDHEADER:
        return (r->name = milter_take_str(c)) != NULL && r->name[0] != 0 &&
               (r->value = milter_take_str(c)) != NULL;
    case MILTER_REPLY_ADDRCPT:
    case MILTER_REPLY_DELRCPT:
        return (r->addr = milter_take_str(c)) != NULL && r->addr[0] != 0;
    case MILTER_REPLY_ADDRCPT_PAR:
    case MILTER_REPLY_CHGFROM:
        if ((r->addr = milter_take_str(c)) == NULL || r->addr[0] == 0)
            return false;
        if (c->at < c->len)
            r->args = milter_take_str(c);
        return c->at == c->len;
    case MILTER_REPLY_REPLBODY:
        r->body = c->p;
        r->body_len = c->len;
        c->at = c->len;
        return true;
    default:
        return false;
    }
}

void
milter_custom_parse(const char *reply, struct milter_custom *out)
{
    struct buf lines;
    const char *p = reply;

    out->code = (int)strtol(reply, NULL, 10);
    out->status[0] = 0;
    buf_init(&lines, sizeof(out->text));
    while (*p) {
        const char *end = strstr(p, "\r\n");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *t = p + (len >= 4 ? 4 : len);
        size_t n = len - (size_t)(t - p);
        size_t d = smtp_status_len(t, '0' + out->code / 100);
        if (d > 0 && d < n) {
            if (out->status[0] == 0)
                snprintf(out->status, sizeof(out->status), "%.*s", (int)d, t);
            t += d + 1;
            n -= d + 1;
        }
        if (lines.len)
            buf_putc(&lines, '\n');
        buf_append(&lines, t, n);
        p = end ? end + 2 : p + len;
    }
    snprintf(out->text, sizeof(out->text), "%s", lines.len ? buf_str(&lines) : "Command rejected");
    buf_free(&lines);
    if (out->status[0] == 0)
        snprintf(out->status, sizeof(out->status), "%c.7.1", out->code >= 500 ? '5' : '4');
}

uint32_t
milter_reply_action(int cmd)
{
    switch (cmd) {
    case MILTER_REPLY_ADDHEADER:
    case MILTER_REPLY_INSHEADER:
        return MILTER_ACT_ADDHDRS;
    case MILTER_REPLY_CHGHEADER:
        return MILTER_ACT_CHGHDRS;
    case MILTER_REPLY_ADDRCPT:
        return MILTER_ACT_ADDRCPT;
    case MILTER_REPLY_ADDRCPT_PAR:
        return MILTER_ACT_ADDRCPT_PAR;
    case MILTER_REPLY_DELRCPT:
        return MILTER_ACT_DELRCPT;
    case MILTER_REPLY_CHGFROM:
        return MILTER_ACT_CHGFROM;
    case MILTER_REPLY_REPLBODY:
        return MILTER_ACT_CHGBODY;
    case MILTER_REPLY_QUARANTINE:
        return MILTER_ACT_QUARANTINE;
    default:
        return 0;
    }
}

bool
milter_reply_is_edit(int cmd)
{
    return cmd != MILTER_REPLY_QUARANTINE && milter_reply_action(cmd) != 0;
}

/* milter_reply_parse - one packet from milter_frame_feed into r */
bool
milter_reply_parse(const struct buf *packet, struct milter_reply *r, struct err *err)
{
    struct milter_cursor c;

    memset(r, 0, sizeof(*r));
    if (packet->len < 1)
        return err_set(err, "empty milter packet");
    r->cmd = (unsigned char)packet->data[0];
    c.p = packet->data + 1;
    c.len = packet->len - 1;
    c.at = 0;
    if (r->cmd == MILTER_REPLY_OPTNEG)
        return milter_reply_optneg(&c, r, err);
    if (milter_reply_name(r->cmd) == NULL)
        return err_set(err, "unknown milter reply 0x%02x", (unsigned)r->cmd);
    if (!milter_reply_fields(&c, r) || c.at != c.len)
        return err_set(err, "malformed milter reply %s", milter_reply_name(r->cmd));
    return true;
}

/*
 * milter_optneg_check - a milter's answer to our offer: a version we speak (2 to 6, as
 * libmilter answers with its own), and no action or step we did not offer.
 */
bool
milter_optneg_check(const struct milter_reply *r, uint32_t offer_actions, uint32_t offer_protocol,
                    struct err *err)
{
    if (r->cmd != MILTER_REPLY_OPTNEG)
        return err_set(err, "expected option negotiation, got %s",
                       milter_reply_name(r->cmd) ? milter_reply_name(r->cmd) : "garbage");
    if (r->version < 2 || r->version > MILTER_VERSION)
        return err_set(err, "unsupported protocol version %lu", (unsigned long)r->version);
    if ((r->actions & ~offer_actions) != 0)
        return err_set(err, "requests unavailable actions 0x%lx",
                       (unsigned long)(r->actions & ~offer_actions));
    if ((r->protocol & ~offer_protocol) != 0)
        return err_set(err, "requests unavailable protocol steps 0x%lx",
                       (unsigned long)(r->protocol & ~offer_protocol));
    return true;
}

void
milter_optneg_keep(const struct milter_reply *r, uint32_t *actions, uint32_t *protocol,
                   char *symlist[MILTER_STAGES])
{
    *actions = r->actions;
    *protocol = r->protocol;
    for (int i = 0; i < MILTER_STAGES; i++)
        symlist[i] =
            r->symlist[i] && (r->actions & MILTER_ACT_SETSYMLIST) ? xstrdup(r->symlist[i]) : NULL;
}

void
milter_symlist_free(char *symlist[MILTER_STAGES])
{
    for (int i = 0; i < MILTER_STAGES; i++) {
        free(symlist[i]);
        symlist[i] = NULL;
    }
}

/* milter_stage_cmd - the command that a stage's macros are sent before */
int
milter_stage_cmd(enum milter_stage stage)
{
    static const char cmds[MILTER_STAGES] = {
        MILTER_CMD_CONNECT, MILTER_CMD_HELO,    MILTER_CMD_MAIL, MILTER_CMD_RCPT,
        MILTER_CMD_DATA,    MILTER_CMD_BODYEOB, MILTER_CMD_EOH,
    };

    return cmds[stage];
}

/* milter_reply_name - the protocol's name of a reply octet, NULL if none */
const char *
milter_reply_name(int cmd)
{
    static const struct {
        char cmd;
        const char *name;
    } names[] = {
        {MILTER_REPLY_ADDRCPT, "SMFIR_ADDRCPT"},
        {MILTER_REPLY_DELRCPT, "SMFIR_DELRCPT"},
        {MILTER_REPLY_ADDRCPT_PAR, "SMFIR_ADDRCPT_PAR"},
        {MILTER_REPLY_SHUTDOWN, "SMFIR_SHUTDOWN"},
        {MILTER_REPLY_ACCEPT, "SMFIR_ACCEPT"},
        {MILTER_REPLY_REPLBODY, "SMFIR_REPLBODY"},
        {MILTER_REPLY_CONTINUE, "SMFIR_CONTINUE"},
        {MILTER_REPLY_DISCARD, "SMFIR_DISCARD"},
        {MILTER_REPLY_CHGFROM, "SMFIR_CHGFROM"},
        {MILTER_REPLY_CONN_FAIL, "SMFIR_CONN_FAIL"},
        {MILTER_REPLY_ADDHEADER, "SMFIR_ADDHEADER"},
        {MILTER_REPLY_INSHEADER, "SMFIR_INSHEADER"},
        {MILTER_REPLY_CHGHEADER, "SMFIR_CHGHEADER"},
        {MILTER_REPLY_PROGRESS, "SMFIR_PROGRESS"},
        {MILTER_REPLY_QUARANTINE, "SMFIR_QUARANTINE"},
        {MILTER_REPLY_REJECT, "SMFIR_REJECT"},
        {MILTER_REPLY_SKIP, "SMFIR_SKIP"},
        {MILTER_REPLY_TEMPFAIL, "SMFIR_TEMPFAIL"},
        {MILTER_REPLY_REPLYCODE, "SMFIR_REPLYCODE"},
        {MILTER_REPLY_OPTNEG, "SMFIR_OPTNEG"},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].cmd == cmd)
            return names[i].name;
    return NULL;
}
