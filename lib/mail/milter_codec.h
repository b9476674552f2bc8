/* milter_codec.h - the MTA side of the Sendmail milter protocol, version 6: packets only */
#ifndef MAIL_MILTER_CODEC_H
#define MAIL_MILTER_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/*
 * A packet is a 32-bit length in network order, then that many octets: one command octet
 * and its data. Strings in the data end in NUL; integers are 32 bits in network order, a
 * port 16 bits. The names below are the protocol's (sendmail's libmilter/docs).
 */
#define MILTER_VERSION 6

/* Commands the MTA sends (SMFIC_*). */
#define MILTER_CMD_ABORT   'A'
#define MILTER_CMD_BODY    'B'
#define MILTER_CMD_CONNECT 'C'
#define MILTER_CMD_MACRO   'D'
#define MILTER_CMD_BODYEOB 'E'
#define MILTER_CMD_HELO    'H'
#define MILTER_CMD_QUIT_NC 'K'
#define MILTER_CMD_HEADER  'L'
#define MILTER_CMD_MAIL    'M'
#define MILTER_CMD_EOH     'N'
#define MILTER_CMD_OPTNEG  'O'
#define MILTER_CMD_QUIT    'Q'
#define MILTER_CMD_RCPT    'R'
#define MILTER_CMD_DATA    'T'
#define MILTER_CMD_UNKNOWN 'U'

/* Replies a milter sends (SMFIR_*). */
#define MILTER_REPLY_ADDRCPT     '+'
#define MILTER_REPLY_DELRCPT     '-'
#define MILTER_REPLY_ADDRCPT_PAR '2'
#define MILTER_REPLY_SHUTDOWN    '4'
#define MILTER_REPLY_ACCEPT      'a'
#define MILTER_REPLY_REPLBODY    'b'
#define MILTER_REPLY_CONTINUE    'c'
#define MILTER_REPLY_DISCARD     'd'
#define MILTER_REPLY_CHGFROM     'e'
#define MILTER_REPLY_CONN_FAIL   'f'
#define MILTER_REPLY_ADDHEADER   'h'
#define MILTER_REPLY_INSHEADER   'i'
#define MILTER_REPLY_SETSYMLIST  'l'
#define MILTER_REPLY_CHGHEADER   'm'
#define MILTER_REPLY_PROGRESS    'p'
#define MILTER_REPLY_QUARANTINE  'q'
#define MILTER_REPLY_REJECT      'r'
#define MILTER_REPLY_SKIP        's'
#define MILTER_REPLY_TEMPFAIL    't'
#define MILTER_REPLY_REPLYCODE   'y'
#define MILTER_REPLY_OPTNEG      'O'

/* Actions a milter may take at end of message (SMFIF_*), offered in option negotiation. */
#define MILTER_ACT_ADDHDRS     0x001u
#define MILTER_ACT_CHGBODY     0x002u
#define MILTER_ACT_ADDRCPT     0x004u
#define MILTER_ACT_DELRCPT     0x008u
#define MILTER_ACT_CHGHDRS     0x010u
#define MILTER_ACT_QUARANTINE  0x020u
#define MILTER_ACT_CHGFROM     0x040u
#define MILTER_ACT_ADDRCPT_PAR 0x080u
#define MILTER_ACT_SETSYMLIST  0x100u
#define MILTER_ACT_ALL         0x1ffu

/* Protocol steps a milter may ask to skip or not to answer (SMFIP_*). */
#define MILTER_P_NOCONNECT   0x00000001u
#define MILTER_P_NOHELO      0x00000002u
#define MILTER_P_NOMAIL      0x00000004u
#define MILTER_P_NORCPT      0x00000008u
#define MILTER_P_NOBODY      0x00000010u
#define MILTER_P_NOHDRS      0x00000020u
#define MILTER_P_NOEOH       0x00000040u
#define MILTER_P_NR_HDR      0x00000080u
#define MILTER_P_NOUNKNOWN   0x00000100u
#define MILTER_P_NODATA      0x00000200u
#define MILTER_P_SKIP        0x00000400u
#define MILTER_P_RCPT_REJ    0x00000800u
#define MILTER_P_NR_CONN     0x00001000u
#define MILTER_P_NR_HELO     0x00002000u
#define MILTER_P_NR_MAIL     0x00004000u
#define MILTER_P_NR_RCPT     0x00008000u
#define MILTER_P_NR_DATA     0x00010000u
#define MILTER_P_NR_UNKN     0x00020000u
#define MILTER_P_NR_EOH      0x00040000u
#define MILTER_P_NR_BODY     0x00080000u
#define MILTER_P_HDR_LEADSPC 0x00100000u
#define MILTER_P_MDS_256K    0x10000000u
#define MILTER_P_MDS_1M      0x20000000u
#define MILTER_P_ALL         0x301fffffu

/*
 * The stages a milter may ask macros for (SMFIM_*), in the order of their numbers on the
 * wire, and the command each one precedes.
 */
enum milter_stage {
    MILTER_STAGE_CONNECT,
    MILTER_STAGE_HELO,
    MILTER_STAGE_MAIL,
    MILTER_STAGE_RCPT,
    MILTER_STAGE_DATA,
    MILTER_STAGE_EOM,
    MILTER_STAGE_EOH,
    MILTER_STAGES,
};

/*
 * Limits. A body chunk the MTA sends is at most MILTER_CHUNK_MAX octets (libmilter's
 * default; MDS_256K and MDS_1M are for the milter's side). A reply packet may carry up to
 * MILTER_PACKET_MAX octets (a replaced body chunk of 1 MiB and its command octet); a length
 * of 0 or above it is an error before any of the data is read, so a milter cannot make the
 * MTA hold more than that per connection.
 */
#define MILTER_CHUNK_MAX   65535u
#define MILTER_PACKET_MAX  (1048576u + 1u)
#define MILTER_SYMLIST_MAX 1024u

/* Encoders: each appends one whole packet to out (which must be unlimited or large enough). */
struct milter_macro {
    const char *name;
    const char *value;
};

void milter_put_simple(struct buf *out, int cmd);
void milter_put_optneg(struct buf *out, uint32_t version, uint32_t actions, uint32_t protocol);
bool milter_put_connect(struct buf *out, const char *hostname, int family, unsigned port,
                        const char *addr);
void milter_put_string(struct buf *out, int cmd, const char *s);
void milter_put_strings(struct buf *out, int cmd, const char *const *v, size_t n);
void milter_put_header(struct buf *out, const char *name, const char *value);
void milter_put_body(struct buf *out, const void *data, size_t len);
void milter_put_macros(struct buf *out, int cmd, const struct milter_macro *m, size_t n);

/* The family octet of SMFIC_CONNECT. */
#define MILTER_FAMILY_UNKNOWN 'U'
#define MILTER_FAMILY_UNIX    'L'
#define MILTER_FAMILY_INET    '4'
#define MILTER_FAMILY_INET6   '6'

/*
 * The framing reader: any number of bytes in, one packet out. After MILTER_FRAME_DONE,
 * packet holds the command octet and its data (packet.len octets, NUL after them), valid
 * until the next feed.
 */
enum milter_frame_status {
    MILTER_FRAME_MORE,
    MILTER_FRAME_DONE,
    MILTER_FRAME_ERROR,
};

struct milter_frame {
    unsigned char head[4];
    size_t head_len;
    size_t want;
    bool done;
    struct buf packet;
};

void milter_frame_init(struct milter_frame *f);
void milter_frame_free(struct milter_frame *f);
enum milter_frame_status milter_frame_feed(struct milter_frame *f, const void *data, size_t len,
                                           size_t *used, struct err *err);

/*
 * One reply, parsed (milter_reply.c): cmd is its SMFIR_* octet; the fields that command
 * carries point into the packet (each NUL-terminated, checked); the others are NULL or 0.
 *   REPLYCODE: text ("550 5.7.1 go away", code 4xx or 5xx, checked); QUARANTINE: text.
 *   ADDHEADER, INSHEADER, CHGHEADER: name, value, index (INS/CHG only).
 *   ADDRCPT, DELRCPT: addr; ADDRCPT_PAR, CHGFROM: addr and args (args may be NULL).
 *   REPLBODY: body, body_len.  OPTNEG: version, actions, protocol, symlist[stage].
 */
struct milter_reply {
    int cmd;
    const char *text;
    const char *name;
    const char *value;
    uint32_t index;
    const char *addr;
    const char *args;
    const char *body;
    size_t body_len;
    uint32_t version;
    uint32_t actions;
    uint32_t protocol;
    const char *symlist[MILTER_STAGES];
};

bool milter_reply_parse(const struct buf *packet, struct milter_reply *r, struct err *err);
bool milter_optneg_check(const struct milter_reply *r, uint32_t offer_actions,
                         uint32_t offer_protocol, struct err *err);
int milter_stage_cmd(enum milter_stage stage);

/*
 * milter_optneg_keep - what an answer that passed milter_optneg_check sets: its actions, its
 * steps, and its macro lists (copied; they count only with SETSYMLIST, as in Sendmail);
 * milter_symlist_free releases the lists
 */
void milter_optneg_keep(const struct milter_reply *r, uint32_t *actions, uint32_t *protocol,
                        char *symlist[MILTER_STAGES]);
void milter_symlist_free(char *symlist[MILTER_STAGES]);

/*
 * The steps an MTA sends, each with the SMFIP_NO* flag that skips it and the SMFIP_NR_*
 * flag that silences it (0 for none), whether it is content (its answer is timed by
 * content_timeout) and whether it belongs to a message (MAIL on). An unknown command gets
 * CONNECT's entry.
 */
struct milter_step {
    int cmd;
    uint32_t no;
    uint32_t nr;
    bool content;
    bool message;
};
const struct milter_step *milter_step_of(int cmd);
const char *milter_reply_name(int cmd);
/*
 * A REPLYCODE's text (milter_reply_parse checked it: 4xx or 5xx, the same code on every
 * line) as one SMTP reply: the code, the RFC 3463 code of its first line that has one
 * (else x.7.1 of the reply's class), the lines' texts without codes joined by "\n".
 */
struct milter_custom {
    int code;
    char status[16];
    char text[512];
};
void milter_custom_parse(const char *reply, struct milter_custom *out);

/* The replies to REJECT (550 5.7.1 Command rejected) and TEMPFAIL (451 4.7.1 ...), Postfix's. */
struct smtp_reply;
extern const struct smtp_reply milter_reject_reply, milter_tempfail_reply;

/* milter_reply_is_edit - a change to the message a milter may send at end of message */
bool milter_reply_is_edit(int cmd);
/* milter_reply_action - the SMFIF_* action an edit or QUARANTINE needs negotiated; 0 if none */
uint32_t milter_reply_action(int cmd);

#endif
