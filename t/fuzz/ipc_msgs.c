/*
 * ipc_msgs.c - fuzz target for the decoders of the messages daemons send each other: an
 * agent's deliver_status (read by qmgr), anvil's requests and counts, qmgr's answers to a
 * receiver. The input is one record as a compromised peer would send it.
 *
 * Invariants: whatever the input, no descriptor is left over; a decoded deliver_status has
 * a known status whose DSN class agrees; anvil's names are printable and in bounds, its
 * counts not negative; a qmgr answer is OK only with a valid queue ID and a descriptor
 * (the input carries none, so never OK to queue_open), and never names another ID; a
 * tls_server request needs its descriptor (so never decodes here); tlsproxy's facts are
 * printable ASCII that fit their fields.
 */
#include <string.h>

#include "core/attr.h"
#include "core/buf.h"
#include "mail/anvil_proto.h"
#include "mail/deliver_req.h"
#include "mail/qmgr_clnt.h"
#include "mail/tls_proto.h"
#include "t/fuzz.h"

static void
fuzz_deliver_status(const struct buf *rec)
{
    struct deliver_reply reply;
    struct attr_fds fds;
    struct err err;

    attr_fds_init(&fds);
    if (deliver_reply_decode(rec, &fds, &reply, &err)) {
        FUZZ_ASSERT(reply.index >= 0);
        FUZZ_ASSERT(reply.res.dsn[0] == "245"[reply.res.status] && reply.res.dsn[1] == '.');
        FUZZ_ASSERT(reply.res.handoff == DELIVER_FINAL || reply.res.status == DELIVER_OK);
        FUZZ_ASSERT(!reply.res.unreachable || reply.res.status == DELIVER_DEFER);
    }
    FUZZ_ASSERT(fds.n == 0);
}

static void
fuzz_anvil(const struct buf *rec)
{
    struct anvil_request req;
    struct anvil_counts counts;
    struct attr_fds fds;
    struct err err;

    attr_fds_init(&fds);
    if (anvil_request_decode(rec, &fds, &req, &err)) {
        FUZZ_ASSERT(req.service[0] != 0 && req.client[0] != 0);
        FUZZ_ASSERT(strchr(req.service, ' ') == NULL && strchr(req.client, ' ') == NULL);
    }
    FUZZ_ASSERT(fds.n == 0);
    if (anvil_counts_decode(rec, &fds, &counts, &err))
        FUZZ_ASSERT(counts.count >= 0 && counts.rate >= 0);
    FUZZ_ASSERT(fds.n == 0);
}

static void
fuzz_qmgr_reply(const struct buf *rec)
{
    static const char id[] = "01xXV5x0qyG07po00";
    struct qmgr_reply reply;
    struct attr_fds fds;

    attr_fds_init(&fds);
    FUZZ_ASSERT(qmgr_reply_decode(rec, &fds, PROTO_QUEUE_OPEN, NULL, &reply) != QMGR_OK);
    FUZZ_ASSERT(reply.fd == -1 && fds.n == 0);
    if (qmgr_reply_decode(rec, &fds, PROTO_QUEUE_COMMIT, id, &reply) == QMGR_OK)
        FUZZ_ASSERT(reply.fd == -1);
    FUZZ_ASSERT(fds.n == 0);
}

static void
fuzz_printable(const char *s, size_t size)
{
    FUZZ_ASSERT(strlen(s) < size);
    for (; *s; s++)
        FUZZ_ASSERT((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f);
}

static void
fuzz_tls(const struct buf *rec)
{
    struct tls_request req;
    struct tls_result res;
    struct attr_fds fds;
    struct err err;

    attr_fds_init(&fds);
    FUZZ_ASSERT(!tls_request_decode(rec, &fds, &req, &err) && req.peer == -1);
    FUZZ_ASSERT(fds.n == 0);
    if (tls_result_decode(rec, &fds, &res, &err)) {
        fuzz_printable(res.reason, sizeof(res.reason));
        fuzz_printable(res.facts.detail, sizeof(res.facts.detail));
        fuzz_printable(res.facts.subject, sizeof(res.facts.subject));
        fuzz_printable(res.facts.sni, sizeof(res.facts.sni));
        FUZZ_ASSERT(res.facts.bits >= 0 && res.facts.alg_bits >= 0);
        FUZZ_ASSERT(res.facts.trust >= TLS_TRUST_ANONYMOUS &&
                    res.facts.trust <= TLS_TRUST_VERIFIED);
    } else {
        FUZZ_ASSERT(!res.ok);
    }
    FUZZ_ASSERT(fds.n == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf rec;

    buf_init(&rec, BUF_UNLIMITED);
    buf_append(&rec, data, size);
    fuzz_deliver_status(&rec);
    fuzz_anvil(&rec);
    fuzz_qmgr_reply(&rec);
    fuzz_tls(&rec);
    buf_free(&rec);
    return 0;
}
