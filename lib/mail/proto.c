/*
 * proto.c - message names for the X-macro list in proto.h.
 *
 * Trusts: nothing in a record it looks at; an unknown or malformed message name is
 * PROTO_NONE, never an out-of-range index.
 */
#include <stdio.h>
#include <string.h>

#include "core/attr.h"
#include "core/log.h"
#include "mail/proto.h"

static const char *const proto_names[PROTO_MSG_COUNT] = {[PROTO_NONE] = "none",
#define PROTO_MSG_NAME(id, name, doc) [PROTO_##id] = name,
                                                         PROTO_MESSAGES(PROTO_MSG_NAME)
#undef PROTO_MSG_NAME
};

const char *
proto_msg_name(enum proto_msg msg)
{
    if ((unsigned)msg >= PROTO_MSG_COUNT)
        return "none";
    return proto_names[msg];
}

/* proto_msg_lookup - the message with this wire name, or PROTO_NONE */
enum proto_msg
proto_msg_lookup(const char *name)
{
    for (unsigned m = PROTO_NONE + 1; m < PROTO_MSG_COUNT; m++)
        if (strcmp(proto_names[m], name) == 0)
            return (enum proto_msg)m;
    return PROTO_NONE;
}

/* proto_msg_of - which message a received record is, before it is decoded in full */
enum proto_msg
proto_msg_of(const struct buf *rec)
{
    char name[PROTO_MSG_NAME_SIZE];

    if (!attr_peek_str(rec->data, rec->len, PROTO_ATTR_MSG, name, sizeof(name)))
        return PROTO_NONE;
    return proto_msg_lookup(name);
}

/* proto_msg_is - does a decoded PROTO_ATTR_MSG value name this message? */
bool
proto_msg_is(const struct buf *name, enum proto_msg msg)
{
    const char *want = proto_msg_name(msg);

    return msg != PROTO_NONE && name->len == strlen(want) &&
           memcmp(name->data, want, name->len) == 0;
}

/* proto_begin - start a record for msg: its first attribute names it */
void
proto_begin(struct buf *rec, enum proto_msg msg)
{
    if (msg == PROTO_NONE || (unsigned)msg >= PROTO_MSG_COUNT)
        log_panic("proto_begin: bad message %d", (int)msg);
    attr_begin(rec);
    attr_put_text(rec, PROTO_ATTR_MSG, proto_names[msg]);
    log_trace("ipc", "record %s", proto_names[msg]);
}

/*
 * proto_decode - decode rec as message msg. spec lists the attributes after PROTO_ATTR_MSG,
 * which is checked here. Like attr_decode, it takes every descriptor in fds: a record of
 * another message has its descriptors closed and nothing stored.
 */
bool
proto_decode(const struct buf *rec, size_t limit, struct attr_fds *fds, enum proto_msg msg,
             const struct attr_spec *spec, size_t nspec, struct err *err)
{
    struct attr_spec all[PROTO_SPEC_MAX + 1];
    enum proto_msg got = proto_msg_of(rec);
    struct buf name;
    bool good;

    if (nspec > PROTO_SPEC_MAX)
        log_panic("proto_decode: %zu attributes for %s", nspec, proto_msg_name(msg));
    if (got != msg) {
        attr_fds_close(fds);
        return err_set(err, "expected %s, got %s", proto_msg_name(msg),
                       got == PROTO_NONE ? "an unknown message" : proto_msg_name(got));
    }
    buf_init(&name, PROTO_MSG_NAME_SIZE);
    all[0] = (struct attr_spec){PROTO_ATTR_MSG, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &name};
    memcpy(all + 1, spec, nspec * sizeof(*spec));
    good = attr_decode(rec->data, rec->len, limit, fds, all, nspec + 1, err);
    buf_free(&name);
    return good;
}
